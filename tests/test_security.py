"""What a hostile file, page or archive answer can make linkkeeper do (issue 15).

Each test drives the real code path a hostile input would take: ``linkkeeper`` in a
subprocess under a memory limit for the YAML bombs, real requests over loopback sockets for the
network points.
"""

from __future__ import annotations

import asyncio
import functools
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from linkkeeper.curriculum import CurriculumError, loads
from linkkeeper.github import GitHubError, update_rolling_issue
from linkkeeper.wayback import WaybackClient, WaybackError, make_client

MEMORY_LIMIT = 1024 * 1024 * 1024  # address space for a subprocess that must stay small


class Bounded(subprocess.CompletedProcess[str]):
    peak_mb: float  # the child's peak resident memory


def run_bounded(args: list[str], cwd: Path, timeout: float = 60) -> Bounded:
    """``linkkeeper ARGS`` with at most :data:`MEMORY_LIMIT` of address space (a bomb that is
    not refused ends in MemoryError or the timeout, not in a machine out of memory), and its
    peak resident memory measured."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(
            [sys.executable, "-m", "linkkeeper", *args],
            cwd=cwd,
            stdout=out,
            stderr=err,
            text=True,
            preexec_fn=limit,
        )
        timer = threading.Timer(timeout, child.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(child.pid, 0)
        finally:
            timer.cancel()
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        done = Bounded(child.args, child.returncode, out.read(), err.read())
    done.peak_mb = usage.ru_maxrss / 1024
    return done


# -- point 4: YAML alias bombs and deep nesting -----------------------------------------------
def _alias_bomb(levels: int = 9) -> str:
    """The billion-laughs shape: each anchor repeats the previous one nine times."""
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for n in range(1, levels + 1):
        lines.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]")
    lines.append(f"weeks: [{{week: 1, readings: [{{title: x, note: *a{levels}}}]}}]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_with_a_located_error_in_bounded_memory(tmp_path: Path) -> None:
    (tmp_path / "readings.yaml").write_text(_alias_bomb(), encoding="utf-8")
    done = run_bounded(["list", "--readings", "readings.yaml"], tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "readings.yaml:2:" in done.stderr
    assert "alias '*a0' is not allowed" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.peak_mb < 200


def test_any_alias_is_refused_even_a_small_one() -> None:
    text = "weeks:\n- week: 1\n  readings:\n  - &r {title: A}\n  - *r\n"
    with pytest.raises(CurriculumError) as caught:
        loads(text)
    (problem,) = caught.value.problems
    assert (problem.line, problem.column) == (5, 5)
    assert "alias '*r'" in problem.message


@pytest.mark.parametrize(
    "text",
    [
        "weeks: " + "[" * 5000 + "]" * 5000 + "\n",  # beyond libyaml's own limit
        "weeks: " + "[" * 200 + "]" * 200 + "\n",  # within it: the reader would recurse
        "weeks:\n" + "".join(" " * i + "- \n" for i in range(1, 900)),
    ],
    ids=["flow-5000", "flow-200", "block-900"],
)
def test_deep_nesting_is_a_located_error_not_a_recursion_error(text: str, tmp_path: Path) -> None:
    (tmp_path / "readings.yaml").write_text(text, encoding="utf-8")
    done = run_bounded(["list", "--readings", "readings.yaml"], tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "nested more than 20 levels deep" in done.stderr
    assert "readings.yaml:1:" in done.stderr or "readings.yaml:" in done.stderr
    assert "Traceback" not in done.stderr


# -- point 6 and issue 18.5: hosts two parsers disagree on, invalid IDN hosts -----------------
def _url_error(url: str) -> str:
    text = f"weeks:\n- week: 1\n  readings:\n  - url: '{url}'\n"
    with pytest.raises(CurriculumError) as caught:
        loads(text)
    (problem,) = caught.value.problems
    assert (problem.line, problem.path) == (4, "weeks[0].readings[0].url")
    return problem.message


def test_backslash_in_the_authority_is_refused_at_load() -> None:
    # httpx and urlsplit check evil.example; a browser opens a.example
    assert "backslash in its host part" in _url_error("https://a.example\\@evil.example/")
    assert "backslash" in _url_error("https://a.example:443\\@b.example/")


@pytest.mark.parametrize(
    ("url", "browser"),
    [("https://0x7f.1/", "127.0.0.1"), ("https://a%2eexample/x", "a.example")],
)
def test_hosts_the_parsers_disagree_on_are_refused(url: str, browser: str) -> None:
    message = _url_error(url)
    assert f"a browser opens '{browser}'" in message


@pytest.mark.parametrize(
    "url",
    ["https://xn--zz.example/", "https://xn--abc-.example/a", "https://a.example%40evil.example/"],
)
def test_invalid_host_names_are_located_errors(url: str) -> None:
    assert "invalid host name" in _url_error(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://Bücher.example/x",
        "https://xn--bcher-kva.example/",
        "https://a_b.example/",
        "https://user@a.example:8080/p?q=\\#f",
        "https://a.example/path\\with\\backslashes",
        "http://[::1]:8000/",
        "http://127.0.0.1:8000/",
    ],
)
def test_ordinary_hosts_still_load(url: str) -> None:
    loads(f"weeks:\n- week: 1\n  readings:\n  - url: '{url}'\n")


def test_check_of_an_invalid_idn_host_exits_2_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "readings.yaml").write_text(
        "weeks:\n- week: 1\n  readings:\n  - url: https://xn--zz.example/\n", encoding="utf-8"
    )
    done = run_bounded(
        ["check", "--readings", "readings.yaml", "--snapshots", "snapshots"], tmp_path
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "readings.yaml:4:10: weeks[0].readings[0].url:" in done.stderr
    assert "Traceback" not in done.stderr


# -- a raw HTTP server that says whatever a test wants ------------------------------------------
Handler = Callable[[str, asyncio.StreamWriter], Awaitable[None]]


class RawServer:
    """HTTP/1.1 on ``host`` (any local address), in a thread: ``handler(path, writer)`` writes
    the answer byte for byte (hostile headers, endless bodies, bombs); paths asked are kept."""

    def __init__(self, host: str, handler: Handler) -> None:
        self.host, self.handler = host, handler
        self.paths: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RawServer:
        self.thread.start()
        assert self.started.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def shutdown() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._serve, self.host, 0))
        self.port = server.sockets[0].getsockname()[1]
        self.started.set()
        self.loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            while (await reader.readline()).strip():
                pass
            path = line.split()[1].decode() if len(line.split()) > 1 else "/"
            self.paths.append(path)
            await self.handler(path, writer)
            await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


def answer(status: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers.items())]
    lines += [f"Content-Length: {len(body)}", "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def redirect_to(location: str) -> Handler:
    async def handler(path: str, writer: asyncio.StreamWriter) -> None:
        writer.write(answer("302 Found", {"Location": location}))

    return handler


async def canary_handler(path: str, writer: asyncio.StreamWriter) -> None:
    writer.write(answer("200 OK", {"Content-Type": "text/plain"}, b"ami-id\ninstance-id\n"))


PUBLIC = "192.0.43.10"  # a public-looking address, put on loopback for these tests
CANARY = "169.254.169.254"  # the cloud metadata address


@pytest.fixture(scope="module")
def on_loopback() -> Iterator[None]:
    """:data:`PUBLIC` and :data:`CANARY` as loopback addresses (needs root: skipped without),
    so the private-address guard is exercised without --allow-private."""
    added = []
    for address in (PUBLIC, CANARY):
        probe = socket.socket()
        try:
            probe.bind((address, 0))
            continue  # already there
        except OSError:
            pass
        finally:
            probe.close()
        done = subprocess.run(
            ["ip", "addr", "add", f"{address}/32", "dev", "lo"], capture_output=True, check=False
        )
        if done.returncode != 0:
            pytest.skip(f"cannot put {address} on loopback (needs root): {done.stderr!r}")
        added.append(address)
    yield
    for address in added:
        subprocess.run(["ip", "addr", "del", f"{address}/32", "dev", "lo"], check=False)


# -- point 1: every request goes through the guard, on every hop -------------------------------
def test_archive_never_follows_a_redirect_to_the_metadata_canary(
    on_loopback: None, tmp_path: Path
) -> None:
    with RawServer(CANARY, canary_handler) as canary:
        meta = f"http://{CANARY}:{canary.port}/latest/meta-data/"
        with RawServer(PUBLIC, redirect_to(meta)) as archive:
            (tmp_path / "readings.yaml").write_text(
                "weeks:\n- week: 1\n  readings:\n  - url: https://example.org/a\n",
                encoding="utf-8",
            )
            done = run_bounded(
                ["archive", "--readings", "readings.yaml", "--snapshots", "snapshots",
                 "--wayback-url", archive.origin,
                 "--availability-url", f"{archive.origin}/wayback/available",
                 "--cdx-interval", "0", "--format", "json"],
                tmp_path,
            )  # fmt: skip
            assert archive.paths, done.stderr  # the archive was asked ...
    assert canary.paths == [], done.stdout + done.stderr  # ... and its redirect not followed
    assert "Traceback" not in done.stderr


@pytest.mark.asyncio
async def test_a_redirect_to_a_name_of_the_canary_is_refused_in_the_lookup(
    on_loopback: None,
) -> None:
    from test_fetcher import ScriptedDNS

    with RawServer(CANARY, canary_handler) as canary:
        target = f"http://metadata.test:{canary.port}/latest/meta-data/"
        with RawServer(PUBLIC, redirect_to(target)) as archive:
            dns = ScriptedDNS(CANARY)
            async with make_client(resolver=dns) as client:
                wayback = WaybackClient(client, wayback_url=archive.origin)
                with pytest.raises(WaybackError, match=r"metadata\.test resolves to 169\.254"):
                    await wayback.cdx("https://example.org/a")
                # allowed, the same hop is followed: the refusal above was the guard's
                assert dns.asked == ["metadata.test"]
            async with make_client(resolver=ScriptedDNS(CANARY), allow_private=True) as client:
                wayback = WaybackClient(client, wayback_url=archive.origin)
                with pytest.raises(WaybackError, match="not JSON"):
                    await wayback.cdx("https://example.org/a")
    assert len(canary.paths) == 1


def test_the_github_api_on_a_private_address_is_refused(tmp_path: Path) -> None:
    with RawServer("127.0.0.1", redirect_to("/")) as api:
        for origin in (api.origin, f"http://localhost:{api.port}"):
            with pytest.raises(GitHubError, match="private/loopback/link-local"):
                update_rolling_issue(
                    "x", healthy=False, repo="o/r", token="ghp_canary9", api_url=origin
                )
        assert api.paths == []


# -- point 3: API answers are capped in size and time ------------------------------------------
async def endless(path: str, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
    writer.write(b'[["timestamp","original","statuscode","mimetype"]')
    row = b',["20200101000000","https://example.org/a","200","text/html"]' * 1000
    while True:
        writer.write(row)
        await writer.drain()


@functools.cache
def bomb() -> bytes:
    """About 256 KB of gzip that decodes to 256 MiB of JSON whitespace (made in 1 MiB steps)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [packer.compress(b"[")]
    block = b" " * (1024 * 1024)
    parts += [packer.compress(block) for _ in range(256)]
    return b"".join([*parts, packer.compress(b"]"), packer.flush()])


async def gzip_bomb(path: str, writer: asyncio.StreamWriter) -> None:
    body = bomb()
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    writer.write(answer("200 OK", headers, body))


async def drip(path: str, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n[")
    while True:
        writer.write(b" ")
        await writer.drain()
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("handler", [endless, gzip_bomb], ids=["endless", "gzip-bomb"])
def test_an_over_long_cdx_answer_is_a_failed_lookup_in_bounded_memory(
    handler: Handler, tmp_path: Path
) -> None:
    with RawServer("127.0.0.1", handler) as archive:
        (tmp_path / "readings.yaml").write_text(
            "weeks:\n- week: 1\n  readings:\n  - url: https://example.org/a\n", encoding="utf-8"
        )
        done = run_bounded(
            ["archive", "--readings", "readings.yaml", "--snapshots", "snapshots",
             "--allow-private", "--wayback-url", archive.origin,
             "--availability-url", f"{archive.origin}/wayback/available",
             "--cdx-interval", "0", "--format", "json"],
            tmp_path,
            timeout=120,
        )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "MemoryError" not in done.stdout + done.stderr
    assert done.returncode == 1  # the reading has no archived copy; nothing crashed
    print(f"peak {done.peak_mb:.0f} MB")
    assert done.peak_mb < 200


@pytest.mark.asyncio
@pytest.mark.parametrize("handler", [endless, gzip_bomb], ids=["endless", "gzip-bomb"])
async def test_the_failed_lookup_says_the_answer_was_too_long(handler: Handler) -> None:
    with RawServer("127.0.0.1", handler) as archive:
        async with make_client(allow_private=True) as client:
            wayback = WaybackClient(client, wayback_url=archive.origin)
            with pytest.raises(WaybackError, match="answer longer than 8388608 bytes"):
                await wayback.cdx("https://example.org/a")


@pytest.mark.asyncio
async def test_a_dripping_api_answer_ends_at_the_total_deadline() -> None:
    with RawServer("127.0.0.1", drip) as archive:
        async with make_client(allow_private=True, total_timeout=1.0) as client:
            wayback = WaybackClient(client, wayback_url=archive.origin)
            started = time.monotonic()
            with pytest.raises(WaybackError, match="no complete answer within 1 s"):
                await wayback.cdx("https://example.org/a")
            assert time.monotonic() - started < 5
