"""Health you can see: a reading's recent nights as a row of small squares, one per night.

The ledger records what carries information (every failure, every change of verdict), not a
line per quiet night, so a night with no entry had the verdict of the entry before it: the
row is rebuilt from the check history, each night marked as seen (a check was recorded) or
carried (nothing changed). A night with several checks shows the worst. The same row is drawn
three ways: inline SVG on the published page (shapes as well as colours, a date on hover via
``<title>``, no script), Unicode blocks in ``linkkeeper show`` and in the rolling issue.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, timedelta

from markupsafe import Markup, escape

from linkkeeper.core import Verdict

LIMIT = 60  # nights shown at most
PITCH, SIZE = 12, 10  # SVG units per night, side of a square
# worst first: a night with a failure and a success shows the failure
SEVERITY = {
    Verdict.BROKEN: 5,
    Verdict.TRANSIENT: 4,
    Verdict.BLOCKED: 3,
    Verdict.MOVED: 2,
    Verdict.OK: 1,
    Verdict.SKIPPED: 0,
}
# Unicode blocks, told apart by shape as well as by colour: full = ok, half = a temporary
# failure, a sliver = gone, shades = moved / bot wall, a dot = not checked.
BLOCKS = {
    Verdict.OK: "█",
    Verdict.MOVED: "▓",
    Verdict.BLOCKED: "▒",
    Verdict.TRANSIENT: "▄",
    Verdict.BROKEN: "▁",
    Verdict.SKIPPED: "·",
}
COLORS = {
    Verdict.OK: "green",
    Verdict.MOVED: "cyan",
    Verdict.BLOCKED: "magenta",
    Verdict.TRANSIENT: "yellow",
    Verdict.BROKEN: "red",
    Verdict.SKIPPED: "bright_black",
}
WORDS = {
    Verdict.OK: "ok",
    Verdict.MOVED: "moved",
    Verdict.BLOCKED: "blocked (bot wall)",
    Verdict.TRANSIENT: "failed (temporary)",
    Verdict.BROKEN: "broken",
    Verdict.SKIPPED: "not checked",
}
LEGEND = "█ ok  ▓ moved  ▒ blocked  ▄ failed (temporary)  ▁ broken  · not checked; oldest first"


@dataclass(frozen=True)
class NightMark:
    """One night of one reading."""

    day: date
    verdict: Verdict
    reason: str = ""
    carried: bool = False  # no check recorded that night: the previous verdict still held

    @property
    def label(self) -> str:
        text = f"{self.day.day} {self.day:%b %Y}: {WORDS[self.verdict]}"
        if self.carried:
            return text + " (unchanged)"
        return f"{text} ({self.reason})" if self.reason and self.verdict != Verdict.OK else text


def recent_nights(
    checks: Iterable[object], end: date | None = None, limit: int = LIMIT
) -> list[NightMark]:
    """The nights from the first recorded check (at most ``limit`` back) to ``end`` (default:
    the last recorded check), oldest first. ``checks`` are ledger ``Check`` entries."""
    worst: dict[date, object] = {}
    for check in checks:
        at, verdict = getattr(check, "at", None), getattr(check, "verdict", None)
        if at is None or verdict not in SEVERITY:
            continue
        day = at.astimezone(UTC).date()
        held = worst.get(day)
        if held is None or SEVERITY[verdict] >= SEVERITY[held.verdict]:  # type: ignore[attr-defined]
            worst[day] = check
    if not worst:
        return []
    first, last = min(worst), max(worst)
    end = max(end or last, last)
    start = max(first, end - timedelta(days=limit - 1))
    before = [d for d in worst if d < start]
    current = worst[max(before)] if before else None
    marks: list[NightMark] = []
    day = start
    while day <= end:
        if day in worst:
            current = worst[day]
            carried = False
        else:
            carried = True
        if current is not None:
            verdict = current.verdict  # type: ignore[attr-defined]
            reason = str(getattr(current, "reason", "") or "")
            marks.append(NightMark(day, verdict, reason, carried))
        day += timedelta(days=1)
    return marks


def summary(marks: list[NightMark]) -> str:
    """``14 nights: 11 ok, 3 broken`` (counts in a fixed order)."""
    if not marks:
        return "no nights recorded yet"
    counts = {v: sum(m.verdict == v for m in marks) for v in BLOCKS}
    parts = [f"{n} {WORDS[v]}" for v, n in counts.items() if n]
    noun = "night" if len(marks) == 1 else "nights"
    return f"{len(marks)} {noun}: {', '.join(parts)}"


def blocks(marks: list[NightMark], color: bool = False) -> str:
    """The row as Unicode blocks (coloured with ANSI codes when ``color``)."""
    if not color:
        return "".join(BLOCKS[m.verdict] for m in marks)
    import click

    return "".join(click.style(BLOCKS[m.verdict], fg=COLORS[m.verdict]) for m in marks)


def _cell(x: int, verdict: Verdict) -> str:
    """One night's shape: filled for ok and moved (moved with a notch), outlined with a half
    fill for a temporary failure, outlined with a cross for broken, with a slash for a bot
    wall, a small dot when not checked. Shapes keep the row readable without colour."""
    y, s, i = 1, SIZE, 0.75  # i: half the outline's width, so outlines stay inside the square
    box = f'<rect x="{x + i}" y="{y + i}" width="{s - 2 * i}" height="{s - 2 * i}"/>'
    full = f'<rect x="{x}" y="{y}" width="{s}" height="{s}"/>'
    if verdict == Verdict.OK:
        return full
    if verdict == Verdict.MOVED:
        return full + f'<path class="cut" d="M{x + 3} {y + 2.5}l5 2.5-5 2.5z"/>'
    if verdict == Verdict.TRANSIENT:
        return box + f'<rect x="{x}" y="{y + s / 2}" width="{s}" height="{s / 2}"/>'
    if verdict == Verdict.BROKEN:
        return box + f'<path d="M{x + 2} {y + 2}l{s - 4} {s - 4}m0-{s - 4}l-{s - 4} {s - 4}"/>'
    if verdict == Verdict.BLOCKED:
        return box + f'<path d="M{x + 1.5} {y + s - 1.5}l{s - 3}-{s - 3}"/>'
    return f'<circle cx="{x + s / 2}" cy="{y + s / 2}" r="1.75"/>'


def svg(marks: list[NightMark], label_id: str) -> Markup:
    """Inline SVG: one square per night with its date on hover; the whole row is an image
    whose accessible name is the summary."""
    if not marks:
        return Markup("")
    width = len(marks) * PITCH
    first, last = marks[0].day, marks[-1].day
    name = (
        f"Recent nights, {first.day} {first:%b %Y} to {last.day} {last:%b %Y}, oldest "
        f"first. {summary(marks)}"
    )
    cells = "".join(
        f'<g class="n-{m.verdict.value}"><title>{escape(m.label)}</title>'
        f"{_cell(i * PITCH, m.verdict)}</g>"
        for i, m in enumerate(marks)
    )
    return Markup(
        f'<svg class="strip" role="img" aria-labelledby="{escape(label_id)}" '
        f'viewBox="0 0 {width} {PITCH}" width="{width}" height="{PITCH}">'
        f'<title id="{escape(label_id)}">{escape(name)}</title>{cells}</svg>'
    )


def legend() -> Markup:
    """The six shapes with their words, for the page's "What the labels mean"."""
    items = []
    for verdict in BLOCKS:
        shape = (
            f'<svg class="strip" aria-hidden="true" viewBox="0 0 {PITCH} {PITCH}" '
            f'width="{PITCH}" height="{PITCH}"><g class="n-{verdict.value}">'
            f"{_cell(0, verdict)}</g></svg>"
        )
        items.append(f'<span class="key">{shape} {escape(WORDS[verdict])}</span>')
    return Markup(" ".join(items))
