"""Atomic file writes: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_text(path: Path, text: str, *, sync_dir: bool = True) -> None:
    """Write ``text`` to ``path`` via a temp file in the same folder, fsync, then rename."""
    atomic_write_bytes(path, text.encode("utf-8"), sync_dir=sync_dir)


def atomic_write_bytes(path: Path, data: bytes, *, sync_dir: bool = True) -> None:
    """Bytes version of :func:`atomic_write_text`; keeps the old file on any failure.

    ``sync_dir=False`` leaves the folder's fsync to the caller (:func:`fsync_dir`), who may
    batch it over many writes: the file's own fsync always happens before the rename, so a
    crash can lose a recent rename (the old file stays, whole) but never leave half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        try:
            mode = os.stat(path).st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        name_file(exc, path)
        raise
    if sync_dir:
        fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make the renames done in ``folder`` durable."""
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def atomic_write_many(
    items: list[tuple[Path, bytes, int]], *, durable: bool = True
) -> list[os.stat_result]:
    """Write several ``(path, data, mode)`` files atomically as one group commit; returns each
    new file's stat. Every temp file is written first, then each is fsynced (the first fsync
    commits the journal for all of them, so the rest are cheap), then each is renamed into
    place, in order: every file's data is still on disk before its rename. The folder fsync
    is left to the caller (:func:`fsync_dir`). On failure, the files renamed so far stay (each
    whole), the others keep their old version, and no temp file is left behind.

    ``durable=False`` skips the fsyncs: the caller has made the data durable elsewhere (the
    ledger's journal, :mod:`linkkeeper.ledger.journal`). Each file is still whole or old, never
    half.

    Few system calls and little Python between them: a thread running this hardly competes
    with an event loop for the GIL."""
    temps: list[tuple[int, str]] = []
    stats: list[os.stat_result] = []
    path = items[0][0] if items else Path()
    try:
        for path, data, mode in items:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            temps.append((fd, tmp))
            os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        for fd, _ in temps if durable else ():
            os.fsync(fd)
        for (fd, tmp), (path, _, _) in zip(temps, items, strict=True):
            stat = os.fstat(fd)
            os.replace(tmp, path)
            stats.append(stat)
    except OSError as exc:
        name_file(exc, path)
        raise
    finally:
        for index, (fd, tmp) in enumerate(temps):
            os.close(fd)
            if index >= len(stats):
                Path(tmp).unlink(missing_ok=True)
    return stats


def name_file(exc: BaseException, path: Path) -> None:
    """Name the file a failed write was for: ``os.write`` and ``fsync`` errors carry no file
    name (a full disk would be reported without saying where), a temp file's name means
    little to the reader."""
    if isinstance(exc, OSError) and (exc.filename is None or ".tmp" in str(exc.filename)):
        exc.filename = str(path)
