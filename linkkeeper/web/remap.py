"""URL remapping (``--remap 'PATTERN REPLACEMENT'``): change where a URL connects, nothing else.

Used against staging mirrors and by the sandbox, which serves ``https://arxiv.org`` from a
loopback port. Everything above the socket (redirects, cookies, final URLs, the ledger, reports)
stays in the original URL space: :class:`RemapTransport` rewrites only the URL handed to the
inner transport, keeps the original ``Host`` header and hands back the original request. The
httpx clients (Wayback, webhooks, GitHub) use it; the link-checking
:class:`~linkkeeper.web.fetcher.Fetcher` calls aiohttp without httpx and applies
:meth:`Remapper.apply` itself, to the same effect.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx

# lychee (Rust regex) writes groups as $1, ${1}, $name, ${name}; $$ is a literal dollar.
_DOLLAR_GROUP = re.compile(r"\$(?:(\$)|(\d+)|\{(\w+)\}|([A-Za-z_]\w*))")


class RemapError(ValueError):
    """A ``--remap`` rule cannot be used; the message names the rule and the fix."""


def _python_template(replacement: str) -> str:
    """Accept lychee's ``$1`` / ``${name}`` groups next to Python's ``\\1`` / ``\\g<name>``."""

    def convert(match: re.Match[str]) -> str:
        literal, number, braced, bare = match.groups()
        if literal:
            return "$"
        return f"\\g<{number or braced or bare}>"

    return _DOLLAR_GROUP.sub(convert, replacement)


@dataclass(frozen=True)
class RemapRule:
    """One compiled rule; ``source`` is the text the user wrote, for messages."""

    pattern: re.Pattern[str]
    replacement: str  # Python ``re.sub`` template
    source: str


class Remapper:
    """An ordered list of rules; the first rule whose pattern matches rewrites the URL."""

    def __init__(self, rules: Iterable[RemapRule] = ()) -> None:
        self.rules = tuple(rules)

    @classmethod
    def parse(cls, specs: Iterable[str]) -> Remapper:
        """Compile ``"PATTERN REPLACEMENT"`` rules; raise :class:`RemapError` naming the bad one."""
        rules = []
        for number, spec in enumerate(specs, start=1):
            where = f"remap rule {number} '{spec}'"
            parts = spec.split()
            if len(parts) != 2:
                raise RemapError(
                    f"{where}: expected 'PATTERN REPLACEMENT' (a regex and a URL separated by "
                    f"one space, no spaces inside either), got {len(parts)} part(s)"
                )
            pattern_text, replacement_text = parts
            try:
                pattern = re.compile(pattern_text)
            except re.error as exc:
                raise RemapError(f"{where}: bad regex: {exc}") from exc
            template = _python_template(replacement_text)
            try:
                pattern.sub(template, "")  # checks group references and escapes up front
            except (re.error, IndexError) as exc:
                raise RemapError(
                    f"{where}: bad replacement: {exc} (the pattern has {pattern.groups} "
                    "group(s); refer to them as \\1, \\g<name>, $1 or ${name})"
                ) from exc
            rules.append(RemapRule(pattern, template, spec))
        return cls(rules)

    def apply(self, url: str) -> str:
        """The URL to connect to: the first matching rule's rewrite, else ``url`` unchanged."""
        for rule in self.rules:
            if rule.pattern.search(url):
                return rule.pattern.sub(rule.replacement, url, count=1)
        return url

    def __bool__(self) -> bool:
        return bool(self.rules)

    def __repr__(self) -> str:
        return f"Remapper({[r.source for r in self.rules]!r})"


class RemapTransport(httpx.AsyncBaseTransport):
    """Sends each request to its remapped address; the response still carries the original
    request, so cookies are stored and redirects resolved against the real URL."""

    def __init__(self, inner: httpx.AsyncBaseTransport, remapper: Remapper) -> None:
        self.inner = inner
        self.remapper = remapper

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        target_url = self.remapper.apply(str(request.url))
        if target_url == str(request.url):
            return await self.inner.handle_async_request(request)
        # Copied headers include the original Host; content= keeps GETs free of a chunked body.
        body: dict[str, Any]
        try:
            body = {"content": request.content}
        except httpx.RequestNotRead:
            body = {"stream": request.stream}
        target = httpx.Request(
            request.method,
            target_url,
            headers=request.headers,
            extensions=request.extensions,
            **body,
        )
        response = await self.inner.handle_async_request(target)
        response.request = request
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


_URL_REPR = re.compile(r",?\s*url=(?:URL\()?'[^']*'\)?")  # aiohttp: ", url='http://127.0.0.1:…'"


def in_original_space(text: str, original: str, target: str) -> str:
    """An error message about ``target`` (the remapped address connected to) reworded about
    ``original``: reasons, ledgers and pages never show the socket address a rule chose."""
    text = _URL_REPR.sub("", text)
    if target == original:
        return text
    try:
        real, remapped = httpx.URL(original), httpx.URL(target)
    except (httpx.InvalidURL, UnicodeError):
        return text
    text = text.replace(target, original)
    if remapped.host and remapped.host != real.host:
        netloc = real.netloc.decode("ascii", "replace")
        if remapped.port is not None:
            text = text.replace(f"{remapped.host}:{remapped.port}", netloc)
            text = text.replace(f"'{remapped.host}', {remapped.port}", repr(real.host))
        text = text.replace(remapped.host, real.host)
    return text
