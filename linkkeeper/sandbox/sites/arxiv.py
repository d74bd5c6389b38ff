"""arxiv.org and export.arxiv.org: Highwire-tagged /abs pages, PDFs, robot detection, the API.

Imitates: ``.pdf`` suffix redirects, withdrawn papers (/abs 200, /pdf 404), the 403 "automatic
robot detection" page for a User-Agent that asks too often, and the Atom API with its quirks
(entries in any order, a 200 ``Error`` entry for a malformed id, an empty feed for an unknown
one, 503/429/"Rate exceeded." when called more than once per 3 s).
"""

from __future__ import annotations

import html
import re
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

from aiohttp import web

from linkkeeper.sandbox.sites._common import (
    WEB_STATE,
    Handler,
    build_app,
    html_response,
    meta,
    not_found_page,
    page,
    pdf_response,
    public_url,
    redirect,
)

NEW_ID = re.compile(r"^(\d{4}\.\d{4,5})(?:v(\d+))?$")
OLD_ID = re.compile(r"^([a-z-]+(?:\.[A-Z]{2})?/\d{7})(?:v(\d+))?$")


@dataclass(frozen=True)
class Paper:
    id: str
    title: str
    authors: tuple[str, ...]  # "First Last", as the API spells them
    abstract: str
    published: str  # v1, ISO 8601
    updated: str  # latest version, ISO 8601
    versions: int
    category: str
    pdf: str  # fixture file name
    doi: str | None = None
    journal_ref: str | None = None
    comment: str | None = None
    withdrawn_in: int | None = None  # the version that withdrew the paper


PAPERS = {
    p.id: p
    for p in (
        Paper(
            id="1706.03762",
            title="Attention Is All You Need",
            authors=(
                "Ashish Vaswani",
                "Noam Shazeer",
                "Niki Parmar",
                "Jakob Uszkoreit",
                "Llion Jones",
                "Aidan N. Gomez",
                "Lukasz Kaiser",
                "Illia Polosukhin",
            ),
            abstract="The dominant sequence transduction models are based on complex recurrent "
            "or convolutional neural networks in an encoder-decoder configuration. The best "
            "performing models also connect the encoder and decoder through an attention "
            "mechanism. We propose a new simple network architecture, the Transformer, based "
            "solely on attention mechanisms, dispensing with recurrence and convolutions "
            "entirely.",
            published="2017-06-12T17:57:34Z",
            updated="2023-08-02T00:41:18Z",
            versions=7,
            category="cs.CL",
            pdf="attention.pdf",
            comment="15 pages, 5 figures",
        ),
        Paper(
            id="1910.01500",
            title="MLPerf Inference Benchmark",
            authors=(
                "Vijay Janapa Reddi",
                "Christine Cheng",
                "David Kanter",
                "Peter Mattson",
                "Guenther Schmuelling",
                "Carole-Jean Wu",
                "Brian Anderson",
                "Maximilien Breughe",
                "Mark Charlebois",
                "William Chou",
            ),
            abstract="Machine-learning (ML) hardware and software system demand is burgeoning. "
            "Driven by ML applications, the number of different ML inference systems has "
            "exploded. This paper presents the benchmarking method for evaluating ML inference "
            "systems.",
            published="2019-11-06T07:25:37Z",
            updated="2020-05-09T19:51:07Z",
            versions=3,
            category="cs.LG",
            pdf="mlperf-inference.pdf",
            doi="10.1109/ISCA45697.2020.00045",
            journal_ref="2020 ACM/IEEE 47th Annual International Symposium on Computer "
            "Architecture (ISCA)",
        ),
        Paper(  # fictitious: the sandbox's withdrawn paper
            id="2101.00001",
            title="A Sandbox Study of Reference Rot",
            authors=("Jane Doe", "Richard Roe"),
            abstract="This paper has been withdrawn by the authors due to an error in Section 3.",
            published="2021-01-01T00:00:01Z",
            updated="2021-01-05T12:00:00Z",
            versions=2,
            category="cs.DL",
            pdf="withdrawn-v1.pdf",
            comment="This paper has been withdrawn",
            withdrawn_in=2,
        ),
    )
}


def parse_id(text: str) -> tuple[str, int | None] | None:
    """``(base id, version or None)`` for a well-formed arXiv id, else None."""
    match = NEW_ID.match(text) or OLD_ID.match(text)
    if not match:
        return None
    return match[1], int(match[2]) if match[2] else None


def lookup(text: str) -> tuple[Paper, int] | None:
    """The paper and version an id names, if the sandbox has it."""
    parsed = parse_id(text)
    if parsed is None or parsed[0] not in PAPERS:
        return None
    paper = PAPERS[parsed[0]]
    version = parsed[1] or paper.versions
    return (paper, version) if 1 <= version <= paper.versions else None


def last_first(name: str) -> str:
    first, _, last = name.rpartition(" ")
    return f"{last}, {first}"


def slash_date(iso: str) -> str:
    return iso[:10].replace("-", "/")


# -- arxiv.org ---------------------------------------------------------------------------------
ROBOTS = """User-agent: *
Crawl-delay: 15
Allow: /abs
Allow: /pdf
Allow: /html
Disallow: /api
Disallow: /auth
Disallow: /user
"""

ACCESS_DENIED = """<html><head><title>Access Denied</title></head><body>
<h1>Access Denied</h1>
<p>Sadly, you do not currently appear to have permission to access {url}</p>
<p>This may be because your IP address or User-Agent has
triggered our automatic robot detection system.</p>
<p>Your User-Agent was: <code>{ua}</code></p>
<p>Please respect our robots.txt Crawl-delay and use export.arxiv.org for bulk access.</p>
</body></html>"""


@web.middleware
async def robot_detection(request: web.Request, handler: Handler) -> web.StreamResponse:
    """403 for a User-Agent with more than the allowed requests in the window."""
    user_agent = request.headers.get("User-Agent", "")
    if WEB_STATE.arxiv_robot(user_agent):
        text = ACCESS_DENIED.format(url=html.escape(request.path), ua=html.escape(user_agent))
        return html_response(text, status=403)
    return await handler(request)


async def robots(request: web.Request) -> web.StreamResponse:
    return web.Response(text=ROBOTS, content_type="text/plain")


async def abs_page(request: web.Request) -> web.StreamResponse:
    ident = request.match_info["ident"]
    if ident.endswith(".pdf"):
        return redirect(public_url(request, f"/abs/{ident[:-4]}"), 301)
    found = lookup(ident)
    if found is None:
        return await not_found(request)
    paper, version = found
    vid = f"{paper.id}v{version}"
    tags = meta(
        ("name", "citation_title", paper.title),
        *[("name", "citation_author", last_first(a)) for a in paper.authors],
        ("name", "citation_date", slash_date(paper.published)),
        ("name", "citation_online_date", slash_date(paper.updated)),
        ("name", "citation_pdf_url", f"https://arxiv.org/pdf/{vid}"),
        ("name", "citation_arxiv_id", paper.id),
        ("name", "citation_abstract", paper.abstract),
        ("property", "og:title", paper.title),
        ("property", "og:url", f"https://arxiv.org/abs/{vid}"),
    )
    notice = ""
    if paper.withdrawn_in is not None and version >= paper.withdrawn_in:
        notice = f'<div class="withdrawn"><p>Comments: {html.escape(paper.comment or "")}</p></div>'
    body = (
        f'<div id="abs"><h1 class="title">Title: {html.escape(paper.title)}</h1>\n'
        f'<div class="authors">Authors: {html.escape(", ".join(paper.authors))}</div>\n'
        f'{notice}\n<blockquote class="abstract">{html.escape(paper.abstract)}</blockquote>\n'
        f'<div class="submission-history">[v1] {paper.published[:10]} ... '
        f"[v{paper.versions}] {paper.updated[:10]}</div>\n"
        f'<a href="/pdf/{vid}">View PDF</a></div>'
    )
    return html_response(page(f"[{paper.id}] {paper.title}", body, tags))


async def pdf(request: web.Request) -> web.StreamResponse:
    ident = request.match_info["ident"]
    if ident.endswith(".pdf"):
        return redirect(public_url(request, f"/pdf/{ident[:-4]}"), 301)
    found = lookup(ident)
    if found is None:
        return await not_found(request)
    paper, version = found
    if paper.withdrawn_in is not None and version >= paper.withdrawn_in:
        return await not_found(request)
    return pdf_response(paper.pdf, f"{paper.id}v{version}.pdf")


not_found = not_found_page("Not Found", "The requested article identifier was not recognized.")


def arxiv_app() -> web.Application:
    return build_app(
        [
            web.get("/robots.txt", robots),
            web.get("/abs/{ident:.+}", abs_page),
            web.get("/pdf/{ident:.+}", pdf),
        ],
        not_found,
        middlewares=[robot_detection],
    )


# -- export.arxiv.org ----------------------------------------------------------------------------
FEED = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <link href="http://arxiv.org/api/query?id_list={ids}" rel="self" type="application/atom+xml"/>
  <title type="html">ArXiv Query: id_list={ids}</title>
  <id>http://arxiv.org/api/sandbox</id>
  <updated>{now}</updated>
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{total}</opensearch:totalResults>
  <opensearch:startIndex xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">0</opensearch:startIndex>
  <opensearch:itemsPerPage xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{per_page}</opensearch:itemsPerPage>
{entries}</feed>
"""


def _wrapped(text: str) -> str:
    """The API wraps titles and abstracts at ~80 columns with a leading indent."""
    return "  " + "\n".join(textwrap.wrap(text, 78)) + "\n"


def atom_entry(paper: Paper, version: int) -> str:
    vid = f"http://arxiv.org/abs/{paper.id}v{version}"
    parts = [
        f"    <id>{vid}</id>",
        f"    <updated>{paper.updated}</updated>",
        f"    <published>{paper.published}</published>",
        f"    <title>{escape(paper.title)}</title>",
        f"    <summary>{escape(_wrapped(paper.abstract))}</summary>",
        *[f"    <author>\n      <name>{escape(a)}</name>\n    </author>" for a in paper.authors],
    ]
    if paper.doi:
        parts.append(
            f'    <arxiv:doi xmlns:arxiv="http://arxiv.org/schemas/atom">{paper.doi}</arxiv:doi>'
        )
    parts += [
        f'    <link href="{vid}" rel="alternate" type="text/html"/>',
        f'    <link title="pdf" href="{vid.replace("/abs/", "/pdf/")}" rel="related" '
        'type="application/pdf"/>',
    ]
    if paper.comment:
        parts.append(
            '    <arxiv:comment xmlns:arxiv="http://arxiv.org/schemas/atom">'
            f"{escape(paper.comment)}</arxiv:comment>"
        )
    if paper.journal_ref:
        parts.append(
            '    <arxiv:journal_ref xmlns:arxiv="http://arxiv.org/schemas/atom">'
            f"{escape(paper.journal_ref)}</arxiv:journal_ref>"
        )
    parts += [
        '    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" '
        f'term="{paper.category}" scheme="http://arxiv.org/schemas/atom"/>',
        f'    <category term="{paper.category}" scheme="http://arxiv.org/schemas/atom"/>',
    ]
    return "  <entry>\n" + "\n".join(parts) + "\n  </entry>\n"


def error_entry(bad_id: str) -> str:
    anchor = quoteattr(f"http://arxiv.org/api/errors#incorrect_id_format_for_{bad_id}")
    return (
        f"  <entry>\n    <id>{escape(anchor[1:-1])}</id>\n    <title>Error</title>\n"
        f"    <summary>incorrect id format for {escape(bad_id)}</summary>\n"
        f"    <updated>{_now()}</updated>\n"
        f'    <link href={anchor} rel="alternate" type="text/html"/>\n'
        "    <author>\n      <name>arXiv api core</name>\n    </author>\n  </entry>\n"
    )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rate_limited(refusal: int) -> web.Response:
    """Refusals cycle 503, 429, then a 200 whose body is not a feed at all."""
    answers = (
        lambda: web.Response(
            status=503,
            text="<html><body><h1>503 Service Unavailable</h1></body></html>",
            content_type="text/html",
        ),
        lambda: web.Response(status=429, text="Too Many Requests", content_type="text/plain"),
        lambda: web.Response(status=200, text="Rate exceeded.", content_type="text/plain"),
    )
    return answers[refusal % len(answers)]()


async def api_query(request: web.Request) -> web.StreamResponse:
    refusal = WEB_STATE.arxiv_api_refusal(request.headers.get("User-Agent", ""))
    if refusal is not None:
        return _rate_limited(refusal)
    raw = request.query.get("id_list", "")
    ids = [part.strip() for part in raw.split(",") if part.strip()]
    per_page = int(request.query.get("max_results", "10") or 10)
    bad = [i for i in ids if parse_id(i) is None]
    if bad:
        entries, total = [error_entry(bad[0])], 1
    else:
        found = [f for f in map(lookup, ids) if f is not None]
        found.reverse()  # the API promises no order: match entries by id
        entries = [atom_entry(paper, version) for paper, version in found[:per_page]]
        total = len(found)
    body = FEED.format(
        ids=escape(raw), now=_now(), total=total, per_page=per_page, entries="".join(entries)
    )
    return web.Response(text=body, content_type="application/atom+xml")


def export_app() -> web.Application:
    return build_app(
        [web.get("/api/query", api_query)],
        not_found_page("Not Found", "The requested URL was not found on this server."),
    )
