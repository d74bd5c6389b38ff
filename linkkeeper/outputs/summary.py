"""What one night produced, in words: the job summary, the rolling-issue body, the commit message.

Pure functions of a :class:`Night`, so they are tested without a network. The issue body holds
no date or run number: when nothing changed between two nights it is byte-identical, and the
issue is left alone instead of notifying every watcher.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from linkkeeper.check import Outcome, Row, render_markdown
from linkkeeper.core import Health, Verdict, textsafe
from linkkeeper.ledger import NO_GOOD_COPY, format_day
from linkkeeper.outputs.nights import LEGEND

MARKER = "<!-- linkkeeper:rolling-issue -->"

# The problem classes the rolling issue lists, in order; a row lands in the first that fits.
PROBLEMS: list[tuple[str, str, Callable[[Row], bool]]] = [
    ("dead", "Failed on several nights: link the archived copy or find a new source.",
     lambda row: row.result.health == Health.DEAD),
    ("failing", "Failing, not dead yet (an outage?); re-checked every night.",
     lambda row: row.result.health == Health.FAILING),
    ("moved", "The page moved or a better link is known: replace the link.",
     lambda row: row.result.verdict == Verdict.MOVED or bool(row.result.suggestion)),
    ("changed", "The page changed since it was assigned: check it still says the same.",
     lambda row: bool(row.changed)),
]  # fmt: skip
REPORTED = ("blocked",)  # shown in the job summary, never in the issue, never failing
_WAYBACK_TS = re.compile(r"/web/(\d{4})(\d{2})(\d{2})\d*")


@dataclass(frozen=True)
class StageNote:
    """One stage's line in the summary (``status``: ran, skipped, missing, failed)."""

    name: str
    status: str
    message: str
    counts: Mapping[str, int] = field(default_factory=dict)  # e.g. {"newly archived": 2}


@dataclass
class Night:
    """Everything a nightly run produced that the summaries talk about."""

    outcome: Outcome
    day: date
    stages: list[StageNote] = field(default_factory=list)
    since: Mapping[str, datetime | None] = field(default_factory=dict)  # id -> health since
    fails: bool = False  # the run's exit status is a failure (per --fail-on)
    fail_on: str = "dead"
    nights: Mapping[str, str] = field(default_factory=dict)  # id -> recent nights as blocks


def problems(outcome: Outcome) -> dict[str, list[Row]]:
    """The rows the rolling issue lists, by problem class (every class present, maybe empty)."""
    groups: dict[str, list[Row]] = {name: [] for name, _, _ in PROBLEMS}
    for row in outcome.rows:
        for name, _, fits in PROBLEMS:
            if fits(row):
                groups[name].append(row)
                break
    return groups


def blocked(outcome: Outcome) -> list[Row]:
    return [
        row
        for row in outcome.rows
        if row.result.health == Health.BLOCKED or row.result.verdict == Verdict.BLOCKED
    ]


def is_healthy(outcome: Outcome) -> bool:
    """Nothing for the issue to list (blocked readings cannot be known, so they do not count)."""
    return not any(problems(outcome).values())


def counts(outcome: Outcome) -> dict[str, int]:
    found = {name: len(rows) for name, rows in problems(outcome).items()}
    return {**found, "blocked": len(blocked(outcome))}


# -- the rolling issue ------------------------------------------------------------------------
def _cell(text: str | None) -> str:
    """Issue text from pages and archive answers: inert Markdown (see textsafe)."""
    return textsafe.md_text(text or "")


def _archive_link(url: str | None, broken: bool = False) -> str:
    if not url:
        return NO_GOOD_COPY if broken else "none yet"
    match = _WAYBACK_TS.search(url)
    label = "-".join(match.groups()) if match else "archived copy"
    return f"[{label}]({textsafe.md_url(url)})"


def _broken(row: Row) -> bool:
    """Members are sent to the archived copy (failing or dead): none must be said plainly."""
    return row.result.health in (Health.DEAD, Health.FAILING)


def _reading_cell(row: Row) -> str:
    name = _cell(row.reading.title or row.reading.id)
    link = f"[{name}]({textsafe.md_url(row.result.url)})" if row.result.url else name
    week = f"week {row.reading.week}" if row.reading.week else "backlog"
    return f"{link}<br>`{row.reading.id}`, {week}"


def issue_body(
    outcome: Outcome,
    since: Mapping[str, datetime | None] | None = None,
    nights: Mapping[str, str] | None = None,
) -> str:
    """The rolling issue's Markdown; stable from night to night unless a reading changed.
    ``nights``: each reading's recent nights as Unicode blocks, shown under its date."""
    since = since or {}
    nights = nights or {}
    if is_healthy(outcome):
        return "\n".join([
            MARKER,
            "## All readings are healthy",
            "",
            "Every reading answered on the last nightly check. linkkeeper reopens this issue "
            "when one breaks again.",
            "",
        ])  # fmt: skip
    groups = problems(outcome)
    total = ", ".join(f"{len(rows)} {name}" for name, rows in groups.items() if rows)
    lines = [
        MARKER,
        f"## Readings that need attention: {total}",
        "",
        "Kept by `linkkeeper nightly`: updated in place each night, closed when all readings "
        "are healthy. Edits to this text are overwritten; discuss below.",
        "",
    ]
    for (name, advice, _), rows in zip(PROBLEMS, groups.values(), strict=True):
        if not rows:
            continue
        lines += [f"### {name.capitalize()} ({len(rows)})", "", advice, ""]
        lines += [
            "| reading | since | what we saw | archived copy | suggested replacement |",
            "|---|---|---|---|---|",
        ]
        for row in rows:
            when = since.get(row.reading.id)
            suggestion = row.result.suggestion
            strip = nights.get(row.reading.id)
            day = format_day(when) if when else ""
            day += f"<br>`{strip}`" if strip else ""
            lines.append(
                f"| {_reading_cell(row)} | {day} | "
                f"{_cell(row.result.reason)} | {_archive_link(row.archive_url, _broken(row))} | "
                f"{f'<{textsafe.md_url(suggestion)}>' if suggestion else ''} |"
            )
        lines.append("")
    if any(nights.get(row.reading.id) for rows in groups.values() for row in rows):
        lines += [f"<sub>Recent nights: {LEGEND}.</sub>", ""]
    walled = blocked(outcome)
    if walled:
        ids = ", ".join(f"`{row.reading.id}`" for row in walled)
        lines += [
            f"<sub>Not listed: {len(walled)} reading(s) behind a bot wall, which robots cannot "
            f"check ({ids}); open them by hand now and then.</sub>",
            "",
        ]
    return "\n".join(lines)


def closing_comment(day: date) -> str:
    return f"All readings are healthy again on the check of {day.isoformat()}; closing."


# -- the job summary --------------------------------------------------------------------------
def _nonzero(table: Mapping[str, int]) -> list[str]:
    return [f"{n} {name}" for name, n in table.items() if n]


def headline(night: Night) -> str:
    """What the night learned, never more: "all healthy" only when links were looked at."""
    outcome, total = night.outcome, len(night.outcome.rows)
    if outcome.notice:
        return f"{total} readings: nothing learned tonight; no reading's health changed"
    s = outcome.summary()
    state = ", ".join(_nonzero(counts(outcome)))
    if not state:
        seen = s["checked"] + s["fresh"]
        state = "all healthy" if seen else "none checked (no reading has a link to check)"
    if s["not_counted"]:
        state += f"; {s['not_counted']} not checked (network trouble here; not counted)"
    return f"{total} readings: {state}"


def step_summary(night: Night) -> str:
    """Markdown for ``$GITHUB_STEP_SUMMARY``: verdict first, stages, then the check report."""
    broken = [stage.name for stage in night.stages if stage.status == "failed"]
    result = "passes"
    if broken:
        result = f"**fails** ({', '.join(broken)} failed)"
    elif night.outcome.notice:
        result = "is **inconclusive** (exit code 3): " + night.outcome.notice.rstrip(".")
    elif night.fails:
        result = f"**fails** (`--fail-on {night.fail_on}`)"
    lines = [
        f"# linkkeeper nightly, {night.day.isoformat()}",
        "",
        f"{headline(night)}. The night {result}.",
        "",
    ]
    for stage in night.stages:  # a failure's words may be a server's (GitHub, the archive)
        message = textsafe.md_text(stage.message) if stage.status == "failed" else stage.message
        lines.append(f"- **{stage.name}** ({stage.status}): {message}")
    lines += ["", render_markdown(night.outcome)]
    return "\n".join(lines)


def commit_message(night: Night) -> str:
    """One line for the bot's commit of ``snapshots/``: what changed, e.g.
    ``linkkeeper: 2 dead, 1 newly archived``."""
    if night.outcome.notice:  # nothing should be written; if something was, say what not
        return "linkkeeper: nothing learned tonight (network trouble); no health changed\n"
    parts = _nonzero(counts(night.outcome))
    for stage in night.stages:
        parts += _nonzero(stage.counts)
    if not parts:
        s = night.outcome.summary()
        parts = [f"{s['checked']} checked, all healthy" if s["checked"] else "records updated"]
    return "linkkeeper: " + ", ".join(parts) + "\n"


def write_outputs(night: Night, *, summary_file: Path | None, issue_file: Path | None,
                  commit_file: Path | None) -> None:  # fmt: skip
    """Append the job summary (GitHub's file is shared by all steps) and write the rest."""
    from linkkeeper.core import atomic_write_text

    if summary_file is not None:
        with summary_file.open("a", encoding="utf-8") as handle:
            handle.write(step_summary(night) + "\n")
    if issue_file is not None:
        atomic_write_text(issue_file, issue_body(night.outcome, night.since, night.nights))
    if commit_file is not None:
        atomic_write_text(commit_file, commit_message(night))
