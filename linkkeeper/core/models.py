"""The data that flows through the pipeline, shared by every stage.

curriculum -> :class:`Reading`; fetch -> :class:`FetchResult`; judge -> :class:`CheckResult`;
the ledger stores them. Plain dataclasses so every stage can be tested on its own.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

E = TypeVar("E", bound=enum.Enum)


def member(kind: type[E], value: Any) -> E:
    """``kind(value)`` without the enum call's overhead in the common case (ledger records
    hold thousands of these); raises the same ``ValueError`` for an unknown value."""
    found = kind._value2member_map_.get(value) if isinstance(value, str) else None
    return found if found is not None else kind(value)  # type: ignore[return-value]


class Verdict(enum.StrEnum):
    """What one check of one link concluded. Fixed vocabulary: reports and JSON rely on it."""

    OK = "ok"
    MOVED = "moved"  # permanent redirect to a live page: suggest the new URL
    BROKEN = "broken"  # the page is gone (404/410, soft 404, removed video, empty shell ...)
    BLOCKED = "blocked"  # bot wall, 401/403 challenge, 999, persistent 429: we cannot know
    TRANSIENT = "transient"  # still failing after retries: timeouts, resets, 5xx
    SKIPPED = "skipped"  # no URL, excluded, or private address refused


class Health(enum.StrEnum):
    """A reading's state across nights, derived from its check history."""

    ALIVE = "alive"
    FAILING = "failing"  # failed recently, not yet long or often enough to call dead
    DEAD = "dead"
    BLOCKED = "blocked"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Reading:
    """One linked (or unlinked) reading of the curriculum, flattened with its week."""

    id: str
    title: str | None
    url: str | None
    note: str | None = None
    kind: str | None = None
    week: int | None = None  # None for backlog items
    week_title: str | None = None
    assigned: date | None = None  # the date the week was posted, when known
    line: int | None = None  # 1-based line of the reading in readings.yaml


@dataclass
class FetchResult:
    """Everything one HTTP fetch (with its redirects) produced; input to the judges."""

    url: str  # the URL asked for (original, not remapped)
    final_url: str  # after redirects (original URL space, not remapped)
    status: int | None  # None when no response arrived
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names, last hop
    body: bytes = b""  # at most the body cap, decompressed
    truncated: bool = False  # the body was longer than the cap
    redirects: list[tuple[int, str]] = field(default_factory=list)  # (status, location) hops
    error: str | None = None  # error class: timeout, reset, connect, too-many-redirects ...
    error_detail: str | None = None
    method: str = "GET"
    attempts: int = 1
    elapsed: float = 0.0
    body_sha256: str | None = None  # hex, of the (capped) body as it streamed in, when asked
    not_modified: bool = False  # a 304 answering validators this fetch sent (no body)
    retry_note: str | None = None  # what retrying cost or why it stopped ("waited 40 s for ...")
    _tree: Any = field(default=None, init=False, repr=False, compare=False)

    PARSE_LIMIT = 512 * 1024  # never parse more than this of a body

    def tree(self) -> Any:
        """The body (its first :attr:`PARSE_LIMIT` bytes) parsed by lxml
        (:func:`linkkeeper.core.htmltree.parse`), once: the soft-404 signals, site judges and the
        metadata stage share it. Read-only."""
        if self._tree is None:
            from linkkeeper.core.htmltree import parse

            self._tree = parse(self.text(self.PARSE_LIMIT))
        return self._tree

    def release(self) -> None:
        """Let the parse go once nobody reads the page any more (the check engine, after the
        metadata stage), so a big run holds one tree per link in flight, not one per link."""
        self._tree = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the parse (an lxml tree does not pickle, and costs more to send
        than to redo): the harvest worker (:mod:`linkkeeper.check.pool`) parses again."""
        return {**self.__dict__, "_tree": None}

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def text(self, limit: int | None = None) -> str:
        """The body decoded leniently (declared charset, else UTF-8 with replacement)."""
        charset = "utf-8"
        for part in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                charset = value.strip("\"'")
        data = self.body if limit is None else self.body[:limit]
        try:
            return data.decode(charset, errors="replace")
        except LookupError:
            return data.decode("utf-8", errors="replace")


@dataclass
class CheckResult:
    """One verdict for one link in one run; the JSON report is a list of these."""

    id: str
    url: str | None
    verdict: Verdict
    reason: str
    final_url: str | None = None
    kind: str | None = None
    http_status: int | None = None
    suggestion: str | None = None  # a replacement URL (moved target, TDS archive twin ...)
    checked_at: datetime | None = None
    health: Health | None = None  # filled in once the ledger has folded the result in
