"""Benchmark: ``linkkeeper check`` against ``lychee`` on the same loopback web, two nights
(run by hand).

    /work/venv/bin/python bench/check_vs_lychee.py --links 1000 10000 --hosts 20 --latency 0.05

N readings spread over H hosts (``127.0.0.1`` .. ``127.0.0.H``: distinct addresses, so both
tools see distinct hosts); every page answers 200 after ``--latency`` seconds with a realistic
article of about 5 KB (head with meta tags, navigation, some 700 words, a script; its title
and headings are not not-found phrases, so no soft-404 rule fires). Both tools get the same
limits: 128 requests in flight, 10 per host, no gap between requests to a host.

Night 1: a fresh ``snapshots/``, everything fetched, judged and recorded. Between the nights
``--changed`` (5%) of the pages change (an added paragraph: new bytes, ETag and
Last-Modified). Night 2: linkkeeper checks again with ``--max-age 0`` (a nightly run 24 h
later re-checks every success) on the same ``snapshots/``; lychee re-checks every link both
nights, as a nightly lychee does once its one-day cache has expired.

Validators, by host (of 20: 12, 3 and 5 hosts): 60% send a strong ETag and Last-Modified
(static hosting: GitHub Pages, Netlify, S3/CloudFront, nginx and Apache serving files all
do), 15% only a weak ETag (Node/Express apps; nginx weakens ETags when it gzips), 25% none
(pages rendered per request by a CMS or an app). Every host honours If-None-Match and
If-Modified-Since with a 304.

Reports, per tool and night: wall time, CPU time (user + system) and peak RSS of the tool's
process (``wait4`` rusage), and the bytes it received (status lines, headers and bodies, as
counted by the servers). linkkeeper runs from this checkout with its bytecode compiled first,
as an installed package has it. Not run in CI. ``--profile FILE`` runs linkkeeper under cProfile
(slower; a sampling profiler such as ``py-spy record --gil`` shows the CPU split more truly).
"""

from __future__ import annotations

import argparse
import compileall
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MAX_CONCURRENCY = 128
HOST_CONCURRENCY = 10
SERVER_PROCESSES = 4
PARAGRAPH = (
    "<p>Attention lets every position of a sequence look at every other one, weighted by how "
    "relevant it is. This part of the series (r{n}) walks through queries, keys and values, "
    "why the scores are scaled, and how several heads see different relations at once. "
    "Keeping a reading list alive means checking that links like this one still answer.</p>\n"
)
PAGE = (
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
    "<title>Notes on attention, part r{n} | The Study Blog</title>\n"
    '<meta name="description" content="Part r{n} of our notes on attention and transformers.">\n'
    '<meta property="og:title" content="Notes on attention, part r{n}">\n'
    '<meta name="author" content="Ada Reader">\n<link rel="stylesheet" href="/site.css">\n'
    "</head>\n<body>\n<nav><a href='/'>Home</a> <a href='/archive'>Archive</a></nav>\n"
    "<main><article><h1>Notes on attention, part r{n}</h1>\n"
    + PARAGRAPH
    * 12
    + "</article></main>\n<footer>Written by the study group.</footer>\n"
    "<script>document.body.classList.add('js');</script>\n</body>\n</html>\n"
)


# -- the loopback web: a few server processes, each serving some of the hosts -----------------
STRONG_SHARE, WEAK_SHARE = 0.60, 0.15  # of the hosts; the rest send no validators
LAST_MODIFIED = ("Tue, 01 Aug 2023 08:00:00 GMT", "Wed, 02 Aug 2023 08:00:00 GMT")
UPDATE = "<p>Update: a reader pointed out a mistake in the second example; it is fixed now.</p>\n"


def validators_of(host: int, hosts: int) -> str:
    """ "strong", "weak" or "none" for host number ``host`` (0-based) of ``hosts``."""
    if host < round(hosts * STRONG_SHARE):
        return "strong"
    if host < round(hosts * (STRONG_SHARE + WEAK_SHARE)):
        return "weak"
    return "none"


def changed(n: int, night: int, share: float) -> bool:
    """Whether page ``n`` has changed by ``night`` (1-based): ``share`` of them, spread out."""
    return night >= 2 and (n * 2654435761) % 10_000 < share * 10_000


def _serve(
    addresses: list[str],
    port: int,
    latency: float,
    hosts: int,
    share: float,
    night: Any,
    sent: Any,
    ready: Any,
) -> None:
    import asyncio
    import hashlib

    from aiohttp import web

    def count(response: web.Response) -> web.Response:
        # status line, headers, and the Date/Server/Content-Length aiohttp adds (~80 bytes)
        size = 17 + sum(len(k) + len(v) + 4 for k, v in response.headers.items()) + 80
        with sent.get_lock():
            sent.value += size + len(response.body or b"")
        return response

    async def page(request: web.Request) -> web.Response:
        await asyncio.sleep(latency)
        n = int(request.match_info["n"])
        edition = 1 + changed(n, night.value, share)
        text = PAGE.format(n=n).replace("</article>", UPDATE * (edition - 1) + "</article>")
        body = text.encode()
        host = int((request.host or "").split(":")[0].split(".")[-1]) - 1
        kind = validators_of(host, hosts)
        headers = {}
        if kind != "none":
            tag = f'"{hashlib.sha1(body).hexdigest()[:20]}"'
            headers["ETag"] = f"W/{tag}" if kind == "weak" else tag
        if kind == "strong":
            headers["Last-Modified"] = LAST_MODIFIED[edition - 1]
        asked = request.headers.get("If-None-Match")
        etag = headers.get("ETag", "").removeprefix("W/")
        if asked is not None:
            tags = [t.strip().removeprefix("W/") for t in asked.split(",")]
            fresh = bool(etag) and etag in tags
        else:
            since = request.headers.get("If-Modified-Since")
            fresh = since is not None and since == headers.get("Last-Modified")
        if fresh:
            return count(web.Response(status=304, headers=headers))
        return count(web.Response(body=body, content_type="text/html", headers=headers))

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/article/{n}", page)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        for address in addresses:
            await web.TCPSite(runner, address, port, backlog=1024).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


class Web:
    """The server processes, the night they serve and the bytes they sent."""

    def __init__(self, hosts: int, latency: float, share: float) -> None:
        self.port = _free_port()
        context = multiprocessing.get_context("spawn")
        self.night = context.Value("i", 1)
        self.sent = context.Value("q", 0)
        addresses = [f"127.0.0.{i}" for i in range(1, hosts + 1)]
        self.processes = []
        for chunk in range(SERVER_PROCESSES):
            mine = addresses[chunk::SERVER_PROCESSES]
            if not mine:
                continue
            ready = context.Event()
            args = (mine, self.port, latency, hosts, share, self.night, self.sent, ready)
            process = context.Process(target=_serve, args=args, daemon=True)
            process.start()
            if not ready.wait(30):
                raise RuntimeError("the loopback web did not start")
            self.processes.append(process)

    def take_bytes(self) -> int:
        """Bytes sent since the last call."""
        with self.sent.get_lock():
            value, self.sent.value = self.sent.value, 0
        return int(value)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def urls(links: int, hosts: int, port: int) -> list[str]:
    return [f"http://127.0.0.{i % hosts + 1}:{port}/article/{i}" for i in range(links)]


def write_inputs(folder: Path, links: list[str]) -> tuple[Path, Path]:
    """readings.yaml (weeks of 50 readings) for linkkeeper, links.md for lychee."""
    lines = ["title: Benchmark", "weeks:"]
    for start in range(0, len(links), 50):
        lines += [f"  - week: {start // 50 + 1}", "    readings:"]
        for n, url in enumerate(links[start : start + 50], start=start):
            lines += [f"      - id: r{n}", f"        title: Notes r{n}", f"        url: {url}"]
    readings = folder / "readings.yaml"
    readings.write_text("\n".join(lines) + "\n", encoding="utf-8")
    markdown = folder / "links.md"
    markdown.write_text("".join(f"- <{url}>\n" for url in links), encoding="utf-8")
    return readings, markdown


# -- running one tool ----------------------------------------------------------------------------
def measure(command: list[str], cwd: Path) -> tuple[float, float, float, int]:
    """(wall seconds, CPU seconds, peak RSS MiB, exit code) of one process."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # this checkout, installed or not
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1) and process.stderr is not None:
        sys.stderr.write(process.stderr.read()[-2000:])
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss / 1024, process.returncode


PROFILE: Path | None = None  # --profile: run linkkeeper under cProfile, write stats here
Run = tuple[float, float, float, int, int]  # wall, CPU, peak MiB, exit code, links ok


def run_linkkeeper(folder: Path, readings: Path, night: int) -> Run:
    """Night 1 into a fresh ``snapshots/``; night 2 re-checks every link on the same one."""
    snapshots = folder / "snapshots"
    if night == 1:
        shutil.rmtree(snapshots, ignore_errors=True)
    report = folder / "linkkeeper.json"
    profiler = ["-m", "cProfile", "-o", f"{PROFILE}.{night}"] if PROFILE else []
    command = [
        sys.executable, *profiler, "/tmp/prof/uv.py", "check",
        "--readings", str(readings), "--snapshots", str(snapshots),
        "--allow-private", "--max-age", "0", "--fail-on", "never",
        "--max-concurrency", str(MAX_CONCURRENCY),
        "--host-concurrency", str(HOST_CONCURRENCY), "--host-interval", "0",
        "--format", "json", "--output", str(report),
    ]  # fmt: skip
    wall, cpu, rss, code = measure(command, folder)
    import json

    summary = json.loads(report.read_text())["summary"] if report.exists() else {}
    return wall, cpu, rss, code, summary.get("by_verdict", {}).get("ok", 0)


def run_lychee(folder: Path, markdown: Path, night: int) -> Run:
    """Every link, every night (no cache: a nightly lychee's one-day cache has expired)."""
    report = folder / "lychee.json"
    command = [
        str(Path(sys.executable).with_name("lychee")), "--no-progress",
        "--max-concurrency", str(MAX_CONCURRENCY),
        "--host-concurrency", str(HOST_CONCURRENCY), "--host-request-interval", "0s",
        "--format", "json", "--output", str(report), str(markdown),
    ]  # fmt: skip
    wall, cpu, rss, code = measure(command, folder)
    import json

    ok = json.loads(report.read_text()).get("successful", 0) if report.exists() else 0
    return wall, cpu, rss, code, ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--links", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per answer")
    parser.add_argument("--changed", type=float, default=0.05, help="share changed by night 2")
    parser.add_argument("--repeat", type=int, default=1, help="runs per tool and size (best kept)")
    parser.add_argument("--tools", nargs="+", default=["linkkeeper", "lychee"])
    parser.add_argument("--profile", type=Path, help="write linkkeeper's cProfile stats here")
    args = parser.parse_args()
    global PROFILE
    PROFILE = args.profile
    # Measured as installed: pip compiles a package's bytecode at install time, so a nightly
    # run never compiles linkkeeper's modules (PYTHONDONTWRITEBYTECODE in an environment
    # would otherwise make every run here compile them again, about 0.04 s a process).
    compileall.compile_dir(REPO / "linkkeeper", quiet=1)
    if args.hosts > 254:
        parser.error("at most 254 hosts (127.0.0.1-254)")

    web = Web(args.hosts, args.latency, args.changed)
    print(f"{args.hosts} hosts at {args.latency * 1000:g} ms, {MAX_CONCURRENCY} in flight, "
          f"{HOST_CONCURRENCY} per host, no interval; {args.changed:.0%} of pages change "
          "before night 2")  # fmt: skip
    print(f"{'links':>6}  {'tool':<10} {'night':>5} {'wall s':>7} {'cpu s':>6} "
          f"{'ms cpu/link':>11} {'peak MiB':>9} {'MB recv':>8} {'ok':>6}  exit")  # fmt: skip
    runners = {"linkkeeper": run_linkkeeper, "lychee": run_lychee}
    try:
        with tempfile.TemporaryDirectory(prefix="lk-bench-") as tmp:
            folder = Path(tmp)
            for links in args.links:
                readings, markdown = write_inputs(folder, urls(links, args.hosts, web.port))
                sources = {"linkkeeper": readings, "lychee": markdown}
                for name in args.tools:
                    best: dict[int, tuple[Any, ...]] = {}
                    for _ in range(args.repeat):  # a repeat runs both nights again
                        for night in (1, 2):
                            web.night.value = night
                            web.take_bytes()
                            run = (*runners[name](folder, sources[name], night), web.take_bytes())
                            if night not in best or run[0] < best[night][0]:
                                best[night] = run
                    for night, (wall, cpu, rss, code, ok, received) in sorted(best.items()):
                        figures = (
                            f"{wall:>7.2f} {cpu:>6.2f} {cpu / links * 1000:>11.3f} {rss:>9.1f} "
                            f"{received / 1e6:>8.2f} {ok:>6}  {code}"
                        )
                        print(f"{links:>6}  {name:<10} {night:>5} {figures}", flush=True)
    finally:
        web.stop()
    if PROFILE:
        import pstats

        for night in (1, 2):
            print(f"-- night {night}")
            pstats.Stats(f"{PROFILE}.{night}").sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
