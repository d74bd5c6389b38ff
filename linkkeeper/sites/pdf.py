"""PDFs on university and personal sites: the bytes must really be a PDF.

A ``.pdf`` link that answers 200 with an HTML apology ("this file has moved") is dead for a
reader, so the magic bytes ``%PDF-`` decide, not the status or the content type.
"""

from __future__ import annotations

import io
import logging
import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from linkkeeper.models import FetchResult, Verdict
from linkkeeper.sites import Found, Judgement
from linkkeeper.sites.generic import WALLED, challenge_marker, judge_page, missing_url
from linkkeeper.soft404 import page_text

if TYPE_CHECKING:
    from linkkeeper.fetcher import Fetcher
    from linkkeeper.models import Reading

log = logging.getLogger(__name__)

MAGIC = b"%PDF-"
MAGIC_WINDOW = 1024  # the PDF spec lets the header sit anywhere in the first 1024 bytes
# A login or purchase page in place of the PDF is a paywall (we cannot tell), not an apology.
PAYWALL = re.compile(
    r"\b(?:sign in|log ?in|subscribe|subscription|purchase|buy (?:this )?article|rent this"
    r"|access through your institution|institutional access|get access|paywall)\b",
    re.IGNORECASE,
)


def looks_like_pdf_url(url: str) -> bool:
    return urlsplit(url).path.lower().endswith(".pdf")


def is_pdf(body: bytes) -> bool:
    return MAGIC in body[:MAGIC_WINDOW]


def judge_pdf_body(page: FetchResult) -> Judgement:
    """``ok`` for PDF bytes, ``blocked`` for a bot wall, ``broken`` for anything else."""
    base = {"http_status": page.status, "final_url": page.final_url, "page": page}
    if is_pdf(page.body):
        size = f"{len(page.body)} bytes{'+' if page.truncated else ''}"
        return Judgement(Verdict.OK, f"HTTP {page.status}: a PDF ({size})", **base)
    marker = challenge_marker(page)
    if marker is not None:
        return Judgement(Verdict.BLOCKED, f"bot wall instead of the PDF: '{marker}'", **base)
    if not page.body.strip():
        return Judgement(Verdict.BROKEN, "an empty answer where a PDF should be", **base)
    what = page.content_type or "unknown content"
    if what in ("text/html", "application/xhtml+xml"):
        text = page_text(page)
        what = f"an HTML page{f' titled {text.title!r}' if text.title else ''}"
        wall = PAYWALL.search(f"{text.title} {text.text}")
        if wall:
            reason = f"{what} asking to '{wall.group(0)}' instead of the PDF: {WALLED}"
            return Judgement(Verdict.BLOCKED, reason, **base)
    return Judgement(Verdict.BROKEN, f"{what} instead of a PDF (no %PDF- header)", **base)


class PdfSite:
    """URLs ending in ``.pdf``: GET, then the generic rules with the magic-byte check."""

    name = "pdf"
    kind = "pdf"

    def matches(self, url: str) -> bool:
        return looks_like_pdf_url(url)

    async def check(self, reading: Reading, fetcher: Fetcher) -> Judgement:
        if not reading.url:
            return missing_url()
        page = await fetcher.fetch(reading.url)
        return await judge_page(reading.url, page, fetcher)


# -- metadata (the metadata stage reads what ``check`` already fetched) -------------------------
# Document-info titles are often file names or placeholders: then the first line of page 1 is
# the better guess. Both are low confidence.
JUNK_TITLE = re.compile(
    r"\.(?:indd|docx?|pdf|qxd|qxp|pages|odt|rtf|tex|dvi|ps|eps|ai|pptx?|xlsx?)$"
    r"|^(?:microsoft (?:word|powerpoint) - |untitled|title|document\d*$|no title|slide \d+$)"
    r"|^[\w\s.-]*\\|^/|^\s*$",
    re.IGNORECASE,
)
TEXT_PAGES = 30  # pages read for the drift fingerprint and the word count


def metadata(judgement: Judgement) -> Found:
    """Title, author and page count from the document info; text of the first pages."""
    result = Found()
    page = judgement.page
    if page is None or not is_pdf(page.body):
        return result
    try:
        from pypdf import PdfReader  # lazily: only PDFs need it

        reader = PdfReader(io.BytesIO(page.body))
        info = reader.metadata or {}
        texts = [p.extract_text() or "" for p in reader.pages[:TEXT_PAGES]]
        pages = len(reader.pages)
    except Exception as exc:  # pypdf raises many kinds on broken or cut-off files
        log.info("no PDF metadata for %s: %s", page.url, exc)
        return result
    title = " ".join(str(info.get("/Title") or "").split())
    first_line = next((" ".join(t.split()) for t in (texts[0] if texts else "").splitlines()
                       if len(t.strip()) > 2), "")  # fmt: skip
    if title and not JUNK_TITLE.search(title) and len(title) > 3:
        result.add("title", title, "pdf-info")
    else:
        result.add("title", first_line[:200] or None, "pdf-text")
    author = " ".join(str(info.get("/Author") or "").split())
    result.add("authors", [author] if author else None, "pdf-info", "low")
    result.add("pages", pages, "pdf-info", "high")
    result.text = "\n".join(texts) or None
    return result
