"""Steady nights: re-check a page without reading it again when it has not changed.

After a reading's last good check (``ok`` or ``moved``) linkkeeper remembers how to recognise
the same page next time (an *entry* in the machine-local ``snapshots/.freshness.json``, see
:mod:`linkkeeper.ledger.freshness`): the page's validators, and a key of everything the judges read.
The next check of the same URL is conditional, and its verdict, metadata and drift carry over
without a parse when either

- the server answers ``304 Not Modified`` to the validators sent, or
- the whole answer has the same key: status, final URL, redirect chain, ``Content-Type``,
  ``cf-mitigated`` and the SHA-256 of the body, hashed as it streamed in. The judges would see
  exactly what they saw last time, so they would say the same.

The rules (README, "Steady nights"):

- An entry is made only from a whole 2xx answer to the reading's own URL judged ``ok`` or
  ``moved`` by a check that made no other request: a verdict that needed a soft-404 sibling
  probe (or any second request) depends on more than the page, so it is judged afresh.
- Validators go only to the hop they came from, reached by the same redirect chain:
  ``If-None-Match`` with a strong ETag, ``If-Modified-Since`` with ``Last-Modified``. A weak ETag
  (``W/"..."``) is never sent: it promises an equivalent page, not the same bytes, and one that
  lies would carry a live verdict over a page that died. The body hash still spares those pages
  the parse.
- A ``304`` carries the last good check over only when it answers a request that carried
  validators (the fetcher turns any other ``304`` into a protocol error: ``transient``).
- Validators are dropped when the URL, the final URL or the verdict changes: every full check
  replaces the entry, and one that is not a success removes it.
- A validator caught lying (a whole answer naming the validator that was sent, or that is
  stored, with other bytes) is not sent again for that reading while its entry lives (same
  URL, a good verdict); the hash still works.
- Nothing carries over when the record changed since the entry was made (its *seal*: the last
  check's outcome, the ``metadata`` and the ``drift`` sections; e.g. ``archive`` made a capture
  the drift baseline, or ``--accept-drift``), when the metadata is due for its monthly refresh
  (a full check at least once a month, which also catches validators that lie), or with
  ``check --force``.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from linkkeeper.core import FetchResult, Reading, Verdict
from linkkeeper.ledger import parse_time

if TYPE_CHECKING:
    from linkkeeper.judges import Judgement
    from linkkeeper.ledger import FreshnessCache, Record
    from linkkeeper.web import Fetcher, Revalidation

GOOD = frozenset({Verdict.OK.value, Verdict.MOVED.value})
KEY_HEADERS = ("content-type", "cf-mitigated")  # what the judges read besides the body


MAX_VALIDATOR = 256  # longer validators are not kept (nor sent back)


def _sendable(value: str) -> bool:
    """A validator that can go back in a request header: short, printable ASCII (a server's
    ``obs-text`` bytes would make the next night's request fail to encode)."""
    return 0 < len(value) <= MAX_VALIDATOR and value.isascii() and value.isprintable()


def strong_etag(headers: Mapping[str, str]) -> str | None:
    """The answer's ETag when it is strong (byte-for-byte); weak ones are not trusted."""
    value = headers.get("etag", "").strip()
    return value if _sendable(value) and not value.startswith("W/") else None


def last_modified(headers: Mapping[str, str]) -> str | None:
    value = headers.get("last-modified", "").strip()
    return value if _sendable(value) else None


def key_of(page: FetchResult) -> str | None:
    """Everything the judges read from a whole answer, as one hash; ``None`` without a body
    hash (not asked for, or no body read)."""
    if page.body_sha256 is None or page.error is not None or page.status is None:
        return None
    parts = [page.status, page.final_url, page.redirects, page.truncated, page.body_sha256]
    parts += [page.headers.get(name, "") for name in KEY_HEADERS]
    return hashlib.blake2b(orjson.dumps(parts), digest_size=16).hexdigest()


def _last_check(record: Record) -> dict[str, Any] | None:
    """The record's latest check of its current URL that is not a skip, as stored."""
    for entry in reversed(record.data.get("checks") or []):
        if not isinstance(entry, dict) or entry.get("url") not in (None, record.url):
            continue
        if entry.get("verdict") != Verdict.SKIPPED.value:
            return entry
    return None


def seal_of(record: Record) -> str | None:
    """A hash of what a carried-over check reuses: the last good check's outcome, and the
    ``metadata`` and ``drift`` sections. ``None`` when the last check was not a success."""
    return _seal(record, _last_check(record))


def _seal(record: Record, last: dict[str, Any] | None) -> str | None:
    """:func:`seal_of` for a caller that holds the record's :func:`_last_check` already."""
    if last is None or last.get("verdict") not in GOOD:
        return None
    outcome = [last.get(k) for k in ("verdict", "url", "http_status", "final_url", "suggestion")]
    data = record.data
    parts = [record.url, outcome, data.get("metadata"), data.get("drift")]
    try:
        encoded = orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return None  # something orjson cannot write: judge afresh
    return hashlib.blake2b(encoded, digest_size=16).hexdigest()


@functools.cache
def _revalidation() -> type[Revalidation]:
    """:class:`~linkkeeper.web.Revalidation`, imported once (not at import: the web stage is
    heavy, and planning asks for it once per reading)."""
    from linkkeeper.web import Revalidation

    return Revalidation


def _metadata_due(record: Record, now: datetime) -> bool:
    from linkkeeper.check.metadata import REFRESH_AFTER

    section = record.data.get("metadata")
    if not isinstance(section, dict):
        return False
    try:
        stamped = parse_time(section.get("fetched_at"))
    except (TypeError, ValueError):
        return True
    return stamped is None or now - stamped >= REFRESH_AFTER


@dataclass(frozen=True)
class Prior:
    """The last good check a link may carry over, and the conditional request that asks."""

    key: str
    request: Revalidation | None  # None: no trusted validators, only the body hash
    verdict: Verdict
    reason: str
    http_status: int | None
    final_url: str | None
    suggestion: str | None

    def judgement(self, page: FetchResult) -> Judgement:
        """The carried-over verdict, with ``page`` (the 304, or the same bytes) as its page."""
        from linkkeeper.judges import Judgement

        how = "304 Not Modified" if page.not_modified else "the same bytes"
        return Judgement(
            self.verdict,
            f"{self.reason}; unchanged since the last check ({how})",
            http_status=self.http_status,
            final_url=self.final_url,
            suggestion=self.suggestion,
            page=page,
        )


def prior(
    reading: Reading, record: Record | None, cache: FreshnessCache, now: datetime
) -> Prior | None:
    """What one reading's next check may carry over, if anything: a valid entry for its URL
    and a record unchanged since the entry was made (see the module rules)."""
    entry = cache.page(reading.id)
    if (
        record is None
        or entry is None
        or not entry.get("key")
        or entry.get("url") != reading.url
        or record.url != reading.url
        or _metadata_due(record, now)
    ):
        return None
    last = _last_check(record)
    if last is None or entry.get("seal") != _seal(record, last):
        return None
    etag, modified, final = entry.get("etag"), entry.get("last_modified"), entry.get("final_url")
    request = None
    if entry.get("trusted", True) and (etag or modified) and isinstance(final, str):
        try:
            chain = tuple((int(s), str(u)) for s, u in entry.get("redirects") or [])
        except (TypeError, ValueError):  # a hand-edited cache: judge afresh
            return None
        etag = etag if isinstance(etag, str) else None
        modified = modified if isinstance(modified, str) else None
        request = _revalidation()(final, chain, etag, modified)
    return Prior(
        key=str(entry["key"]),
        request=request,
        verdict=Verdict(last["verdict"]),
        reason=str(last.get("reason") or ""),
        http_status=last.get("http_status"),
        final_url=last.get("final_url"),
        suggestion=last.get("suggestion"),
    )


def shared(priors: Sequence[Prior | None]) -> Prior | None:
    """The prior of a link several readings share: only when every one has the same."""
    first = priors[0] if priors else None
    if first is None or any(p is None or p.key != first.key for p in priors):
        return None
    return first


class Unchanged(Exception):
    """The page is the one the prior check judged: carry its verdict over (not an error)."""

    def __init__(self, judgement: Judgement) -> None:
        super().__init__(judgement.reason)
        self.judgement = judgement


@dataclass
class Watch:
    """The fetcher as a site family sees it during one link's check: the first GET of the
    link's own URL is conditional (with a prior) and hashed; when it shows the same page,
    :class:`Unchanged` ends the family's check before anything is parsed. Counts the other
    requests the family made (a verdict that needed them is not remembered)."""

    fetcher: Fetcher
    url: str
    prior: Prior | None = None
    page: FetchResult | None = None
    others: int = field(default=0)

    async def fetch(self, url: str, **options: Any) -> FetchResult:
        own = (
            self.page is None
            and url == self.url
            and options.get("method", "GET").upper() == "GET"
            and not options.get("data")
        )
        if not own:
            self.others += 1
            return await self.fetcher.fetch(url, **options)
        request = self.prior.request if self.prior is not None else None
        page = await self.fetcher.fetch(url, revalidate=request, digest=True, **options)
        self.page = page
        if self.prior is not None and (page.not_modified or key_of(page) == self.prior.key):
            raise Unchanged(self.prior.judgement(page))
        return page

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fetcher, name)


def remember(
    cache: FreshnessCache,
    reading: Reading,
    record: Record,
    judgement: Judgement,
    watch: Watch,
) -> None:
    """After a full check: make, replace or drop the reading's entry (see the module rules)."""
    old = cache.page(reading.id)
    old = old if old is not None and old.get("url") == reading.url else None
    page = watch.page
    key = key_of(page) if page is not None else None
    if (
        page is None
        or key is None
        or judgement.page is not page
        or watch.others
        or judgement.verdict.value not in GOOD
        or not 200 <= (page.status or 0) < 300
    ):
        cache.set_page(reading.id, None)  # the verdict changed, or nothing to recognise
        return
    seal = seal_of(record)
    if seal is None:
        cache.set_page(reading.id, None)
        return
    etag, modified = strong_etag(page.headers), last_modified(page.headers)
    trusted = True if old is None else bool(old.get("trusted", True))
    # Other bytes under a validator we know: that validator does not track the page.
    if (
        old is not None
        and old.get("key") != key
        and (
            (etag and etag == old.get("etag"))
            or (not etag and modified and modified == old.get("last_modified"))
        )
    ):
        trusted = False
    entry: dict[str, Any] = {
        "url": reading.url,
        "final_url": page.final_url,
        "redirects": [list(hop) for hop in page.redirects],
        "etag": etag,
        "last_modified": modified,
        "key": key,
        "verdict": judgement.verdict.value,
        "seal": seal,
    }
    if not trusted:
        entry["trusted"] = False
    cache.set_page(reading.id, entry)
