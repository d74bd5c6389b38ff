"""www.nature.com and idp.nature.com: the cookie handshake in front of every article.

Imitates: article -> 303 idp.nature.com/authorize -> 302 www.nature.com/transit (sets the
session cookie) -> 302 back to the article with ``?error=cookies_not_supported&code=<uuid>`` ->
200. A client that keeps cookies gets the article directly next time.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote, urlencode

from aiohttp import web

from linkkeeper.sandbox.sites._common import (
    article_page,
    build_app,
    html_response,
    meta,
    not_found_page,
    page,
    public_url,
    redirect,
)

SESSION_COOKIE = "idp_session"  # host-only, no Secure flag: the sandbox is plain http

ARTICLES = {
    "/articles/s42256-020-0164-7": {
        "title": "Latent spaces of deep generative models as maps of learned representations",
        "authors": ("Ada Example", "Ben Sample"),
        "date": "2020/05/11",
        "doi": "10.1038/s42256-020-0164-7",
    },
}


def _query(**params: str) -> str:
    return urlencode(params, quote_via=quote)


async def article(request: web.Request) -> web.StreamResponse:
    info = ARTICLES[request.path]
    handshake_done = request.query.get("error") == "cookies_not_supported"
    if SESSION_COOKIE not in request.cookies and not handshake_done:
        back = public_url(request, request.path)
        query = _query(response_type="cookie", client_id="grover", redirect_uri=back)
        return redirect(public_url(request, f"/authorize?{query}", host="idp.nature.com"), 303)
    title = str(info["title"])
    head = meta(
        ("name", "citation_title", title),
        *[("name", "citation_author", a) for a in info["authors"]],
        ("name", "citation_journal_title", "Nature Machine Intelligence"),
        ("name", "citation_publication_date", str(info["date"])),
        ("name", "citation_doi", str(info["doi"])),
        ("name", "dc.title", title),
        ("property", "og:title", title),
        ("property", "og:url", public_url(request, request.path)),
    )
    byline = ", ".join(info["authors"])
    return html_response(
        article_page(title, head, byline, 12, request.path, site="Nature Machine Intelligence")
    )


async def transit(request: web.Request) -> web.StreamResponse:
    target = request.query.get("redirect_uri", public_url(request, "/"))
    code = request.query.get("code", str(uuid.uuid4()))
    sep = "&" if "?" in target else "?"
    response = redirect(f"{target}{sep}{_query(error='cookies_not_supported', code=code)}", 302)
    response.set_cookie(SESSION_COOKIE, uuid.uuid4().hex, path="/", httponly=True)
    return response


async def home(request: web.Request) -> web.StreamResponse:
    return html_response(page("Nature", "<main><h1>Nature</h1><p>Latest research.</p></main>"))


def nature_app() -> web.Application:
    return build_app(
        [
            web.get("/", home),
            web.get("/transit", transit),
            *[web.get(path, article) for path in ARTICLES],
        ],
        not_found_page("Page not found | Nature", "Sorry, the page you requested is unavailable."),
    )


async def authorize(request: web.Request) -> web.StreamResponse:
    target = request.query.get("redirect_uri")
    if not target:
        return web.Response(status=400, text="missing redirect_uri", content_type="text/plain")
    query = _query(redirect_uri=target, code=str(uuid.uuid4()))
    return redirect(public_url(request, f"/transit?{query}", host="www.nature.com"), 302)


def idp_app() -> web.Application:
    return build_app(
        [web.get("/authorize", authorize)],
        not_found_page("Not Found", "The requested URL was not found."),
    )
