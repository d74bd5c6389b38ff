"""nature.com articles: a cookie handshake, not a move.

An article answers 303 -> ``idp.nature.com/authorize`` -> ``/transit`` -> back to the article
with ``?error=cookies_not_supported&code=<uuid>`` -> 200. That is the live article: ``ok``, with
the noise stripped from ``final_url``. A client whose cookies fail loops; that says nothing about
the article (``blocked``), it does not make it dead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from linkkeeper.core import Verdict
from linkkeeper.judges.sites.base import Judgement
from linkkeeper.judges.sites.generic import PageRules, canonical, judge_page, missing_url

if TYPE_CHECKING:
    from linkkeeper.core import Reading
    from linkkeeper.web import Fetcher

NOISE_PARAMS = {"error", "code"}
LOOP_ERRORS = {"redirect-loop", "too-many-redirects"}


def without_handshake(url: str) -> str:
    """The URL without the ``error=cookies_not_supported&code=...`` the handshake appends."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if ("error", "cookies_not_supported") not in query:
        return url
    kept = [(k, v) for k, v in query if k not in NOISE_PARAMS]
    return urlunsplit(parts._replace(query=urlencode(kept)))


def nature_canonical(url: str) -> str:
    return canonical(without_handshake(url))


def is_nature(url: str) -> bool:
    return _nature_host((urlsplit(url).hostname or "").lower())


def _nature_host(host: str) -> bool:
    return host == "nature.com" or host.endswith(".nature.com")


class NatureSite:
    """Articles on nature.com (and its idp handshake)."""

    name = "nature"
    kind = "article"
    rules = PageRules(canon=nature_canonical, clean_final=without_handshake)

    def serves(self, host: str) -> bool:
        return _nature_host(host)

    def matches(self, url: str) -> bool:
        return is_nature(url) and not urlsplit(url).path.lower().endswith(".pdf")

    async def check(self, reading: Reading, fetcher: Fetcher) -> Judgement:
        if not reading.url:
            return missing_url()
        page = await fetcher.fetch(reading.url)
        if page.error in LOOP_ERRORS:
            reason = "nature.com's cookie handshake (idp.nature.com) went round in a loop"
            return Judgement(
                Verdict.BLOCKED, f"{reason}; cannot tell", final_url=reading.url, page=page
            )
        return await judge_page(reading.url, page, fetcher, self.rules)
