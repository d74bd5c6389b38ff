"""PDFs on university and personal sites: the bytes must really be a PDF.

A ``.pdf`` link that answers 200 with an HTML apology ("this file has moved") is dead for a
reader, so the magic bytes ``%PDF-`` decide, not the status or the content type.
"""

from __future__ import annotations

import io
import logging
import re
from typing import TYPE_CHECKING

from linkkeeper.judges.sites.base import Found, Judgement
from linkkeeper.judges.sites.generic import judge_page, missing_url
from linkkeeper.judges.sites.pdfbody import (  # noqa: F401  (the PDF family's own rules)
    MAGIC,
    MAGIC_WINDOW,
    PAYWALL,
    is_pdf,
    judge_pdf_body,
    looks_like_pdf_url,
)

if TYPE_CHECKING:
    from linkkeeper.core import Reading
    from linkkeeper.web import Fetcher

log = logging.getLogger(__name__)


class PdfSite:
    """URLs ending in ``.pdf``: GET, then the generic rules with the magic-byte check."""

    name = "pdf"
    kind = "pdf"

    def serves(self, host: str) -> bool:
        return True  # a .pdf path on any host

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
