"""``linkkeeper check`` around the engine: its options, the ledger lock and sync, progress on
stderr, the report, --accept-drift and the exit code (the engine itself:
:mod:`linkkeeper.check.engine`)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from linkkeeper.check.report import Outcome, Row, has_findings, print_rich, render
from linkkeeper.core import (
    HostOverride,
    Reading,
    atomic_write_text,
    paced_collector,
    run_async,
)
from linkkeeper.ledger import HealthPolicy

if TYPE_CHECKING:
    from linkkeeper.ledger import DamagedRecord, Ledger
    from linkkeeper.web import Remapper
from linkkeeper.check.engine import (
    CANARY_URL,
    DEFAULT_MAX_AGE,
    EXIT_DAMAGED,
    EXIT_FINDINGS,
    EXIT_INCONCLUSIVE,
    EXIT_OK,
    CheckRun,
    SelectionError,
    _utcnow,
    run_checks,
    select,
)

EXIT_INTERRUPTED = 130  # the shell convention for "stopped by SIGINT"


class CheckUsageError(Exception):
    """Bad input (curriculum, ids, remap rules, a locked or corrupt ledger): exit 2."""


@dataclass(frozen=True)
class Selection:
    """What a run works on: the curriculum, the ledger, and the readings picked by ID and week
    (:func:`select`); check's and archive's options both start with it."""

    readings: Path
    snapshots: Path
    ids: tuple[str, ...] = ()
    week: int | None = None


@dataclass(frozen=True)
class CheckOptions(Selection):
    """``linkkeeper check``'s options, parsed (see ``cli.check``)."""

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
    canary: str | None = CANARY_URL  # asked when one site is all the evidence (None: never)


def main(
    options: CheckOptions, readings: Sequence[Reading], *, clock: Callable[[], datetime] = _utcnow
) -> int:
    """Run ``linkkeeper check`` over the curriculum's ``readings``; returns the exit code.

    Raises :class:`CheckUsageError` (exit 2) for unknown ids, bad remap rules and a locked or
    corrupt ledger."""
    from linkkeeper.ledger import Ledger, LedgerError
    from linkkeeper.web import RemapError, Remapper

    try:
        selected = select(readings, options.ids, options.week)
        select(readings, options.accept_drift)  # unknown ids are a usage error too
        remapper = Remapper.parse(options.remap)
    except (SelectionError, RemapError) as exc:
        raise CheckUsageError(str(exc)) from None

    stdout_terminal = sys.stdout.isatty() and options.output is None and options.fmt == "text"
    run: CheckRun | None = None
    try:
        ledger = Ledger(options.snapshots, policy=options.policy)
        with ledger, _progress(len(selected)) as advance:
            if options.accept_drift:
                accept_drift(ledger, options.accept_drift, clock())

            def on_row(row: Row) -> None:
                advance()

            run = CheckRun(ledger, options.max_age, options.force, clock, on_row, options.canary)
            outcome = run_async(run_with_options(run, readings, selected, options, remapper))
    except LedgerError as exc:  # LedgerLocked included
        raise CheckUsageError(str(exc)) from None
    except KeyboardInterrupt:
        return interrupted(
            ledger.damaged,
            f"Interrupted: {run.recorded if run else 0} of {len(selected)} readings were "
            f"checked and recorded in "
            f"{options.snapshots}/ (nothing half-written); run the same command again to "
            "check the rest.",
        )

    if outcome.notice and (options.fmt != "text" or options.output is not None):
        click.secho(f"WARNING: {outcome.notice}", fg="red", bold=True, err=True)  # else in text
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
    return exit_code(outcome, options.fail_on)


def exit_code(outcome: Outcome, fail_on: str) -> int:
    """3 when the run learned nothing (it says nothing new about any reading, good or bad),
    else 1 for findings at ``fail_on``, else 0."""
    if outcome.inconclusive:
        return EXIT_INCONCLUSIVE
    return EXIT_FINDINGS if has_findings(outcome, fail_on) else EXIT_OK


def report_damage(damaged: Mapping[str, DamagedRecord], what: str = "") -> bool:
    """Name each damaged record on stderr (see :func:`linkkeeper.ledger.store.damage_report`);
    True when there was any: the command then exits :data:`EXIT_DAMAGED`."""
    from linkkeeper.ledger import damage_report

    for line in damage_report(damaged, what=what):
        click.secho(line, fg="red", err=True)
    return bool(damaged)


def interrupted(damaged: Mapping[str, DamagedRecord], kept: str) -> int:
    """Ctrl-C stopped a run (check, archive): name the damaged records met so far, say what
    is kept and how to go on, and exit 130."""
    report_damage(damaged)
    click.secho(kept, fg="yellow", err=True)
    return EXIT_INTERRUPTED


def accept_drift(ledger: Ledger, ids: Sequence[str], now: datetime) -> None:
    """``--accept-drift``: before the run, re-baseline each reading on the latest text a check
    recorded (the one the report called changed), so this run compares with the new version."""
    from linkkeeper.check.drift import accept_ids

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
    from linkkeeper.web import Fetcher, FetchSettings, user_agent

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
    with paced_collector():
        async with Fetcher(settings, remapper) as fetcher:
            return await run_checks(
                run,
                readings,
                selected,
                fetcher,
                max_concurrency=options.max_concurrency,
                host_concurrency=lambda host: fetcher.scheduler.policy(host).concurrency,
            )


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


_run = run_with_options  # the old private name, still used by nightly.py
