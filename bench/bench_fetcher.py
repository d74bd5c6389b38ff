"""CPU per request of the Fetcher: N GETs to a loopback server running in another process.

    /work/venv/bin/python bench/bench_fetcher.py [N]

The server runs in a child process so only the client's CPU is counted (process_time). For
reference the same load also goes through a bare httpx client (default pool) and httpx over
the aiohttp transport, without the Fetcher's scheduler, guard and redirect handling.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import httpx
from httpx_aiohttp import AiohttpTransport

from linkkeeper.fetcher import Fetcher, FetchSettings

SERVER = """
import socket, sys
from aiohttp import web
async def ok(request):
    return web.Response(text="<html><title>ok</title><p>" + "x" * 2000 + "</p></html>",
                        content_type="text/html")
app = web.Application()
app.router.add_get("/{tail:.*}", ok)
sock = socket.socket(); sock.bind(("127.0.0.1", 0)); sock.listen(512)
print(sock.getsockname()[1], flush=True)
web.run_app(app, sock=sock, print=None, access_log=None)
"""


async def measure(label: str, n: int, one: Callable[[int], Awaitable[object]]) -> None:
    sem = asyncio.Semaphore(64)

    async def bounded(i: int) -> object:
        async with sem:
            return await one(i)

    await asyncio.gather(*(bounded(i) for i in range(50)))  # warm up the pool
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(bounded(i) for i in range(n)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{label:28s} {n} GETs: {wall:5.2f} s wall, {cpu * 1000 / n:5.2f} ms CPU per request")


async def main(n: int, port: int) -> None:
    base = f"http://127.0.0.1:{port}/page"
    settings = FetchSettings(
        allow_private=True, host_concurrency=64, host_interval=0.0, robots_crawl_delay_hosts=()
    )
    async with Fetcher(settings) as fetcher:

        async def via_fetcher(i: int) -> object:
            result = await fetcher.fetch(f"{base}?i={i}")
            assert result.status == 200, result
            return result

        await measure("Fetcher (aiohttp transport)", n, via_fetcher)

    for label, transport in [
        ("bare httpx, aiohttp transport", AiohttpTransport()),
        ("bare httpx, default pool", httpx.AsyncHTTPTransport()),
    ]:
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(transport=transport, limits=limits) as client:

            async def via_client(i: int, client: httpx.AsyncClient = client) -> object:
                response = await client.get(f"{base}?i={i}")
                assert response.status_code == 200
                return response

            await measure(label, n, via_client)


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        asyncio.run(main(count, int(server.stdout.readline())))
    finally:
        server.terminate()
        server.wait(timeout=10)
