"""Text that pings nobody when pasted into Discord: the one place mentions are neutralised.

Discord pings the whole server for ``@everyone`` and ``@here`` and a user or role for
``<@123>``/``<@!123>``/``<@&123>``, wherever they stand in a message. A title written by an
organizer or fetched from a page must never do that. As discord.py's ``escape_mentions`` does,
a zero-width space goes after the ``@``: the text reads the same and pings nobody. In URLs
the ``@`` is percent-encoded instead (``%40``: the same address, no mention).
"""

from __future__ import annotations

import re

ZWSP = "\u200b"
# not after "/" or a word character: medium.com/@here/... and me@here.org are no mentions
_MENTION = re.compile(r"(?<![/\w])@(everyone|here)\b|<@([!&]?\d+)>", re.IGNORECASE)
_URL_MENTION = re.compile(r"@(?=(?:everyone|here)\b)", re.IGNORECASE)


def neutralize(text: str) -> str:
    """``text`` with every Discord mention made inert (``@everyone`` -> ``@\\u200beveryone``)."""
    if "@" not in text:
        return text
    return _MENTION.sub(_inert, text)


def neutralize_url(url: str) -> str:
    """A URL whose ``@everyone``/``@here`` is written ``%40everyone`` (same address)."""
    return _URL_MENTION.sub("%40", url) if "@" in url else url


def _inert(match: re.Match[str]) -> str:
    if match.group(1) is not None:
        return f"@{ZWSP}{match.group(1)}"
    return f"<@{ZWSP}{match.group(2)}>"
