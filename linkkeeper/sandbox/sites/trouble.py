"""trouble.example: every way the network and a server can misbehave, one path each.

Imitates what retry and safety logic must survive: slow and stalled responses, resets,
failures that heal after N tries (503, 429 with Retry-After in seconds or as an HTTP date),
failures that never heal, redirect loops and long chains, a 50 MB body, a gzip bomb, bytes that
are not the declared charset, LinkedIn's 999 and any status code on demand.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
import zlib
from email.utils import formatdate
from functools import cache

from aiohttp import web

from linkkeeper.sandbox.sites._common import (
    WEB_STATE,
    Handler,
    build_app,
    fixed,
    html_response,
    moved_to,
    not_found_page,
    page,
    prose,
    wait_or_disconnect,
)

HUGE_SIZE = 50 * 1024 * 1024
BOMB_BLOCK = 1024 * 1024
BOMB_BLOCKS = 1024  # inflates to 1 GiB (plus a small HTML head)
STALL_DECLARED = 100_000  # Content-Length promised by /stall
STALL_SENT = 1_000  # bytes actually sent before it stalls
MAX_WAIT = 600.0  # no sandbox handler waits longer than this


def _int(request: web.Request, name: str, default: int, low: int = 0, high: int = 10**6) -> int:
    try:
        value = int(request.query.get(name, default))
    except ValueError:
        value = default
    return max(low, min(high, value))


def ok_page(title: str, seed: str) -> web.Response:
    return html_response(page(title, f"<main><h1>{title}</h1>{prose(seed, 6)}</main>"))


# -- time -----------------------------------------------------------------------------------
async def slow(request: web.Request) -> web.StreamResponse:
    ms = _int(request, "ms", 1000, high=int(MAX_WAIT * 1000))
    if not await wait_or_disconnect(request, ms / 1000):
        return web.Response(status=499)  # nobody is listening any more
    return ok_page(f"Answered after {ms} ms", request.path_qs)


async def stall(request: web.Request) -> web.StreamResponse:
    """Headers and the start of the body, then silence until the client gives up."""
    response = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8"})
    response.content_length = STALL_DECLARED
    await response.prepare(request)
    start = b"<!DOCTYPE html><html><head><title>Stalled</title></head><body><p>"
    await response.write(start + b"x" * (STALL_SENT - len(start)))
    await wait_or_disconnect(request, MAX_WAIT)
    return response


async def reset(request: web.Request) -> web.StreamResponse:
    """Abort the connection with an RST before any byte of the response."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    raise asyncio.CancelledError  # nothing left to answer on


# -- failures that heal, and ones that do not ---------------------------------------------------
async def flaky(request: web.Request) -> web.StreamResponse:
    key = request.match_info["key"]
    if WEB_STATE.hit(f"flaky:{key}") <= _int(request, "fail", 2):
        return html_response(page("Service Unavailable", "<h1>503</h1>"), status=503)
    return ok_page("Recovered", key)


async def flaky_429(request: web.Request) -> web.StreamResponse:
    key = request.match_info["key"]
    if WEB_STATE.hit(f"flaky-429:{key}") <= _int(request, "fail", 1):
        seconds = _int(request, "retry_after", 1)
        return web.Response(
            status=429,
            text="Too Many Requests",
            content_type="text/plain",
            headers={"Retry-After": str(seconds)},
        )
    return ok_page("Recovered", key)


async def date_429(request: web.Request) -> web.StreamResponse:
    key = request.match_info.get("key", "default")
    if WEB_STATE.hit(f"429-date:{key}") <= _int(request, "fail", 1):
        when = formatdate(time.time() + _int(request, "retry_after", 2), usegmt=True)
        return web.Response(
            status=429,
            text="Too Many Requests",
            content_type="text/plain",
            headers={"Retry-After": when},
        )
    return ok_page("Recovered", key)


# -- redirects ---------------------------------------------------------------------------------
async def chain(request: web.Request) -> web.StreamResponse:
    hops = _int(request, "n", 12, high=1000)
    if hops == 0:
        return ok_page("End of the chain", "chain")
    return web.Response(status=302, headers={"Location": f"/redirect-chain?n={hops - 1}"})


# -- bodies ----------------------------------------------------------------------------------------
_FILLER = (b"<p>" + b"All work and no play makes a very large page. " * 20 + b"</p>\n") * 64


async def huge(request: web.Request) -> web.StreamResponse:
    """50 MB generated on the fly, never held in memory."""
    response = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8"})
    response.content_length = HUGE_SIZE
    await response.prepare(request)
    if request.method == "HEAD":
        return response
    sent = 0
    try:
        while sent < HUGE_SIZE:
            chunk = _FILLER[: HUGE_SIZE - sent]
            await response.write(chunk)
            sent += len(chunk)
    except (ConnectionError, RuntimeError):
        return response  # the client stopped reading: fine
    await response.write_eof()
    return response


BOMB_HEAD = (
    b"<!DOCTYPE html><html><head><title>Compressed</title></head><body><p>"
    b"This page inflates to one gibibyte of spaces.</p>\n"
)


@cache
def gzip_bomb() -> bytes:
    """~1 MB of gzip that inflates to 1 GiB: one deflate block repeated (full flushes make
    every repeat byte-identical), built once and kept."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    prefix = deflate.compress(BOMB_HEAD) + deflate.flush(zlib.Z_FULL_FLUSH)
    filler = b" " * BOMB_BLOCK
    block = deflate.compress(filler) + deflate.flush(zlib.Z_FULL_FLUSH)
    end = deflate.flush(zlib.Z_FINISH)
    crc = zlib.crc32(BOMB_HEAD)
    for _ in range(BOMB_BLOCKS):
        crc = zlib.crc32(filler, crc)
    size = len(BOMB_HEAD) + BOMB_BLOCK * BOMB_BLOCKS
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, size & 0xFFFFFFFF)
    return header + prefix + block * BOMB_BLOCKS + end + trailer


async def bomb(request: web.Request) -> web.StreamResponse:
    body = await asyncio.get_running_loop().run_in_executor(None, gzip_bomb)
    return web.Response(
        body=body, headers={"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip"}
    )


async def bad_encoding(request: web.Request) -> web.StreamResponse:
    """Declares UTF-8, sends Latin-1 and broken sequences inside an otherwise normal page."""
    body = (
        b'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Caf\xe9 cr\xe8me'
        b"</title></head><body><h1>Caf\xe9 cr\xe8me br\xfbl\xe9e</h1><p>Valid: caf\xc3\xa9. "
        b"Broken: \xff\xfe \xc3( \xe2\x82</p>\n"
        + prose("bad-encoding", 8).encode()
        + b"\n</body></html>\n"
    )
    return web.Response(body=body, headers={"Content-Type": "text/html; charset=utf-8"})


# -- bot walls that answer 5xx, and a real 5xx next to them ------------------------------------
SUCURI_PAGE = page(
    "Sucuri WebSite Firewall - Access Denied",
    '<div id="main-container"><h1>Access Denied - Sucuri Website Firewall</h1>'
    "<p>If you are the site owner (or you manage this site), please whitelist your IP or if you "
    "think this block is an error please open a support ticket.</p><table><tr><td>Block ID:"
    "</td><td>BOT01</td></tr><tr><td>Block reason:</td><td>Access from bots is not allowed."
    '</td></tr></table><p><a href="https://sucuri.net/privacy-policy">Sucuri privacy</a></p></div>',
)
SUCURI_HEADERS = {
    "Server": "Sucuri/Cloudproxy",
    "X-Sucuri-ID": "16015",
    "X-Sucuri-Block": "BOT01",
}
CF_BOT_FIGHT = page(
    "Just a moment...",
    '<div id="cf-wrapper"><h1>Checking your browser before accessing trouble.example.</h1>'
    "<p>This process is automatic. Your browser will redirect to your requested content "
    'shortly.</p><form id="challenge-form" class="cf-browser-verification"></form>'
    "<script>window._cf_chl_opt={cvId: '2'};</script><p>DDoS protection by Cloudflare</p>"
    "<p>Ray ID: 7d1e2f3a4b5c6d7e</p></div>",
)
CF_1006 = page(
    "Access denied | trouble.example used Cloudflare to restrict access",
    '<div id="cf-wrapper"><h1><span>Error</span> <span>1006</span></h1><h2>Access denied</h2>'
    "<p>The owner of this website (trouble.example) has banned your IP address.</p>"
    "<p>Cloudflare Ray ID: 7d1e2f3a4b5c6d7f</p></div>",
)
CF_522 = page(
    "trouble.example | 522: Connection timed out",
    '<div id="cf-wrapper"><h1><span>Connection timed out</span> <span>Error code 522</span></h1>'
    "<p>The initial connection between Cloudflare's network and the origin web server timed "
    "out. As a result, the web page can not be displayed.</p><p>Cloudflare Ray ID: 7d1e2f3a4b5"
    "c6d80</p></div>",
)
CF_HEADERS = {"Server": "cloudflare", "CF-RAY": "7d1e2f3a4b5c6d7e-FRA"}
MAINTENANCE = page(
    "Down for maintenance",
    "<main><h1>We'll be back soon</h1><p>The site is down for scheduled maintenance.</p></main>",
)


async def drip(request: web.Request) -> web.StreamResponse:
    """A slow-drip server: headers at once, then one small chunk every ``every`` ms for up to
    ``total`` s (no silence long enough for a read timeout; only a total bound stops it)."""
    every = _int(request, "every", 200, low=10, high=60_000) / 1000
    total = _int(request, "total", 120, high=int(MAX_WAIT))
    response = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8"})
    await response.prepare(request)
    await response.write(b"<!DOCTYPE html><html><head><title>Dripping</title></head><body>")
    deadline = time.monotonic() + total
    while time.monotonic() < deadline:
        if not await wait_or_disconnect(request, every):
            return response
        try:
            await response.write(b"<p>drip</p>\n")
        except (ConnectionError, RuntimeError):
            return response
    await response.write(b"</body></html>")
    return response


def no_location(status: int, text: str) -> Handler:
    """A redirect status without a ``Location``; the body is what a browser shows."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, text=text, content_type="text/html")

    return handler


def raw_redirect(location: str, status: int = 302) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers={"Location": location})

    return handler


NO_LOCATION_ARTICLE = page(
    "Notes on reading groups",
    "<main><article><h1>Notes on reading groups</h1>"
    + prose("no-location", 8)
    + "</article></main>",
)
NO_LOCATION_NOT_FOUND = page(
    "Page not found", "<main><h1>Page not found</h1><p>Sorry, nothing here.</p></main>"
)


# -- statuses -------------------------------------------------------------------------------------
NO_BODY = {204, 205, 304}


async def any_status(request: web.Request) -> web.StreamResponse:
    code = int(request.match_info["code"])
    if not 200 <= code <= 999:
        return web.Response(status=400, text="status must be 200..999", content_type="text/plain")
    text = "" if code in NO_BODY else f"Status {code}"
    return web.Response(status=code, reason=f"Status {code}", text=text, content_type="text/plain")


async def home(request: web.Request) -> web.StreamResponse:
    return ok_page("trouble.example", "home")


def loop_hop(target: str) -> Handler:
    return moved_to(target, 302, absolute=False)


def trouble_app() -> web.Application:
    return build_app(
        [
            web.get("/", home),
            web.get("/slow", slow),
            web.get("/stall", stall),
            web.get("/reset", reset),
            web.get("/flaky/{key}", flaky),
            web.get("/flaky-429/{key}", flaky_429),
            web.get("/429-date", date_429),
            web.get("/429-date/{key}", date_429),
            web.get("/always-429", fixed(429, "Too Many Requests", "text/plain")),
            web.get("/always-503", fixed(503, page("Service Unavailable", "<h1>503</h1>"))),
            web.get("/loop/a", loop_hop("/loop/b")),
            web.get("/loop/b", loop_hop("/loop/a")),
            web.get("/redirect-chain", chain),
            web.get("/huge", huge),
            web.get("/gzip-bomb", bomb),
            web.get("/bad-encoding", bad_encoding),
            web.get("/bot-999", fixed(999, "Request denied", "text/html")),
            web.get(r"/status/{code:\d{3}}", any_status),
            web.get("/sucuri-503", fixed(503, SUCURI_PAGE, headers=SUCURI_HEADERS)),
            web.get("/cf-bot-fight", fixed(503, CF_BOT_FIGHT, headers=CF_HEADERS)),
            web.get("/cf-1006", fixed(500, CF_1006, headers=CF_HEADERS)),
            web.get("/cf-522", fixed(522, CF_522, headers=CF_HEADERS)),
            web.get("/maintenance", fixed(503, MAINTENANCE, headers={"Retry-After": "3600"})),
            web.get("/drip", drip),
            web.get("/no-location-page", no_location(302, NO_LOCATION_ARTICLE)),
            web.get("/no-location-not-found", no_location(301, NO_LOCATION_NOT_FOUND)),
            web.get("/no-location-empty", no_location(302, "")),
            web.get("/to-ftp", raw_redirect("ftp://files.example/pub/paper.pdf")),
            web.get("/to-file", raw_redirect("file:///C:/papers/paper.pdf", 301)),
        ],
        not_found_page("Not Found", "No such trouble."),
    )
