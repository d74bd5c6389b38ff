"""HTTP clients for the APIs linkkeeper talks to (Wayback Machine, GitHub), with the fetcher's
guards around every request.

``check``'s :class:`~linkkeeper.web.fetcher.Fetcher` refuses private addresses on every hop, caps
every body and bounds every request in time; an API client must do no less, because its
answers come from a server that may be hostile or impersonated (``--wayback-url``,
``--github-api``) and its redirects are followed. The transports here give any ``httpx`` client:

- the private-address guard on **every hop** (httpx calls the transport once per redirect):
  an IP literal (after ``--remap``) is judged before connecting, a name inside the
  connection's own DNS lookup (:class:`~linkkeeper.web.netsafety.GuardedResolver`; for the sync
  GitHub client a guarded network backend does the same), unless ``allow_private``;
- a cap on the **decoded** size of an answer (:data:`API_MAX_BODY`; gzip and deflate are
  decoded here, capped, so a bomb stops at the cap) and a **total deadline** per request
  (:data:`API_TOTAL_TIMEOUT`), headers and body: an endless or dripping answer ends in
  :class:`AnswerTooLarge` or a timeout, which the clients report as a failed lookup;
- error messages in the original URL space: the remapped socket address
  (``127.0.0.1:PORT``) never reaches a reason, a ledger or a page.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
import zlib
from collections.abc import AsyncIterator, Iterable
from typing import Any

import aiohttp
import httpcore
import httpx
from aiohttp.abc import AbstractResolver
from httpx_aiohttp import AiohttpTransport

from linkkeeper.core import textsafe
from linkkeeper.web.fetcher import _Inflater
from linkkeeper.web.netsafety import (
    GuardedResolver,
    PrivateAddressRefused,
    is_public,
    literal_refusal,
)
from linkkeeper.web.remap import Remapper, RemapTransport, in_original_space

API_MAX_BODY = 8 * 1024 * 1024  # decoded bytes of one API answer (CDX asks for 1 row)
API_TOTAL_TIMEOUT = 60.0  # seconds for one request, headers and body
_DROPPED = ("content-encoding", "content-length", "transfer-encoding")  # decoded here


class AnswerTooLarge(httpx.DecodingError):
    """The answer was longer than the cap; the rest was not read."""


class PrivateAddressBlocked(httpx.ConnectError):
    """A hop would have connected to a private, loopback or link-local address."""


def _private_cause(exc: BaseException) -> PrivateAddressRefused | None:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        if isinstance(current, PrivateAddressRefused):
            return current
        seen.append(current)
        current = current.__cause__ or current.__context__
    return None


def _reworded(exc: httpx.HTTPError, request: httpx.Request, target: httpx.URL) -> httpx.HTTPError:
    """The same error in the original URL space, as plain text: no remapped address, no raw
    bytes a server sent."""
    text = textsafe.plain(in_original_space(str(exc), str(request.url), str(target)), 500)
    try:
        return type(exc)(text, request=request)  # type: ignore[call-arg]
    except TypeError:
        return httpx.TransportError(text, request=request)


class _CappedStream(httpx.AsyncByteStream):
    """The decoded body, at most ``cap`` bytes, within the request's deadline."""

    def __init__(
        self, raw: httpx.Response, request: httpx.Request, cap: int, deadline: float, total: float
    ) -> None:
        self._raw, self._request = raw, request
        self._cap, self._deadline, self._total = cap, deadline, total
        self._inflater = _Inflater(raw.headers.get("content-encoding", ""))

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = self._raw.aiter_raw().__aiter__()
        size = 0
        while True:
            try:
                async with asyncio.timeout_at(self._deadline):
                    chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise httpx.ReadTimeout(
                    f"no complete answer within {self._total:g} s ({size} bytes read)",
                    request=self._request,
                ) from None
            try:
                data = self._inflater.feed(chunk, self._cap - size + 1)
            except zlib.error as exc:
                raise httpx.DecodingError(
                    f"the answer's Content-Encoding does not decode ({exc})", request=self._request
                ) from None
            size += len(data)
            if size > self._cap:
                raise AnswerTooLarge(
                    f"answer longer than {self._cap} bytes; not read further",
                    request=self._request,
                )
            yield data

    async def aclose(self) -> None:
        await self._raw.aclose()


class GuardedAsyncTransport(httpx.AsyncBaseTransport):
    """aiohttp under httpx (the fetcher's stack) with the guards of this module."""

    def __init__(
        self,
        *,
        remap: Remapper | None = None,
        allow_private: bool = False,
        resolver: AbstractResolver | None = None,
        max_body: int = API_MAX_BODY,
        total_timeout: float = API_TOTAL_TIMEOUT,
    ) -> None:
        self._remap = remap or None
        self._allow_private = allow_private
        self._resolver = resolver
        self.max_body, self.total_timeout = max_body, total_timeout
        self._ssl = httpx.create_ssl_context()  # here, not on the first request (~15 ms)
        inner: httpx.AsyncBaseTransport = AiohttpTransport(client=self._session)
        self._inner = RemapTransport(inner, self._remap) if self._remap else inner

    def _session(self) -> aiohttp.ClientSession:
        resolver = self._resolver if self._allow_private else GuardedResolver(self._resolver)
        connector = aiohttp.TCPConnector(ssl=self._ssl, resolver=resolver)
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    def _target(self, request: httpx.Request) -> httpx.URL:
        if self._remap is None:
            return request.url
        try:
            return httpx.URL(self._remap.apply(str(request.url)))
        except (httpx.InvalidURL, UnicodeError):
            return request.url

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        target = self._target(request)
        if not self._allow_private and (why := literal_refusal(target.host)):
            raise PrivateAddressBlocked(why, request=request)
        deadline = asyncio.get_running_loop().time() + self.total_timeout
        try:
            async with asyncio.timeout_at(deadline):
                response = await self._inner.handle_async_request(request)
        except TimeoutError:
            raise httpx.ConnectTimeout(
                f"no answer within {self.total_timeout:g} s", request=request
            ) from None
        except httpx.HTTPError as exc:
            if (refused := _private_cause(exc)) is not None:
                raise PrivateAddressBlocked(str(refused), request=request) from None
            raise _reworded(exc, request, target) from None
        headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _DROPPED]
        stream = _CappedStream(response, request, self.max_body, deadline, self.total_timeout)
        return httpx.Response(
            response.status_code,
            headers=headers,
            stream=stream,
            request=request,
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


# -- the sync client (GitHub) -----------------------------------------------------------------
class _GuardedBackend(httpcore.SyncBackend):
    """httpcore's sockets, connecting only to public addresses: the name is looked up here and
    the checked address is the one connected to (TLS still verifies the name)."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        if why := literal_refusal(host):
            raise httpcore.ConnectError(why)
        try:
            answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(f"{host}: {exc}") from None
        addresses = [str(answer[4][0]) for answer in answers]
        for address in addresses:
            if not is_public(ipaddress.ip_address(address.split("%")[0])):
                raise httpcore.ConnectError(
                    f"{host} resolves to {address}, a private/loopback/link-local address "
                    "(refused unless private addresses are allowed)"
                )
        return super().connect_tcp(addresses[0], port, timeout, local_address, socket_options)


class GuardedTransport(httpx.BaseTransport):
    """httpx's own sync transport with the guards of this module (GitHub's REST API)."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        max_body: int = API_MAX_BODY,
        total_timeout: float = API_TOTAL_TIMEOUT,
    ) -> None:
        self._inner = httpx.HTTPTransport()
        if not allow_private:  # httpx does not take a network backend: give its pool one
            self._inner._pool = httpcore.ConnectionPool(
                ssl_context=httpx.create_ssl_context(), network_backend=_GuardedBackend()
            )
        self.max_body, self.total_timeout = max_body, total_timeout

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        deadline = time.monotonic() + self.total_timeout
        response = self._inner.handle_request(request)
        body = bytearray()
        inflater = _Inflater(response.headers.get("content-encoding", ""))
        try:
            for chunk in response.iter_raw():
                try:
                    body += inflater.feed(chunk, self.max_body - len(body) + 1)
                except zlib.error as exc:
                    raise httpx.DecodingError(
                        f"the answer's Content-Encoding does not decode ({exc})", request=request
                    ) from None
                if len(body) > self.max_body:
                    raise AnswerTooLarge(
                        f"answer longer than {self.max_body} bytes; not read further",
                        request=request,
                    )
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout(
                        f"no complete answer within {self.total_timeout:g} s", request=request
                    )
        finally:
            response.close()
        headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _DROPPED]
        return httpx.Response(
            response.status_code, headers=headers, content=bytes(body), request=request
        )

    def close(self) -> None:
        self._inner.close()
