"""The check engine: curriculum -> fetch and judge -> ledger ->
:class:`~linkkeeper.check.report.Outcome`.

One run: mark orphans, then for each selected reading either skip it (no URL), reuse its fresh
recorded result (a success younger than ``max_age``), or fetch and judge it through one
:class:`~linkkeeper.web.fetcher.Fetcher` and a bounded worker pool. Each result is written to the
ledger the moment it arrives, so Ctrl-C or a crash keeps everything finished so far.

Our network, not theirs: a link that got no HTTP answer at all (DNS, refused, timeout,
reset, TLS) counts against its reading only once the run has evidence that its own network
works: some link's own site answered, or else the canary (:data:`CANARY_URL`, a name that must
exist) answered. Until then such results are held back. A run where no site answered and the
canary did not either is *inconclusive*: nothing is recorded, no reading's health changes,
and the report says so. So is a run behind a captive portal (most links, on many sites, or
the links and the canary, redirected to the same page elsewhere): answers that left their own
site are held until the end and dropped when they all lead to one page. Name-service failures
are counted only when the resolver itself looks sound (a temporary failure, ``EAI_AGAIN``,
never counts; nor do failures on most of the run's sites at once). If the run is interrupted, held
results are not recorded at all (they will be checked again, as every failure is).
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from linkkeeper.check.drift import annotate_row as annotate_drift
from linkkeeper.check.report import Outcome, Row
from linkkeeper.core import (
    CheckResult,
    Reading,
    Verdict,
)
from linkkeeper.ledger import annotate_row as annotate_archive
from linkkeeper.ledger import needs_check

if TYPE_CHECKING:
    from linkkeeper.check.pool import HarvestPool
    from linkkeeper.check.revalidate import Prior, Watch
    from linkkeeper.core import FetchResult
    from linkkeeper.judges import Judgement
    from linkkeeper.ledger import Ledger, Record, Repeat, WriteBehind
    from linkkeeper.web import Fetcher

EXIT_OK, EXIT_FINDINGS = 0, 1  # as in cli.py (2 is CheckUsageError); 130 when interrupted
EXIT_DAMAGED = 2  # some ledger record could not be used (the rest of the run went on)
EXIT_INCONCLUSIVE = 3  # nothing was learned: the network seems down or a captive portal answered

log = logging.getLogger(__name__)

DEFAULT_MAX_AGE = timedelta(hours=20)  # a nightly run re-checks yesterday's successes
NO_URL = "no URL"
NETWORK_UNREACHABLE = "network unreachable"
# No HTTP answer at all: the site's fault, or our own network's (a dead resolver, a firewall
# or proxy that accepts connections and never answers, a TLS-intercepting middlebox).
NETWORK_ERRORS = frozenset({"connect", "dns", "timeout", "reset", "tls"})
OFFLINE_MIN_HOSTS = 2  # a resolver failing for this many sites at once (and most) is suspect
# Asked (HEAD, once, no retry) only when no link's own site answered (failures, or answers
# that all came from elsewhere): a name that must exist and a site that answers robots.
CANARY_URL = "https://web.archive.org/"
CANARY_SECONDS = 15.0
PORTAL_MIN_HOSTS = 3  # this many sites redirected to one page elsewhere: a captive portal

# Seam for later stages: functions that copy what they stored in a record onto its report row
# (the archive command: ``row.archive_url`` from ``captures``; drift: ``row.changed``).
RowAnnotator = Callable[["Record", Row], None]
ROW_ANNOTATORS: list[RowAnnotator] = [annotate_drift, annotate_archive]


class SelectionError(ValueError):
    """The reading ids or week asked for do not exist; the message says what does."""


# -- options ---------------------------------------------------------------------------------
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """``20h``, ``3d``, ``1d12h``, ``90m``, ``0`` -> timedelta; ``ValueError`` says the format."""
    compact = text.strip().replace(" ", "")
    if compact == "0":
        return timedelta(0)
    parts = _DURATION.findall(compact)
    if not parts or "".join(n + u for n, u in parts).lower() != compact.lower():
        raise ValueError(
            f"{text!r} is not a duration: write a number and a unit (s, m, h, d, w), e.g. 20h, "
            "3d or 1d12h; 0 re-checks everything"
        )
    return timedelta(seconds=sum(float(n) * _UNIT_SECONDS[u.lower()] for n, u in parts))


def select(
    readings: Sequence[Reading], ids: Iterable[str] = (), week: int | None = None
) -> list[Reading]:
    """The readings a run covers, in curriculum order: the given ids plus the given week's,
    or all when neither is given."""
    wanted = list(ids)
    known = {r.id for r in readings}
    unknown = [i for i in wanted if i not in known]
    if unknown:
        raise SelectionError(
            f"no reading with id {', '.join(map(repr, unknown))} in the curriculum "
            "(`linkkeeper list` shows the ids)"
        )
    if week is not None and not any(r.week == week for r in readings):
        weeks = sorted({r.week for r in readings if r.week is not None})
        raise SelectionError(f"there is no week {week}; the curriculum has weeks {weeks}")
    if not wanted and week is None:
        return list(readings)
    return [r for r in readings if r.id in wanted or (week is not None and r.week == week)]


# -- the engine ------------------------------------------------------------------------------
def _utcnow() -> datetime:
    return datetime.now(UTC)


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def site_of(url: str | None) -> str:
    """The site a URL belongs to, loosely (its host's last two labels): a redirect from
    ``www.nature.com`` to ``nature.com`` or ``arxiv.org`` to ``export.arxiv.org`` stays home."""
    return _site_of_host(host_of(url or ""))


def _site_of_host(host: str) -> str:
    return ".".join(host.split(".")[-2:]) if not _is_ip(host) else host


def _is_ip(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return False
    return True


def _page_key(url: str | None) -> str:
    """A final page, without its query (portals put the asked-for address there)."""
    parts = urlsplit(url or "")
    return f"{(parts.hostname or '').lower()}{parts.path or '/'}"


def _network_failure(judgement: Judgement) -> bool:
    page = judgement.page
    return page is not None and page.status is None and page.error in NETWORK_ERRORS


def _dns_failure(judgement: Judgement) -> bool:
    return (
        _network_failure(judgement)
        and judgement.page is not None
        and (judgement.page.error == "dns")
    )


def _temporary_dns(judgement: Judgement) -> bool:
    """The resolver could not answer (``EAI_AGAIN``: SERVFAIL, no reply), as opposed to the
    name not existing: a statement about our resolver, never about the site."""
    page = judgement.page
    detail = (page.error_detail or "") if page is not None else ""
    return _dns_failure(judgement) and (
        f"[Errno {socket.EAI_AGAIN}]" in detail or "Temporary failure in name resolution" in detail
    )


def _left_home(link_url: str, judgement: Judgement) -> bool:
    """An answer that came from another site than the link's (followed a redirect away)."""
    final = judgement.final_url
    return bool(final) and judgement.http_status is not None and site_of(final) != site_of(link_url)


@dataclass
class _Held:
    """A result waiting for the end of the run (or for evidence that the network works)."""

    link: _Link
    judgement: Judgement
    results: list[tuple[Reading, CheckResult]]
    fold: Callable[[Record], object] | None = None
    remember: Callable[[Reading, Record], None] | None = None


@dataclass(frozen=True)
class _Seen:
    """What planning learned of one reading's record, so its check need not read it again:
    the last good check it may carry over, what a repeat of it would confirm, and the row
    that repeat would show (annotated from the record)."""

    prior: Prior | None
    repeat: Repeat | None = None
    row: Row | None = None


_FRESH = _Seen(None)  # settled while planning: young enough, not fetched


@dataclass
class _Link:
    """One URL fetched once this run, for every selected reading that links to it."""

    url: str
    readings: list[Reading]
    seen: list[_Seen] = field(default_factory=list)  # per reading, as planned
    # the last good check it may carry over (linkkeeper.check.revalidate)
    prior: Prior | None = None
    host: str = field(init=False)  # worked out once: the scheduler and the run's sites use it

    def __post_init__(self) -> None:
        self.host = host_of(self.url)


@dataclass
class CheckRun:
    """One run over the ledger; ``on_row`` sees every row as it is final (progress bars)."""

    ledger: Ledger
    max_age: timedelta = DEFAULT_MAX_AGE
    force: bool = False
    clock: Callable[[], datetime] = _utcnow
    on_row: Callable[[Row], None] | None = None
    canary: str | None = CANARY_URL  # None: never ask (a lone failing site then counts for nothing)
    harvester: HarvestPool | None = None  # where pages are read (check/pool.py); made on first use
    rows: dict[str, Row] = field(default_factory=dict, init=False)
    _held: list[_Held] = field(default_factory=list, init=False)  # no answer, not yet counted
    _dns: list[_Held] = field(default_factory=list, init=False)  # name failures, to the end
    _away: list[_Held] = field(default_factory=list, init=False)  # answers from another site
    _no_url: list[tuple[Reading, CheckResult]] = field(default_factory=list, init=False)
    _sites: set[str] = field(default_factory=set, init=False)  # sites fetched this run
    _links: int = field(default=0, init=False)  # links fetched this run
    _reached: bool = field(default=False, init=False)  # a site answered itself: we are online
    _writer: WriteBehind | None = field(default=None, init=False)
    inconclusive: str | None = field(default=None, init=False)  # why nothing was learned

    def plan(self, readings: Sequence[Reading], selected: Sequence[Reading]) -> list[_Link]:
        """Sync orphans, settle what needs no fetch (no URL, fresh), return what does.
        Readings whose record is damaged are left out (``ledger.damaged``: reported).

        Each record is read once: as the sync hands it over, its reading is settled (fresh)
        or planned (the last good check it may carry over, and what a repeat of that check
        would confirm, so a page found unchanged needs no second read of its record)."""
        from linkkeeper.check.revalidate import prior, shared
        from linkkeeper.curriculum import keep_pending

        keep_pending(self.ledger.path)  # a first run's curriculum cache, now there is a folder
        now = self.clock()
        wanted = {reading.id: reading for reading in selected if reading.url is not None}
        planned: dict[str, _Seen] = {}

        def visit(record: Record) -> None:
            reading = wanted.get(record.id)
            if reading is None:
                return
            if not needs_check(
                record, now, self.max_age, force=self.force, confirmed=record.confirmed_at
            ):
                self._finish(reading, _last_result(reading, record), record, fresh=True)
                planned[record.id] = _FRESH
                return
            if self.force:  # --force: a full check of everything, nothing carried over
                planned[record.id] = _Seen(None)
                return
            found = prior(reading, record, self.ledger.freshness, now)
            repeat = self.ledger.repeatable(reading, record) if found is not None else None
            # the row a confirmed repeat shows, annotated now: its result is the check's own
            placeholder = CheckResult(reading.id, reading.url, Verdict.OK, "")
            row = self._row(reading, placeholder, record) if repeat else None
            planned[record.id] = _Seen(found, repeat, row)

        self.ledger.sync(readings, visit)
        links: dict[str, _Link] = {}
        for reading in selected:
            if reading.id in self.ledger.damaged:
                continue
            if reading.url is None:  # recorded at the end, unless the run learned nothing
                self._no_url.append((reading, CheckResult(reading.id, None, Verdict.SKIPPED,
                                                          NO_URL, kind=reading.kind,
                                                          checked_at=now)))  # fmt: skip
                continue
            seen = planned.get(reading.id, _Seen(None))  # no record yet: a first check
            if seen is _FRESH:
                continue
            link = links.setdefault(reading.url, _Link(reading.url, []))
            link.readings.append(reading)
            link.seen.append(seen)
        for link in links.values():
            link.prior = shared([s.prior for s in link.seen]) if not self.force else None
        self._links = len(links)
        self._sites = {_site_of_host(link.host) for link in links.values()}
        return list(links.values())

    async def check(self, link: _Link, fetcher: Fetcher) -> None:
        """Fetch and judge one link, then record its result for each of its readings."""
        from linkkeeper.check.pool import HarvestPool
        from linkkeeper.check.revalidate import Unchanged, Watch
        from linkkeeper.judges import Judgement, site_for

        site = site_for(link.url, link.host)
        watch = Watch(fetcher, link.url, link.prior)
        try:
            judgement = await site.check(link.readings[0], watch)  # type: ignore[arg-type]
        except Unchanged as same:  # the page the last good check judged: nothing to read
            self._reached = True
            await self._release(self._held)
            at = self.clock()
            for reading, seen in zip(link.readings, link.seen, strict=True):
                result = _result(reading, same.judgement, site.kind, at)
                if (
                    seen.repeat is not None
                    and seen.row is not None
                    and self.ledger.confirm_seen(reading, result, seen.repeat)
                ):  # the record as planned repeats this check: nothing to write
                    seen.row.result = result  # the row planned for this reading alone
                    self._show(seen.row)
                else:
                    await self._record_soon(reading, result)
            return
        except Exception as exc:  # a bug in one site module must not sink the whole run
            log.exception("checking %s failed", link.url)
            judgement = Judgement(
                Verdict.SKIPPED,
                f"internal error in the {site.name} checker ({type(exc).__name__}: {exc}); "
                "please report it",
            )
        at = self.clock()
        # Metadata and drift: read the page once (on the loop, or in a big run on another core
        # while the loop fetches on: check/pool.py), then let the page and its parse go; the
        # fields are folded into each record by the check's own write (one read, one write).
        self.harvester = self.harvester or HarvestPool()
        found = await self.harvester.harvest(link.readings[0], judgement)
        if judgement.page is not None:
            judgement.page.release()
        fold = None if found is None else partial(found.apply, now=at)
        results = [
            (reading, _result(reading, judgement, site.kind, at)) for reading in link.readings
        ]
        remember = partial(self._remember, judgement, watch)
        held = _Held(link, judgement, results, fold, remember)
        if _dns_failure(judgement):
            self._dns.append(held)  # the resolver's health is judged at the end
            return
        if _network_failure(judgement):
            if not self._reached:
                self._held.append(held)  # maybe our network: decide once somebody answers
                return
        elif _left_home(link.url, judgement):
            self._away.append(held)  # a captive portal sends every site to one page
            return
        elif judgement.verdict != Verdict.SKIPPED:
            self._reached = True
            await self._release(self._held)
        for reading, result in results:
            await self._record_soon(reading, result, fold, remember)

    async def finish(self, fetcher: Fetcher | None = None) -> bool:
        """Settle what was held after a complete run; True when the run learned nothing
        (:attr:`inconclusive` says why). ``fetcher`` asks the canary when one site is all
        the evidence there is."""
        self.inconclusive = await self._verdict_on_run(fetcher)
        if self.inconclusive is not None:
            self._uncounted([*self._held, *self._dns, *self._away], write=False)
            self._uncounted_no_url()
        else:
            await self._release(self._away)
            await self._release(self._held)
            await self._settle_dns()
            for reading, result in self._no_url:
                self._record(reading, result)
        self._held, self._dns, self._away, self._no_url = [], [], [], []
        if self._writer is not None:
            await self._writer.flush()
        return self.inconclusive is not None

    @property
    def recorded(self) -> int:
        """Readings finished this run, those whose record reached the disk while the run was
        being interrupted included (their rows were never made)."""
        landed = self._writer.on_disk if self._writer is not None else set()
        return len(self.rows.keys() | landed)

    def outcome(self, selected: Sequence[Reading], *, offline: bool = False) -> Outcome:
        """Rows in curriculum order (unfinished readings are left out)."""
        rows = [self.rows[r.id] for r in selected if r.id in self.rows]
        return Outcome(rows=rows, offline=offline, inconclusive=self.inconclusive)

    async def _verdict_on_run(self, fetcher: Fetcher | None) -> str | None:
        """Why this run learned nothing, or None when it has evidence its network works."""
        waiting = bool(self._held or self._dns or self._away)
        portal = self._portal()
        canary: FetchResult | None = None
        lone = len(self._sites) < OFFLINE_MIN_HOSTS
        if portal is None and not self._reached and waiting:
            canary = await self._ask_canary(fetcher)
            ended = _page_key(canary.final_url) if canary is not None else None
            if ended in {_page_key(h.judgement.final_url) for h in self._away}:
                portal = (str(ended), len(self._away))  # the canary ended where links did
        if portal is not None:
            return _portal_message(*portal, self._links, len(self._sites))
        if self._away:
            self._reached = True  # answers from elsewhere are answers all the same
        if self._reached or not (self._held or self._dns):
            return None
        answered = (
            canary is not None
            and canary.status is not None
            and site_of(canary.final_url) == site_of(self.canary)
        )
        if answered:
            return None  # the network works: the sites that did not answer are failing
        return _offline_message(
            [*self._held, *self._dns], len(self._sites), lone=lone, canary=self.canary
        )

    def _portal(self) -> tuple[str, int] | None:
        """The page most links on many sites ended at, when they did: (page, links)."""
        pages: dict[str, list[_Held]] = {}
        for held in self._away:
            pages.setdefault(_page_key(held.judgement.final_url), []).append(held)
        for page, group in sorted(pages.items(), key=lambda item: -len(item[1])):
            sites = {site_of(h.link.url) for h in group}
            if len(sites) >= PORTAL_MIN_HOSTS and 2 * len(group) > self._links:
                return page, len(group)
            break
        return None

    async def _ask_canary(self, fetcher: Fetcher | None) -> FetchResult | None:
        if fetcher is None or self.canary is None:
            return None
        try:
            async with asyncio.timeout(CANARY_SECONDS):
                return await fetcher.fetch(self.canary, method="HEAD", retries=0)
        except TimeoutError:
            return None

    async def _settle_dns(self) -> None:
        """Name failures count when the resolver looks sound: not a temporary failure, and
        not failing for most of the run's sites at once (a flaky runner resolver)."""
        sites = {site_of(h.link.url) for h in self._dns}
        flaky = len(sites) >= OFFLINE_MIN_HOSTS and 2 * len(sites) > len(self._sites)
        counted = [h for h in self._dns if not flaky and not _temporary_dns(h.judgement)]
        await self._release(counted)
        why = (
            f"the name service failed for {len(sites)} of {len(self._sites)} sites at once"
            if flaky
            else "the name service could not answer (a temporary failure)"
        )
        self._uncounted([h for h in self._dns if h not in counted], write=True, why=why)

    def _uncounted(self, held: Sequence[_Held], *, write: bool, why: str = "") -> None:
        """Report held results as not checked; recorded as skipped (never counted) only in a
        run that learned something, so an inconclusive run writes nothing."""
        for item in held:
            for reading, result in item.results:
                detail = result.reason
                result.verdict = Verdict.SKIPPED
                result.reason = (
                    f"{NETWORK_UNREACHABLE} ({why + '; ' if why else ''}{detail}); not counted"
                    if write or _network_failure(item.judgement)
                    else f"not judged: {detail} (the whole run looked like a captive portal); "
                    "not counted"
                )
                result.suggestion = None
                result.final_url = None if not write else result.final_url
                if write:
                    self._record(reading, result, counted=False)
                else:
                    self._show_unrecorded(reading, result)

    def _uncounted_no_url(self) -> None:
        for reading, result in self._no_url:  # nothing to check: not "not checked" either
            self._show_unrecorded(reading, result, counted=True)

    def _show_unrecorded(
        self, reading: Reading, result: CheckResult, *, counted: bool = False
    ) -> None:
        """A row for a result this run does not record: the reading keeps its health."""
        from linkkeeper.ledger import Record

        record = self.ledger.get(reading.id) or Record.new(reading)
        result.health = record.health.state
        self._finish(reading, result, record, fresh=False, counted=counted)

    async def _release(self, held: Sequence[_Held]) -> None:
        items = list(held)
        if held is self._held:
            self._held = []
        for item in items:
            for reading, result in item.results:
                await self._record_soon(reading, result, item.fold, item.remember)

    def _record(self, reading: Reading, result: CheckResult, *, counted: bool = True) -> None:
        record = self.ledger.add_check(reading, result)  # saved at once; sets result.health
        self._finish(reading, result, record, fresh=False, counted=counted)

    def _remember(
        self, judgement: Judgement, watch: Watch, reading: Reading, record: Record
    ) -> None:
        """Keep (or drop) what lets the next check of this page carry this one over."""
        from linkkeeper.check.revalidate import remember

        remember(self.ledger.freshness, reading, record, judgement, watch)

    async def _record_soon(
        self,
        reading: Reading,
        result: CheckResult,
        fold: Callable[[Record], object] | None = None,
        remember: Callable[[Reading, Record], None] | None = None,
    ) -> None:
        """Fold the result in on the loop (CPU: a worker thread would fight the loop for the
        GIL) and leave the file write to the write-behind (I/O, batched, in a thread) while
        this worker fetches its next link; the row is final once the record is on disk. Each
        reading is recorded once a run, so writes never collide; a write under way when the
        run is cancelled still completes (never half-written). ``fold`` updates the metadata
        and drift sections in the same write."""
        record, write = self.ledger.stage_check(reading, result, fold=fold)
        if remember is not None:
            remember(reading, record)
        if write is None:
            self._finish(reading, result, record, fresh=False)
            return
        if self._writer is None:
            from linkkeeper.ledger import WriteBehind

            self._writer = WriteBehind(self.ledger)
        self._writer.submit(write, lambda: self._finish(reading, result, record, fresh=False))
        await self._writer.room()  # never let pending records pile up in memory

    def _finish(
        self,
        reading: Reading,
        result: CheckResult,
        record: Record,
        *,
        fresh: bool,
        counted: bool = True,
    ) -> None:
        self._show(self._row(reading, result, record, fresh=fresh, counted=counted))

    @staticmethod
    def _row(
        reading: Reading,
        result: CheckResult,
        record: Record,
        *,
        fresh: bool = False,
        counted: bool = True,
    ) -> Row:
        row = Row(reading=reading, result=result, fresh=fresh, counted=counted)
        for annotate in ROW_ANNOTATORS:
            annotate(record, row)
        return row

    def _show(self, row: Row) -> None:
        self.rows[row.reading.id] = row
        if self.on_row is not None:
            self.on_row(row)


def _offline_message(held: Sequence[_Held], sites: int, *, lone: bool, canary: str | None) -> str:
    kinds = Counter(h.judgement.page.error for h in held if h.judgement.page is not None)
    how = ", ".join(f"{n} {kind}" for kind, n in kinds.most_common())
    links = len(held)
    plural = "s" if links != 1 else ""
    where = (
        f"no site answered ({links} link{plural} on {sites} sites: {how})"
        if not lone
        else f"the one site checked did not answer ({how})"
    )
    if canary is not None:
        where += f", and neither did {canary}, asked to tell dead sites from a dead network"
    else:
        where += ", and no canary was asked (--canary none) to tell dead sites from a dead network"
    return (
        f"The network seems down: {where}. Nothing was learned: no reading's health changed "
        "and nothing was recorded. Run the check again when the network works."
    )


def _portal_message(page: str, count: int, links: int, sites: int) -> str:
    return (
        f"A captive portal (a hotel or office network's login page) seems to answer for every "
        f"site: {count} of {links} links, on {sites} sites, ended at the same page, {page}. "
        "Nothing was learned: no reading's health, title or drift baseline changed and nothing "
        "was recorded. Log in to the network (or use another) and run the check again."
    )


def _result(reading: Reading, judgement: Judgement, kind: str, at: datetime) -> CheckResult:
    return CheckResult(
        id=reading.id,
        url=reading.url,
        verdict=judgement.verdict,
        reason=judgement.reason,
        final_url=judgement.final_url,
        kind=reading.kind or kind,
        http_status=judgement.http_status,
        suggestion=judgement.suggestion,
        checked_at=at,
    )


def _last_result(reading: Reading, record: Record) -> CheckResult:
    """The result a fresh reading reports: its latest recorded (non-skipped) check, as of the
    last time it was confirmed."""
    current = record.current_checks
    check = [c for c in current if c.verdict != Verdict.SKIPPED][-1]
    health = record.health_given(current)
    return CheckResult(
        id=reading.id,
        url=reading.url,
        verdict=check.verdict,
        reason=check.reason,
        final_url=check.final_url,
        kind=reading.kind,
        http_status=check.http_status,
        suggestion=check.suggestion,
        checked_at=health.last_checked or check.at,
        health=health.state,
    )


async def run_checks(
    run: CheckRun,
    readings: Sequence[Reading],
    selected: Sequence[Reading],
    fetcher: Fetcher,
    *,
    max_concurrency: int,
    host_concurrency: Callable[[str], int],
) -> Outcome:
    """Check ``selected`` (of the whole curriculum ``readings``) with one fetcher."""
    from linkkeeper.check.metadata import prefetch_arxiv
    from linkkeeper.check.pool import HarvestPool
    from linkkeeper.web import run_bounded

    links = run.plan(readings, selected)
    fetched = [reading for link in links for reading in link.readings]
    await prefetch_arxiv(fetched, fetcher, run.ledger, run.clock())  # one API batch per run

    harvester = run.harvester = run.harvester or HarvestPool()
    # Links read in full this run: those with nothing to carry over (first night, --force,
    # the monthly refresh, a failure). While a worker has its page, a link holds no request.
    room = harvester.expect(sum(link.prior is None for link in links))

    def per_host(host: object) -> int:
        return host_concurrency(str(host)) + min(room, host_concurrency(str(host)))

    async def work(link: _Link) -> None:
        await run.check(link, fetcher)

    try:
        await run_bounded(
            links,
            work,
            max_concurrency + room,
            key=lambda link: link.host,
            per_key=per_host,
        )
        return run.outcome(selected, offline=await run.finish(fetcher))
    finally:  # interrupted or not: no worker outlives the run, and their CPU is counted
        harvester.close()
