"""blog.example, soft.example, parked.example: the generic ways a 200 can mean "gone".

Imitates: HEAD answered 405/404 while GET works, the soft 404 family (short "Page not found"
page, deep link bounced home or to ``/404/``, empty body, a ``.pdf`` link answering an HTML
apology, a whole site answering 200 for unknown paths, a parked domain "for sale") and a long
live article that merely mentions "has been removed" (must stay ok).
"""

from __future__ import annotations

import html

from aiohttp import web

from linkkeeper.sandbox.sites._common import (
    WEB_STATE,
    Handler,
    answer_conditionally,
    article_ld,
    article_page,
    build_app,
    fixed,
    html_response,
    moved_to,
    not_found_page,
    og,
    page,
    pdf_response,
    validators,
)

SITE = "Field Notes"


def blog_article(title: str, paragraphs: int = 12, extra: str = "") -> Handler:
    """A handler for one live blog post (~5 KB of text with 12 paragraphs)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        url = f"https://blog.example{request.path}"
        head = og(title, url, f"{title} on {SITE}", site=SITE) + "\n"
        head += article_ld(title, "Sam Writer", "2023-04-01T08:00:00Z", url, SITE, "BlogPosting")
        text = article_page(
            title, head, "Sam Writer · 2023-04-01", paragraphs, request.path, extra, site=SITE
        )
        return html_response(text)

    return handler


REMOVED_NOTE = (
    "<p>Update: this feature has been removed from the library in version 2.0, "
    "so the examples below pin the older release.</p>"
)


async def blog_home(request: web.Request) -> web.StreamResponse:
    posts = '<ul><li><a href="/post/live">Notes on reading groups</a></li></ul>'
    return html_response(page(SITE, f"<main><h1>{SITE}</h1><p>Recent posts</p>{posts}</main>"))


SHORT_NOT_FOUND = page(
    "Page not found",
    "<main><h1>Page not found</h1><p>Sorry, the page you requested could not be found.</p>"
    '<p><a href="/">Home</a></p></main>',
)
APOLOGY = page(
    "Document unavailable",
    "<main><h1>Sorry</h1><p>Sorry, this document is no longer available.</p></main>",
)


async def soft_404(request: web.Request) -> web.StreamResponse:
    return html_response(SHORT_NOT_FOUND)


async def apology(request: web.Request) -> web.StreamResponse:
    return html_response(APOLOGY)


async def empty(request: web.Request) -> web.StreamResponse:
    return web.Response(body=b"", content_type="text/html")


async def real_pdf(request: web.Request) -> web.StreamResponse:
    return pdf_response("blog-real.pdf", "real.pdf")


async def weak_etag_lies(request: web.Request) -> web.StreamResponse:
    """The first answer per key is the live post; every later one is a "Page not found" page
    under the very same weak ETag, which the server also honours with 304s: a weak validator
    that lies about a page that died."""
    first = WEB_STATE.hit(f"weak-etag:{request.match_info['key']}") == 1
    response = await (blog_article("Notes on weak validators")(request) if first
                      else soft_404(request))  # fmt: skip
    body = response.body if isinstance(response.body, bytes) else b""
    return answer_conditionally(request, response, body, "weak", None, etag='"same"')


async def strong_etag_lies(request: web.Request) -> web.StreamResponse:
    """The first answer per key is one post, every later one another, all under the same
    strong ETag, which the server also honours with 304s: a validator that does not track
    the page (caught only when a whole answer shows other bytes under it)."""
    n = WEB_STATE.hit(f"strong-etag:{request.match_info['key']}")
    title = "Notes on strong validators" if n == 1 else "A different post entirely"
    response = await blog_article(title)(request)
    body = response.body if isinstance(response.body, bytes) else b""
    return answer_conditionally(request, response, body, "strong", None, etag='"fixed"')


EDITIONS = (
    "Benchmarks measure what is easy",
    "Gradient descent, one step at a time",
    "Why convolutions slide masks",
    "Latent spaces as maps",
)


async def changing(request: web.Request) -> web.StreamResponse:
    """A post rewritten between any two requests (new text, new title, new ETag)."""
    n = WEB_STATE.hit(f"changing:{request.match_info['key']}")
    title = EDITIONS[n % len(EDITIONS)]  # a new title each time: drift sees the change
    url = f"https://blog.example{request.path}"
    text = article_page(title, og(title, url), "Sam Writer", 12, f"{request.path}#{n}", site=SITE)
    response = html_response(text)
    return answer_conditionally(request, response, text.encode(), "strong")


def blog_app() -> web.Application:
    live = blog_article("Notes on reading groups")
    return build_app(
        [
            web.get("/", blog_home),
            web.get("/post/live", live),
            web.get("/head-405", live, allow_head=False),
            web.head("/head-405", fixed(405, "Method Not Allowed", headers={"Allow": "GET"})),
            web.get("/head-404", live, allow_head=False),
            web.head("/head-404", fixed(404)),
            web.get("/soft-404", soft_404),
            web.get("/removed-phrase", blog_article("Migrating to version 2", 14, REMOVED_NOTE)),
            web.get("/deep/link/to/article", moved_to("/", 302, absolute=False)),
            web.get("/empty", empty),
            web.get("/paper.pdf", apology),
            web.get("/real.pdf", real_pdf),
            web.get("/moved-permanently", moved_to("/post/live", 301, absolute=False)),
            web.get("/moved-temp", moved_to("/post/live", 302, absolute=False)),
            web.get("/gone", fixed(410, page("Gone", "<h1>Gone</h1>"))),
            web.get("/missing", fixed(404, page("Not Found", "<h1>Not Found</h1>"))),
            web.get("/404-redirect", moved_to("/404/", 302, absolute=False)),
            web.get("/404/", soft_404),
            web.get("/weak-etag/{key}", weak_etag_lies),
            web.get("/changing/{key}", changing),
            web.get("/strong-etag-lies/{key}", strong_etag_lies),
        ],
        not_found_page("Not Found", "The requested URL was not found on this server."),
        [validators("strong")],  # a static host: strong ETag and Last-Modified on every page
    )


# -- soft.example: every unknown path is a 200 "Oops" page ------------------------------------
async def oops(request: web.Request) -> web.StreamResponse:
    body = (
        f"<main><h1>Oops! nothing here</h1><p>We looked everywhere for "
        f'<code>{html.escape(request.path)}</code>.</p><p><a href="/">Home</a></p></main>'
    )
    return html_response(page("Oops! nothing here", body))


def soft_app() -> web.Application:
    return build_app(
        [web.get("/article/real-one", blog_article("A real article on a soft-404 site", 12))],
        oops,
    )


# -- parked.example: a lapsed domain on a parking service -------------------------------------
LANDER = page(
    "parked.example - This domain is for sale",
    "<main><h1>parked.example</h1><p>This domain is for sale! Buy this domain today.</p>"
    '<p><a href="https://sedo.com/search/details/?domain=parked.example">Make an offer on this '
    "domain</a></p></main>\n"
    '<script src="https://img.sedoparking.com/js/park.js"></script>',
)


async def lander(request: web.Request) -> web.StreamResponse:
    return html_response(LANDER)


def parked_app() -> web.Application:
    return build_app([web.get("/lander", lander)], moved_to("/lander", 302, absolute=False))
