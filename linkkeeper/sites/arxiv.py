"""arXiv papers (/abs, /pdf, /html): the site's own redirects are normal, its robot wall is not
a verdict, and a withdrawn paper's PDF is gone while its abstract page lives on.

No soft-404 probe here: arXiv answers real 404s and asks for 15 s between requests, so every
request counts.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from linkkeeper.models import FetchResult, Verdict
from linkkeeper.sites import Judgement
from linkkeeper.sites.generic import PageRules, canonical, failure, judge_page, missing_url
from linkkeeper.sites.pdf import judge_pdf_body

if TYPE_CHECKING:
    from linkkeeper.fetcher import Fetcher
    from linkkeeper.models import Reading

HOSTS = {"arxiv.org", "export.arxiv.org"}
PAPER_PATH = re.compile(
    r"^/(?P<form>abs|pdf|html)/(?P<id>(?:\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?)"
    r"(?:\.pdf)?/?$"
)
WITHDRAWN = re.compile(
    r"(?:has been|was|is) withdrawn|withdrawn by|\[withdrawn\]|withdrawal of", re.IGNORECASE
)


def paper(url: str) -> tuple[str, str] | None:
    """``(form, id)`` for an arXiv paper URL, e.g. ``("pdf", "1910.01500")``."""
    parts = urlsplit(url)
    if (parts.hostname or "").lower().removeprefix("www.") not in HOSTS:
        return None
    found = PAPER_PATH.match(parts.path)
    return (found["form"], found["id"]) if found else None


def arxiv_canonical(url: str) -> str:
    """arXiv's own ``ID.pdf`` -> ``ID`` redirect is not a move."""
    return canonical(url).removesuffix(".pdf")


def abs_url(arxiv_id: str) -> str:
    return f"https://arxiv.org/abs/{arxiv_id}"


class ArxivSite:
    """arxiv.org paper pages and PDFs."""

    name = "arxiv"
    kind = "paper"
    rules = PageRules(canon=arxiv_canonical, soft404=False)

    def matches(self, url: str) -> bool:
        return paper(url) is not None

    async def check(self, reading: Reading, fetcher: Fetcher) -> Judgement:
        if not reading.url:
            return missing_url()
        found = paper(reading.url)
        if found is None:
            return Judgement(Verdict.BROKEN, "not an arXiv paper URL", final_url=reading.url)
        form, arxiv_id = found
        page = await fetcher.fetch(reading.url)
        if form == "pdf" and page.error is None and page.status in (404, 410):
            return await self._missing_pdf(reading.url, arxiv_id, page, fetcher)
        judged = await judge_page(reading.url, page, fetcher, self.rules)
        if form == "pdf" and judged.verdict in (Verdict.OK, Verdict.MOVED):
            pdf = judge_pdf_body(page)  # /pdf/ID has no .pdf suffix after the redirect
            if pdf.verdict is not Verdict.OK:
                pdf.final_url = judged.final_url
                judged = pdf
        judged.extra["arxiv_id"] = arxiv_id
        if form == "abs" and judged.verdict is Verdict.OK:
            said = WITHDRAWN.search(page.text())
            if said:
                judged.extra["withdrawn"] = True
                judged.reason += f"; the abstract page says the paper {said.group(0)}"
        return judged

    async def _missing_pdf(
        self, url: str, arxiv_id: str, page: FetchResult, fetcher: Fetcher
    ) -> Judgement:
        """A /pdf 404: one look at /abs tells a withdrawn paper from a wrong id."""
        base = failure(page)
        assert base is not None
        base.extra["arxiv_id"] = arxiv_id
        abstract = await fetcher.fetch(abs_url(arxiv_id))
        if abstract.error is not None or abstract.status != 200:
            return base
        base.suggestion = abs_url(arxiv_id)
        said = WITHDRAWN.search(abstract.text())
        if said:
            base.extra["withdrawn"] = True
            base.reason = (
                f"arXiv {arxiv_id} was withdrawn: the PDF of the withdrawn version answers "
                f"{page.status} (the abstract page says it {said.group(0)})"
            )
        else:
            base.reason = f"the PDF answers {page.status} but the abstract page is live"
        return base
