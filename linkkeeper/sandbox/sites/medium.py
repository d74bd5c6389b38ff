"""medium.com, towardsdatascience.com and a Medium custom domain (uxdesign.cc).

Imitates: the Cloudflare bot wall (403, ``cf-mitigated: challenge``, "Just a moment...") that
non-browser clients meet on Towards Data Science; TDS articles not migrated in February 2025
(404, no redirect) whose twins live on at ``medium.com/data-science/...`` (TDS Archive); a
deleted Medium story (410); the ``/m/global-identity`` cookie bounce of custom domains, which
loops for a client without a cookie jar.
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from aiohttp import web

from linkkeeper.sandbox.sites._common import (
    Handler,
    article_ld,
    article_page,
    build_app,
    html_response,
    is_browser,
    not_found_page,
    og,
    page,
    public_url,
    redirect,
    validators,
)


@dataclass(frozen=True)
class Story:
    title: str
    author: str
    published: str
    publisher: str


TDS_CHART = "the-mostly-complete-chart-of-neural-networks-explained-3fb6f2367464"
TDS_CONV = "intuitively-understanding-convolutions-for-deep-learning-1f6f42faee1"

MEDIUM_STORIES = {
    "/@hackerm0m/ursula-le-guin-and-machine-learning-303e4e327b73": Story(
        "Ursula Le Guin and Machine Learning", "hackerm0m", "2021-03-14T18:02:11.000Z", "Medium"
    ),
    f"/data-science/{TDS_CHART}": Story(
        "The mostly complete chart of Neural Networks, explained",
        "Andrew Tch",
        "2017-08-04T14:33:50.000Z",
        "TDS Archive",
    ),
    f"/data-science/{TDS_CONV}": Story(
        "Intuitively Understanding Convolutions for Deep Learning",
        "Irhum Shafkat",
        "2018-06-01T16:47:07.000Z",
        "TDS Archive",
    ),
}

CUSTOM_DOMAIN_STORIES = {
    "/some-article-123abc": Story(
        "The UX of Link Rot", "A. Designer", "2022-09-20T09:00:00.000Z", "UX Collective"
    ),
}

TDS_ARTICLES = {
    f"/{TDS_CONV}": Story(
        "Intuitively Understanding Convolutions for Deep Learning",
        "Irhum Shafkat",
        "2018-06-01T16:47:07+00:00",
        "Towards Data Science",
    ),
}

SESSION_COOKIE = "sid"  # host-only, no Secure flag: the sandbox is plain http on loopback


def story_page(request: web.Request, story: Story, site: str) -> web.Response:
    url = public_url(request, request.path)
    head = og(story.title, url, f"{story.title} by {story.author}", site=site) + "\n"
    head += article_ld(story.title, story.author, story.published, url, story.publisher)
    byline = f"{story.author} · {story.published[:10]}"
    return html_response(article_page(story.title, head, byline, 10, request.path, site=site))


# -- medium.com ---------------------------------------------------------------------------------
async def medium_story(request: web.Request) -> web.StreamResponse:
    story = MEDIUM_STORIES.get(request.path)
    if story is None:
        return await medium_404(request)
    return story_page(request, story, "Medium")


async def deleted_story(request: web.Request) -> web.StreamResponse:
    body = (
        "<main><h1>410</h1><p>The author deleted this Medium story</p>"
        '<a href="/">Go to Medium home</a></main>'
    )
    return html_response(page("Medium", body), status=410)


async def global_identity(request: web.Request) -> web.StreamResponse:
    """Bounce back to the custom domain with a ``gi`` token it will turn into a cookie."""
    target = request.query.get("redirectUrl", "")
    if not target.startswith(("https://", "http://")):
        return redirect(public_url(request, "/"), 302)
    token = hashlib.sha1(target.encode()).hexdigest()[:12]
    parts = urlsplit(target)
    query = f"{parts.query}&gi={token}" if parts.query else f"gi={token}"
    return redirect(urlunsplit(parts._replace(query=query)), 302)


medium_404 = not_found_page("Medium", "PAGE NOT FOUND. Out of nothing, something.")


def medium_app() -> web.Application:
    return build_app(
        [
            web.get("/@someone/deleted-story-0a1b2c3d4e5f", deleted_story),
            web.get("/m/global-identity", global_identity),
            *[web.get(path, medium_story) for path in MEDIUM_STORIES],
        ],
        medium_404,
        [validators("weak", None)],  # an Express app: a weak ETag, no Last-Modified
    )


# -- uxdesign.cc (a Medium custom domain) ---------------------------------------------------
async def custom_domain_story(request: web.Request) -> web.StreamResponse:
    story = CUSTOM_DOMAIN_STORIES[request.path]
    clean = public_url(request, request.path)
    token = request.query.get("gi")
    if token:  # back from medium.com: set the cookie, strip the token
        response = redirect(clean, 302)
        response.set_cookie(SESSION_COOKIE, token, path="/", httponly=True)
        return response
    if SESSION_COOKIE not in request.cookies:
        bounce = "/m/global-identity?" + urlencode({"redirectUrl": clean}, quote_via=quote)
        return redirect(public_url(request, bounce, host="medium.com"), 302)
    return story_page(request, story, "UX Collective")


def uxdesign_app() -> web.Application:
    return build_app(
        [web.get(path, custom_domain_story) for path in CUSTOM_DOMAIN_STORIES],
        not_found_page("UX Collective", "PAGE NOT FOUND. Out of nothing, something."),
    )


# -- towardsdatascience.com ---------------------------------------------------------------------
CHALLENGE = """<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">
<meta name="robots" content="noindex,nofollow"></head>
<body><div class="main-wrapper" role="main"><div class="main-content">
<h1 class="zone-name-title h1">towardsdatascience.com</h1>
<h2>Verifying you are human. This may take a few seconds.</h2>
<noscript>Enable JavaScript and cookies to continue</noscript></div></div>
<script>(function(){{window._cf_chl_opt={{cvId: '3',cZone: "towardsdatascience.com",
cType: 'managed',cRay: '{ray}'}};}}());</script></body></html>"""


def cloudflare(handler: Handler) -> Handler:
    """Wrap a handler behind Cloudflare's managed challenge for non-browser clients."""

    async def challenged(request: web.Request) -> web.StreamResponse:
        if is_browser(request.headers.get("User-Agent", "")):
            return await handler(request)
        ray = hashlib.sha1(request.path.encode()).hexdigest()[:16]
        return html_response(
            CHALLENGE.format(ray=ray),
            status=403,
            headers={
                "Server": "cloudflare",
                "cf-mitigated": "challenge",
                "cf-ray": f"{ray}-FRA",
                "Cache-Control": "private, max-age=0, no-store, no-cache, must-revalidate",
            },
        )

    return challenged


async def tds_article(request: web.Request) -> web.StreamResponse:
    story = TDS_ARTICLES[request.path]
    return story_page(request, story, "Towards Data Science")


async def tds_home(request: web.Request) -> web.StreamResponse:
    body = "<main><h1>Towards Data Science</h1><p>Your home for data science and AI.</p></main>"
    return html_response(page("Towards Data Science", body))


async def tds_404(request: web.Request) -> web.StreamResponse:
    body = (
        f"<main><h1>Page not found</h1><p>We couldn't find {html.escape(request.path)}.</p></main>"
    )
    return html_response(
        page("Page not found - Towards Data Science", body),
        status=404,
        headers={"Server": "cloudflare"},
    )


def tds_app() -> web.Application:
    return build_app(
        [
            web.get("/", cloudflare(tds_home)),
            *[web.get(path, cloudflare(tds_article)) for path in TDS_ARTICLES],
        ],
        tds_404,
    )
