"""The write-behind queue keeps a busy check from holding every pending record in memory."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from linkkeeper.core.models import Reading
from linkkeeper.ledger.record import Record
from linkkeeper.ledger.store import Ledger, PendingWrite
from linkkeeper.ledger.writebehind import MAX_BATCH, MAX_QUEUED, WriteBehind

MANY = MAX_QUEUED + 100


def submit_many(ledger: Ledger, writer: WriteBehind, done: list[int]) -> None:
    for n in range(MANY):
        write = ledger.stage(Record.new(Reading(f"r{n}", None, f"https://x.example/{n}")))
        assert write is not None
        writer.submit(write, lambda n=n: done.append(n))


def test_room_waits_until_the_queue_is_short_again(tmp_path: Path) -> None:
    async def go() -> tuple[int, int]:
        with Ledger(tmp_path) as ledger:
            writer, done = WriteBehind(ledger), []
            submit_many(ledger, writer, done)
            assert done == []  # nothing written before the loop runs the writer
            await writer.room()
            after_room = len(done)
            await writer.flush()
            return after_room, len(done)

    after_room, total = asyncio.run(go())
    # fewer than MAX_QUEUED still queued, besides the batch being written
    assert after_room > MANY - MAX_QUEUED - MAX_BATCH
    assert total == MANY
    assert len(list(tmp_path.glob("r*.json"))) == MANY


def test_room_does_not_hang_on_a_failed_writer(tmp_path: Path) -> None:
    async def go() -> None:
        with Ledger(tmp_path) as ledger:
            writer, done = WriteBehind(ledger), []
            submit_many(ledger, writer, done)
            shutil.rmtree(tmp_path)  # every write now fails
            with pytest.raises(OSError):  # the failure, not a hang
                await asyncio.wait_for(writer.room(), timeout=10)
            with pytest.raises(OSError):
                await writer.flush()
            tmp_path.mkdir()  # so the ledger can close

    asyncio.run(go())


def test_the_first_failed_write_stops_everything_and_is_raised_once_retrieved(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A full disk used to print one "Task exception was never retrieved" per batch and
    keep writing (and the run kept fetching): now the first failure is kept, no later batch
    is tried, and every later call raises it."""
    import gc

    async def go() -> None:
        with Ledger(tmp_path) as ledger:
            writer, done = WriteBehind(ledger), []
            submit_many(ledger, writer, done)
            shutil.rmtree(tmp_path)
            with pytest.raises(OSError):
                await writer.flush()
            spare = Record.new(Reading("spare", None, "https://x.example/spare"))
            tmp_path.mkdir()
            write = ledger.stage(spare)
            assert write is not None
            with pytest.raises(OSError):
                writer.submit(write, lambda: None)  # the run stops here
            assert done == [] and not list(tmp_path.glob("*.json"))
            assert writer.on_disk == set()

    asyncio.run(go())
    gc.collect()
    assert "never retrieved" not in caplog.text


def test_records_that_reached_the_disk_are_counted_even_when_interrupted(
    tmp_path: Path,
) -> None:
    """Ctrl-C while a batch is written: the batch still lands (the writer thread finishes)
    but its rows are never made; ``on_disk`` knows every record the run left on disk."""

    async def go() -> WriteBehind:
        with Ledger(tmp_path) as ledger:
            writer, done = WriteBehind(ledger), []
            submit_many(ledger, writer, done)
            await asyncio.sleep(0)  # the first batch goes to the writer thread
            assert writer._task is not None
            writer._task.cancel()  # what asyncio.run does on KeyboardInterrupt
            await asyncio.gather(writer._task, return_exceptions=True)
            await asyncio.get_running_loop().shutdown_default_executor()
            return writer

    writer = asyncio.run(go())
    on_disk = {p.stem for p in tmp_path.glob("r*.json")}
    assert on_disk and writer.on_disk == on_disk


def _stage(ledger: Ledger, n: int) -> PendingWrite:
    write = ledger.stage(Record.new(Reading(f"t{n}", None, f"https://x.example/t{n}")))
    assert write is not None
    return write


def test_writes_that_trickle_in_are_committed_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A steady night's few writes arrive one at a time: the first waits for company, so
    they share one commit instead of one each."""
    import linkkeeper.ledger.writebehind as writebehind

    monkeypatch.setattr(writebehind, "COALESCE_SECONDS", 5.0)  # the flush ends it, not this
    batches: list[int] = []

    async def go() -> list[str]:
        with Ledger(tmp_path) as ledger:
            real = ledger.write_all

            def counted(batch: list[PendingWrite]) -> None:
                batches.append(len(batch))
                real(batch)

            ledger.write_all = counted  # type: ignore[method-assign]
            writer, done = WriteBehind(ledger), []
            for n in range(5):
                writer.submit(_stage(ledger, n), lambda n=n: done.append(f"t{n}"))
                await asyncio.sleep(0.01)
            assert done == []  # still waiting for company
            await asyncio.wait_for(writer.flush(), timeout=2)  # the flush ends the wait at once
            return done

    done = asyncio.run(go())
    assert batches == [5] and done == [f"t{n}" for n in range(5)]
    assert sorted(p.stem for p in tmp_path.glob("t*.json")) == done


def test_a_full_batch_does_not_wait(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import linkkeeper.ledger.writebehind as writebehind

    monkeypatch.setattr(writebehind, "COALESCE_SECONDS", 30.0)

    async def go() -> int:
        with Ledger(tmp_path) as ledger:
            writer, done = WriteBehind(ledger), []
            for n in range(MAX_BATCH):
                writer.submit(_stage(ledger, n), lambda: done.append(1))
            while len(done) < MAX_BATCH:  # written without a flush, long before 30 s
                await asyncio.wait_for(writer._written.wait(), timeout=10)
            return len(done)

    assert asyncio.run(go()) == MAX_BATCH


def test_an_interrupted_wait_still_writes_what_is_queued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while a short batch waits for company: it is written (as the batch under way
    would have been), counted in ``on_disk``, and the cancellation goes on."""
    import linkkeeper.ledger.writebehind as writebehind

    monkeypatch.setattr(writebehind, "COALESCE_SECONDS", 30.0)

    async def go() -> tuple[WriteBehind, list[BaseException | None]]:
        with Ledger(tmp_path) as ledger:
            writer = WriteBehind(ledger)
            for n in range(3):
                writer.submit(_stage(ledger, n), lambda: None)
            await asyncio.sleep(0.05)  # the writer is waiting for company
            assert writer._task is not None and writer.on_disk == set()
            writer._task.cancel()  # what asyncio.run does on KeyboardInterrupt
            outcome = await asyncio.gather(writer._task, return_exceptions=True)
            return writer, outcome

    writer, outcome = asyncio.run(go())
    assert isinstance(outcome[0], asyncio.CancelledError)
    assert writer.on_disk == {"t0", "t1", "t2"} == {p.stem for p in tmp_path.glob("t*.json")}
