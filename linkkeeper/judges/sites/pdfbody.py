"""What a PDF answer's bytes say: a PDF, a bot wall, a paywall page, or something else.
The generic judge and the PDF family both read answers this way."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from linkkeeper.core import FetchResult, Verdict
from linkkeeper.judges.sites.base import WALLED, Judgement
from linkkeeper.judges.soft404 import page_text
from linkkeeper.web import challenge_marker

MAGIC = b"%PDF-"
MAGIC_WINDOW = 1024  # the PDF spec lets the header sit anywhere in the first 1024 bytes
# A login or purchase page in place of the PDF is a paywall (we cannot tell), not an apology.
PAYWALL = re.compile(
    r"\b(?:sign in|log ?in|subscribe|subscription|purchase|buy (?:this )?article|rent this"
    r"|access through your institution|institutional access|get access|paywall)\b",
    re.IGNORECASE,
)


def looks_like_pdf_url(url: str) -> bool:
    # the path is part of the text: no ".pdf" anywhere, nothing to split (most URLs)
    return ".pdf" in url.lower() and urlsplit(url).path.lower().endswith(".pdf")


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
