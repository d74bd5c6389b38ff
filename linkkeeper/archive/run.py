"""The archive stage: every reading archived in the Wayback Machine, or the reason why not.

One run over the selected readings, holding the ledger lock from start to end:

1. find the captures that exist (CDX; the availability API only as a hint) and record the one
   from the week the reading was assigned and the latest (the ``captures`` section); the
   assigned one's text becomes the drift baseline, read once
   (:mod:`linkkeeper.archive.capture_baseline`);
2. poll the jobs an earlier run left running (``submitted``) instead of submitting again;
3. submit what still needs a capture: never more at once than the account's free slots
   (``/save/status/user``), paced by one :class:`~linkkeeper.archive.wayback.Pacer`, stopping at the
   daily quota; whatever was not submitted stays ``queued`` for the next run.

Each result is saved the moment it arrives, so a crash loses nothing and repeats nothing.
Without keys only step 1 runs and readings that need a capture wait for keys (the legacy
``GET /save/<url>`` endpoint is never used: it is unreliable and unpaced).
"""

from __future__ import annotations

import asyncio
import copy
import enum
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from linkkeeper.archive.iakeys import KEYS_HELP, KEYS_PAGE
from linkkeeper.archive.wayback import (
    Capture,
    CaptureSet,
    NeedKeys,
    Outcome,
    Pacer,
    SaveResult,
    WaybackClient,
    WaybackError,
    WaybackUnreachable,
    to_timestamp,
)
from linkkeeper.core import Reading
from linkkeeper.ledger import (
    Ledger,
    Record,
    format_time,
    parse_time,
    pick_capture,
    rejected_captures,
)

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FINDINGS, EXIT_INTERRUPTED = 0, 1, 130  # 2 is ArchiveUsageError (cli.fail)
EXIT_INCONCLUSIVE = 3  # no capture lookup succeeded: the archive could not be reached
NO_URL = "no URL"


class State(enum.StrEnum):
    """``archive.state``: where a reading stands with the Wayback Machine."""

    QUEUED = "queued"  # needs a capture; not submitted yet (or retry after a hiccup)
    SUBMITTED = "submitted"  # a job is running; the next run polls it (job_id)
    CAPTURED = "captured"  # linkkeeper made a capture (captures.ours)
    RECENT = "recent"  # the archive has a capture within the window: none needed
    REFUSED = "refused"  # the archive cannot capture this URL (reason, status_ext)
    EXCLUDED = "excluded"  # the site is blocked from the Wayback Machine
    WAITING_KEYS = "waiting-keys"  # needs a capture, but there are no (valid) keys
    BROKEN = "broken"  # the last check found the page gone: a capture would keep the breakage


SUMMARY_ORDER = [  # (state, label) in the order the summary reports them
    (State.CAPTURED, "captured"),
    (State.RECENT, "already archived"),
    (State.SUBMITTED, "still running"),
    (State.QUEUED, "queued"),
    (State.WAITING_KEYS, "waiting for keys"),
    (State.BROKEN, "not captured (page broken)"),
    (State.REFUSED, "refused"),
    (State.EXCLUDED, "excluded"),
]
COLORS = {
    State.CAPTURED: "green",
    State.RECENT: "green",
    State.SUBMITTED: "cyan",
    State.QUEUED: "yellow",
    State.WAITING_KEYS: "yellow",
    State.BROKEN: "yellow",
    State.REFUSED: "red",
    State.EXCLUDED: "red",
}


class ArchiveUsageError(Exception):
    """Bad input (ids, remap rules, keys config, a locked or corrupt ledger): exit 2."""


@dataclass(frozen=True)
class ArchiveSettings:
    """The stage's timing rules; the protocol's own numbers live in ``WaybackSettings``."""

    window: timedelta = timedelta(days=30)  # if_not_archived_within: no new capture inside it
    retry_after: timedelta = timedelta(hours=1)  # a transient refusal is retried after this
    job_ttl: timedelta = timedelta(hours=1)  # SPN2 forgets jobs after about an hour


# -- record sections ---------------------------------------------------------------------------
def capture_dict(capture: Capture | None, job_id: str | None = None) -> dict[str, Any] | None:
    """A capture as stored in ``captures`` (``job_id`` only for ``ours``)."""
    if capture is None:
        return None
    entry: dict[str, Any] = {
        "timestamp": capture.timestamp,
        "url": capture.url,
        "original": capture.original,
    }
    return entry | ({"job_id": job_id} if job_id else {})


def _ts(entry: Any) -> str:
    return str(entry.get("timestamp") or "") if isinstance(entry, dict) else ""


def _newer(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any] | None:
    return max((x for x in (a, b) if x), key=_ts, default=None)


def _at(timestamp: str) -> datetime | None:
    try:
        return datetime.strptime(timestamp.ljust(14, "0")[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def captures_of(record: Record) -> dict[str, Any]:
    """The ``captures`` section with its full shape."""
    section = record.section("captures")
    for key, default in (
        ("assigned", None),
        ("latest", None),
        ("ours", []),
        ("checked_at", None),
        ("excluded", None),
    ):
        section.setdefault(key, default)
    if not isinstance(section["ours"], list):
        section["ours"] = []
    return section


def archive_of(record: Record) -> dict[str, Any]:
    """The ``archive`` section with its full shape."""
    section = record.section("archive")
    for key, default in (
        ("state", None),
        ("job_id", None),
        ("submitted_at", None),
        ("attempts", 0),
        ("reason", ""),
        ("status_ext", None),
        ("next_try_after", None),
    ):
        section.setdefault(key, default)
    return section


def newest_capture(record: Record) -> datetime | None:
    """When the newest known capture (anybody's) was made; a capture judged bad (of the
    breakage) does not count, so a page that comes back is captured again."""
    from linkkeeper.archive.capture_check import BAD

    section = captures_of(record)
    verdicts = section.get("verdicts") if isinstance(section.get("verdicts"), dict) else {}
    stamps = [_ts(section["latest"]), *(_ts(c) for c in section["ours"])]
    stamps = [ts for ts in stamps if ts and (verdicts.get(ts) or {}).get("verdict") != BAD]
    return max(filter(None, map(_at, stamps)), default=None)


def _held_back(record: Record) -> bool:
    """Whether the last check found the page gone (broken) or not answering (transient)."""
    from linkkeeper.core import Verdict

    check = last_check(record)
    return check is not None and check.verdict in (Verdict.BROKEN, Verdict.TRANSIENT)


def last_check(record: Record) -> Any:
    """The latest check of the record's current URL that was not skipped, or ``None``."""
    from linkkeeper.core import Verdict

    checks = [c for c in record.current_checks if c.verdict != Verdict.SKIPPED]
    return checks[-1] if checks else None


# -- one run --------------------------------------------------------------------------------------
@dataclass
class Entry:
    """One selected reading at the end of the run (what the report shows)."""

    reading: Reading
    record: Record | None  # None: no URL
    action: str = "none"  # what this run did: looked-up, submitted, polled, would-submit ...
    lookup_error: str | None = None  # why finding its captures failed this run
    unreachable: bool = False  # ... because the archive gave no answer at all

    @property
    def state(self) -> State | None:
        if self.record is None:
            return None
        try:
            return State(archive_of(self.record)["state"])
        except ValueError:
            return None

    def to_dict(self) -> dict[str, Any]:
        base = {"id": self.reading.id, "title": self.reading.title, "url": self.reading.url}
        base |= {"week": self.reading.week, "action": self.action}
        if self.lookup_error:
            base["lookup_error"] = self.lookup_error
        if self.record is None:
            return base | {"state": None, "reason": NO_URL, "capture": None}
        arch, caps = archive_of(self.record), captures_of(self.record)
        capture, kind, _ = pick_capture(self.record)
        best = (
            {"kind": kind, "url": capture.url, "timestamp": capture.timestamp} if capture else None
        )
        return base | {
            "state": arch["state"],
            "reason": arch["reason"],
            "status_ext": arch["status_ext"],
            "job_id": arch["job_id"],
            "next_try_after": arch["next_try_after"],
            "attempts": arch["attempts"],
            "capture": best,
            "rejected": [
                {"timestamp": ts, "reason": why} for ts, why in rejected_captures(self.record)
            ],
            "assigned": caps["assigned"],
            "latest": caps["latest"],
            "excluded": caps["excluded"],
        }


@dataclass
class ArchiveOutcome:
    """Everything a run did, in curriculum order."""

    entries: list[Entry]
    keys: bool
    keys_note: str | None = None  # why new captures cannot be made, when they cannot
    stopped: str | None = None  # why submitting stopped early (quota, busy slots)
    dry_run: bool = False
    unreachable: str | None = None  # every lookup failed: nothing was learned or recorded
    looked_up: int = 0  # readings whose capture lookup answered this run

    def count(self, state: State) -> int:
        return sum(e.state == state for e in self.entries)

    @property
    def without_capture(self) -> list[Entry]:
        """Readings with a URL and no archived copy at all: the findings (exit 1)."""
        return [e for e in self.entries if e.record and pick_capture(e.record)[0] is None]

    def summary(self) -> dict[str, int]:
        counts = {state.value.replace("-", "_"): self.count(state) for state in State}
        return counts | {
            "total": len(self.entries),
            "no_url": sum(e.record is None for e in self.entries),
            "without_capture": len(self.without_capture),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "keys": self.keys,
            "keys_note": self.keys_note,
            "stopped": self.stopped,
            "unreachable": self.unreachable,
            "summary": self.summary(),
            "readings": [e.to_dict() for e in self.entries],
        }


@dataclass
class _Job:
    """One URL to submit or poll, for every selected reading that links to it."""

    url: str
    entries: list[Entry]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class ArchiveRun:
    """One pass over the selected readings; see the module docstring for the steps.

    ``forced`` ids (named on the command line) are retried even when refused or told to wait.
    ``dry_run`` looks captures up but submits, polls and writes nothing."""

    ledger: Ledger
    wayback: WaybackClient
    settings: ArchiveSettings = field(default_factory=ArchiveSettings)
    pacer: Pacer = field(default_factory=Pacer)
    clock: Callable[[], datetime] = _utcnow
    dry_run: bool = False
    refresh: bool = False
    forced: frozenset[str] = frozenset()
    keys_note: str | None = None  # set when there are no keys (or they were refused)
    on_step: Callable[[str, int], None] | None = None  # (phase, total) when a phase starts
    on_done: Callable[[], None] | None = None  # one reading finished a phase
    stopped: str | None = None
    _budget: float = field(default=float("inf"), init=False)  # captures left today
    _texts: dict[tuple[str, str], Any] = field(default_factory=dict, init=False)  # captures read
    _verified: dict[tuple[str, str], Any] = field(default_factory=dict, init=False)  # judged

    # -- the steps ----------------------------------------------------------------------------
    async def run(self, selected: Sequence[Reading]) -> ArchiveOutcome:
        if self.wayback.keys is None and self.keys_note is None:
            self.keys_note = f"no Internet Archive keys. {KEYS_HELP}"
        damaged = self.ledger.scan(r.id for r in selected)  # left out, reported at the end
        entries = [self._entry(r) for r in selected if r.id not in damaged]
        linked = [e for e in entries if e.record is not None]
        self._phase("Finding captures", len(linked))
        failed: list[Entry] = []
        for entry in linked:
            if self._needs_lookup(entry):
                await self._look_up(entry, failed)
            self._done()
        looked_up = sum(e.action == "looked-up" for e in linked)
        if failed and not looked_up and all(e.unreachable for e in failed):
            # Not one lookup answered: the archive (or our network) is down tonight. Nothing
            # was learned, so nothing is written, nothing is called "needs a new capture" and
            # nothing is submitted to an archive that does not answer.
            for entry in failed:
                entry.action = "lookup-failed"
            return ArchiveOutcome(
                entries,
                keys=self.wayback.keys is not None and self.keys_note is None,
                keys_note=None,
                dry_run=self.dry_run,
                unreachable=_unreachable_message(failed),
            )
        for entry in failed:
            self._save(entry)
        await self._verify_all(linked)
        running = self._jobs(e for e in linked if e.state == State.SUBMITTED)
        self._phase("Polling running captures", sum(len(j.entries) for j in running))
        await asyncio.gather(*(self._resume(job) for job in running))
        for entry in linked:
            self._gate(entry) or self._settle(entry)
        due = self._jobs(e for e in linked if self._due(e))
        self._phase("Capturing", sum(len(j.entries) for j in due))
        await self._submit_all(due)
        fresh = [e for e in linked if e.action in ("submitted", "polled")]
        await self._verify_all(fresh, "Verifying new captures")  # a member may need it tonight
        return ArchiveOutcome(
            entries,
            keys=self.wayback.keys is not None and self.keys_note is None,
            keys_note=self.keys_note,
            stopped=self.stopped or self.pacer.stopped,
            dry_run=self.dry_run,
            looked_up=looked_up,
        )

    def _entry(self, reading: Reading) -> Entry:
        if reading.url is None:
            return Entry(reading, None, action="skipped")
        record = self.ledger.record_for(reading)
        captures = record.data.get("captures")
        if isinstance(captures, dict) and captures.get("url") not in (None, reading.url):
            record.data.pop("captures")  # the curriculum's URL changed: start over
            record.data.pop("archive", None)
        captures_of(record)["url"] = reading.url
        archive_of(record)
        return Entry(reading, record)

    def _needs_lookup(self, entry: Entry) -> bool:
        assert entry.record is not None
        checked = parse_time(captures_of(entry.record)["checked_at"])
        seen = self.ledger.freshness.looked_up(entry.reading.id, entry.reading.url)
        if seen is not None and (checked is None or seen > checked):
            checked = seen  # looked up since, found nothing new (see _look_up)
        if self.refresh or checked is None or self.clock() - checked >= self.settings.window:
            return True
        return self._due(entry) or entry.state == State.SUBMITTED

    async def _look_up(self, entry: Entry, failed: list[Entry]) -> None:
        """Record the captures that exist; a failed lookup keeps what was known (and is
        saved by the caller, once it knows some lookup worked)."""
        assert entry.record is not None and entry.reading.url is not None
        url, section = entry.reading.url, captures_of(entry.record)
        try:
            found = await self.wayback.find_captures(url, entry.reading.assigned)
        except WaybackError as exc:
            log.info("capture lookup for %s failed: %s", url, exc)
            hint = await self.wayback.availability(url)  # only a hint, never proof of absence
            section["latest"] = _newer(section["latest"], capture_dict(hint))
            entry.action, entry.lookup_error = "lookup-failed", str(exc)
            entry.unreachable = isinstance(exc, WaybackUnreachable)
            failed.append(entry)
            return
        before = copy.deepcopy({k: v for k, v in section.items() if k != "checked_at"})
        self._merge(entry.record, found)
        now = self.clock()
        # Only news moves the record's date: a lookup that found what was known is noted in
        # the machine-local cache, so a quiet night leaves the record byte for byte.
        after = {k: v for k, v in captures_of(entry.record).items() if k != "checked_at"}
        if after != before or section["checked_at"] is None:
            captures_of(entry.record)["checked_at"] = format_time(now)
        if not self.dry_run:
            self.ledger.freshness.note_lookup(entry.reading.id, entry.reading.url, now)
        if found.excluded:
            self._set(entry, State.EXCLUDED, found.excluded)
        elif entry.state == State.EXCLUDED:  # no longer blocked
            self._set(entry, State.QUEUED, "no longer excluded from the Wayback Machine")
        entry.action = "looked-up"
        self._save(entry)

    async def _verify_all(self, entries: list[Entry], phase: str = "Verifying captures") -> None:
        """Judge the captures each reading may be offered (:mod:`linkkeeper.archive.capture_check`),
        then let a good assigned-week capture's text become the drift baseline; one replay
        serves both. A dry run reads nothing."""
        from linkkeeper.archive.capture_baseline import read_assigned
        from linkkeeper.archive.capture_check import Verifier, is_good

        if self.dry_run:
            return
        todo = [e for e in entries if not captures_of(e.record)["excluded"]]  # type: ignore[arg-type]
        if not todo:
            return
        self._phase(phase, len(todo))
        verifier = Verifier(self.wayback, self.clock(), self._verified)
        for entry in todo:
            assert entry.record is not None
            changed = await verifier.verify(entry.record, entry.reading)
            caps = captures_of(entry.record)
            assigned = caps["assigned"]
            verdicts = caps.get("verdicts") or {}
            if isinstance(assigned, dict) and is_good(verdicts.get(_ts(assigned))):
                key = (_ts(assigned), str(assigned.get("original") or entry.reading.url))
                printed = verifier.fingerprint(*key)
                if printed is not None:
                    self._texts.setdefault(key, printed)
                changed |= await read_assigned(
                    entry.record, entry.reading, self.wayback, self.clock(), self._texts
                )
            if entry.state == State.CAPTURED and caps["ours"]:
                changed |= self._judged_ours(entry, caps["ours"][-1], verdicts)
            if changed:
                self._save(entry)
            self._done()

    def _judged_ours(self, entry: Entry, ours: Any, verdicts: dict[str, Any]) -> bool:
        """Say so when the capture just made shows the breakage (it is never offered)."""
        from linkkeeper.archive.capture_check import BAD

        verdict = verdicts.get(_ts(ours)) or {}
        if verdict.get("verdict") != BAD:
            return False
        arch = archive_of(entry.record)  # type: ignore[arg-type]
        day = _at(_ts(ours))
        why = (
            (
                f"captured on {day:%Y-%m-%d}, but the capture is not a good copy "
                f"({verdict.get('reason')}); it is not offered"
            )
            if day
            else f"captured, but the capture is not a good copy ({verdict.get('reason')})"
        )
        if arch["reason"] == why:
            return False
        arch["reason"] = why
        return True

    def _gate(self, entry: Entry) -> bool:
        """A reading whose last check found the page gone is not submitted (a capture would
        keep the breakage and cost quota); its state says why and what members get instead.
        True when it was held back. A bot wall may still be tried: the archive's crawler is
        sometimes let through."""
        from linkkeeper.core import Verdict
        from linkkeeper.ledger import NO_GOOD_COPY, pick_capture

        assert entry.record is not None
        check = last_check(entry.record)
        if not _held_back(entry.record):
            if entry.state == State.BROKEN:  # the page is back: captured again as usual
                self._set(entry, State.QUEUED, "the page answers again; it needs a new capture")
                self._save(entry)
            return False
        if entry.state == State.SUBMITTED:
            return False  # a job already runs: it is polled, never abandoned
        health = entry.record.health
        since = health.first_failure or check.at
        gone = "gone" if check.verdict == Verdict.BROKEN else "not answering"
        capture, kind, _ = pick_capture(entry.record)
        if capture is not None:
            day = capture.day.isoformat() if capture.day else capture.timestamp
            offer = f"the newest good capture is {day} ({capture.url})"
            if kind == "assigned":
                offer = (
                    f"members get the capture from the week it was assigned, {day} ({capture.url})"
                )
        else:
            offer = NO_GOOD_COPY
        why = f"not captured: the page is {gone} since {since:%Y-%m-%d} ({check.reason}); {offer}"
        if archive_of(entry.record)["reason"] != why or entry.state != State.BROKEN:
            self._set(entry, State.BROKEN, why)
            self._save(entry)
        entry.action = "held-back"
        return True

    @staticmethod
    def _merge(record: Record, found: CaptureSet) -> None:
        """New captures replace old ones; an empty answer never erases a known capture."""
        section = captures_of(record)
        assigned = capture_dict(found.before or found.after)
        section["assigned"] = assigned or section["assigned"]
        section["latest"] = _newer(section["latest"], capture_dict(found.latest))
        section["excluded"] = found.excluded

    async def _resume(self, job: _Job) -> None:
        """Finish a job an earlier run left running, without submitting it again."""
        first = job.entries[0]
        assert first.record is not None
        arch = archive_of(first.record)
        submitted = parse_time(arch["submitted_at"])
        newest = newest_capture(first.record)
        if submitted and newest and newest >= submitted.replace(microsecond=0):
            caps = captures_of(first.record)
            seen = _newer(caps["latest"], caps["ours"][-1] if caps["ours"] else None) or {}
            capture = Capture(_ts(seen), str(seen.get("original")), str(seen.get("url")))
            result = SaveResult(job.url, Outcome.CAPTURED, capture, job_id=arch["job_id"])
            self._record(job, result, action="polled")
        elif self.dry_run or self.wayback.keys is None:
            for entry in job.entries:
                entry.action = "would-poll" if self.dry_run else entry.action
        elif submitted is None or self.clock() - submitted > self.settings.job_ttl:
            why = "the capture job expired before it was seen finishing; submitting again"
            for entry in job.entries:
                self._set(entry, State.QUEUED, why, job_id=None)
                self._save(entry)
        else:
            result = await self.wayback.wait(arch["job_id"], job.url)
            self._record(job, result, action="polled")
        for _ in job.entries:
            self._done()

    def _settle(self, entry: Entry) -> None:
        """A reading with a capture inside the window needs none: say so."""
        assert entry.record is not None
        state, newest = entry.state, newest_capture(entry.record)
        if state in (State.SUBMITTED, State.REFUSED, State.EXCLUDED, State.CAPTURED):
            return
        if newest is None or self.clock() - newest >= self.settings.window:
            return
        self._set(entry, State.RECENT, f"archived on {newest:%Y-%m-%d}; no new capture needed")
        self._save(entry)

    def _due(self, entry: Entry) -> bool:
        """Whether this reading needs a new capture now."""
        assert entry.record is not None
        arch, forced = archive_of(entry.record), entry.reading.id in self.forced
        if captures_of(entry.record)["excluded"] or entry.state == State.SUBMITTED:
            return False
        if _held_back(entry.record):
            return False  # see _gate
        if entry.state == State.REFUSED and not forced:
            return False
        retry = parse_time(arch["next_try_after"])
        if retry and self.clock() < retry and not forced:
            return False
        newest = newest_capture(entry.record)
        return newest is None or self.clock() - newest >= self.settings.window

    @staticmethod
    def _jobs(entries: Iterable[Entry]) -> list[_Job]:
        """One job per URL, so a URL listed twice is never submitted twice."""
        jobs: dict[str, _Job] = {}
        for entry in entries:
            assert entry.reading.url is not None
            jobs.setdefault(entry.reading.url, _Job(entry.reading.url, [])).entries.append(entry)
        return list(jobs.values())

    async def _submit_all(self, jobs: list[_Job]) -> None:
        if not jobs:
            return
        if self.keys_note is not None:
            return self._wait_for_keys(jobs)
        if self.dry_run:
            for job in jobs:
                self._hold(job, "would-submit", "would be submitted (dry run)")
            return
        slots, budget = await self._account()
        if self.keys_note is not None:
            return self._wait_for_keys(jobs)
        queue: asyncio.Queue[_Job] = asyncio.Queue()
        for job in jobs:
            queue.put_nowait(job)
        self._budget = budget

        async def worker() -> None:
            while not queue.empty():
                await self._capture(queue.get_nowait())

        await asyncio.gather(*(worker() for _ in range(min(slots, len(jobs)))))
        while not queue.empty():  # no free slots at all
            self._hold(queue.get_nowait(), "not-submitted")

    def _wait_for_keys(self, jobs: list[_Job]) -> None:
        for job in jobs:
            for entry in job.entries:
                # the reason is stored in the record and printed per reading: the first
                # sentence only; the full note (how to get keys) is printed once per run
                short = (self.keys_note or "").split(". ", 1)[0]
                self._set(
                    entry,
                    State.WAITING_KEYS,
                    f"needs a new capture: {short} (set IA_ACCESS_KEY and IA_SECRET_KEY, "
                    f"from {KEYS_PAGE})",
                )
                entry.action = "would-wait-for-keys" if self.dry_run else "needs-keys"
                self._save(entry)
                self._done()

    async def _account(self) -> tuple[int, float]:
        """Free capture slots and captures left today, from ``/save/status/user``."""
        try:
            status = await self.wayback.user_status()
        except NeedKeys:
            self.keys_note = f"the Internet Archive refused the keys (HTTP 401). {KEYS_HELP}"
            return 0, 0
        except WaybackError as exc:  # cannot tell: one capture at a time, quota by answers
            log.warning("could not read the account's capture status (%s); one at a time", exc)
            return 1, float("inf")
        left = status.daily_captures_limit - status.daily_captures
        if left <= 0:
            self.pacer.stop(
                f"the daily capture quota is used up ({status.daily_captures} of "
                f"{status.daily_captures_limit} today); the next run continues"
            )
        elif status.available <= 0:
            self.stopped = (
                f"all capture slots of the account are busy ({status.processing} running); "
                "the next run continues"
            )
        return status.available, left

    async def _capture(self, job: _Job) -> None:
        """Submit one URL (paced, backing off on 429), record the job, wait for its end."""
        result = SaveResult(job.url, Outcome.BUSY, reason="all capture slots busy (HTTP 429)")
        for attempt in range(self.pacer.max_busy_retries + 1):
            if not self.pacer.stopped:
                await self.pacer.wait_turn()
            if self.pacer.stopped:
                return self._hold(job, "not-submitted")
            if self._budget < 1:
                self.pacer.stop("the daily capture quota is used up; the next run continues")
                return self._hold(job, "not-submitted")
            self._budget -= 1  # reserved: a capture job counts against the daily quota
            result = await self.wayback.submit(job.url, **self._window_for(job))
            self._count_attempt(job)
            if result.outcome is not Outcome.ACCEPTED:
                self._budget += 1  # nothing started
            if result.outcome is not Outcome.BUSY:
                break
            delay = self.pacer.busy()
            log.info("archive busy (429) on attempt %d; backing off %.3g s", attempt + 1, delay)
        else:
            return self._record(job, result, action="submitted")
        self.pacer.ok()
        if result.outcome is Outcome.ACCEPTED and result.job_id:
            self._record(job, result, action="submitted", done=False)  # a crash keeps the id
            result = await self.wayback.wait(result.job_id, job.url)
        elif result.outcome is Outcome.RECENT:
            result = replace(result, capture=await self._recent(job.url))
        if result.outcome in (Outcome.QUOTA, Outcome.UNAUTHORIZED):
            self.pacer.stop(f"{result.reason} ({result.message or result.status_ext})")
        self._record(job, result, action="submitted")

    def _window_for(self, job: _Job) -> dict[str, str]:
        """SPN2's ``if_not_archived_within`` narrowed to just under the age of a newer capture
        judged bad (of the breakage), so the archive does not answer "recently captured" with
        the very capture members must not get; the default window otherwise."""
        from linkkeeper.archive.capture_check import BAD

        now, bad = self.clock(), []
        for entry in job.entries:
            assert entry.record is not None
            verdicts = captures_of(entry.record).get("verdicts") or {}
            bad += [
                _at(ts)
                for ts, v in verdicts.items()
                if isinstance(v, dict) and v.get("verdict") == BAD
            ]
        ages = [now - at for at in bad if at is not None and now - at < self.settings.window]
        if not ages:
            return {}
        narrower = max(min(ages) - timedelta(minutes=1), timedelta(0))
        return {"if_not_archived_within": spn2_within(narrower)}

    async def _recent(self, url: str) -> Capture | None:
        """The capture behind a ``job_id: null`` answer, if CDX (or the hint) lists it yet."""
        try:
            found = await self.wayback.cdx(url, closest=to_timestamp(self.clock()), limit=1)
        except WaybackError:
            found = None
        if found and found.captures:
            return max(found.captures, key=lambda c: c.timestamp)
        return await self.wayback.availability(url)

    # -- recording ----------------------------------------------------------------------------
    def _count_attempt(self, job: _Job) -> None:
        for entry in job.entries:
            assert entry.record is not None
            archive_of(entry.record)["attempts"] += 1

    def _hold(self, job: _Job, action: str, why: str | None = None) -> None:
        """Leave a job queued for the next run (quota used up, no free slot, dry run)."""
        why = why or self.stopped or self.pacer.stopped or "not submitted in this run"
        for entry in job.entries:
            entry.action = action
            self._set(entry, State.QUEUED, why, job_id=None)
            self._save(entry)
            self._done()

    def _record(self, job: _Job, result: SaveResult, *, action: str, done: bool = True) -> None:
        """Fold one archive answer into each reading's record and save it at once."""
        now = self.clock()
        state, reason, retry = _transition(result, self.settings, now)
        for entry in job.entries:
            assert entry.record is not None
            entry.action = action
            if result.outcome is Outcome.ACCEPTED:
                archive_of(entry.record)["submitted_at"] = format_time(now)
            if result.capture is not None:
                self._add_capture(entry, result)
            self._set(
                entry,
                state,
                reason,
                job_id=result.job_id,
                status_ext=result.status_ext,
                next_try_after=format_time(retry),
            )
            self._save(entry)
            if done:
                self._done()

    def _add_capture(self, entry: Entry, result: SaveResult) -> None:
        assert entry.record is not None and result.capture is not None
        section = captures_of(entry.record)
        new = capture_dict(result.capture)
        section["latest"] = _newer(section["latest"], new)
        if section["assigned"] is None and entry.reading.assigned is not None:
            section["assigned"] = new  # the closest capture after the week it was assigned
        if result.outcome is Outcome.CAPTURED:
            ours = capture_dict(result.capture, result.job_id)
            if ours not in section["ours"]:
                section["ours"].append(ours)

    def _set(self, entry: Entry, state: State, reason: str, **fields: Any) -> None:
        assert entry.record is not None
        section = archive_of(entry.record)
        defaults = {"status_ext": None, "next_try_after": None}
        section.update(defaults | fields, state=state.value, reason=reason)

    def _save(self, entry: Entry) -> None:
        if not self.dry_run and entry.record is not None:
            self.ledger.save(entry.record)

    def _phase(self, name: str, total: int) -> None:
        if self.on_step:
            self.on_step(name, total)

    def _done(self) -> None:
        if self.on_done:
            self.on_done()


# What each outcome leaves in ``archive``: state, whether a retry waits, and the reason.
TRANSITIONS: dict[Outcome, tuple[State, bool]] = {
    Outcome.ACCEPTED: (State.SUBMITTED, False),
    Outcome.PENDING: (State.SUBMITTED, False),
    Outcome.CAPTURED: (State.CAPTURED, False),
    Outcome.RECENT: (State.RECENT, False),
    Outcome.TRANSIENT: (State.QUEUED, True),
    Outcome.BUSY: (State.QUEUED, True),
    Outcome.UNEXPECTED: (State.QUEUED, True),
    Outcome.QUOTA: (State.QUEUED, False),  # the next run continues
    Outcome.PERMANENT: (State.REFUSED, False),
    Outcome.UNAUTHORIZED: (State.WAITING_KEYS, False),
}


def _transition(
    result: SaveResult, settings: ArchiveSettings, now: datetime
) -> tuple[State, str, datetime | None]:
    """(state, human reason, next_try_after) for one archive answer."""
    state, waits = TRANSITIONS[result.outcome]
    said = f' The archive said: "{result.message}"' if result.message else ""
    code = f" ({result.status_ext})" if result.status_ext else ""
    retry = now + settings.retry_after if waits else None
    if result.outcome is Outcome.CAPTURED and result.capture:
        return state, f"captured on {result.capture.at:%Y-%m-%d}", None
    if result.outcome is Outcome.ACCEPTED:
        return state, "capture submitted; waiting for it to finish", None
    if result.outcome is Outcome.PENDING:
        return state, f"{result.reason}; the next run polls the same job", None
    if result.outcome is Outcome.RECENT:
        if result.capture is None:  # not listed yet: do not ask again inside the window
            retry = now + settings.window
            return state, "the archive has a recent capture (not listed yet)." + said, retry
        return state, f"archived on {result.capture.at:%Y-%m-%d}; no new capture needed", None
    if result.outcome is Outcome.PERMANENT:
        return state, f"the archive cannot capture it: {result.reason}{code}.{said}", None
    if result.outcome is Outcome.QUOTA:
        return state, f"{result.reason}{code}; the next run continues", None
    if result.outcome is Outcome.UNAUTHORIZED:
        return state, result.reason, None
    return state, f"{result.reason}{code}; retried after {format_time(retry)}", retry


def spn2_within(delta: timedelta) -> str:
    """A timedelta as SPN2's ``if_not_archived_within`` wants it: ``30d``, ``1d 12h`` ..."""
    seconds = int(delta.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts) or "0"


def _unreachable_message(failed: Sequence[Entry]) -> str:
    first = failed[0].lookup_error or "no answer"
    return (
        f"The Wayback Machine could not be reached: all {len(failed)} capture lookups failed "
        f"(e.g. {first}). Nothing was learned about captures tonight: nothing was recorded, "
        "no reading was marked as needing a new capture and nothing was submitted. Run the "
        "archive again when the network works."
    )
