"""The write-behind queue keeps a busy check from holding every pending record in memory."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from linkkeeper.ledger import Ledger, Record
from linkkeeper.models import Reading
from linkkeeper.writebehind import MAX_BATCH, MAX_QUEUED, WriteBehind

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
            await asyncio.wait_for(writer.room(), timeout=10)
            with pytest.raises(OSError):
                await writer.flush()
            tmp_path.mkdir()  # so the ledger can close

    asyncio.run(go())
