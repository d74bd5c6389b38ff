"""``linkkeeper archive`` around the run: its options, the ledger lock, progress on stderr,
the text summary and the exit code (the run itself: :mod:`linkkeeper.archive.run`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import click

from linkkeeper.archive.iakeys import Keys
from linkkeeper.archive.run import (
    COLORS,
    EXIT_FINDINGS,
    EXIT_INCONCLUSIVE,
    EXIT_OK,
    SUMMARY_ORDER,
    ArchiveOutcome,
    ArchiveRun,
    ArchiveSettings,
    ArchiveUsageError,
    State,
    _utcnow,
    archive_of,
    spn2_within,
)
from linkkeeper.archive.wayback import (
    DEFAULT_AVAILABILITY_URL,
    DEFAULT_WAYBACK_URL,
    Pacer,
    WaybackClient,
    WaybackSettings,
)
from linkkeeper.check import Selection
from linkkeeper.core import Reading, run_async, textsafe
from linkkeeper.ledger import (
    HealthPolicy,
    Ledger,
)


@dataclass(frozen=True)
class ArchiveOptions(Selection):
    """``linkkeeper archive``'s options, parsed (see ``cli.archive_command``)."""

    dry_run: bool = False
    fmt: str = "text"
    remap: tuple[str, ...] = ()
    allow_private: bool = False
    wayback_url: str | None = None
    availability_url: str | None = None
    if_not_archived_within: timedelta = timedelta(days=30)
    captures_per_minute: float = 6.0
    poll_interval: float = 3.0
    poll_deadline: float = 120.0
    cdx_interval: float = 2.0
    refresh_captures: bool = False
    user_agent_contact: str | None = None
    policy: HealthPolicy = field(default_factory=HealthPolicy)  # records' health is re-derived


def main(
    options: ArchiveOptions,
    readings: Sequence[Reading],
    *,
    clock: Callable[[], datetime] = _utcnow,
    environ: Mapping[str, str] | None = None,
    pacer: Pacer | None = None,
) -> int:
    """Run ``linkkeeper archive``; returns the exit code (:class:`ArchiveUsageError`: 2)."""
    from linkkeeper.archive.iakeys import KeysError, load_keys
    from linkkeeper.check import EXIT_DAMAGED, SelectionError, interrupted, report_damage, select
    from linkkeeper.ledger import LedgerError
    from linkkeeper.web import RemapError, Remapper

    try:
        selected = select(readings, options.ids, options.week)
        remapper = Remapper.parse(options.remap)
        keys = load_keys(environ)
    except (SelectionError, RemapError, KeysError) as exc:
        raise ArchiveUsageError(str(exc)) from None
    settings = ArchiveSettings(window=options.if_not_archived_within)
    pacer = pacer or Pacer(per_minute=options.captures_per_minute)
    try:
        ledger = Ledger(options.snapshots, policy=options.policy)
        with _locked(ledger, options.dry_run), _progress() as (on_step, on_done):

            def make_run(wayback: WaybackClient) -> ArchiveRun:
                return ArchiveRun(
                    ledger,
                    wayback,
                    settings,
                    pacer,
                    clock,
                    dry_run=options.dry_run,
                    refresh=options.refresh_captures,
                    forced=frozenset(options.ids),
                    on_step=on_step,
                    on_done=on_done,
                )

            outcome = run_async(run_archive(make_run, selected, options, remapper, keys, clock))
    except LedgerError as exc:  # LedgerLocked included
        raise ArchiveUsageError(str(exc)) from None
    except KeyboardInterrupt:
        return interrupted(
            ledger.damaged,
            f"Interrupted: every result so far is recorded in {options.snapshots}/; run the "
            "same command again to continue (running jobs are polled, not submitted again).",
        )
    if outcome.unreachable:
        click.secho(f"WARNING: {outcome.unreachable}", fg="red", bold=True, err=True)
    elif outcome.keys_note and any(e.state == State.WAITING_KEYS for e in outcome.entries):
        click.secho(
            f"Existing captures were looked up for {outcome.looked_up} reading(s) (no keys "
            f"needed). New captures were not made: {outcome.keys_note}",
            fg="yellow",
            err=True,
        )
    if options.fmt == "json":
        click.echo(json.dumps(outcome.to_dict(), indent=2, ensure_ascii=False))
    else:
        print_text(outcome)
    if report_damage(ledger.damaged, "the other readings were archived"):
        return EXIT_DAMAGED
    if outcome.unreachable:
        return EXIT_INCONCLUSIVE
    return EXIT_FINDINGS if outcome.without_capture else EXIT_OK


@contextmanager
def _locked(ledger: Ledger, dry_run: bool) -> Iterator[None]:
    """Hold the ledger lock for the run; a dry run takes no lock (it writes nothing)."""
    if dry_run:
        yield
        return
    with ledger:
        yield


async def run_archive(
    make_run: Callable[[WaybackClient], ArchiveRun],
    selected: Sequence[Reading],
    options: ArchiveOptions,
    remapper: Any,
    keys: Keys | None,
    clock: Callable[[], datetime],
) -> ArchiveOutcome:
    """One run with one HTTP client: ``make_run`` builds the :class:`ArchiveRun` around the
    :class:`WaybackClient` made from ``options`` (the async part of :func:`main`; nightly)."""
    from linkkeeper.archive.wayback import make_client

    wayback_url = options.wayback_url or DEFAULT_WAYBACK_URL
    availability_url = options.availability_url or DEFAULT_AVAILABILITY_URL
    if not options.allow_private:
        await _refuse_private([wayback_url, availability_url], remapper)
    protocol = WaybackSettings(
        if_not_archived_within=spn2_within(options.if_not_archived_within),
        poll_interval=options.poll_interval,
        poll_deadline=options.poll_deadline,
        cdx_interval=options.cdx_interval,
    )
    async with make_client(
        remapper, options.user_agent_contact, allow_private=options.allow_private
    ) as client:
        wayback = WaybackClient(
            client,
            keys,
            wayback_url=wayback_url,
            availability_url=availability_url,
            settings=protocol,
            now=clock,
        )
        return await make_run(wayback).run(selected)


async def _refuse_private(urls: Iterable[str], remapper: Any) -> None:
    """The archive endpoints must be public addresses unless --allow-private (as ``check``)."""
    from linkkeeper.web import refusal

    for url in urls:
        target = urlsplit(remapper.apply(url))
        port = target.port or (443 if target.scheme == "https" else 80)
        if why := await refusal(target.hostname or "", port):
            raise ArchiveUsageError(
                f"{url} cannot be used: {why}; pass --allow-private to allow it "
                "(e.g. for the sandbox or a local mirror)"
            )


@contextmanager
def _progress() -> Iterator[tuple[Callable[[str, int], None], Callable[[], None]]]:
    """A rich progress bar per phase on stderr when it is a terminal; no-ops otherwise."""
    if not sys.stderr.isatty():
        yield (lambda name, total: None), (lambda: None)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        current: list[Any] = []

        def step(name: str, total: int) -> None:
            if current:
                progress.remove_task(current.pop())
            current.append(progress.add_task(name, total=total))

        yield step, lambda: progress.advance(current[-1]) if current else None


def print_text(outcome: ArchiveOutcome) -> None:
    """One line per reading, then the summary (colours only on a terminal)."""
    width = max((len(e.reading.id) for e in outcome.entries), default=0)
    for entry in outcome.entries:
        state = entry.state
        label = state.value if state else "no URL"
        data = entry.to_dict()
        detail = data["capture"]["url"] if data.get("capture") else ""
        if state is None:
            detail = "nothing to archive"
        elif state not in (State.CAPTURED, State.RECENT) or not detail:
            detail = data["reason"] or detail
        if entry.action.startswith("would") or entry.action == "needs-keys":
            label = f"{label} ({entry.action})"
        detail = textsafe.plain(detail, None)  # the archive's words: no terminal escapes
        click.secho(f"{label:<26} {entry.reading.id:<{width}}  {detail}", fg=COLORS.get(state))
    if outcome.unreachable:  # one explanation, not one error per reading
        click.secho(f"\n{outcome.unreachable}", fg="yellow")
        return
    counts = [f"{outcome.count(s)} {label}" for s, label in SUMMARY_ORDER if outcome.count(s)]
    prefix = "Dry run, nothing written: " if outcome.dry_run else ""
    click.echo(f"\n{prefix}{', '.join(counts) or 'nothing to archive'}.")
    refused = [e for e in outcome.entries if e.state in (State.REFUSED, State.EXCLUDED)]
    for entry in refused:
        click.echo(f"  {entry.reading.id}: {archive_of(entry.record)['reason']}")  # type: ignore[arg-type]
    for entry in (e for e in outcome.entries if e.lookup_error):
        click.secho(
            f"  {entry.reading.id}: finding its captures failed, what was known is kept "
            f"({entry.lookup_error})",
            fg="yellow",
        )
    if outcome.stopped:
        click.secho(f"Stopped submitting: {outcome.stopped}", fg="yellow")
    if missing := outcome.without_capture:
        click.secho(f"{len(missing)} reading(s) have no good archived copy yet.", fg="yellow")


_run = run_archive  # the name nightly first imported
