"""The check engine on a small loopback web of its own: freshness, recording, offline nights."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from linkkeeper.check.engine import (
    DEFAULT_MAX_AGE,
    NETWORK_UNREACHABLE,
    ROW_ANNOTATORS,
    CheckRun,
    SelectionError,
    parse_duration,
    run_checks,
    select,
)
from linkkeeper.check.report import Outcome, Row
from linkkeeper.core.models import Health, Reading, Verdict
from linkkeeper.ledger.freshness import FRESHNESS_NAME
from linkkeeper.ledger.record import Record
from linkkeeper.ledger.store import Ledger
from linkkeeper.sandbox import Sandbox, VirtualHost
from linkkeeper.web.fetcher import Fetcher, FetchSettings
from linkkeeper.web.remap import Remapper

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
PROSE = " ".join(
    f"Sentence {i} about attention, transformers and reading lists." for i in range(60)
)


def _web() -> web.Application:
    async def article(request: web.Request) -> web.Response:
        return web.Response(
            text=f"<html><head><title>A fine article</title></head><body><h1>A fine article"
            f"</h1><p>{PROSE}</p></body></html>",
            content_type="text/html",
        )

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/new-home")

    async def walled(request: web.Request) -> web.Response:
        return web.Response(
            status=403,
            text="<html><title>Just a moment...</title></html>",
            content_type="text/html",
            headers={"cf-mitigated": "challenge"},
        )

    app = web.Application()
    app.router.add_get("/article", article)
    app.router.add_get("/new-home", article)
    app.router.add_get("/moved", moved)
    app.router.add_get("/walled", walled)
    return app


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    sandbox = Sandbox([VirtualHost("site.test", _web), VirtualHost("other.test", _web)]).start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def web_box(box: Sandbox) -> Sandbox:
    box.requests.clear()
    return box


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reading(rid: str, url: str | None, week: int = 1) -> Reading:
    return Reading(id=rid, title=rid.title(), url=url, week=week, line=1)


READINGS = [
    reading("fine", "https://site.test/article"),
    reading("moved", "https://site.test/moved"),
    reading("gone", "https://site.test/gone", week=2),
    reading("walled", "https://other.test/walled", week=2),
    reading("task", None, week=2),
]


def check(
    box: Sandbox,
    snapshots: Path,
    readings: Sequence[Reading] = READINGS,
    selected: Sequence[Reading] | None = None,
    *,
    now: datetime = T0,
    max_age: timedelta = DEFAULT_MAX_AGE,
    force: bool = False,
    extra_rules: Sequence[str] = (),
) -> Outcome:
    rules = [*extra_rules, *box.remap_rules()]
    settings = FetchSettings(allow_private=True, host_interval=0, retries=0, connect_timeout=2)

    async def go(run: CheckRun) -> Outcome:
        async with Fetcher(settings, Remapper.parse(rules)) as fetcher:
            return await run_checks(
                run,
                readings,
                readings if selected is None else selected,
                fetcher,
                max_concurrency=8,
                host_concurrency=lambda host: 4,
            )

    with Ledger(snapshots) as ledger:
        return asyncio.run(go(CheckRun(ledger, max_age, force, lambda: now)))


def by_id(outcome: Outcome) -> dict[str, Row]:
    return {row.reading.id: row for row in outcome.rows}


def fetched(box: Sandbox, path: str) -> int:
    return sum(1 for r in box.requests if r.path == path)


def snapshot_bytes(folder: Path) -> dict[str, bytes]:
    """Every record file (not the git-ignored freshness cache or the lock files)."""
    return {p.name: p.read_bytes() for p in sorted(folder.glob("[!.]*.json"))}


def test_first_run_judges_and_records_every_reading(web_box: Sandbox, tmp_path: Path) -> None:
    outcome = check(web_box, tmp_path)
    rows = by_id(outcome)
    assert [r.reading.id for r in outcome.rows] == [r.id for r in READINGS]  # curriculum order
    assert rows["fine"].result.verdict == Verdict.OK
    assert rows["moved"].result.verdict == Verdict.MOVED
    assert rows["moved"].result.suggestion == "https://site.test/new-home"
    assert rows["gone"].result.verdict == Verdict.BROKEN
    assert rows["walled"].result.verdict == Verdict.BLOCKED
    assert (rows["task"].result.verdict, rows["task"].result.reason) == (Verdict.SKIPPED, "no URL")
    assert not outcome.offline
    for row in outcome.rows:
        assert row.result.checked_at == T0
        assert not row.fresh
        stored = json.loads((tmp_path / f"{row.reading.id}.json").read_text())
        assert stored["checks"][-1]["verdict"] == row.result.verdict.value
        assert stored["checks"][-1]["at"] == "2026-03-02T02:00:00Z"
        assert stored["health"]["state"] == row.result.health
    assert rows["fine"].result.health == Health.ALIVE
    assert rows["gone"].result.health == Health.FAILING


def test_fresh_successes_are_reused_and_failures_rechecked(
    web_box: Sandbox, tmp_path: Path
) -> None:
    check(web_box, tmp_path)
    before = snapshot_bytes(tmp_path)
    web_box.requests.clear()

    outcome = check(web_box, tmp_path, now=T0 + timedelta(hours=1))
    rows = by_id(outcome)
    assert rows["fine"].fresh and rows["moved"].fresh
    assert rows["fine"].result.checked_at == T0  # the last recorded result, with its time
    assert rows["moved"].result.suggestion == "https://site.test/new-home"
    assert fetched(web_box, "/article") == 0 and fetched(web_box, "/moved") == 0
    assert fetched(web_box, "/gone") == 1 and fetched(web_box, "/walled") == 1
    assert not rows["gone"].fresh and rows["gone"].result.checked_at == T0 + timedelta(hours=1)

    after = snapshot_bytes(tmp_path)
    for unchanged in ("fine.json", "moved.json", "task.json", "walled.json"):  # same wall
        assert after[unchanged] == before[unchanged]
    assert len(json.loads(after["gone.json"])["checks"]) == 2  # each failure counts: recorded


def test_max_age_and_force_refetch(web_box: Sandbox, tmp_path: Path) -> None:
    check(web_box, tmp_path)
    web_box.requests.clear()
    check(web_box, tmp_path, now=T0 + timedelta(hours=21))  # older than the default 20 h
    assert fetched(web_box, "/article") >= 1
    web_box.requests.clear()
    outcome = check(web_box, tmp_path, now=T0 + timedelta(hours=22), force=True)
    assert fetched(web_box, "/article") >= 1
    assert not any(row.fresh for row in outcome.rows)


def test_one_fetch_per_url_even_when_readings_share_it(web_box: Sandbox, tmp_path: Path) -> None:
    twins = [reading("one", "https://site.test/gone"), reading("two", "https://site.test/gone")]
    outcome = check(web_box, tmp_path, twins)
    assert fetched(web_box, "/gone") == 1
    assert [row.result.verdict for row in outcome.rows] == [Verdict.BROKEN, Verdict.BROKEN]
    assert set(snapshot_bytes(tmp_path)) == {"one.json", "two.json"}


def test_selection_checks_only_the_selected(web_box: Sandbox, tmp_path: Path) -> None:
    chosen = select(READINGS, ids=["fine"])
    outcome = check(web_box, tmp_path, READINGS, chosen)
    assert [row.reading.id for row in outcome.rows] == ["fine"]
    assert fetched(web_box, "/gone") == 0
    assert set(snapshot_bytes(tmp_path)) == {"fine.json"}


def test_offline_run_records_nothing_and_counts_nothing(web_box: Sandbox, tmp_path: Path) -> None:
    readings = [reading("a", "https://a.test/x"), reading("b", "https://b.test/y")]
    rules = [rf"^https://{h}\.test http://127.0.0.1:{closed_port()}" for h in ("a", "b")]
    rules.append(rf"^https://web\.archive\.org http://127.0.0.1:{closed_port()}")  # the canary
    for _night in range(4):  # however many offline nights: never a failure, never dead
        outcome = check(web_box, tmp_path, readings, extra_rules=rules)
        assert outcome.offline and outcome.inconclusive
        for row in outcome.rows:
            assert row.result.verdict == Verdict.SKIPPED and not row.counted
            assert row.result.reason.startswith(NETWORK_UNREACHABLE)
            assert row.result.health == Health.UNKNOWN
        assert snapshot_bytes(tmp_path) == {}  # the night said nothing: nothing written


def test_one_unreachable_host_among_live_ones_is_broken(web_box: Sandbox, tmp_path: Path) -> None:
    readings = [reading("dead-host", "https://a.test/x"), reading("fine", READINGS[0].url)]
    rules = [rf"^https://a\.test http://127.0.0.1:{closed_port()}"]
    outcome = check(web_box, tmp_path, readings, extra_rules=rules)
    rows = by_id(outcome)
    assert not outcome.offline
    assert rows["dead-host"].result.verdict == Verdict.BROKEN
    assert "connection refused" in rows["dead-host"].result.reason


def test_sync_marks_orphans_at_the_start(web_box: Sandbox, tmp_path: Path) -> None:
    check(web_box, tmp_path, [reading("old", "https://site.test/article")])
    check(web_box, tmp_path, [reading("fine", "https://site.test/article")])
    assert json.loads((tmp_path / "old.json").read_text())["orphaned"] is True


def test_row_annotators_are_the_seam_for_archive_links(web_box: Sandbox, tmp_path: Path) -> None:
    def archive_link(record: Record, row: Row) -> None:
        row.archive_url = record.data.get("captures", {}).get("best")

    ROW_ANNOTATORS.append(archive_link)
    try:
        with Ledger(tmp_path) as ledger:
            record = ledger.record_for(READINGS[2])
            record.section("captures")["best"] = "https://web.archive.org/web/2024/x"
            ledger.save(record)
        outcome = check(web_box, tmp_path, READINGS[2:3])
    finally:
        ROW_ANNOTATORS.remove(archive_link)
    assert outcome.rows[0].archive_url == "https://web.archive.org/web/2024/x"


def test_select_by_ids_and_week() -> None:
    assert [r.id for r in select(READINGS)] == [r.id for r in READINGS]
    assert [r.id for r in select(READINGS, week=2)] == ["gone", "walled", "task"]
    assert [r.id for r in select(READINGS, ["fine"], week=2)] == ["fine", "gone", "walled", "task"]
    with pytest.raises(SelectionError, match="'nope'"):
        select(READINGS, ["nope"])
    with pytest.raises(SelectionError, match="no week 9"):
        select(READINGS, week=9)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20h", timedelta(hours=20)),
        ("3d", timedelta(days=3)),
        ("1d12h", timedelta(hours=36)),
        ("90m", timedelta(minutes=90)),
        ("0", timedelta(0)),
        ("1.5h", timedelta(minutes=90)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "20", "h", "3 days", "-1h", "1x"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


# -- no churn: the nightly commit shows only real changes -------------------------------------
DAY = timedelta(days=1)
STEADY = [r for r in READINGS if r.id != "gone"]  # ok, moved, bot wall, no URL: no failures


def record_files(folder: Path) -> dict[str, tuple[int, int]]:
    return {name: ((folder / name).stat().st_ino, (folder / name).stat().st_mtime_ns)
            for name in snapshot_bytes(folder)}  # fmt: skip


def test_nights_with_identical_outcomes_leave_every_record_byte_identical(
    web_box: Sandbox, tmp_path: Path
) -> None:
    check(web_box, tmp_path, STEADY)
    first, files = snapshot_bytes(tmp_path), record_files(tmp_path)
    web_box.requests.clear()

    outcome = check(web_box, tmp_path, STEADY, now=T0 + DAY, max_age=timedelta(0))
    assert fetched(web_box, "/article") == 1 and fetched(web_box, "/walled") == 1
    assert not any(row.fresh for row in outcome.rows)
    assert snapshot_bytes(tmp_path) == first
    assert record_files(tmp_path) == files  # not even rewritten with the same bytes

    (tmp_path / FRESHNESS_NAME).unlink()  # a fresh CI checkout has no cache: re-check, same bytes
    web_box.requests.clear()
    outcome = check(web_box, tmp_path, STEADY, now=T0 + 2 * DAY)
    assert fetched(web_box, "/article") == 1 and fetched(web_box, "/moved") == 1
    assert snapshot_bytes(tmp_path) == first
    rows = by_id(outcome)
    assert rows["fine"].result.health == Health.ALIVE
    assert rows["fine"].result.checked_at == T0 + 2 * DAY
    assert rows["walled"].result.health == Health.BLOCKED
    stored = json.loads(first["fine.json"])
    assert stored["health"]["since"] == stored["health"]["last_success"] == "2026-03-02T02:00:00Z"
    assert "last_checked" not in stored["health"] and "checks_counted" not in stored["health"]


def test_a_failing_link_is_recorded_every_night_and_dead_on_the_third(
    web_box: Sandbox, tmp_path: Path
) -> None:
    gone = [READINGS[2]]
    healths = [check(web_box, tmp_path, gone, now=T0 + n * DAY).rows[0].result.health
               for n in range(3)]  # fmt: skip
    assert healths == [Health.FAILING, Health.FAILING, Health.DEAD]  # 3 failures over 48 h
    stored = json.loads((tmp_path / "gone.json").read_text())
    assert [c["at"] for c in stored["checks"]] == [
        "2026-03-02T02:00:00Z",
        "2026-03-03T02:00:00Z",
        "2026-03-04T02:00:00Z",
    ]
    assert (stored["health"]["state"], stored["health"]["failures"]) == ("dead", 3)
    assert stored["health"]["since"] == "2026-03-04T02:00:00Z"


def test_max_age_counts_from_the_last_confirmation_in_the_cache(
    web_box: Sandbox, tmp_path: Path
) -> None:
    fine = READINGS[:1]
    check(web_box, tmp_path, fine)  # recorded (and confirmed) at T0
    check(web_box, tmp_path, fine, now=T0 + timedelta(hours=21))  # stale: confirmed again
    stored = (tmp_path / "fine.json").read_bytes()
    assert len(json.loads(stored)["checks"]) == 1  # the repeat is in the cache, not the record
    web_box.requests.clear()

    outcome = check(web_box, tmp_path, fine, now=T0 + timedelta(hours=30))
    assert fetched(web_box, "/article") == 0  # 9 h after the last confirmation: fresh
    assert outcome.rows[0].fresh
    assert outcome.rows[0].result.checked_at == T0 + timedelta(hours=21)

    (tmp_path / FRESHNESS_NAME).unlink()  # without the cache only the record's 30 h old entry
    outcome = check(web_box, tmp_path, fine, now=T0 + timedelta(hours=30))
    assert fetched(web_box, "/article") == 1 and not outcome.rows[0].fresh
    assert (tmp_path / "fine.json").read_bytes() == stored

    web_box.requests.clear()
    outcome = check(web_box, tmp_path, fine, now=T0 + timedelta(hours=31), force=True)
    assert fetched(web_box, "/article") == 1 and not outcome.rows[0].fresh  # fresh, but forced
