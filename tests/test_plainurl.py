"""parse_url is httpx.URL: the same components, text and errors for any text, the parser skipped
only for text already in httpx's normal form (and that shortcut really taken)."""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from aiohttp import web

from linkkeeper.web import plainurl
from linkkeeper.web.fetcher import Fetcher, FetchSettings
from linkkeeper.web.plainurl import is_plain, parse_url
from linkkeeper.web.remap import Remapper

PATH_CHARS = string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@"
QUERY_CHARS = PATH_CHARS + "/?"
# Text a URL may hold that httpx quotes, refuses or treats specially.
ODD = [*' "#%<>[\\]^`{|}\t\n\x00\x7fé中\u2028', "%zz", "%4", "%", "..", "xn--", "@", ":"]

TYPICAL = [
    "https://arxiv.org/abs/1706.03762",
    "http://127.0.0.5:43211/article/12",
    "https://www.nature.com/articles/s41586-021-03819-2",
    "https://github.com/ai-workshop/linkkeeper/blob/main/README.md",
    "https://en.wikipedia.org/wiki/Transformer_(deep_learning_architecture)",
    "https://www.youtube.com/watch?v=kCc8FmEb1nY&t=42s",
    "https://example.com",
    "https://example.com?",
    "https://example.com/?q=a/b?c",
    "https://example.com/p%2fq/%2F/%C3%a9",
    "http://10.0.0.1:8080/",
    "https://example.com:80/",  # 80 is not https's default
    "https://a.b.c.d.example/x.y/..z/.../z.",
]
NEAR_MISSES = [
    "HTTPS://arxiv.org/abs/1706.03762",
    "Http://arxiv.org/",
    "https://ArXiv.org/abs/1706.03762",
    "https://arxiv.org:443/abs/1706.03762",
    "http://arxiv.org:80/",
    "http://arxiv.org:080/",
    "http://arxiv.org:0/",
    "http://arxiv.org:65536/",
    "http://arxiv.org:99999999999999999999/",
    "http://arxiv.org:/",
    "http://127.0.0.05:43211/article/12",
    "http://127.0.0.256/",
    "http://1.2.3/",
    "http://1.2.3.4.5/",
    "http://0x7f.0.0.1/",
    "https://example.com/%zz",
    "https://example.com/%",
    "https://example.com/a b",
    "https://example.com/?q=a b",
    "https://example.com/é",
    "https://münchen.de/",
    "https://xn--mnchen-3ya.de/",
    "https://xn--zz.example/",
    "https://example.com/a/../b",
    "https://example.com/a/./b",
    "https://example.com/..",
    "https://example.com/a#frag",
    "https://example.com/#",
    "https://user@example.com/",
    "https://user:pw@example.com/",
    "https://example.com./",
    "https://-example.com/",
    "https://[::1]/",
    "https://[::1]:8443/x",
    "https://[zz]/",
    "https:///path",
    "https://",
    "//example.com/x",
    "example.com/x",
    "ftp://example.com/",
    "http:/example.com",
    "http:example.com",
    " https://example.com/",
    "https://example.com/\t",
    "https://example.com/a\\b",
    "https://example.com/{x}",
    "https://example.com/a`b",
    "https://example.com/" + "a" * (plainurl.PLAIN_MAX + 1),
    "https://example.com/" + "a" * 70_000,
]


def _label(rng: random.Random, first: str = string.ascii_lowercase + string.digits) -> str:
    middle = "".join(
        rng.choice(string.ascii_lowercase + string.digits + "-") for _ in range(rng.randint(0, 8))
    )
    last = rng.choice(string.ascii_lowercase + string.digits) if middle else ""
    return rng.choice(first) + middle + last


def _host(rng: random.Random) -> str:
    if rng.random() < 0.3:
        octets = [0, 1, 9, 10, 99, 100, 199, 249, 255, rng.randint(0, 255)]
        return ".".join(str(rng.choice(octets)) for _ in range(4))
    labels = [_label(rng) for _ in range(rng.randint(0, 3))]
    return ".".join([*labels, _label(rng, string.ascii_lowercase)])


def _escape(rng: random.Random) -> str:
    return "%" + "".join(rng.choice("0123456789abcdefABCDEF") for _ in range(2))


def _text(rng: random.Random, chars: str, longest: int) -> str:
    return "".join(
        _escape(rng) if rng.random() < 0.1 else rng.choice(chars)
        for _ in range(rng.randint(0, longest))
    )


def plain_url(rng: random.Random) -> str:
    """A random URL in httpx's normal form."""
    scheme = rng.choice(["http", "https"])
    port = ""
    if rng.random() < 0.4:
        number = rng.choice([1, 8080, 8443, 65535, rng.randint(1, 65535)])
        if number != {"http": 80, "https": 443}[scheme]:
            port = f":{number}"
    path = ""
    if rng.random() < 0.9:
        segments = [_text(rng, PATH_CHARS, 12) for _ in range(rng.randint(1, 5))]
        segments = [s for s in segments if s not in (".", "..")]
        path = "/" + "/".join(segments)
    query = f"?{_text(rng, QUERY_CHARS, 20)}" if rng.random() < 0.4 else ""
    return f"{scheme}://{_host(rng)}{port}{path}{query}"


def near_miss(rng: random.Random) -> str:
    """A plain URL with one to three random changes: most are no longer plain."""
    text = plain_url(rng)
    for _ in range(rng.randint(1, 3)):
        at = rng.randint(0, len(text))
        change = rng.randrange(5)
        if change == 0:  # insert something odd
            text = text[:at] + rng.choice(ODD) + text[at:]
        elif change == 1 and at < len(text):  # upper-case one character
            text = text[:at] + text[at].upper() + text[at + 1 :]
        elif change == 2 and at < len(text):  # drop one character
            text = text[:at] + text[at + 1 :]
        elif change == 3:  # a port, often the default or malformed
            port = rng.choice([":80", ":443", ":0", ":08080", ":65536", ":", ":1" + "0" * 20])
            head, sep, rest = text.partition("://")
            host_end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=-1)
            host_end = len(rest) if host_end < 0 else host_end
            text = head + sep + rest[:host_end] + port + rest[host_end:]
        else:  # a dot segment, fragment, userinfo or trailing dot
            extra = rng.choice(["/.", "/..", "/./x", "/../x", "#f", "#", "u@", "u:p@", ".", "?"])
            text = text[:at] + extra + text[at:]
    return text


def observed(parse: Callable[[str], httpx.URL], text: str) -> tuple[Any, ...]:
    """Everything the fetcher reads from a parse: the error's type, or each field (or the
    error type a field raises, as ``.host`` does for a bad xn-- label)."""
    try:
        url = parse(text)
    except Exception as exc:
        return ("raised", type(exc))
    fields: list[Any] = [type(url), url._uri_reference]
    for name in ("scheme", "host", "netloc", "raw_path", "port", "raw_host", "fragment"):
        try:
            fields.append(getattr(url, name))
        except Exception as exc:
            fields.append(("raised", type(exc)))
    fields.append(str(url))
    return tuple(fields)


def test_the_shortcut_is_on_for_this_httpx() -> None:
    assert plainurl._enabled, "the self-check found httpx building URLs differently"


def test_typical_urls_are_plain_and_near_misses_are_not() -> None:
    for text in TYPICAL:
        assert is_plain(text), text
    for text in NEAR_MISSES:
        assert not is_plain(text), text


def test_plain_urls_skip_httpx_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("httpx's parser ran for a plain URL")

    expected = {text: httpx.URL(text) for text in TYPICAL}
    monkeypatch.setattr(httpx._urls, "urlparse", refuse)
    for text, url in expected.items():
        fast = parse_url(text)
        assert fast._uri_reference == url._uri_reference
        assert str(fast) == text


@pytest.mark.parametrize("text", TYPICAL + NEAR_MISSES)
def test_listed_urls_parse_as_httpx_does(text: str) -> None:
    assert observed(parse_url, text) == observed(httpx.URL, text)


def test_random_urls_and_near_misses_parse_as_httpx_does() -> None:
    rng = random.Random(20240611)
    plain = [plain_url(rng) for _ in range(2000)]
    odd = [near_miss(rng) for _ in range(3000)]
    for text in plain:
        assert is_plain(text), text
        assert observed(parse_url, text) == observed(httpx.URL, text), text
        assert str(parse_url(text)) == text
    for text in odd:
        assert observed(parse_url, text) == observed(httpx.URL, text), text
    shortcut = sum(map(is_plain, odd))
    assert 0 < shortcut < len(odd) / 2  # the near misses do test both sides


def test_a_disagreeing_httpx_switches_the_shortcut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """The import-time check: a parse result that differs in any field disables the shortcut."""
    real = plainurl._ParseResult
    assert real is not None

    def shifted(scheme: str, userinfo: str, host: str, *rest: Any) -> Any:
        return real(scheme, userinfo, host.upper(), *rest)  # a future httpx keeping case

    assert plainurl._agrees()
    monkeypatch.setattr(plainurl, "_ParseResult", shifted)
    assert not plainurl._agrees()
    monkeypatch.setattr(plainurl, "_ParseResult", None)
    assert not plainurl._agrees()


def _recording_app(seen: list[tuple[str, str, tuple[tuple[bytes, bytes], ...]]]) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        seen.append((request.method, request.raw_path, tuple(request.raw_headers)))
        if request.path.startswith("/hop"):
            raise web.HTTPFound(request.query.get("to", "/done"))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


async def _wire(port: int, urls: list[str], fast: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    """What the server saw, and what the fetcher reported, with the shortcut on or off."""
    monkeypatch.setattr(plainurl, "_enabled", fast)
    seen: list[tuple[str, str, tuple[tuple[bytes, bytes], ...]]] = []
    runner = web.AppRunner(_recording_app(seen), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    rules = [rf"^https?://site\.example(:[0-9]+)?(?=[/?#]|$) http://127.0.0.1:{port}"]
    settings = FetchSettings(host_interval=0.0, allow_private=True, robots_crawl_delay_hosts=())
    reported = []
    try:
        async with Fetcher(settings, remap=Remapper.parse(rules)) as fetcher:
            for url in urls:
                result = await fetcher.fetch(url, retries=0)
                reported.append((result.status, result.error, result.final_url, result.redirects))
    finally:
        await runner.cleanup()
    return seen, reported


@pytest.mark.asyncio
async def test_the_wire_is_the_same_with_and_without_the_shortcut(
    unused_tcp_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = f"http://127.0.0.1:{unused_tcp_port}"
    urls = [
        f"{base}/a/b?x=1&y=%2F",
        f"{base}/p%2fq/%C3%a9.x?q=a/b?c:@",
        base,
        f"{base}?only",
        f"{base}/hop?to=/next%2fone?z=1",
        f"HTTP://127.0.0.1:{unused_tcp_port}/x/./y/../z",
        f"{base}/sp ace/é?q=a b",
        "http://site.example/a?b=1",
        "https://site.example:8443/x/%7e",
        "http://site.example:80/hop?to=http://site.example/back",
    ]
    assert sum(map(is_plain, urls)) == 7
    slow = await _wire(unused_tcp_port, urls, False, monkeypatch)
    fast = await _wire(unused_tcp_port, urls, True, monkeypatch)
    assert fast == slow
    seen, reported = fast
    assert all(status == 200 for status, *_ in reported)
    assert len(seen) == len(urls) + 2  # two redirects followed
