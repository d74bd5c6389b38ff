"""Benchmark: ``linkkeeper check`` against ``lychee`` on the same loopback web (run by hand).

    /work/venv/bin/python bench/check_vs_lychee.py --links 1000 10000 --hosts 20 --latency 0.05

N readings spread over H hosts (``127.0.0.1`` .. ``127.0.0.H``: distinct addresses, so both
tools see distinct hosts); every page answers 200 after ``--latency`` seconds with a realistic
article of about 5 KB (head with meta tags, navigation, some 700 words, a script; its title
and headings are not not-found phrases, so no soft-404 rule fires). Both tools get the same
limits: 128 requests in flight, 10 per host, no gap between requests to a host; a fresh
``snapshots/`` for every linkkeeper run (everything is fetched and recorded).
Reports wall time, CPU time (user + system) and peak RSS of each tool's process (``wait4``
rusage). Not run in CI. ``--profile FILE`` runs linkkeeper under cProfile (slower; a sampling
profiler such as ``py-spy record --gil`` shows the CPU split more truly).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
def _serve(addresses: list[str], port: int, latency: float, ready: multiprocessing.Event) -> None:
    import asyncio

    from aiohttp import web

    async def page(request: web.Request) -> web.Response:
        await asyncio.sleep(latency)
        n = request.match_info["n"]
        return web.Response(text=PAGE.format(n=n), content_type="text/html")

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


def start_web(hosts: int, latency: float) -> tuple[list[multiprocessing.Process], int]:
    port = _free_port()
    addresses = [f"127.0.0.{i}" for i in range(1, hosts + 1)]
    context = multiprocessing.get_context("spawn")
    processes = []
    for chunk in range(SERVER_PROCESSES):
        mine = addresses[chunk::SERVER_PROCESSES]
        if not mine:
            continue
        ready = context.Event()
        process = context.Process(target=_serve, args=(mine, port, latency, ready), daemon=True)
        process.start()
        if not ready.wait(30):
            raise RuntimeError("the loopback web did not start")
        processes.append(process)
    return processes, port


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


def run_linkkeeper(folder: Path, readings: Path) -> tuple[float, float, float, int, int]:
    snapshots = folder / "snapshots"
    shutil.rmtree(snapshots, ignore_errors=True)
    report = folder / "linkkeeper.json"
    profiler = ["-m", "cProfile", "-o", str(PROFILE)] if PROFILE else []
    command = [
        sys.executable, *profiler, "-m", "linkkeeper", "check",
        "--readings", str(readings), "--snapshots", str(snapshots),
        "--allow-private", "--force", "--fail-on", "never",
        "--max-concurrency", str(MAX_CONCURRENCY),
        "--host-concurrency", str(HOST_CONCURRENCY), "--host-interval", "0",
        "--format", "json", "--output", str(report),
    ]  # fmt: skip
    wall, cpu, rss, code = measure(command, folder)
    import json

    summary = json.loads(report.read_text())["summary"] if report.exists() else {}
    return wall, cpu, rss, code, summary.get("by_verdict", {}).get("ok", 0)


def run_lychee(folder: Path, markdown: Path) -> tuple[float, float, float, int, int]:
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
    parser.add_argument("--repeat", type=int, default=1, help="runs per tool and size (best kept)")
    parser.add_argument("--profile", type=Path, help="write linkkeeper's cProfile stats here")
    args = parser.parse_args()
    global PROFILE
    PROFILE = args.profile
    if args.hosts > 254:
        parser.error("at most 254 hosts (127.0.0.1-254)")

    servers, port = start_web(args.hosts, args.latency)
    print(f"{args.hosts} hosts at {args.latency * 1000:g} ms, {MAX_CONCURRENCY} in flight, "
          f"{HOST_CONCURRENCY} per host, no interval")  # fmt: skip
    print(f"{'links':>6}  {'tool':<10} {'wall s':>7} {'cpu s':>6} {'peak MiB':>9} {'ok':>6}  exit")
    try:
        with tempfile.TemporaryDirectory(prefix="lk-bench-") as tmp:
            folder = Path(tmp)
            for links in args.links:
                readings, markdown = write_inputs(folder, urls(links, args.hosts, port))
                tools = (
                    ("linkkeeper", run_linkkeeper, readings),
                    ("lychee", run_lychee, markdown),
                )
                for name, tool, source in tools:
                    best = min(
                        (tool(folder, source) for _ in range(args.repeat)), key=lambda r: r[0]
                    )
                    wall, cpu, rss, code, ok = best
                    figures = f"{wall:>7.2f} {cpu:>6.2f} {rss:>9.1f} {ok:>6}  {code}"
                    print(f"{links:>6}  {name:<10} {figures}")
    finally:
        for process in servers:
            process.terminate()
    if PROFILE:
        import pstats

        pstats.Stats(str(PROFILE)).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
