"""Health over simulated nights: the clock is injected, nothing sleeps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from linkkeeper.core.models import Health, Verdict
from linkkeeper.ledger.health import HealthPolicy, HealthState, assess, needs_check

OK, MOVED, BROKEN, BLOCKED, TRANSIENT, SKIPPED = (
    Verdict.OK,
    Verdict.MOVED,
    Verdict.BROKEN,
    Verdict.BLOCKED,
    Verdict.TRANSIENT,
    Verdict.SKIPPED,
)


@dataclass(frozen=True)
class C:
    """A minimal check: health only needs a time and a verdict."""

    at: datetime
    verdict: Verdict


@dataclass
class History:
    current_checks: list[C]


def night(day: int, hour: int = 3, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def nights(*entries: tuple[datetime, Verdict]) -> list[C]:
    return [C(at, verdict) for at, verdict in entries]


def test_no_checks_is_unknown() -> None:
    state = assess([])
    assert state.state == Health.UNKNOWN
    assert state.since is None
    assert state.summary == "not checked yet"


def test_three_broken_nights_over_three_days_is_dead() -> None:
    history = nights((night(1), BROKEN), (night(2), BROKEN), (night(3), BROKEN))
    state = assess(history)
    assert state.state == Health.DEAD
    assert state.since == night(3)  # the night the policy was met
    assert state.failures == 3
    assert state.first_failure == night(1)
    assert state.summary == "dead: 3 failures over 48 h with no success on record"


def test_three_broken_within_two_hours_is_failing_not_dead() -> None:
    history = nights((night(1, 3), BROKEN), (night(1, 4), BROKEN), (night(1, 5), BROKEN))
    state = assess(history)
    assert state.state == Health.FAILING
    assert state.since == night(1, 3)
    assert state.summary == "failing: 3 of 3 failures needed, over 2 h of 48 h"


def test_failing_summary_counts_towards_the_policy() -> None:
    state = assess(nights((night(1, 3), BROKEN), (night(1, 23), BROKEN)))
    assert state.state == Health.FAILING
    assert state.summary == "failing: 2 of 3 failures needed, over 20 h of 48 h"


def test_long_span_but_too_few_failures_is_failing() -> None:
    state = assess(nights((night(1), BROKEN), (night(20), BROKEN)))
    assert state.state == Health.FAILING


def test_dead_since_is_the_check_that_met_the_policy() -> None:
    history = nights(*((night(day), BROKEN) for day in range(1, 6)))
    state = assess(history)
    assert (state.state, state.since, state.failures) == (Health.DEAD, night(3), 5)


@pytest.mark.parametrize("success", [OK, MOVED])
def test_any_success_resets_to_alive(success: Verdict) -> None:
    history = nights(
        (night(1), BROKEN), (night(2), BROKEN), (night(3), BROKEN), (night(4), success)
    )
    state = assess(history)
    assert state.state == Health.ALIVE
    assert state.since == night(4)
    assert state.last_success == night(4)
    assert state.summary == "alive since 2026-11-04"

    # and the count starts over after the success
    history += nights((night(5), BROKEN), (night(6), BROKEN))
    state = assess(history)
    assert state.state == Health.FAILING
    assert (state.failures, state.first_failure) == (2, night(5))
    assert "2 of 3" in state.summary


def test_alive_since_the_start_of_the_current_run_of_successes() -> None:
    history = nights((night(1), OK), (night(2), BROKEN), (night(3), OK), (night(4), MOVED))
    state = assess(history)
    assert (state.state, state.since) == (Health.ALIVE, night(3))


def test_dead_after_a_success_says_when_it_last_worked() -> None:
    history = nights((night(1), OK), (night(2), BROKEN), (night(3), BROKEN), (night(5), BROKEN))
    state = assess(history)
    assert state.state == Health.DEAD
    assert state.summary == "dead: 3 failures over 72 h since the last success on 2026-11-01"


def test_blocked_only_is_blocked() -> None:
    history = nights(*((night(day), BLOCKED) for day in range(1, 8)))
    state = assess(history)
    assert state.state == Health.BLOCKED
    assert state.since == night(1)
    assert state.failures == 0
    assert "cannot tell" in state.summary


def test_blocked_after_success_is_blocked_since_the_first_wall() -> None:
    history = nights((night(1), OK), (night(2), BLOCKED), (night(3), BLOCKED))
    state = assess(history)
    assert (state.state, state.since, state.last_success) == (Health.BLOCKED, night(2), night(1))


def test_mixed_blocked_and_broken_counts_the_broken_ones() -> None:
    history = nights(
        (night(1), BLOCKED),
        (night(2), BROKEN),
        (night(3), BLOCKED),
        (night(4), BROKEN),
        (night(5), BLOCKED),
    )
    state = assess(history)
    assert state.state == Health.FAILING
    assert state.failures == 2
    assert state.since == night(2)

    history += nights((night(6), BROKEN))
    assert assess(history).state == Health.DEAD  # 3 broken from night 2 to 6


def test_transient_counts_towards_dead() -> None:
    history = nights((night(1), TRANSIENT), (night(2), BROKEN), (night(3), TRANSIENT))
    assert assess(history).state == Health.DEAD
    assert assess(history[:2]).state == Health.FAILING


def test_skipped_checks_do_not_change_health() -> None:
    broken = nights((night(1), BROKEN), (night(2), BROKEN), (night(3), BROKEN))
    with_skips = nights(
        (night(1), BROKEN),
        (night(1, 9), SKIPPED),
        (night(2), BROKEN),
        (night(2, 9), SKIPPED),
        (night(3), BROKEN),
        (night(4), SKIPPED),
    )
    assert assess(with_skips) == assess(broken)
    assert assess(nights((night(1), OK), (night(2), SKIPPED))).state == Health.ALIVE
    assert assess(nights((night(1), SKIPPED))).state == Health.UNKNOWN


def test_policy_is_configurable() -> None:
    history = nights((night(1), BROKEN), (night(2), BROKEN))
    assert assess(history).state == Health.FAILING
    quick = HealthPolicy(dead_after_failures=2, dead_after_hours=24)
    assert assess(history, quick).state == Health.DEAD
    instant = HealthPolicy(dead_after_failures=1, dead_after_hours=0)
    assert assess(history[:1], instant).state == Health.DEAD
    patient = HealthPolicy(dead_after_failures=3, dead_after_hours=72)
    three = [*history, C(night(3), BROKEN)]
    state = assess(three, patient)
    assert state.state == Health.FAILING
    assert state.summary == "failing: 3 of 3 failures needed, over 48 h of 72 h"


@pytest.mark.parametrize("bad", [{"dead_after_failures": 0}, {"dead_after_hours": -1}])
def test_policy_rejects_nonsense(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        HealthPolicy(**bad)  # type: ignore[arg-type]


def test_state_round_trips_through_its_dict() -> None:
    state = assess(nights((night(1), OK), (night(2), BROKEN), (night(4), BROKEN)))
    data = state.to_dict()
    assert data["state"] == "failing"
    assert data["since"] == "2026-11-02T03:00:00Z"
    assert data["last_success"] == "2026-11-01T03:00:00Z"
    assert HealthState.from_dict(data) == state


NOW = night(10, 12)
DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("history", "force", "expected"),
    [
        (None, False, True),  # no record
        ([], False, True),  # no history
        ([C(NOW - timedelta(hours=1), OK)], False, False),  # fresh success: reuse
        ([C(NOW - timedelta(hours=1), MOVED)], False, False),
        ([C(NOW - timedelta(hours=1), OK)], True, True),  # unless forced
        ([C(NOW - timedelta(hours=25), OK)], False, True),  # stale success
        ([C(NOW - DAY, OK)], False, True),  # exactly max_age old counts as stale
        ([C(NOW - timedelta(minutes=5), BROKEN)], False, True),  # failures always re-checked
        ([C(NOW - timedelta(minutes=5), TRANSIENT)], False, True),
        ([C(NOW - timedelta(minutes=5), BLOCKED)], False, True),
        ([C(NOW - timedelta(hours=2), OK), C(NOW - timedelta(hours=1), SKIPPED)], False, False),
        ([C(NOW - timedelta(hours=1), SKIPPED)], False, True),  # only skipped: no knowledge
        ([C(NOW - timedelta(hours=2), BROKEN), C(NOW - timedelta(hours=1), OK)], False, False),
    ],
)
def test_needs_check(history: list[C] | None, force: bool, expected: bool) -> None:
    record = None if history is None else History(history)
    assert needs_check(record, NOW, DAY, force=force) is expected


def test_needs_check_accepts_a_naive_now_as_utc() -> None:
    record = History([C(NOW - timedelta(hours=1), OK)])
    assert needs_check(record, NOW.replace(tzinfo=None), DAY) is False


@pytest.mark.parametrize(
    ("history", "confirmed", "expected"),
    [
        ([C(NOW - 3 * DAY, OK)], NOW - timedelta(hours=2), False),  # repeated since: fresh
        ([C(NOW - 3 * DAY, OK)], NOW - timedelta(hours=30), True),  # last seen too long ago
        ([C(NOW - timedelta(hours=2), OK)], NOW - 3 * DAY, False),  # an older cache changes nothing
        ([C(NOW - 3 * DAY, BROKEN)], NOW - timedelta(hours=1), True),  # failures: always
        ([C(NOW - 3 * DAY, OK)], None, True),  # no cache: the stored entry decides
    ],
)
def test_needs_check_uses_the_last_confirmation(
    history: list[C], confirmed: datetime | None, expected: bool
) -> None:
    assert needs_check(History(history), NOW, DAY, confirmed=confirmed) is expected
    assert needs_check(History(history), NOW, DAY, confirmed=confirmed, force=True) is True


def test_stored_health_holds_nothing_that_grows_with_identical_nights() -> None:
    state = assess(nights((night(1), OK), (night(2), BLOCKED)))
    assert set(state.to_dict()) == {
        "state", "since", "summary", "failures", "first_failure", "last_success"
    }  # fmt: skip
    assert state.summary == "blocked by the site since 2026-11-02; cannot tell whether it is alive"
    assert state.last_checked == night(2)  # in memory only


def test_more_failures_than_needed_never_reads_four_of_three() -> None:
    history = nights(*((night(1, hour), BROKEN) for hour in (3, 4, 5, 6)))
    state = assess(history)
    assert state.state == Health.FAILING
    assert state.summary == "failing: 4 failures (3 needed), over 3 h of 48 h"
