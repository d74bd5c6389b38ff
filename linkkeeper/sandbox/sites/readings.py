"""The other hosts of the study group's reading list, one small route table each.

Imitates: a deep link bounced to the site root (thenextweb.com, a soft 404), servers that answer
HEAD with 405 or 404 while GET works (jalammar.github.io, tvm.apache.org), a university PDF on
plain http that redirects to https and carries a junk document title (www2.csudh.edu), and
ordinary live pages with Open Graph / JSON-LD metadata.
"""

from __future__ import annotations

from aiohttp import web

from linkkeeper.sandbox.sites._common import (
    Handler,
    article_ld,
    article_page,
    build_app,
    fixed,
    html_response,
    meta,
    moved_to,
    not_found_page,
    og,
    page,
    pdf_response,
    public_url,
    validators,
)

TNW_DEEP = (
    "/news/understanding-transformers-the-machine-learning-model-behind-gpt-3-"
    "machine-learning-ai-syndication"
)
JALAMMAR = "/illustrated-transformer/"
TECHREVIEW = "/2021/05/27/1025453/artificial-intelligence-learning-create-itself-agi/"
CSUDH_PDF = "/ccauthen/576f12/frankfurt__harry_-_on_bullshit.pdf"
SLOAN = "/lab/notes-on-a-genre/"
QUANTA = "/a-new-link-to-an-old-model-could-crack-the-mystery-of-deep-learning-20211011/"


def static_article(
    title: str,
    author: str,
    published: str,
    site: str,
    *,
    ld: bool = False,
    og_time: bool = False,
    paragraphs: int = 10,
) -> Handler:
    """A handler for one live article page with OG tags (and JSON-LD when ``ld``)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        url = public_url(request, request.path)
        head = og(title, url, f"{title} — {site}", site=site)
        if og_time:
            head += "\n" + meta(
                ("property", "article:published_time", published), ("name", "author", author)
            )
        if ld:
            head += "\n" + article_ld(title, author, published, url, site)
        byline = f"By {author} · {published[:10]}"
        return html_response(article_page(title, head, byline, paragraphs, url, site=site))

    return handler


def home(title: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return html_response(page(title, f"<main><h1>{title}</h1><p>Latest stories.</p></main>"))

    return handler


# -- thenextweb.com: the deep link now bounces to the home page -----------------------------
def thenextweb_app() -> web.Application:
    return build_app(
        [web.get("/", home("TNW | The heart of tech")), web.get(TNW_DEEP, moved_to("/", 301))],
        not_found_page("Page not found | TNW", "This page doesn't exist (anymore)."),
    )


# -- jalammar.github.io: GitHub Pages blog, HEAD refused ----------------------------------
def jalammar_app() -> web.Application:
    article = static_article(
        "The Illustrated Transformer",
        "Jay Alammar",
        "2018-06-27T00:00:00+00:00",
        "Jay Alammar",
        og_time=True,
    )
    return build_app(
        [
            web.get(JALAMMAR, article, allow_head=False),
            web.head(JALAMMAR, fixed(405, "Method Not Allowed", headers={"Allow": "GET"})),
            web.get(JALAMMAR.rstrip("/"), moved_to(JALAMMAR, 301)),
            web.get("/", home("Jay Alammar – Visualizing machine learning one concept at a time.")),
        ],
        not_found_page(
            "Page not found · GitHub Pages",
            "File not found. The site configured at this address does not contain "
            "the requested file.",
        ),
        [validators("strong")],  # GitHub Pages: a strong ETag and Last-Modified
    )


# -- playground.tensorflow.org: a single-page app --------------------------------------------
async def playground(request: web.Request) -> web.StreamResponse:
    body = '<div id="main-part"><div id="heatmap"></div></div>\n<script src="bundle.js"></script>'
    head = og(
        "A Neural Network Playground",
        "https://playground.tensorflow.org/",
        "Tinker with a real neural network right here in your browser.",
        kind="website",
    )
    return html_response(page("A Neural Network Playground", body, head))


def playground_app() -> web.Application:
    return build_app([web.get("/", playground)], not_found_page("404", "Not Found"))


# -- www.technologyreview.com ----------------------------------------------------------------
def technologyreview_app() -> web.Application:
    article = static_article(
        "AI is learning how to create itself",
        "Will Douglas Heaven",
        "2021-05-27T10:00:00-04:00",
        "MIT Technology Review",
        ld=True,
    )
    return build_app(
        [web.get("/", home("MIT Technology Review")), web.get(TECHREVIEW, article)],
        not_found_page(
            "Page not found | MIT Technology Review", "Sorry, we couldn't find that page."
        ),
    )


# -- www2.csudh.edu: a course-reader PDF ------------------------------------------------------
async def on_bullshit(request: web.Request) -> web.StreamResponse:
    return pdf_response("on-bullshit.pdf", "frankfurt__harry_-_on_bullshit.pdf")


def csudh_app() -> web.Application:
    return build_app(
        [web.get(CSUDH_PDF, on_bullshit)],
        not_found_page("404 Not Found", "The requested URL was not found on this server."),
    )


# -- www.robinsloan.com, www.quantamagazine.org -------------------------------------------------
def robinsloan_app() -> web.Application:
    article = static_article(
        "Notes on a genre", "Robin Sloan", "2023-01-15T00:00:00Z", "Robin Sloan", paragraphs=14
    )
    return build_app(
        [web.get("/", home("Robin Sloan")), web.get(SLOAN, article)],
        not_found_page("Not found", "Nothing here."),
    )


def quanta_app() -> web.Application:
    article = static_article(
        "A New Link to an Old Model Could Crack the Mystery of Deep Learning",
        "Anil Ananthaswamy",
        "2021-10-11T10:00:00-04:00",
        "Quanta Magazine",
        ld=True,
        paragraphs=16,
    )
    return build_app(
        [web.get("/", home("Quanta Magazine")), web.get(QUANTA, article)],
        not_found_page("Page Not Found | Quanta Magazine", "We couldn't find that page."),
    )


# -- tvm.apache.org: HEAD answers 404 ---------------------------------------------------------
async def tvm_home(request: web.Request) -> web.StreamResponse:
    head = og(
        "Apache TVM",
        "https://tvm.apache.org/",
        "An end to end machine learning compiler framework",
        kind="website",
    )
    body = (
        "<main><h1>Apache TVM</h1><p>An end to end machine learning compiler framework "
        "for CPUs, GPUs and accelerators.</p></main>"
    )
    return html_response(page("Apache TVM", body, head))


def tvm_app() -> web.Application:
    return build_app(
        [web.get("/", tvm_home, allow_head=False), web.head("/", fixed(404))],
        not_found_page("404 Not Found", "The requested URL was not found on this server."),
        [validators("strong")],  # Apache httpd: a strong ETag and Last-Modified
    )
