"""Reports of a check run: what each reading got, and what the organizer should do about it.

Formats: ``text`` (a rich table on a terminal, plain lines otherwise), ``json`` (stable, see
``check-report.schema.json``), ``markdown`` (for ``$GITHUB_STEP_SUMMARY``) and ``github``
(workflow annotations on the reading's line in ``readings.yaml``). Every format is a pure
function of a :class:`Outcome`, so they are tested without the network.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from linkkeeper.core import CheckResult, Health, Reading, Verdict, textsafe
from linkkeeper.ledger import format_time, json_document

REPORT_VERSION = 1
FORMATS = ("text", "json", "markdown", "github")


class Action(enum.StrEnum):
    """What the organizer should do about a reading; the report groups rows by it."""

    REPLACE = "replace"  # a better URL is known (moved target, archive twin ...)
    USE_ARCHIVE = "use-archive"  # dead: link an archived copy or find a new source
    WAIT = "wait"  # failing, not yet dead: may be an outage; linkkeeper keeps checking
    IGNORE = "ignore"  # cannot be checked automatically (bot wall, refused address)


ACTION_TITLES = {
    Action.REPLACE: "Replace the link",
    Action.USE_ARCHIVE: "Use an archived copy (or find a new source)",
    Action.WAIT: "Wait: failing, not dead yet (re-checked every run)",
    Action.IGNORE: "Ignore: the site does not let robots check it (check by hand)",
}

# verdict -> action while the reading is not dead; a dead reading always needs the archive
# unless a replacement URL is known. ``ok`` and readings without a URL need nothing.
_ACTION_BY_VERDICT: dict[Verdict, Action | None] = {
    Verdict.OK: None,
    Verdict.MOVED: Action.REPLACE,
    Verdict.BROKEN: Action.WAIT,
    Verdict.TRANSIENT: Action.WAIT,
    Verdict.BLOCKED: Action.IGNORE,
    Verdict.SKIPPED: Action.IGNORE,
}


@dataclass
class Row:
    """One reading's line in the report: the result plus what the report needs around it.

    ``archive_url`` and ``changed`` are seams for later stages: the archive command fills the
    ledger's ``captures`` section and the drift check its ``drift`` section; the engine copies
    them here (see ``check.annotate``) and every format already shows them when set."""

    reading: Reading
    result: CheckResult
    fresh: bool = False  # not fetched this run: the last recorded result was young enough
    archive_url: str | None = None
    changed: bool | None = None
    similarity: float | None = None  # drift: 1.0 same text as the baseline .. 0.0 all new
    # False: this run could not judge the link (our network failed, a captive portal
    # answered); nothing was counted against the reading and there is nothing to do about it
    counted: bool = True

    @property
    def action(self) -> Action | None:
        return action_for(self.result) if self.counted else None


def action_for(result: CheckResult) -> Action | None:
    """The organizer's to-do for one result (``None``: nothing to do)."""
    if result.url is None:
        return None  # a task without a link
    if result.suggestion and result.verdict in (Verdict.MOVED, Verdict.BROKEN):
        return Action.REPLACE
    if result.health == Health.DEAD:
        return Action.USE_ARCHIVE
    return _ACTION_BY_VERDICT[Verdict(result.verdict)]


@dataclass
class Outcome:
    """Everything one run produced, in curriculum order."""

    rows: list[Row] = field(default_factory=list)
    offline: bool = False  # the run learned nothing (see ``inconclusive``): nothing recorded
    interrupted: bool = False
    inconclusive: str | None = None  # why the run learned nothing, in a sentence or three

    @property
    def notice(self) -> str | None:
        """The warning every format leads with, when the run learned nothing."""
        return self.inconclusive or (OFFLINE_MESSAGE if self.offline else None)

    @property
    def not_counted(self) -> int:
        return sum(not row.counted for row in self.rows)

    @property
    def results(self) -> list[CheckResult]:
        return [row.result for row in self.rows]

    def summary(self) -> dict[str, Any]:
        """Counts for the report footer and the JSON ``summary`` (every key always present)."""
        verdicts = Counter(str(r.verdict) for r in self.results)
        healths = Counter(str(r.health) for r in self.results if r.health is not None)
        actions = Counter(str(row.action) for row in self.rows if row.action is not None)
        fresh = sum(row.fresh for row in self.rows)
        skipped = verdicts[Verdict.SKIPPED.value]
        return {
            "total": len(self.rows),
            "checked": len(self.rows) - fresh - skipped,
            "fresh": fresh,
            "skipped": skipped,
            "offline": self.offline,
            "inconclusive": self.notice,
            "not_counted": self.not_counted,
            "by_verdict": {v.value: verdicts[v.value] for v in Verdict},
            "by_health": {h.value: healths[h.value] for h in Health},
            "by_action": {a.value: actions[a.value] for a in Action},
        }

    def attention(self) -> dict[Action, list[Row]]:
        """Rows needing something, grouped by action in the order of :class:`Action`."""
        groups: dict[Action, list[Row]] = {action: [] for action in Action}
        for row in self.rows:
            if row.action is not None:
                groups[row.action].append(row)
        return {action: rows for action, rows in groups.items() if rows}


# -- failing the run ------------------------------------------------------------------------
FAIL_ON: dict[str, Callable[[CheckResult], bool]] = {
    "broken": lambda r: r.verdict == Verdict.BROKEN,
    "dead": lambda r: r.health == Health.DEAD,
    "never": lambda r: False,
}


def has_findings(outcome: Outcome, fail_on: str) -> bool:
    """Whether any result is at or above ``--fail-on`` (exit code 1)."""
    return any(FAIL_ON[fail_on](result) for result in outcome.results)


# -- shared wording -------------------------------------------------------------------------
def summary_line(outcome: Outcome) -> str:
    s = outcome.summary()

    def counts(table: dict[str, int]) -> str:
        return ", ".join(f"{n} {name}" for name, n in table.items() if n) or "none"

    if outcome.notice:
        return (
            f"{s['total']} readings: nothing learned, {s['not_counted']} not checked (see the "
            f"warning above); health as before: {counts(s['by_health'])}; nothing recorded"
        )
    uncounted = (
        f", {s['not_counted']} not checked (network trouble here; not counted)"
        if s["not_counted"]
        else ""
    )
    return (
        f"{s['total']} readings: {counts(s['by_verdict'])}; health: {counts(s['by_health'])}; "
        f"{s['checked']} checked, {s['fresh']} fresh, {s['skipped']} skipped{uncounted}"
    )


OFFLINE_MESSAGE = (
    "The network seems down: nothing was learned and no reading's health changed. Nothing "
    "was recorded; run the check again when the network works."
)


def _verdict_label(row: Row) -> str:
    result = row.result
    label = str(result.verdict)
    if result.health is not None and result.health.value not in (label, "alive"):
        label += f" / {result.health}"
    if row.changed:
        label += " (changed)"
    return label


def _advice(row: Row) -> str:
    """The reason, then the suggestion and the archive link when known."""
    parts = [row.result.reason]
    if row.result.suggestion:
        parts.append(f"use {row.result.suggestion}")
    if row.archive_url:
        parts.append(f"archived: {row.archive_url}")
    elif row.result.health in (Health.DEAD, Health.FAILING) and row.result.url:
        parts.append("no good archived copy: find a new source")
    if row.fresh and row.result.checked_at:
        parts.append(f"as of {format_time(row.result.checked_at)}")
    return "; ".join(p for p in parts if p)


# -- text -----------------------------------------------------------------------------------
def render_text(outcome: Outcome) -> str:
    """Plain lines for logs and files: one block per action, then the summary."""
    lines: list[str] = []
    if outcome.notice:
        lines += [f"WARNING: {outcome.notice}", ""]
    for action, rows in outcome.attention().items():
        lines.append(f"{ACTION_TITLES[action]} ({len(rows)}):")
        for row in rows:
            lines.append(f"  {row.reading.id} [{_verdict_label(row)}] {row.result.url}")
            lines.append(f"      {textsafe.plain(_advice(row), None)}")
        lines.append("")
    if not outcome.attention() and not outcome.notice:
        lines.append("All links need nothing.")
    lines.append(summary_line(outcome))
    return "\n".join(lines) + "\n"


def print_rich(outcome: Outcome, console: Any) -> None:
    """The terminal view: one table per action, readable at a glance."""
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    from linkkeeper.curriculum import link_text

    if outcome.notice:
        console.print(f"[bold red]WARNING:[/] {escape(outcome.notice)}")
    for action, rows in outcome.attention().items():
        table = Table(title=ACTION_TITLES[action], title_justify="left", expand=True)
        table.add_column("Reading", ratio=2, overflow="fold")
        table.add_column("Verdict", no_wrap=True)
        table.add_column("What we saw / what to do", ratio=3, overflow="fold")
        for row in rows:
            where = f"week {row.reading.week}" if row.reading.week else "backlog"
            url = row.result.url or ""
            reading = Text.assemble((row.reading.id, "bold"), f" ({where})\n")
            reading.append_text(link_text(url, "dim") if url else Text(""))
            table.add_row(
                reading,
                escape(_verdict_label(row)),
                escape(textsafe.plain(_advice(row), None)),
            )
        console.print(table)
    if not outcome.attention() and not outcome.notice:
        console.print("[green]All links need nothing.[/]")
    console.print(summary_line(outcome))


# -- json -----------------------------------------------------------------------------------
def result_dict(row: Row) -> dict[str, Any]:
    """One entry of ``results``; the keys are a documented, stable interface."""
    result = row.result
    return {
        "id": result.id,
        "title": row.reading.title,
        "week": row.reading.week,
        "line": row.reading.line,
        "url": result.url,
        "final_url": result.final_url,
        "kind": result.kind,
        "verdict": str(result.verdict),
        "health": None if result.health is None else str(result.health),
        "http_status": result.http_status,
        "reason": result.reason,
        "suggestion": result.suggestion,
        "checked_at": format_time(result.checked_at),
        "fresh": row.fresh,
        "action": None if row.action is None else str(row.action),
        "archive_url": row.archive_url,
        "changed": row.changed,
        "similarity": row.similarity,
    }


def render_json(outcome: Outcome) -> str:
    document = {
        "version": REPORT_VERSION,
        "results": [result_dict(row) for row in outcome.rows],
        "summary": outcome.summary(),
    }
    # json.dumps(document, indent=2, ensure_ascii=False) + "\n", at orjson's speed (10,000
    # rows took 0.2 s in json's pure-Python indenting encoder)
    return json_document(document)


# -- markdown -------------------------------------------------------------------------------
def _cell(text: str | None) -> str:
    """Table-cell text: pages, archive answers and errors wrote some of it (see textsafe)."""
    return textsafe.md_text(text or "")


def render_markdown(outcome: Outcome) -> str:
    """A job summary: counts, then one table per action."""
    s = outcome.summary()
    lines = ["## linkkeeper check", ""]
    if outcome.notice:
        lines += [f"> [!WARNING]\n> {_cell(outcome.notice)}", ""]
    lines += [
        "| readings | checked | fresh | skipped | "
        + " | ".join(v.value for v in Verdict)
        + " | dead |",
        "|" + "---:|" * (5 + len(Verdict)),
        f"| {s['total']} | {s['checked']} | {s['fresh']} | {s['skipped']} | "
        + " | ".join(str(s["by_verdict"][v.value]) for v in Verdict)
        + f" | {s['by_health']['dead']} |",
        "",
    ]
    for action, rows in outcome.attention().items():
        lines += [f"### {ACTION_TITLES[action]} ({len(rows)})", ""]
        lines += ["| reading | verdict | what we saw / what to do |", "|---|---|---|"]
        for row in rows:
            name = _cell(row.reading.title or row.reading.id)
            link = f"[{name}]({textsafe.md_url(row.result.url)})" if row.result.url else name
            lines.append(
                f"| {link}<br>`{row.reading.id}` | {_cell(_verdict_label(row))} | "
                f"{_cell(_advice(row))} |"
            )
        lines.append("")
    if not outcome.attention() and not outcome.notice:
        lines += ["All links need nothing.", ""]
    return "\n".join(lines)


# -- github annotations ---------------------------------------------------------------------
# level by verdict; a dead reading is always an error
_LEVEL_BY_VERDICT = {
    Verdict.BROKEN: "error",
    Verdict.MOVED: "warning",
    Verdict.TRANSIENT: "warning",
    Verdict.BLOCKED: "notice",
    Verdict.SKIPPED: "notice",
}


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(outcome: Outcome, readings_file: str = "readings.yaml") -> str:
    """``::error file=readings.yaml,line=N,title=...::message`` per reading needing attention."""
    lines = []
    if outcome.notice:
        title = _escape_property("linkkeeper: nothing learned")
        lines.append(f"::warning title={title}::{_escape_data(outcome.notice)}")
    for rows in outcome.attention().values():
        for row in rows:
            result = row.result
            level = "error" if result.health == Health.DEAD else _LEVEL_BY_VERDICT[result.verdict]
            props = [f"file={_escape_property(readings_file)}"]
            if row.reading.line:
                props.append(f"line={row.reading.line}")
            assert row.action is not None
            props.append(f"title={_escape_property(f'{row.reading.id}: {row.action}')}")
            message = textsafe.plain_lines(f"{_verdict_label(row)}: {result.url}: {_advice(row)}")
            lines.append(f"::{level} {','.join(props)}::{_escape_data(message)}")
    lines.append(summary_line(outcome))
    return "\n".join(lines) + "\n"


def render(outcome: Outcome, fmt: str, *, readings_file: str = "readings.yaml") -> str:
    """The report as text in one of :data:`FORMATS` (``text`` is the plain-lines form)."""
    renderers: dict[str, Callable[[Outcome], str]] = {
        "text": render_text,
        "json": render_json,
        "markdown": render_markdown,
        "github": lambda o: render_github(o, readings_file),
    }
    return renderers[fmt](outcome)
