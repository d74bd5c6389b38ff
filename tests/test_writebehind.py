"""The write-behind queue keeps a busy check from holding every pending record in memory."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from linkkeeper.core.models import Reading
from linkkeeper.ledger.record import Record
from linkkeeper.ledger.store import Ledger
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
