"""The drift baseline from the copy members read: the assigned-week Wayback capture's text.

A page first seen live months after it was assigned may already have drifted; the capture
closest to the week it was assigned is what the group actually read. ``archive`` calls
:func:`read_assigned` when it records that capture: the capture's original bytes are fetched
once (``/web/<ts>id_/<url>``, through the run's client and remap, paced with the CDX searches,
capped), fingerprinted by the same main-text and title rules as a live page, and made the drift
baseline (:func:`linkkeeper.check.drift.capture_baseline`). Videos, PDFs, arXiv papers (versioned by
the arXiv API) and other non-HTML copies get no text baseline. Nothing here fails the run.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from linkkeeper.check import drift

if TYPE_CHECKING:
    from linkkeeper.archive.wayback import Original, WaybackClient
    from linkkeeper.core import Reading
    from linkkeeper.ledger import Record

log = logging.getLogger(__name__)

# site family -> why its capture gives no text baseline (decided before any request)
NO_TEXT_FAMILIES = {
    "youtube": "a video: YouTube's oEmbed answer describes it, not a text",
    "arxiv": "an arXiv paper: its versions come from the arXiv API",
    "pdf": "a PDF link",
}
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})

# what one capture taught this run: a fingerprint, or (result, note) when it gave none
Read = drift.Fingerprint | tuple[str, str]


def fingerprint_of(copy: Original) -> Read:
    """The capture's text fingerprint, or why it has none (the bytes' content type decides)."""
    from linkkeeper.check import html_metadata
    from linkkeeper.core import FetchResult
    from linkkeeper.judges import is_pdf

    if is_pdf(copy.body):
        return "skipped", "the capture is a PDF"
    if copy.content_type not in HTML_TYPES and b"<html" not in copy.body[:2048].lower():
        return "skipped", f"the capture is not an HTML page ({copy.content_type or 'no type'})"
    page = FetchResult(copy.url, copy.url, 200, {"content-type": copy.content_type}, copy.body)
    try:
        found = html_metadata(page)
    finally:
        page.release()
    title: dict[str, Any] = found.fields.get("title", {})
    named = title.get("value") if isinstance(title.get("value"), str) else None
    printed = drift.fingerprint(found.text or "", named)
    return printed if printed is not None else ("skipped", "too little text in the capture")


async def _read(wayback: WaybackClient, timestamp: str, original: str) -> Read:
    from linkkeeper.archive.wayback import WaybackError

    try:
        return fingerprint_of(await wayback.original(timestamp, original))
    except WaybackError as exc:
        log.info("capture %s of %s could not be read: %s", timestamp, original, exc)
        return "failed", str(exc)
    except Exception as exc:  # a malformed capture must never sink the archive run
        log.exception("capture %s of %s could not be read", timestamp, original)
        return "failed", f"{type(exc).__name__}: {exc}"


async def read_assigned(
    record: Record,
    reading: Reading,
    wayback: WaybackClient,
    now: datetime,
    seen: dict[tuple[str, str], Read] | None = None,
) -> bool:
    """Fold the record's ``captures.assigned`` text into its drift section, once per capture;
    True when the record changed (the caller saves it). ``seen`` shares one run's reads
    between readings with the same link. A failed replay is noted and retried by a later run
    (:data:`drift.CAPTURE_TRIES` in all). Never raises."""
    from linkkeeper.judges import site_for

    captures = record.data.get("captures")
    assigned = captures.get("assigned") if isinstance(captures, dict) else None
    url = reading.url
    if not isinstance(assigned, dict) or not url:
        return False
    timestamp, original = str(assigned.get("timestamp") or ""), assigned.get("original") or url
    if not timestamp.isdigit() or site_for(url).name in NO_TEXT_FAMILIES:
        return False
    if not drift.capture_wanted(record, url, timestamp):
        return False
    key = (timestamp, str(original))
    found = seen.get(key) if seen is not None else None
    if found is None:
        found = await _read(wayback, timestamp, str(original))
        if seen is not None:
            seen[key] = found
    if isinstance(found, drift.Fingerprint):
        return drift.capture_baseline(record, url, timestamp, found, now)
    result, note = found
    return drift.note_capture(record, url, timestamp, result, note, now)
