"""A sandbox Discord webhook API (``discord.com``): execute, fetch, edit and delete messages.

Written from Discord's API documentation (notes in ``docs/discord-api.md``): ``POST
/api[/vN]/webhooks/{id}/{token}`` (``?wait=true`` returns the message, else ``204``), ``GET``,
``PATCH`` and ``DELETE .../messages/{message.id}``, ``GET`` the webhook itself. Errors have
Discord's JSON shape (``{"message", "code"}``, plus ``errors`` for ``50035 Invalid Form Body``):
content over 2,000 characters, an empty message, ``404 Unknown Webhook`` (``10015``), ``401
Invalid Webhook Token`` (``50027``), ``404 Unknown Message`` (``10008``). Every answer carries
the ``X-RateLimit-*`` headers of a per-webhook bucket; going over it (or a burst queued with
:meth:`DiscordAPI.rate_limit`) answers ``429`` with ``retry_after`` in the body and
``Retry-After`` in the headers. Mentions are resolved as Discord resolves them
(``allowed_mentions``, default: parse everything), so tests can see who would have been
pinged; links not wrapped in ``<...>`` get a link preview unless ``SUPPRESS_EMBEDS`` is set.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from linkkeeper.sandbox._server import VirtualHost

HOST = "discord.com"
WEBHOOK_ID = "1187001122334455667"
TOKEN = "sbxTOKEN-4kq9Zr7-Vw2LmPq8sT3nYc6JdHf1GxBa0eRuKoIiWzNpAyQtUvXlMbSjEgCh5"
WEBHOOK_URL = f"https://{HOST}/api/webhooks/{WEBHOOK_ID}/{TOKEN}"
CHANNEL_ID = "1187000000000000042"
GUILD_ID = "1187000000000000001"
CONTENT_LIMIT = 2000
SUPPRESS_EMBEDS = 1 << 2
SUPPRESS_NOTIFICATIONS = 1 << 12
SETTABLE_FLAGS = SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS
BARE_URL = re.compile(r"(?<![<\w])https?://[^\s<>()]+")
USER_MENTION = re.compile(r"<@!?(\d+)>")
ROLE_MENTION = re.compile(r"<@&(\d+)>")
EVERYONE = re.compile(r"@(everyone|here)\b")


@dataclass
class Message:
    """One message the webhook posted, with every version of its content."""

    id: str
    content: str
    flags: int
    timestamp: datetime
    mentions: list[str] = field(default_factory=list)
    mention_roles: list[str] = field(default_factory=list)
    mention_everyone: bool = False
    embeds: list[dict[str, Any]] = field(default_factory=list)
    edited_timestamp: datetime | None = None
    history: list[str] = field(default_factory=list)  # earlier contents, oldest first
    deleted: bool = False

    @property
    def pinged(self) -> bool:
        """Would anybody have been notified by this message?"""
        return bool(self.mentions or self.mention_roles or self.mention_everyone)


@dataclass
class Queued:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def resolve_mentions(content: str, allowed: Any) -> tuple[list[str], list[str], bool]:
    """(users, roles, everyone) pinged by ``content`` under ``allowed_mentions``: absent means
    Discord's default (parse everything); ``{"parse": []}`` means nobody."""
    users = USER_MENTION.findall(content)
    roles = ROLE_MENTION.findall(content)
    everyone = bool(EVERYONE.search(content))
    if allowed is None:
        return users, roles, everyone
    parse = set(allowed.get("parse") or [])
    allowed_users = set(allowed.get("users") or [])
    allowed_roles = set(allowed.get("roles") or [])
    return (
        [u for u in users if "users" in parse or u in allowed_users],
        [r for r in roles if "roles" in parse or r in allowed_roles],
        everyone and "everyone" in parse,
    )


class DiscordAPI:
    """The state behind the sandbox webhook; thread-safe, so tests may inspect it mid-run."""

    def __init__(
        self,
        webhook_id: str = WEBHOOK_ID,
        token: str = TOKEN,
        *,
        bucket_limit: int = 5,
        bucket_window: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.webhook_id, self.token = webhook_id, token
        self.bucket_limit, self.bucket_window = bucket_limit, bucket_window
        self.clock = clock
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.messages: dict[str, Message] = {}
            self._queued: list[Queued] = []
            self._down: int | None = None
            self._window_start = self.clock()
            self._used = 0
            self._next = 1187500000000000000
            self.deleted_webhook = False

    # -- test helpers -----------------------------------------------------------------------
    def posted(self) -> list[Message]:
        """Messages still in the channel, oldest first."""
        with self._lock:
            return [m for m in self.messages.values() if not m.deleted]

    def fail_next(
        self,
        status: int,
        times: int = 1,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """The next ``times`` requests get this error instead of an answer."""
        default = {"message": f"{status}: sandbox failure", "code": 0}
        with self._lock:
            for _ in range(times):
                self._queued.append(Queued(status, body or default, headers or {}))

    def rate_limit(
        self,
        times: int = 1,
        retry_after: float = 0.05,
        *,
        header_only: bool = False,
        global_: bool = False,
    ) -> None:
        """A burst: the next ``times`` requests answer 429 (``retry_after`` in the body, or
        only in the ``Retry-After`` header with ``header_only``, as some proxies send it)."""
        body: dict[str, Any] = {"message": "You are being rate limited.", "global": global_}
        if not header_only:
            body["retry_after"] = retry_after
        headers = {
            "Retry-After": _header_seconds(retry_after),
            "X-RateLimit-Scope": "global" if global_ else "shared",
        }
        if global_:
            headers["X-RateLimit-Global"] = "true"
        with self._lock:
            for _ in range(times):
                self._queued.append(Queued(429, dict(body), dict(headers)))

    def go_down(self, status: int | None = 503) -> None:
        """Every request answers ``status`` until called with ``None``."""
        with self._lock:
            self._down = status

    def delete_webhook(self) -> None:
        """Somebody deleted the webhook in Discord: every request is ``404 Unknown Webhook``."""
        with self._lock:
            self.deleted_webhook = True

    def hosts(self) -> list[VirtualHost]:
        return [VirtualHost(HOST, self._app, http_redirects_to_https=True)]

    # -- HTTP -------------------------------------------------------------------------------
    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._gate])
        for prefix in ("/api", "/api/v{version:\\d+}"):
            base = prefix + "/webhooks/{webhook_id}/{token}"
            app.router.add_get(base, self._get_webhook)
            app.router.add_post(base, self._execute)
            app.router.add_get(base + "/messages/{message_id}", self._get_message)
            app.router.add_patch(base + "/messages/{message_id}", self._edit)
            app.router.add_delete(base + "/messages/{message_id}", self._delete)
        return app

    def _bucket_headers(self) -> dict[str, str]:
        reset_after = max(0.0, self._window_start + self.bucket_window - self.clock())
        return {
            "X-RateLimit-Limit": str(self.bucket_limit),
            "X-RateLimit-Remaining": str(max(0, self.bucket_limit - self._used)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": f"sandbox-webhook-{self.webhook_id}",
        }

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        with self._lock:
            if self._queued:
                failure = self._queued.pop(0)
                headers = {**self._bucket_headers(), **failure.headers}
                return _json(failure.body, failure.status, headers)
            if self._down is not None:
                return _json({"message": "Service Unavailable", "code": 0}, self._down)
            if request.match_info.get("webhook_id") != self.webhook_id or self.deleted_webhook:
                return _json({"message": "Unknown Webhook", "code": 10015}, 404)
            if request.match_info.get("token") != self.token:
                return _json({"message": "Invalid Webhook Token", "code": 50027}, 401)
            now = self.clock()
            if now >= self._window_start + self.bucket_window:
                self._window_start, self._used = now, 0
            if self._used >= self.bucket_limit:
                wait = self._window_start + self.bucket_window - now
                body = {
                    "message": "You are being rate limited.",
                    "retry_after": round(wait, 3),
                    "global": False,
                }
                headers = {
                    **self._bucket_headers(),
                    "Retry-After": _header_seconds(wait),
                    "X-RateLimit-Scope": "user",
                }
                return _json(body, 429, headers)
            self._used += 1
            headers = self._bucket_headers()
        response = await handler(request)
        response.headers.update(headers)
        return response

    async def _payload(self, request: web.Request) -> dict[str, Any] | web.Response:
        try:
            data = json.loads(await request.read() or b"{}")
        except ValueError:
            return _json({"message": "400: Bad Request", "code": 50109}, 400)
        if not isinstance(data, dict):
            return _json({"message": "400: Bad Request", "code": 50109}, 400)
        content = data.get("content")
        if content is not None and not isinstance(content, str):
            return _form_error("content", "BASE_TYPE_STRING", "Must be a string.")
        if isinstance(content, str) and len(content) > CONTENT_LIMIT:
            return _form_error(
                "content", "BASE_TYPE_MAX_LENGTH", f"Must be {CONTENT_LIMIT} or fewer in length."
            )
        flags = data.get("flags") or 0
        if not isinstance(flags, int) or flags & ~SETTABLE_FLAGS:
            return _form_error("flags", "MESSAGE_FLAGS_INVALID", "Invalid message flags.")
        return data

    def _message_json(self, message: Message, origin_webhook: str) -> dict[str, Any]:
        return {
            "id": message.id,
            "type": 0,
            "channel_id": CHANNEL_ID,
            "guild_id": GUILD_ID,
            "webhook_id": origin_webhook,
            "author": {
                "id": origin_webhook,
                "username": "linkkeeper",
                "bot": True,
                "discriminator": "0000",
                "avatar": None,
            },
            "content": message.content,
            "timestamp": _iso(message.timestamp),
            "edited_timestamp": _iso(message.edited_timestamp),
            "tts": False,
            "flags": message.flags,
            "mention_everyone": message.mention_everyone,
            "mentions": [{"id": u, "username": f"user{u}"} for u in message.mentions],
            "mention_roles": message.mention_roles,
            "embeds": message.embeds,
            "attachments": [],
            "components": [],
            "pinned": False,
        }

    def _apply(self, message: Message, data: dict[str, Any], *, creating: bool) -> None:
        if "content" in data or creating:
            message.content = data.get("content") or ""
            found = resolve_mentions(message.content, data.get("allowed_mentions"))
            message.mentions, message.mention_roles, message.mention_everyone = found
        if "flags" in data or creating:
            message.flags = int(data.get("flags") or 0)
        suppressed = bool(message.flags & SUPPRESS_EMBEDS)
        message.embeds = (
            []
            if suppressed
            else [{"type": "link", "url": url} for url in BARE_URL.findall(message.content)[:5]]
        )

    async def _execute(self, request: web.Request) -> web.StreamResponse:
        data = await self._payload(request)
        if isinstance(data, web.Response):
            return data
        if not data.get("content") and not data.get("embeds"):
            return _json({"message": "Cannot send an empty message", "code": 50006}, 400)
        with self._lock:
            self._next += 1
            message = Message(str(self._next), "", 0, datetime.now(UTC))
            self._apply(message, data, creating=True)
            self.messages[message.id] = message
        if request.query.get("wait", "false").lower() not in ("true", "1"):
            return web.Response(status=204)
        return _json(self._message_json(message, self.webhook_id))

    def _find(self, request: web.Request) -> Message | web.Response:
        message = self.messages.get(request.match_info["message_id"])
        if message is None or message.deleted:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        return message

    async def _get_message(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            found = self._find(request)
        if isinstance(found, web.Response):
            return found
        return _json(self._message_json(found, self.webhook_id))

    async def _edit(self, request: web.Request) -> web.StreamResponse:
        data = await self._payload(request)
        if isinstance(data, web.Response):
            return data
        with self._lock:
            found = self._find(request)
            if isinstance(found, web.Response):
                return found
            found.history.append(found.content)
            self._apply(found, data, creating=False)
            found.edited_timestamp = datetime.now(UTC)
        return _json(self._message_json(found, self.webhook_id))

    async def _delete(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            found = self._find(request)
            if isinstance(found, web.Response):
                return found
            found.deleted = True
        return web.Response(status=204)

    async def _get_webhook(self, request: web.Request) -> web.StreamResponse:
        return _json(
            {
                "id": self.webhook_id,
                "type": 1,
                "name": "linkkeeper",
                "channel_id": CHANNEL_ID,
                "guild_id": GUILD_ID,
                "avatar": None,
                "application_id": None,
                "token": self.token,
            }
        )


def _header_seconds(seconds: float) -> str:
    """``Retry-After`` is whole seconds (rounded up), as Discord sends it."""
    return str(max(1, math.ceil(seconds)))


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


def _form_error(name: str, code: str, message: str) -> web.Response:
    body = {
        "message": "Invalid Form Body",
        "code": 50035,
        "errors": {name: {"_errors": [{"code": code, "message": message}]}},
    }
    return _json(body, 400)


# -- what the channel looks like ----------------------------------------------------------------
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_URL = re.compile(r"&lt;(https?://\S+?)&gt;|(https?://[^\s<]+)")
_ESCAPED = re.compile(r"\\([\\`*_\[\]<>|~])")


def _inline(line: str) -> str:
    from html import escape

    text = escape(_ESCAPED.sub(r"\1", line), quote=False)
    text = _BOLD.sub(r"<strong>\1</strong>", text)
    return _URL.sub(lambda m: f'<a href="{m[1] or m[2]}">{m[1] or m[2]}</a>', text)


def message_html(message: Message) -> str:
    """One message as Discord lays it out: bold, links, bullets, quotes, ``-#`` subtext."""
    blocks = []
    for line in message.content.split("\n"):
        if line.startswith("-# "):
            blocks.append(f'<div class="sub">{_inline(line[3:])}</div>')
        elif line.startswith("- "):
            blocks.append(f'<div class="li">• {_inline(line[2:])}</div>')
        elif line.startswith("> "):
            blocks.append(f'<div class="quote">{_inline(line[2:])}</div>')
        elif line.strip():
            blocks.append(f"<div>{_inline(line)}</div>")
        else:
            blocks.append('<div class="gap"></div>')
    edited = ' <span class="edited">(edited)</span>' if message.edited_timestamp else ""
    when = message.timestamp.strftime("%d/%m/%Y %H:%M")
    return (
        '<div class="msg"><div class="avatar">lk</div><div class="body">'
        f'<div class="head"><b>linkkeeper</b> <span class="app">APP</span> '
        f'<span class="when">{when}</span></div>{"".join(blocks)}{edited}</div></div>'
    )


def channel_html(messages: list[Message], channel: str = "ai-workshop") -> str:
    """A static page showing ``messages`` as the channel shows them (for screenshots and the
    demo's output folder; no script, nothing loaded from elsewhere)."""
    style = (
        "body{margin:0;background:#313338;color:#dbdee1;font:15px/1.375 'gg sans','Noto Sans',"
        "'Helvetica Neue',Helvetica,Arial,sans-serif}.top{padding:12px 16px;border-bottom:1px "
        "solid #1f2023;color:#f2f3f5;font-weight:600}.top span{color:#80848e;margin-right:6px}"
        ".msg{display:flex;gap:16px;padding:8px 16px 8px 16px}.avatar{flex:0 0 40px;height:40px;"
        "border-radius:50%;background:#5865f2;color:#fff;display:flex;align-items:center;"
        "justify-content:center;font-weight:700}.body{min-width:0;overflow-wrap:anywhere}"
        ".head b{color:#f2f3f5}.app{background:#5865f2;color:#fff;font-size:10px;border-radius:3px;"
        "padding:1px 4px;vertical-align:1px}.when{color:#949ba4;font-size:12px;margin-left:4px}"
        "a{color:#00a8fc;text-decoration:none}.sub{color:#949ba4;font-size:13px}.li{padding-left:4px}"
        ".quote{border-left:4px solid #4e5058;padding-left:12px}.gap{height:8px}"
        ".edited{color:#949ba4;font-size:11px}strong{color:#f2f3f5}"
    )
    body = "".join(message_html(m) for m in messages if not m.deleted)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
        f'content="width=device-width, initial-scale=1"><title>#{channel}</title><style>{style}'
        f'</style></head><body><div class="top"><span>#</span>{channel}</div>{body}</body></html>\n'
    )
