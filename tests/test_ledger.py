"""The ledger on a real folder: file format, no churn, corrupt files, orphans, locking, kills."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from linkkeeper.core.models import CheckResult, Health, Reading, Verdict
from linkkeeper.ledger.freshness import FRESHNESS_NAME
from linkkeeper.ledger.health import HealthPolicy
from linkkeeper.ledger.record import LedgerError, Record
from linkkeeper.ledger.store import Ledger, LedgerLocked

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def reading(rid: str = "attention", url: str | None = None, title: str | None = None) -> Reading:
    return Reading(
        id=rid,
        title=title if title is not None else f"Title of {rid}",
        url=url if url is not None else f"https://example.org/{rid}",
    )


def result(
    r: Reading,
    verdict: Verdict,
    at: datetime,
    status: int | None = None,
    reason: str = "",
) -> CheckResult:
    return CheckResult(
        id=r.id,
        url=r.url,
        verdict=verdict,
        reason=reason or verdict.value,
        final_url=r.url,
        http_status=status,
        checked_at=at,
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "snapshots"


@pytest.fixture
def ledger(folder: Path) -> Iterator[Ledger]:
    with Ledger(folder) as opened:
        yield opened


def run_child(code: str, folder: Path, **kwargs: object) -> subprocess.Popen[str]:
    """A separate Python process using the ledger on ``folder``."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "FOLDER": str(folder)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,  # type: ignore[arg-type]
    )


# -- file format ------------------------------------------------------------------------------
def test_record_file_is_deterministic_and_readable(ledger: Ledger, folder: Path) -> None:
    r = reading("attention", "https://arxiv.org/abs/1706.03762", "Attention — é")
    res = result(r, Verdict.OK, T0, 200, "200 OK")
    ledger.add_check(r, res)
    assert res.health == Health.ALIVE
    expected = textwrap.dedent(
        """\
        {
          "checks": [
            {
              "at": "2026-11-26T10:00:00Z",
              "final_url": "https://arxiv.org/abs/1706.03762",
              "http_status": 200,
              "reason": "200 OK",
              "suggestion": null,
              "url": "https://arxiv.org/abs/1706.03762",
              "verdict": "ok"
            }
          ],
          "health": {
            "failures": 0,
            "first_failure": null,
            "last_success": "2026-11-26T10:00:00Z",
            "since": "2026-11-26T10:00:00Z",
            "state": "alive",
            "summary": "alive since 2026-11-26"
          },
          "id": "attention",
          "orphaned": false,
          "title": "Attention — é",
          "url": "https://arxiv.org/abs/1706.03762"
        }
        """
    )
    assert (folder / "attention.json").read_text(encoding="utf-8") == expected
    assert ledger.ids() == ["attention"]


def test_checks_are_capped_newest_last(folder: Path) -> None:
    r = reading()
    with Ledger(folder, max_checks=3) as ledger:
        for day in range(5):  # failures: each one is appended
            ledger.add_check(r, result(r, Verdict.TRANSIENT, T0 + timedelta(days=day), 503))
        record = ledger.get(r.id)
    assert record is not None
    assert [c.at for c in record.checks] == [T0 + timedelta(days=d) for d in (2, 3, 4)]


def test_health_is_folded_in_over_nights(ledger: Ledger) -> None:
    r = reading()
    states = []
    for day in range(3):
        res = result(r, Verdict.BROKEN, T0 + timedelta(days=day), 404)
        ledger.add_check(r, res)
        states.append(res.health)
    assert states == [Health.FAILING, Health.FAILING, Health.DEAD]
    record = ledger.get(r.id)
    assert record is not None
    assert record.health.state == Health.DEAD
    assert record.data["health"]["failures"] == 3


def test_policy_comes_from_the_ledger_or_the_call(folder: Path) -> None:
    r = reading()
    quick = HealthPolicy(dead_after_failures=1, dead_after_hours=0)
    with Ledger(folder, policy=quick) as ledger:
        assert ledger.add_check(r, result(r, Verdict.BROKEN, T0)).health.state == Health.DEAD
    with Ledger(folder) as ledger:
        record = ledger.add_check(r, result(r, Verdict.BROKEN, T0 + timedelta(hours=1)))
        assert record.health.state == Health.FAILING
        record = ledger.add_check(r, result(r, Verdict.BROKEN, T0 + timedelta(hours=2)), quick)
        assert record.health.state == Health.DEAD


def test_check_without_time_uses_the_injected_clock(folder: Path) -> None:
    r = reading()
    res = result(r, Verdict.OK, T0)
    res.checked_at = None
    with Ledger(folder, clock=lambda: T0 + timedelta(days=9)) as ledger:
        record = ledger.add_check(r, res)
    assert record.data["checks"][0]["at"] == "2026-12-05T10:00:00Z"


def test_changed_url_starts_health_over_but_keeps_history(ledger: Ledger) -> None:
    old = reading("paper", "https://old.example/paper")
    for day in range(3):
        ledger.add_check(old, result(old, Verdict.BROKEN, T0 + timedelta(days=day), 404))
    new = reading("paper", "https://new.example/paper")
    record = ledger.record_for(new)
    assert record.health.state == Health.UNKNOWN
    assert len(record.checks) == 3 and record.current_checks == []
    record = ledger.add_check(new, result(new, Verdict.OK, T0 + timedelta(days=4), 200))
    assert record.health.state == Health.ALIVE
    assert len(record.checks) == 4


def test_repeated_skips_do_not_churn_the_file(ledger: Ledger, folder: Path) -> None:
    r = Reading(id="no-link", title="Bring your own notes", url=None)
    ledger.add_check(r, result(r, Verdict.SKIPPED, T0, reason="no URL"))
    before = (folder / "no-link.json").read_text()
    os.utime(folder / "no-link.json", (1_000_000_000, 1_000_000_000))
    ledger.add_check(r, result(r, Verdict.SKIPPED, T0 + timedelta(days=1), reason="no URL"))
    assert (folder / "no-link.json").read_text() == before
    assert (folder / "no-link.json").stat().st_mtime == 1_000_000_000
    record = ledger.get("no-link")
    assert record is not None and record.health.state == Health.UNKNOWN


# -- no churn ---------------------------------------------------------------------------------
def test_unchanged_save_does_not_touch_the_file(ledger: Ledger, folder: Path) -> None:
    r = reading()
    ledger.add_check(r, result(r, Verdict.OK, T0, 200))
    path = folder / f"{r.id}.json"
    os.utime(path, (1_000_000_000, 1_000_000_000))
    inode = path.stat().st_ino

    record = ledger.record_for(r)
    assert ledger.save(record) is False
    assert ledger.sync([r]).orphaned == []
    assert path.stat().st_mtime == 1_000_000_000
    assert path.stat().st_ino == inode

    record.section("metadata")["author"] = "Vaswani"
    assert ledger.save(record) is True
    assert path.stat().st_mtime != 1_000_000_000


def test_unknown_sections_round_trip(ledger: Ledger, folder: Path) -> None:
    r = reading()
    ledger.add_check(r, result(r, Verdict.OK, T0, 200))
    path = folder / f"{r.id}.json"
    data = json.loads(path.read_text())
    extra = {
        "archive": {"latest": "https://web.archive.org/web/20261126/https://example.org/x"},
        "captures": {"2026-11-26": {"sha256": "ab", "bytes": 12}},
        "drift": {"score": 0.25, "notes": ["title changed"]},
        "future_stage": [1, "two", None],
    }
    data.update(extra)
    data["checks"][0]["latency_ms"] = 120  # a field some later version adds to checks
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")

    ledger.add_check(r, result(r, Verdict.BROKEN, T0 + timedelta(days=1), 404))
    ledger.sync([r])
    saved = json.loads(path.read_text())
    for key, value in extra.items():
        assert saved[key] == value
    assert saved["checks"][0]["latency_ms"] == 120
    assert len(saved["checks"]) == 2


def test_section_gives_other_stages_a_dict(ledger: Ledger) -> None:
    record = ledger.record_for(reading())
    record.section("archive")["wayback"] = "https://web.archive.org/web/2026/x"
    assert record.section("archive") == {"wayback": "https://web.archive.org/web/2026/x"}
    with pytest.raises(ValueError):
        record.section("checks")


# -- corrupt files ----------------------------------------------------------------------------
def test_bad_json_names_file_and_line_and_is_never_overwritten(
    ledger: Ledger, folder: Path
) -> None:
    path = folder / "attention.json"
    broken = '{\n  "id": "attention",\n  "checks": [,]\n}\n'
    path.write_text(broken)
    with pytest.raises(LedgerError) as info:
        ledger.get("attention")
    message = str(info.value)
    assert f"{path}:3:" in message
    assert "not valid JSON" in message and "will not overwrite" in message

    r = reading()
    with pytest.raises(LedgerError):
        ledger.add_check(r, result(r, Verdict.OK, T0))
    with pytest.raises(LedgerError):
        ledger.save(Record.new(r))
    assert path.read_text() == broken


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ('[\n  "attention"\n]\n', "expected a JSON object"),
        ('{\n  "checks": [],\n  "id": "other"\n}\n', ":3: id is 'other'"),
        (
            '{\n  "id": "attention",\n  "checks": [\n    {"at": "2026-11-26T10:00:00Z", '
            '"verdict": "ok"},\n    {"at": "2026-11-27T10:00:00Z", "verdict": "gone"}\n  ]\n}\n',
            ":5: checks[1]: verdict 'gone' is not one of ok, moved",
        ),
        ('{\n  "id": "attention",\n  "checks": [{"verdict": "ok"}]\n}\n', "checks[0]"),
        ('{\n  "id": "attention",\n  "orphaned": "yes"\n}\n', ":3: 'orphaned' must be"),
        ('{\n  "id": "attention",\n  "health": {"state": "zombie"}\n}\n', "'health' is malformed"),
    ],
)
def test_wrong_shape_is_reported_and_kept(
    ledger: Ledger, folder: Path, content: str, fragment: str
) -> None:
    path = folder / "attention.json"
    path.write_text(content)
    with pytest.raises(LedgerError) as info:
        ledger.get("attention")
    assert str(path) in str(info.value)
    assert fragment in str(info.value)
    with pytest.raises(LedgerError):
        ledger.save(Record.new(reading()))
    assert path.read_text() == content


def test_not_utf8_is_reported(ledger: Ledger, folder: Path) -> None:
    (folder / "attention.json").write_bytes(b'{"id": "attention\xff"}')
    with pytest.raises(LedgerError, match="not UTF-8"):
        ledger.get("attention")


def test_sync_leaves_a_corrupt_file_alone_and_carries_on(ledger: Ledger, folder: Path) -> None:
    good = reading("good")
    ledger.add_check(good, result(good, Verdict.OK, T0))
    (folder / "bad.json").write_text("{oops")
    result_ = ledger.sync([])
    assert result_.orphaned == ["good"]  # the usable record is still marked
    assert (folder / "bad.json").read_text() == "{oops"
    assert list(ledger.damaged) == ["bad"]
    assert re.search(r"bad\.json:1:2: not valid JSON", str(ledger.damaged["bad"]))


@pytest.mark.parametrize("bad_id", ["../escape", "a/b", "Upper", "", ".hidden", "x.json", "a b"])
def test_ids_that_are_not_slugs_are_refused(ledger: Ledger, folder: Path, bad_id: str) -> None:
    with pytest.raises(LedgerError, match="slugs"):
        ledger.get(bad_id)
    r = Reading(id=bad_id, title=None, url="https://example.org/")
    with pytest.raises(LedgerError):
        ledger.add_check(r, result(r, Verdict.OK, T0))
    assert not (folder.parent / "escape.json").exists()
    assert ledger.ids() == []


def test_writing_needs_the_lock(folder: Path) -> None:
    ledger = Ledger(folder)
    with pytest.raises(RuntimeError, match="open the ledger"):
        ledger.save(Record.new(reading()))


# -- orphans ----------------------------------------------------------------------------------
def test_orphans_are_marked_never_deleted_until_pruned(ledger: Ledger, folder: Path) -> None:
    a, b, c = reading("a"), reading("b"), reading("c")
    for r in (a, b, c):
        ledger.add_check(r, result(r, Verdict.OK, T0))

    first = ledger.sync([a, b])
    assert (first.orphaned, first.returned) == (["c"], [])
    assert sorted(p.name for p in folder.glob("*.json")) == ["a.json", "b.json", "c.json"]
    record = ledger.get("c")
    assert record is not None and record.orphaned

    again = ledger.sync([a, b])
    assert (again.orphaned, again.returned) == ([], [])

    back = ledger.sync([a, b, c])
    assert back.returned == ["c"]
    assert ledger.get("c").orphaned is False  # type: ignore[union-attr]

    ledger.sync([a])
    assert ledger.prune_orphans() == ["b", "c"]
    assert ledger.ids() == ["a"]


def test_sync_refreshes_titles(ledger: Ledger) -> None:
    r = reading("a", title="Old title")
    ledger.add_check(r, result(r, Verdict.OK, T0))
    ledger.sync([reading("a", title="New title")])
    assert ledger.get("a").title == "New title"  # type: ignore[union-attr]


# -- locking ----------------------------------------------------------------------------------
LOCK_PROBE = """
    import os, sys
    from linkkeeper.ledger.store import Ledger, LedgerLocked
    try:
        with Ledger(os.environ["FOLDER"]):
            print("acquired")
    except LedgerLocked as exc:
        print(exc)
        sys.exit(3)
"""


def test_second_run_is_refused_with_a_clear_message(folder: Path) -> None:
    with Ledger(folder):
        child = run_child(LOCK_PROBE, folder)
        out, err = child.communicate(timeout=30)
        assert child.returncode == 3, err
        assert f"another linkkeeper run holds {folder / '.lock'}" in out
        assert f"(pid {os.getpid()} on " in out
        assert "started at 20" in out
        assert "wait for it or remove the lock if that process is gone" in out

        with pytest.raises(LedgerLocked):  # also within one process
            Ledger(folder).open()

    child = run_child(LOCK_PROBE, folder)
    out, err = child.communicate(timeout=30)
    assert (child.returncode, out.strip()) == (0, "acquired"), err
    assert not (folder / ".lock.owner").exists()


# -- killed writers ---------------------------------------------------------------------------
KILLED_BEFORE_RENAME = """
    import os, sys, time
    from datetime import UTC, datetime
    from linkkeeper.ledger.store import Ledger
    from linkkeeper.core.models import CheckResult, Reading, Verdict

    def stall(src, dst):  # the temp file is written and fsynced: die before the rename
        print("about to rename", flush=True)
        time.sleep(60)

    r = Reading(id="attention", title="Attention", url="https://example.org/attention")
    with Ledger(os.environ["FOLDER"]) as ledger:
        os.replace = stall
        big = CheckResult(id=r.id, url=r.url, verdict=Verdict.BROKEN, reason="x" * 200_000,
                          checked_at=datetime(2026, 11, 27, tzinfo=UTC))
        ledger.add_check(r, big)
"""


def test_writer_killed_between_write_and_rename_leaves_old_file(folder: Path) -> None:
    r = reading("attention", "https://example.org/attention", "Attention")
    with Ledger(folder) as ledger:
        ledger.add_check(r, result(r, Verdict.OK, T0, 200))
    path = folder / "attention.json"
    old = path.read_text()

    child = run_child(KILLED_BEFORE_RENAME, folder)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "about to rename"
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=30)

    assert path.read_text() == old
    assert json.loads(old)["checks"][0]["verdict"] == "ok"
    strays = list(folder.glob(".attention.json.*.tmp"))
    assert len(strays) == 1 and strays[0].stat().st_size > 200_000  # it really was mid-write

    reader = Ledger(folder)
    assert reader.ids() == ["attention"]
    assert reader.get("attention") == Record(json.loads(old))

    with Ledger(folder) as ledger:  # the dead holder's lock is gone; its temp file is cleared
        assert not list(folder.glob(".*.tmp"))
        assert json.loads((folder / ".lock.owner").read_text())["pid"] == os.getpid()


LOOPING_WRITER = """
    import os
    from datetime import UTC, datetime, timedelta
    from linkkeeper.ledger.store import Ledger
    from linkkeeper.core.models import CheckResult, Reading, Verdict

    r = Reading(id="looping", title="Loop", url="https://example.org/loop")
    t0 = datetime(2026, 11, 26, tzinfo=UTC)
    with Ledger(os.environ["FOLDER"], max_checks=1000) as ledger:
        for n in range(100_000):  # failures: every one is appended and saved
            ledger.add_check(r, CheckResult(id=r.id, url=r.url, verdict=Verdict.TRANSIENT,
                                            reason="y" * 2_000, checked_at=t0 + timedelta(n)))
            print(n, flush=True)
"""


def test_writer_killed_at_an_arbitrary_moment_leaves_valid_json(folder: Path) -> None:
    child = run_child(LOOPING_WRITER, folder)
    assert child.stdout is not None
    written = 0
    while written < 40:
        written = int(child.stdout.readline()) + 1
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=30)

    data = json.loads((folder / "looping.json").read_text())
    assert data["id"] == "looping"
    assert len(data["checks"]) >= written  # every reported save is on disk
    assert Ledger(folder).get("looping") is not None


# -- what a check adds to the history -------------------------------------------------------
def outcome(r: Reading, verdict: Verdict, at: datetime, reason: str = "") -> CheckResult:
    return result(r, verdict, at, 200 if verdict == Verdict.OK else 404, reason)


def test_a_repeated_outcome_is_not_appended_whatever_its_reason_or_time(
    ledger: Ledger, folder: Path
) -> None:
    r = reading()
    ledger.add_check(r, outcome(r, Verdict.OK, T0, reason="HTTP 200 OK"))
    before = (folder / "attention.json").read_bytes()
    record = ledger.add_check(r, outcome(r, Verdict.OK, T0 + timedelta(days=1), reason="200"))
    assert (folder / "attention.json").read_bytes() == before
    assert record.health.since == T0  # alive since the first success, from the stored entry
    assert record.health.last_checked == T0 + timedelta(days=1)  # in memory: from the cache

    wall = reading("walled")
    for day in range(3):
        ledger.add_check(wall, outcome(wall, Verdict.BLOCKED, T0 + timedelta(days=day)))
    stored = ledger.get("walled")
    assert stored is not None and len(stored.checks) == 1
    assert (stored.health.state, stored.health.since) == (Health.BLOCKED, T0)


@pytest.mark.parametrize(
    "change",
    [
        {"verdict": Verdict.BROKEN, "http_status": 404},  # ok -> broken
        {"http_status": 203},
        {"final_url": "https://example.org/attention-v2"},  # a new final URL
        {"verdict": Verdict.MOVED, "suggestion": "https://example.org/new"},
    ],
)
def test_a_changed_outcome_is_appended(ledger: Ledger, change: dict[str, object]) -> None:
    r = reading()
    ledger.add_check(r, outcome(r, Verdict.OK, T0))
    later = outcome(r, Verdict.OK, T0 + timedelta(days=1))
    for name, value in change.items():
        setattr(later, name, value)
    record = ledger.add_check(r, later)
    assert len(record.checks) == 2
    assert record.data["checks"][-1]["at"] == "2026-11-27T10:00:00Z"


def test_failures_are_always_appended_and_recovery_too(ledger: Ledger) -> None:
    r = reading()
    for day in range(3):
        ledger.add_check(r, outcome(r, Verdict.BROKEN, T0 + timedelta(days=day)))
    record = ledger.add_check(r, outcome(r, Verdict.OK, T0 + timedelta(days=3)))  # broken -> ok
    assert [c.verdict for c in record.checks] == [Verdict.BROKEN] * 3 + [Verdict.OK]
    assert record.health.state == Health.ALIVE and record.health.since == T0 + timedelta(days=3)


def test_the_freshness_cache_is_not_a_record_and_a_bad_one_means_recheck(folder: Path) -> None:
    r = reading()
    with Ledger(folder) as ledger:
        ledger.add_check(r, outcome(r, Verdict.OK, T0))
    cache = folder / FRESHNESS_NAME
    assert json.loads(cache.read_text())["confirmed"]["attention"]["at"] == "2026-11-26T10:00:00Z"
    reader = Ledger(folder)
    assert reader.ids() == ["attention"]
    assert reader.get("attention").confirmed_at == T0  # type: ignore[union-attr]

    for damage in ("{not json", "[1, 2]", "[" * 10_000 + "]" * 10_000, '{"version": 1e999}'):
        cache.write_text(damage)
        record = Ledger(folder).get("attention")
        assert record is not None and record.confirmed_at is None
        assert record.health.last_checked == T0  # the stored check still says when it was seen


# -- staged writes (the check engine writes in batches, off the event loop) --------------------
def test_staged_records_are_written_as_one_batch(ledger: Ledger, folder: Path) -> None:
    staged = []
    for rid in ("a", "b", "c"):
        r = reading(rid)
        record, write = ledger.stage_check(r, outcome(r, Verdict.OK, T0))
        assert write is not None and not (folder / f"{rid}.json").exists()  # not yet
        staged.append(write)
    ledger.write_all(staged)
    assert ledger.ids() == ["a", "b", "c"] and not list(folder.glob(".*.tmp"))
    assert ledger.get("b").health.state == Health.ALIVE  # type: ignore[union-attr]
    record = ledger.record_for(reading("b"))
    assert ledger.stage(record) is None  # known to be on disk as it is


def test_a_replaced_record_keeps_its_permissions(ledger: Ledger, folder: Path) -> None:
    r = reading()
    ledger.add_check(r, outcome(r, Verdict.OK, T0))
    path = folder / "attention.json"
    assert path.stat().st_mode & 0o777 == 0o644
    path.chmod(0o664)  # a group-writable checkout
    ledger.add_check(r, outcome(r, Verdict.BROKEN, T0 + timedelta(days=1)))
    assert path.stat().st_mode & 0o777 == 0o664
    assert len(json.loads(path.read_text())["checks"]) == 2
