"""Wayback Machine client: Save Page Now 2 (submit, poll, user status) and capture finding.

Pure protocol: no ledger, no curriculum. It speaks SPN2 the way the Internet Archive's own
clients do (``POST /save`` with ``LOW`` keys, poll ``/save/status/<job_id>``, retry only the
transient codes) and picks the capture a member actually read: the one closest before the week
a reading was assigned (InternetArchiveBot's rule). It runs on any ``httpx.AsyncClient``, e.g.
the fetcher's (remapped to the sandbox in tests), so there is one HTTP stack in the project.
Shapes and limits: ``/work/shared/reference/wayback-api.md``.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import re
import secrets
import time
import unicodedata
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import httpx
from aiohttp.abc import AbstractResolver

from linkkeeper.archive.iakeys import KEYS_HELP, Keys
from linkkeeper.core import textsafe
from linkkeeper.ledger import TS_FORMAT, to_timestamp
from linkkeeper.web import Remapper

log = logging.getLogger(__name__)

DEFAULT_WAYBACK_URL = "https://web.archive.org"
DEFAULT_AVAILABILITY_URL = "https://archive.org/wayback/available"
TIMESTAMP = re.compile(r"[0-9]{8,14}")
REPLAY_MAX_BYTES = 2 * 1024 * 1024  # a capture's original bytes read at most (as the fetcher)
GOOD_STATUSES = frozenset({200, 203, 206})  # what InternetArchiveBot accepts as a usable copy
CDX_FIELDS = "timestamp,original,statuscode,mimetype"
EXCLUSIONS = {  # CDX error names -> why the archive will not show any capture
    "AdministrativeAccessControlException": "excluded from the Wayback Machine (site blocked)",
    "RobotAccessControlException": "excluded from the Wayback Machine by the site's robots.txt",
}


class ErrorClass(enum.StrEnum):
    """What to do about an SPN2 ``status_ext``."""

    TRANSIENT = "transient"  # retry on a later run
    PERMANENT = "permanent"  # the archive cannot capture this URL: record the reason
    QUOTA = "quota"  # daily capture quota used up: stop submitting this run


T, P, Q = ErrorClass.TRANSIENT, ErrorClass.PERMANENT, ErrorClass.QUOTA
# Every documented SPN2 error code (without its "error:" prefix) -> class and explanation.
STATUS_EXT: dict[str, tuple[ErrorClass, str]] = {
    "user-session-limit": (T, "too many of our captures running at once"),
    "soft-time-limit-exceeded": (T, "the capture took too long"),
    "proxy-error": (T, "the archive's proxy failed"),
    "browsing-timeout": (T, "the page took too long to load in the archive's browser"),
    "no-browsers-available": (T, "the archive had no free browser"),
    "capture-location-error": (T, "the archive could not store the capture"),
    "service-unavailable": (T, "the site answered 503 Service Unavailable"),
    "redis-error": (T, "internal archive error (redis)"),
    "gateway-timeout": (T, "the site answered 504 Gateway Timeout"),
    "bad-gateway": (T, "the site answered 502 Bad Gateway"),
    "internal-server-error": (T, "the site answered 500 Internal Server Error"),
    "celery": (T, "internal archive error (task queue)"),
    "job-failed": (T, "the capture job failed inside the archive"),
    "read-timeout": (T, "the site stopped sending data"),
    "too-many-requests": (T, "the site throttled the archive (429)"),
    "bandwidth-limit-exceeded": (T, "the site's bandwidth limit was exceeded"),
    "max-daily-bandwidth": (T, "the archive's daily bandwidth limit was reached"),
    "max-daily-bandwidth-from-ip": (T, "the archive's daily bandwidth limit for our IP"),
    "max-daily-bandwidth-host": (T, "the archive's daily bandwidth limit for this site"),
    "blocked-url": (P, "the URL is on the Save Page Now block list"),
    "blocked": (P, "the site blocks the archive's crawler"),
    "blocked-client-ip": (P, "the site blocks the archive's IP addresses"),
    "not-found": (P, "the site answered 404 Not Found"),
    "no-access": (P, "the site answered 403 Forbidden"),
    "invalid-url-syntax": (P, "the URL is not valid"),
    "invalid-host-resolution": (P, "the host name does not resolve (DNS)"),
    "filesize-limit": (P, "the file is larger than the archive accepts"),
    "ftp-access-denied": (P, "the FTP server refused access"),
    "method-not-allowed": (P, "the site answered 405 Method Not Allowed"),
    "unauthorized": (P, "the site answered 401 (login required)"),
    "network-authentication-required": (P, "the site answered 511 (network login required)"),
    "too-many-redirects": (P, "the site redirects in a loop"),
    "cannot-fetch": (P, "the archive cannot fetch the URL"),
    "protocol-error": (P, "the site broke the HTTP protocol"),
    "invalid-server-response": (P, "the site sent an invalid response"),
    "http-version-not-supported": (P, "the site answered 505 HTTP Version Not Supported"),
    "not-implemented": (P, "the site answered 501 Not Implemented"),
    "bad-request": (P, "the archive or the site answered 400 Bad Request"),
    "no-captures": (P, "the capture produced nothing to archive"),
    "too-many-daily-captures": (Q, "daily capture limit reached (this URL or this account)"),
}
del T, P, Q


def classify(status_ext: str) -> tuple[ErrorClass, str]:
    """Class and explanation of a ``status_ext``; unknown codes are transient, never fatal."""
    code = status_ext.strip().removeprefix("error:")
    if code in STATUS_EXT:
        return STATUS_EXT[code]
    if code.startswith("max-daily-bandwidth"):
        return STATUS_EXT["max-daily-bandwidth"]
    return ErrorClass.TRANSIENT, f"unknown archive error code {status_ext!r} (will retry)"


class Outcome(enum.StrEnum):
    """How one capture attempt ended; the archive command records or retries on this."""

    ACCEPTED = "accepted"  # submit only: a job is running (job_id)
    CAPTURED = "captured"  # a new capture finished (capture)
    RECENT = "recent"  # one exists within if_not_archived_within (capture, when CDX lists it)
    TRANSIENT = "transient"  # refused or failed for now: retry on a later run
    PERMANENT = "permanent"  # the archive cannot capture this URL: record the reason
    QUOTA = "quota"  # daily quota reached: stop submitting this run
    UNAUTHORIZED = "unauthorized"  # 401: no or wrong keys (reason says how to get keys)
    BUSY = "busy"  # 429: all capture slots busy, back off
    PENDING = "pending"  # still running at the polling deadline
    UNEXPECTED = "unexpected"  # an answer of unknown shape (tolerated; retry later)


RETRY_LATER = frozenset(
    {Outcome.TRANSIENT, Outcome.BUSY, Outcome.PENDING, Outcome.UNEXPECTED, Outcome.QUOTA}
)
REFUSALS = {
    ErrorClass.TRANSIENT: Outcome.TRANSIENT,
    ErrorClass.PERMANENT: Outcome.PERMANENT,
    ErrorClass.QUOTA: Outcome.QUOTA,
}


# A request that could not be made or answered; InvalidURL and UnicodeError (idna): a Location
# the server sent that is no URL, e.g. an ``xn--`` label that is not punycode.
REQUEST_FAILURES = (httpx.HTTPError, httpx.InvalidURL, UnicodeError)


class WaybackError(Exception):
    """The archive could not be asked or answered nonsense; the text never holds a secret."""


class WaybackUnreachable(WaybackError):
    """No answer at all (DNS, refused, timeout, reset): says nothing about the capture asked
    for, only that the archive (or our network) could not be reached."""


def _answered_elsewhere(response: httpx.Response, asked: str) -> str | None:
    """The host that answered, when redirects led away from the archive's own site (its last
    two labels): a captive portal's login page is no answer from the archive."""

    def site(host: str) -> str:
        return ".".join(host.lower().split(".")[-2:])

    final, wanted = response.url.host or "", urlsplit(asked).hostname or ""
    if response.history and final and wanted and site(final) != site(wanted):
        return final
    return None


class NeedKeys(WaybackError):
    """The archive wants (valid) keys for this call; the message says how to get them."""


@dataclass(frozen=True)
class Capture:
    """One archived copy: where members can read it and what it was when captured."""

    timestamp: str  # 14 digits, UTC
    original: str  # the URL as captured (after redirects, for new captures)
    url: str  # the public snapshot URL
    status: int | None = None
    mimetype: str | None = None

    @property
    def at(self) -> datetime:
        return datetime.strptime(self.timestamp.ljust(14, "0")[:14], TS_FORMAT).replace(tzinfo=UTC)


@dataclass(frozen=True)
class Original:
    """A capture's original bytes (``id_`` replay): what the page served when it was captured."""

    url: str  # the snapshot URL asked for (public form)
    content_type: str  # media type only, lower case ("text/html")
    body: bytes  # at most the cap given to :meth:`WaybackClient.original`
    truncated: bool = False


@dataclass(frozen=True)
class Replay:
    """One capture as the archive serves it (``id_``), in the original URL space: what the
    page answered when it was captured, after its own captured redirects."""

    timestamp: str  # the capture served for the URL asked (the archive may pick the nearest)
    final_url: str  # the original URL of the last hop
    status: int  # the captured page's status (the archive repeats it in ``id_`` mode)
    content_type: str
    body: bytes
    redirects: list[tuple[int, str]] = field(default_factory=list)  # (status, original target)
    truncated: bool = False


@dataclass(frozen=True)
class SaveResult:
    """The typed answer of :meth:`WaybackClient.submit`, :meth:`~WaybackClient.wait` or save."""

    url: str
    outcome: Outcome
    capture: Capture | None = None
    job_id: str | None = None
    status_ext: str | None = None  # the raw code, e.g. "error:blocked-url"
    reason: str = ""  # a human explanation
    message: str | None = None  # the archive's own words
    http_status: int | None = None

    @property
    def retry_later(self) -> bool:
        return self.outcome in RETRY_LATER


@dataclass(frozen=True)
class UserStatus:
    """``/save/status/user``: never run more captures at once than ``available``."""

    available: int
    processing: int
    daily_captures: int
    daily_captures_limit: int


@dataclass(frozen=True)
class CdxResult:
    """CDX rows as captures, or why the archive will not list any (``excluded``)."""

    captures: list[Capture]
    excluded: str | None = None


@dataclass(frozen=True)
class CaptureSet:
    """The archived copies that matter for one reading.

    ``before``: closest capture on or before the assignment date; ``after``: closest one after
    it, looked up only when there is no ``before``; ``latest``: the newest capture.
    """

    url: str
    assigned: date | None
    before: Capture | None = None
    after: Capture | None = None
    latest: Capture | None = None
    excluded: str | None = None

    @property
    def best(self) -> Capture | None:
        """The copy to link: from the week it was assigned when possible, else the newest."""
        return self.before or self.after or self.latest


@dataclass(frozen=True)
class WaybackSettings:
    """Every number of the protocol, in one place (limits change; none belong in code)."""

    if_not_archived_within: str = "30d"
    poll_interval: float = 3.0  # seconds between status polls (gospn/IABot: 2-5 s)
    poll_deadline: float = 120.0  # captures last at most 2 minutes
    timeout: float = 40.0  # per request, as gospn
    cdx_interval: float = 2.0  # seconds between CDX calls: about 30/min
    status_filter: str = "statuscode:20[036]"  # CDX regex for GOOD_STATUSES


@dataclass
class Pacer:
    """Pacing for one run of submissions: N per minute, 429 backoff, daily quota stop."""

    per_minute: float = 6.0  # the 2026 community figure with keys
    backoff_initial: float = 10.0  # 429 carries no Retry-After: 10 s, doubling
    backoff_factor: float = 2.0
    backoff_max: float = 600.0
    max_busy_retries: int = 4  # 429s for one URL before giving it back as BUSY
    stopped: str | None = None  # why no more captures may be submitted this run

    def __post_init__(self) -> None:
        self._next = 0.0  # time.monotonic() before which nothing is submitted
        self._backoff = self.backoff_initial
        self._lock = asyncio.Lock()

    async def wait_turn(self) -> None:
        """Sleep until this submission keeps the per-minute pace and any backoff."""
        async with self._lock:
            delay = self._next - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self._next = time.monotonic() + 60.0 / self.per_minute

    def busy(self) -> float:
        """Record a 429: push the next turn back by the current backoff, then double it."""
        delay = self._backoff
        self._backoff = min(self._backoff * self.backoff_factor, self.backoff_max)
        self._next = max(self._next, time.monotonic() + delay)
        return delay

    def ok(self) -> None:
        self._backoff = self.backoff_initial

    def stop(self, reason: str) -> None:
        self.stopped = reason


def parse_cdx_json(text: str) -> list[dict[str, str]]:
    """CDX ``output=json``: ``[]`` or a header row then rows, as one dict per capture.

    ``ValueError`` (saying what is wrong) for anything else: not JSON, not a list of lists of
    strings (a number where the archive writes a string, a header that is not a list ...).
    A lookup that cannot be read is a failed lookup, never half-believed."""
    if not text.strip():
        return []
    try:
        data = json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if not isinstance(data, list):
        raise ValueError(f"expected a list of rows, got {_json_kind(data)}")
    if not data:
        return []
    for index, row in enumerate(data):
        what = "the header" if index == 0 else f"row {index}"
        if not isinstance(row, list):
            raise ValueError(f"{what} is {_json_kind(row)}, not a list")
        bad = [cell for cell in row if not isinstance(cell, str)]
        if bad or len(row) != len(data[0]):
            why = f"holds {_json_kind(bad[0])}" if bad else "has the wrong length"
            raise ValueError(f"{what} {why}; CDX rows are lists of strings")
    header, *rows = data
    return [dict(zip(header, row, strict=True)) for row in rows]


def _json_kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}  # fmt: skip
    return names.get(type(value), type(value).__name__)


def capture_timestamp(value: Any) -> str | None:
    """``value`` when it is a Wayback timestamp: 8 to 14 ASCII digits of a real moment
    (``str.isdigit`` also takes "²"; a month 13 would crash :attr:`Capture.at` later)."""
    if not isinstance(value, str) or not TIMESTAMP.fullmatch(value):
        return None
    try:
        datetime.strptime(value.ljust(14, "0"), TS_FORMAT)
    except ValueError:
        return None
    return value


def excluded_reason(text: str) -> str | None:
    """Why a blocked site's CDX or replay error says it is excluded, or ``None``."""
    return next((why for name, why in EXCLUSIONS.items() if name in text), None)


def _is_json(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").split(";")[0].strip() == "application/json"


def _plain_url(value: Any) -> str | None:
    """An archive's "original URL" as it may be stored, printed and linked: a string with no
    space or control character (an escape sequence from a hostile answer), else ``None``."""
    if not isinstance(value, str) or not value:
        return None
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in value):
        return None
    return value


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def make_client(
    remap: Remapper | None = None,
    contact: str | None = None,
    *,
    allow_private: bool = False,
    resolver: AbstractResolver | None = None,
    total_timeout: float | None = None,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` on the project's stack (aiohttp, ``--remap`` rules, the honest
    User-Agent) with the fetcher's guards on every request and redirect hop: no private
    addresses unless ``allow_private``, answers capped in size and time
    (:mod:`linkkeeper.web.guarded`). ``resolver``: the name service under the guard (tests script
    one); ``total_timeout``: seconds for one request, headers and body (default: the module's).
    The caller closes the client."""
    from linkkeeper.web import API_TOTAL_TIMEOUT, GuardedAsyncTransport, user_agent

    transport = GuardedAsyncTransport(
        remap=remap,
        allow_private=allow_private,
        resolver=resolver,
        total_timeout=total_timeout or API_TOTAL_TIMEOUT,
    )
    agent = user_agent(contact) if contact else user_agent()
    return httpx.AsyncClient(transport=transport, headers={"User-Agent": agent})


class WaybackClient:
    """SPN2 and capture lookups over a caller-owned ``httpx.AsyncClient``.

    ``wayback_url`` serves save, status, CDX and replay; ``replay_url`` (default: the same)
    is the public base written into snapshot URLs, so pointing ``wayback_url`` at a loopback
    sandbox or a mirror never leaks that address into the ledger.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        keys: Keys | None = None,
        *,
        wayback_url: str = DEFAULT_WAYBACK_URL,
        availability_url: str = DEFAULT_AVAILABILITY_URL,
        replay_url: str | None = None,
        settings: WaybackSettings | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.keys = keys
        self.wayback_url = wayback_url.rstrip("/")
        self.availability_url = availability_url
        self.replay_url = (replay_url or wayback_url).rstrip("/")
        self.settings = settings or WaybackSettings()
        self._now = now
        self._cdx_lock = asyncio.Lock()
        self._cdx_next = 0.0

    def snapshot_url(self, timestamp: str, original: str) -> str:
        return f"{self.replay_url}/web/{timestamp}/{original}"

    def _scrub(self, text: str) -> str:
        return self.keys.scrub(text) if self.keys else text

    async def _request(
        self, method: str, url: str, *, auth: bool = False, follow: bool = False, **kwargs: Any
    ) -> httpx.Response:
        """One request; the Authorization header exists only inside this call."""
        headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
        if auth and self.keys is not None:
            headers["Authorization"] = self.keys.authorization()
        try:
            return await self.client.request(
                method,
                url,
                headers=headers,
                follow_redirects=follow,
                timeout=self.settings.timeout,
                **kwargs,
            )
        except REQUEST_FAILURES as exc:  # text may echo the request: scrub, drop the chain
            kind = WaybackUnreachable if isinstance(exc, httpx.TransportError) else WaybackError
            raise kind(self._scrub(f"{method} {url} failed: {type(exc).__name__}: {exc}")) from None

    # -- SPN2 ------------------------------------------------------------------------------
    async def submit(self, url: str, **options: str) -> SaveResult:
        """``POST /save``: one capture request, classified; never raises for archive answers."""
        form = {"url": url, "if_not_archived_within": self.settings.if_not_archived_within}
        form.update(options)
        try:
            response = await self._request("POST", f"{self.wayback_url}/save", auth=True, data=form)
        except WaybackError as exc:  # archive unreachable: nothing was refused, try later
            return SaveResult(url, Outcome.TRANSIENT, reason=str(exc))
        return self._submitted(url, response)

    def _submitted(self, url: str, response: httpx.Response) -> SaveResult:
        code = response.status_code
        data = self._json(response)
        message = self._message(data)
        if code == 401:
            why = "no Internet Archive keys" if self.keys is None else "keys refused (HTTP 401)"
            return SaveResult(
                url,
                Outcome.UNAUTHORIZED,
                reason=f"{why}. {KEYS_HELP}",
                message=message,
                http_status=code,
            )
        if code == 429:  # no Retry-After: the caller backs off (see Pacer)
            return SaveResult(
                url,
                Outcome.BUSY,
                reason="all capture slots busy (HTTP 429)",
                message=message,
                http_status=code,
            )
        if data is None:
            kind = response.headers.get("content-type", "no content type")
            return SaveResult(
                url,
                Outcome.UNEXPECTED,
                http_status=code,
                reason=f"unexpected answer: HTTP {code}, {kind}",
            )
        if data.get("status") == "error" or data.get("status_ext"):
            return self._refused(url, data, message, code)
        if "job_id" in data and (data["job_id"] is None or isinstance(data["job_id"], str)):
            if data["job_id"]:
                return SaveResult(
                    url, Outcome.ACCEPTED, job_id=data["job_id"], message=message, http_status=code
                )
            return SaveResult(
                url,
                Outcome.RECENT,
                message=message,
                http_status=code,
                reason="captured recently; no new capture needed",
            )
        return SaveResult(
            url,
            Outcome.UNEXPECTED,
            message=message,
            http_status=code,
            reason=f"unexpected answer: HTTP {code}, keys {sorted(data)}",
        )

    def _refused(
        self, url: str, data: dict[str, Any], message: str | None, code: int | None
    ) -> SaveResult:
        status_ext = str(data.get("status_ext") or "error:unknown")
        klass, why = classify(status_ext)
        return SaveResult(
            url,
            REFUSALS[klass],
            job_id=data["job_id"] if isinstance(data.get("job_id"), str) else None,
            status_ext=status_ext,
            reason=why,
            message=message,
            http_status=code,
        )

    def _message(self, data: dict[str, Any] | None) -> str | None:
        """The archive's own sentence, if any (scrubbed: it could echo what we sent; plain
        text: it is stored and printed)."""
        text = textsafe.plain(data.get("message") or "", 500) if data else ""
        return self._scrub(text) if text else None

    def _json(self, response: httpx.Response) -> dict[str, Any] | None:
        """The body as a JSON object, or ``None`` (gospn: only exactly application/json)."""
        if not _is_json(response):
            return None
        try:
            data = response.json()
        except (ValueError, RecursionError):  # not JSON, a huge integer, hostile nesting
            return None
        return data if isinstance(data, dict) else None

    async def wait(self, job_id: str, url: str) -> SaveResult:
        """Poll ``/save/status/<job_id>`` until success, error or the deadline."""
        deadline = time.monotonic() + self.settings.poll_deadline
        status_url = f"{self.wayback_url}/save/status/{quote(job_id, safe='')}"
        last = ""
        while True:
            try:
                response = await self._request("GET", status_url, auth=True)
                data = self._json(response)
            except WaybackError as exc:  # a hiccup while polling is not a failed capture
                data, last = None, str(exc)
            status = data.get("status") if data else None
            if status == "success":
                return self._succeeded(url, job_id, data or {})
            if status == "error":
                return self._refused(url, data or {}, self._message(data), None)
            if status != "pending" and not last:
                last = (
                    textsafe.plain(f"unexpected status answer: {data!r}", 300)
                    if data
                    else "no JSON answer"
                )
            if time.monotonic() + self.settings.poll_interval > deadline:
                why = f"capture still running after {self.settings.poll_deadline:g} s"
                return SaveResult(
                    url, Outcome.PENDING, job_id=job_id, reason=f"{why}; {last}" if last else why
                )
            await asyncio.sleep(self.settings.poll_interval)

    def _succeeded(self, url: str, job_id: str, data: dict[str, Any]) -> SaveResult:
        timestamp = capture_timestamp(data.get("timestamp"))
        original = _plain_url(data.get("original_url")) or url
        if timestamp is None:
            return SaveResult(
                url, Outcome.UNEXPECTED, job_id=job_id, reason="success without a timestamp"
            )
        capture = Capture(
            timestamp,
            original,
            self.snapshot_url(timestamp, original),
            status=_int(data.get("http_status")),
        )
        return SaveResult(url, Outcome.CAPTURED, capture=capture, job_id=job_id, reason="captured")

    async def save(self, url: str, pacer: Pacer | None = None) -> SaveResult:
        """Submit (paced, retrying 429 with backoff), wait for the job, resolve recent ones."""
        result = SaveResult(url, Outcome.BUSY)
        for attempt in range((pacer.max_busy_retries if pacer else 0) + 1):
            if pacer and pacer.stopped:
                return SaveResult(url, Outcome.QUOTA, reason=pacer.stopped)
            if pacer:
                await pacer.wait_turn()
            result = await self.submit(url)
            if result.outcome is not Outcome.BUSY:
                break
            if pacer:
                delay = pacer.busy()
                log.info("archive busy (429) on attempt %d; backing off %.3g s", attempt + 1, delay)
        else:
            return result
        if pacer:
            pacer.ok()
        if result.outcome is Outcome.ACCEPTED and result.job_id:
            result = await self.wait(result.job_id, url)
        elif result.outcome is Outcome.RECENT:
            result = replace(result, capture=await self._recent_capture(url))
        if pacer and result.outcome is Outcome.QUOTA:
            pacer.stop(f"{result.reason}: {result.message or result.status_ext}")
        return result

    async def _recent_capture(self, url: str) -> Capture | None:
        """The capture behind a ``job_id: null`` answer: CDX closest to now, else the hint."""
        now = to_timestamp(self._now())
        try:
            found = (await self.cdx(url, closest=now, limit=1)).captures
        except WaybackError as exc:
            log.info("CDX lookup of a recent capture failed: %s", exc)
            found = []
        return _closest(found, now) or await self.availability(url)

    async def user_status(self) -> UserStatus:
        """``/save/status/user``: free capture slots and the daily quota (needs keys)."""
        response = await self._request(
            "GET",
            f"{self.wayback_url}/save/status/user",
            auth=True,
            params={"_t": secrets.token_hex(6)},
        )
        if response.status_code == 401:
            raise NeedKeys(f"the Wayback Machine wants keys for its user status. {KEYS_HELP}")
        data = self._json(response)
        if response.status_code != 200 or data is None:
            raise WaybackError(f"user status: unexpected answer HTTP {response.status_code}")
        values = {
            k: _int(data.get(k))
            for k in ("available", "processing", "daily_captures", "daily_captures_limit")
        }
        missing = [k for k, v in values.items() if v is None]
        if missing:
            raise WaybackError(f"user status: answer lacks {', '.join(missing)}")
        return UserStatus(**values)  # type: ignore[arg-type]

    # -- finding captures ------------------------------------------------------------------
    @asynccontextmanager
    async def _read_turn(self) -> AsyncIterator[None]:
        """One read request (CDX search, replay) at a time, ``cdx_interval`` apart: politeness
        when not routed through the fetcher's scheduler."""
        async with self._cdx_lock:
            delay = self._cdx_next - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                yield
            finally:
                self._cdx_next = time.monotonic() + self.settings.cdx_interval

    async def cdx(
        self,
        url: str,
        *,
        closest: str | None = None,
        from_: str | None = None,
        to: str | None = None,
        limit: int | None = None,
    ) -> CdxResult:
        """One CDX query for usable (200/203/206) captures; blocked sites come back excluded."""
        params: dict[str, str] = {
            "url": url,
            "output": "json",
            "filter": self.settings.status_filter,
            "fl": CDX_FIELDS,
        }
        if closest:
            params |= {"closest": closest, "sort": "closest"}
        params |= {k: v for k, v in (("from", from_), ("to", to)) if v}
        if limit is not None:
            params["limit"] = str(limit)
        async with self._read_turn():
            response = await self._request(
                "GET", f"{self.wayback_url}/cdx/search/cdx", params=params, follow=True
            )
        if elsewhere := _answered_elsewhere(response, self.wayback_url):
            raise WaybackUnreachable(
                f"CDX search for {url}: the answer came from {elsewhere}, not the archive "
                "(a captive portal or a proxy's page?)"
            )
        error_text = response.headers.get("x-archive-wayback-runtime-error", "") + response.text
        if response.status_code != 200:
            if why := excluded_reason(error_text):
                return CdxResult([], excluded=why)
            raise WaybackError(
                f"CDX search for {url}: HTTP {response.status_code} {response.text.strip()[:200]}"
            )
        try:
            rows = parse_cdx_json(response.text)
        except ValueError as exc:
            why = "not JSON" if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise WaybackError(f"CDX search for {url}: the answer cannot be read ({why})") from None
        return CdxResult([c for c in map(self._row_capture, rows) if c is not None])

    def _row_capture(self, row: dict[str, str]) -> Capture | None:
        ts, original = capture_timestamp(row.get("timestamp")), _plain_url(row.get("original"))
        status = _int(row.get("statuscode"))
        if ts is None or not original or status not in GOOD_STATUSES:
            return None
        return Capture(
            ts,
            original,
            self.snapshot_url(ts, original),
            status=status,
            mimetype=row.get("mimetype") or None,
        )

    async def original(
        self, timestamp: str, url: str, max_bytes: int = REPLAY_MAX_BYTES
    ) -> Original:
        """The original bytes of one capture (``/web/<ts>id_/<url>``: no banner, no rewritten
        links), read up to ``max_bytes``; paced with the CDX searches. :class:`WaybackError`
        when the archive does not answer 200."""
        replay = f"{self.wayback_url}/web/{timestamp}id_/{url}"
        body, truncated = bytearray(), False
        async with self._read_turn():
            try:
                async with self.client.stream(
                    "GET", replay, follow_redirects=True, timeout=self.settings.timeout
                ) as response:
                    if response.status_code != 200:
                        raise WaybackError(
                            f"replay of {timestamp}/{url}: HTTP {response.status_code}"
                        )
                    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > max_bytes:  # the rest is not read
                            del body[max_bytes:]
                            truncated = True
                            break
            except REQUEST_FAILURES as exc:  # text may echo the request: scrub, drop the chain
                raise WaybackError(
                    self._scrub(f"replay of {timestamp}/{url} failed: {type(exc).__name__}: {exc}")
                ) from None
        return Original(self.snapshot_url(timestamp, url), kind, bytes(body), truncated)

    async def replay(
        self, timestamp: str, url: str, max_bytes: int = REPLAY_MAX_BYTES, max_hops: int = 10
    ) -> Replay:
        """One capture as it was served (``/web/<ts>id_/<url>``), its captured redirects kept:
        a hop from the archive to another capture of the same URL (the nearest timestamp) is
        followed silently; a hop to another URL is the page's own redirect, recorded as
        ``(status, original target)``. Paced with the CDX searches, body capped;
        :class:`WaybackError` when the archive cannot be read."""
        current, served, hops = url, timestamp, []
        own = timestamp  # the capture served for ``url`` itself, before any captured redirect
        async with self._read_turn():
            for _ in range(max_hops + 1):
                replay = f"{self.wayback_url}/web/{served}id_/{current}"
                try:
                    timeout = self.settings.timeout
                    async with self.client.stream("GET", replay, timeout=timeout) as r:
                        location = r.headers.get("location", "")
                        if r.is_redirect and location:
                            target = _replayed(urljoin(replay, location), self.wayback_url)
                            if target is None:  # a redirect out of the archive: where it leads
                                hops.append((r.status_code, urljoin(current, location)))
                                return Replay(own, current, r.status_code, "", b"", hops)
                            served, new = target
                            if not same_page(new, current):
                                hops.append((r.status_code, new))
                            elif not hops:
                                own = served
                            current = new
                            continue
                        kind = r.headers.get("content-type", "").split(";")[0].strip().lower()
                        body, truncated = await _capped(r, max_bytes)
                        return Replay(own, current, r.status_code, kind, body, hops, truncated)
                except REQUEST_FAILURES as exc:
                    raise WaybackError(
                        self._scrub(f"replay of {timestamp}/{url} failed: {type(exc).__name__}")
                    ) from None
        raise WaybackError(f"replay of {timestamp}/{url}: more than {max_hops} redirects")

    async def find_captures(self, url: str, assigned: date | None = None) -> CaptureSet:
        """The capture from the assignment week (closest before, else after) and the latest."""
        now = to_timestamp(self._now())
        latest = await self.cdx(url, closest=now, limit=1)
        if latest.excluded or not latest.captures:
            return CaptureSet(url, assigned, excluded=latest.excluded)
        found = CaptureSet(url, assigned, latest=_closest(latest.captures, now))
        if assigned is None:
            return found
        mark = to_timestamp(assigned)
        before = await self.cdx(url, closest=mark, to=mark, limit=1)
        pick = _closest([c for c in before.captures if c.timestamp <= mark], mark)
        if pick is not None:
            return replace(found, before=pick)
        next_day = to_timestamp(datetime.combine(assigned + timedelta(days=1), dtime(), UTC))
        after = await self.cdx(url, closest=mark, from_=next_day, limit=1)
        return replace(
            found, after=_closest([c for c in after.captures if c.timestamp > mark], mark)
        )

    async def availability(self, url: str, timestamp: str | None = None) -> Capture | None:
        """The availability API's closest capture: a hint only (it is often empty)."""
        params = {"url": url} | ({"timestamp": timestamp} if timestamp else {})
        try:
            response = await self._request("GET", self.availability_url, params=params, follow=True)
        except WaybackError as exc:
            log.info("availability hint unavailable: %s", exc)
            return None
        data = self._json(response) or {}
        snapshots = data.get("archived_snapshots")
        closest = snapshots.get("closest") if isinstance(snapshots, dict) else None
        if not isinstance(closest, dict) or not closest.get("available"):
            return None
        ts, snapshot = capture_timestamp(closest.get("timestamp")), closest.get("url")
        if ts is None:
            return None
        original = (
            _plain_url(snapshot.partition(f"/web/{ts}/")[2]) if isinstance(snapshot, str) else None
        ) or url
        return Capture(
            ts, original, self.snapshot_url(ts, original), status=_int(closest.get("status"))
        )


_REPLAY_PATH = re.compile(r"/web/(\d{1,14})(?:[a-z]{2}_)?/(.+)$", re.DOTALL)


def _replayed(location: str, wayback_url: str) -> tuple[str, str] | None:
    """(timestamp, original URL) of a replay URL on this archive, else ``None``."""
    parts = urlsplit(location)
    base = urlsplit(wayback_url)
    if parts.netloc and parts.netloc != base.netloc:
        return None
    rest = parts.path + (f"?{parts.query}" if parts.query else "")
    found = _REPLAY_PATH.search(rest)
    return (found.group(1), found.group(2)) if found else None


def same_page(a: str, b: str) -> bool:
    """The archive moving between captures of one URL, not the page redirecting elsewhere."""

    def key(url: str) -> str:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        host = (parts.hostname or "").lower().removeprefix("www.")
        return f"{host}{parts.path.rstrip('/') or '/'}?{parts.query}"

    return key(a) == key(b)


async def _capped(response: httpx.Response, max_bytes: int) -> tuple[bytes, bool]:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > max_bytes:
            del body[max_bytes:]
            return bytes(body), True
    return bytes(body), False


def _closest(captures: list[Capture], mark: str) -> Capture | None:
    """The capture nearest ``mark`` (re-checked here: not every CDX server sorts)."""
    target = Capture(mark, "", "").at
    return min(captures, key=lambda c: abs((c.at - target).total_seconds()), default=None)
