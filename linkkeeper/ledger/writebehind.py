"""Ledger writes in the background of a check run, in batches.

The engine folds each result into its record on the event loop (CPU work), then hands the
file write here and goes on fetching. One write at a time runs in a thread, taking every
record staged meanwhile as one group commit (:meth:`Ledger.write_all`): the fsyncs of a busy
run cost about one journal commit per batch, and a single thread doing pure I/O hardly
competes with the loop for the GIL (six threads of small writes slowed the loop's own system
calls by a third). A row is final only once its record is on disk.

A write that finds fewer than a batch queued waits up to :data:`COALESCE_SECONDS` for company
before the commit starts: on a steady night the few changed pages trickle in one at a time, and
each used to cost a commit of its own (a journal fsync, a thread hand-off): 500 changed pages of
10,000 cost 0.3 s more CPU that way. A full batch, :meth:`WriteBehind.flush` (the end of the
run) and Ctrl-C end the wait at once; an interrupted wait still writes what is queued, as the
batch under way would have been.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from linkkeeper.ledger.store import Ledger, PendingWrite

MAX_BATCH = 64  # records per group commit (each holds a file descriptor until its rename)
MAX_QUEUED = 256  # writes waiting before submitters pause (see WriteBehind.room)
COALESCE_SECONDS = 0.05  # how long a short batch waits for more before it is committed


class WriteBehind:
    """Queue of staged record writes; ``done`` callbacks run on the loop after each write."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._queue: list[tuple[PendingWrite, Callable[[], None]]] = []
        self._task: asyncio.Task[None] | None = None
        self._written = asyncio.Event()  # set (and replaced) after each batch
        self._hurry = asyncio.Event()  # set: commit now (a full batch queued, or a flush)
        self._flushing = False
        # The first write that failed (a full disk, a folder gone): nothing more is written
        # and every later call raises it, so the run stops fetching pages it cannot record.
        self.failed: BaseException | None = None
        # Ids whose record reached the disk, noted by the writing thread itself: a run
        # interrupted while a batch is written still knows every record it left on disk.
        self.on_disk: set[str] = set()

    def submit(self, write: PendingWrite, done: Callable[[], None]) -> None:
        """Write soon; call ``done`` once the record is on disk. Raises the first failed
        write's error instead, once there was one."""
        if self.failed is not None:
            raise self.failed
        self._queue.append((write, done))
        if len(self._queue) >= MAX_BATCH:
            self._hurry.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def room(self) -> None:
        """Wait while :data:`MAX_QUEUED` writes wait (besides the batch under way). A loop busy
        with CPU work (parsing pages for metadata) starves the writer thread of the GIL;
        unchecked, the queue and the records it holds grew with the run (8,600 of 10,000
        records at once, ~30 MB)."""
        while len(self._queue) >= MAX_QUEUED and self._task is not None and not self._task.done():
            await self._written.wait()
        if self.failed is not None:
            raise self.failed

    async def flush(self) -> None:
        """Wait until every submitted write is on disk; raises what a write raised."""
        self._flushing = True
        self._hurry.set()
        try:
            while self._task is not None:
                task = self._task
                await task
                if self._task is task:
                    self._task = None
        finally:
            self._flushing = False
        if self.failed is not None:
            raise self.failed

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        interrupted = False
        try:
            while self._queue:
                if not interrupted and not self._hurry.is_set():
                    try:
                        await self._company()
                    except asyncio.CancelledError:  # Ctrl-C: write what is queued, then stop
                        interrupted = True
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                if not self._flushing and len(self._queue) < MAX_BATCH:
                    self._hurry.clear()
                # the default executor: asyncio.run waits for it, so an interrupted run still
                # finishes the batch under way before the ledger lock is released
                await loop.run_in_executor(None, self._write, [w for w, _ in batch])
                for _, done in batch:
                    done()
                self._wake()
                if interrupted:
                    raise asyncio.CancelledError
        except Exception as exc:  # kept, raised to the run by the next call: never "never
            self.failed = exc  # retrieved", and no batch after it is tried
            self._queue.clear()
        finally:
            self._wake()  # waiters of room() see a failed writer too

    async def _company(self) -> None:
        """Wait up to :data:`COALESCE_SECONDS` for a full batch or a flush."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(COALESCE_SECONDS):
                await self._hurry.wait()

    def _write(self, batch: list[PendingWrite]) -> None:
        """In the writer thread: the group commit, then note what reached the disk. A group
        that does not fit (a full disk) is written record by record, as far as they fit: a
        batch waiting for company must not cost the records a smaller one would have kept."""
        try:
            self.ledger.write_all(batch)
        except OSError:
            if len(batch) == 1:
                raise
            for write in batch:  # the first that does not fit raises, as the group did
                self.ledger.write_all([write])
                self.on_disk.add(write.reading_id)
            return
        self.on_disk.update(w.reading_id for w in batch)

    def _wake(self) -> None:
        self._written.set()
        self._written = asyncio.Event()
