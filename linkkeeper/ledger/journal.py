"""The ledger's write-ahead journal: durable record writes without an fsync per file.

A check run writes thousands of small record files. Making each one durable on its own (fsync
the file before its rename) cost about 100-150 µs of kernel time per record on the benchmark
machine, most of the ledger's cost. Instead, each batch of record writes is first appended to
``snapshots/.journal`` (one ``write`` and one ``fsync`` per batch, every entry checksummed);
the record files are then replaced atomically as before (temp file, rename), but not synced
one by one. When the ledger closes, one ``syncfs`` makes every file durable and the journal
is deleted. Crashes:

- the process dies (Ctrl-C, a kill, an exception): every renamed file is complete (the kernel
  has it); the journal stays and the next run that takes the lock checks it (no-op);
- the machine dies before the close: a record may be older than its journal entry, or torn.
  The next run that takes the lock replays the journal: a file that is missing, unreadable, or
  still the version the entry replaced gets the entry's bytes (atomically, synced). A file
  that is none of these was edited by hand since and is left alone. A torn journal tail (the
  batch under way) is ignored: those records had not been renamed yet.

Entry: ``LKJ1 <id> <length> <sha256 of the bytes> <sha256 of the bytes replaced, or ->\\n``,
the record's bytes, ``\\n``.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from linkkeeper.core import atomic_write_bytes, fsync_dir, name_file

NAME = ".journal"
MAGIC = b"LKJ1"

log = logging.getLogger(__name__)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def frame(reading_id: str, data: bytes, previous: str | None) -> bytes:
    """One journal entry; ``previous``: the digest of the bytes it replaces (None: new)."""
    head = f"LKJ1 {reading_id} {len(data)} {digest(data)} {previous or '-'}\n".encode("ascii")
    return head + data + b"\n"


@dataclass(frozen=True, slots=True)
class Entry:
    reading_id: str
    data: bytes
    sha: str
    previous: str | None


def entries(raw: bytes) -> Iterator[Entry]:
    """The whole, checksummed entries of a journal, in order; stops at the first torn one."""
    pos = 0
    while pos < len(raw):
        end = raw.find(b"\n", pos)
        if end < 0:
            return
        parts = raw[pos:end].split(b" ")
        if len(parts) != 5 or parts[0] != MAGIC or not parts[2].isdigit():
            return
        size = int(parts[2])
        start = end + 1
        data = raw[start : start + size]
        sha = parts[3].decode("ascii", "replace")
        whole = len(data) == size and raw[start + size : start + size + 1] == b"\n"
        if not whole or digest(data) != sha:
            return  # the batch under way when the machine died
        previous = parts[4].decode("ascii", "replace")
        reading_id = parts[1].decode("ascii", "replace")
        yield Entry(reading_id, data, sha, None if previous == "-" else previous)
        pos = start + size + 1


def _syncfs(fd: int) -> None:
    """Flush every file written on ``fd``'s file system (Linux ``syncfs``; else ``sync``)."""
    try:
        call = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        os.sync()
        return
    if call(fd) != 0:
        os.sync()


class Journal:
    """The open journal of one ledger folder (used under the ledger's lock)."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / NAME
        self._fd: int | None = None

    def append(self, frames: list[bytes]) -> None:
        """Append entries and make them durable: one write, one fsync. An append that fails
        (a full disk) is cut off again, so the next one never follows a torn entry."""
        size: int | None = None
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC,
                                   0o644)  # fmt: skip
            size = os.fstat(self._fd).st_size
            view = memoryview(b"".join(frames))
            while view:
                view = view[os.write(self._fd, view) :]
            os.fsync(self._fd)
        except OSError as exc:  # a full disk: say which file (os.write does not)
            if size is not None and self._fd is not None:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, size)
            name_file(exc, self.path)
            raise

    def settle(self) -> None:
        """Make every file written since the journal began durable, then drop the journal."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            _syncfs(fd)
        finally:
            os.close(fd)
        self.path.unlink(missing_ok=True)
        fsync_dir(self.path.parent)


def replay(folder: Path, file_for: Callable[[str], Path]) -> list[str]:
    """Bring the record files a dead run journaled up to date (see the module); returns the ids
    rewritten. Run under the lock, before anything else writes; deletes the journal."""
    path = Path(folder) / NAME
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    last: dict[str, Entry] = {}
    older: dict[str, set[str]] = {}
    for entry in entries(raw):
        earlier = last.get(entry.reading_id)
        known = older.setdefault(entry.reading_id, set())
        if earlier is not None:
            known.add(earlier.sha)
        if entry.previous:
            known.add(entry.previous)
        last[entry.reading_id] = entry
    rewritten = []
    for reading_id, entry in last.items():
        try:
            target = file_for(reading_id)
        except Exception:  # not an id this ledger would write: a foreign line
            continue
        try:
            current: bytes | None = target.read_bytes()
        except FileNotFoundError:
            current = None
        if current is not None and digest(current) == entry.sha:
            continue
        if current is not None and digest(current) not in older[reading_id] and _readable(current):
            log.warning("%s changed since the run that journaled it; left as it is", target)
            continue
        atomic_write_bytes(target, entry.data)
        rewritten.append(reading_id)
    path.unlink(missing_ok=True)
    fsync_dir(Path(folder))
    return rewritten


def _readable(raw: bytes) -> bool:
    try:
        json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    return True
