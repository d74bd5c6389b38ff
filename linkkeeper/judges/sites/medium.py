"""Medium, its custom domains and Towards Data Science.

Cloudflare challenges robots with 403 ("Just a moment..."): ``blocked``. A deleted story is
410. Towards Data Science left Medium in February 2025: articles that were not migrated answer
404 at ``towardsdatascience.com`` but live on, same slug and hash, in the "TDS Archive" at
``medium.com/data-science/``; one polite look confirms the twin before we suggest it. Custom
domains bounce through ``medium.com/m/global-identity``; the fetcher's cookie jar gets through.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from linkkeeper.core import FetchResult, Verdict
from linkkeeper.judges.sites.base import ByHost, Judgement
from linkkeeper.judges.sites.generic import PageRules, judge_page, missing_url

if TYPE_CHECKING:
    from linkkeeper.core import Reading
    from linkkeeper.web import Fetcher

TDS = "towardsdatascience.com"
GLOBAL_IDENTITY = "medium.com/m/global-identity"
TDS_ARCHIVE = "https://medium.com/data-science/{slug}"
# Medium's own custom domains seen on reading lists; *.medium.com is matched by suffix.
HOSTS = {
    "medium.com",
    TDS,
    "uxdesign.cc",
    "betterprogramming.pub",
    "levelup.gitconnected.com",
    "pub.towardsai.net",
    "blog.bitsrc.io",
    "javascript.plainenglish.io",
    "python.plainenglish.io",
    "entreprenal.com",
}
STORY_SLUG = re.compile(r"^[a-z0-9%-]+-[0-9a-f]{8,12}$", re.IGNORECASE)


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower().removeprefix("www.")


def tds_twin(url: str) -> str | None:
    """The TDS Archive address of a ``towardsdatascience.com/<slug>-<hash>`` story."""
    if host_of(url) != TDS:
        return None
    segments = [s for s in urlsplit(url).path.split("/") if s]
    if not segments or not STORY_SLUG.match(segments[-1]):
        return None
    return TDS_ARCHIVE.format(slug=segments[-1])


def _is_live(result: FetchResult) -> bool:
    from linkkeeper.judges.sites.generic import challenge_marker

    return (
        result.error is None
        and result.status is not None
        and 200 <= result.status < 300
        and challenge_marker(result) is None
    )


class MediumSite(ByHost):
    """Stories on medium.com, Medium custom domains and towardsdatascience.com."""

    name = "medium"
    kind = "article"
    rules = PageRules()

    def serves(self, host: str) -> bool:
        host = host.removeprefix("www.")  # as host_of reads it
        return host in HOSTS or host.endswith(".medium.com")

    async def check(self, reading: Reading, fetcher: Fetcher) -> Judgement:
        if not reading.url:
            return missing_url()
        page = await fetcher.fetch(reading.url)
        bounced = any(GLOBAL_IDENTITY in hop for _, hop in page.redirects)
        if page.error in ("redirect-loop", "too-many-redirects") and bounced:
            reason = "Medium's global-identity cookie bounce went round in a loop; cannot tell"
            return Judgement(Verdict.BLOCKED, reason, final_url=reading.url, page=page)
        judged = await judge_page(reading.url, page, fetcher, self.rules)
        if page.error is None and page.status == 410:
            judged.reason = "HTTP 410 Gone: the author deleted this Medium story"
        twin = tds_twin(reading.url)
        if twin and page.error is None and page.status == 404:
            await self._offer_twin(judged, twin, fetcher)
        return judged

    async def _offer_twin(self, judged: Judgement, twin: str, fetcher: Fetcher) -> None:
        """Suggest the TDS Archive copy only after seeing it answer."""
        answer = await fetcher.fetch(twin)
        lead = "HTTP 404 at towardsdatascience.com (TDS left Medium in 2025)"
        if _is_live(answer):
            judged.suggestion = twin
            judged.reason = f"{lead}; the TDS Archive copy is live at {twin}"
            judged.extra["tds_archive"] = twin
        else:
            seen = answer.error or answer.status
            judged.reason = f"{lead}; the TDS Archive copy could not be confirmed ({seen})"
