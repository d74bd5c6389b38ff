"""Fetch one URL well, many URLs fast and politely: the HTTP layer under the judges and Wayback.

:class:`Fetcher` owns one ``aiohttp.ClientSession`` (no cookie jar, no redirects, no decoding of
its own), a per-run ``httpx.Cookies`` jar, the per-host scheduler
(:mod:`linkkeeper.web.politeness`) and the private-address guard (:mod:`linkkeeper.web.netsafety`).
:meth:`Fetcher.fetch` never raises for network trouble: it always returns a
:class:`~linkkeeper.core.models.FetchResult` whose ``error`` names the failure class.

It calls aiohttp directly. It used to build an ``httpx.Request`` per hop and hand it to
httpx-aiohttp's transport, which wrapped aiohttp's answer in an ``httpx.Response``; on a steady
night those objects (URL copies, header encoding and decoding, exception mapping, the stream
wrapper) cost more CPU than aiohttp's own request. What went on the wire then is kept byte for
byte, because servers (and the ledger's history) saw it:

- *Headers:* httpx's list, handed to aiohttp as ``httpx.Headers.items()``: lower-case names,
  ``host`` first (the real URL's, also when ``--remap`` connects elsewhere), then
  ``Content-Length: 0`` for a bodiless POST/PUT/PATCH, the client defaults updated by the
  browser headers and User-Agent, the host's configured headers, the call's (an updated name
  moves to the end), and ``cookie`` last. The merged defaults are built once per run (and per
  configured host); a request copies them. A request outside that plain case (a form body, a
  name that changes httpx's own bookkeeping: ``host``, ``content-length``,
  ``transfer-encoding``, ``cookie``, or header text httpx would refuse) is still built by
  ``httpx.Request``, exactly as before, and only its headers and body are used.
- *URL:* ``str(httpx.URL)`` (the remapped one when a rule applies), which aiohttp requotes as
  it did under the transport. The ``httpx.URL`` is :func:`~linkkeeper.web.plainurl.parse_url`'s:
  httpx's own parse, built without running its parser when the text is already in its form.
- *Cookies:* the jar stays ``httpx.Cookies`` (real URL space); httpx objects are built for it
  only when it holds cookies (the ``Cookie`` header) or an answer sets some.
- *Answers:* headers become ``dict(httpx.Headers(raw).items())`` as the judges always read them
  (see :func:`_answer_headers`); the body is read in the transport's 16 KiB pieces, so the
  inflater sees the same chunks; aiohttp's exceptions reach :func:`classify` without httpx's
  wrapping, which it looked through anyway (innermost cause first).

Usage::

    async with Fetcher(FetchSettings(), remap=Remapper.parse(rules)) as fetcher:
        result = await fetcher.fetch("https://arxiv.org/abs/1706.03762")
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import math
import random
import socket
import ssl
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Self
from urllib import robotparser

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver

from linkkeeper import __version__
from linkkeeper.core import FetchResult, HostOverride, textsafe
from linkkeeper.web.netsafety import GuardedResolver, PrivateAddressRefused, literal_refusal
from linkkeeper.web.plainurl import parse_url
from linkkeeper.web.politeness import HostPolicy, HostScheduler
from linkkeeper.web.remap import Remapper, in_original_space

CONTACT = "https://github.com/ai-workshop/linkkeeper"


def user_agent(contact: str = CONTACT) -> str:
    """The honest User-Agent: who we are and where to complain."""
    return f"linkkeeper/{__version__} (+{contact}; reading-list link checker)"


BROWSER_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-US,en;q=0.9",
    "Accept-Encoding": "gzip, deflate",  # decoded here with a size cap (see _Inflater)
}

# httpx.AsyncClient's own defaults, which our headers update (the wire stays as it was).
CLIENT_DEFAULT_HEADERS = {
    "Accept": "*/*",
    "Accept-Encoding": "gzip, deflate",
    "Connection": "keep-alive",
    "User-Agent": "",
}

# Hosts with published rules; [tool.linkkeeper.hosts."HOST"] settings win over these.
BUILTIN_HOST_DEFAULTS: dict[str, HostOverride] = {
    "export.arxiv.org": HostOverride(concurrency=1, interval=3.0),  # arXiv API terms
}

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
BACKOFF_STATUSES = frozenset({429, 503})  # slow the whole host down
RETRY_STATUSES = frozenset({408, 429})  # plus every 5xx
RETRY_ERRORS = frozenset({"timeout", "reset"})
# HEAD failures a GET would only repeat: no fallback for these.
FINAL_ERRORS = frozenset({"dns", "connect", "tls", "private-address", "invalid-url"})
ROBOTS_MAX_BODY = 512 * 1024
DETAIL_MAX = 500  # characters of an error's own words kept in a reason
NOT_MODIFIED = 304
READ_CHUNK = 16 * 1024  # httpx-aiohttp's read size: the inflater keeps seeing the same pieces
# httpx sends "Content-Length: 0" when these methods carry no body.
BODILESS_LENGTH_METHODS = frozenset({"POST", "PUT", "PATCH"})
# Header names httpx.Request treats specially (its own Host and Content-Length, the jar's
# Cookie): a request naming one is built by httpx itself (see Fetcher._exact_request).
HTTPX_MANAGED = frozenset({"host", "content-length", "transfer-encoding", "cookie"})
UNASKED_304 = (
    "304 Not Modified answering a request that carried no validators (If-None-Match, "
    "If-Modified-Since): the answer says nothing about the page"
)


@dataclass(frozen=True)
class Revalidation:
    """A conditional request for one URL: the validators a past answer gave, and the hop they
    came from (``final_url`` after ``redirects``). They are sent only to that hop, reached by
    that same chain, so a 304 always answers exactly what was asked."""

    final_url: str
    redirects: tuple[tuple[int, str], ...] = ()
    etag: str | None = None  # strong ETags only (see linkkeeper.check.revalidate)
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        """The conditional headers; a validator that is not printable ASCII is not sent (it
        could not be encoded, and a request that cannot be sent must not cost a reading)."""
        sent = {}
        if self.etag and self.etag.isascii() and self.etag.isprintable():
            sent["If-None-Match"] = self.etag
        if (modified := self.last_modified) and modified.isascii() and modified.isprintable():
            sent["If-Modified-Since"] = modified
        return sent


@dataclass
class FetchSettings:
    """Knobs for one run; the defaults fit a nightly check of a reading list."""

    user_agent: str = field(default_factory=user_agent)
    max_concurrency: int = 64  # requests in flight, all hosts
    host_concurrency: int = 4  # requests in flight per host
    host_interval: float = 0.5  # seconds between request starts to one host
    host_overrides: dict[str, HostOverride] = field(default_factory=dict)  # from config
    host_defaults: dict[str, HostOverride] = field(
        default_factory=lambda: dict(BUILTIN_HOST_DEFAULTS)
    )
    connect_timeout: float = 10.0
    read_timeout: float = 10.0  # longest silence while reading
    total_timeout: float = 30.0  # one request, headers and body: a stalling body cannot hang
    max_body: int = 2 * 1024 * 1024  # decompressed bytes kept; the rest is not read
    max_redirects: int = 20  # as browsers (Chrome, Firefox) follow
    retries: int = 3  # extra attempts for transient failures
    retry_base: float = 1.0  # first backoff; doubles per attempt, plus jitter
    retry_after_cap: float = 40.0  # the longest Retry-After honoured before one more try
    link_timeout: float = 45.0  # one fetch, every attempt and wait included
    retry_budget: float = 120.0  # seconds of retry waiting for the whole run (summed)
    backoff_base: float = 0.5  # adaptive per-host backoff after 429/503 ...
    backoff_max: float = 30.0  # ... doubling up to this
    allow_private: bool = False  # connect to private/loopback/link-local addresses
    robots_crawl_delay_hosts: tuple[str, ...] = ("arxiv.org",)  # obey robots.txt Crawl-delay
    max_crawl_delay: float = 30.0


# Failure classes. Checked innermost cause first: the aiohttp and OS exceptions underneath
# decide (httpx-aiohttp used to re-raise aiohttp's as loosely matching httpx ones, a refused
# connection as ConnectTimeout; httpx's rows remain for httpx's own errors). First matching
# row wins.
ERROR_CLASSES: tuple[tuple[type[BaseException], str], ...] = (
    (PrivateAddressRefused, "private-address"),  # our resolver's refusal (see netsafety)
    (aiohttp.ClientConnectorDNSError, "dns"),
    (socket.gaierror, "dns"),
    (aiohttp.ClientSSLError, "tls"),
    (ssl.SSLError, "tls"),
    (TimeoutError, "timeout"),  # includes aiohttp's ServerTimeoutError
    (ConnectionRefusedError, "connect"),
    (aiohttp.ClientConnectorError, "connect"),
    (aiohttp.ServerDisconnectedError, "reset"),
    (aiohttp.ClientPayloadError, "reset"),  # body cut off
    (ConnectionError, "reset"),
    (aiohttp.ClientConnectionError, "reset"),
    (aiohttp.ClientResponseError, "protocol"),  # unparseable status line or headers
    (httpx.UnsupportedProtocol, "invalid-url"),
    (httpx.InvalidURL, "invalid-url"),
    (httpx.TimeoutException, "timeout"),
    (zlib.error, "protocol"),  # Content-Encoding that does not decode
    (OSError, "connect"),  # unreachable network, no route ...
    (httpx.HTTPError, "protocol"),
    (aiohttp.ClientError, "protocol"),
)
NETWORK_ERRORS = (httpx.HTTPError, aiohttp.ClientError, OSError, zlib.error)


def classify(exc: BaseException) -> tuple[str, str]:
    """``(error class, detail)`` for a network exception."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for candidate in reversed(chain):
        for kind, label in ERROR_CLASSES:
            if isinstance(candidate, kind):
                text = str(candidate)
                if label == "private-address":  # our own words, already a sentence
                    return label, text
                return label, f"{type(candidate).__name__}: {text}" if text else label
    return "protocol", f"{type(exc).__name__}: {exc}"


def retry_after_seconds(value: str | None, cap: float) -> float | None:
    """Parse ``Retry-After`` (seconds or an HTTP date) into seconds from now, capped."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), cap)


def shown_location(location: str, joined: httpx.URL) -> str:
    """The redirect target as the server wrote it when absolute (httpx would normalise
    ``file:///C:/x`` to ``file:/C:/x``), else as resolved."""
    return location.strip() if ":" in location.split("/", 1)[0] else str(joined)


def _seconds(value: float) -> str:
    """``40`` for 39.8, ``0.27`` for 0.271: whole seconds once there are some."""
    return f"{value:.0f}" if value >= 1 else f"{value:.2g}"


def _host(url: str) -> str:
    try:
        return (parse_url(url).host or "").lower()
    except httpx.InvalidURL:
        return ""


def _asked_seconds(result: FetchResult) -> float:
    """What the answer's ``Retry-After`` asked for, uncapped (0 when none)."""
    return retry_after_seconds(result.headers.get("retry-after"), math.inf) or 0.0


def _wall(result: FetchResult) -> bool:
    """A bot wall answering 5xx/429 (Sucuri, Cloudflare): retrying cannot lift it."""
    from linkkeeper.web.walls import wall_answer

    return wall_answer(result)


def _answer_headers(raw: tuple[tuple[bytes, bytes], ...]) -> dict[str, str]:
    """``dict(httpx.Headers(raw).items())``, the answer headers as the judges have always read
    them: lower-case names, a repeated field joined with ", " (Set-Cookie too, in order),
    decoded as ASCII, else UTF-8, else ISO-8859-1, one choice for the whole block (httpx's
    ``Headers.encoding``)."""
    for encoding in ("ascii", "utf-8"):
        try:
            return _joined_headers(raw, encoding)
        except UnicodeDecodeError:
            continue
    return _joined_headers(raw, "iso-8859-1")


def _joined_headers(raw: tuple[tuple[bytes, bytes], ...], encoding: str) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in raw:
        key, text = name.lower().decode(encoding), value.decode(encoding)
        if key in joined:
            joined[key] += f", {text}"
        else:
            joined[key] = text
    return joined


def _wire_pairs(headers: httpx.Headers) -> tuple[tuple[str, str], ...] | None:
    """Merged default headers as httpx-aiohttp handed them to aiohttp (``items()``: lower-case
    names); ``None`` when they name a header httpx manages itself (see ``HTTPX_MANAGED``)."""
    pairs = tuple(headers.items())
    return None if any(name in HTTPX_MANAGED for name, _ in pairs) else pairs


def is_transient(result: FetchResult) -> bool:
    """Worth another try: timeouts, resets, 408, 429, 5xx (never refused/DNS/other 4xx)."""
    if result.error is not None:
        return result.error in RETRY_ERRORS
    status = result.status
    return status is not None and (status in RETRY_STATUSES or 500 <= status < 600)


class _Inflater:
    """Content-Encoding decoding that never produces more than asked, so a gzip bomb stops at
    the body cap instead of inflating in memory. Unknown encodings pass through raw."""

    WBITS: Mapping[str, int] = {
        "gzip": 16 + zlib.MAX_WBITS,
        "x-gzip": 16 + zlib.MAX_WBITS,
        "deflate": zlib.MAX_WBITS,
    }

    def __init__(self, content_encoding: str) -> None:
        self._wbits = self.WBITS.get(content_encoding.strip().lower())
        self._zlib = zlib.decompressobj(self._wbits) if self._wbits is not None else None
        self._started = False

    def feed(self, data: bytes, limit: int) -> bytes:
        if self._zlib is None:
            return data[:limit]
        try:
            out = self._zlib.decompress(data, limit)
        except zlib.error:
            if self._started or self._wbits != zlib.MAX_WBITS:
                raise
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)  # "deflate" sent without header
            out = self._zlib.decompress(data, limit)
        self._started = True
        return out


def _host_policies(settings: FetchSettings) -> dict[str, HostPolicy]:
    """Built-in host defaults under config overrides, field by field."""
    defaults = {h.lower(): o for h, o in settings.host_defaults.items()}
    overrides = {h.lower(): o for h, o in settings.host_overrides.items()}
    policies = {}
    for host in defaults.keys() | overrides.keys():
        base, own = defaults.get(host, HostOverride()), overrides.get(host, HostOverride())
        policies[host] = HostPolicy(
            concurrency=next(
                v
                for v in (own.concurrency, base.concurrency, settings.host_concurrency)
                if v is not None
            ),
            interval=next(
                v for v in (own.interval, base.interval, settings.host_interval) if v is not None
            ),
        )
    return policies


class Fetcher:
    """One run's HTTP client; use as ``async with Fetcher(settings) as fetcher``."""

    def __init__(
        self,
        settings: FetchSettings | None = None,
        remap: Remapper | None = None,
        resolver: AbstractResolver | None = None,
    ):
        """``resolver``: the name service under the private-address guard (aiohttp's default
        when ``None``; tests script one to play DNS)."""
        self.settings = settings or FetchSettings()
        self.remap = remap or None
        self._resolver = resolver
        s = self.settings
        self.scheduler = HostScheduler(
            s.max_concurrency,
            HostPolicy(s.host_concurrency, s.host_interval),
            _host_policies(s),
            backoff_base=s.backoff_base,
            backoff_max=s.backoff_max,
        )
        self._interval_fixed = {
            h.lower() for h, o in s.host_overrides.items() if o.interval is not None
        }
        self._robots_hosts = {h.lower() for h in s.robots_crawl_delay_hosts}
        self._robots_done: set[str] = set()
        self._robots_locks: dict[str, asyncio.Lock] = {}
        # Built once per run (per host with configured headers): what httpx.AsyncClient(
        # headers=...) sent, its own defaults first, in its order. httpx merges them (and
        # refuses text it cannot send) as it always did; each request copies the result.
        self._headers = httpx.Headers(CLIENT_DEFAULT_HEADERS)
        self._headers.update({**BROWSER_HEADERS, "User-Agent": s.user_agent})
        self._headers_by_host: dict[str, httpx.Headers] = {}
        for host, override in s.host_overrides.items():
            if override.headers:
                merged = self._headers_by_host[host.lower()] = httpx.Headers(self._headers)
                merged.update(dict(override.headers))
        self._wire_headers = _wire_pairs(self._headers)
        self._wire_headers_by_host = {
            host: _wire_pairs(merged) for host, merged in self._headers_by_host.items()
        }
        # No pool (connect) timeout: the total deadline (asyncio.timeout around each hop) starts
        # first and is as long, so aiohttp's pool/connect timer could never fire; it cost a timer.
        self._timeout = aiohttp.ClientTimeout(
            sock_connect=s.connect_timeout, sock_read=s.read_timeout
        )
        self._cookies = httpx.Cookies()
        self._open = False
        self._session: aiohttp.ClientSession | None = None  # made by the first request
        self.retry_budget_left = s.retry_budget  # spent by retry waits, over the whole run

    # -- lifecycle ------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        self._open = True
        self._cookies = httpx.Cookies()  # one jar per run
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._open = False
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _new_session(self) -> aiohttp.ClientSession:
        """The run's aiohttp session, made by its first request (a run that fetches nothing
        opens nothing): no cookie jar of its own (the fetcher keeps the jar in real-URL space),
        no per-host limit (the scheduler decides), roomy header limits."""
        connector = aiohttp.TCPConnector(
            limit=self.settings.max_concurrency,
            limit_per_host=0,
            ssl=httpx.create_ssl_context(),
            resolver=self._resolver
            if self.settings.allow_private
            else GuardedResolver(self._resolver),
        )
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            max_line_size=16 * 1024,
            max_field_size=64 * 1024,
        )

    @property
    def cookies(self) -> httpx.Cookies:
        """The run's cookie jar (original URL space)."""
        return self._cookies

    def _require_open(self) -> None:
        if not self._open:
            raise RuntimeError("use the Fetcher inside 'async with Fetcher(...) as fetcher'")

    # -- public API -----------------------------------------------------------------------
    async def fetch(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        max_body: int | None = None,
        retries: int | None = None,
        revalidate: Revalidation | None = None,
        digest: bool = False,
    ) -> FetchResult:
        """Fetch ``url`` following redirects, retrying transient failures; never raises for
        network trouble. ``data`` sends a form body (POST); ``max_body``/``retries`` override
        the settings for this call. ``revalidate`` makes the request conditional (a 304 then
        comes back with ``not_modified``); ``digest`` hashes the body as it streams in
        (``body_sha256``)."""
        self._require_open()
        started = time.monotonic()
        deadline = started + self.settings.link_timeout
        cap = self.settings.max_body if max_body is None else max_body
        allowed = self.settings.retries if retries is None else retries
        attempt, waited, asked = 1, 0.0, 0.0
        note: str | None = None
        while True:
            began = time.monotonic()
            result = await self._follow(
                url, method.upper(), headers, data, cap, revalidate, digest, deadline
            )
            if attempt > allowed or not is_transient(result) or _wall(result):
                break
            host = _host(result.final_url or url)
            if asked > self.settings.retry_after_cap and waited:
                break  # waited the capped time once for a longer Retry-After: that is enough
            asked = max(asked, _asked_seconds(result))
            backoff = self._backoff(attempt)
            wait = max(backoff, self.scheduler.blocked_for(host))
            last = time.monotonic() - began
            if time.monotonic() + wait + last > deadline:  # the retry could not finish in time
                note = self._stop_note(asked, wait, deadline - time.monotonic())
                break
            if wait > self.retry_budget_left:
                note = "not retried again: the run's retry budget is spent"
                break
            self.retry_budget_left -= wait
            await asyncio.sleep(backoff)  # the scheduler adds the rest of any host pause
            waited += wait
            attempt += 1
        if asked and waited and is_transient(result):  # what the wait bought: nothing
            capped = (
                f" (Retry-After asked {asked:.0f} s; at most {self.settings.retry_after_cap:g} s "
                "is waited)"
                if asked > self.settings.retry_after_cap
                else ""
            )
            still = f"still {result.status}" if result.status else f"still {result.error}"
            wait_note = f"waited {_seconds(waited)} s for {_host(url)}{capped}, {still}"
            note = f"{wait_note}; {note}" if note else wait_note
        result.attempts = attempt
        result.elapsed = time.monotonic() - started
        result.retry_note = note
        return result

    def _stop_note(self, asked: float, wait: float, remaining: float) -> str:
        """Why no further attempt was made although the answer was transient."""
        limit = self.settings.link_timeout
        if asked > self.settings.retry_after_cap or wait > remaining:
            return (
                f"not retried again: waiting {wait:.0f} s more would pass the {limit:g} s one "
                "link may take" + (f" (Retry-After asked {asked:.0f} s)" if asked else "")
            )
        return f"not retried again: another attempt would pass the {limit:g} s one link may take"

    async def fetch_with_head_fallback(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        max_body: int | None = None,
    ) -> FetchResult:
        """HEAD first, GET when the HEAD answer cannot be trusted.

        Use it only where HEAD saves real work (large PDFs, videos, data files); pages need
        their body for soft-404 checks anyway. Many servers answer HEAD with 404/405/500 or
        drop it while GET works, so any HEAD status >= 400 and any HEAD failure except those a
        GET would only repeat (dns, connect, tls, private-address, invalid-url) falls back to
        a GET. The HEAD is not retried; ``attempts`` and ``elapsed`` count both requests.
        """
        head = await self.fetch(url, method="HEAD", headers=headers, retries=0)
        if head.error in FINAL_ERRORS or (
            head.error is None and head.status is not None and head.status < 400
        ):
            return head
        result = await self.fetch(url, headers=headers, max_body=max_body)
        result.attempts += head.attempts
        result.elapsed += head.elapsed
        return result

    # -- one attempt: a chain of hops -----------------------------------------------------
    async def _follow(
        self,
        url: str,
        method: str,
        headers: Mapping[str, str] | None,
        data: Mapping[str, str] | None,
        cap: int,
        revalidate: Revalidation | None = None,
        digest: bool = False,
        deadline: float | None = None,
    ) -> FetchResult:
        redirects: list[tuple[int, str]] = []
        try:
            current = parse_url(url)  # httpx.URL(url), parsed once: the join below reuses it
            _ = current.host  # decodes the name: a bad xn-- label raises here, not later
        except (httpx.InvalidURL, UnicodeError) as exc:  # UnicodeError: idna, bad xn-- label
            return FetchResult(
                url=url, final_url=url, status=None, method=method,
                error="invalid-url", error_detail=str(exc),
            )  # fmt: skip
        seen = {self._visit_key(method, url, current)}
        current_text = url
        wire_text = str(current)  # what goes on the wire; later hops' current_text already is
        while True:
            sent = headers
            if (
                revalidate is not None
                and current_text == revalidate.final_url
                and tuple(redirects) == revalidate.redirects
                and (validators := revalidate.headers())
            ):
                sent = {**(headers or {}), **validators}
            hop = await self._send(
                current, current_text, method, sent, data, cap, wire=wire_text,
                digest=digest, conditional=sent is not headers, deadline=deadline,
            )  # fmt: skip
            hop.url, hop.redirects = url, redirects
            location = hop.headers.get("location")
            if hop.error or hop.status not in REDIRECT_STATUSES or not location:
                return hop
            try:
                current = current.join(location)
                _ = current.host  # a bad xn-- label in the Location raises here, not later
            except (httpx.InvalidURL, UnicodeError) as exc:
                hop.error = "bad-redirect"
                hop.error_detail = textsafe.plain(
                    f"{current_text} redirects to {location!r}: {exc}", DETAIL_MAX
                )
                return hop
            if current.scheme not in ("http", "https") or not current.host:
                hop.error = "redirect-not-web"
                hop.error_detail = (
                    f"{current_text} redirects to {shown_location(location, current)!r}, which "
                    "is not an http(s) address; the reading's own URL is fine"
                )
                return hop
            current_text = wire_text = str(current)
            redirects.append((hop.status, current_text))
            if len(redirects) > self.settings.max_redirects:
                hop.error = "too-many-redirects"
                hop.error_detail = f"more than {self.settings.max_redirects} redirects"
                return hop
            if (hop.status == 303 and method != "HEAD") or (hop.status in (301, 302) and data):
                method, data = "GET", None
            key = self._visit_key(method, current_text, current)
            if key in seen:
                hop.error = "redirect-loop"
                hop.error_detail = f"{current_text} was already requested with the same cookies"
                return hop
            seen.add(key)

    def _visit_key(self, method: str, text: str, url: httpx.URL) -> tuple[str, str, str | None]:
        """A redirect loop revisits a URL with the same cookies; a cookie handshake
        (medium.com's global-identity, nature.com's idp) revisits it with new ones."""
        if not self._cookies:  # most runs, most hosts: no cookies, no request to build
            return method, text, None
        try:
            return method, text, self._cookie_header(method, url)
        except (httpx.InvalidURL, ValueError):  # not a URL cookies apply to: _send reports it
            return method, text, None

    # -- one hop --------------------------------------------------------------------------
    def _plain_headers(
        self,
        method: str,
        url: httpx.URL,
        host: str,
        headers: Mapping[str, str] | None,
    ) -> list[tuple[str, str]] | None:
        """The header list ``httpx.Request`` built and httpx-aiohttp handed aiohttp (its
        ``items()``), for the plain case: no body, and only plain ASCII header text whose names
        httpx does not manage itself. ``None`` otherwise: :meth:`_exact_request` builds it."""
        base = self._wire_headers_by_host.get(host, self._wire_headers)
        if base is None:  # the host's configured headers name a header httpx manages
            return None
        sent = [("host", url.netloc.decode("ascii"))]
        if method in BODILESS_LENGTH_METHODS:
            sent.append(("content-length", "0"))
        if not headers:
            sent += base
        else:
            names: set[str] = set()
            added = []
            for name, value in headers.items():
                if not (type(name) is str and type(value) is str):
                    return None
                if not (name.isascii() and value.isascii()):
                    return None  # httpx raises UnicodeEncodeError: let it, as before
                lower = name.lower()
                if lower in names or lower in HTTPX_MANAGED:
                    return None
                names.add(lower)
                added.append((lower, value))
            sent += [pair for pair in base if pair[0] not in names]  # updated names move last
            sent += added
        if self._cookies:
            cookie = self._cookie_header(method, url)
            if cookie is not None:
                sent.append(("cookie", cookie))
        return sent

    def _cookie_header(self, method: str, url: httpx.URL) -> str | None:
        """The ``Cookie`` value the jar gives this request (httpx's cookie adapter needs an
        ``httpx.Request``; only the URL and method matter to it, so a bare one is asked). The
        jar holds only ASCII cookies (:meth:`_drop_unsendable_cookies`), so this encodes."""
        probe = httpx.Request(method, url)
        self._cookies.set_cookie_header(probe)
        cookie: str | None = probe.headers.get("cookie")
        return cookie

    def _exact_request(
        self,
        method: str,
        url: httpx.URL,
        host: str,
        headers: Mapping[str, str] | None,
        data: Mapping[str, str] | None,
    ) -> httpx.Request:
        """What ``AsyncClient.build_request`` would build: default, host and call headers (in
        that order of precedence, lowest first), the form body, the run's cookies. Used for
        what :meth:`_plain_headers` does not reproduce (form posts, odd header names or text):
        rare, so httpx itself decides, exactly as before."""
        merged = self._headers_by_host.get(host, self._headers)
        if headers:
            merged = httpx.Headers(merged)
            merged.update(headers)
        request = httpx.Request(method, url, headers=merged, data=data)
        if self._cookies:
            self._cookies.set_cookie_header(request)
        return request

    def _target(self, url: httpx.URL, wire: str) -> tuple[str, httpx.URL | None, Exception | None]:
        """Where the socket goes: ``(URL text for aiohttp, parsed, error)``. Under ``--remap``
        the rewritten URL, normalised by httpx as ``RemapTransport`` did; a rewrite httpx cannot
        parse is raised when the request is sent, where the transport raised it."""
        if self.remap is None:
            return wire, url, None
        mapped = self.remap.apply(wire)
        if mapped == wire:
            return wire, url, None
        try:
            parsed = parse_url(mapped)
        except httpx.InvalidURL as exc:
            return mapped, None, exc
        return str(parsed), parsed, None

    async def _send(
        self,
        url: httpx.URL,
        url_text: str,
        method: str,
        headers: Mapping[str, str] | None,
        data: Mapping[str, str] | None,
        cap: int,
        *,
        wire: str,
        digest: bool = False,
        conditional: bool = False,
        deadline: float | None = None,
    ) -> FetchResult:
        """One request. A 304 is ``not_modified`` only when this very request was
        ``conditional``; any other 304 is a broken answer (``protocol``), never a live page.
        ``wire`` is ``str(url)``, which the caller has already."""
        result = FetchResult(url=url_text, final_url=url_text, status=None, method=method)
        if url.scheme not in ("http", "https") or not url.host:
            result.error = "invalid-url"
            result.error_detail = "only http:// and https:// URLs with a host can be fetched"
            return result
        host = url.host.lower()
        if host in self._robots_hosts:
            await self._apply_robots(url, host)
        target, target_url, bad_target = self._target(url, wire)
        if not self.settings.allow_private:
            refusal = self._refusal(target_url)
            if refusal:
                result.error, result.error_detail = "private-address", refusal
                return result
        self._require_open()
        sent = None if data else self._plain_headers(method, url, host, headers)
        content: bytes | None = None
        if sent is None:
            request = self._exact_request(method, url, host, headers, data)
            if target_url is not None and target_url is not url:  # RemapTransport's copy
                request = httpx.Request(
                    method, target_url, headers=request.headers, content=request.content
                )
            sent, content = list(request.headers.items()), request.content or None
        body = bytearray()
        async with self.scheduler.slot(host):
            limit = self.settings.total_timeout
            if deadline is not None:
                limit = max(0.0, min(limit, deadline - time.monotonic()))
            try:
                async with asyncio.timeout(limit):
                    if bad_target is not None:
                        raise bad_target
                    if self._session is None:
                        self._session = self._new_session()
                    async with self._session.request(
                        method,
                        target,
                        headers=sent,
                        data=content,
                        allow_redirects=False,
                        auto_decompress=False,
                        compress=False,
                        timeout=self._timeout,
                    ) as response:
                        result.status = response.status
                        raw = response.raw_headers
                        result.headers = _answer_headers(raw)  # lower-case names
                        if "set-cookie" in result.headers:
                            self._keep_cookies(method, url, result.status, raw)
                        if result.status == NOT_MODIFIED:
                            if conditional:
                                result.not_modified = True
                            else:
                                result.error, result.error_detail = "protocol", UNASKED_304
                        wanted = method != "HEAD" and not (
                            result.status in REDIRECT_STATUSES and "location" in result.headers
                        )
                        if wanted and result.status != NOT_MODIFIED:
                            encoding = result.headers.get("content-encoding", "")
                            hasher = hashlib.sha256() if digest else None
                            result.truncated = await self._read_body(
                                response, encoding, body, cap, hasher
                            )
                            if hasher is not None:
                                result.body_sha256 = hasher.hexdigest()
            except aiohttp.ClientError as exc:
                # Before TimeoutError: aiohttp's own timeouts (sock_read, sock_connect) are
                # TimeoutErrors too, and are classified with their words, as they were when
                # httpx-aiohttp re-raised them as httpx errors. Only the total deadline is ours.
                result.error, detail = classify(exc)
                result.error_detail = self._plain_detail(detail, url_text)
            except TimeoutError:
                result.error = "timeout"
                result.error_detail = (
                    f"no complete answer within {limit:.3g} s ({len(body)} body bytes received)"
                )
            except NETWORK_ERRORS as exc:
                result.error, detail = classify(exc)
                result.error_detail = self._plain_detail(detail, url_text)
        result.body = bytes(body)
        self._adapt(host, result)
        return result

    def _keep_cookies(
        self, method: str, url: httpx.URL, status: int, raw: tuple[tuple[bytes, bytes], ...]
    ) -> None:
        """Store the answer's cookies against the real URL. httpx's cookie adapter reads an
        ``httpx.Response`` and its request's URL, so both are built, only when cookies come."""
        answer = httpx.Response(status, headers=raw, request=httpx.Request(method, url))
        self._cookies.extract_cookies(answer)
        if any(k.lower() == b"set-cookie" and not v.isascii() for k, v in raw):
            self._drop_unsendable_cookies()

    def _drop_unsendable_cookies(self) -> None:
        """Forget cookies with non-ASCII names or values: httpx cannot put them in a request
        (every later request to the site would raise ``UnicodeEncodeError`` and cost its
        reading its check), so the fetcher acts as a client without cookie support there."""
        jar = self._cookies.jar
        for cookie in list(jar):
            if not (cookie.name.isascii() and (cookie.value or "").isascii()):
                jar.clear(cookie.domain, cookie.path, cookie.name)

    @staticmethod
    async def _read_body(
        response: aiohttp.ClientResponse,
        encoding: str,
        body: bytearray,
        cap: int,
        hasher: hashlib._Hash | None = None,
    ) -> bool:
        """Stream the body into ``body`` up to ``cap`` decoded bytes (hashing what is kept
        into ``hasher`` as it arrives); True when cut off."""
        inflater = _Inflater(encoding)
        async for chunk in response.content.iter_chunked(READ_CHUNK):
            piece = inflater.feed(chunk, cap - len(body) + 1)
            cut = len(body) + len(piece) > cap
            if cut:
                piece = piece[: cap - len(body)]
            body += piece
            if hasher is not None:
                hasher.update(piece)
            if cut:
                return True
        return False

    def _plain_detail(self, detail: str, url_text: str) -> str:
        """An error's words as a reason: in the real URL space (not the remapped socket
        address), one line of plain text (aiohttp quotes raw header bytes from the server)."""
        target = self.remap.apply(url_text) if self.remap is not None else url_text
        return textsafe.plain(in_original_space(detail, url_text, target), DETAIL_MAX)

    def _adapt(self, host: str, result: FetchResult) -> None:
        """Feed the answer back to the scheduler: 429/503 slow the host, success relaxes it."""
        if result.status in BACKOFF_STATUSES:
            wait = retry_after_seconds(
                result.headers.get("retry-after"), self.settings.retry_after_cap
            )
            self.scheduler.penalize(host, wait)
        elif result.status is not None and result.error is None:
            self.scheduler.reward(host)

    def _backoff(self, attempt: int) -> float:
        return self.settings.retry_base * 2 ** (attempt - 1) * random.uniform(1.0, 1.5)

    @staticmethod
    def _refusal(target: httpx.URL | None) -> str | None:
        """Why the IP literal actually connected to (``target``: after remap) is off limits, if
        it is; names are judged by the connection's own resolver (:class:`GuardedResolver`).
        ``None`` target: a rewrite httpx cannot parse, which the request itself reports."""
        if target is None:
            return None
        return literal_refusal(target.host) if target.host else None

    async def _apply_robots(self, url: httpx.URL, host: str) -> None:
        """Once per run for listed hosts: robots.txt ``Crawl-delay`` becomes the host's gap
        (capped by ``max_crawl_delay``) unless the config sets that host's interval."""
        if host in self._robots_done:
            return
        async with self._robots_locks.setdefault(host, asyncio.Lock()):
            if host in self._robots_done:
                return
            self._robots_done.add(host)  # before the fetch: its own hop must not recurse
            robots_url = f"{url.scheme}://{url.netloc.decode('ascii')}/robots.txt"
            answer = await self._follow(robots_url, "GET", None, None, ROBOTS_MAX_BODY)
            if answer.status != 200 or answer.error or host in self._interval_fixed:
                return
            parser = robotparser.RobotFileParser()
            parser.parse(answer.text().splitlines())
            delay = parser.crawl_delay(self.settings.user_agent)
            if delay is not None:
                wanted = min(float(delay), self.settings.max_crawl_delay)
                self.scheduler.set_interval(host, max(self.scheduler.interval(host), wanted))
