"""The check engine: curriculum -> fetch and judge -> ledger -> :class:`~linkkeeper.report.Outcome`.

One run: mark orphans, then for each selected reading either skip it (no URL), reuse its fresh
recorded result (a success younger than ``max_age``), or fetch and judge it through one
:class:`~linkkeeper.fetcher.Fetcher` and a bounded worker pool. Each result is written to the
ledger the moment it arrives, so Ctrl-C or a crash keeps everything finished so far.

Offline nights: results that failed to connect (``connect``/``dns``) are held back until some
link answers. If none ever does (two or more hosts, all unreachable), the machine is probably
offline, and they are recorded as ``skipped`` with reason "network unreachable" instead of
``broken``; if the run is interrupted first, they are not recorded at all (they will be
re-checked, as every failure is).
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click

from linkkeeper._atomic import atomic_write_text
from linkkeeper.config import HostOverride
from linkkeeper.drift import annotate_row as annotate_drift
from linkkeeper.health import HealthPolicy, needs_check
from linkkeeper.links import annotate_row as annotate_archive
from linkkeeper.models import CheckResult, Reading, Verdict
from linkkeeper.report import OFFLINE_MESSAGE, Outcome, Row, has_findings, print_rich, render

if TYPE_CHECKING:
    from linkkeeper.fetcher import Fetcher
    from linkkeeper.ledger import DamagedRecord, Ledger, Record
    from linkkeeper.remap import Remapper
    from linkkeeper.revalidate import Prior, Watch
    from linkkeeper.sites import Judgement
    from linkkeeper.writebehind import WriteBehind

EXIT_OK, EXIT_FINDINGS = 0, 1  # as in cli.py (2 is CheckUsageError); 130 when interrupted
EXIT_DAMAGED = 2  # some ledger record could not be used (the rest of the run went on)

log = logging.getLogger(__name__)

DEFAULT_MAX_AGE = timedelta(hours=20)  # a nightly run re-checks yesterday's successes
NO_URL = "no URL"
NETWORK_UNREACHABLE = "network unreachable"
NETWORK_ERRORS = frozenset({"connect", "dns"})  # no answer from anybody: maybe we are offline
OFFLINE_MIN_HOSTS = 2  # one unreachable host is a dead host, not an offline machine

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


def _network_failure(judgement: Judgement) -> bool:
    page = judgement.page
    return page is not None and page.status is None and page.error in NETWORK_ERRORS


@dataclass
class _Link:
    """One URL fetched once this run, for every selected reading that links to it."""

    url: str
    readings: list[Reading]
    priors: list[Prior | None] = field(default_factory=list)  # per reading (revalidate)
    prior: Prior | None = None  # the last good check it may carry over (linkkeeper.revalidate)


@dataclass
class CheckRun:
    """One run over the ledger; ``on_row`` sees every row as it is final (progress bars)."""

    ledger: Ledger
    max_age: timedelta = DEFAULT_MAX_AGE
    force: bool = False
    clock: Callable[[], datetime] = _utcnow
    on_row: Callable[[Row], None] | None = None
    rows: dict[str, Row] = field(default_factory=dict, init=False)
    _held: list[tuple[Reading, CheckResult]] = field(default_factory=list, init=False)
    _reached: bool = field(default=False, init=False)  # somebody answered: we are online
    _writer: WriteBehind | None = field(default=None, init=False)

    def plan(self, readings: Sequence[Reading], selected: Sequence[Reading]) -> list[_Link]:
        """Sync orphans, settle what needs no fetch (no URL, fresh), return what does.
        Readings whose record is damaged are left out (``ledger.damaged``: reported)."""
        from linkkeeper.revalidate import prior, shared

        self.ledger.sync(readings)
        damaged = self.ledger.scan(r.id for r in selected)
        now = self.clock()
        links: dict[str, _Link] = {}
        for reading in selected:
            if reading.id in damaged:
                continue
            if reading.url is None:
                self._record(reading, CheckResult(reading.id, None, Verdict.SKIPPED, NO_URL,
                                                  kind=reading.kind, checked_at=now))  # fmt: skip
                continue
            record = self.ledger.get(reading.id)
            if record is not None and not needs_check(
                record, now, self.max_age, force=self.force, confirmed=record.confirmed_at
            ):
                self._finish(reading, _last_result(reading, record), record, fresh=True)
                continue
            link = links.setdefault(reading.url, _Link(reading.url, []))
            link.readings.append(reading)
            if not self.force:  # --force: a full check of everything, nothing carried over
                link.priors.append(prior(reading, record, self.ledger.freshness, now))
        for link in links.values():
            link.prior = shared(link.priors) if not self.force else None
            link.priors = []
        return list(links.values())

    async def check(self, link: _Link, fetcher: Fetcher) -> None:
        """Fetch and judge one link, then record its result for each of its readings."""
        from linkkeeper.metadata import harvest
        from linkkeeper.revalidate import Unchanged, Watch
        from linkkeeper.sites import Judgement, site_for

        site = site_for(link.url)
        watch = Watch(fetcher, link.url, link.prior)
        try:
            judgement = await site.check(link.readings[0], watch)  # type: ignore[arg-type]
        except Unchanged as same:  # the page the last good check judged: nothing to read
            self._reached = True
            await self._release()
            at = self.clock()
            for reading in link.readings:
                result = _result(reading, same.judgement, site.kind, at)
                record = self.ledger.get(reading.id)
                if record is not None and self.ledger.confirm_repeat(reading, result, record):
                    self._finish(reading, result, record, fresh=False)  # nothing to write
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
        # Metadata and drift: read the page once, on the loop (CPU work in a thread would only
        # fight the loop for the GIL), then let the page and its parse go; the fields are
        # folded into each record by the check's own write (one read, one write per record).
        found = harvest(link.readings[0], judgement)
        if judgement.page is not None:
            judgement.page.release()
        fold = None if found is None else partial(found.apply, now=at)
        results = [
            (reading, _result(reading, judgement, site.kind, at)) for reading in link.readings
        ]
        if _network_failure(judgement) and not self._reached:
            self._held.extend(results)  # maybe offline: decide once somebody answers
            return
        if judgement.verdict != Verdict.SKIPPED and not _network_failure(judgement):
            self._reached = True
            await self._release()
        for reading, result in results:
            remember = partial(self._remember, judgement, watch)
            await self._record_soon(reading, result, fold, remember)

    async def finish(self) -> bool:
        """Record held connect failures after a complete run; True when we seem offline."""
        hosts = {host_of(reading.url or "") for reading, _ in self._held}
        offline = not self._reached and len(hosts) >= OFFLINE_MIN_HOSTS
        if offline:
            for _, result in self._held:
                # Skipped, not transient: a night without network says nothing about the
                # link, so it must not count towards dead.
                result.verdict = Verdict.SKIPPED
                result.reason = f"{NETWORK_UNREACHABLE} ({result.reason}); not counted"
                result.suggestion = None
        await self._release()
        if self._writer is not None:
            await self._writer.flush()
        return offline

    def outcome(self, selected: Sequence[Reading], *, offline: bool = False) -> Outcome:
        """Rows in curriculum order (unfinished readings are left out)."""
        rows = [self.rows[r.id] for r in selected if r.id in self.rows]
        return Outcome(rows=rows, offline=offline)

    async def _release(self) -> None:
        held, self._held = self._held, []
        for reading, result in held:
            await self._record_soon(reading, result)

    def _record(self, reading: Reading, result: CheckResult) -> None:
        record = self.ledger.add_check(reading, result)  # saved at once; sets result.health
        self._finish(reading, result, record, fresh=False)

    def _remember(
        self, judgement: Judgement, watch: Watch, reading: Reading, record: Record
    ) -> None:
        """Keep (or drop) what lets the next check of this page carry this one over."""
        from linkkeeper.revalidate import remember

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
            from linkkeeper.writebehind import WriteBehind

            self._writer = WriteBehind(self.ledger)
        self._writer.submit(write, lambda: self._finish(reading, result, record, fresh=False))
        await self._writer.room()  # never let pending records pile up in memory

    def _finish(
        self, reading: Reading, result: CheckResult, record: Record, *, fresh: bool
    ) -> None:
        row = Row(reading=reading, result=result, fresh=fresh)
        for annotate in ROW_ANNOTATORS:
            annotate(record, row)
        self.rows[reading.id] = row
        if self.on_row is not None:
            self.on_row(row)


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
    check = [c for c in record.current_checks if c.verdict != Verdict.SKIPPED][-1]
    health = record.health
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
    from linkkeeper.metadata import prefetch_arxiv
    from linkkeeper.politeness import run_bounded

    links = run.plan(readings, selected)
    fetched = [reading for link in links for reading in link.readings]
    await prefetch_arxiv(fetched, fetcher, run.ledger, run.clock())  # one API batch per run

    async def work(link: _Link) -> None:
        await run.check(link, fetcher)

    await run_bounded(
        links,
        work,
        max_concurrency,
        key=lambda link: host_of(link.url),
        per_key=lambda host: host_concurrency(str(host)),
    )
    return run.outcome(selected, offline=await run.finish())


# -- the command -----------------------------------------------------------------------------
EXIT_INTERRUPTED = 130  # the shell convention for "stopped by SIGINT"


class CheckUsageError(Exception):
    """Bad input (curriculum, ids, remap rules, a locked or corrupt ledger): exit 2."""


@dataclass(frozen=True)
class CheckOptions:
    """``linkkeeper check``'s options, parsed (see ``cli.check``)."""

    readings: Path
    snapshots: Path
    ids: tuple[str, ...] = ()
    week: int | None = None
    fmt: str = "text"
    output: Path | None = None
    fail_on: str = "dead"
    remap: tuple[str, ...] = ()
    allow_private: bool = False
    max_age: timedelta = DEFAULT_MAX_AGE
    force: bool = False
    max_concurrency: int = 64
    host_concurrency: int = 4
    host_interval: float = 0.5
    retries: int = 3  # patience: extra attempts, Retry-After cap, time per link, run budget
    retry_after_cap: float = 40.0
    link_timeout: float = 45.0
    retry_budget: float = 120.0
    hosts: Mapping[str, HostOverride] = field(default_factory=dict)
    user_agent_contact: str | None = None
    policy: HealthPolicy = field(default_factory=HealthPolicy)  # when failing becomes dead
    accept_drift: tuple[str, ...] = ()  # re-baseline these readings' drift on their latest text


def main(
    options: CheckOptions, readings: Sequence[Reading], *, clock: Callable[[], datetime] = _utcnow
) -> int:
    """Run ``linkkeeper check`` over the curriculum's ``readings``; returns the exit code.

    Raises :class:`CheckUsageError` (exit 2) for unknown ids, bad remap rules and a locked or
    corrupt ledger."""
    from linkkeeper.ledger import Ledger, LedgerError
    from linkkeeper.remap import RemapError, Remapper

    try:
        selected = select(readings, options.ids, options.week)
        select(readings, options.accept_drift)  # unknown ids are a usage error too
        remapper = Remapper.parse(options.remap)
    except (SelectionError, RemapError) as exc:
        raise CheckUsageError(str(exc)) from None

    stdout_terminal = sys.stdout.isatty() and options.output is None and options.fmt == "text"
    done = 0
    try:
        ledger = Ledger(options.snapshots, policy=options.policy)
        with ledger, _progress(len(selected)) as advance:
            if options.accept_drift:
                accept_drift(ledger, options.accept_drift, clock())

            def on_row(row: Row) -> None:
                nonlocal done
                done += 1
                advance()

            run = CheckRun(ledger, options.max_age, options.force, clock, on_row)
            outcome = asyncio.run(run_with_options(run, readings, selected, options, remapper))
    except LedgerError as exc:  # LedgerLocked included
        raise CheckUsageError(str(exc)) from None
    except KeyboardInterrupt:
        report_damage(ledger.damaged)
        click.secho(
            f"Interrupted: {done} of {len(selected)} readings were checked and recorded in "
            f"{options.snapshots}/ (nothing half-written); run the same command again to "
            "check the rest.",
            fg="yellow",
            err=True,
        )
        return EXIT_INTERRUPTED

    if outcome.offline and (options.fmt != "text" or options.output is not None):
        click.secho(f"WARNING: {OFFLINE_MESSAGE}", fg="red", bold=True, err=True)  # else in text
    if stdout_terminal:
        from rich.console import Console

        print_rich(outcome, Console())
    else:
        text = render(outcome, options.fmt, readings_file=str(options.readings))
        if options.output is not None:
            atomic_write_text(options.output, text)
        else:
            click.echo(text, nl=False)
    if report_damage(ledger.damaged, "the other readings were checked"):
        return EXIT_DAMAGED
    return EXIT_FINDINGS if has_findings(outcome, options.fail_on) else EXIT_OK


def report_damage(damaged: Mapping[str, DamagedRecord], what: str = "") -> bool:
    """Name each damaged record on stderr (see :func:`linkkeeper.ledger.damage_report`);
    True when there was any: the command then exits :data:`EXIT_DAMAGED`."""
    from linkkeeper.ledger import damage_report

    for line in damage_report(damaged, what=what):
        click.secho(line, fg="red", err=True)
    return bool(damaged)


def accept_drift(ledger: Ledger, ids: Sequence[str], now: datetime) -> None:
    """``--accept-drift``: before the run, re-baseline each reading on the latest text a check
    recorded (the one the report called changed), so this run compares with the new version."""
    from linkkeeper.drift import accept_ids

    for reading_id, accepted in accept_ids(ledger, dict.fromkeys(ids), now).items():
        if accepted:
            click.secho(f"{reading_id}: its current text is the new drift baseline", err=True)
        elif reading_id not in ledger.damaged:  # a damaged record is reported at the end
            click.secho(
                f"{reading_id}: no newer text recorded than its drift baseline; nothing to "
                f"accept (`linkkeeper show {reading_id}` shows its drift)",
                fg="yellow",
                err=True,
            )


async def run_with_options(
    run: CheckRun,
    readings: Sequence[Reading],
    selected: Sequence[Reading],
    options: CheckOptions,
    remapper: Remapper,
) -> Outcome:
    """The async part of :func:`main` (and of ``nightly``): one fetcher for the whole run."""
    from linkkeeper.fetcher import Fetcher, FetchSettings, user_agent

    settings = FetchSettings(
        max_concurrency=options.max_concurrency,
        host_concurrency=options.host_concurrency,
        host_interval=options.host_interval,
        host_overrides=dict(options.hosts),
        allow_private=options.allow_private,
        retries=options.retries,
        retry_after_cap=options.retry_after_cap,
        link_timeout=options.link_timeout,
        retry_budget=options.retry_budget,
    )
    if options.user_agent_contact:
        settings.user_agent = user_agent(options.user_agent_contact)
    async with Fetcher(settings, remapper) as fetcher:
        return await run_checks(
            run,
            readings,
            selected,
            fetcher,
            max_concurrency=options.max_concurrency,
            host_concurrency=lambda host: fetcher.scheduler.policy(host).concurrency,
        )


_run = run_with_options  # the old private name, still used by nightly.py


@contextmanager
def _progress(total: int) -> Iterator[Callable[[], None]]:
    """A rich progress bar on stderr when it is a terminal; a no-op otherwise."""
    if not sys.stderr.isatty():
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    columns = ("Checking links", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("check", total=total)
        yield lambda: progress.advance(task)
