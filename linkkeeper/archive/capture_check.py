"""Which archived copies members can trust: every capture offered is read once and judged.

A capture can show the breakage itself: a 404 kept with ``capture_all``, a deep link bounced to
the home page, a "page not found" that answered 200, a parked domain, a removed video. So a
capture counts as **good** only when its CDX status is 200 (203/206) and its original bytes,
replayed once (``/web/<ts>id_/<url>``, captured redirects kept), pass the same judges the live
check uses (:func:`linkkeeper.judges.sites.generic.judge_copy` and the site families' own
``judge_capture``: soft 404, parking, redirect to the root, removed video, bot wall) and, where
the reading has a drift baseline from another copy, still resembles it (drift similarity of at
least :data:`linkkeeper.check.drift.CHANGED_BELOW`).

The verdict of each capture is remembered in the record (``captures.verdicts``, keyed by
timestamp, with the reason of a rejection), so no capture is read twice; a replay that fails is
retried by :data:`MAX_TRIES` runs in all. Which capture is then offered is
:func:`linkkeeper.ledger.links.pick_capture`'s rule: the assigned-week capture, else the newest good
capture taken before the current run of failures began (:func:`failure_mark`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from linkkeeper.check import drift
from linkkeeper.core import textsafe
from linkkeeper.ledger import (  # noqa: F401  (the ledger reads verdicts too)
    BAD,
    GOOD,
    UNREADABLE,
    failure_mark,
    format_time,
    is_good,
    mark_timestamp,
    rejected,
)

if TYPE_CHECKING:
    from linkkeeper.archive.wayback import Replay, WaybackClient
    from linkkeeper.core import Reading
    from linkkeeper.ledger import Record

log = logging.getLogger(__name__)

MAX_TRIES = drift.CAPTURE_TRIES  # runs that try a capture whose replay failed
READS_PER_RUN = 3  # replays per reading per run: the archive is shared and paced
REASON_MAX = 500  # characters of a verdict's reason kept
LIST_LIMIT = 25  # captures before the break listed by one CDX search (newest first)
SIMILAR_AT = drift.CHANGED_BELOW  # a capture less like the baseline than this is not the reading

# what one replay taught this run, shared by readings with the same link: (verdict, reason,
# similarity, text fingerprint or why none) keyed by (timestamp, original)
Seen = dict[tuple[str, str], tuple[str, str, "float | None", Any]]


def verdicts_of(section: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``captures.verdicts`` (created when missing; a hand-mangled one is started afresh)."""
    verdicts = section.get("verdicts")
    if not isinstance(verdicts, dict):
        verdicts = section["verdicts"] = {}
    return verdicts


def settled(entry: Any) -> bool:
    """A verdict that needs no more reads: good, bad, or unreadable :data:`MAX_TRIES` times."""
    if not isinstance(entry, dict):
        return False
    if entry.get("verdict") in (GOOD, BAD):
        return True
    tries = entry.get("attempts")
    return entry.get("verdict") == UNREADABLE and isinstance(tries, int) and tries >= MAX_TRIES


def record_verdict(
    section: dict[str, Any],
    capture: dict[str, Any],
    verdict: str,
    reason: str,
    now: datetime,
    similarity: float | None = None,
) -> None:
    """Remember what one capture (a ``captures`` entry: timestamp, url, original) was judged;
    an unreadable one counts its tries."""
    verdicts = verdicts_of(section)
    timestamp = str(capture.get("timestamp") or "")
    known = verdicts.get(timestamp)
    entry: dict[str, Any] = {
        "original": capture.get("original"),
        "url": capture.get("url"),
        "verdict": verdict,
        "reason": textsafe.plain(reason, REASON_MAX),  # words from a page: no escapes stored
        "read_at": format_time(now),
    }
    if similarity is not None:
        entry["similarity"] = similarity
    if verdict == UNREADABLE:
        tries = known.get("attempts") if isinstance(known, dict) else None
        entry["attempts"] = (tries if isinstance(tries, int) else 0) + 1
    verdicts[timestamp] = entry


# -- judging one replay ------------------------------------------------------------------------
def judge_replay(
    reading_url: str, original: str, replay: Replay, baseline: drift.Fingerprint | None
) -> tuple[str, str, float | None, Any]:
    """(verdict, reason, similarity, fingerprint) of one replayed capture of ``reading_url``
    whose archived address is ``original`` (SPN2 records the address after redirects)."""
    from linkkeeper.archive.capture_baseline import NO_TEXT_FAMILIES, fingerprint_of
    from linkkeeper.archive.wayback import GOOD_STATUSES, Original, same_page
    from linkkeeper.core import FetchResult, Verdict
    from linkkeeper.judges import PageRules, judge_copy, site_for

    hops = list(replay.redirects)
    if not same_page(original, reading_url):  # the capture is filed under where it led
        hops.insert(0, (302, original))
    page = FetchResult(
        reading_url,
        replay.final_url,
        replay.status,
        {"content-type": replay.content_type},
        replay.body,
        replay.truncated,
        hops,
    )
    site = site_for(reading_url)
    judge = getattr(site, "judge_capture", None)
    try:
        judged = (
            judge(reading_url, page)
            if judge
            else judge_copy(reading_url, page, getattr(site, "rules", PageRules()))
        )
    finally:
        page.release()
    where = f" (the capture leads to {replay.final_url})" if hops else ""
    if judged.verdict not in (Verdict.OK, Verdict.MOVED):
        return BAD, f"{judged.reason}{where}", None, None
    if replay.status not in GOOD_STATUSES:
        return BAD, f"captured with HTTP {replay.status}{where}", None, None
    printed: Any = None
    if site.name not in NO_TEXT_FAMILIES:
        copy = Original(replay.final_url, replay.content_type, replay.body, replay.truncated)
        printed = fingerprint_of(copy)
    score = None
    if baseline is not None and isinstance(printed, drift.Fingerprint):
        score = drift.similarity(baseline, printed)
        if score < SIMILAR_AT:
            why = f"its text is unlike the reading's (drift similarity {score:.2f} < {SIMILAR_AT})"
            return BAD, why, score, printed
    return GOOD, judged.reason + where, score, printed


def _baseline(record: Record, url: str, timestamp: str) -> drift.Fingerprint | None:
    """The reading's drift baseline, unless it was taken from this very capture."""
    section = record.data.get("drift")
    if not isinstance(section, dict) or section.get("url") != url:
        return None
    base = section.get("baseline")
    if not isinstance(base, dict) or base.get("capture") == timestamp:
        return None
    return drift.Fingerprint.from_dict(base)


# -- one reading -------------------------------------------------------------------------------
class Verifier:
    """Reads and judges the captures one reading may be offered, newest useful first, at most
    :data:`READS_PER_RUN` replays per reading per run; shares replays between readings."""

    def __init__(self, wayback: WaybackClient, now: datetime, seen: Seen | None = None) -> None:
        self.wayback = wayback
        self.now = now
        self.seen: Seen = seen if seen is not None else {}
        self.reads = 0  # replays this run (all readings)

    async def verify(self, record: Record, reading: Reading) -> bool:
        """Judge the captures ``record`` may offer until a good one is known; True when the
        record changed (the caller saves it). Never raises."""
        url = reading.url
        section = record.data.get("captures")
        if not url or not isinstance(section, dict) or section.get("excluded"):
            return False
        mark = mark_timestamp(failure_mark(record))
        budget = [READS_PER_RUN]
        changed = self._after_break(section, mark) if mark else False
        for capture in _known(section, mark):
            found, touched = await self._judge(record, url, section, capture, budget)
            changed |= touched
            if found is not None:
                return changed
        if mark is None or budget[0] <= 0:
            return changed
        search = section.get("search")
        if isinstance(search, dict) and search.get("before") == mark and search.get("exhausted"):
            return changed
        listed = await self._before(url, mark)
        if listed is None:
            return changed
        for capture in listed:
            found, touched = await self._judge(record, url, section, capture, budget)
            changed |= touched
            if found is not None or budget[0] <= 0:
                return changed
        section["search"] = {"before": mark, "exhausted": True, "at": format_time(self.now)}
        return True

    def _after_break(self, section: dict[str, Any], mark: str) -> bool:
        """Captures made after the current failures began are never offered: each is kept
        with that reason (not read: at best it shows the breakage)."""
        verdicts, changed = verdicts_of(section), False
        for capture in [section.get("latest"), *(section.get("ours") or [])]:
            timestamp = _ts(capture)
            if not _stamped(capture) or timestamp < mark or timestamp in verdicts:
                continue
            day, broke = (f"{t[:4]}-{t[4:6]}-{t[6:8]}" for t in (timestamp, mark))
            why = f"made on {day}, after the page broke ({broke}): it shows the breakage at best"
            record_verdict(section, capture, BAD, why, self.now)
            changed = True
        return changed

    async def _before(self, url: str, mark: str) -> list[dict[str, Any]] | None:
        """Captures listed by CDX (200/203/206 only) before the failures began, newest first."""
        from linkkeeper.archive.wayback import Capture, WaybackError, to_timestamp

        before = to_timestamp(Capture(mark, "", "").at - timedelta(seconds=1))
        try:
            found = await self.wayback.cdx(url, to=before, limit=-LIST_LIMIT)
        except WaybackError as exc:
            log.info("listing the captures of %s before %s failed: %s", url, mark, exc)
            return None
        rows = sorted(found.captures, key=lambda c: c.timestamp, reverse=True)
        return [{"timestamp": c.timestamp, "url": c.url, "original": c.original} for c in rows]

    async def _judge(
        self,
        record: Record,
        url: str,
        section: dict[str, Any],
        capture: dict[str, Any],
        budget: list[int],
    ) -> tuple[dict[str, Any] | None, bool]:
        """(the capture if it is good, whether the record changed)."""
        verdicts = verdicts_of(section)
        timestamp = str(capture.get("timestamp") or "")
        original = str(capture.get("original") or url)
        known = verdicts.get(timestamp)
        if is_good(known):
            return capture, False
        if settled(known) or not timestamp.isdigit():
            return None, False
        key = (timestamp, original)
        result = self.seen.get(key)
        if result is None:
            if budget[0] <= 0:
                return None, False
            budget[0] -= 1
            assigned = _ts(section.get("assigned")) == timestamp  # what members read: no drift
            result = await self._read(record, url, timestamp, original, assigned)
            self.seen[key] = result
        verdict, reason, score, _ = result
        record_verdict(section, capture, verdict, reason, self.now, score)
        return (capture if verdict == GOOD else None), True

    async def _read(
        self, record: Record, url: str, timestamp: str, original: str, assigned: bool
    ) -> tuple[str, str, float | None, Any]:
        from linkkeeper.archive.wayback import WaybackError

        self.reads += 1
        try:
            replay = await self.wayback.replay(timestamp, original)
            if replay.timestamp[:14] != timestamp[:14]:  # e.g. a fresh capture not replayable yet
                why = f"the archive serves another capture ({replay.timestamp}) in its place"
                return UNREADABLE, why, None, None
            baseline = None if assigned else _baseline(record, url, timestamp)
            return judge_replay(url, original, replay, baseline)
        except WaybackError as exc:
            return UNREADABLE, f"the capture could not be replayed: {exc}", None, None
        except Exception as exc:  # a malformed capture must never sink the archive run
            log.exception("capture %s of %s could not be judged", timestamp, original)
            return UNREADABLE, f"the capture could not be judged: {type(exc).__name__}", None, None

    def fingerprint(self, timestamp: str, original: str) -> Any:
        """The text fingerprint (or why none) of a capture this run read, for the drift
        baseline (:mod:`linkkeeper.archive.capture_baseline`): read once, used twice."""
        result = self.seen.get((timestamp, original))
        return result[3] if result is not None and result[0] == GOOD else None


def _known(section: dict[str, Any], mark: str | None) -> list[dict[str, Any]]:
    """The captures already recorded that may be offered, in order of preference: the
    assigned one, then the others newest first; only those before ``mark`` when failing."""
    found: list[dict[str, Any]] = []
    assigned = section.get("assigned")
    ours = section.get("ours") if isinstance(section.get("ours"), list) else []
    good = [
        {"timestamp": ts, "url": v.get("url"), "original": v.get("original")}
        for ts, v in verdicts_of(section).items()
        if is_good(v)
    ]
    others = [section.get("latest"), *ours, *good]
    for entry in [assigned, *sorted(filter(_stamped, others), key=_ts, reverse=True)]:
        if not _stamped(entry) or (mark is not None and _ts(entry) >= mark):
            continue
        if all(_ts(entry) != _ts(seen) for seen in found):
            found.append(entry)
    return found


def _stamped(entry: Any) -> bool:
    return isinstance(entry, dict) and str(entry.get("timestamp") or "").isdigit()


def _ts(entry: Any) -> str:
    return str(entry.get("timestamp") or "") if isinstance(entry, dict) else ""
