"""The best working link for a reading: the one rule behind ``publish``, ``week`` and ``open``.

A member clicks one link. It must lead somewhere that works, so the choice is made here once:
the original while it is healthy, the archived copy once it is failing or dead. Blocked sites
(bot walls) keep the original, because a person's browser usually gets through where our
checker could not; the archived copy is offered beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from linkkeeper.core import Health, Reading, Verdict
from linkkeeper.ledger.health import UNKNOWN, HealthState, to_timestamp
from linkkeeper.ledger.record import Record

# Which states lead with the original (True) or with the archived copy (False).
ORIGINAL_FIRST: dict[Health, bool] = {
    Health.ALIVE: True,
    Health.UNKNOWN: True,  # never checked, or never failed: nothing says it is broken
    Health.BLOCKED: True,  # the site blocks robots; people usually get through
    Health.FAILING: False,
    Health.DEAD: False,
}
FAILED = frozenset({Verdict.BROKEN, Verdict.TRANSIENT, Verdict.BLOCKED})
SAFE_SCHEMES = frozenset({"http", "https"})
NO_GOOD_COPY = "no good archived copy: find a new source"
# a capture's verdict in the record (``captures.verdicts``; :mod:`linkkeeper.archive.capture_check`)
GOOD, BAD, UNREADABLE = "good", "bad", "unreadable"


@dataclass(frozen=True)
class Capture:
    """One Wayback capture from the record's ``captures`` section."""

    timestamp: str  # 14 digits, UTC
    url: str
    original: str | None = None

    @property
    def day(self) -> date | None:
        try:
            return datetime.strptime(self.timestamp[:8], "%Y%m%d").date()
        except ValueError:
            return None

    @classmethod
    def parse(cls, raw: Any) -> Capture | None:
        """Tolerant: a hand-edited or half-written entry is ignored, never a crash."""
        if not isinstance(raw, dict):
            return None
        url, timestamp = raw.get("url"), raw.get("timestamp")
        if not isinstance(url, str) or not is_safe_url(url):
            return None
        original = raw.get("original")
        return cls(str(timestamp or ""), url, original if isinstance(original, str) else None)


@dataclass(frozen=True)
class LinkChoice:
    """What to link for one reading, and why; every view renders from this."""

    reading_id: str
    original: str | None  # the curriculum URL (None: a task without a link)
    state: Health
    health: HealthState
    capture: Capture | None  # the copy to offer: as assigned, else the latest
    capture_kind: str | None  # "assigned" | "before-break" | "latest"
    best: str | None  # the link to follow first
    archive_first: bool  # best is the capture
    last_reason: str | None = None  # reason of the latest failed check
    moved_to: str | None = None  # a permanent redirect's target, when the last check saw one
    # A gone reading's page elsewhere that the last check found live: a Towards Data Science
    # post at its TDS Archive address, a missing arXiv PDF's abstract page.
    live_elsewhere: str | None = None
    excluded: str | None = None  # why the archive stage will not capture it
    stale: bool = False  # the ledger record is for another URL (curriculum edited since)
    rejected: tuple[tuple[str, str], ...] = ()  # (timestamp, why) of captures not offered

    @property
    def capture_label(self) -> str | None:
        labels = {
            "assigned": "as assigned",
            "before-break": "last good copy before it broke",
            "latest": "latest capture",
        }
        return labels.get(self.capture_kind or "")

    @property
    def original_broken(self) -> bool:
        return self.original is not None and not ORIGINAL_FIRST[self.state]

    @property
    def warning(self) -> str | None:
        """Set when the original is not healthy and there is no archived copy to offer."""
        if self.original_broken and self.capture is None:
            return f"the original is {self.state.value} and {NO_GOOD_COPY}"
        return None

    @property
    def robust(self) -> dict[str, str]:
        """Robust Links attributes (``data-originalurl`` ...) when a capture exists."""
        if self.capture is None or self.original is None:
            return {}
        attrs = {"data-originalurl": self.original, "data-versionurl": self.capture.url}
        if self.capture.day:
            attrs["data-versiondate"] = self.capture.day.isoformat()
        return attrs


def failure_mark(record: Record | None) -> datetime | None:
    """When the current run of failures began (``None``: the last check was no failure)."""
    if record is None:
        return None
    health = record.health
    return health.first_failure if health.failures and health.first_failure else None


def mark_timestamp(mark: datetime | None) -> str | None:
    return to_timestamp(mark) if mark is not None else None


def is_good(entry: Any) -> bool:
    return isinstance(entry, dict) and entry.get("verdict") == GOOD


def rejected(section: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(timestamp, reason) of every capture judged not good, oldest first."""
    verdicts = section.get("verdicts") if isinstance(section, dict) else None
    if not isinstance(verdicts, dict):
        return []
    return [
        (str(ts), str(v.get("reason") or v.get("verdict")))
        for ts, v in sorted(verdicts.items())
        if isinstance(v, dict) and v.get("verdict") != GOOD
    ]


def is_safe_url(url: str) -> bool:
    """Only http(s) URLs go into an href (a hand-edited ledger must not inject ``javascript:``)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in SAFE_SCHEMES and bool(parts.netloc)


def pick_capture(record: Record | None) -> tuple[Capture | None, str | None, str | None]:
    """(capture, kind, excluded reason) from the record's ``captures``: the good capture to
    offer (:mod:`linkkeeper.archive.capture_check`), in this order: the one from the week the
    reading
    was assigned (``"assigned"``), else the newest good one taken before the current run of
    failures began (``"before-break"``; ``"latest"`` while nothing fails). A capture not yet
    judged good, or made after the break, is never offered."""
    section = record.data.get("captures") if record else None
    if not isinstance(section, dict):
        return None, None, None
    if section.get("url") not in (None, record.url if record else None):
        return None, None, None  # found for an earlier URL of the reading
    excluded = section.get("excluded")
    excluded = str(excluded) if excluded else None
    verdicts = section.get("verdicts")
    verdicts = verdicts if isinstance(verdicts, dict) else {}
    mark = mark_timestamp(failure_mark(record))

    def usable(capture: Capture | None) -> bool:
        return (
            capture is not None
            and is_good(verdicts.get(capture.timestamp))
            and (mark is None or capture.timestamp < mark)
        )

    assigned = Capture.parse(section.get("assigned"))
    if assigned is not None and usable(assigned):
        return assigned, "assigned", excluded
    good = [Capture.parse(v | {"timestamp": ts}) for ts, v in verdicts.items() if is_good(v)]
    offered = [c for c in good if c is not None and usable(c)]
    if not offered:
        return None, None, excluded
    kind = "before-break" if mark else "latest"
    return max(offered, key=lambda c: c.timestamp), kind, excluded


def rejected_captures(record: Record | None) -> tuple[tuple[str, str], ...]:
    """(timestamp, why) of the captures judged not good for this reading, oldest first."""
    section = record.data.get("captures") if record else None
    if not isinstance(section, dict) or section.get("url") not in (
        None,
        record.url if record else None,
    ):
        return ()
    return tuple(rejected(section))


def choose(reading: Reading, record: Record | None) -> LinkChoice:
    """The best working link for ``reading`` given its ledger record (``None``: never seen)."""
    stale = record is not None and record.url != reading.url
    if stale:
        record = None  # health and captures belong to the old URL
    health = record.health if record else UNKNOWN
    state = health.state
    if state == Health.UNKNOWN and health.failures:
        state = Health.FAILING  # "unknown but has failed" is not trusted
    capture, kind, excluded = pick_capture(record)
    if reading.url is None:
        capture, kind = None, None
    checks = [c for c in record.current_checks if c.verdict != Verdict.SKIPPED] if record else []
    last_failed = next((c for c in reversed(checks) if c.verdict in FAILED), None)
    latest = checks[-1] if checks else None
    suggestion = latest.suggestion if latest and latest.suggestion else None
    suggestion = suggestion if suggestion and is_safe_url(suggestion) else None
    verdict = latest.verdict if latest else None
    archive_first = capture is not None and not ORIGINAL_FIRST[state]
    return LinkChoice(
        reading_id=reading.id,
        original=reading.url,
        state=state,
        health=health,
        capture=capture,
        capture_kind=kind,
        best=capture.url if archive_first and capture else reading.url,
        archive_first=archive_first,
        last_reason=last_failed.reason if last_failed and state != Health.ALIVE else None,
        moved_to=suggestion if verdict == Verdict.MOVED else None,
        live_elsewhere=suggestion if verdict == Verdict.BROKEN else None,
        excluded=excluded,
        stale=stale,
        rejected=rejected_captures(record) if reading.url else (),
    )


# -- `linkkeeper open` ------------------------------------------------------------------------
class UnknownReading(LookupError):
    """The id is not in the curriculum; the message suggests close ones."""


def find_reading(readings: list[Reading], reading_id: str) -> Reading:
    """The reading with this id, else :class:`UnknownReading` with a did-you-mean."""
    by_id = {r.id: r for r in readings}
    if reading_id in by_id:
        return by_id[reading_id]
    import difflib

    close = difflib.get_close_matches(reading_id, list(by_id), n=3, cutoff=0.5)
    words = reading_id.lower().replace("-", " ")
    for r in readings:  # "attention" finds arxiv-1706-03762 by its title
        haystack = f"{r.id} {r.title or ''}".lower().replace("-", " ")
        if len(close) < 3 and words in haystack and r.id not in close:
            close.append(r.id)
    hint = f"did you mean {' or '.join(close)}?" if close else "see `linkkeeper list` for ids"
    raise UnknownReading(f"no reading with id {reading_id!r} in the curriculum; {hint}")


def explain(choice: LinkChoice) -> str | None:
    """One line for stderr when the printed link is not simply the healthy original."""
    label = choice.capture_label
    day = choice.capture.day.isoformat() if choice.capture and choice.capture.day else "?"
    why = choice.health.summary.removeprefix(f"{choice.state.value}: ")
    rejected = ""
    if choice.rejected and (choice.archive_first or choice.warning):
        ts, reason = choice.rejected[-1]
        more = f" and {len(choice.rejected) - 1} more" if len(choice.rejected) > 1 else ""
        rejected = f"; not offered: the capture of {ts[:4]}-{ts[4:6]}-{ts[6:8]}{more} ({reason})"
    if choice.archive_first:
        elsewhere = f"; live elsewhere: {choice.live_elsewhere}" if choice.live_elsewhere else ""
        return (
            f"note: the original is {choice.state.value} ({why}); this is the archived copy "
            f"({label}, {day}). Original: {choice.original}{elsewhere}{rejected}"
        )
    if choice.warning:
        return f"warning: {choice.warning} ({why}); printing the original anyway{rejected}"
    if choice.state == Health.BLOCKED and choice.capture:
        return (
            f"note: the site blocks automated checks, so it may or may not be up; "
            f"archived copy ({label}, {day}): {choice.capture.url}"
        )
    if choice.stale:
        return (
            "note: the ledger has no checks of this URL yet (it was edited); run linkkeeper check"
        )
    return None


def annotate_row(record: Record, row: Any) -> None:
    """Put the reading's best archived copy on its report row (a check ``ROW_ANNOTATORS``
    entry), so every report can offer the archive beside a link that is not ok."""
    if row.reading.url is None or record.url != row.reading.url:
        return  # as choose(): no link, or the record's captures belong to an old URL
    capture, _, _ = pick_capture(record)  # choose() without the rest it works out
    if capture is not None:
        row.archive_url = capture.url
