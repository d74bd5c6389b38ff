"""Text that came from the network, made safe for where it goes.

A page title, an archive's message or an HTTP error is written by whoever runs the server.
Printed raw, ``ESC[2J`` clears an organizer's terminal and an OSC-8 sequence hides a link;
pasted raw into GitHub Markdown, ``[click](https://evil.example)`` is a live link, ``@octocat``
a mention, ``#1`` a cross-reference and ``<img src=...>`` a tracking pixel. Every output that
carries such text calls one of these:

- :func:`plain`: control characters and terminal escape sequences removed, one line,
  optionally clipped (for storing metadata and for printing to a terminal or a pipe);
- :func:`title`: :func:`plain` clipped to :data:`TITLE_MAX` characters;
- :func:`plain_tree`: :func:`plain` on every string of a JSON-like value; :func:`plain_lines`
  keeps line breaks;
- :func:`md_text`: GitHub Markdown for a table cell or a line (issues, job summaries):
  Markdown and HTML escaped, mentions and ``#N`` references neutralised (:func:`no_mentions`,
  also used by READINGS.md).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

TITLE_MAX = 300  # characters of a title kept (the longest real paper titles are ~250)
TEXT_MAX = 5000  # characters of any other fetched text kept (abstracts, reasons)

# Whole escape sequences first (so their parameters go too), then any control left:
# CSI (ESC [ ... final, or the C1 byte), OSC (ESC ] ... BEL or ST; OSC-8 hyperlinks),
# DCS/SOS/PM/APC strings, two-byte ESC sequences.
_SEQUENCES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
# C0 and C1 controls, DEL, bidirectional overrides and isolates (they reorder what is shown),
# line and paragraph separators; whitespace controls (tab, newline ...) become spaces.
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r"[\t\n\v\f\r\u2028\u2029]")


def plain(text: Any, limit: int | None = TEXT_MAX) -> str:
    """``text`` without escape sequences or control characters, on one line, at most
    ``limit`` characters (an ellipsis marks the cut); ``None`` limit: no cut."""
    cleaned = _CONTROLS.sub("", _SEQUENCES.sub("", _SPACES.sub(" ", str(text))))
    cleaned = " ".join(cleaned.split())
    return clip(cleaned, limit) if limit is not None else cleaned


def plain_lines(text: Any) -> str:
    """:func:`plain` line by line: the line breaks stay (for outputs that encode them)."""
    return "\n".join(plain(line, None) for line in str(text).splitlines())


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def title(text: Any) -> str:
    return plain(text, TITLE_MAX)


def plain_tree(value: Any, limit: int | None = TEXT_MAX) -> Any:
    """:func:`plain` on every string (keys included) of nested dicts and lists."""
    if isinstance(value, str):
        return plain(value, limit)
    if isinstance(value, dict):
        return {plain_tree(k, limit): plain_tree(v, limit) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_tree(v, limit) for v in value]
    return value


_MD_SPECIAL = re.compile(r"([\\`*_\[\]~|])")  # what acts mid-line; no [ means no link
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
_MENTION = re.compile(r"@(?=[\w-])")
_REFERENCE = re.compile(r"#(?=\d)")
ZWSP = "\u200b"  # zero-width space: breaks a mention or reference without showing


def md_text(text: Any, limit: int | None = TEXT_MAX) -> str:
    """``text`` as inert GitHub Markdown on one line: every Markdown special escaped, HTML as
    entities (no tags, no images), ``|`` safe in tables, ``@name`` and ``#12`` broken with a
    zero-width space so they neither notify nor link. A bare URL may still autolink: its
    text is its target, so it cannot pose as another."""
    cleaned = plain(text, limit)
    cleaned = "".join(_HTML.get(ch, ch) for ch in cleaned)
    return no_mentions(_MD_SPECIAL.sub(r"\\\1", cleaned))


def no_mentions(text: str) -> str:
    """``@name`` and ``#12`` broken with a zero-width space: on GitHub they neither notify
    anyone nor link an issue (Discord's own mentions: :mod:`linkkeeper.outputs.mentions`)."""
    return _REFERENCE.sub("#" + ZWSP, _MENTION.sub("@" + ZWSP, text))


def md_url(url: str) -> str:
    """A URL safe inside Markdown's ``[text](url)`` and ``<url>``: anything that could end the
    link (spaces, ``()<>``, quotes, controls) percent-encoded."""
    return quote(plain(url, None), safe=":/?#@!$&'*+,;=%~-._[]")
