"""A reading's health across nights, derived from its check history.

One bad night must not call a link dead (sites have outages, bot walls come and go), so a link
is ``dead`` only after several failing checks spread over time, like InternetArchiveBot does.
Everything here is a pure function of the history; the caller passes the clock (``now``), so
nights can be simulated in tests without sleeping.

The history holds what carries information (see :meth:`linkkeeper.ledger.store.Record.add`): every
failing check, and a success or bot wall only when it differs from the entry before it. So the
stored ``health`` must not hold anything that grows with every identical night (a "last
checked" time, a check counter): those would rewrite every record every night.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any, Protocol

from linkkeeper.core import Health, Verdict, member

SUCCESS = frozenset({Verdict.OK, Verdict.MOVED})
FAILURE = frozenset({Verdict.BROKEN, Verdict.TRANSIENT})  # these count towards dead


class Checked(Protocol):
    """One past check: all the health logic needs (the ledger's ``Check`` fits)."""

    @property
    def at(self) -> datetime: ...

    @property
    def verdict(self) -> Verdict: ...


class HasHistory(Protocol):
    """Something holding the checks of its current URL (the ledger's ``Record`` fits)."""

    @property
    def current_checks(self) -> Sequence[Checked]: ...


@dataclass(frozen=True)
class HealthPolicy:
    """When failing turns into dead: at least this many failures spanning at least this long."""

    dead_after_failures: int = 3
    dead_after_hours: float = 48.0

    def __post_init__(self) -> None:
        if self.dead_after_failures < 1 or self.dead_after_hours < 0:
            raise ValueError("dead_after_failures must be >= 1 and dead_after_hours >= 0")


@dataclass(frozen=True)
class HealthState:
    """The derived state, stored in the record's ``health`` section (only fields that change
    when the history does)."""

    state: Health
    since: datetime | None  # when the reading entered this state (time of that check)
    summary: str
    failures: int = 0  # broken/transient checks since the last success
    first_failure: datetime | None = None  # first broken/transient check since the last success
    last_success: datetime | None = None  # the latest success on record (not a repeat of it)
    # Latest time the link was checked: the latest stored check, or later when the ledger's
    # machine-local freshness cache knows of a repeat. Never written to the record (it would
    # change every night), so it takes no part in comparisons either.
    last_checked: datetime | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "since": format_time(self.since),
            "summary": self.summary,
            "failures": self.failures,
            "first_failure": format_time(self.first_failure),
            "last_success": format_time(self.last_success),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HealthState:
        """Inverse of :meth:`to_dict`; raises ``ValueError``/``KeyError`` on a bad shape.

        Keys of older versions (``last_checked``, ``checks_counted``) are read or ignored;
        the next write drops them."""
        return cls(
            state=member(Health, data["state"]),
            since=parse_time(data.get("since")),
            summary=str(data.get("summary", "")),
            failures=int(data.get("failures", 0)),
            first_failure=parse_time(data.get("first_failure")),
            last_success=parse_time(data.get("last_success")),
            last_checked=parse_time(data.get("last_checked")),
        )


UNKNOWN = HealthState(Health.UNKNOWN, None, "not checked yet")


def assess(checks: Sequence[Checked], policy: HealthPolicy | None = None) -> HealthState:
    """Fold a check history (oldest first) into one state; skipped checks are ignored."""
    policy = policy or HealthPolicy()
    history = [c for c in checks if c.verdict != Verdict.SKIPPED]
    if not history:
        return UNKNOWN
    last_checked = history[-1].at
    successes = [i for i, c in enumerate(history) if c.verdict in SUCCESS]
    last_success = history[successes[-1]].at if successes else None
    tail = history[successes[-1] + 1 :] if successes else history

    if not tail:  # the latest check succeeded: alive since the start of this run of successes
        start = len(history) - 1
        while start > 0 and history[start - 1].verdict in SUCCESS:
            start -= 1
        since = history[start].at
        return HealthState(
            Health.ALIVE,
            since,
            f"alive since {format_day(since)}",
            last_success=last_success,
            last_checked=last_checked,
        )

    failing = [c for c in tail if c.verdict in FAILURE]
    if not failing:  # only bot walls since the last success: we cannot know
        since = tail[0].at
        return HealthState(
            Health.BLOCKED,
            since,
            f"blocked by the site since {format_day(since)}; cannot tell whether it is alive",
            last_success=last_success,
            last_checked=last_checked,
        )

    first = failing[0].at
    common = {
        "failures": len(failing),
        "first_failure": first,
        "last_success": last_success,
        "last_checked": last_checked,
    }
    dead_at = _dead_at(failing, policy)
    if dead_at is not None:
        span = _hours(failing[-1].at - first)
        after = (
            f"since the last success on {format_day(last_success)}"
            if last_success
            else ("with no success on record")
        )
        summary = f"dead: {_plural(len(failing), 'failure')} over {span:.0f} h {after}"
        return HealthState(Health.DEAD, dead_at, summary, **common)
    span = _hours(failing[-1].at - first)
    needed = policy.dead_after_failures
    count = (  # never "4 of 3 failures": past the count, only the time is still missing
        f"{len(failing)} of {needed} failures needed"
        if len(failing) <= needed
        else f"{len(failing)} failures ({needed} needed)"
    )
    summary = f"failing: {count}, over {span:.0f} h of {policy.dead_after_hours:g} h"
    return HealthState(Health.FAILING, first, summary, **common)


def needs_check(
    record: HasHistory | None,
    now: datetime,
    max_age: timedelta,
    *,
    force: bool = False,
    confirmed: datetime | None = None,
) -> bool:
    """Whether to fetch again: fresh successes are reused, anything else is re-checked.

    A repeated success is not stored, so the stored entry says when the success began;
    ``confirmed`` (the ledger's freshness cache) says when it was last seen, if known."""
    if force or record is None:
        return True
    history = [c for c in record.current_checks if c.verdict != Verdict.SKIPPED]
    if not history:
        return True
    latest = history[-1]
    if latest.verdict not in SUCCESS:
        return True
    seen = max(_aware(latest.at), _aware(confirmed)) if confirmed else _aware(latest.at)
    return _aware(now) - seen >= max_age


def _dead_at(failing: Sequence[Checked], policy: HealthPolicy) -> datetime | None:
    """The time of the failing check that first met the policy, or None if none did yet."""
    first = failing[0].at
    for count, check in enumerate(failing, start=1):
        if count >= policy.dead_after_failures and _hours(check.at - first) >= (
            policy.dead_after_hours
        ):
            return check.at
    return None


# -- time helpers shared with the ledger ----------------------------------------------------
def format_time(value: datetime | None) -> str | None:
    """ISO-8601 UTC with a ``Z``, to the second: stable text for diff-friendly files."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = _aware(value).astimezone(UTC)
    if value.year < 1000:  # strftime's %Y does not pad (glibc): keep its text
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    # strftime's text at a third of its cost (several times per reading); %-format is the
    # fastest way to build it, faster than an f-string with format specs
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (  # noqa: UP031
        value.year, value.month, value.day, value.hour, value.minute, value.second
    )  # fmt: skip


def parse_time(value: Any) -> datetime | None:
    """Inverse of :func:`format_time` (any ISO-8601; naive means UTC)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO-8601 time string, got {value!r}")
    return _aware(datetime.fromisoformat(value))


def format_day(value: datetime | None) -> str:
    if value is None:
        return "never"
    if value.tzinfo is not UTC:
        value = _aware(value).astimezone(UTC)
    if value.year < 1000:  # as in format_time
        return value.strftime("%Y-%m-%d")
    return "%04d-%02d-%02d" % (value.year, value.month, value.day)  # noqa: UP031


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


TS_FORMAT = "%Y%m%d%H%M%S"  # the Wayback Machine's 14-digit capture timestamps


def to_timestamp(moment: datetime | date) -> str:
    """14-digit UTC Wayback timestamp; a date means the end of that day (its week's copy)."""
    if not isinstance(moment, datetime):
        moment = datetime.combine(moment, dtime(23, 59, 59), tzinfo=UTC)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(TS_FORMAT)
