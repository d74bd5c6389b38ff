"""The ledger: one machine-written JSON record per reading in ``snapshots/<id>.json``.

The check, archive and metadata stages fill it; ``readings.yaml`` stays the hand-written source.
Files are small, sorted and stable so a nightly commit shows only real changes: a check that
repeats the previous outcome is not appended (failures always are: they count towards dead),
nothing in a record grows with every identical night, and an unchanged record is never
rewritten. When a success was last confirmed lives in the git-ignored freshness cache
(:mod:`linkkeeper.ledger.freshness`). Writes are atomic and a lock keeps two runs from interleaving.
A hand-mangled file is reported (file, line, fix) and never overwritten.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from filelock import FileLock, Timeout

from linkkeeper.core import (
    CheckResult,
    Health,
    Reading,
    Verdict,
    atomic_write_many,
    atomic_write_text,
    fsync_dir,
    source_stamp,
)
from linkkeeper.ledger import journal as _journal
from linkkeeper.ledger import jsonfile as _jsonfile
from linkkeeper.ledger.freshness import FreshnessCache
from linkkeeper.ledger.health import (
    SUCCESS,
    HealthPolicy,
    assess,
    format_time,
)
from linkkeeper.ledger.record import (
    DEFAULT_MAX_CHECKS,
    Check,
    DamagedRecord,
    LedgerError,
    Record,
    _parse,
    _read,
    _validate,
    repeats_result,
)

LOCK_NAME = ".lock"
OWNER_NAME = ".lock.owner"  # pid/host/start of the lock holder, for the "locked" message
RECORD_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,199}")
STRAY_TEMP_GLOB = ".*.json.*.tmp"  # what an interrupted _atomic write leaves behind
NEW_FILE_MODE = 0o644


_SYNCED = ("url", "title", "orphaned", "health")  # all that Ledger.sync may change
_MISSING = object()


class LedgerLocked(LedgerError):
    """Another run holds ``snapshots/.lock``."""


@dataclass
class SyncResult:
    """What :meth:`Ledger.sync` changed."""

    orphaned: list[str] = field(default_factory=list)  # newly marked: gone from the curriculum
    returned: list[str] = field(default_factory=list)  # back in the curriculum, un-marked


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Ledger:
    """The ``snapshots/`` folder. Reading needs no lock; anything that writes needs :meth:`open`
    (or ``with Ledger(path) as ledger:``), which takes ``snapshots/.lock`` without waiting."""

    def __init__(
        self,
        path: Path | str,
        *,
        policy: HealthPolicy | None = None,
        max_checks: int = DEFAULT_MAX_CHECKS,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.path = Path(path)
        self.policy = policy or HealthPolicy()
        self.max_checks = max_checks
        self.clock = clock  # only for results that carry no checked_at
        self._lock: FileLock | None = None
        self._freshness: FreshnessCache | None = None
        # While the lock is held nobody else writes here: each record's text and data as last
        # read or written (keyed by its stat), so a run reads and validates each file once
        # and an unchanged record is recognised without encoding it.
        self._known: dict[str, _Known] = {}
        self._files: dict[str, Path] = {}  # file_for, remembered
        self._unsynced = 0  # renames since the folder's last fsync
        self._sync_lock = threading.Lock()  # the check engine saves from worker threads
        self._write_lock = threading.Lock()  # one journal append and its renames at a time
        self._journal = _journal.Journal(self.path)
        # Record files found unusable (by id): never written, reported by the commands.
        self.damaged: dict[str, DamagedRecord] = {}

    # -- locking --------------------------------------------------------------------------
    @property
    def lock_path(self) -> Path:
        return self.path / LOCK_NAME

    @property
    def is_open(self) -> bool:
        return self._lock is not None

    def open(self) -> Ledger:
        """Take the lock (or raise :class:`LedgerLocked`) and clear temp files of killed runs."""
        if self._lock is not None:
            return self
        self.path.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.lock_path, blocking=False, thread_local=False)
        try:
            lock.acquire()
        except Timeout:
            raise LedgerLocked(
                f"another linkkeeper run holds {self.lock_path} ({self._holder()}); "
                "wait for it or remove the lock if that process is gone"
            ) from None
        self._lock = lock
        self._known.clear()
        owner = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": format_time(self.clock()),
        }
        atomic_write_text(self.path / OWNER_NAME, json.dumps(owner, sort_keys=True) + "\n")
        # we hold the lock: nobody is writing. A run that died before its close left a journal
        _journal.replay(self.path, self.file_for)
        for stray in self.path.glob(STRAY_TEMP_GLOB):
            stray.unlink(missing_ok=True)
        return self

    def close(self) -> None:
        """Release the lock; safe to call twice."""
        if self._lock is None:
            return
        try:
            with self._write_lock:
                self._journal.settle()  # every record written this run is durable
            if self._freshness is not None:
                self._freshness.save()
            self._sync_dir()
        finally:
            (self.path / OWNER_NAME).unlink(missing_ok=True)
            self._lock.release()
            self._lock = None
            self._known.clear()

    def __enter__(self) -> Ledger:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _holder(self) -> str:
        try:
            owner = json.loads((self.path / OWNER_NAME).read_text(encoding="utf-8"))
            return f"pid {owner['pid']} on {owner['host']}, started at {owner['started_at']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "holder unknown"

    def _require_lock(self) -> None:
        if self._lock is None:
            raise RuntimeError("open the ledger first: `with Ledger(path) as ledger: ...`")

    # -- the freshness cache --------------------------------------------------------------
    @property
    def freshness(self) -> FreshnessCache:
        """When each success was last confirmed (machine-local, git-ignored); loaded once."""
        if self._freshness is None:
            self._freshness = FreshnessCache.load(self.path)
        return self._freshness

    # -- reading --------------------------------------------------------------------------
    def file_for(self, reading_id: str) -> Path:
        """The record file of a reading; refuses ids that are not plain slugs."""
        path = self._files.get(reading_id) if type(reading_id) is str else None
        if path is not None:
            return path
        if not isinstance(reading_id, str) or not RECORD_ID.fullmatch(reading_id):
            raise LedgerError(
                f"reading id {reading_id!r} cannot name a ledger file: ids are slugs of "
                "a-z, 0-9 and '-' (fix the id in the curriculum)"
            )
        path = self._files[reading_id] = self.path / f"{reading_id}.json"
        return path

    def ids(self) -> list[str]:
        """Ids of all record files, sorted (temp and lock files are not records)."""
        if not self.path.is_dir():
            return []
        try:  # as path.glob("*.json"), without a Path per file
            with os.scandir(self.path) as entries:
                stems = [entry.name[:-5] for entry in entries if entry.name.endswith(".json")]
        except PermissionError:
            return []
        return sorted(stem for stem in stems if RECORD_ID.fullmatch(stem))

    def get(self, reading_id: str) -> Record | None:
        """The stored record, ``None`` if there is none; :class:`DamagedRecord` if it is corrupt."""
        return self._record(self._load(self.file_for(reading_id), reading_id), reading_id)

    def find(self, reading_id: str) -> Record | None:
        """:meth:`get` for readers that carry on past damage: a damaged record reads as
        ``None`` and is remembered in :attr:`damaged` for the command to report."""
        try:
            return self.get(reading_id)
        except DamagedRecord:
            return None

    def scan(self, ids: Iterable[str] | None = None) -> dict[str, DamagedRecord]:
        """Validate these records (default: all) and return the damaged ones among them; a
        writer leaves those readings out of its run. Under the lock this is the read the run
        would do anyway: each file is validated once a run."""
        wanted = self.ids() if ids is None else list(ids)
        for reading_id in wanted:
            path = self.file_for(reading_id)
            with contextlib.suppress(DamagedRecord):  # validated once a run, never decoded
                self._load(path, reading_id)  # into a record here: only damage counts
        return {i: self.damaged[i] for i in wanted if i in self.damaged}

    def _record(self, found: Found | None, reading_id: str) -> Record | None:
        if found is None:
            return None
        raw, record = found
        if record is None:  # validated when it was first read or written this run
            record = Record(_jsonfile.decode(raw))
        record.confirmed_at = self.freshness.confirmed(reading_id, record.url)
        return record

    def _load(self, path: Path, reading_id: str) -> Found | None:
        """The file's bytes, and its record when it was read (and validated) just now.

        While the lock is held, a file this run already validated or wrote (same inode, size,
        mtime and mode) comes back without a record: a run validates each file once. Bytes
        this code wrote or validated in an earlier run (their keyed hash in the freshness
        cache) are decoded without validating them again: 15 µs a record on a steady night."""
        read = _read(path)  # the stat of what was read comes with it
        if read is None:
            self._known.pop(reading_id, None)
            self.damaged.pop(reading_id, None)
            return None
        raw, stat = read
        known = self._known.get(reading_id) if self._lock is not None else None
        if known is not None and _stat_key(stat) == known.key:
            return raw, None  # the very file this run validated or wrote: no second check
        digest = record_digest(raw)
        if self.freshness.validated(reading_id) == digest:
            record = Record(_jsonfile.decode(raw))  # bytes already found valid: they decode
        else:
            try:
                record = _parse(path, raw, reading_id)
            except DamagedRecord as exc:
                self.damaged[reading_id] = exc
                raise
            self.freshness.note_validated(reading_id, digest)
        self.damaged.pop(reading_id, None)
        if self._lock is not None:  # only valid files are remembered
            self._known[reading_id] = _Known(_stat_key(stat), stat.st_mode & 0o777)
        return raw, record

    def records(self) -> Iterator[Record]:
        """Every usable record, in id order; damaged ones are left out (see :attr:`damaged`)."""
        for reading_id in self.ids():
            record = self.find(reading_id)
            if record is not None:
                yield record

    def record_for(self, reading: Reading) -> Record:
        """The reading's record (new if none), refreshed from the curriculum; not saved yet."""
        record = self.get(reading.id) or Record.new(reading)
        self._refresh(record, reading)
        return record

    # -- writing --------------------------------------------------------------------------
    def save(self, record: Record) -> bool:
        """Write the record atomically; returns False (file untouched) when nothing changed.

        Refuses to replace a file that is corrupt on disk, so hand edits are never lost.

        Each write is journaled (durable) before the atomic rename, so a crash never leaves
        half a record, and a machine that dies before the ledger closes has its records
        repaired from the journal by the next run (see :mod:`linkkeeper.ledger.journal`): one fsync
        per batch of records instead of one per record."""
        write = self.stage(record)
        if write is None:
            return False
        write()
        return True

    def stage(self, record: Record) -> PendingWrite | None:
        """:meth:`save` in two steps: everything but the disk (validate, encode, compare) now,
        the write later: call the returned :class:`PendingWrite`, or pass a batch of them to
        :meth:`write_all` (``None``: unchanged, nothing to write). Write it before staging
        the same record again."""
        self._require_lock()
        path = self.file_for(record.id)
        return self._stage(record, path, self._load(path, record.id))  # LedgerError if corrupt

    def _stage(
        self, record: Record, path: Path, found: Found | None, *, built: bool = False
    ) -> PendingWrite | None:
        """``built``: ``checks`` all parse and ``health`` was just assessed from them, so
        validating those two again is skipped."""
        try:
            data = _jsonfile.encode(record.data)
        except (TypeError, ValueError):
            _validate(record.data, path, None, record.id)  # a refused record says why first
            raise
        if found is not None and (found[0] == data or _jsonfile.decode(found[0]) == record.data):
            return None  # the same bytes, or the same data formatted by hand: leave it be
        _validate(record.data, path, None, record.id, built=built)
        known = self._known.get(record.id)
        mode = known.mode if found is not None and known is not None else NEW_FILE_MODE
        previous = _journal.digest(found[0]) if found is not None else None
        return PendingWrite(self, path, record.id, data, mode, previous)

    def write_all(self, writes: Iterable[PendingWrite]) -> None:
        """Write staged records as one group commit: the batch is appended to the ledger's
        journal (one write, one fsync: durable from here on, see :mod:`linkkeeper.ledger.journal`),
        then each file is replaced atomically (temp file, rename) without a sync of its own;
        the journal's close makes them durable with one ``syncfs``. Pure I/O with little
        Python in between, so an event loop can run it in a thread."""
        batch = list(writes)
        if not batch:
            return
        frames = [_journal.frame(w.reading_id, w.data, w.previous) for w in batch]
        with self._write_lock:
            self._journal.append(frames)
            stats = atomic_write_many([(w.path, w.data, w.mode) for w in batch], durable=False)
        cache = self._freshness  # loaded by the run that plans (not here: a writer thread)
        for write, stat in zip(batch, stats, strict=True):
            self._known[write.reading_id] = _Known(_stat_key(stat), write.mode)
            if cache is not None:
                cache.note_validated(write.reading_id, record_digest(write.data))
        with self._sync_lock:
            self._unsynced += len(batch)

    def _sync_dir(self) -> None:
        with self._sync_lock:
            if not self._unsynced:
                return
            self._unsynced = 0
            fsync_dir(self.path)

    def add_check(
        self, reading: Reading, result: CheckResult, policy: HealthPolicy | None = None
    ) -> Record:
        """Fold one check into the reading's record, recompute health and save right away
        (so a crash keeps every check done so far). Sets ``result.health``."""
        record, write = self.stage_check(reading, result, policy)
        if write is not None:
            write()
        return record

    def stage_check(
        self,
        reading: Reading,
        result: CheckResult,
        policy: HealthPolicy | None = None,
        *,
        fold: Callable[[Record], object] | None = None,
    ) -> tuple[Record, PendingWrite | None]:
        """:meth:`add_check` with the disk write returned as a call (see :meth:`stage`).
        ``fold`` updates other stages' sections (metadata, drift) in the same read and write."""
        self._require_lock()
        if result.id != reading.id:
            raise ValueError(f"result for {result.id!r} given with reading {reading.id!r}")
        path = self.file_for(reading.id)
        found = self._load(path, reading.id)  # once: stat (and read) the file one time
        record = self._record(found, reading.id) or Record.new(reading)
        self._refresh(record, reading, health=False)  # assessed once, after the new check
        if fold is not None:
            fold(record)
        at = result.checked_at or self.clock()
        record.add(Check.from_result(result, at), self.max_checks)
        state = assess(record.current_checks, policy or self.policy)  # every entry parsed
        record.health = state
        write = self._stage(record, path, found, built=True)
        if result.verdict in SUCCESS or result.verdict == Verdict.BLOCKED:
            # seen as recorded at ``at``: a repeat is not stored, so the cache keeps the date
            # ("checked" on a blocked card is last night's, not the first wall's)
            self.freshness.confirm(record.id, record.url, at)
            record.confirmed_at = max(at, record.confirmed_at or at)
        result.health = state.state  # what record.health.state would parse back
        return record, write

    def repeatable(self, reading: Reading, record: Record) -> Repeat | None:
        """What a success that repeats ``record``'s last check exactly (the check engine's
        carried-over pages) needs to be confirmed without touching the file, worked out from a
        record as :meth:`sync` hands it over (its stored health was just assessed from its
        checks, and written if it differed); ``None`` when no repeat could leave the file as
        it is (title, URL, orphan mark)."""
        data = record.data
        if (data.get("url"), data.get("title"), data.get("orphaned")) != (
            reading.url,
            reading.title,
            False,
        ):
            return None
        entries = data.get("checks")
        if not entries or not isinstance(entries[-1], dict):
            return None
        health = data.get("health")
        state = health.get("state") if isinstance(health, dict) else None
        if state not in Health.__members__.values():
            return None
        return Repeat(record.id, record.url, entries[-1], Health(state))

    def confirm_seen(self, reading: Reading, result: CheckResult, repeat: Repeat) -> bool:
        """Record a success that repeats the last check :meth:`repeatable` saw (the record is
        unchanged since: each reading is recorded once a run, under the lock): nothing in the
        file would change, so only the freshness cache learns of it and nothing is encoded;
        only the last check's outcome is compared. Sets ``result.health``. False (nothing
        done) when the result says something new: use :meth:`stage_check` then."""
        self._require_lock()
        if result.verdict not in SUCCESS or not result.id == reading.id == repeat.reading_id:
            return False
        at = result.checked_at or self.clock()
        if not repeats_result(repeat.last, result, at):
            return False
        self.freshness.confirm(repeat.reading_id, repeat.url, at)
        result.health = repeat.health
        return True

    def sync(
        self, readings: Iterable[Reading], visit: Callable[[Record], object] | None = None
    ) -> SyncResult:
        """Mark records whose reading left the curriculum as orphaned (and un-mark returning
        ones); refresh titles and URLs. Never deletes. Damaged files are left as they are
        (see :attr:`damaged`). ``visit`` sees each usable record of a curriculum reading as it
        is once synced (as :meth:`get` would return it): a run that plans from them reads
        each file once."""
        self._require_lock()
        wanted = {reading.id: reading for reading in readings}
        result = SyncResult()
        for record, path, found in self._load_all():
            was = record.orphaned
            before = [record.data.get(key, _MISSING) for key in _SYNCED]
            reading = wanted.get(record.id)
            if reading is None:
                record.orphaned = True
            else:
                self._refresh(record, reading)
            if record.orphaned != was:
                (result.orphaned if record.orphaned else result.returned).append(record.id)
            if before != [record.data.get(key, _MISSING) for key in _SYNCED]:
                write = self._stage(record, path, found)  # as save(), without reading again
                if write is not None:
                    write()
            if visit is not None and reading is not None:
                visit(record)
        return result

    def prune_orphans(self) -> list[str]:
        """Delete orphaned records (only ever on request); returns their ids."""
        self._require_lock()
        removed = []
        for record, _, _ in self._load_all():
            if record.orphaned:
                self.file_for(record.id).unlink()
                self._known.pop(record.id, None)
                self._unsynced += 1
                removed.append(record.id)
        self._sync_dir()
        return removed

    def _refresh(self, record: Record, reading: Reading, *, health: bool = True) -> None:
        if record.data.get("url") != reading.url:
            record.confirmed_at = None  # it confirmed the old URL
        record.data["url"] = reading.url
        record.data["title"] = reading.title
        record.orphaned = False
        if health:
            record.health = assess(record.current_checks, self.policy)

    def _load_all(self) -> Iterator[tuple[Record, Path, Found]]:
        """Every usable record with its file and what :meth:`_load` found (to stage it
        unread), one at a time (10,000 parsed records at once held ~70 MB); damaged ones are
        left out (see :attr:`damaged`)."""
        for reading_id in self.ids():
            path = self.file_for(reading_id)
            try:
                found = self._load(path, reading_id)
            except DamagedRecord:
                continue
            record = self._record(found, reading_id)
            if record is not None and found is not None:
                yield record, path, found


# -- file parsing -----------------------------------------------------------------------------
# A file's bytes as read or written, with its record when it was parsed (and validated) just
# now; None for a file this run knows unchanged (parse the bytes again: they are valid).
Found = tuple[bytes, Record | None]


@dataclass(frozen=True, slots=True)
class _Known:
    """A record file as this run last read or wrote it: its identity, not its bytes (those
    are re-read from the page cache; 10,000 records kept in memory cost 30 MB)."""

    key: tuple[int, int, int, int]  # inode, size, mtime, mode: changed if any differs
    mode: int  # permission bits, kept when the file is replaced


@dataclass(frozen=True, slots=True)
class PendingWrite:
    """A record staged by :meth:`Ledger.stage`; calling it writes it."""

    ledger: Ledger
    path: Path
    reading_id: str
    data: bytes  # the whole file, UTF-8
    mode: int
    previous: str | None = None  # SHA-256 of the bytes it replaces (None: a new file)

    @property
    def text(self) -> str:
        return self.data.decode("utf-8")

    def __call__(self) -> None:
        self.ledger.write_all([self])


@dataclass(frozen=True, slots=True)
class Repeat:
    """A synced record's last check and health, as :meth:`Ledger.repeatable` found them."""

    reading_id: str
    url: str | None
    last: dict[str, Any]  # the record's last ``checks`` entry, as stored
    health: Health  # its health state, consistent with its checks


# The code that decides whether record bytes are valid: another version (or an edited
# checkout) has another key, so it validates every record once again.
_VALIDATING_CODE = (
    "ledger/record.py", "ledger/health.py", "ledger/jsonfile.py", "core/models.py",
)  # fmt: skip


def record_digest(raw: bytes) -> str:
    """A record file's bytes hashed with a key made of the validating code's source (the
    ``validated`` table of the freshness cache)."""
    return hashlib.blake2b(raw, digest_size=16, key=_digest_key()).hexdigest()


@functools.cache
def _digest_key() -> bytes:
    return bytes.fromhex(source_stamp("ledger records", _VALIDATING_CODE))


def _stat_key(stat: os.stat_result) -> tuple[int, int, int, int]:
    return stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_mode
