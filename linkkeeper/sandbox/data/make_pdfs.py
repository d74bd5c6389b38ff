"""Regenerate the sandbox's small PDFs: ``python -m linkkeeper.sandbox.data.make_pdfs``.

Real PDFs (pypdf can read their text and document info), a few hundred bytes each, so the
checker meets the same metadata problems as on the real web: a good title, a missing title, and
the junk InDesign file name that university copies of "On Bullshit" carry.
"""

from __future__ import annotations

from pathlib import Path

from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

HERE = Path(__file__).parent

# file name -> (document-info Title or None, lines of the first page)
PDFS: dict[str, tuple[str | None, list[str]]] = {
    "on-bullshit.pdf": (
        "frankfurt-fm.indd",
        [
            "On Bullshit",
            "Harry G. Frankfurt",
            "One of the most salient features of our culture",
            "is that there is so much bullshit.",
        ],
    ),
    "mlperf-inference.pdf": (
        "MLPerf Inference Benchmark",
        [
            "MLPerf Inference Benchmark",
            "Vijay Janapa Reddi, Christine Cheng, David Kanter",
            "arXiv:1910.01500",
        ],
    ),
    "attention.pdf": (
        None,
        [
            "Attention Is All You Need",
            "Ashish Vaswani, Noam Shazeer, Niki Parmar",
            "arXiv:1706.03762",
        ],
    ),
    "withdrawn-v1.pdf": (
        "A Sandbox Study of Reference Rot",
        ["A Sandbox Study of Reference Rot", "Jane Doe, Richard Roe", "arXiv:2101.00001v1"],
    ),
    "blog-real.pdf": (
        "Field Notes on Link Rot",
        ["Field Notes on Link Rot", "A small real PDF served by blog.example"],
    ),
}


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(title: str | None, lines: list[str]) -> PdfWriter:
    """One US-letter page of Helvetica text; ``title`` goes into the document info."""
    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    ops = ["BT", "/F1 20 Tf", "72 700 Td", "24 TL"]
    ops += [f"({_escape(line)}) '" for line in lines]
    ops.append("ET")
    stream = DecodedStreamObject()
    stream.set_data("\n".join(ops).encode("latin-1"))
    page[NameObject("/Contents")] = writer._add_object(stream)
    writer.add_metadata({"/Producer": "linkkeeper sandbox"})
    if title is not None:
        writer.add_metadata({"/Title": title})
    return writer


def main() -> None:
    for name, (title, lines) in PDFS.items():
        with open(HERE / name, "wb") as handle:
            make_pdf(title, lines).write(handle)


if __name__ == "__main__":
    main()
