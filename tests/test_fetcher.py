"""The Fetcher against real loopback servers: redirects, caps, timeouts, failure classes,
retries, Retry-After, politeness, private addresses, remap, cookies and HEAD fallback."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import socket
import tracemalloc
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from linkkeeper.core.config import HostOverride
from linkkeeper.sandbox import Sandbox, VirtualHost
from linkkeeper.sandbox.web import reset_web_state
from linkkeeper.web.fetcher import Fetcher, FetchSettings, retry_after_seconds
from linkkeeper.web.politeness import HostPolicy
from linkkeeper.web.remap import Remapper

SLACK = 0.03  # arrival times are taken on the server: allow for loopback jitter


def _trouble_app() -> web.Application:
    """A small stand-in for the local's trouble.example (plus a cookie handshake)."""
    counts: Counter[str] = Counter()
    inflight = {"now": 0, "max": 0}
    routes = web.RouteTableDef()

    @routes.get("/ok")
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    @routes.get("/bytes")
    async def some_bytes(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * int(request.query["n"]))

    @routes.get("/status/{code}")
    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="status")

    @routes.get("/redirect-chain")
    async def chain(request: web.Request) -> web.Response:
        n = int(request.query["n"])
        raise web.HTTPFound(f"/redirect-chain?n={n - 1}" if n > 1 else "/ok")

    @routes.get("/loop/{name}")
    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop/b" if request.match_info["name"] == "a" else "/loop/a")

    @routes.get("/relative")
    async def relative(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("ok")

    @routes.get("/slow")
    async def slow(request: web.Request) -> web.Response:
        inflight["now"] += 1
        inflight["max"] = max(inflight["max"], inflight["now"])
        try:
            await asyncio.sleep(int(request.query.get("ms", "100")) / 1000)
        finally:
            inflight["now"] -= 1
        return web.Response(text="slow")

    @routes.get("/inflight")
    async def report_inflight(request: web.Request) -> web.Response:
        return web.json_response(inflight)

    @routes.get("/flaky/{key}")
    async def flaky(request: web.Request) -> web.Response:
        counts[request.path] += 1
        if counts[request.path] <= int(request.query.get("fail", "2")):
            return web.Response(status=503, text="busy")
        return web.Response(text="recovered")

    @routes.get("/flaky-429/{key}")
    async def flaky_429(request: web.Request) -> web.Response:
        counts[request.path] += 1
        if counts[request.path] <= int(request.query.get("fail", "1")):
            headers = {"Retry-After": request.query.get("retry_after", "1")}
            return web.Response(status=429, text="slow down", headers=headers)
        return web.Response(text="thanks")

    @routes.get("/huge")
    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        block = b"y" * 65536
        for _ in range(800):  # 50 MB
            await response.write(block)
        return response

    @routes.get("/bad-encoding")
    async def bad_encoding(request: web.Request) -> web.Response:
        return web.Response(body=b"not gzip at all", headers={"Content-Encoding": "gzip"})

    @routes.route("*", "/head-405")
    async def head_405(request: web.Request) -> web.Response:
        if request.method == "HEAD":
            return web.Response(status=405)
        return web.Response(text="GET works")

    @routes.get("/article")
    async def article(request: web.Request) -> web.Response:
        if request.cookies.get("session") != "yes":
            raise web.HTTPSeeOther("/transit?back=/article")
        return web.Response(text="the article")

    @routes.get("/transit")
    async def transit(request: web.Request) -> web.Response:
        response = web.HTTPFound(request.query["back"])
        response.set_cookie("session", "yes")
        raise response

    @routes.get("/echo-headers")
    async def echo_headers(request: web.Request) -> web.Response:
        return web.json_response(dict(request.headers))

    app = web.Application()
    app.add_routes(routes)
    return app


def _robots_app() -> web.Application:
    async def robots(request: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nCrawl-delay: 5\nAllow: /\n")

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="page")

    app = web.Application()
    app.router.add_get("/robots.txt", robots)
    app.router.add_get("/{tail:.*}", page)
    return app


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    hosts = [
        VirtualHost("t.example", _trouble_app),
        VirtualHost("polite.example", _trouble_app),
        VirtualHost("robots.example", _robots_app),
    ]
    with Sandbox(hosts) as sandbox:
        yield sandbox


@pytest.fixture
def local(box: Sandbox) -> Sandbox:
    """Our own small hosts, request log cleared."""
    box.requests.clear()
    return box


def fast_settings(**changes: object) -> FetchSettings:
    """Settings that keep tests quick: tiny waits, short timeouts, loopback allowed."""
    base = FetchSettings(
        host_interval=0.0,
        connect_timeout=2.0,
        read_timeout=2.0,
        total_timeout=3.0,
        retry_base=0.01,
        backoff_base=0.01,
        allow_private=True,
        robots_crawl_delay_hosts=(),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest_asyncio.fixture
async def fetcher(local: Sandbox) -> AsyncIterator[Fetcher]:
    async with Fetcher(fast_settings(), remap=Remapper.parse(local.remap_rules())) as f:
        yield f


def paths(local: Sandbox, host: str = "t.example") -> list[str]:
    return [r.path for r in local.requests.for_host(host)]


# -- redirects ------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_redirects_recorded_in_original_url_space(local: Sandbox, fetcher: Fetcher):
    result = await fetcher.fetch("https://t.example/redirect-chain?n=3")
    assert (result.status, result.error, result.body) == (200, None, b"hello")
    assert result.url == "https://t.example/redirect-chain?n=3"
    assert result.final_url == "https://t.example/ok"
    assert result.redirects == [
        (302, "https://t.example/redirect-chain?n=2"),
        (302, "https://t.example/redirect-chain?n=1"),
        (302, "https://t.example/ok"),
    ]
    assert all(r.headers["host"] == "t.example" for r in local.requests)


@pytest.mark.asyncio
async def test_relative_location_resolved(fetcher: Fetcher):
    result = await fetcher.fetch("https://t.example/relative")
    assert result.redirects == [(301, "https://t.example/ok")]
    assert result.status == 200


@pytest.mark.asyncio
async def test_twenty_redirects_allowed_as_browsers_do_twenty_one_refused(
    local: Sandbox, fetcher: Fetcher
):
    assert (await fetcher.fetch("https://t.example/redirect-chain?n=20")).status == 200
    local.requests.clear()
    result = await fetcher.fetch("https://t.example/redirect-chain?n=21")
    assert result.error == "too-many-redirects"
    assert result.error_detail == "more than 20 redirects"
    assert len(result.redirects) == 21
    assert len(local.requests) == 21  # the 21st Location is not followed
    assert result.attempts == 1


@pytest.mark.asyncio
async def test_redirect_loop_stopped(local: Sandbox, fetcher: Fetcher):
    result = await fetcher.fetch("https://t.example/loop/a")
    assert result.error == "redirect-loop"
    assert paths(local) == ["/loop/a", "/loop/b"]
    assert result.final_url == "https://t.example/loop/b"


@pytest.mark.asyncio
async def test_cookie_handshake_revisits_url_and_ends_200(local: Sandbox, fetcher: Fetcher):
    result = await fetcher.fetch("https://t.example/article")
    assert (result.status, result.error, result.body) == (200, None, b"the article")
    assert [status for status, _ in result.redirects] == [303, 302]
    assert paths(local) == ["/article", "/transit?back=/article", "/article"]
    assert {c.domain for c in fetcher.cookies.jar} == {"t.example"}


# -- bodies ---------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_body_cap_exact_and_over(fetcher: Fetcher):
    exact = await fetcher.fetch("https://t.example/bytes?n=1000", max_body=1000)
    assert (len(exact.body), exact.truncated) == (1000, False)
    over = await fetcher.fetch("https://t.example/bytes?n=1001", max_body=1000)
    assert (len(over.body), over.truncated) == (1000, True)


@pytest.mark.asyncio
async def test_huge_body_stops_at_cap(fetcher: Fetcher):
    result = await fetcher.fetch("https://t.example/huge", max_body=64 * 1024)
    assert (result.status, result.error, result.truncated) == (200, None, True)
    assert len(result.body) == 64 * 1024


@pytest.mark.asyncio
async def test_bad_content_encoding_is_protocol_error(fetcher: Fetcher):
    result = await fetcher.fetch("https://t.example/bad-encoding")
    assert (result.status, result.error, result.attempts) == (200, "protocol", 1)


# -- timeouts and failure classes -----------------------------------------------------------
@pytest.fixture
def refused_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest_asyncio.fixture
async def reset_server() -> AsyncIterator[tuple[int, list[int]]]:
    """Reads the request, then closes with a TCP RST; counts connections."""
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await reader.read(1024)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        writer.transport.abort()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1], connections
    server.close()


@pytest.mark.asyncio
async def test_refused_is_connect_and_not_retried(refused_port: int):
    rules = [rf"^https://refused\.example http://127.0.0.1:{refused_port}"]
    async with Fetcher(fast_settings(), remap=Remapper.parse(rules)) as fetcher:
        result = await fetcher.fetch("https://refused.example/x")
    assert (result.status, result.error, result.attempts) == (None, "connect", 1)
    assert result.final_url == "https://refused.example/x"


@pytest.mark.asyncio
async def test_reset_is_classified_and_retried(reset_server: tuple[int, list[int]]):
    port, connections = reset_server
    settings = fast_settings(retries=2)
    async with Fetcher(settings) as fetcher:
        result = await fetcher.fetch(f"http://127.0.0.1:{port}/")
    assert (result.status, result.error, result.attempts) == (None, "reset", 3)
    # aiohttp itself resends an idempotent request once on a dropped connection (RFC 9112
    # 9.3.1), so each of our attempts makes one or two connections.
    assert 3 <= len(connections) <= 6


@pytest.mark.asyncio
async def test_dns_failure_not_retried():
    async with Fetcher(fast_settings(allow_private=False)) as fetcher:
        result = await fetcher.fetch("http://no-such-host.invalid/")
    assert (result.error, result.attempts) == ("dns", 1)


@pytest.mark.parametrize("url", ["ftp://example.org/x", "mailto:a@b.org", "http://", "nonsense"])
@pytest.mark.asyncio
async def test_invalid_urls(url: str):
    async with Fetcher(fast_settings()) as fetcher:
        result = await fetcher.fetch(url)
    assert (result.status, result.error) == (None, "invalid-url")


# -- retries --------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_flaky_503_retried_until_success(local: Sandbox, fetcher: Fetcher):
    result = await fetcher.fetch("https://t.example/flaky/a?fail=2")
    assert (result.status, result.body, result.attempts) == (200, b"recovered", 3)
    assert len(paths(local)) == 3


@pytest.mark.parametrize(("code", "requests"), [(404, 1), (403, 1), (410, 1), (408, 3), (500, 3)])
@pytest.mark.asyncio
async def test_only_transient_statuses_retried(
    local: Sandbox, fetcher: Fetcher, code: int, requests: int
):
    result = await fetcher.fetch(f"https://t.example/status/{code}", retries=2)
    assert (result.status, result.attempts) == (code, requests)
    assert len(paths(local)) == requests


@pytest.mark.asyncio
async def test_retries_give_up_after_limit(local: Sandbox, fetcher: Fetcher):
    result = await fetcher.fetch("https://t.example/status/503")
    assert (result.status, result.attempts, result.error) == (503, 4, None)
    assert len(paths(local)) == 4


@pytest.mark.asyncio
async def test_retry_after_pauses_the_whole_host(local: Sandbox, fetcher: Fetcher):
    first = asyncio.create_task(fetcher.fetch("https://t.example/flaky-429/k?retry_after=1"))
    while not local.requests.for_host("t.example"):
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # the 429 has arrived; another page of the same host now waits
    other = await fetcher.fetch("https://t.example/ok")
    result = await first
    assert (result.status, result.attempts, other.status) == (200, 2, 200)
    times = {r.path: r.time for r in local.requests.for_host("t.example")}
    blocked_at = local.requests.for_host("t.example")[0].time
    later = [r.time for r in local.requests.for_host("t.example")][1:]
    assert len(later) == 2 and all(t >= blocked_at + 1.0 - SLACK for t in later), times


def test_retry_after_parsing():
    assert retry_after_seconds("3", 60) == 3
    assert retry_after_seconds("600", 60) == 60
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", 60) == 0  # in the past
    assert 100 < retry_after_seconds("Fri, 01 Jan 2100 00:00:00 GMT", 3600) <= 3600  # type: ignore[operator]
    assert retry_after_seconds("soon", 60) is None
    assert retry_after_seconds(None, 60) is None


# -- politeness -----------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_host_interval_between_request_starts(local: Sandbox):
    settings = fast_settings(host_overrides={"polite.example": HostOverride(interval=0.1)})
    async with Fetcher(settings, remap=Remapper.parse(local.remap_rules())) as fetcher:
        await fetcher.fetch("https://t.example/ok")  # warm up: the first request opens the pool
        urls = [f"https://polite.example/ok?i={i}" for i in range(5)]
        results = await asyncio.gather(*(fetcher.fetch(u) for u in urls))
    assert all(r.status == 200 for r in results)
    times = sorted(r.time for r in local.requests.for_host("polite.example"))
    assert len(times) == 5
    assert all(b - a >= 0.1 - SLACK for a, b in itertools.pairwise(times))


@pytest.mark.asyncio
async def test_host_concurrency_limit(local: Sandbox):
    settings = fast_settings(host_concurrency=2)
    async with Fetcher(settings, remap=Remapper.parse(local.remap_rules())) as fetcher:
        await asyncio.gather(
            *(fetcher.fetch(f"https://polite.example/slow?ms=100&i={i}") for i in range(6))
        )
        report = await fetcher.fetch("https://polite.example/inflight")
    assert report.text() == '{"now": 0, "max": 2}'


@pytest.mark.asyncio
async def test_robots_crawl_delay_used_once_and_capped(local: Sandbox):
    settings = fast_settings(robots_crawl_delay_hosts=("robots.example",), max_crawl_delay=0.1)
    async with Fetcher(settings, remap=Remapper.parse(local.remap_rules())) as fetcher:
        for i in range(3):
            assert (await fetcher.fetch(f"https://robots.example/p{i}")).status == 200
        assert fetcher.scheduler.interval("robots.example") == 0.1
    log = local.requests.for_host("robots.example")
    assert [r.path for r in log] == ["/robots.txt", "/p0", "/p1", "/p2"]
    assert all(b.time - a.time >= 0.1 - SLACK for a, b in itertools.pairwise(log[1:]))


@pytest.mark.asyncio
async def test_configured_interval_wins_over_robots(local: Sandbox):
    settings = fast_settings(
        robots_crawl_delay_hosts=("robots.example",),
        host_overrides={"robots.example": HostOverride(interval=0.01)},
    )
    async with Fetcher(settings, remap=Remapper.parse(local.remap_rules())) as fetcher:
        await fetcher.fetch("https://robots.example/p")
        assert fetcher.scheduler.interval("robots.example") == 0.01


def test_builtin_host_defaults_under_config_overrides():
    plain = Fetcher(FetchSettings())
    assert plain.scheduler.policy("export.arxiv.org") == HostPolicy(1, 3.0)
    assert plain.scheduler.policy("example.org") == HostPolicy(4, 0.5)
    tuned = Fetcher(FetchSettings(host_overrides={"export.arxiv.org": HostOverride(concurrency=2)}))
    assert tuned.scheduler.policy("export.arxiv.org") == HostPolicy(2, 3.0)


@pytest.mark.asyncio
async def test_host_override_headers_and_honest_user_agent(local: Sandbox):
    settings = fast_settings(
        host_overrides={"t.example": HostOverride(headers=(("X-Api-Key", "k"),))}
    )
    async with Fetcher(settings, remap=Remapper.parse(local.remap_rules())) as tuned:
        await tuned.fetch("https://t.example/ok")
        await tuned.fetch("https://polite.example/ok")
    first, second = local.requests
    assert first.headers["x-api-key"] == "k" and "x-api-key" not in second.headers
    assert first.headers["user-agent"].startswith("linkkeeper/")
    assert "reading-list link checker" in first.headers["user-agent"]
    assert first.headers["accept-language"].startswith("en")


# -- private addresses ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "https://t.example/ok",
        "http://localhost:{port}/ok",
        "http://127.0.0.1:{port}/ok",
        "http://[::1]:{port}/ok",
    ],
)
@pytest.mark.asyncio
async def test_private_addresses_refused_by_default(local: Sandbox, url: str):
    port = local.hosts["t.example"].ports["https"]
    settings = fast_settings(allow_private=False)
    async with Fetcher(settings, remap=Remapper.parse(local.remap_rules())) as fetcher:
        result = await fetcher.fetch(url.format(port=port))
    assert (result.status, result.error, result.attempts) == (None, "private-address", 1)
    assert len(local.requests) == 0


class ScriptedDNS(AbstractResolver):
    """A name service playing DNS: one answer per lookup, in order (the last one repeats)."""

    def __init__(self, *answers: str) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        address = self.answers[min(len(self.asked), len(self.answers)) - 1]
        return [
            ResolveResult(hostname=host, host=address, port=port, family=socket.AF_INET,
                          proto=0, flags=socket.AI_NUMERICHOST)
        ]  # fmt: skip

    async def close(self) -> None:
        pass


@pytest.mark.asyncio
async def test_a_name_is_judged_by_the_lookup_its_connection_uses(local: Sandbox):
    port = local.hosts["t.example"].ports["https"]
    dns = ScriptedDNS("127.0.0.1")
    async with Fetcher(fast_settings(allow_private=False), resolver=dns) as fetcher:
        result = await fetcher.fetch(f"http://blog.example:{port}/ok")
    assert (result.status, result.error, result.attempts) == (None, "private-address", 1)
    assert (result.error_detail or "").startswith("blog.example resolves to 127.0.0.1, a private")
    assert dns.asked == ["blog.example"] and len(local.requests) == 0
    # the same answer with private addresses allowed is connected to: it is the connection's
    async with Fetcher(fast_settings(), resolver=ScriptedDNS("127.0.0.1")) as fetcher:
        assert (await fetcher.fetch(f"http://blog.example:{port}/ok")).status == 200


@pytest.mark.asyncio
async def test_dns_rebinding_never_reaches_the_private_address(local: Sandbox):
    """A name answering a public address first and a private one after: the first answer is
    the one connected to (it fails here, offline), and no second lookup is ever made."""
    port = local.hosts["t.example"].ports["https"]
    dns = ScriptedDNS("93.184.215.14", "127.0.0.1")
    settings = fast_settings(allow_private=False, connect_timeout=0.3, total_timeout=0.5)
    async with Fetcher(dataclasses.replace(settings, retries=0), resolver=dns) as fetcher:
        result = await fetcher.fetch(f"http://rebind.example:{port}/ok")
    assert result.status is None and result.error in ("connect", "timeout")
    assert dns.asked == ["rebind.example"] and len(local.requests) == 0


# -- HEAD fallback --------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_head_405_falls_back_to_get(local: Sandbox, fetcher: Fetcher):
    result = await fetcher.fetch_with_head_fallback("https://t.example/head-405")
    assert (result.method, result.status, result.body, result.attempts) == (
        "GET",
        200,
        b"GET works",
        2,
    )
    assert [r.method for r in local.requests] == ["HEAD", "GET"]


@pytest.mark.asyncio
async def test_head_success_needs_no_get(local: Sandbox, fetcher: Fetcher):
    result = await fetcher.fetch_with_head_fallback("https://t.example/ok")
    assert (result.method, result.status, result.body) == ("HEAD", 200, b"")
    assert [r.method for r in local.requests] == ["HEAD"]


@pytest.mark.asyncio
async def test_head_refused_is_not_repeated_with_get(refused_port: int):
    async with Fetcher(fast_settings()) as fetcher:
        result = await fetcher.fetch_with_head_fallback(f"http://127.0.0.1:{refused_port}/")
    assert (result.method, result.error, result.attempts) == ("HEAD", "connect", 1)


# -- against the shared sandbox web (docs/sandbox.md) -------------------------------------------
@pytest_asyncio.fixture
async def sweb(clean_sandbox: Sandbox) -> AsyncIterator[Fetcher]:
    reset_web_state()
    settings = fast_settings(total_timeout=1.0, read_timeout=0.5, retries=1)
    async with Fetcher(settings, remap=Remapper.parse(clean_sandbox.remap_rules())) as fetcher:
        yield fetcher


@pytest.mark.asyncio
async def test_web_nature_cookie_handshake_across_hosts(sweb: Fetcher):
    url = "https://www.nature.com/articles/s42256-020-0164-7"
    first = await sweb.fetch(url)
    assert (first.status, first.error) == (200, None)
    assert [(s, u.split("?")[0]) for s, u in first.redirects] == [
        (303, "https://idp.nature.com/authorize"),
        (302, "https://www.nature.com/transit"),
        (302, url),
    ]
    again = await sweb.fetch(url)  # the session cookie is kept for the run
    assert (again.status, again.redirects, again.final_url) == (200, [], url)


@pytest.mark.asyncio
async def test_web_trouble_classes(sweb: Fetcher, clean_sandbox: Sandbox):
    stall, reset, hole, refused = await asyncio.gather(
        sweb.fetch("https://trouble.example/stall", retries=0),
        sweb.fetch("https://trouble.example/reset", retries=0),
        sweb.fetch("https://blackhole.example/", retries=0),
        sweb.fetch("https://refused.example/"),
    )
    assert (stall.error, stall.status, len(stall.body)) == ("timeout", 200, 1000)
    assert 0.5 <= stall.elapsed < 5.0  # the 0.5 s read timeout
    assert (reset.error, reset.status) == ("reset", None)
    assert (hole.error, hole.status) == ("timeout", None)
    assert (refused.error, refused.attempts) == ("connect", 1)


@pytest.mark.asyncio
async def test_web_stall_hits_total_deadline_despite_long_read_timeout(clean_sandbox: Sandbox):
    settings = fast_settings(total_timeout=0.5, read_timeout=30.0, retries=0)
    async with Fetcher(settings, remap=Remapper.parse(clean_sandbox.remap_rules())) as fetcher:
        stall = await fetcher.fetch("https://trouble.example/stall")
    assert (stall.error, stall.status, len(stall.body)) == ("timeout", 200, 1000)
    assert 0.5 <= stall.elapsed < 5.0


@pytest.mark.asyncio
async def test_web_gzip_bomb_stops_at_cap(sweb: Fetcher):
    await sweb.fetch("https://trouble.example/gzip-bomb", max_body=1024)  # server builds it once
    tracemalloc.start()
    try:
        result = await sweb.fetch("https://trouble.example/gzip-bomb")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (result.status, result.truncated, len(result.body)) == (200, True, 2 * 1024 * 1024)
    assert peak < 24 * 1024 * 1024  # the bomb is 1 GiB inflated


@pytest.mark.asyncio
async def test_web_always_429_retried_then_reported(sweb: Fetcher, clean_sandbox: Sandbox):
    result = await sweb.fetch("https://trouble.example/always-429", retries=2)
    assert (result.status, result.attempts) == (429, 3)
    assert len(clean_sandbox.requests.matching("trouble.example", "/always-429")) == 3


@pytest.mark.asyncio
async def test_web_head_fallback_and_moved(sweb: Fetcher, clean_sandbox: Sandbox):
    head = await sweb.fetch_with_head_fallback("https://blog.example/head-405")
    assert (head.method, head.status) == ("GET", 200)
    moved = await sweb.fetch("https://blog.example/moved-permanently")
    assert moved.redirects == [(301, "https://blog.example/post/live")]
    assert moved.final_url == "https://blog.example/post/live"


@pytest.mark.asyncio
async def test_web_arxiv_robots_crawl_delay_and_http_upgrade(clean_sandbox: Sandbox):
    reset_web_state()
    settings = fast_settings(robots_crawl_delay_hosts=("arxiv.org",), max_crawl_delay=0.1)
    async with Fetcher(settings, remap=Remapper.parse(clean_sandbox.remap_rules())) as fetcher:
        result = await fetcher.fetch("http://arxiv.org/abs/1706.03762")
        assert fetcher.scheduler.interval("arxiv.org") == 0.1  # Crawl-delay 15, capped
    assert result.redirects == [(301, "https://arxiv.org/abs/1706.03762")]
    assert (result.status, result.final_url) == (200, "https://arxiv.org/abs/1706.03762")
    log = [(r.scheme, r.path) for r in clean_sandbox.requests.for_host("arxiv.org")]
    assert log == [
        ("http", "/robots.txt"),  # robots.txt follows the same http -> https redirect
        ("https", "/robots.txt"),
        ("http", "/abs/1706.03762"),
        ("https", "/abs/1706.03762"),
    ]
