"""Reading metadata: what each reading is (title, authors, date, site, length), and where each
fact came from, in the ledger's ``metadata`` section.

Everything comes from the responses the check already fetched (``Judgement.page`` and
``Judgement.extra``): no page is requested twice. Only sources separate by nature are asked
for: the arXiv export API (one batched, polite request per run: :func:`prefetch_arxiv`) and
YouTube's oEmbed (the YouTube family fetched it to judge the video). Site families contribute a
``metadata(judgement)`` function in their own module; every other HTML page goes through the
generic chain ``citation_*`` -> JSON-LD -> OpenGraph -> Twitter cards -> ``<title>``.

Each field is stored as ``{"value", "source", "confidence"}``. A missing or malformed source
never fails a check: whatever was found is recorded. The section is rewritten only when a value
changes (byte sizes and word counts within 10%, and ``Last-Modified``, do not count) or once a
month, so nightly runs leave unchanged records byte-identical. Main text goes to
:mod:`linkkeeper.check.drift` for the content-drift fingerprint.
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from linkkeeper.check import drift
from linkkeeper.core import Element, FetchResult, Verdict, htmltree, textsafe
from linkkeeper.judges import (  # noqa: F401
    LOW_CONFIDENCE,
    Field,
    Found,
    found,
)
from linkkeeper.ledger import format_time, parse_time

if TYPE_CHECKING:
    from linkkeeper.core import Reading
    from linkkeeper.judges import ArxivPaper, Judgement, Site
    from linkkeeper.ledger import Ledger, Record
    from linkkeeper.web import Fetcher

log = logging.getLogger(__name__)

LIVE = frozenset({Verdict.OK, Verdict.MOVED})  # the page shows the reading
EXTERNAL = frozenset({"arxiv-api", "oembed"})  # a hiccup there must not downgrade what we know
# Better sources first; a page that fails to load never replaces a better-sourced value.
SOURCE_RANK = (
    "arxiv-api", "oembed", "next-data", "citation", "json-ld", "og", "twitter", "meta",
    "pdf-info", "title", "pdf-text", "http", "text", "url",
)  # fmt: skip
TOLERANCE = {"size": 0.1, "words": 0.1}  # relative changes too small to rewrite the record
NOT_A_CHANGE = frozenset({"last_modified"})
REFRESH_AFTER = timedelta(days=30)  # unchanged metadata is re-stamped (and arXiv asked) monthly
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


# -- value clean-up ----------------------------------------------------------------------------
DATE = re.compile(r"(\d{4})(?:[-/.](\d{1,2})(?:[-/.](\d{1,2}))?)?")


def clean(text: Any) -> str | None:
    return " ".join(text.split()) or None if isinstance(text, str) else None


def iso_date(text: Any) -> str | None:
    """``2017/06/12``, ``2021-05-27T10:00:00-04:00``, ``Tue, 01 Mar 2022 ...`` -> ISO date."""
    if not isinstance(text, str) or not text.strip():
        return None
    match = DATE.match(text.strip())
    if match:
        parts = [p for p in match.groups() if p]
        return "-".join([parts[0], *(p.zfill(2) for p in parts[1:])])
    try:
        return email.utils.parsedate_to_datetime(text).date().isoformat()
    except (TypeError, ValueError):
        return None


def person(name: str) -> str:
    """Highwire's ``Last, First`` -> ``First Last``; other spellings as given."""
    name = " ".join(name.split())
    last, comma, first = name.partition(", ")
    if comma and first and "," not in first and " " not in last.strip():
        return f"{first} {last}"
    return name


def authors(names: Iterable[Any]) -> list[str]:
    seen: list[str] = []
    for name in names:
        if isinstance(name, str) and (cleaned := person(name)) and cleaned not in seen:
            seen.append(cleaned)
    return seen[:100]


def doi(text: Any) -> str | None:
    if not isinstance(text, str):
        return None
    match = re.search(r"10\.\d{4,9}/\S+", text)
    return match.group(0) if match else None


# -- the generic HTML chain --------------------------------------------------------------------
ARTICLE_TYPES = (
    "scholarlyarticle", "newsarticle", "blogposting", "techarticle", "reportagenewsarticle",
    "analysisnewsarticle", "opinionnewsarticle", "article", "report", "videoobject", "book",
    "creativework", "webpage",
)  # fmt: skip


def _types(item: Mapping[str, Any]) -> list[str]:
    raw = item.get("@type")
    names = raw if isinstance(raw, list) else [raw]
    return [re.split(r"[/:#]", n)[-1].lower() for n in names if isinstance(n, str)]


class HtmlPage:
    """One HTML page's ``<meta>`` tags and JSON-LD items, parsed once."""

    def __init__(self, root: Element) -> None:
        self.root = root
        self.meta: dict[str, list[str]] = {}
        for tag in root.iter("meta"):
            key = tag.get("name") or tag.get("property") or tag.get("itemprop")
            content = clean(tag.get("content"))
            if isinstance(key, str) and content:
                self.meta.setdefault(key.strip().lower(), []).append(content)
        self.ld = self._json_ld()
        self.ids = {i["@id"]: i for i in self.ld if isinstance(i.get("@id"), str)}
        self.main = self._main()

    def first(self, key: str) -> str | None:
        return self.meta.get(key, [None])[0]

    def _json_ld(self) -> list[dict[str, Any]]:
        """Every JSON-LD object (lists and ``@graph`` flattened); broken blocks are skipped."""
        items: list[dict[str, Any]] = []
        for script in self.root.iter("script"):
            kind = str(script.get("type") or "").split(";")[0].strip().lower()
            if kind != "application/ld+json":
                continue
            try:
                stack: list[Any] = [json.loads(script.text or "", strict=False)]
            except ValueError:
                continue
            while stack:
                data = stack.pop(0)
                if isinstance(data, list):
                    stack.extend(data)
                elif isinstance(data, dict):
                    graph = data.get("@graph")
                    stack.extend(graph if isinstance(graph, list) else [])
                    items.append(data)
        return items

    def _main(self) -> dict[str, Any]:
        """The item describing the page itself: the most article-like one."""
        for wanted in ARTICLE_TYPES:
            for item in self.ld:
                if wanted in _types(item):
                    return item
        return next((i for i in self.ld if "headline" in i), {})

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and set(value) <= {"@id", "@type"} and "@id" in value:
            return self.ids.get(value["@id"], value)
        return value

    def ld_names(self, key: str) -> list[str]:
        """Names of the main item's ``author``/``publisher``: object, list or plain string."""
        raw = self.main.get(key)
        names = []
        for entry in raw if isinstance(raw, list) else [raw]:
            entry = self.resolve(entry)
            name = entry.get("name") if isinstance(entry, dict) else entry
            if isinstance(name, str) and name.strip():
                names.append(name)
        return names

    def ld_text(self, *keys: str) -> str | None:
        for key in keys:
            if value := clean(self.main.get(key)):
                return value
        return None

    def title_tag(self) -> str | None:
        title = htmltree.first(self.root, "title")
        return clean(title.text_content()) if title is not None else None


Getter = Callable[[HtmlPage], Any]
# field -> (source, getter, normaliser) in order of preference: the first value found wins.
CHAINS: dict[str, list[tuple[str, Getter]]] = {
    "title": [
        ("citation_title", lambda p: p.first("citation_title")),
        ("json-ld", lambda p: p.ld_text("headline", "name")),
        ("og", lambda p: p.first("og:title")),
        ("twitter", lambda p: p.first("twitter:title")),
        ("title", HtmlPage.title_tag),
    ],
    "authors": [
        ("citation_author", lambda p: authors(p.meta.get("citation_author", []))),
        ("json-ld", lambda p: authors(p.ld_names("author") or p.ld_names("creator"))),
        ("og", lambda p: authors(p.meta.get("article:author", []))),
        ("meta", lambda p: authors(p.meta.get("author", []))),
    ],
    "published": [
        ("citation_publication_date", lambda p: iso_date(p.first("citation_publication_date"))),
        ("citation_date", lambda p: iso_date(p.first("citation_date"))),
        ("json-ld", lambda p: iso_date(p.ld_text("datePublished", "uploadDate"))),
        ("og", lambda p: iso_date(p.first("article:published_time"))),
        ("meta", lambda p: iso_date(p.first("date") or p.first("dc.date"))),
    ],
    "site": [
        ("og", lambda p: p.first("og:site_name")),
        ("json-ld", lambda p: next(iter(p.ld_names("publisher")), None)),
        ("citation_journal_title", lambda p: p.first("citation_journal_title")),
    ],
    "abstract": [
        ("citation_abstract", lambda p: p.first("citation_abstract")),
        ("json-ld", lambda p: p.ld_text("abstract", "description")),
        ("og", lambda p: p.first("og:description")),
        ("twitter", lambda p: p.first("twitter:description")),
        ("meta", lambda p: p.first("description")),
    ],
    "doi": [
        ("citation_doi", lambda p: doi(p.first("citation_doi"))),
        ("meta", lambda p: doi(p.first("dc.identifier"))),
    ],
}


def html_metadata(page: FetchResult) -> Found:
    """The generic chain over one HTML page, plus its main text, from the page's shared parse
    (:meth:`FetchResult.tree`: soft-404 judging may have parsed it already; only read here)."""
    parsed = HtmlPage(page.tree())
    result = Found()
    for name, chain in CHAINS.items():
        for source, getter in chain:
            value = getter(parsed)
            if value:
                result.add(name, clean(value) if isinstance(value, str) else value, source)
                break
    result.text = drift.main_text(parsed.root)
    return result


# -- facts of the response itself and of the URL -------------------------------------------------
def http_fields(page: FetchResult, final_url: str | None) -> dict[str, Field]:
    """Content type, size, final URL and ``Last-Modified`` of the reading's own response."""
    result = Found()
    result.add("content_type", page.content_type, "http")
    length = page.headers.get("content-length", "")
    exact = not page.truncated or (length.isdigit() and not page.headers.get("content-encoding"))
    size = int(length) if page.truncated and length.isdigit() else len(page.body)
    result.add("size", size, "http", "high" if exact else "low")
    result.add("final_url", final_url or page.final_url, "http")
    try:
        modified = email.utils.parsedate_to_datetime(page.headers.get("last-modified", ""))
        result.add("last_modified", format_time(modified.astimezone(UTC)), "http")
    except (TypeError, ValueError):
        pass
    return result.fields


SLUG_TAIL = re.compile(r"[-_](?:[0-9a-f]{8,12}|\d{6,})$", re.IGNORECASE)  # Medium hash, date


def url_title(url: str) -> str | None:
    """A readable guess from the URL's last path segment (``notes-on-a-genre``), if any."""
    segments = [s for s in urlsplit(url).path.split("/") if s]
    if not segments:
        return None
    slug = SLUG_TAIL.sub("", re.sub(r"\.[a-z0-9]{2,5}$", "", unquote(segments[-1]), flags=re.I))
    words = [w for w in re.split(r"[-_+\s]+", slug) if w]
    plain = [w for w in words if w.isalpha()]
    if len(words) < 2 or len(plain) * 3 < len(words) * 2 or max(map(len, words)) > 24:
        return None
    text = " ".join(words)
    return text[0].upper() + text[1:]


def url_fields(url: str) -> dict[str, Field]:
    result = Found()
    result.add("title", url_title(url), "url")
    result.add("site", (urlsplit(url).hostname or "").removeprefix("www.") or None, "url")
    return result.fields


# -- one reading -------------------------------------------------------------------------------
def _family(site: Site) -> Callable[[Judgement], Found] | None:
    """The ``metadata(judgement)`` a site family's module defines, if it has one."""
    import sys

    module: ModuleType | None = sys.modules.get(type(site).__module__)
    hook = getattr(module, "metadata", None)
    return hook if callable(hook) else None


def _own(reading: Reading, page: FetchResult | None) -> FetchResult | None:
    """The response to the reading's own URL (not oEmbed, not a probe), when it succeeded."""
    if page is None or page.error is not None or page.url != reading.url:
        return None
    return page if page.status is not None and 200 <= page.status < 300 else None


def _content(page: FetchResult) -> Callable[[Judgement], Found] | None:
    from linkkeeper.judges import pdf

    if pdf.is_pdf(page.body):
        return pdf.metadata
    if page.content_type in HTML_TYPES or b"<html" in page.body[:2048].lower():
        return lambda judgement: html_metadata(page)
    return None


def collect(
    reading: Reading, judgement: Judgement, papers: Mapping[str, ArxivPaper] | None = None
) -> Found:
    """Every field found for one reading from what the check fetched (and the arXiv batch)."""
    from linkkeeper.judges import arxiv, site_for

    result = Found()
    if not reading.url:
        return result
    site = site_for(reading.url)
    paper_id = arxiv.paper(reading.url)
    if paper_id and papers and (paper := papers.get(arxiv.base_id(paper_id[1]))):
        result.merge(Found(arxiv.paper_fields(paper)))
    own = _own(reading, judgement.page)
    if judgement.verdict in LIVE:
        hooks = [_family(site)]
        if own is not None and site.name != "pdf":
            hooks.append(_content(own))
        for hook in hooks:
            if hook is not None:
                result.merge(hook(judgement))
        if own is not None:
            result.merge(Found(http_fields(own, judgement.final_url)))
    result.merge(Found(url_fields(reading.url)))
    if result.text:
        result.add("words", len(result.text.split()), "text")
    return result


# -- the ledger section ------------------------------------------------------------------------
def _rank(value: Field) -> int:
    source = str(value.get("source", ""))
    source = "citation" if source.startswith("citation_") else source
    return SOURCE_RANK.index(source) if source in SOURCE_RANK else len(SOURCE_RANK)


def _merge(old: dict[str, Field], new: dict[str, Field], live: bool) -> dict[str, Field]:
    """A live page replaces what it shows; a dead or walled one only fills gaps. Values from an
    external source that gave nothing this time (API down, rate-limited) are kept."""
    new_sources = {value.get("source") for value in new.values()}
    merged = dict(new)
    for name, value in old.items():
        kept_external = value.get("source") in EXTERNAL and value.get("source") not in new_sources
        if name not in new:
            if kept_external or not live:
                merged[name] = value
        elif kept_external or (not live and _rank(value) <= _rank(new[name])):
            merged[name] = value
    return merged


def _same(old: dict[str, Field], new: dict[str, Field]) -> bool:
    """Equal but for noise: sizes and word counts within 10%, ``Last-Modified``."""
    if set(old) - NOT_A_CHANGE != set(new) - NOT_A_CHANGE:
        return False
    for name, value in new.items():
        before = old.get(name)
        if name in NOT_A_CHANGE or before == value:
            continue
        limit = TOLERANCE.get(name)
        a, b = (before or {}).get("value"), value.get("value")
        if limit is None or not isinstance(a, int) or not isinstance(b, int):
            return False
        if abs(a - b) > limit * max(a, b, 1):
            return False
    return True


def _plain_field(name: str, value: Field) -> Field:
    if not isinstance(value, dict) or "value" not in value:
        return value
    limit = textsafe.TITLE_MAX if name == "title" else textsafe.TEXT_MAX
    return {**value, "value": textsafe.plain_tree(value["value"], limit)}


def store(record: Record, url: str | None, fields: dict[str, Field], live: bool,
          now: datetime) -> bool:  # fmt: skip
    """Fold fields into the record's ``metadata`` section; True when it changed. Values are
    stored as plain text (no control characters or terminal escapes; a title at most
    :data:`~linkkeeper.core.textsafe.TITLE_MAX` characters): a page wrote them."""
    fields = {name: _plain_field(name, value) for name, value in fields.items()}
    section = record.data.get("metadata")
    old = section if isinstance(section, dict) and section.get("url") == url else {}
    old_fields = {k: v for k, v in old.items() if isinstance(v, dict)}
    merged = _merge(old_fields, fields, live)
    if not merged:
        return False
    try:
        stamped = parse_time(old.get("fetched_at"))
    except (TypeError, ValueError):
        stamped = None
    if old and _same(old_fields, merged) and stamped and now - stamped < REFRESH_AFTER:
        return False
    record.data["metadata"] = {"url": url, **merged, "fetched_at": format_time(now)}
    return True


_PAPERS: ContextVar[Mapping[str, ArxivPaper] | None] = ContextVar("arxiv_papers", default=None)


@dataclass(frozen=True)
class Harvest:
    """What one judged fetch taught about its reading: fields and the drift fingerprint, ready
    to fold into each record that links to the page. Small: the page itself can go."""

    url: str | None
    fields: dict[str, Field]  # shared by the records it is applied to: never changed in place
    live: bool
    fingerprint: drift.Fingerprint | None

    def apply(self, record: Record, now: datetime) -> bool:
        """Fold into the record's ``metadata`` and ``drift`` sections; True when it changed.
        Never raises (metadata is a bonus, the verdict is what matters)."""
        try:
            changed = store(record, self.url, self.fields, self.live, now)
            if self.fingerprint is not None:
                changed = drift.observe(record, self.url, self.fingerprint, now) or changed
            return changed
        except Exception:
            log.exception("metadata of %s could not be recorded", record.data.get("id"))
            return False


def harvest(
    reading: Reading, judgement: Judgement, papers: Mapping[str, ArxivPaper] | None = None
) -> Harvest | None:
    """Read one judgement's pages once (CPU: parse, fields, fingerprint); ``None`` when there
    is nothing to learn: a fetch that got no answer at all teaches nothing. Never raises.

    ``papers`` defaults to this run's :func:`prefetch_arxiv` batch. The result depends on the
    reading's URL only, so one harvest serves every reading that links to the page."""
    page = judgement.page
    if judgement.verdict not in LIVE and page is not None and page.status is None:
        return None
    try:
        found_now = collect(reading, judgement, _PAPERS.get() if papers is None else papers)
        live = judgement.verdict in LIVE
        latest = None
        if live and found_now.text:
            title = found_now.fields.get("title", {})
            named = title.get("value") if title.get("source") != "url" else None
            latest = drift.fingerprint(found_now.text, named)
        return Harvest(reading.url, found_now.fields, live, latest)
    except Exception:  # a malformed page must never sink the check
        log.exception("metadata of %s could not be read", reading.id)
        return None


def reads_page(judgement: Judgement) -> bool:
    """Whether :func:`harvest` reads a page (parse, main text, fingerprint: the CPU work worth
    another process, :mod:`linkkeeper.check.pool`), not only the URL and the judgement."""
    page = judgement.page
    return judgement.verdict in LIVE and page is not None and bool(page.body)


def papers_for(
    reading: Reading, papers: Mapping[str, ArxivPaper] | None = None
) -> dict[str, ArxivPaper]:
    """The part of ``papers`` (default: this run's :func:`prefetch_arxiv` batch) that
    :func:`harvest` reads for ``reading``: its own paper, if any. A worker process has no run
    context; this is what it needs instead, and it gives the same result."""
    from linkkeeper.judges import arxiv

    papers = _PAPERS.get() if papers is None else papers
    paper_id = arxiv.paper(reading.url) if reading.url and papers else None
    key = arxiv.base_id(paper_id[1]) if paper_id else None
    paper = papers.get(key) if papers and key else None
    return {key: paper} if key and paper is not None else {}


def update_record(
    record: Record,
    reading: Reading,
    judgement: Judgement,
    now: datetime,
    papers: Mapping[str, ArxivPaper] | None = None,
) -> bool:
    """Record one reading's metadata and drift from its judgement; True when the record changed
    (:func:`harvest`, then :meth:`Harvest.apply`). Never raises."""
    found_now = harvest(reading, judgement, papers)
    return found_now is not None and found_now.apply(record, now)


# -- arXiv: one batch per run ------------------------------------------------------------------
def _api_fresh(ledger: Ledger, reading: Reading, now: datetime) -> bool:
    try:
        record = ledger.get(reading.id)
        section = record.data.get("metadata") if record else None
        if not isinstance(section, dict) or section.get("url") != reading.url:
            return False
        title = section.get("title")
        stamped = parse_time(section.get("fetched_at"))
    except Exception:
        return False
    from_api = isinstance(title, dict) and title.get("source") == "arxiv-api"
    return from_api and stamped is not None and now - stamped < REFRESH_AFTER


async def prefetch_arxiv(
    readings: Iterable[Reading],
    fetcher: Fetcher,
    ledger: Ledger | None = None,
    now: datetime | None = None,
) -> dict[str, ArxivPaper]:
    """Ask the arXiv export API about this run's papers in one batch (by id without version).

    Papers whose record already has API metadata younger than a month are not asked about
    again. The result is also kept for :func:`harvest` calls in this run's context (worker
    tasks and threads started after this call)."""
    from linkkeeper.judges import arxiv

    wanted = set()
    for reading in readings:
        paper = arxiv.paper(reading.url) if reading.url else None
        if paper is None:
            continue
        if ledger is not None and now is not None and _api_fresh(ledger, reading, now):
            continue
        wanted.add(arxiv.base_id(paper[1]))
    try:
        papers = await arxiv.fetch_papers(wanted, fetcher) if wanted else {}
    except Exception:  # the abstract pages' citation tags stand in
        log.exception("arXiv API lookup failed")
        papers = {}
    _PAPERS.set(papers)
    return papers


# -- readers -----------------------------------------------------------------------------------
def fetched_title(record: Record | None) -> str | None:
    """The title found for the record's current URL, if any."""
    section = record.data.get("metadata") if record else None
    if not isinstance(section, dict) or record is None or section.get("url") != record.url:
        return None
    title = section.get("title")
    value = title.get("value") if isinstance(title, dict) else None
    return textsafe.title(value) or None if isinstance(value, str) else None


def titles_from_ledger(ledger: Ledger | Path | str) -> dict[str, str]:
    """Reading id -> fetched title, for lists and reports where the curriculum has none.
    Damaged records are skipped (remembered in ``ledger.damaged`` when a Ledger is given)."""
    from linkkeeper.ledger import Ledger

    ledger = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
    titles = {}
    for reading_id in ledger.ids():
        title = fetched_title(ledger.find(reading_id))
        if title:
            titles[reading_id] = title
    return titles
