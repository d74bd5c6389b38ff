"""The ledger's journal: one fsync per batch, and records repaired after the machine died."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from linkkeeper.core.models import Verdict
from linkkeeper.ledger import journal as _journal
from linkkeeper.ledger.store import Ledger
from tests.test_ledger import T0, folder, reading, result, run_child

__all__ = ["folder"]  # the fixture

KILLED_BEFORE_CLOSE = """
    import os, sys
    from datetime import UTC, datetime, timedelta
    from linkkeeper.ledger.store import Ledger
    from linkkeeper.core.models import CheckResult, Reading, Verdict

    t0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    ledger = Ledger(os.environ["FOLDER"]).open()
    for rid in ("torn", "older", "edited", "fine"):
        r = Reading(id=rid, title=rid, url=f"https://example.org/{rid}")
        ledger.add_check(r, CheckResult(id=rid, url=r.url, verdict=Verdict.BROKEN,
                                        reason="HTTP 404", checked_at=t0 + timedelta(days=1)))
    print("written", flush=True)
    sys.stdin.readline()  # killed here: the ledger never closes
"""


def test_a_run_that_never_closed_leaves_a_journal_that_repairs_its_records(
    folder: Path,
) -> None:
    """As after a power cut: one record torn, one back at the version the run replaced, one
    edited by hand since; the next run that takes the lock repairs the first two only."""
    with Ledger(folder) as ledger:
        for rid in ("torn", "older", "edited", "fine"):
            r = reading(rid)
            ledger.add_check(r, result(r, Verdict.OK, T0, 200))
    assert not (folder / _journal.NAME).exists()  # a closed ledger leaves no journal
    before = {rid: (folder / f"{rid}.json").read_bytes() for rid in ("older", "edited")}

    child = run_child(KILLED_BEFORE_CLOSE, folder, stdin=-1)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "written"
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=30)
    assert (folder / _journal.NAME).exists()
    after = {rid: (folder / f"{rid}.json").read_bytes() for rid in ("torn", "fine")}

    (folder / "torn.json").write_bytes(after["torn"][:50])  # never reached the disk whole
    (folder / "older.json").write_bytes(before["older"])  # the rename never reached it
    edited = json.loads(before["edited"])
    edited["title"] = "Edited by hand after the crash"
    (folder / "edited.json").write_text(json.dumps(edited), encoding="utf-8")

    with Ledger(folder) as ledger:
        assert not (folder / _journal.NAME).exists()  # replayed and gone
        verdicts = {rid: ledger.get(rid).checks[-1].verdict for rid in ("torn", "older", "fine")}
    assert verdicts == {"torn": Verdict.BROKEN, "older": Verdict.BROKEN, "fine": Verdict.BROKEN}
    assert (folder / "torn.json").read_bytes() == after["torn"]
    assert (folder / "fine.json").read_bytes() == after["fine"]
    assert json.loads((folder / "edited.json").read_text())["title"] == edited["title"]


def test_a_torn_journal_tail_is_ignored(folder: Path) -> None:
    folder.mkdir(parents=True)
    whole = _journal.frame("kept", b'{"id": "kept"}\n', None)
    torn = _journal.frame("lost", b'{"id": "lost"}\n', None)[:-5]
    (folder / _journal.NAME).write_bytes(whole + torn)
    assert [e.reading_id for e in _journal.entries(whole + torn)] == ["kept"]
    bad = whole.replace(b'"kept"}', b'"kept!}')  # bytes that do not match their checksum
    assert list(_journal.entries(bad)) == []
    assert _journal.replay(folder, lambda rid: folder / f"{rid}.json") == ["kept"]
    assert (folder / "kept.json").read_bytes() == b'{"id": "kept"}\n'
    assert not (folder / "lost.json").exists()


def test_each_batch_is_one_journal_append_until_the_ledger_closes(folder: Path) -> None:
    ledger = Ledger(folder).open()
    try:
        writes = []
        for rid in ("a", "b", "c"):
            r = reading(rid)
            _, write = ledger.stage_check(r, result(r, Verdict.OK, T0, 200))
            assert write is not None
            writes.append(write)
        ledger.write_all(writes)
        frames = list(_journal.entries((folder / _journal.NAME).read_bytes()))
        assert [f.reading_id for f in frames] == ["a", "b", "c"]
        assert all(f.previous is None for f in frames)  # new files
        for f in frames:
            assert (folder / f"{f.reading_id}.json").read_bytes() == f.data
    finally:
        ledger.close()
    assert not (folder / _journal.NAME).exists()
