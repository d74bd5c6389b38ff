"""The Discord webhook client: a secret URL, bounded retries, rate limits, scrubbed errors.

Only what talking to Discord needs lives here; what to post and when (the Tuesday post, the
nightly healing and alert, ``snapshots/_discord.json``) is :mod:`linkkeeper.outputs.discord`.
Requests go through the project's guarded network stack (:mod:`linkkeeper.web`) with ``--remap``;
``429`` waits ``retry_after`` (JSON body, else ``Retry-After`` / ``X-RateLimit-Reset-After``),
an exhausted bucket is waited out before the next request, 5xx and network errors are retried
a bounded number of times, and no message or error ever contains the webhook's token.
Shapes and limits of the API: ``docs/discord-api.md``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from linkkeeper import __version__

if TYPE_CHECKING:
    from linkkeeper.web import Remapper


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
