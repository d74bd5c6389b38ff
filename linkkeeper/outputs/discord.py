"""Discord: post the Tuesday message through a webhook, heal it in place, alert on deaths.

The group reads its list in a Discord channel, so that is where a dead link must be fixed.
``linkkeeper week N --post`` executes the webhook (``?wait=true``, so Discord returns the
message and its id) and records the ids in ``snapshots/_discord.json``; each night
:func:`heal_and_alert` re-renders every posted week and edits its messages in place when a
reading died, came back or moved (nothing is sent when nothing changed), and posts one short
alert for readings that newly became dead. Shapes and limits of the API:
``docs/discord-api.md``.

Safety: every message goes out with ``allowed_mentions: {"parse": []}`` (nobody is pinged,
whatever a title says) and ``SUPPRESS_EMBEDS`` (no preview cards). The webhook URL carries a
secret token: it lives only in this process, requests go through the project's guarded
network stack (:mod:`linkkeeper.web.netsafety`, ``--remap``), and every message or error that
could mention it is scrubbed. Rate limits: ``429`` waits ``retry_after`` (JSON body, else the
``Retry-After`` / ``X-RateLimit-Reset-After`` headers), an exhausted bucket is waited out
before the next request, 5xx and network errors are retried a bounded number of times; when
Discord stays down the work is owed, recorded, and done by the next night.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from linkkeeper import __version__
from linkkeeper.core import Health, atomic_write_text

if TYPE_CHECKING:
    from linkkeeper.outputs.pages import ReadingView, SectionView, SiteView
    from linkkeeper.web import Remapper

STATE_FILE = "_discord.json"  # not a record: record ids never start with "_"
STATE_VERSION = 1
API_VERSION = 10  # retry_after is in seconds from v8 on; unversioned /api means v6 (ms)
SUPPRESS_EMBEDS = 1 << 2
NO_PINGS: dict[str, list[str]] = {"parse": []}
CONTENT_LIMIT = 2000
WEBHOOK_PATH = re.compile(r"/api(?:/v\d+)?/webhooks/(\d{5,25})/([A-Za-z0-9_.\-]{10,200})/?")
USER_AGENT = f"DiscordBot (https://github.com/ai-workshop/linkkeeper, {__version__})"
WEBHOOK_HELP = (
    "set DISCORD_WEBHOOK_URL (or --discord-webhook) to the channel's webhook URL: Discord → "
    "channel settings → Integrations → Webhooks → New Webhook → Copy Webhook URL"
)
MAX_RATE_LIMITED = 5  # 429 answers waited out per request before it is owed to the next night
Sleep = Callable[[float], Awaitable[None]]


class DiscordError(Exception):
    """A Discord call failed; the message says what to do and never contains the token.

    ``later``: worth trying again next night (Discord down, rate limited); otherwise the setup
    needs a person (webhook deleted, token wrong, message refused)."""

    def __init__(
        self, message: str, status: int | None = None, code: int | None = None, later: bool = False
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.later = status, code, later


# -- the webhook URL (a secret) ---------------------------------------------------------------
@dataclass(frozen=True)
class Webhook:
    """A parsed webhook URL. ``repr`` and :attr:`redacted` never show the token."""

    id: str
    token: str = field(repr=False)
    origin: str  # scheme://host[:port]

    @classmethod
    def parse(cls, text: str) -> Webhook:
        """``https://discord.com/api/webhooks/ID/TOKEN`` (``/api/vN/...`` and other hosts, such
        as a sandbox, too); the error never repeats the URL, which holds the token."""
        try:
            parts = urlsplit(text.strip())
        except ValueError:
            parts = None
        match = WEBHOOK_PATH.fullmatch(parts.path) if parts else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or not match:
            host = f" (host {parts.hostname})" if parts and parts.hostname else ""
            raise DiscordError(
                f"the Discord webhook URL{host} is not of the form "
                f"https://discord.com/api/webhooks/ID/TOKEN; {WEBHOOK_HELP}"
            )
        return cls(match.group(1), match.group(2), f"{parts.scheme}://{parts.netloc}")

    @property
    def base(self) -> str:
        return f"{self.origin}/api/v{API_VERSION}/webhooks/{self.id}/{self.token}"

    @property
    def redacted(self) -> str:
        return f"{self.origin}/api/webhooks/{self.id}/***"

    def scrub(self, text: str) -> str:
        return text.replace(self.token, "***")


# -- the client -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClientSettings:
    """How hard to try: ``retries`` for 5xx and network errors (waits ``backoff`` doubling);
    a rate limit longer than ``max_wait`` seconds is owed to the next night instead."""

    retries: int = 3
    backoff: float = 1.0
    max_wait: float = 60.0
    timeout: float = 30.0
    allow_private: bool = False


def _retry_after(response: httpx.Response) -> float:
    """Seconds to wait after a 429: the body's ``retry_after`` (precise), else ``Retry-After``,
    else ``X-RateLimit-Reset-After``, else one second."""
    try:
        value = response.json().get("retry_after")
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return float(value)
    except (ValueError, AttributeError):
        pass
    for name in ("retry-after", "x-ratelimit-reset-after"):
        try:
            return max(0.0, float(response.headers[name]))
        except (KeyError, ValueError):
            continue
    return 1.0


def describe(response: httpx.Response) -> tuple[str, int | None]:
    """``404 Unknown Webhook (code 10015): <what to do>`` and Discord's error code."""
    try:
        data = response.json()
    except ValueError:
        data = None
    data = data if isinstance(data, dict) else {}
    code = data.get("code") if isinstance(data.get("code"), int) else None
    message = str(data.get("message") or response.reason_phrase or "error")[:200]
    details = []
    errors = data.get("errors")
    if isinstance(errors, dict):
        for name, value in errors.items():
            for item in value.get("_errors", []) if isinstance(value, dict) else []:
                details.append(f"{name}: {item.get('message')}")
    status = response.status_code
    advice = {
        10015: "the webhook was deleted or the URL is wrong: create a webhook and update "
        "DISCORD_WEBHOOK_URL",
        50027: "the webhook token is wrong: copy the webhook URL again",
        10008: "the message was deleted in Discord",
        50035: "Discord refused the message",
        30046: "Discord limits edits of older messages for now: the next night tries again",
    }.get(code or -1, "unexpected answer from Discord")
    if status >= 500:
        advice = "Discord is having trouble: the next night tries again"
    text = f"{status} {message}" + (f" (code {code})" if code is not None else "")
    if details:
        text += f" [{'; '.join(details)}]"
    return f"{text}: {advice}", code


class _Scrub(logging.Filter):
    """httpx logs each request's URL (at INFO), and a webhook URL's path is its token."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if self.token in text:
            record.msg, record.args = text.replace(self.token, "***"), None
        return True


class WebhookClient:
    """The four webhook calls linkkeeper makes, over the project's guarded HTTP stack."""

    def __init__(
        self,
        webhook: Webhook,
        settings: ClientSettings | None = None,
        *,
        remap: Remapper | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.webhook = webhook
        self.settings = settings or ClientSettings()
        self.remap = remap
        self._sleep = sleep
        self._client: httpx.AsyncClient | None = None
        self._quiet_until = 0.0  # the bucket is empty until then (monotonic)
        self.requests = 0  # sent, retries included (for reports and tests)
        self.gone = False  # 404 Unknown Webhook / 401: stop using it (Discord asks so)

    async def __aenter__(self) -> WebhookClient:
        from linkkeeper.web import GuardedAsyncTransport, literal_refusal

        target = urlsplit(self.remap.apply(self.webhook.base) if self.remap else self.webhook.base)
        if not self.settings.allow_private and (why := literal_refusal(target.hostname or "")):
            raise DiscordError(
                f"the Discord webhook cannot be used: {why}; pass --allow-private to allow "
                "it (e.g. for the sandbox)"
            )
        if self.webhook.origin.startswith("http:") and not self.settings.allow_private:
            raise DiscordError(  # the token would cross the network in the clear
                f"the Discord webhook URL ({self.webhook.redacted}) is not https: copy it again "
                "from Discord (webhook URLs start with https://discord.com/api/webhooks/)"
            )
        # the guards of every API client: each hop's address, answers capped in size and time
        transport = GuardedAsyncTransport(
            remap=self.remap, allow_private=self.settings.allow_private
        )
        self._scrub = _Scrub(self.webhook.token)
        for name in ("httpx", "httpcore", "aiohttp.client"):
            logging.getLogger(name).addFilter(self._scrub)
        self._client = httpx.AsyncClient(
            transport=transport,
            headers={"User-Agent": USER_AGENT},
            timeout=self.settings.timeout,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        for name in ("httpx", "httpcore", "aiohttp.client"):
            logging.getLogger(name).removeFilter(self._scrub)

    # -- the calls ----------------------------------------------------------------------------
    async def execute(self, content: str) -> dict[str, Any]:
        """Post a message and return it (``wait=true``: Discord answers with the message)."""
        payload = {"content": content, "allowed_mentions": NO_PINGS, "flags": SUPPRESS_EMBEDS}
        return await self._call("POST", "", payload, {"wait": "true"}, what="post a message")

    async def edit(self, message_id: str, content: str) -> dict[str, Any]:
        """Replace a message's content (the same safety fields as when it was posted: an edit
        without ``allowed_mentions`` would be parsed with Discord's default allowances)."""
        payload = {"content": content, "allowed_mentions": NO_PINGS, "flags": SUPPRESS_EMBEDS}
        return await self._call(
            "PATCH", f"/messages/{int(message_id)}", payload, what=f"edit message {message_id}"
        )

    async def get(self, message_id: str) -> dict[str, Any]:
        return await self._call(
            "GET", f"/messages/{int(message_id)}", what=f"fetch message {message_id}"
        )

    async def delete(self, message_id: str) -> None:
        await self._call(
            "DELETE", f"/messages/{int(message_id)}", what=f"delete message {message_id}"
        )

    # -- HTTP ---------------------------------------------------------------------------------
    async def _call(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        *,
        what: str,
    ) -> Any:
        assert self._client is not None, "use 'async with WebhookClient(...)'"
        if self.gone:
            raise DiscordError(f"cannot {what}: the webhook is unusable (see above)")
        where = f"cannot {what} via {self.webhook.redacted}"
        failures = limited = 0
        while True:
            await self._wait_for_bucket()
            self.requests += 1
            try:
                response = await self._client.request(
                    method, self.webhook.base + path, json=payload, params=params
                )
            except httpx.HTTPError as exc:  # its text may hold the URL: name the type only
                if failures < self.settings.retries:
                    await self._sleep(self.settings.backoff * 2**failures)
                    failures += 1
                    continue
                cause = exc.__cause__ or exc.__context__
                reason = f"{type(exc).__name__}" + (
                    f" ({self.webhook.scrub(str(cause))})" if cause is not None else ""
                )
                raise DiscordError(
                    f"{where}: Discord cannot be reached ({reason}); the next night tries again",
                    later=True,
                ) from None
            self._note_bucket(response)
            status = response.status_code
            if status == 429 and limited < MAX_RATE_LIMITED:
                wait = _retry_after(response)
                if wait > self.settings.max_wait:
                    raise DiscordError(
                        f"{where}: rate limited by Discord for {wait:.0f} s; the next night "
                        "tries again",
                        429,
                        later=True,
                    )
                limited += 1
                await self._sleep(wait)
                continue
            if status >= 500 and failures < self.settings.retries:
                await self._sleep(self.settings.backoff * 2**failures)
                failures += 1
                continue
            if response.is_success:
                return response.json() if response.content else None
            text, code = describe(response)
            if code in (10015, 50027) or status in (401, 403) or (status == 404 and code is None):
                self.gone = True
            later = status == 429 or status >= 500 or code == 30046
            raise DiscordError(self.webhook.scrub(f"{where}: {text}"), status, code, later)

    async def _wait_for_bucket(self) -> None:
        wait = self._quiet_until - time.monotonic()
        if wait > 0:
            await self._sleep(min(wait, self.settings.max_wait))

    def _note_bucket(self, response: httpx.Response) -> None:
        """An empty bucket (``X-RateLimit-Remaining: 0``) is waited out before the next call,
        so a long post does not run into a 429 in the first place."""
        if response.headers.get("x-ratelimit-remaining") != "0":
            return
        try:
            reset_after = float(response.headers.get("x-ratelimit-reset-after", "0"))
        except ValueError:
            return
        self._quiet_until = time.monotonic() + min(max(reset_after, 0.0), self.settings.max_wait)


# -- what was posted: snapshots/_discord.json -------------------------------------------------
def _now_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class PostLedger:
    """``snapshots/_discord.json``: the messages of each posted week and the alerts already sent.

    Shape (version 1; keys may be added)::

        {"version": 1,
         "weeks": {"3": {"webhook": "<webhook id>", "messages": ["<message id>", ...],
                         "sent": ["<sha256 of each message's content, 16 hex>", ...],
                         "shown": {"<reading id>": "ok" | "dead <link>" | "moved <url>"},
                         "posted_at": "...Z", "updated_at": "...Z" | null,
                         "owed": null | "<why the last edit is still owed>"}},
         "alerted": {"<reading id>": "<health since of the death already announced>"}}

    The webhook URL (its token) is never stored, only the webhook's id. Written atomically,
    after every message that Discord accepted, so nothing posted is ever forgotten."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {"version": STATE_VERSION, "weeks": {}, "alerted": {}}
        if path.exists():
            self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DiscordError(
                f"{self.path}: cannot be read ({exc}); restore it from git (it holds the ids of "
                "the posted Discord messages) or delete it to forget them"
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("weeks", {}), dict):
            raise DiscordError(f"{self.path}: not a linkkeeper Discord record; restore it from git")
        data.setdefault("weeks", {})
        if not isinstance(data.get("alerted"), dict):
            data["alerted"] = {}
        self.data = data

    @property
    def weeks(self) -> dict[str, dict[str, Any]]:
        return self.data["weeks"]  # type: ignore[no-any-return]

    @property
    def alerted(self) -> dict[str, str]:
        return self.data["alerted"]  # type: ignore[no-any-return]

    def save(self) -> None:
        text = json.dumps(self.data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        try:
            if self.path.read_text(encoding="utf-8") == text:
                return
        except (OSError, UnicodeDecodeError):
            pass
        atomic_write_text(self.path, text)


# -- rendering --------------------------------------------------------------------------------
def shown_key(reading: ReadingView) -> str:
    """What the post says about a reading, as far as healing cares: its original is fine, it
    is dead (and which link replaces it), or it moved (and where). A failing night is not
    news: only death, a return, or a move edits a posted message."""
    link = reading.link
    if link.state == Health.DEAD:
        return " ".join(x for x in ("dead", link.best, link.live_elsewhere) if x)
    if link.moved_to:
        return f"moved {link.moved_to}"
    return "ok"


def shown(section: SectionView) -> dict[str, str]:
    return {r.id: shown_key(r) for r in section.readings if r.url}


def _short(title: str, limit: int = 48) -> str:
    from linkkeeper.outputs.pages import md_escape

    title = " ".join(title.split())
    return md_escape(title if len(title) <= limit else title[: limit - 1] + "…")


def change_words(section: SectionView, before: dict[str, str]) -> list[str]:
    """``["Attention is all you need died (archived copy linked)", ...]`` for the update line."""
    words = []
    for reading in section.readings:
        if not reading.url:
            continue
        old, new = before.get(reading.id), shown_key(reading)
        if old == new:
            continue
        title = _short(reading.title)
        if new.startswith("dead"):
            if old and old.startswith("dead"):
                words.append(f"{title}: new link")
            elif reading.link.archive_first:
                words.append(f"{title} died (archived copy linked)")
            else:
                words.append(f"{title} died")
        elif new.startswith("moved"):
            words.append(f"{title} moved (new address linked)")
        elif old is None:
            words.append(f"{title} added")
        else:
            words.append(f"{title} is back")
    return words


def week_messages(section: SectionView, update_line: str | None = None) -> list[str]:
    """The week's post as Discord messages (split as ``linkkeeper week N`` splits it)."""
    from linkkeeper.outputs.pages import neutralise_mentions, render_week, split_messages

    text = render_week(section, "discord").rstrip()
    if update_line:
        text += "\n\n" + neutralise_mentions(update_line)
    return split_messages(text + "\n")


def update_line(day: date, words: list[str]) -> str:
    from linkkeeper.outputs.pages import human_date

    what = "; ".join(words)
    if len(what) > 300:
        what = what[:299] + "…"
    return f"-# ✏️ updated {human_date(day)}" + (f": {what}" if what else "")


def weeks_words(numbers: list[int]) -> str:
    """``week 2``, ``weeks 2 and 3``, ``weeks 1, 2 and 5``."""
    words = [str(n) for n in numbers]
    if len(words) == 1:
        return f"week {words[0]}"
    return f"weeks {', '.join(words[:-1])} and {words[-1]}"


def _weeks_of(site: SiteView) -> dict[str, list[str]]:
    where: dict[str, list[str]] = {}
    for section in site.weeks:
        for reading in section.readings:
            where.setdefault(reading.id, []).append(f"week {section.number}")
    for section in site.backlog:
        for reading in section.readings:
            where.setdefault(reading.id, []).append("the backlog")
    return where


def alert_text(news: list[ReadingView], site: SiteView, day: date, healed: Iterable[int]) -> str:
    """One short message: which readings died, where they were assigned, what to use now."""
    from linkkeeper.outputs.pages import human_date, md_escape, md_url, neutralise_mentions

    where = _weeks_of(site)
    count = f"{len(news)} reading{'s' if len(news) != 1 else ''}"
    lines = [f"🔴 **{count} died** ({human_date(day)})"]
    for reading in news:
        link = reading.link
        parts = [f"- **{md_escape(reading.title)}** ({', '.join(where.get(reading.id, []))})"]
        if link.capture is not None:
            parts.append(f"archived copy: <{md_url(link.capture.url)}>")
        else:
            from linkkeeper.ledger import NO_GOOD_COPY

            parts.append(NO_GOOD_COPY)
        if replacement := (link.live_elsewhere or link.moved_to):
            parts.append(f"suggested replacement: <{md_url(replacement)}>")
        if reading.url:
            parts.append(f"was <{md_url(reading.url)}>")
        lines.append(" · ".join(parts))
    weeks = sorted(set(healed))
    if weeks:
        verb = "now link" if len(weeks) > 1 else "now links"
        lines.append(f"-# The Tuesday post of {weeks_words(weeks)} {verb} the archived copies.")
    return neutralise_mentions("\n".join(lines))


# -- posting a week ---------------------------------------------------------------------------
@dataclass
class PostResult:
    action: str  # posted, updated, unchanged
    messages: list[str]
    message: str


async def _sync_week(
    client: WebhookClient,
    ledger: PostLedger,
    section: SectionView,
    messages: list[str],
    now: datetime,
) -> int:
    """Make the week's messages in Discord read ``messages``: edit those that differ, post the
    ones missing, delete surplus ones. Saves after each accepted call. Returns calls made."""
    key = str(section.number)
    entry = ledger.weeks.setdefault(
        key,
        {
            "webhook": client.webhook.id,
            "messages": [],
            "sent": [],
            "posted_at": _now_text(now),
            "updated_at": None,
            "shown": {},
            "owed": None,
        },
    )
    ids: list[str] = entry["messages"]
    sent: list[str] = entry["sent"]
    calls = 0
    for index, content in enumerate(messages):
        if index < len(ids):
            if sent[index] == _digest(content):
                continue
            await client.edit(ids[index], content)
        else:  # more messages than before: the new ones come at the channel's end
            posted = await client.execute(content)
            ids.append(str(posted["id"]))
            sent.append("")
        sent[index] = _digest(content)
        calls += 1
        ledger.save()
    while len(ids) > len(messages):
        try:
            await client.delete(ids[-1])
        except DiscordError as exc:
            if exc.code != 10008:  # already deleted in Discord: nothing left to do
                raise
        ids.pop()
        sent.pop()
        calls += 1
        ledger.save()
    return calls


async def post_week(
    section: SectionView,
    webhook: Webhook,
    snapshots: Path,
    *,
    settings: ClientSettings | None = None,
    remap: Remapper | None = None,
    now: datetime | None = None,
    sleep: Sleep = asyncio.sleep,
) -> PostResult:
    """``week N --post``: post the week, or bring an already posted week's messages up to date
    (never a second copy in the channel)."""
    now = now or datetime.now(UTC)
    ledger = PostLedger(snapshots / STATE_FILE)
    key = str(section.number)
    old = ledger.weeks.get(key)
    if old is not None and old.get("webhook") != webhook.id:
        ledger.weeks.pop(key)  # posted through another webhook: cannot edit those messages
        old = None
    messages = week_messages(section)
    async with WebhookClient(webhook, settings, remap=remap, sleep=sleep) as client:
        calls = await _sync_week(client, ledger, section, messages, now)
    entry = ledger.weeks[key]
    entry["shown"] = shown(section)
    entry["owed"] = None
    if old is not None and calls:
        entry["updated_at"] = _now_text(now)
    ledger.save()
    ids = list(entry["messages"])
    count = f"{len(ids)} message{'s' if len(ids) != 1 else ''}"
    if old is None:
        return PostResult("posted", ids, f"posted week {key} to Discord ({count})")
    if calls:
        return PostResult(
            "updated", ids, f"week {key} was already posted: updated it in place ({count})"
        )
    return PostResult("unchanged", ids, f"week {key} was already posted and is up to date")


# -- the nightly stage ------------------------------------------------------------------------
@dataclass
class NightReport:
    """What tonight did in Discord, for the summary line."""

    status: str  # ran, deferred (Discord down: owed to the next night), failed (needs a person)
    message: str
    edited: list[int] = field(default_factory=list)  # weeks whose post was healed
    alerted: list[str] = field(default_factory=list)  # readings announced dead
    owed: list[str] = field(default_factory=list)


async def heal_and_alert(
    site: SiteView,
    webhook: Webhook,
    snapshots: Path,
    *,
    today: date,
    settings: ClientSettings | None = None,
    remap: Remapper | None = None,
    now: datetime | None = None,
    sleep: Sleep = asyncio.sleep,
) -> NightReport:
    """Heal the posted weeks that need it, then announce new deaths once. Never raises for
    Discord's sake: what could not be done is recorded as owed and retried next night."""
    now = now or datetime.now(UTC)
    ledger = PostLedger(snapshots / STATE_FILE)
    report = NightReport("ran", "")
    problems: list[DiscordError] = []
    sections = {str(s.number): s for s in site.weeks}
    async with WebhookClient(webhook, settings, remap=remap, sleep=sleep) as client:
        for key, entry in sorted(ledger.weeks.items(), key=lambda kv: int(kv[0])):
            section = sections.get(key)
            if section is None or entry.get("webhook") != webhook.id or entry.get("gone"):
                continue
            before = entry.get("shown") or {}
            if shown(section) == before:
                continue  # nothing died, came back or moved: the post stays as it is
            line = update_line(today, change_words(section, before))
            try:
                if client.gone:
                    raise DiscordError("the webhook is unusable (see above)", later=False)
                await _sync_week(client, ledger, section, week_messages(section, line), now)
            except DiscordError as exc:
                if exc.code == 10008:  # deleted by a moderator: stop healing that week
                    entry["gone"] = f"a message was deleted in Discord ({_now_text(now)})"
                else:
                    entry["owed"] = str(exc)
                    report.owed.append(f"week {key}")
                ledger.save()
                problems.append(exc)
                continue
            entry.update(shown=shown(section), updated_at=_now_text(now), owed=None)
            ledger.save()
            report.edited.append(int(key))

        dead = {r.id: r for r in site.readings() if r.url and r.link.state == Health.DEAD}
        for reading_id in [i for i in ledger.alerted if i not in dead]:
            ledger.alerted.pop(reading_id)  # came back: a later death is news again
        since = {
            i: (_now_text(r.link.health.since) if r.link.health.since else "dead")
            for i, r in dead.items()
        }
        news = [r for i, r in dead.items() if ledger.alerted.get(i) != since[i]]
        if news:
            healed = [
                n for n in report.edited if any(r.id in dead for r in sections[str(n)].readings)
            ]
            text = alert_text(news, site, today, healed)
            try:
                if client.gone:
                    raise DiscordError("the webhook is unusable (see above)", later=False)
                from linkkeeper.outputs.pages import split_messages

                for part in split_messages(text):
                    await client.execute(part)
            except DiscordError as exc:
                problems.append(exc)
                report.owed.append("the alert")
            else:
                ledger.alerted.update({r.id: since[r.id] for r in news})
                report.alerted = [r.id for r in news]
        ledger.save()
    done = []
    if report.edited:
        done.append(f"healed the post of {weeks_words(report.edited)}")
    if report.alerted:
        done.append(f"alerted {len(report.alerted)} newly dead")
    if not done and not problems:
        done.append("posted weeks up to date; no new deaths")
    if problems:
        first = problems[0]
        owed = f"; owed to the next night: {', '.join(report.owed)}" if report.owed else ""
        done.append(f"{first}{owed}")
        report.status = "deferred" if all(p.later for p in problems) else "failed"
    report.message = "; ".join(done)
    return report


def run(coro: Awaitable[Any]) -> Any:
    """Run one Discord coroutine from synchronous code (the CLI, the nightly job)."""
    return asyncio.run(coro)  # type: ignore[arg-type]


# -- merging two nights' records (the nightly workflow's commit-back) -------------------------
def merge_records(
    base: dict[str, Any], ours: dict[str, Any], theirs: dict[str, Any]
) -> dict[str, Any]:
    """Both sides of ``_discord.json`` kept: tonight's healing (``ours``) and an organizer's
    ``week N --post`` pushed meanwhile (``theirs``). A week only one side changed takes that
    side; a week both changed keeps tonight's unless the organizer's points at other messages
    (a new post: its ids are the ones in the channel). Alerts already sent are never
    forgotten (a union), so nobody gets the same news twice."""
    merged = dict(ours)
    weeks: dict[str, Any] = {}
    old = base.get("weeks") or {}
    mine, yours = ours.get("weeks") or {}, theirs.get("weeks") or {}
    for key in sorted(set(mine) | set(yours)):
        a, b, o = mine.get(key), yours.get(key), old.get(key)
        if a is None or (a == o and b is not None):
            weeks[key] = b
        elif b is None or b == o:
            weeks[key] = a
        else:
            same = (a.get("messages"), a.get("webhook")) == (b.get("messages"), b.get("webhook"))
            weeks[key] = a if same else b
    merged["weeks"] = {k: v for k, v in weeks.items() if v is not None}
    merged["alerted"] = {**(theirs.get("alerted") or {}), **(ours.get("alerted") or {})}
    return merged


def _merge_driver(base: str, ours: str, theirs: str) -> int:
    """``git merge`` driver: ``python -m linkkeeper.outputs.discord merge %O %A %B`` (writes %A)."""

    def read(path: str) -> dict[str, Any]:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    mine, yours = read(ours), read(theirs)
    if not mine or not yours:
        return 1  # not ours to judge: git reports the conflict
    merged = merge_records(read(base), mine, yours)
    text = json.dumps(merged, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    Path(ours).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 5 and sys.argv[1] == "merge":
        sys.exit(_merge_driver(*sys.argv[2:]))
    sys.exit("usage: python -m linkkeeper.outputs.discord merge BASE OURS THEIRS")
