"""Answers a client cannot send back as they came (a non-ASCII cookie or ETag) or cannot
decode (a reason phrase that is not UTF-8) cost no reading its check: real loopback servers,
the real Fetcher and ``linkkeeper check`` over two nights."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from click.testing import CliRunner

from linkkeeper.check.revalidate import last_modified, strong_etag
from linkkeeper.cli import cli
from linkkeeper.core.config import ConfigError, load_config
from linkkeeper.web.fetcher import Fetcher, FetchSettings, Revalidation

PAGE = "<html><head><title>Notes</title></head><body><article>" + "words " * 200 + "</article>"


class OddSite:
    """An aiohttp app on a free loopback port, in a thread; records what each request sent."""

    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []
        self.port = _free_port()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()
        assert self._ready.wait(10)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()

        async def page(request: web.Request) -> web.Response:
            self.sent.append(dict(request.headers))
            headers = {"Content-Type": "text/html"}
            if request.path == "/cookie":
                headers["Set-Cookie"] = "u=café; Path=/"
            if request.path == "/etag":
                headers["ETag"] = '"é1"'
                headers["Last-Modified"] = "Tue, 01 Aug 2023 08:00:00 GMT"
            return web.Response(text=PAGE, headers=headers)

        async def raw(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            head = await reader.readuntil(b"\r\n\r\n")
            known = head.split(b" ")[1] in (b"/x", b"/r")  # any other path: a real 404
            body = PAGE.encode() if known else b"<title>Not found</title>nothing here"
            status = b"200 \xff\xfeOK" if known else b"404 Not \xff\xfeFound"
            writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: text/html\r\n")
            writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
            writer.close()

        for path in ("/cookie", "/after-cookie", "/etag"):
            app.router.add_get(path, page)
        runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self.raw_port = _free_port()
        self._loop.run_until_complete(asyncio.start_server(raw, "127.0.0.1", self.raw_port))
        self._ready.set()
        self._loop.run_forever()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def site() -> Iterator[OddSite]:
    odd = OddSite()
    yield odd
    odd.stop()


async def _fetch(url: str, **options: object) -> list[object]:
    async with Fetcher(FetchSettings(allow_private=True, host_interval=0)) as fetcher:
        first = await fetcher.fetch(url, **options)  # type: ignore[arg-type]
        again = await fetcher.fetch(url.replace("/cookie", "/after-cookie"))
        return [first, again]


def test_a_non_ascii_cookie_does_not_break_the_next_request(site: OddSite) -> None:
    first, again = asyncio.run(_fetch(site.url("/cookie")))
    assert (first.status, first.error) == (200, None)  # type: ignore[attr-defined]
    assert (again.status, again.error) == (200, None)  # type: ignore[attr-defined]
    assert "cookie" not in {k.lower() for k in site.sent[-1]}  # forgotten, not sent mangled


def test_a_reason_phrase_that_is_not_utf8_is_ignored_as_browsers_do(site: OddSite) -> None:
    url = f"http://127.0.0.1:{site.raw_port}/x"
    first, _ = asyncio.run(_fetch(url))
    assert (first.status, first.error) == (200, None)  # type: ignore[attr-defined]
    assert first.body == PAGE.encode()  # type: ignore[attr-defined]


def test_a_non_ascii_etag_is_not_kept_nor_sent(site: OddSite) -> None:
    assert strong_etag({"etag": '"é1"'}) is None
    assert strong_etag({"etag": '"a1"'}) == '"a1"'
    assert last_modified({"last-modified": "Tue, 01 Aug 2023 08:00:00 GMT\x00"}) is None
    odd = Revalidation(site.url("/etag"), (), '"é1"', "Tue, 01 Aug 2023 08:00:00 GMT")
    first, _ = asyncio.run(_fetch(site.url("/etag"), revalidate=odd))
    assert (first.status, first.error) == (200, None)  # type: ignore[attr-defined]
    sent = {k.lower(): v for k, v in site.sent[-2].items()}
    assert "if-none-match" not in sent and sent["if-modified-since"].startswith("Tue")


def test_two_nights_over_odd_answers_stay_ok(site: OddSite, tmp_path: Path) -> None:
    readings = tmp_path / "readings.yaml"
    lines = ["weeks:", "  - week: 1", "    readings:"]
    for n, url in enumerate([site.url("/cookie"), site.url("/etag"),
                             f"http://127.0.0.1:{site.raw_port}/r"]):  # fmt: skip
        lines += [f"      - id: odd-{n}", f"        title: Odd {n}", f"        url: {url}"]
    readings.write_text("\n".join(lines) + "\n", encoding="utf-8")
    argv = ["check", "--readings", str(readings), "--snapshots", str(tmp_path / "snapshots"),
            "--allow-private", "--host-interval", "0", "--max-age", "0", "--format", "json",
            "--canary", "none"]  # fmt: skip
    for _night in (1, 2):
        result = CliRunner().invoke(cli, argv, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        verdicts = {
            r["id"]: (r["verdict"], r["reason"]) for r in json.loads(result.stdout)["results"]
        }
        assert all(v == "ok" for v, _ in verdicts.values()), verdicts


def test_a_configured_header_that_is_not_ascii_is_refused_where_it_is_written(
    tmp_path: Path,
) -> None:
    config = tmp_path / "pyproject.toml"
    config.write_text(
        '[tool.linkkeeper.hosts."example.org"]\nheaders = {"Accept-Language" = "français"}\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"pyproject\.toml.*example\.org.*printable ASCII"):
        load_config(config)
