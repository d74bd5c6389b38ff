"""A disk that refuses writes: full (a real 64 KiB tmpfs) or read-only (a real read-only
mount). One line naming the file, exit 2, and every record already written still whole.

Mounting needs root (CAP_SYS_ADMIN); elsewhere these tests are skipped, not faked.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from linkkeeper.cli import cli
from linkkeeper.ledger.store import Ledger
from linkkeeper.sandbox import Sandbox

PAGE = 4096


def _readings(count: int) -> str:
    lines = ["title: Disk trouble", "weeks:", "  - week: 1", "    readings:"]
    for n in range(count):
        lines += [f"      - id: post-{n:02d}", f"        url: https://blog.example/post/live?n={n}"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project whose snapshots/ is a fresh 64 KiB tmpfs (16 pages)."""
    snapshots = tmp_path / "snapshots"
    snapshots.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(snapshots)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr!r}")
    monkeypatch.chdir(tmp_path)
    for name in ("LINKKEEPER_CONFIG", "LINKKEEPER_FORMAT", "LINKKEEPER_REMAP"):
        monkeypatch.delenv(name, raising=False)
    try:
        yield tmp_path
    finally:
        subprocess.run(["umount", "-l", str(snapshots)], check=False)


def check(box: Sandbox, *args: str) -> Result:
    remaps = [part for rule in box.remap_rules() for part in ("--remap", rule)]
    argv = ["check", "--allow-private", "--host-interval", "0", *remaps, *args]
    return CliRunner().invoke(cli, argv, catch_exceptions=True)


def assert_one_line_error(result: Result, path: Path, why: str) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "never retrieved" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    named, _, rest = errors[0].removeprefix("Error: cannot write ").partition(": ")
    assert Path(named).resolve() == path.resolve(), errors[0]
    assert rest.startswith(f"{why}.") and "run the same command again" in rest, errors[0]


def assert_every_record_whole(snapshots: Path) -> list[str]:
    ledger = Ledger(snapshots)
    ids = ledger.ids()
    for reading_id in ids:
        assert ledger.get(reading_id) is not None  # parses and validates
    assert not [p.name for p in snapshots.iterdir() if p.name.endswith(".tmp")]
    return ids


def fill(folder: Path, leave_pages: int) -> None:
    """Take every free page of the file system but ``leave_pages``."""
    stat = os.statvfs(folder)
    free = stat.f_bavail * stat.f_frsize - leave_pages * PAGE
    if free > 0:
        (folder / "filler.bin").write_bytes(b"\0" * free)


def test_a_disk_that_fills_up_during_check(clean_sandbox: Sandbox, project: Path) -> None:
    (project / "readings.yaml").write_text(_readings(40), encoding="utf-8")
    result = check(clean_sandbox, "--format", "json")
    written = assert_every_record_whole(project / "snapshots")
    assert 0 < len(written) < 40  # some records fit, then the disk was full
    message = result.stderr
    assert "No space left on device" in message
    path = next(line for line in message.splitlines() if line.startswith("Error:"))
    named = Path(path.split("cannot write ", 1)[1].split(": No space")[0]).resolve()
    assert named.parent == (project / "snapshots").resolve()
    assert_one_line_error(result, named, "No space left on device")


def test_a_disk_full_when_the_freshness_cache_is_saved(
    clean_sandbox: Sandbox, project: Path
) -> None:
    (project / "readings.yaml").write_text(_readings(3), encoding="utf-8")
    for _ in range(2):  # the second night changes no record: only the cache is news
        first = check(clean_sandbox, "--max-age", "0")
        assert first.exit_code == 0, first.output
    snapshots = project / "snapshots"
    before = {p.name: p.read_bytes() for p in snapshots.glob("*.json")}
    fill(snapshots, leave_pages=1)  # room for the lock owner's note, not for the cache
    result = check(clean_sandbox, "--max-age", "0")
    assert_one_line_error(result, snapshots / ".freshness.json", "No space left on device")
    assert {p.name: p.read_bytes() for p in snapshots.glob("*.json")} == before
    assert_every_record_whole(snapshots)


def test_a_read_only_ledger_folder(clean_sandbox: Sandbox, project: Path) -> None:
    (project / "readings.yaml").write_text(_readings(2), encoding="utf-8")
    assert check(clean_sandbox).exit_code == 0
    snapshots = project / "snapshots"
    before = {p.name: p.read_bytes() for p in snapshots.glob("*.json")}
    subprocess.run(["mount", "-o", "remount,ro", str(snapshots)], check=True)
    for command in (["check"], ["prune", "--yes"]):
        result = (
            check(clean_sandbox, "--max-age", "0")
            if command == ["check"]
            else CliRunner().invoke(cli, command, catch_exceptions=True)
        )
        assert_one_line_error(result, snapshots / ".lock", "Read-only file system")
    assert {p.name: p.read_bytes() for p in snapshots.glob("*.json")} == before
    assert_every_record_whole(snapshots)


def test_a_file_size_limit_during_check_without_root(
    clean_sandbox: Sandbox, tmp_path: Path
) -> None:
    """The same failure where mounting is not allowed (CI runs as a normal user): a limit
    on file sizes (RLIMIT_FSIZE, SIGXFSZ ignored) makes the growing ledger journal's write
    fail with EFBIG part way through the run."""
    import resource
    import signal
    import sys

    (tmp_path / "readings.yaml").write_text(_readings(40), encoding="utf-8")
    remaps = [part for rule in clean_sandbox.remap_rules() for part in ("--remap", rule)]
    command = [sys.executable, "-m", "linkkeeper", "check", "--allow-private",
               "--host-interval", "0", *remaps]  # fmt: skip

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024, 16 * 1024))

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env.pop("LINKKEEPER_CONFIG", None)
    done = subprocess.run(command, cwd=tmp_path, env=env, preexec_fn=limit,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith("Error: cannot write snapshots/") and "File too large" in errors[0]
    assert "run the same command again" in errors[0]
    assert_every_record_whole(tmp_path / "snapshots")
