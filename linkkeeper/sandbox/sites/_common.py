"""What every sandbox site shares: the mutable state, the app builder and HTML helpers.

Sites are route tables of small handlers; the helpers here keep each handler a few lines. State
that must survive between requests (flaky counters, rate-limit clocks) lives in one module-level
:data:`WEB_STATE`, so tests can reset it between cases with :func:`reset_web_state`.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import html
import json
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from aiohttp import web

from linkkeeper.sandbox._server import PUBLIC_HOST

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# -- state ---------------------------------------------------------------------------------
@dataclass
class WebSettings:
    """Knobs a test may turn; :func:`reset_web_state` puts the defaults back."""

    arxiv_robot_limit: int = 30  # requests per User-Agent per window before the 403
    arxiv_robot_window: float = 60.0  # seconds
    arxiv_api_interval: float = 3.0  # export.arxiv.org: one call per this many seconds


class WebState:
    """Counters and clocks shared by all sandbox web hosts (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.settings = WebSettings()
            self.hits: defaultdict[str, int] = defaultdict(int)
            self.arxiv_seen: defaultdict[str, deque[float]] = defaultdict(deque)
            self.api_last: dict[str, float] = {}
            self.api_refusals = 0

    def hit(self, key: str) -> int:
        """Count one more request for ``key``; returns the count including this one."""
        with self._lock:
            self.hits[key] += 1
            return self.hits[key]

    def arxiv_robot(self, user_agent: str) -> bool:
        """Record an arxiv.org request; True when this User-Agent is over the limit."""
        now = time.monotonic()
        with self._lock:
            seen = self.arxiv_seen[user_agent]
            seen.append(now)
            while seen and now - seen[0] > self.settings.arxiv_robot_window:
                seen.popleft()
            return len(seen) > self.settings.arxiv_robot_limit

    def arxiv_api_refusal(self, client: str) -> int | None:
        """Record an API call; the refusal number when it came too soon after the last one."""
        now = time.monotonic()
        with self._lock:
            last = self.api_last.get(client)
            self.api_last[client] = now
            if last is None or now - last >= self.settings.arxiv_api_interval:
                return None
            self.api_refusals += 1
            return self.api_refusals - 1


WEB_STATE = WebState()


def reset_web_state() -> None:
    """Forget every counter and clock and restore default settings (between tests)."""
    WEB_STATE.reset()


# -- apps and responses ----------------------------------------------------------------------
def build_app(
    routes: Iterable[web.AbstractRouteDef],
    not_found: Handler,
    middlewares: Iterable[Any] = (),
) -> web.Application:
    """An app from a route table; every other path and method gets ``not_found``."""
    app = web.Application(middlewares=list(middlewares))
    app.add_routes(list(routes))
    app.router.add_route("*", "/{tail:.*}", not_found)
    return app


def public_url(request: web.Request, path_qs: str, host: str | None = None) -> str:
    """The real-world URL of a path on this (or another) host, for ``Location`` headers."""
    return f"https://{host or request.app[PUBLIC_HOST]}{path_qs}"


def redirect(
    location: str, status: int = 302, headers: dict[str, str] | None = None
) -> web.Response:
    """A redirect with the small HTML body real servers send along."""
    link = html.escape(location)
    return web.Response(
        status=status,
        headers={"Location": location, **(headers or {})},
        text=f'<html><body>Redirecting to <a href="{link}">{link}</a></body></html>',
        content_type="text/html",
    )


def moved_to(path: str, status: int = 302, absolute: bool = True) -> Handler:
    """A handler redirecting to ``path`` on the same host (absolute URL unless told)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return redirect(public_url(request, path) if absolute else path, status)

    return handler


def html_response(
    text: str, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status, text=text, content_type="text/html", charset="utf-8", headers=headers
    )


def fixed(
    status: int,
    text: str = "",
    content_type: str = "text/html",
    headers: dict[str, str] | None = None,
) -> Handler:
    """A handler that always answers ``status`` with ``text``."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, text=text, content_type=content_type, headers=headers)

    return handler


def page(title: str, body: str, head: str = "", lang: str = "en") -> str:
    """A complete HTML document."""
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n{head}\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def meta(*pairs: tuple[str, str, str]) -> str:
    """``<meta>`` tags from (attribute, key, content) triples, e.g. ("property", "og:title", t)."""
    return "\n".join(
        f'<meta {attr}="{html.escape(key)}" content="{html.escape(value)}">'
        for attr, key, value in pairs
    )


def og(title: str, url: str, description: str = "", kind: str = "article", site: str = "") -> str:
    """Open Graph tags as link previews read them."""
    pairs = [
        ("property", "og:title", title),
        ("property", "og:url", url),
        ("property", "og:type", kind),
    ]
    if description:
        pairs.append(("property", "og:description", description))
    if site:
        pairs.append(("property", "og:site_name", site))
    return meta(*pairs)


def json_ld(data: dict[str, Any]) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def article_ld(
    headline: str, author: str, published: str, url: str, publisher: str, kind: str = "NewsArticle"
) -> str:
    """schema.org JSON-LD for an article, the shape news and blog platforms emit."""
    return json_ld(
        {
            "@context": "https://schema.org",
            "@type": kind,
            "headline": headline,
            "name": headline,
            "author": {"@type": "Person", "name": author},
            "datePublished": published,
            "mainEntityOfPage": url,
            "publisher": {"@type": "Organization", "name": publisher},
        }
    )


_SENTENCES = (
    "Neural networks learn representations by adjusting millions of weights.",
    "A reading group meets every week to discuss one paper or article.",
    "Attention lets every position of a sequence look at every other position.",
    "Benchmarks measure what is easy to count, which is not always what matters.",
    "Convolutions slide a small mask across an image and sum the products.",
    "Links rot: pages move, sites close, and archives keep what they captured.",
    "Gradient descent follows the slope of the loss one small step at a time.",
    "A good explainer trades precision for intuition and says so.",
    "Training data shapes a model more than its architecture does.",
    "The latent space of a generative model can be walked like a map.",
)


def prose(seed: str, paragraphs: int, sentences: int = 6) -> str:
    """Deterministic filler paragraphs (about 80 words each) that differ per ``seed``."""
    digest = hashlib.sha256(seed.encode()).digest()
    out = []
    for p in range(paragraphs):
        picks = [
            _SENTENCES[(digest[(p * sentences + s) % len(digest)] + s) % len(_SENTENCES)]
            for s in range(sentences)
        ]
        out.append(f"<p>{' '.join(picks)}</p>")
    return "\n".join(out)


def article_page(
    title: str, head: str, byline: str, paragraphs: int, seed: str, extra: str = "", site: str = ""
) -> str:
    """A normal long article page with navigation chrome."""
    body = (
        f'<header><nav><a href="/">{html.escape(site or "Home")}</a> · <a href="/about">About</a>'
        f"</nav></header>\n<main><article>\n<h1>{html.escape(title)}</h1>\n"
        f'<p class="byline">{html.escape(byline)}</p>\n{prose(seed, paragraphs)}\n{extra}\n'
        f"</article></main>\n<footer><p>© {html.escape(site or 'the author')}</p></footer>"
    )
    return page(title, body, head)


def not_found_page(title: str, message: str) -> Handler:
    """A realistic 404 handler for a host."""
    text = page(title, f"<main><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></main>")

    async def handler(request: web.Request) -> web.StreamResponse:
        return html_response(text, status=404)

    return handler


# -- conditional GET (ETag / Last-Modified) ----------------------------------------------------
LAST_MODIFIED = "Tue, 01 Aug 2023 08:00:00 GMT"  # what static hosts send for an old page


def validators(kind: str, last_modified: str | None = LAST_MODIFIED) -> Any:
    """Middleware that serves validators on every whole 200 answer to GET and honours them, as
    static hosts do: ``kind`` "strong" (GitHub Pages, Apache, nginx without gzip: an ETag
    from the bytes), "weak" (Express, nginx with gzip: ``W/"..."``) or "none" (only
    ``Last-Modified``, when given). ``If-None-Match`` wins over ``If-Modified-Since``
    (RFC 9110 13.2.2); a match answers ``304`` with the validators and no body."""

    @web.middleware
    async def conditional(request: web.Request, handler):  # type: ignore[no-untyped-def]
        response = await handler(request)
        if request.method != "GET" or response.status != 200 or "ETag" in response.headers:
            return response  # the handler speaks for itself
        body = getattr(response, "body", None)
        if not isinstance(body, bytes):
            return response
        return answer_conditionally(request, response, body, kind, last_modified)

    return conditional


def answer_conditionally(
    request: web.Request,
    response: web.StreamResponse,
    body: bytes,
    kind: str,
    last_modified: str | None = LAST_MODIFIED,
    etag: str | None = None,
) -> web.StreamResponse:
    """Put validators on ``response`` (``etag`` or one from the bytes) and answer 304 when the
    request's validators match them."""
    sent: dict[str, str] = {}
    if kind != "none":
        tag = etag or f'"{hashlib.sha1(body).hexdigest()[:16]}"'
        sent["ETag"] = f"W/{tag}" if kind == "weak" else tag
    if last_modified:
        sent["Last-Modified"] = last_modified
    response.headers.update(sent)
    asked = request.headers.get("If-None-Match")
    if asked is not None:
        mine = sent.get("ETag", "").removeprefix("W/")
        match = bool(mine) and any(
            t.strip().removeprefix("W/") in (mine, "*") for t in asked.split(",")
        )
    else:
        match = _not_modified_since(request.headers.get("If-Modified-Since"), last_modified)
    if match:
        return web.Response(status=304, headers=sent)
    return response


def _not_modified_since(since: str | None, last_modified: str | None) -> bool:
    if not since or not last_modified:
        return False
    try:
        asked = email.utils.parsedate_to_datetime(since)
        mine = email.utils.parsedate_to_datetime(last_modified)
        return asked >= mine
    except (TypeError, ValueError):
        return False  # an unreadable date is ignored, as servers do


# -- browsers, files, waiting ------------------------------------------------------------------
_BROWSER = re.compile(r"^Mozilla/5\.0 \(.*\b(?:Chrome|Firefox|Safari)/\d")
_NOT_A_BROWSER = re.compile(r"Headless|bot\b|crawl|spider", re.IGNORECASE)


def is_browser(user_agent: str) -> bool:
    """Bot walls' rule of thumb: ``Mozilla/5.0 (...)`` plus Chrome/Firefox/Safari, no bot word."""
    return bool(_BROWSER.search(user_agent)) and not _NOT_A_BROWSER.search(user_agent)


@cache
def data_file(name: str) -> bytes:
    """A fixture from ``linkkeeper/sandbox/data`` (read once)."""
    return resources.files("linkkeeper.sandbox").joinpath("data", name).read_bytes()


def pdf_response(name: str, filename: str) -> web.Response:
    return web.Response(
        body=data_file(name),
        content_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


async def wait_or_disconnect(request: web.Request, seconds: float) -> bool:
    """Sleep up to ``seconds``; False as soon as the client hangs up (or the server stops)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        transport = request.transport
        if transport is None or transport.is_closing():
            return False
        await asyncio.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
    return True
