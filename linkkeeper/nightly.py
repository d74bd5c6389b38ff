"""One command for the schedule: check, archive, refresh metadata, publish, summarise, report.

Each stage is called as a Python function (no subprocesses), in pipeline order, each opening
the ledger itself so the lock is never held twice. A stage missing from this version of
linkkeeper is noted in the summary and skipped; a stage that fails is noted and the rest still
run, because the ledger and the site are worth keeping on a bad night. The exit status follows
``--fail-on`` (default: only dead readings fail the night).
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from linkkeeper.check import (
    EXIT_DAMAGED,
    CheckOptions,
    Outcome,
    Row,
    has_findings,
    report_damage,
    summary_line,
)
from linkkeeper.core import run_async
from linkkeeper.outputs import (
    DEFAULT_API,
    GitHubError,
    IssueResult,
    Night,
    StageNote,
    closing_comment,
    is_healthy,
    issue_body,
    update_rolling_issue,
    write_outputs,
)

if TYPE_CHECKING:
    from linkkeeper.archive import Keys
    from linkkeeper.curriculum import Curriculum
    from linkkeeper.ledger import DamagedRecord, Ledger

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_INCONCLUSIVE = 3  # as in check: the night learned nothing (network down, captive portal)
Say = Callable[[str], None]


def metadata_note(checked: int) -> str:
    """What the metadata stage (part of the check) did, in words that match the count."""
    if not checked:
        return "nothing refreshed: the check fetched no page this run"
    return (
        f"titles, authors, dates and content drift were refreshed by the check from the "
        f"{checked} link(s) it checked (one arXiv API batch; no page asked for twice)"
    )


INCONCLUSIVE_ARCHIVE = (
    "not run: the check learned nothing tonight (see its warning), so no capture was looked "
    "up or made and nothing was recorded"
)


class NightlyError(Exception):
    """Bad input or a locked/corrupt ledger: nothing was checked (exit 2)."""


@dataclass(frozen=True)
class NightlyOptions:
    """``linkkeeper nightly``'s options, parsed; ``check`` carries the check stage's own."""

    check: CheckOptions
    site: Path | None = Path("site")
    markdown: Path | None = Path("READINGS.md")
    issue: bool = True
    github_repo: str | None = None
    github_api: str = DEFAULT_API
    github_token: str | None = field(default=None, repr=False)
    ia_keys: Keys | None = None  # None: existing captures only
    archive: Mapping[str, Any] = field(default_factory=dict)  # ArchiveOptions tuning fields
    summary_file: Path | None = None  # $GITHUB_STEP_SUMMARY (appended)
    issue_file: Path | None = None  # the rolling-issue body, also without GitHub
    commit_message_file: Path | None = None
    discord_webhook: str | None = field(default=None, repr=False)  # a secret: never printed
    discord_retries: int = 3
    discord_backoff: float = 1.0  # seconds before the first retry (doubling)


@dataclass
class NightResult:
    night: Night
    exit_code: int
    issue: IssueResult | None
    issue_body: str
    damaged: Mapping[str, DamagedRecord] = field(default_factory=dict)  # left as they were


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _stage_available(module: str) -> bool:
    return importlib.util.find_spec(f"linkkeeper.{module}") is not None


# -- stages ------------------------------------------------------------------------------------
def run_check(
    options: CheckOptions,
    curriculum: Curriculum,
    clock: Callable[[], datetime],
    on_row: Callable[[Row], None] | None = None,
) -> Outcome:
    """The check stage over the whole curriculum, recorded in the ledger as it goes."""
    from linkkeeper.check import CheckRun, run_with_options
    from linkkeeper.ledger import Ledger, LedgerError
    from linkkeeper.web import RemapError, Remapper

    try:
        remapper = Remapper.parse(options.remap)
    except RemapError as exc:
        raise NightlyError(str(exc)) from None
    readings = curriculum.readings()
    try:
        with Ledger(options.snapshots, clock=clock, policy=options.policy) as ledger:
            run = CheckRun(ledger, options.max_age, options.force, clock, on_row, options.canary)
            return run_async(run_with_options(run, readings, readings, options, remapper))
    except LedgerError as exc:
        raise NightlyError(str(exc)) from None


def _archive(
    options: NightlyOptions, curriculum: Curriculum, clock: Callable[[], datetime]
) -> StageNote:
    """Find existing captures, submit what has none recent enough (only with keys)."""
    from linkkeeper.archive import (
        SUMMARY_ORDER,
        ArchiveOptions,
        ArchiveRun,
        ArchiveSettings,
        ArchiveUsageError,
        Pacer,
        State,
        WaybackClient,
        run_archive,
    )
    from linkkeeper.ledger import Ledger
    from linkkeeper.web import Remapper

    check = options.check
    archive = ArchiveOptions(
        readings=check.readings,
        snapshots=check.snapshots,
        remap=check.remap,
        allow_private=check.allow_private,
        user_agent_contact=check.user_agent_contact,
        **options.archive,
    )
    settings = ArchiveSettings(window=archive.if_not_archived_within)
    pacer = Pacer(per_minute=archive.captures_per_minute)
    with Ledger(check.snapshots, clock=clock, policy=check.policy) as ledger:

        def make_run(wayback: WaybackClient) -> ArchiveRun:
            return ArchiveRun(ledger, wayback, settings, pacer, clock)

        try:
            remapper = Remapper.parse(check.remap)
            work = run_archive(make_run, curriculum.readings(), archive, remapper,
                               options.ia_keys, clock)  # fmt: skip
            outcome = run_async(work)
        except ArchiveUsageError as exc:
            return StageNote("archive", "failed", str(exc))
    if outcome.unreachable:  # nothing learned: say so, not "N queued"
        return StageNote("archive", "inconclusive", outcome.unreachable)
    new = sum(
        e.state == State.CAPTURED and e.action in ("submitted", "polled") for e in outcome.entries
    )
    counts = [f"{outcome.count(s)} {label}" for s, label in SUMMARY_ORDER if outcome.count(s)]
    message = ", ".join(counts) or "nothing to archive"
    if new:
        message = f"{new} newly archived; {message}"
    if outcome.keys_note:
        message += (
            f"; without Internet Archive keys only existing captures were looked up "
            f"({outcome.looked_up} this run; set IA_ACCESS_KEY and IA_SECRET_KEY for new ones)"
        )
    if outcome.stopped:
        message += f"; stopped submitting: {outcome.stopped}"
    return StageNote("archive", "ran", message, {"newly archived": new})


def _publish(options: NightlyOptions, curriculum: Curriculum, ledger: Ledger) -> StageNote:
    """The page and READINGS.md; dated by the newest check, so unchanged data rewrites nothing."""
    from linkkeeper.outputs import build, publish

    written = publish(build(curriculum, ledger), options.site, options.markdown)
    where = " and ".join(str(w.path) for w in written) or "nothing (no --site)"
    changed = sum(w.changed for w in written)
    return StageNote("publish", "ran", f"{where} ({changed} file(s) changed)")


def _annotate(outcome: Outcome, ledger: Ledger) -> dict[str, datetime | None]:
    """Refresh the rows from the ledger after every stage wrote to it (archive links, drift);
    returns each reading's health ``since`` for the issue."""
    from linkkeeper.check import ROW_ANNOTATORS

    since: dict[str, datetime | None] = {}
    for row in outcome.rows:
        record = ledger.find(row.reading.id)
        if record is None:
            continue
        for annotate in ROW_ANNOTATORS:
            annotate(record, row)
        since[row.reading.id] = record.health.since
    return since


# -- the night ---------------------------------------------------------------------------------
def run(
    options: NightlyOptions,
    curriculum: Curriculum,
    *,
    clock: Callable[[], datetime] = _utcnow,
    on_row: Callable[[Row], None] | None = None,
    say: Say = print,
) -> NightResult:
    """The whole night; raises :class:`NightlyError` when nothing could be checked."""
    from linkkeeper.ledger import Ledger, LedgerError

    started = clock()
    say(f"check: checking {len(curriculum.readings())} readings ...")
    outcome = run_check(options.check, curriculum, clock, on_row)
    if outcome.notice:
        stages = [StageNote("check", "inconclusive", outcome.notice)]
    else:
        stages = [StageNote("check", "ran", summary_line(outcome))]
    say(f"check: {stages[0].message}")

    ledger = Ledger(options.check.snapshots)
    for name, work in _later_stages(options, curriculum, ledger, clock, outcome):
        note = _run_stage(name, work)
        stages.append(note)
        say(f"{note.name}: {note.message}")
    try:
        since = _annotate(outcome, ledger)
    except LedgerError as exc:
        raise NightlyError(str(exc)) from None
    damaged = ledger.scan()
    if damaged:  # every stage left them alone: the summary and the exit code say so
        ids = ", ".join(sorted(damaged))
        stages.append(StageNote("ledger", "failed", f"{len(damaged)} damaged record(s) left "
                                f"as they were: {ids} (restore from git or delete)"))  # fmt: skip

    if options.discord_webhook:
        stages.append(_discord(options, curriculum, outcome, clock))
        say(f"discord: {stages[-1].message}")
    fails = has_findings(outcome, options.check.fail_on)
    strips = _night_strips(outcome, ledger)
    night = Night(outcome, started.date(), stages, since, fails, options.check.fail_on, strips)
    body = issue_body(outcome, since, strips)
    issue = _issue(options, night, body)
    night.stages.append(_issue_note(issue))
    say(f"rolling issue: {night.stages[-1].message}")
    write_outputs(
        night,
        summary_file=options.summary_file,
        issue_file=options.issue_file,
        commit_file=options.commit_message_file,
    )
    broken_stage = any(note.status == "failed" for note in night.stages)
    if broken_stage:
        code = EXIT_FINDINGS
    elif outcome.notice:
        code = EXIT_INCONCLUSIVE
    else:
        code = EXIT_FINDINGS if fails else EXIT_OK
    return NightResult(night, EXIT_DAMAGED if damaged else code, issue, body, damaged)


def _night_strips(outcome: Outcome, ledger: Ledger) -> dict[str, str]:
    """Each reading's recent nights as Unicode blocks, for the rolling issue (ending at its
    last recorded check, so a quiet record leaves the issue's text as it was)."""
    from linkkeeper.ledger import LedgerError
    from linkkeeper.outputs import blocks, recent_nights

    strips: dict[str, str] = {}
    for row in outcome.rows:
        try:
            record = ledger.get(row.reading.id)
        except LedgerError:
            continue
        if record is not None and (marks := recent_nights(record.current_checks)):
            strips[row.reading.id] = blocks(marks)
    return strips


def _later_stages(
    options: NightlyOptions,
    curriculum: Curriculum,
    ledger: Ledger,
    clock: Callable[[], datetime],
    outcome: Outcome | None = None,
) -> Sequence[tuple[str, Callable[[], StageNote] | None]]:
    """(name, work) for each stage after check; ``None`` work: not in this version. After a
    check that learned nothing, the archive is not asked either (it would fail the same way,
    or read a captive portal's page as the archive's answer)."""
    archive = metadata = publish = None
    learned = outcome is None or not outcome.notice
    checked = 0 if outcome is None else outcome.summary()["checked"]
    if _stage_available("check.metadata"):  # part of the check: it reads the pages check fetched
        note = StageNote("metadata", "ran" if checked else "skipped", metadata_note(checked))
        metadata = lambda: note  # noqa: E731
    if _stage_available("archive.run"):
        archive = lambda: (  # noqa: E731
            _archive(options, curriculum, clock)
            if learned
            else StageNote("archive", "skipped", INCONCLUSIVE_ARCHIVE)
        )
    if _stage_available("outputs.pages") and (options.site or options.markdown):
        publish = lambda: _publish(options, curriculum, ledger)  # noqa: E731
    return [
        ("archive", archive),
        ("metadata", metadata),
        ("publish", publish),
    ]


def _run_stage(name: str, work: Callable[[], StageNote] | None) -> StageNote:
    if work is None:
        return StageNote(name, "missing", "not part of this version of linkkeeper; skipped")
    try:
        return work()
    except Exception as exc:  # one stage's failure must not lose the others' work
        log.exception("the %s stage failed", name)
        return StageNote(name, "failed", f"{type(exc).__name__}: {exc}")


def _discord(
    options: NightlyOptions,
    curriculum: Curriculum,
    outcome: Outcome,
    clock: Callable[[], datetime],
) -> StageNote:
    """Heal the posted weeks and announce new deaths (only with a webhook). Discord being down
    never fails the night: the work is recorded as owed and done by the next one."""
    from linkkeeper.ledger import Ledger, LedgerError
    from linkkeeper.outputs import build, discord
    from linkkeeper.web import Remapper

    if outcome.offline:
        return StageNote("discord", "skipped", "offline night: Discord was left as it was")
    check = options.check
    try:
        webhook = discord.Webhook.parse(options.discord_webhook or "")
        settings = discord.ClientSettings(
            retries=options.discord_retries,
            backoff=options.discord_backoff,
            allow_private=check.allow_private,
        )
        with Ledger(check.snapshots, clock=clock, policy=check.policy) as ledger:
            site = build(curriculum, ledger)
            now = clock()
            work = discord.heal_and_alert(site, webhook, check.snapshots, today=now.date(),
                                          settings=settings, remap=Remapper.parse(check.remap),
                                          now=now)  # fmt: skip
            report = discord.run(work)
    except (discord.DiscordError, LedgerError) as exc:
        return StageNote("discord", "failed", str(exc))
    except Exception as exc:  # a bug must not cost the night its summary and issue
        token = discord.Webhook.parse(options.discord_webhook or "").token
        text = f"{type(exc).__name__}: {exc}".replace(token, "***")
        log.error("the discord stage failed: %s", text)  # no traceback: it could hold the URL
        return StageNote("discord", "failed", text)
    counts = {"healed": len(report.edited), "alerted": len(report.alerted)}
    return StageNote("discord", report.status, report.message, counts)


def _issue(options: NightlyOptions, night: Night, body: str) -> IssueResult | None:
    """Tonight's update of the rolling issue (``None``: --no-issue); never raises."""
    if not options.issue:
        return None
    if night.outcome.offline:  # "network unreachable" everywhere is not news for the issue
        return IssueResult("skipped", "offline night: the rolling issue was left as it was")
    try:
        return update_rolling_issue(
            body,
            healthy=is_healthy(night.outcome),
            repo=options.github_repo,
            token=options.github_token,
            api_url=options.github_api,
            closing_comment=closing_comment(night.day),
            allow_private=options.check.allow_private,
        )
    except GitHubError as exc:
        return IssueResult("failed", str(exc))


def _issue_note(issue: IssueResult | None) -> StageNote:
    if issue is None:
        return StageNote("rolling issue", "skipped", "not requested (--no-issue)")
    status = issue.action if issue.action in ("failed", "skipped") else "ran"
    link = f" ({issue.url})" if issue.url else ""
    return StageNote("rolling issue", status, issue.message + link)


# -- the command -------------------------------------------------------------------------------
def main(
    options: NightlyOptions,
    curriculum: Curriculum,
    *,
    clock: Callable[[], datetime] = _utcnow,
    on_row: Callable[[Row], None] | None = None,
) -> int:
    """``linkkeeper nightly``: the night, then its report on stdout; returns the exit code.

    Stage lines go to stderr so ``--format json`` stays parseable."""
    from linkkeeper.check import print_rich, render

    def say(line: str) -> None:
        click.echo(line, err=True)

    try:
        result = run(options, curriculum, clock=clock, on_row=on_row, say=say)
    except KeyboardInterrupt:
        say(
            "Interrupted: every check finished so far is recorded in "
            f"{options.check.snapshots}/; run the same command again to do the rest."
        )
        return EXIT_INTERRUPTED
    outcome, fmt = result.night.outcome, options.check.fmt
    if fmt == "text" and sys.stdout.isatty():
        from rich.console import Console

        print_rich(outcome, Console())
    else:
        click.echo(render(outcome, fmt, readings_file=str(options.check.readings)), nl=False)
    for note in result.night.stages:
        if note.status == "failed" and note.name != "ledger":
            click.secho(f"{note.name} failed: {note.message}", fg="red", err=True)
    report_damage(result.damaged, "the other readings went through every stage")
    return result.exit_code
