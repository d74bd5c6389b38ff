"""The sandbox Wayback Machine: SPN2, status, availability, CDX, replay and Memento on loopback.

It answers with the shapes of the real services (``/work/shared/reference/wayback-api.md``), so
linkkeeper's archive client can be tested end to end without the internet, including the
awkward parts: pending jobs, refusals, 429 without ``Retry-After``, lag, blocked sites.

All state lives in :class:`WaybackMachine`; handlers run in the sandbox loop thread while tests
mutate state from the main thread, so every access goes through one lock. Every number and the
clock are in :class:`WaybackConfig`.

URL matching uses a light SURT key like the real CDX: scheme, ``www.``, default port, case,
fragment, query order and one trailing path slash do not matter.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import html
import json
import re
import secrets
import threading
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

from aiohttp import web

from linkkeeper.sandbox._server import VirtualHost

TS_FORMAT = "%Y%m%d%H%M%S"
ALWAYS = datetime.min.replace(tzinfo=UTC)  # visible_from of seeded captures
CDX_FIELDS = ("urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length")
TRUE_VALUES = frozenset({"1", "on"})  # SPN2 treats everything else, even "true", as false
BOOLEAN_OPTIONS = (
    "capture_all",
    "capture_outlinks",
    "capture_screenshot",
    "delay_wb_availability",
    "force_get",
    "skip_first_archive",
    "outlinks_availability",
    "email_result",
)
LOGIN_MESSAGE = "You need to be logged in to use Save Page Now."
TRY_LATER = "You can make new capture of this URL after 1 hour."
BLOCK_KINDS = {
    "Administrative": "AdministrativeAccessControlException: Blocked Site Error",
    "Robot": "RobotAccessControlException: Blocked By Robots",
}
# status_ext -> (message, exception) for refusals and failed jobs; unknown codes get a default.
ERROR_TEXTS: dict[str, tuple[str, str]] = {
    "error:blocked-url": (
        "This URL is in the Save Page Now service block list and cannot be captured.",
        "",
    ),
    "error:too-many-daily-captures": (
        "This URL has been already captured {n} times today. Please try again tomorrow.",
        "",
    ),
    "error:user-session-limit": (
        "You have already reached the limit of active sessions. Please try again later.",
        "",
    ),
    "error:not-found": (
        "The server cannot find the requested resource {url} (HTTP status={status}).",
        "",
    ),
    "error:invalid-host-resolution": (
        "Couldn't resolve host for {url}.",
        "net::ERR_NAME_NOT_RESOLVED",
    ),
    "error:soft-time-limit-exceeded": (
        "Your capture took too long. Please try again later.",
        "SoftTimeLimitExceeded()",
    ),
    "error:invalid-url-syntax": ("Invalid URL syntax: {url}", ""),
    "error:bad-request": ("Bad request: {detail}", ""),
}
DEFAULT_ERROR_TEXT = ("Capture of {url} failed ({code}).", "")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _utc(moment: datetime) -> datetime:
    """Treat naive datetimes from an injected clock as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_ts(moment: datetime) -> str:
    return _utc(moment).strftime(TS_FORMAT)


def parse_ts(ts: str) -> datetime:
    """A 1-14 digit Wayback timestamp, padded to the earliest moment it names."""
    padded = ts + "00000101000000"[len(ts) :]
    try:
        return datetime.strptime(padded, TS_FORMAT).replace(tzinfo=UTC)
    except ValueError:  # e.g. month 13: clamp like the real server does, roughly
        return datetime(int(padded[:4]) or 1, 1, 1, tzinfo=UTC)


def http_date(moment: datetime) -> str:
    """RFC 1123 date as used by Memento headers."""
    return format_datetime(_utc(moment), usegmt=True)


def surt(url: str) -> str:
    """The CDX ``urlkey`` of a URL: ``https://www.arxiv.org/abs/1/`` -> ``org,arxiv)/abs/1``."""
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    host = re.sub(r"^www\d*\.", "", (parts.hostname or "").rstrip("."))
    key = ",".join(reversed(host.split(".")))
    try:
        port = parts.port
    except ValueError:
        port = None
    if port not in (None, 80, 443):
        key += f":{port}"
    path = parts.path or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    query = "&".join(sorted(parts.query.split("&"))) if parts.query else ""
    return (f"{key}){path}" + (f"?{query}" if query else "")).lower()


def _host_key(urlkey: str) -> str:
    return urlkey.split(")", 1)[0]


def parse_timedelta(text: str) -> timedelta:
    """SPN2's ``if_not_archived_within``: ``30d``, ``3d 5h 20m``, ``45m`` or plain seconds."""
    text = text.strip()
    if text.isdigit():
        return timedelta(seconds=int(text))
    units = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
    found = re.findall(r"(\d+)\s*([dhms])", text)
    if not found or re.sub(r"\s*\d+\s*[dhms]\s*", "", text):
        raise ValueError(f"not a timedelta: {text!r}")
    return timedelta(**{units[u]: int(n) for n, u in found})


def _age_words(age: timedelta) -> str:
    """``177 hours, 9 minutes`` or ``2 minutes``, as SPN2 words it."""
    minutes = max(0, int(age.total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours} hours, {minutes} minutes" if hours else f"{minutes} minutes"


def stub_page(url: str) -> bytes:
    """The 'original bytes' of a capture seeded or made without a body (a tiny PDF for a
    ``.pdf`` URL, so a seeded copy of a paper is a believable one)."""
    if _pdf_url(url):
        return b"%PDF-1.4\n% sandbox capture of " + url.encode() + b"\n%%EOF\n"
    u = html.escape(url)
    return (
        f"<!DOCTYPE html>\n<html><head><title>{u}</title></head>"
        f'<body><p>Archived copy of <a href="{u}">{u}</a></p></body></html>\n'
    ).encode()


def _pdf_url(url: str) -> bool:
    return urlsplit(url).path.lower().endswith(".pdf")


def _digest(body: bytes) -> str:
    return base64.b32encode(hashlib.sha1(body).digest()).decode()


class ManualClock:
    """A clock tests move by hand: ``clock = ManualClock(); machine.configure(clock=clock)``."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = _utc(start or datetime(2026, 3, 2, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class WaybackConfig:
    """Every limit and behaviour switch; numbers follow the 2026 reference, none in code."""

    access_key: str = "sandbox-access"
    secret_key: str = "sandbox-secret"
    pending_polls: int = 2  # status polls answering "pending" before the job completes
    captures_per_minute: int = 6
    captures_per_day: int = 100
    captures_per_url_per_day: int = 5
    concurrent_sessions: int = 3  # slots; a job holds one until it completes
    clock: Callable[[], datetime] = _utc_now
    visibility_lag: timedelta = timedelta(0)  # fresh captures hidden from readers this long
    delayed_availability_lag: timedelta = timedelta(hours=12)  # delay_wb_availability=1
    same_job_window: timedelta = timedelta(hours=1)  # same URL -> same job_id
    job_ttl: timedelta = timedelta(hours=1)  # older jobs answer like unknown ids
    max_capture_time: timedelta = timedelta(minutes=2)  # jobs complete on their own after this
    duration_sec: float = 6.2
    system_status: str = "ok"  # or an overload sentence
    system_http_status: int = 200  # 502 on a critical problem


@dataclass(frozen=True)
class Capture:
    """One row of the archive: what CDX lists, availability finds and replay serves."""

    url: str
    timestamp: str  # 14 digits
    statuscode: int = 200
    mimetype: str = "text/html"
    digest: str = ""
    length: int = 0
    body: bytes | None = None
    visible_from: datetime = ALWAYS
    location: str | None = None  # where a captured redirect (3xx) led

    @property
    def urlkey(self) -> str:
        return surt(self.url)

    @property
    def when(self) -> datetime:
        return parse_ts(self.timestamp)

    def cdx(self) -> dict[str, str]:
        return {
            "urlkey": self.urlkey,
            "timestamp": self.timestamp,
            "original": self.url,
            "mimetype": self.mimetype,
            "statuscode": str(self.statuscode),
            "digest": self.digest,
            "length": str(self.length),
        }

    def original_bytes(self) -> bytes:
        return self.body if self.body is not None else stub_page(self.url)


@dataclass
class Job:
    """One SPN2 capture job, inspectable through :attr:`WaybackMachine.jobs`."""

    job_id: str
    url: str
    submitted: datetime
    options: dict[str, Any] = field(default_factory=dict)
    polls: int = 0
    status: Literal["pending", "success", "error"] = "pending"
    status_ext: str | None = None  # set when the job fails
    timestamp: str | None = None  # set on success
    http_status: int = 200
    original_url: str = ""  # after redirects
    hops: list[Hop] | None = None  # what the sandbox web served, when a crawler is attached

    @property
    def urlkey(self) -> str:
        return surt(self.url)


@dataclass(frozen=True)
class Hop:
    """One response the capture crawler saw: a redirect (``location``) or the page itself."""

    url: str
    status: int | None
    content_type: str = "text/html"
    body: bytes = b""
    location: str | None = None
    error: str | None = None  # an SPN2 status_ext when nothing answered


# What SPN2 answers when the page itself fails (without capture_all=1).
SPN_STATUS_ERRORS = {
    400: "error:bad-request",
    401: "error:unauthorized",
    403: "error:no-access",
    404: "error:not-found",
    405: "error:method-not-allowed",
    410: "error:not-found",
    500: "error:internal-server-error",
    502: "error:bad-gateway",
    503: "error:service-unavailable",
    504: "error:gateway-timeout",
}
CRAWLER_AGENT = (  # SPN2 drives a real browser: sites see a browser, not a robot
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
MAX_CRAWL_BYTES = 2 * 1024 * 1024


class SandboxCrawler:
    """Save Page Now's browser for the sandbox: fetches a URL from the sandbox web (over the
    loopback ports of :class:`~linkkeeper.sandbox.Sandbox`, redirects followed hop by hop,
    cookies kept), so a capture holds what the sandbox web serves at that moment. Hosts the
    sandbox web does not serve give ``None``: the machine then makes its stub capture."""

    def __init__(self, sandbox: Any, timeout: float = 5.0, max_hops: int = 10) -> None:
        self.sandbox = sandbox
        self.timeout = timeout
        self.max_hops = max_hops

    def _origin(self, url: str) -> str | None:
        parts = urlsplit(url)
        host = self.sandbox.hosts.get((parts.hostname or "").lower())
        if host is None or host.name in ("web.archive.org", "archive.org"):
            return None
        port = host.ports.get(parts.scheme)
        return f"http://127.0.0.1:{port}" if port else None

    async def __call__(self, url: str) -> list[Hop] | None:
        import aiohttp

        if self._origin(url) is None:
            return None
        hops: list[Hop] = []
        current = url
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        jar = aiohttp.CookieJar(unsafe=True)
        headers = {"User-Agent": CRAWLER_AGENT, "Accept": "text/html,*/*;q=0.8"}
        async with aiohttp.ClientSession(timeout=timeout, cookie_jar=jar) as session:
            for _ in range(self.max_hops + 1):
                origin = self._origin(current)
                if origin is None:
                    return [*hops, Hop(current, None, error="error:invalid-host-resolution")]
                parts = urlsplit(current)
                target = origin + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                try:
                    async with session.get(
                        target, allow_redirects=False, headers=headers
                    ) as response:
                        body = await response.content.read(MAX_CRAWL_BYTES)
                        kind = response.headers.get("Content-Type", "").split(";")[0].strip()
                        location = response.headers.get("Location")
                        status = response.status
                except TimeoutError:
                    return [*hops, Hop(current, None, error="error:browsing-timeout")]
                except aiohttp.ClientError:
                    return [*hops, Hop(current, None, error="error:cannot-fetch")]
                if 300 <= status < 400 and location:
                    nxt = urljoin(current, location)
                    hops.append(Hop(current, status, kind or "text/html", body, location=nxt))
                    current = nxt
                    continue
                return [*hops, Hop(current, status, kind or "text/html", body)]
        return [*hops, Hop(current, None, error="error:too-many-redirects")]


@dataclass
class _Fail:
    status_ext: str
    at: Literal["submit", "status"]


class WaybackMachine:
    """The whole sandbox archive: configure and seed it from tests, serve it via :meth:`hosts`."""

    def __init__(self, **config: Any) -> None:
        self._lock = threading.RLock()
        self._initial = config
        # Save Page Now's browser (:class:`SandboxCrawler`), set by ``start_sandbox``; without
        # one every capture is a stub page. Survives :meth:`reset`.
        self.crawler: Callable[[str], Awaitable[list[Hop] | None]] | None = None
        self.reset()

    # -- state set-up (main thread) --------------------------------------------------------
    def reset(self) -> None:
        """Forget captures, jobs and failure modes; back to the default config."""
        with self._lock:
            self.config = WaybackConfig(**self._initial)
            self._captures: dict[str, list[Capture]] = {}
            self._jobs: dict[str, Job] = {}
            self._fails: dict[str, _Fail] = {}
            self._blocked: dict[str, str] = {}  # host key -> kind
            self._target_status: dict[str, int] = {}
            self._redirects: dict[str, str] = {}
            self._availability_empty = False
            self._cdx_answers: dict[str, str] = {}  # url key -> a raw (hostile) CDX body

    def configure(self, **changes: Any) -> WaybackConfig:
        """Change config fields (unknown names raise ``TypeError``)."""
        with self._lock:
            self.config = dataclasses.replace(self.config, **changes)
            return self.config

    def seed(
        self,
        url: str,
        timestamp: str | datetime,
        statuscode: int = 200,
        mimetype: str = "text/html",
        digest: str | None = None,
        body: bytes | str | None = None,
        location: str | None = None,
    ) -> Capture:
        """Add a historical capture (e.g. a 2022 copy of an article that is dead now); a 3xx
        capture with ``location`` replays as that redirect, as a captured redirect does."""
        ts = (
            format_ts(timestamp)
            if isinstance(timestamp, datetime)
            else format_ts(parse_ts(timestamp))
        )
        data = body.encode() if isinstance(body, str) else body
        original = data if data is not None else stub_page(url)
        if data is None and mimetype == "text/html" and _pdf_url(url):
            mimetype = "application/pdf"
        capture = Capture(
            url=url,
            timestamp=ts,
            statuscode=statuscode,
            mimetype=mimetype,
            digest=digest or _digest(original),
            length=len(original),
            body=data,
            location=location,
        )
        self._store(capture)
        return capture

    def answer_cdx(self, url: str, body: str) -> None:
        """Answer every CDX search for ``url`` with ``body`` as ``200 application/json``,
        whatever it holds: a broken or hostile archive answer (numbers where strings go, a
        header that is not a list, not JSON at all)."""
        with self._lock:
            self._cdx_answers[surt(url)] = body

    def fail_url(
        self, url: str, status_ext: str, at: Literal["submit", "status"] = "submit"
    ) -> None:
        """Refuse captures of ``url`` with ``status_ext`` at submit time or when polled."""
        if at not in ("submit", "status"):
            raise ValueError(f"at must be 'submit' or 'status', not {at!r}")
        with self._lock:
            self._fails[surt(url)] = _Fail(status_ext, at)

    def block_site(
        self, host: str, kind: Literal["Administrative", "Robot"] = "Administrative"
    ) -> None:
        """Exclude a host and its subdomains: CDX 403, empty availability, replay 403."""
        if kind not in BLOCK_KINDS:
            raise ValueError(f"kind must be one of {sorted(BLOCK_KINDS)}, not {kind!r}")
        with self._lock:
            self._blocked[_host_key(surt(host))] = kind

    def target_status(self, url: str, status: int) -> None:
        """The HTTP status SPN sees at ``url`` (4xx/5xx fail unless ``capture_all=1``)."""
        with self._lock:
            self._target_status[surt(url)] = status

    def redirect(self, url: str, final_url: str) -> None:
        """SPN follows ``url`` to ``final_url``: success reports it as ``original_url``."""
        with self._lock:
            self._redirects[surt(url)] = final_url

    def availability_empty(self, on: bool = True) -> None:
        """The real API's known flake: answer ``archived_snapshots: {}`` although archived."""
        with self._lock:
            self._availability_empty = on

    def captures(self, url: str) -> list[Capture]:
        """Every stored capture of ``url`` (visible or not yet), oldest first."""
        with self._lock:
            return list(self._captures.get(surt(url), []))

    @property
    def jobs(self) -> dict[str, Job]:
        """Copies of all SPN2 jobs by id."""
        with self._lock:
            self._settle()
            return {k: dataclasses.replace(j) for k, j in self._jobs.items()}

    def hosts(self) -> list[VirtualHost]:
        """``web.archive.org`` (SPN2, CDX, replay) and ``archive.org`` (availability API)."""
        return [
            VirtualHost("web.archive.org", self._web_app, http_redirects_to_https=True),
            VirtualHost("archive.org", self._availability_app, http_redirects_to_https=True),
        ]

    # -- internals (call with the lock held) ------------------------------------------------
    def _now(self) -> datetime:
        return _utc(self.config.clock())

    def _store(self, capture: Capture) -> None:
        with self._lock:
            rows = self._captures.setdefault(capture.urlkey, [])
            rows.append(capture)
            rows.sort(key=lambda c: c.timestamp)

    def _visible(self, urlkey: str) -> list[Capture]:
        now = self._now()
        return [c for c in self._captures.get(urlkey, []) if c.visible_from <= now]

    def _blocked_kind(self, urlkey: str) -> str | None:
        host = _host_key(urlkey)
        for blocked, kind in self._blocked.items():
            if host == blocked or host.startswith(blocked + ","):
                return kind
        return None

    def _settle(self) -> None:
        """Complete jobs that ran past ``max_capture_time`` although nobody polled them."""
        now = self._now()
        for job in self._jobs.values():
            if job.status == "pending" and now - job.submitted >= self.config.max_capture_time:
                self._complete(job)

    def _complete(self, job: Job) -> None:
        fail = self._fails.get(job.urlkey)
        status = self._target_status.get(job.urlkey, 200)
        if fail is not None and fail.at == "status":
            job.status, job.status_ext = "error", fail.status_ext
            return
        told = job.urlkey in self._target_status or job.urlkey in self._redirects
        if job.hops is not None and not told:
            self._complete_crawled(job, job.hops)
            return
        if status >= 400 and not job.options.get("capture_all"):
            job.status, job.status_ext, job.http_status = "error", "error:not-found", status
            return
        lag = self.config.visibility_lag
        if job.options.get("delay_wb_availability"):
            lag = max(lag, self.config.delayed_availability_lag)
        job.status, job.http_status = "success", status
        job.timestamp = format_ts(job.submitted)
        body = stub_page(job.original_url)
        self._store(
            Capture(
                url=job.original_url,
                timestamp=job.timestamp,
                statuscode=status,
                digest=_digest(body),
                length=len(body),
                visible_from=self._now() + lag,
            )
        )

    def _complete_crawled(self, job: Job, hops: list[Hop]) -> None:
        """Finish a job from what the sandbox web served: every hop is stored as its own
        capture (a redirect replays as that redirect), as SPN2 records a crawl."""
        last = hops[-1]
        if last.error is not None or last.status is None:
            job.status, job.status_ext = "error", last.error or "error:cannot-fetch"
            return
        if last.status >= 400 and not job.options.get("capture_all"):
            code = SPN_STATUS_ERRORS.get(last.status, "error:not-found")
            if last.status >= 500 and last.status not in SPN_STATUS_ERRORS:
                code = "error:bad-gateway"
            job.status, job.status_ext, job.http_status = "error", code, last.status
            return
        lag = self.config.visibility_lag
        if job.options.get("delay_wb_availability"):
            lag = max(lag, self.config.delayed_availability_lag)
        job.status, job.http_status, job.original_url = "success", last.status, last.url
        job.timestamp = format_ts(job.submitted)
        for hop in hops:
            self._store(
                Capture(
                    url=hop.url,
                    timestamp=job.timestamp,
                    statuscode=hop.status or 200,
                    mimetype=hop.content_type or "text/html",
                    digest=_digest(hop.body),
                    length=len(hop.body),
                    body=hop.body,
                    visible_from=self._now() + lag,
                    location=hop.location,
                )
            )

    def _live_job(self, job_id: str) -> Job | None:
        job = self._jobs.get(job_id)
        if job is None or self._now() - job.submitted > self.config.job_ttl:
            return None
        return job

    def _unfinished(self) -> list[Job]:
        self._settle()
        return [j for j in self._jobs.values() if j.status == "pending"]

    def _today(self, moment: datetime) -> bool:
        return moment.date() == self._now().date()

    def _error_body(self, code: str, **fmt: Any) -> dict[str, Any]:
        message, exception = ERROR_TEXTS.get(code, DEFAULT_ERROR_TEXT)
        fmt.setdefault("code", code)
        return {
            "status": "error",
            "status_ext": code,
            "message": message.format_map(defaultdict(str, fmt)),
        } | ({"exception": exception} if "job" in fmt else {})

    # -- SPN2 --------------------------------------------------------------------------------
    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, creds = header.partition(" ")
        key, _, secret = creds.strip().partition(":")
        with self._lock:
            cfg = self.config
            return scheme == "LOW" and (key, secret) == (cfg.access_key, cfg.secret_key)

    def submit(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """One ``POST /save`` after auth: (HTTP status, JSON body)."""
        url = form.get("url", "").strip()
        if not url or not urlsplit(url if "://" in url else "http://" + url).hostname:
            return 200, self._error_body("error:invalid-url-syntax", url=url)
        within: timedelta | None = None
        if form.get("if_not_archived_within"):
            try:
                within = parse_timedelta(form["if_not_archived_within"])
            except ValueError as exc:
                return 200, self._error_body("error:bad-request", detail=exc)
        options: dict[str, Any] = {k: form.get(k, "") in TRUE_VALUES for k in BOOLEAN_OPTIONS}
        options["js_behavior_timeout"] = form.get("js_behavior_timeout")
        options["if_not_archived_within"] = within
        key = surt(url)
        with self._lock:
            cfg, now = self.config, self._now()
            fail = self._fails.get(key)
            if fail is not None and fail.at == "submit":
                n = cfg.captures_per_url_per_day
                return 200, self._error_body(fail.status_ext, url=url, n=n)
            if self._blocked_kind(key) == "Administrative":
                return 200, self._error_body("error:blocked-url", url=url)
            latest = max((c.when for c in self._captures.get(key, [])), default=None)
            if within is not None and latest is not None and now - latest <= within:
                message = f"The same snapshot had been made {_age_words(now - latest)} ago."
                return 200, {"url": url, "job_id": None, "message": f"{message} {TRY_LATER}"}
            recent = [
                j
                for j in self._jobs.values()
                if j.urlkey == key and now - j.submitted <= cfg.same_job_window
            ]
            if recent:
                job = max(recent, key=lambda j: j.submitted)
                message = f"The same snapshot had been made {_age_words(now - job.submitted)} ago."
                return 200, {"url": url, "job_id": job.job_id, "message": f"{message} {TRY_LATER}"}
            if (n := self._url_today(key)) >= cfg.captures_per_url_per_day:
                return 200, self._error_body("error:too-many-daily-captures", url=url, n=n)
            if sum(self._today(j.submitted) for j in self._jobs.values()) >= cfg.captures_per_day:
                body = self._error_body("error:too-many-daily-captures", url=url)
                body["message"] = (
                    f"You cannot make more than {cfg.captures_per_day} captures per day."
                )
                return 200, body
            if len(self._unfinished()) >= cfg.concurrent_sessions:
                return 429, self._error_body("error:user-session-limit", url=url)
            last_minute = [
                j for j in self._jobs.values() if now - j.submitted < timedelta(minutes=1)
            ]
            if len(last_minute) >= cfg.captures_per_minute:
                return 429, {"message": "Too many captures per minute. Please try again later."}
            job = Job(
                job_id="spn2-" + secrets.token_hex(20),
                url=url,
                submitted=now,
                options=options,
                original_url=self._redirects.get(key, url),
            )
            self._jobs[job.job_id] = job
            return 200, {"url": url, "job_id": job.job_id}

    def _url_today(self, key: str) -> int:
        self._settle()
        stored = sum(self._today(c.when) for c in self._captures.get(key, []))
        running = sum(j.urlkey == key and self._today(j.submitted) for j in self._unfinished())
        return stored + running

    def poll(self, job_id: str) -> dict[str, Any]:
        """One status poll of one job; counts towards ``pending_polls``."""
        with self._lock:
            self._settle()
            job = self._live_job(job_id)
            if job is None:
                return {"status": "pending", "job_id": job_id, "resources": []}
            if job.status == "pending":
                job.polls += 1
                if job.polls > self.config.pending_polls:
                    self._complete(job)
            if job.status == "pending":
                return {"status": "pending", "job_id": job_id, "resources": [job.url]}
            if job.status == "error":
                code = job.status_ext or "error:job-failed"
                body = self._error_body(code, url=job.url, status=job.http_status, job=True)
                return body | {"job_id": job_id, "resources": []}
            return {
                "status": "success",
                "job_id": job_id,
                "original_url": job.original_url,
                "timestamp": job.timestamp,
                "duration_sec": self.config.duration_sec,
                "resources": [job.original_url],
                "outlinks": [],
                "http_status": job.http_status,
            }

    def user_status(self) -> dict[str, int]:
        with self._lock:
            processing = len(self._unfinished())
            return {
                "processing": processing,
                "available": max(0, self.config.concurrent_sessions - processing),
                "daily_captures": sum(self._today(j.submitted) for j in self._jobs.values()),
                "daily_captures_limit": self.config.captures_per_day,
            }

    async def _save(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _json({"message": LOGIN_MESSAGE}, 401)
        form = {**request.query, **(await request.post())}
        status, body = self.submit({k: str(v) for k, v in form.items()})
        job_id, crawler = body.get("job_id"), self.crawler
        if job_id and crawler is not None:
            with self._lock:
                job = self._jobs.get(job_id)
                fresh = job is not None and job.hops is None and job.status == "pending"
            if fresh and job is not None:
                hops = await crawler(job.url)  # what the page serves at this moment
                with self._lock:
                    job.hops = hops
        return _json(body, status)

    async def _status_get(self, request: web.Request) -> web.Response:
        return _json(self.poll(request.match_info["job_id"]))

    async def _status_post(self, request: web.Request) -> web.Response:
        form = await request.post()
        if "job_ids" in form:
            ids = [i.strip() for i in str(form["job_ids"]).split(",") if i.strip()]
            return _json([self.poll(i) for i in ids])
        return _json(self.poll(str(form.get("job_id", ""))))

    async def _status_user(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _json({"message": LOGIN_MESSAGE}, 401)
        return _json(self.user_status())

    async def _status_system(self, request: web.Request) -> web.Response:
        with self._lock:
            cfg = self.config
        return _json({"status": cfg.system_status}, cfg.system_http_status)

    # -- availability API -----------------------------------------------------------------
    def available(self, url: str, timestamp: str | None) -> dict[str, Any]:
        """The ``/wayback/available`` answer: closest 200 capture, latest without timestamp."""
        key = surt(url) if url else ""
        with self._lock:
            empty = self._availability_empty or not url or self._blocked_kind(key)
            rows = [] if empty else [c for c in self._visible(key) if c.statuscode == 200]
        if not rows:
            return {"url": url, "archived_snapshots": {}}
        best = _closest(rows, timestamp) if timestamp else rows[-1]
        return {
            "url": url,
            "archived_snapshots": {
                "closest": {
                    "available": True,
                    "url": f"http://web.archive.org/web/{best.timestamp}/{best.url}",
                    "timestamp": best.timestamp,
                    "status": str(best.statuscode),
                }
            },
        }

    async def _available(self, request: web.Request) -> web.Response:
        ts = request.query.get("timestamp", "")
        ts = ts if re.fullmatch(r"\d{1,14}", ts) else None
        return _json(self.available(request.query.get("url", ""), ts))

    # -- CDX ----------------------------------------------------------------------------------
    def cdx(self, query: dict[str, list[str]]) -> tuple[int, str, str, dict[str, str]]:
        """A CDX search: (HTTP status, content type, body, extra headers)."""
        first = {k: v[0] for k, v in query.items() if v}
        url = first.get("url", "")
        if not url:
            return 400, "text/plain", "url parameter is required\n", {}
        match = first.get("matchType")
        if match is None:
            match = "domain" if url.startswith("*.") else "prefix" if url.endswith("*") else "exact"
            url = url.removeprefix("*.").removesuffix("*")
        key = surt(url)
        with self._lock:
            hostile = self._cdx_answers.get(key)
        if hostile is not None:
            return 200, "application/json", hostile, {}
        predicates = {
            "exact": lambda k: k == key,
            "prefix": lambda k: k.startswith(key),
            "host": lambda k: _host_key(k) == _host_key(key),
            "domain": lambda k: (
                _host_key(k) == _host_key(key) or _host_key(k).startswith(_host_key(key) + ",")
            ),
        }
        if match not in predicates:
            return 400, "text/plain", f"Sorry, matchType={match} is not supported\n", {}
        with self._lock:
            kind = self._blocked_kind(key)
            rows = [
                c.cdx()
                for k in sorted(self._captures)
                if predicates[match](k)
                for c in self._visible(k)
            ]
        if kind is not None:
            error = BLOCK_KINDS[kind]
            body = (
                f"org.archive.util.io.RuntimeIOException: org.archive.wayback.exception.{error}\n"
            )
            return 403, "text/plain", body, {"X-Archive-Wayback-Runtime-Error": error}
        try:
            fields = _cdx_fields(first.get("fl"))
            rows = _cdx_select(rows, first, query.get("filter", []), query.get("collapse", []))
        except ValueError as exc:
            return 400, "text/plain", f"{exc}\n", {}
        table = [[row[f] for f in fields] for row in rows]
        if first.get("output") == "json":
            return 200, "application/json", json.dumps([list(fields), *table] if table else []), {}
        return 200, "text/plain", "".join(" ".join(r) + "\n" for r in table), {}

    async def _cdx(self, request: web.Request) -> web.Response:
        query: dict[str, list[str]] = {}
        for k, v in request.query.items():
            query.setdefault(k, []).append(v)
        status, ctype, body, headers = self.cdx(query)
        return web.Response(status=status, body=body.encode(), content_type=ctype, headers=headers)

    # -- replay, TimeMap, TimeGate ---------------------------------------------------------------
    async def _replay(self, request: web.Request) -> web.StreamResponse:
        rest = request.raw_path.removeprefix("/web/")
        origin = f"{request.scheme}://{request.host}"
        if rest.startswith("timemap/link/"):
            return self._timemap(rest.removeprefix("timemap/link/"), origin)
        m = re.fullmatch(r"(\d{1,14})([a-z]{2}_)?/(.+)", rest, flags=re.DOTALL)
        if m is None:  # TimeGate
            accept = request.headers.get("Accept-Datetime")
            ts = None
            if accept:
                try:
                    ts = format_ts(parsedate_to_datetime(accept))
                except (TypeError, ValueError):
                    return web.Response(status=400, text="Bad Accept-Datetime\n")
            return self._redirect_closest(rest, ts, "", origin, timegate=True)
        ts, modifier, url = m.group(1), m.group(2) or "", m.group(3)
        with self._lock:
            kind = self._blocked_kind(surt(url))
            rows = self._visible(surt(url))
        if kind is not None:
            return web.Response(
                status=403,
                text="Sorry. This URL has been excluded from the Wayback Machine.\n",
                headers={"X-Archive-Wayback-Runtime-Error": BLOCK_KINDS[kind]},
            )
        same = [c for c in rows if c.timestamp == ts]  # http:// and https:// share a key
        exact = next((c for c in same if c.url == url), same[0] if same else None)
        if exact is None:
            return self._redirect_closest(url, ts, modifier, origin)
        if exact.location and 300 <= exact.statuscode < 400:  # a captured redirect replays as one
            return web.Response(
                status=exact.statuscode,
                headers={
                    "Location": f"{origin}/web/{exact.timestamp}{modifier}/{exact.location}",
                    "Memento-Datetime": http_date(exact.when),
                    "Link": _memento_links(url, rows, exact, origin),
                },
            )
        body = exact.original_bytes()
        if modifier != "id_":
            banner = (
                f'<div id="wm-ipp">Wayback Machine: {html.escape(exact.url)} '
                f"captured {http_date(exact.when)}</div>\n"
            )
            body = banner.encode() + body
        headers = {
            "Memento-Datetime": http_date(exact.when),
            "Link": _memento_links(url, rows, exact, origin),
            "Content-Type": exact.mimetype,
        }
        status = exact.statuscode if exact.statuscode >= 400 else 200
        return web.Response(status=status, body=body, headers=headers)

    def _redirect_closest(
        self, url: str, ts: str | None, modifier: str, origin: str, timegate: bool = False
    ) -> web.Response:
        with self._lock:
            rows = [] if self._blocked_kind(surt(url)) else self._visible(surt(url))
        if not rows:
            return web.Response(
                status=404,
                text="<html><body><p>Wayback Machine has not archived that URL.</p></body></html>",
                content_type="text/html",
            )
        best = _closest(rows, ts) if ts else rows[-1]
        headers = {"Location": f"{origin}/web/{best.timestamp}{modifier}/{best.url}"}
        if timegate:
            headers["Vary"] = "accept-datetime"
            headers["Link"] = (
                f'<{url}>; rel="original", '
                f'<{origin}/web/timemap/link/{url}>; rel="timemap"; type="application/link-format"'
            )
        return web.Response(status=302, headers=headers)

    def _timemap(self, url: str, origin: str) -> web.Response:
        with self._lock:
            rows = [] if self._blocked_kind(surt(url)) else self._visible(surt(url))
        if not rows:
            return web.Response(status=404, text="")
        lines = [
            f'<{url}>; rel="original"',
            f'<{origin}/web/timemap/link/{url}>; rel="self"; type="application/link-format"; '
            f'from="{http_date(rows[0].when)}"; until="{http_date(rows[-1].when)}"',
            f'<{origin}/web/{url}>; rel="timegate"',
        ]
        for i, c in enumerate(rows):
            rel = "first memento" if i == 0 else "last memento" if i == len(rows) - 1 else "memento"
            lines.append(
                f'<{origin}/web/{c.timestamp}/{c.url}>; rel="{rel}"; datetime="{http_date(c.when)}"'
            )
        return web.Response(
            body=(",\n".join(lines) + "\n").encode(),
            headers={"Content-Type": "application/link-format"},
        )

    # -- apps -----------------------------------------------------------------------------------
    def _web_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/save", self._save)
        app.router.add_post("/save/", self._save)
        app.router.add_get("/save/status/user", self._status_user)
        app.router.add_get("/save/status/system", self._status_system)
        app.router.add_get("/save/status/{job_id}", self._status_get)
        app.router.add_post("/save/status", self._status_post)
        app.router.add_get("/cdx/search/cdx", self._cdx)
        app.router.add_get("/web/{rest:.+}", self._replay)
        return app

    def _availability_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/wayback/available", self._available)
        return app


def _json(body: Any, status: int = 200) -> web.Response:
    """JSON with Content-Type exactly ``application/json`` (gospn rejects anything else)."""
    return web.Response(
        status=status, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )


def _closest(rows: list[Capture], ts: str) -> Capture:
    """The capture nearest to a 1-14 digit timestamp; ties go to the earlier one."""
    target = parse_ts(ts)
    return min(rows, key=lambda c: (abs((c.when - target).total_seconds()), c.timestamp))


def _cdx_fields(fl: str | None) -> tuple[str, ...]:
    if not fl:
        return CDX_FIELDS
    fields = tuple(f.strip() for f in fl.split(",") if f.strip())
    unknown = [f for f in fields if f not in CDX_FIELDS]
    if unknown:
        raise ValueError(f"Unknown field(s) in fl: {', '.join(unknown)}")
    return fields


def _cdx_select(
    rows: list[dict[str, str]],
    first: dict[str, str],
    filters: Iterable[str],
    collapses: Iterable[str],
) -> list[dict[str, str]]:
    """Apply filter, from/to, collapse, closest sort and limit, in the real server's order."""
    for spec in filters:
        negate, spec = spec.startswith("!"), spec.removeprefix("!")
        contains, spec = spec.startswith("~"), spec.removeprefix("~")
        name, sep, pattern = spec.partition(":")
        if not sep or name not in CDX_FIELDS:
            raise ValueError(f"Invalid filter {spec!r}: use [!]field:regex with a CDX field")
        test = (
            (lambda v, p=pattern: p in v)
            if contains
            else (lambda v, p=re.compile(pattern): p.fullmatch(v) is not None)
        )
        rows = [r for r in rows if test(r[name]) != negate]
    for bound, pad, keep in (("from", "0", lambda t, b: t >= b), ("to", "9", lambda t, b: t <= b)):
        value = first.get(bound, "")
        if value:
            if not re.fullmatch(r"\d{1,14}", value):
                raise ValueError(f"Invalid {bound}={value!r}: use 1-14 digits")
            rows = [r for r in rows if keep(r["timestamp"], value.ljust(14, pad))]
    for spec in collapses:
        name, _, n = spec.partition(":")
        if name not in CDX_FIELDS:
            raise ValueError(f"Invalid collapse field {name!r}")
        width = int(n) if n.isdigit() else None
        kept: list[dict[str, str]] = []
        for r in rows:
            if not kept or kept[-1][name][:width] != r[name][:width]:
                kept.append(r)
        rows = kept
    closest = first.get("closest", "")
    if closest and first.get("sort") == "closest":
        target = parse_ts(closest)
        rows = sorted(rows, key=lambda r: abs((parse_ts(r["timestamp"]) - target).total_seconds()))
    limit = first.get("limit", "")
    if limit:
        if not re.fullmatch(r"-?\d+", limit):
            raise ValueError(f"Invalid limit={limit!r}")
        n = int(limit)
        rows = rows[n:] if n < 0 else rows[:n]
    return rows


def _memento_links(url: str, rows: list[Capture], current: Capture, origin: str) -> str:
    """The Memento ``Link`` header of a replay; prev/next only when they exist."""
    i = rows.index(current)
    links = [
        f'<{url}>; rel="original"',
        f'<{origin}/web/timemap/link/{url}>; rel="timemap"; type="application/link-format"',
        f'<{origin}/web/{url}>; rel="timegate"',
    ]
    named = [("first memento", rows[0])]
    if i > 0:
        named.append(("prev memento", rows[i - 1]))
    named.append(("memento", current))
    if i < len(rows) - 1:
        named.append(("next memento", rows[i + 1]))
    named.append(("last memento", rows[-1]))
    links += [
        f'<{origin}/web/{c.timestamp}/{c.url}>; rel="{rel}"; datetime="{http_date(c.when)}"'
        for rel, c in named
    ]
    return ", ".join(links)
