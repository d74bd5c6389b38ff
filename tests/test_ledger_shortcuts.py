"""The ledger's hot-path shortcuts give exactly what the long way gave: times, parsed entries,
errors, and which files get rewritten."""

from __future__ import annotations

import json
import os
import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from linkkeeper.core.atomic import atomic_write_many
from linkkeeper.core.models import CheckResult, Health, Reading, Verdict
from linkkeeper.ledger.health import HealthState, format_day, format_time
from linkkeeper.ledger.record import Check, LedgerError, Record
from linkkeeper.ledger.store import Ledger

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
READING = Reading(id="attention", title="Attention", url="https://example.org/attention")


def some_times() -> list[datetime]:
    rng = random.Random(11)
    zones = [UTC, None, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-11))]
    times = [datetime(1, 1, 1, tzinfo=UTC), datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC),
             datetime(1000, 1, 1), datetime(9999, 12, 31, 12, tzinfo=UTC)]  # fmt: skip
    for _ in range(2000):
        moment = datetime(1000, 1, 2) + timedelta(seconds=rng.randrange(9_000 * 365 * 86_400))
        times.append(moment.replace(microsecond=rng.randrange(10**6), tzinfo=rng.choice(zones)))
    return times


@pytest.mark.parametrize("when", some_times()[:4])
def test_edge_times_are_formatted_as_strftime_formats_them(when: datetime) -> None:
    aware = when if when.tzinfo else when.replace(tzinfo=UTC)
    assert format_time(when) == aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert format_day(when) == aware.astimezone(UTC).strftime("%Y-%m-%d")


def test_times_are_formatted_as_strftime_formats_them() -> None:
    for when in some_times():
        aware = when if when.tzinfo else when.replace(tzinfo=UTC)
        assert format_time(when) == aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert format_day(when) == aware.astimezone(UTC).strftime("%Y-%m-%d")
    assert format_time(None) is None and format_day(None) == "never"


def test_parsed_entries_are_ordinary_frozen_checks() -> None:
    entry = {"at": "2026-11-26T10:00:00Z", "verdict": "broken", "reason": "gone", "url": "u",
             "http_status": 404, "final_url": "f", "suggestion": None, "extra": 1}  # fmt: skip
    parsed = Check.from_dict(entry)
    built = Check(T0, Verdict.BROKEN, "gone", "u", 404, "f", None)
    assert parsed == built and hash(parsed) == hash(built) and repr(parsed) == repr(built)
    with pytest.raises(AttributeError):
        parsed.reason = "changed"  # type: ignore[misc]


@pytest.mark.parametrize("bad", ["gone", "OK", None, 3, ["ok"], {"v": 1}])
def test_bad_verdicts_and_states_say_what_they_said_before(bad: object) -> None:
    with pytest.raises(ValueError, match="is not one of ok, moved, broken"):
        Check.from_dict({"at": "2026-11-26T10:00:00Z", "verdict": bad})
    with pytest.raises(ValueError) as info:
        HealthState.from_dict({"state": bad})
    with pytest.raises(ValueError) as before:
        Health(bad)  # type: ignore[arg-type]
    assert str(info.value) == str(before.value)


def _check_ok(ledger: Ledger) -> None:
    ledger.add_check(READING, CheckResult(READING.id, READING.url, Verdict.OK, "200",
                                          http_status=200, checked_at=T0))  # fmt: skip


def test_a_hand_formatted_file_with_the_same_data_is_left_alone(tmp_path: Path) -> None:
    with Ledger(tmp_path) as ledger:
        _check_ok(ledger)
    path = tmp_path / "attention.json"
    data = json.loads(path.read_text())
    by_hand = json.dumps(data, indent=4).replace("\n", "\r\n").encode()  # unsorted, CRLF
    path.write_bytes(by_hand)
    with Ledger(tmp_path) as ledger:
        assert ledger.sync([READING]).orphaned == []
        assert ledger.save(ledger.record_for(READING)) is False
        repeat = CheckResult(READING.id, READING.url, Verdict.OK, "200 again", http_status=200,
                             checked_at=T0 + timedelta(days=1))  # fmt: skip
        _, write = ledger.stage_check(READING, repeat)
        assert write is None  # a repeated success: nothing new to write
    assert path.read_bytes() == by_hand


def test_a_file_replaced_behind_the_ledgers_back_is_read_again(tmp_path: Path) -> None:
    with Ledger(tmp_path) as ledger:
        _check_ok(ledger)
        path = tmp_path / "attention.json"
        data = json.loads(path.read_text())
        data["title"] = "Edited by hand"
        os.replace(_write_elsewhere(tmp_path, json.dumps(data)), path)  # a new inode
        record = ledger.get(READING.id)
        assert record is not None and record.title == "Edited by hand"
        path.write_text("{oops")  # in place: same inode
        with pytest.raises(LedgerError, match="not valid JSON"):
            ledger.get(READING.id)


def _write_elsewhere(folder: Path, text: str) -> Path:
    other = folder / "elsewhere.tmp"
    other.write_text(text, encoding="utf-8")
    return other


@pytest.mark.parametrize("files", [1, 20])
def test_group_writes_leave_no_temp_files_and_keep_modes(tmp_path: Path, files: int) -> None:
    items = [(tmp_path / f"r{n}.json", f"{n}\n".encode() * 1000, 0o640) for n in range(files)]
    stats = atomic_write_many(items)
    assert [s.st_size for s in stats] == [len(data) for _, data, _ in items]
    for (path, data, mode), stat in zip(items, stats, strict=True):
        assert path.read_bytes() == data and path.stat().st_mode & 0o777 == mode
        assert path.stat().st_ino == stat.st_ino
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p, _, _ in items)


def test_ids_are_the_record_files_only(tmp_path: Path) -> None:
    for name in ("b.json", "a.json", ".a.json.1234.tmp", ".lock", "A.json", "x.y.json", "c.txt"):
        (tmp_path / name).write_text("{}")
    (tmp_path / "dir.json").mkdir()
    assert Ledger(tmp_path).ids() == ["a", "b", "dir"]
    assert Ledger(tmp_path / "missing").ids() == []
    assert Ledger(tmp_path / "c.txt").ids() == []


def test_record_to_json_is_the_file_text(tmp_path: Path) -> None:
    record = Record.new(READING)
    record.section("drift")["similarity"] = 1e-05
    assert record.to_json() == json.dumps(record.data, sort_keys=True, indent=2,
                                          ensure_ascii=False) + "\n"  # fmt: skip


def test_a_repeated_success_is_recognised_exactly_as_its_entry_would_be() -> None:
    """``repeats_result`` (a steady night's shortcut) says what comparing the entry
    ``Check.from_result(...).to_dict()`` would have said, over random outcomes and times."""
    from linkkeeper.ledger.record import _repeats, repeats_result

    rng = random.Random(16)
    base = datetime(2026, 12, 4, 9, 0, 0, tzinfo=UTC)
    urls = ["https://a.example/x", "https://a.example/y", None]
    for _ in range(3000):
        at = base + timedelta(seconds=rng.randint(-90, 90), microseconds=rng.randint(0, 999_999))
        if rng.random() < 0.2:
            at = at.astimezone(timezone(timedelta(hours=rng.randint(-12, 12))))
        elif rng.random() < 0.1:
            at = at.replace(tzinfo=None)  # naive: UTC
        result = CheckResult(
            "r", rng.choice(urls[:2]), rng.choice([Verdict.OK, Verdict.MOVED, "ok"]), "fine",
            http_status=rng.choice([200, 301, None]), final_url=rng.choice(urls),
            suggestion=rng.choice([None, "https://a.example/z"]),
        )  # fmt: skip
        last = Check.from_result(result, at).to_dict()
        for key in rng.sample(["verdict", "url", "http_status", "final_url", "suggestion"], 1):
            if rng.random() < 0.5:
                last[key] = rng.choice(["ok", "moved", 200, 301, None, *urls])
        stamp = base + timedelta(seconds=rng.randint(-90, 90))
        last["at"] = rng.choice(
            [format_time(stamp), stamp.isoformat(), None, 7, "yesterday", "2026-12-04"]
        )
        assert repeats_result(last, result, at) == _repeats(
            last, Check.from_result(result, at).to_dict()
        ), (last, result, at)


def _parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids whose bytes the ledger validates from here on (full ``_parse``)."""
    import linkkeeper.ledger.store as store

    seen: list[str] = []
    real = store._parse

    def counted(path: Path, raw: bytes, reading_id: str) -> Record:
        seen.append(reading_id)
        return real(path, raw, reading_id)

    monkeypatch.setattr(store, "_parse", counted)
    return seen


def test_bytes_written_or_validated_before_are_not_validated_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A steady night decodes a record this code wrote (or validated) without validating
    it again; a hand edit, even one that keeps the file valid, is validated, and a damaged
    one is still reported, whatever an earlier run validated."""
    with Ledger(tmp_path) as ledger:
        _check_ok(ledger)  # written: its bytes are known valid
    parsed = _parses(monkeypatch)
    with Ledger(tmp_path) as ledger:
        record = ledger.get(READING.id)
        assert record is not None and record.title == "Attention" and len(record.checks) == 1
    assert parsed == []

    path = tmp_path / "attention.json"
    data = json.loads(path.read_text())
    data["title"] = "Edited by hand"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    for _ in range(2):  # validated once; the next run knows these bytes too
        with Ledger(tmp_path) as ledger:
            record = ledger.get(READING.id)
            assert record is not None and record.title == "Edited by hand"
    assert parsed == [READING.id]

    data["checks"][0]["verdict"] = "fine"  # still JSON, no longer a record
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    with Ledger(tmp_path) as ledger, pytest.raises(LedgerError, match="checks\\[0\\]"):
        ledger.get(READING.id)


def test_a_cache_made_by_other_code_or_for_other_bytes_is_no_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hash is keyed with the validating code's source: a digest another version (or a
    plain, unkeyed hash) would make does not spare the validation."""
    import hashlib

    from linkkeeper.ledger.freshness import FreshnessCache
    from linkkeeper.ledger.store import record_digest

    with Ledger(tmp_path) as ledger:
        _check_ok(ledger)
    raw = (tmp_path / "attention.json").read_bytes()
    assert FreshnessCache.load(tmp_path).validated(READING.id) == record_digest(raw)
    unkeyed = hashlib.blake2b(raw, digest_size=16).hexdigest()
    assert unkeyed != record_digest(raw)
    cache = FreshnessCache.load(tmp_path)
    cache.note_validated(READING.id, unkeyed)
    cache.save()
    parsed = _parses(monkeypatch)
    with Ledger(tmp_path) as ledger:
        assert ledger.get(READING.id) is not None
    assert parsed == [READING.id]
    assert FreshnessCache.load(tmp_path).validated(READING.id) == record_digest(raw)
