"""CPU per request of the Fetcher: N GETs to loopback hosts served by another process.

    /work/venv/bin/python bench/bench_fetcher.py [N] [--hosts 20] [--concurrency 128]
        [--per-host 10] [--rounds 5] [--references] [--profile FILE]

The load is the one ``linkkeeper check`` puts on the fetcher in ``bench/check_vs_lychee.py``:
N URLs spread over H hosts (``127.0.0.1`` .. ``127.0.0.H``), driven by
:func:`~linkkeeper.web.politeness.run_bounded` with 128 in flight and 10 per host, no gap between
requests to a host. The server runs in a child process so only the client's CPU is counted
(``process_time``); each round's figure is printed and the median kept.

``--references`` adds the same load without the Fetcher's scheduler, guard and redirect
handling: bare aiohttp (the floor: the Fetcher calls aiohttp directly), then what it used to sit
on, an ``httpx.Request`` handed straight to httpx-aiohttp's transport and ``httpx.AsyncClient``
over that transport.
Every load runs as a check run does: on uvloop (``run_async``) with the collector paced.
The machine's other load moves every figure; compare figures from one run, or alternate runs.
``--profile FILE`` runs one Fetcher round under cProfile and prints the top functions by tottime.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from linkkeeper.core import paced_collector, run_async
from linkkeeper.web.fetcher import Fetcher, FetchSettings
from linkkeeper.web.politeness import run_bounded

SERVER = """
import socket, sys
from aiohttp import web
async def ok(request):
    return web.Response(text="<html><title>ok</title><p>" + "x" * 2000 + "</p></html>",
                        content_type="text/html")
async def main(hosts):
    app = web.Application()
    app.router.add_get("/{tail:.*}", ok)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket(); sock.bind(("127.0.0.1", 0)); port = sock.getsockname()[1]; sock.close()
    for i in range(1, hosts + 1):
        await web.TCPSite(runner, f"127.0.0.{i}", port, backlog=1024).start()
    print(port, flush=True)
    await asyncio.Event().wait()
import asyncio
asyncio.run(main(int(sys.argv[1])))
"""


def host_of(url: str) -> str:
    return url.split("/", 3)[2]


async def measure(
    label: str, urls: list[str], args: argparse.Namespace, one: Callable[[str], Awaitable[object]]
) -> float:
    """Median ms of CPU per request over ``args.rounds`` rounds (after one warm-up round)."""

    async def load(batch: list[str]) -> None:
        await run_bounded(
            batch, one, args.concurrency, key=host_of, per_key=lambda _host: args.per_host
        )

    await load(urls[: args.concurrency * 2])  # warm up the pools
    figures = []
    for _ in range(args.rounds):
        cpu, wall = time.process_time(), time.perf_counter()
        await load(urls)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        figures.append(cpu * 1000 / len(urls))
        print(f"  {label:30s} {len(urls)} GETs: {wall:5.2f} s wall, {figures[-1]:5.3f} ms CPU")
    median = statistics.median(figures)
    print(f"{label:32s} median {median:5.3f} ms CPU per request")
    return median


def fetcher_settings(args: argparse.Namespace) -> FetchSettings:
    return FetchSettings(
        allow_private=True,
        max_concurrency=args.concurrency,
        host_concurrency=args.per_host,
        host_interval=0.0,
        robots_crawl_delay_hosts=(),
    )


async def via_fetcher(urls: list[str], args: argparse.Namespace) -> None:
    async with Fetcher(fetcher_settings(args)) as fetcher:

        async def one(url: str) -> object:
            result = await fetcher.fetch(url)
            assert result.status == 200 and len(result.body) > 2000, result
            return result

        await measure("Fetcher", urls, args, one)


async def references(urls: list[str], args: argparse.Namespace) -> None:
    async with aiohttp.ClientSession() as session:

        async def raw(url: str) -> object:
            async with session.get(url) as response:
                assert response.status == 200
                return await response.read()

        await measure("bare aiohttp (floor)", urls, args, raw)

    limits = httpx.Limits(max_connections=args.concurrency)
    async with httpx.AsyncClient(transport=AiohttpTransport(limits=limits)) as client:

        async def via_client(url: str) -> object:
            response = await client.get(url)
            assert response.status_code == 200
            return response

        await measure("bare httpx, aiohttp transport", urls, args, via_client)

    transport = AiohttpTransport(limits=limits)
    try:

        async def direct(url: str) -> object:
            response = await transport.handle_async_request(httpx.Request("GET", url))
            try:
                assert response.status_code == 200
                return b"".join([chunk async for chunk in response.aiter_raw()])
            finally:
                await response.aclose()

        await measure("httpx Request, transport direct", urls, args, direct)
    finally:
        await transport.aclose()


async def profiled(urls: list[str], args: argparse.Namespace) -> None:
    import cProfile
    import pstats

    async with Fetcher(fetcher_settings(args)) as fetcher:

        async def one(url: str) -> object:
            return await fetcher.fetch(url)

        await run_bounded(urls[:500], one, args.concurrency, key=host_of, per_key=args.per_host)
        profiler = cProfile.Profile()
        profiler.enable()
        await run_bounded(urls, one, args.concurrency, key=host_of, per_key=args.per_host)
        profiler.disable()
    profiler.dump_stats(args.profile)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("requests", type=int, nargs="?", default=4000)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--per-host", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--references", action="store_true", help="also bare aiohttp and httpx")
    parser.add_argument("--profile", help="profile one Fetcher round; write stats here")
    args = parser.parse_args()
    if not 1 <= args.hosts <= 254:
        parser.error("--hosts: 1 to 254 (127.0.0.1-254)")
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(args.hosts)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        urls = [
            f"http://127.0.0.{i % args.hosts + 1}:{port}/page?i={i}" for i in range(args.requests)
        ]
        print(
            f"{args.requests} GETs over {args.hosts} hosts, {args.concurrency} in flight, "
            f"{args.per_host} per host"
        )
        with paced_collector():  # as a check run: its loop (uvloop) and collector pace
            if args.profile:
                run_async(profiled(urls, args))
                return
            run_async(via_fetcher(urls, args))
            if args.references:
                run_async(references(urls, args))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
