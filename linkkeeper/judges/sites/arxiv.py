"""arXiv papers (/abs, /pdf, /html): the site's own redirects are normal, its robot wall is not
a verdict, and a withdrawn paper's PDF is gone while its abstract page lives on.

No soft-404 probe here: arXiv answers real 404s and asks for 15 s between requests, so every
request counts.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit
from xml.etree import ElementTree

from linkkeeper.core import FetchResult, Verdict
from linkkeeper.judges.sites.base import Judgement
from linkkeeper.judges.sites.generic import PageRules, canonical, failure, judge_page, missing_url
from linkkeeper.judges.sites.pdfbody import judge_pdf_body

if TYPE_CHECKING:
    from linkkeeper.core import Reading
    from linkkeeper.web import Fetcher

log = logging.getLogger(__name__)

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
    if "arxiv.org" not in url.lower():  # its host names arxiv.org: most URLs are not split
        return None
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

    def serves(self, host: str) -> bool:
        return host.removeprefix("www.") in HOSTS  # as paper reads the host

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


# -- metadata: the export API ------------------------------------------------------------------
# Title, authors, abstract, dates, category and DOI of papers come from export.arxiv.org in
# batches, at most one request per 3 s (the fetcher's built-in host default for the API). The
# entries come back in any order and are matched by id; a malformed id makes the whole answer
# one "Error" entry; under load the API answers 503, 429 or a plain "Rate exceeded.".
API_HOST = "export.arxiv.org"
API_QUERY = "https://export.arxiv.org/api/query?id_list={ids}&max_results={count}"
API_BATCH = 50  # ids per request (the URL stays short)
API_TRIES = 2  # the first request and one polite retry
ATOM = "http://www.w3.org/2005/Atom"
ATOM_NS = {"atom": ATOM, "arxiv": "http://arxiv.org/schemas/atom"}
ENTRY_ID = re.compile(r"/abs/(?P<id>.+?)(?:v(?P<version>\d+))?$")
BAD_ID = re.compile(r"incorrect id format for (?P<id>\S+)", re.IGNORECASE)
VERSION = re.compile(r"v\d+$")


class ArxivPaper(NamedTuple):
    """One paper as the export API describes it (latest version)."""

    id: str  # without version
    version: int | None
    title: str
    authors: tuple[str, ...]
    abstract: str
    published: str  # v1, ISO 8601
    updated: str  # latest version, ISO 8601
    primary_category: str | None
    doi: str | None
    journal_ref: str | None


class ArxivFeed(NamedTuple):
    papers: dict[str, ArxivPaper]  # by id without version
    bad_ids: list[str]  # ids the API called malformed ("Error" entry)


def base_id(arxiv_id: str) -> str:
    """``1706.03762v7`` -> ``1706.03762``."""
    return VERSION.sub("", arxiv_id)


def _text(element: Any, path: str) -> str:
    found = element.find(path, ATOM_NS)
    return " ".join((found.text or "").split()) if found is not None else ""


def parse_feed(body: bytes) -> ArxivFeed | None:
    """The papers of an API answer; ``None`` when it is not an Atom feed (rate-limit text)."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None
    if root.tag != f"{{{ATOM}}}feed":
        return None
    feed = ArxivFeed({}, [])
    for entry in root.findall("atom:entry", ATOM_NS):
        title, summary = _text(entry, "atom:title"), _text(entry, "atom:summary")
        found = ENTRY_ID.search(_text(entry, "atom:id"))
        if title == "Error" or found is None or "/api/errors" in _text(entry, "atom:id"):
            if bad := BAD_ID.search(summary):
                feed.bad_ids.append(bad["id"])
            continue
        category = entry.find("arxiv:primary_category", ATOM_NS)
        paper = ArxivPaper(
            id=found["id"],
            version=int(found["version"]) if found["version"] else None,
            title=title,
            authors=tuple(
                name
                for a in entry.findall("atom:author", ATOM_NS)
                if (name := _text(a, "atom:name"))
            ),
            abstract=summary,
            published=_text(entry, "atom:published"),
            updated=_text(entry, "atom:updated"),
            primary_category=category.get("term") if category is not None else None,
            doi=_text(entry, "arxiv:doi") or None,
            journal_ref=_text(entry, "arxiv:journal_ref") or None,
        )
        feed.papers[paper.id] = paper
    return feed


def api_url(ids: list[str]) -> str:
    return API_QUERY.format(ids=",".join(ids), count=len(ids))


async def fetch_papers(ids: Iterable[str], fetcher: Fetcher) -> dict[str, ArxivPaper]:
    """The API's description of each paper (by id without version); missing ones are left out.

    Never raises: a rate-limited or broken API yields ``{}`` and the caller falls back to the
    abstract page's ``citation_*`` tags."""
    wanted = sorted({base_id(i) for i in ids})
    papers: dict[str, ArxivPaper] = {}
    for start in range(0, len(wanted), API_BATCH):
        papers.update(await _query(wanted[start : start + API_BATCH], fetcher))
    return papers


async def _query(batch: list[str], fetcher: Fetcher) -> dict[str, ArxivPaper]:
    from linkkeeper.web import retry_after_seconds

    for attempt in range(1, API_TRIES + 1):
        if not batch:
            return {}
        answer = await fetcher.fetch(api_url(batch), retries=0)
        feed = parse_feed(answer.body) if answer.error is None and answer.status == 200 else None
        if feed is not None and not feed.bad_ids:
            return feed.papers
        if feed is not None:  # drop what the API calls malformed and ask again for the rest
            batch = [i for i in batch if i not in feed.bad_ids]
        if attempt < API_TRIES:
            wait = retry_after_seconds(answer.headers.get("retry-after"), 60.0)
            await asyncio.sleep(wait or fetcher.scheduler.interval(API_HOST))
    seen = answer.error or f"HTTP {answer.status} {answer.text(80).strip()!r}"
    log.warning("arXiv API gave nothing for %s (%s)", batch, seen)
    return {}


def paper_fields(paper: ArxivPaper) -> dict[str, dict[str, Any]]:
    """The ledger's ``metadata`` fields of one paper, all from the API."""
    values: dict[str, Any] = {
        "title": paper.title,
        "authors": list(paper.authors),
        "abstract": paper.abstract,
        "published": paper.published[:10],
        "updated": paper.updated[:10],
        "latest_version": f"v{paper.version}" if paper.version else None,
        "primary_category": paper.primary_category,
        "doi": paper.doi,
        "journal_ref": paper.journal_ref,
        "site": "arXiv",
    }
    return {
        name: {"value": value, "source": "arxiv-api", "confidence": "high"}
        for name, value in values.items()
        if value
    }
