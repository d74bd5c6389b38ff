"""What a hostile file, page or archive answer can make linkkeeper do (issue 15).

Each test drives the real code path a hostile input would take: ``linkkeeper`` in a
subprocess under a memory limit for the YAML bombs, real requests over loopback sockets for the
network points.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import pty
import re
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

from linkkeeper.archive.wayback import WaybackClient, WaybackError, make_client
from linkkeeper.curriculum.readings import CurriculumError, loads
from linkkeeper.outputs.github import GitHubError, update_rolling_issue

MEMORY_LIMIT = 1024 * 1024 * 1024  # address space for a subprocess that must stay small


class Bounded(subprocess.CompletedProcess[str]):
    peak_mb: float  # the child's peak resident memory


def run_bounded(
    args: list[str], cwd: Path, timeout: float = 60, env: dict[str, str] | None = None
) -> Bounded:
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
            env={**os.environ, **(env or {})},
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


def test_control_characters_in_a_url_are_refused_at_load() -> None:
    for url in (
        "https://a.example/\\e]8;;https://evil.example\\ax",
        "https://a.example/\\u202egnp.exe",
    ):
        text = f'weeks:\n- week: 1\n  readings:\n  - url: "{url}"\n'  # YAML escapes
        with pytest.raises(CurriculumError) as caught:
            loads(text)
        (problem,) = caught.value.problems
        assert problem.line == 4 and "invisible control character" in problem.message


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
        if done.returncode != 0 and b"File exists" not in done.stderr:
            pytest.skip(f"cannot put {address} on loopback (needs root): {done.stderr!r}")
    # Left in place: another test run on this machine may be using them right now.
    yield


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
                # followed; an answer from another site is no answer from the archive
                with pytest.raises(WaybackError, match=r"the answer came from metadata\.test"):
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


# -- points 2 and 5: a hostile title through every output --------------------------------------
ESCAPES = ("\x1b[2J", "\x1bc", "\x1b]8;;https://evil.example\x07")
HOSTILE = (
    "[click here to fix](https://evil.example) @octocat <img src=https://evil.example/t.gif> #1"
    " \x1b[2J\x1bc\x1b]8;;https://evil.example\x07open me\x1b]8;;\x07"
)
LIVE_MARKDOWN = ("[click here to fix](", "<img", "@octocat", "#1 ")
LIVE_LINK = re.compile(r"(?<!\\)\]\(https://evil")  # an unescaped ](: a live link


def hostile_page(title: str) -> bytes:
    html = f"<!doctype html><html><head><title>{title}</title></head><body><p>{'words ' * 60}"
    return (html + "</p></body></html>").encode()


async def hostile_site(path: str, writer: asyncio.StreamWriter) -> None:
    html = {"Content-Type": "text/html; charset=utf-8"}
    if path.startswith(("/page", "/paper.pdf")):
        writer.write(answer("200 OK", html, hostile_page(HOSTILE)))
    elif path.startswith("/long"):
        writer.write(answer("200 OK", html, hostile_page("A long title " * 80_000)))
    elif path.startswith("/bad-header"):  # raw bytes aiohttp quotes in its error message
        writer.write(
            b"HTTP/1.1 200 OK\r\n[click here to fix](https://evil.example) @octocat <img src=x>"
            b" #1 \x1b[2J\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
        )
    else:
        writer.write(answer("404 Not Found", {"Content-Type": "text/plain"}, b"no"))


HOSTILE_READINGS = """\
weeks:
- week: 1
  posted: 2026-01-06
  readings:
  - {id: page, url: 'https://hostile.example/page'}
  - {id: long, url: 'https://hostile.example/long'}
  - {id: paper, url: 'https://hostile.example/paper.pdf'}
  - {id: header, url: 'https://hostile.example/bad-header'}
"""


def in_a_terminal(args: list[str], cwd: Path) -> str:
    """``linkkeeper ARGS`` with stdout on a pseudo-terminal (rich's terminal output)."""
    main, side = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "linkkeeper", *args],
            cwd=cwd, stdout=side, stderr=subprocess.PIPE, timeout=60, check=False,
            env={**os.environ, "COLUMNS": "200", "TERM": "xterm-256color"},
        )  # fmt: skip
        os.close(side)
        side = -1
        chunks = []
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert done.returncode == 0, done.stderr
        return b"".join(chunks).decode("utf-8", "replace")
    finally:
        os.close(main)
        if side >= 0:
            os.close(side)


@pytest.fixture(scope="module")
def hostile_night(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, dict[str, str]]]:
    """One ``nightly`` (check, archive lookups, publish, summary, issue body) over readings
    whose pages are hostile, reached through ``--remap`` (a socket address to keep out of
    every output); yields the work folder and each output's text."""
    work = tmp_path_factory.mktemp("hostile")
    (work / "readings.yaml").write_text(HOSTILE_READINGS, encoding="utf-8")
    with RawServer("127.0.0.1", hostile_site) as site:
        rule = f"^https://hostile\\.example {site.origin}"
        done = run_bounded(
            ["nightly", "--readings", "readings.yaml", "--snapshots", "snapshots",
             "--site", "site", "--markdown", "READINGS.md", "--no-issue",
             "--issue-file", "issue.md", "--summary-file", "summary.md",
             "--allow-private", "--remap", rule, "--host-interval", "0", "--fail-on", "never",
             "--wayback-url", site.origin, "--availability-url", f"{site.origin}/available",
             "--cdx-interval", "0"],
            work,
            timeout=180,
        )  # fmt: skip
        assert "Traceback" not in done.stderr, done.stderr[-3000:]
        outputs = {
            "nightly stdout": done.stdout,
            "issue": (work / "issue.md").read_text(encoding="utf-8"),
            "summary": (work / "summary.md").read_text(encoding="utf-8"),
            "READINGS.md": (work / "READINGS.md").read_text(encoding="utf-8"),
        }
        for fmt in ("markdown", "text", "json", "github"):
            check = run_bounded(
                ["check", "--readings", "readings.yaml", "--snapshots", "snapshots",
                 "--allow-private", "--remap", rule, "--host-interval", "0",
                 "--fail-on", "never", "--format", fmt],
                work,
            )  # fmt: skip
            outputs[f"check --format {fmt}"] = check.stdout + check.stderr
    yield work, outputs


def test_fetched_text_is_inert_markdown_in_the_issue_and_the_summaries(
    hostile_night: tuple[Path, dict[str, str]],
) -> None:
    _, outputs = hostile_night
    issue = outputs["issue"]
    assert "`paper`" in issue and "HTML page titled" in issue  # the hostile title is there ...
    for name in ("issue", "summary", "check --format markdown"):
        for live in LIVE_MARKDOWN:  # ... but no live link, image, mention or reference
            assert live not in outputs[name], (name, live)
        assert not LIVE_LINK.search(outputs[name]), name
        assert "@\u200boctocat" in outputs[name], name
    assert "\\[click here to fix\\](https://evil.example)" in issue
    readings_md = outputs["READINGS.md"]  # md_escape's own style: backslashes, no entities
    assert "\\[click here to fix\\](" in readings_md
    assert not LIVE_LINK.search(readings_md) and not re.search(r"(?<!\\)<img", readings_md)
    assert "@octocat" not in readings_md and "#1 " not in readings_md
    assert "&lt;img" in issue


def test_no_output_names_the_remapped_socket_address(
    hostile_night: tuple[Path, dict[str, str]],
) -> None:
    work, outputs = hostile_night
    ledger = "".join(p.read_text(encoding="utf-8") for p in (work / "snapshots").glob("*.json"))
    site = "".join(p.read_text(encoding="utf-8") for p in (work / "site").rglob("*.html"))
    header = json.loads((work / "snapshots" / "header.json").read_text(encoding="utf-8"))
    assert "Invalid header token" in header["checks"][-1]["reason"]  # explained ...
    for name, text in {**outputs, "ledger": ledger, "site": site}.items():
        assert "127.0.0.1" not in text, name  # ... in the real URL space


def test_terminal_escapes_are_neither_stored_nor_printed(
    hostile_night: tuple[Path, dict[str, str]],
) -> None:
    work, outputs = hostile_night
    record = json.loads((work / "snapshots" / "page.json").read_text(encoding="utf-8"))
    stored = record["metadata"]["title"]["value"]
    assert stored.startswith("[click here to fix]") and "open me" in stored
    assert not any(ch in stored for ch in "\x1b\x07")
    long_title = json.loads((work / "snapshots" / "long.json").read_text(encoding="utf-8"))
    assert len(long_title["metadata"]["title"]["value"]) <= 300
    # a record written before this rule (or by hand) is cleaned again when printed
    record["metadata"]["title"]["value"] = HOSTILE
    (work / "snapshots" / "page.json").write_text(json.dumps(record), encoding="utf-8")
    base = ["--readings", "readings.yaml", "--snapshots", "snapshots"]
    printed = {
        "list (piped)": run_bounded(["list", *base], work).stdout,
        "list (terminal)": in_a_terminal(["list", *base], work),
        "show": run_bounded(["show", "page", *base], work).stdout,
        "show (terminal)": in_a_terminal(["show", "page", *base], work),
        "week": run_bounded(["week", "1", *base], work).stdout,
        "week markdown": run_bounded(["week", "1", "--format", "markdown", *base], work).stdout,
        **outputs,
    }
    assert "open me" in printed["list (piped)"] and "[click here to fix]" in printed["show"]
    for name, text in printed.items():
        for escape in ESCAPES:
            assert escape not in text, (name, escape)
    assert len(printed["week"]) < 5000  # a 1 MB title is not a 1 MB post


@pytest.mark.asyncio
async def test_a_discord_webhook_answer_is_capped_too() -> None:
    from linkkeeper.outputs.webhook import ClientSettings, DiscordError, Webhook, WebhookClient
    from linkkeeper.web.remap import Remapper

    with RawServer("127.0.0.1", endless) as hook:
        webhook = Webhook.parse("https://discord.com/api/webhooks/1234567890/tok-canary-77")
        remap = Remapper.parse([f"^https://discord\\.com {hook.origin}"])
        settings = ClientSettings(allow_private=True, retries=0)
        async with WebhookClient(webhook, settings, remap=remap) as client:
            with pytest.raises(DiscordError) as caught:
                await client.execute("hello")
    assert "tok-canary-77" not in str(caught.value)
    assert "AnswerTooLarge" in str(caught.value)


# -- the shared escaping module ------------------------------------------------------------------
def test_plain_removes_whole_escape_sequences_and_controls() -> None:
    from linkkeeper.core import textsafe

    text = "a\x1b[2Jb\x1bc\x1b]8;;https://evil.example\x07c\x1b]8;;\x1b\\d\x9b31me\u202eg\x00h\ni"
    assert textsafe.plain(text) == "abcdegh i"
    assert textsafe.title("x" * 1_000_000) == "x" * 299 + "…"
    assert textsafe.plain_lines("one\x1b[1m\ntwo") == "one\ntwo"


def test_md_text_is_inert_on_github() -> None:
    from linkkeeper.core import textsafe

    md = textsafe.md_text("[a](https://e.example) ![i](x) <b>&</b> @octocat #12 a|b `c` *d*")
    assert md == (
        "\\[a\\](https://e.example) !\\[i\\](x) &lt;b&gt;&amp;&lt;/b&gt; @\u200boctocat "
        "#\u200b12 a\\|b \\`c\\` \\*d\\*"
    )
    assert textsafe.md_url("https://e.example/a b)<c>") == "https://e.example/a%20b%29%3Cc%3E"


def test_error_words_are_put_back_in_the_real_url_space() -> None:
    from linkkeeper.web.remap import in_original_space

    text = in_original_space(
        "Cannot connect to host 127.0.0.1:4455 ssl:default [Connect call failed "
        "('127.0.0.1', 4455)]; 400, message='x', url='http://127.0.0.1:4455/abs/1'",
        "https://arxiv.org/abs/1",
        "http://127.0.0.1:4455/abs/1",
    )
    assert "127.0.0.1" not in text and "4455" not in text
    assert text.startswith("Cannot connect to host arxiv.org ssl:default")


def test_a_hostile_github_answer_is_inert_in_the_job_summary(tmp_path: Path) -> None:
    body = b'{"message": "[click here to fix](https://evil.example) @octocat <img src=x> #1"}'

    async def refuse(path: str, writer: asyncio.StreamWriter) -> None:
        writer.write(answer("403 Forbidden", {"Content-Type": "application/json"}, body))

    (tmp_path / "readings.yaml").write_text(
        "weeks:\n- week: 1\n  readings:\n  - title: Install PyTorch\n", encoding="utf-8"
    )
    with RawServer("127.0.0.1", refuse) as api:
        done = run_bounded(
            ["nightly", "--readings", "readings.yaml", "--snapshots", "snapshots",
             "--allow-private", "--github-api", api.origin, "--github-repo", "o/r",
             "--summary-file", "summary.md", "--wayback-url", api.origin,
             "--availability-url", f"{api.origin}/available"],
            tmp_path,
            env={"GITHUB_TOKEN": "ghp_canary_token_5"},
        )  # fmt: skip
        assert api.paths, done.stderr
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "rolling issue** (failed)" in summary, summary
    assert "\\[click here to fix\\](https://evil.example) @\u200boctocat &lt;img" in summary
    assert "ghp_canary_token_5" not in summary + done.stdout + done.stderr


@pytest.mark.parametrize("handler", [endless, gzip_bomb], ids=["endless", "gzip-bomb"])
def test_an_over_long_github_answer_is_an_error_not_a_memory_blowup(handler: Handler) -> None:
    too_long = pytest.raises(GitHubError, match="answer longer than 8388608 bytes")
    with RawServer("127.0.0.1", handler) as api, too_long:
        update_rolling_issue(
                "x", healthy=False, repo="o/r", token="ghp_canary9", api_url=api.origin,
                allow_private=True,
            )  # fmt: skip


@pytest.mark.asyncio
async def test_a_redirect_to_an_invalid_idn_host_is_a_failed_request_not_a_traceback() -> None:
    from linkkeeper.web.fetcher import Fetcher, FetchSettings

    with RawServer("127.0.0.1", redirect_to("http://xn--zz.example/")) as server:
        async with make_client(allow_private=True) as client:
            wayback = WaybackClient(client, wayback_url=server.origin)
            with pytest.raises(WaybackError, match="Invalid A-label"):
                await wayback.cdx("https://example.org/a")
        async with Fetcher(FetchSettings(allow_private=True, retries=0)) as fetcher:
            result = await fetcher.fetch(f"{server.origin}/page")
    assert result.error is not None and "xn--zz.example" in (result.error_detail or "")


@pytest.mark.asyncio
async def test_an_archive_original_with_an_escape_sequence_is_not_kept() -> None:
    rows = [
        ["timestamp", "original", "statuscode", "mimetype"],
        ["20240101000000", "https://example.org/a\x1b]8;;https://evil.example\x07", "200", "x"],
        ["20230101000000", "https://example.org/a", "200", "text/html"],
    ]

    async def cdx(path: str, writer: asyncio.StreamWriter) -> None:
        body = json.dumps(rows).encode()
        writer.write(answer("200 OK", {"Content-Type": "application/json"}, body))

    with RawServer("127.0.0.1", cdx) as archive:
        async with make_client(allow_private=True) as client:
            found = await WaybackClient(client, wayback_url=archive.origin).cdx("x")
    assert [c.original for c in found.captures] == ["https://example.org/a"]
