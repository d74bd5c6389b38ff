"""Run aiohttp apps as virtual hosts on loopback, in a background thread.

Each virtual host (``arxiv.org``, ``web.archive.org`` ...) gets two free ports on 127.0.0.1:
one stands for its ``https://`` origin and one for ``http://``. :meth:`Sandbox.remap_rules`
gives the ``--remap`` rules that send the real URLs there, so linkkeeper runs on real URLs and
only the socket address changes. Every request is recorded for politeness assertions.

Two kinds of host serve no app: a *blackhole* accepts TCP connections and never answers (the
client's read timeout must fire), and a *refused* host holds a bound port that never listens
(every connect is refused at once).
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Self

from aiohttp import web

PUBLIC_HOST = web.AppKey("public_host", str)
REQUEST_LOG = web.AppKey("request_log", "RequestLog")


@dataclass(frozen=True)
class RecordedRequest:
    """One request a sandbox server received."""

    host: str  # public host name, e.g. "arxiv.org"
    scheme: str  # "https" or "http": which of the two ports it came in on
    method: str
    path: str  # path with query string
    headers: dict[str, str]
    time: float  # time.monotonic() on arrival
    body: bytes = b""


class RequestLog:
    """Thread-safe record of every request, so tests can assert politeness."""

    def __init__(self) -> None:
        self._items: list[RecordedRequest] = []
        self._lock = threading.Lock()

    def add(self, item: RecordedRequest) -> None:
        with self._lock:
            self._items.append(item)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __iter__(self) -> Iterator[RecordedRequest]:
        with self._lock:
            return iter(list(self._items))

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def for_host(self, host: str) -> list[RecordedRequest]:
        return [r for r in self if r.host == host]

    def matching(
        self, host: str, path_prefix: str = "/", method: str | None = None
    ) -> list[RecordedRequest]:
        return [
            r
            for r in self
            if r.host == host
            and r.path.startswith(path_prefix)
            and (method is None or r.method == method)
        ]


HostKind = Literal["app", "blackhole", "refused"]


@dataclass
class VirtualHost:
    """A public host name served by an aiohttp app built by ``make_app``."""

    name: str
    make_app: Callable[[], web.Application] | None = None  # None only for the socket kinds
    http_redirects_to_https: bool = False  # the http:// port answers 301 to https://
    ports: dict[str, int] = field(default_factory=dict)  # scheme -> port, set on start
    kind: HostKind = "app"

    @classmethod
    def blackhole(cls, name: str) -> VirtualHost:
        """A host that accepts connections and never writes a byte (a read timeout)."""
        return cls(name, kind="blackhole")

    @classmethod
    def refused(cls, name: str) -> VirtualHost:
        """A host whose ports refuse every connection (a connect error)."""
        return cls(name, kind="refused")


def _recording_middleware(host: str, scheme: str, log: RequestLog):  # type: ignore[no-untyped-def]
    @web.middleware
    async def record(request: web.Request, handler):  # type: ignore[no-untyped-def]
        body = await request.read() if request.can_read_body else b""
        log.add(
            RecordedRequest(
                host=host,
                scheme=scheme,
                method=request.method,
                path=request.path_qs,
                headers={k.lower(): v for k, v in request.headers.items()},
                time=time.monotonic(),
                body=body,
            )
        )
        return await handler(request)

    return record


def _https_redirect_app(host: str) -> web.Application:
    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPMovedPermanently(f"https://{host}{request.path_qs}")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", redirect)
    return app


class _Silent(asyncio.Protocol):
    """Blackhole protocol: logs the request line once, then never answers."""

    def __init__(self, host: str, scheme: str, log: RequestLog, open_: set[Any]) -> None:
        self.host, self.scheme, self.log, self.open = host, scheme, log, open_
        self.buffer = b""
        self.logged = False
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.open.add(transport)

    def data_received(self, data: bytes) -> None:
        if self.logged:
            return
        self.buffer += data
        head, sep, _ = self.buffer.partition(b"\r\n\r\n")
        if not sep:
            return
        self.logged = True
        lines = head.decode("latin-1").split("\r\n")
        method, _, rest = lines[0].partition(" ")
        headers = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
        self.log.add(
            RecordedRequest(
                host=self.host,
                scheme=self.scheme,
                method=method,
                path=rest.rpartition(" ")[0] or rest,
                headers={k.strip().lower(): v.strip() for k, v in headers.items()},
                time=time.monotonic(),
            )
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self.open.discard(self.transport)


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


class Sandbox:
    """Virtual hosts on loopback in one background event loop; use as a context manager."""

    def __init__(self, hosts: list[VirtualHost]) -> None:
        self.hosts = {h.name: h for h in hosts}
        self.requests = RequestLog()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runners: list[web.AppRunner] = []
        self._servers: list[asyncio.Server] = []  # blackholes
        self._silent: set[Any] = set()  # blackhole connections, aborted on stop
        self._held: list[socket.socket] = []  # bound, never listening: refused ports
        self.wayback: Any = None  # the WaybackMachine state, when one is served
        self.discord: Any = None  # the DiscordAPI state, when one is served

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Self:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="sandbox", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start_all(), loop).result(timeout=30)
        return self

    async def _start_all(self) -> None:
        starters = {
            "app": self._start_app,
            "blackhole": self._start_blackhole,
            "refused": self._start_refused,
        }
        for host in self.hosts.values():
            for scheme in ("https", "http"):
                host.ports[scheme] = await starters[host.kind](host, scheme)

    async def _start_app(self, host: VirtualHost, scheme: str) -> int:
        if scheme == "http" and host.http_redirects_to_https:
            app = _https_redirect_app(host.name)
        else:
            assert host.make_app is not None, f"virtual host {host.name} has no make_app"
            app = host.make_app()
        app[PUBLIC_HOST] = host.name
        app[REQUEST_LOG] = self.requests
        app.middlewares.insert(0, _recording_middleware(host.name, scheme, self.requests))
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await runner.setup()
        sock = _listening_socket()
        await web.SockSite(runner, sock).start()
        self._runners.append(runner)
        return int(sock.getsockname()[1])

    async def _start_blackhole(self, host: VirtualHost, scheme: str) -> int:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: _Silent(host.name, scheme, self.requests, self._silent),
            sock=_listening_socket(),
        )
        self._servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    async def _start_refused(self, host: VirtualHost, scheme: str) -> int:
        # Bound without SO_REUSEADDR and never listening: nothing else can take the port,
        # and the kernel answers every SYN with RST.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._held.append(sock)
        return int(sock.getsockname()[1])

    def stop(self) -> None:
        if self._loop is None:
            return
        loop = self._loop

        async def _cleanup() -> None:
            for server in self._servers:
                server.close()
            for transport in list(self._silent):
                transport.abort()
            for runner in self._runners:
                await runner.cleanup()

        try:
            asyncio.run_coroutine_threadsafe(_cleanup(), loop).result(timeout=30)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(timeout=10)
            loop.close()
            self._loop = None
            self._runners.clear()
            self._servers.clear()
            for sock in self._held:
                sock.close()
            self._held.clear()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addressing ------------------------------------------------------------------------
    def origin(self, host: str, scheme: str = "https") -> str:
        """The loopback origin that stands for ``scheme://host``."""
        return f"http://127.0.0.1:{self.hosts[host].ports[scheme]}"

    def remap_rules(self) -> list[str]:
        """``PATTERN REPLACEMENT`` rules (as for ``--remap``) sending real URLs here."""
        rules = []
        for host in self.hosts.values():
            for scheme, port in sorted(host.ports.items()):
                pattern = f"^{scheme}://{re.escape(host.name)}(?=[/?#]|$)"
                rules.append(f"{pattern} http://127.0.0.1:{port}")
        return rules
