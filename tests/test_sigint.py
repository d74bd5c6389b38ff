"""Ctrl-C in the middle of `linkkeeper check`: finished results stay recorded, exit is prompt."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from linkkeeper.ledger.store import Ledger
from linkkeeper.sandbox import Sandbox

REPO = Path(__file__).resolve().parents[1]
READINGS = """\
weeks:
  - week: 1
    readings:
      - id: live
        url: https://blog.example/post/live
      - id: gone
        url: https://blog.example/gone
      - id: slow-one
        url: https://trouble.example/slow?ms=60000&n=1
      - id: slow-two
        url: https://trouble.example/slow?ms=60000&n=2
"""


@pytest.mark.parametrize("receiver", ["process", "worker-thread"])
def test_sigint_keeps_finished_results_and_exits_promptly(
    clean_sandbox: Sandbox, tmp_path: Path, receiver: str
) -> None:
    """``receiver``: Ctrl-C sends SIGINT to the process, and the kernel hands it to one of its
    threads, usually the main one; "worker-thread" makes it the ledger writer's thread (the
    window that made this test flaky under load: the loop slept on, nobody woke it)."""
    (tmp_path / "readings.yaml").write_text(READINGS, encoding="utf-8")
    snapshots = tmp_path / "snapshots"
    remaps = [part for rule in clean_sandbox.remap_rules() for part in ("--remap", rule)]
    command = [sys.executable, "-m", "linkkeeper", "check", "--allow-private",
               "--host-interval", "0", *remaps]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("LINKKEEPER_CONFIG", None)
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while not all((snapshots / f"{rid}.json").exists() for rid in ("live", "gone")):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the fast links were never recorded"
            time.sleep(0.05)
        while len(clean_sandbox.requests.matching("trouble.example", "/slow")) < 2:
            assert time.monotonic() < deadline, "the slow links were never requested"
            time.sleep(0.05)
        threads = [int(t) for t in os.listdir(f"/proc/{process.pid}/task")]
        workers = [t for t in threads if t != process.pid]  # the writer thread wrote records
        assert receiver == "process" or workers, threads
        # kill() naming a thread id sends a process-wide signal that this thread handles
        os.kill(process.pid if receiver == "process" else workers[0], signal.SIGINT)
        _, stderr = process.communicate(timeout=10)  # promptly: not after the 60 s answers
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 130, stderr
    assert "Interrupted: 2 of 4 readings were checked and recorded" in stderr
    assert "Traceback" not in stderr
    ledger = Ledger(snapshots)
    for rid, verdict in (("live", "ok"), ("gone", "broken")):
        record = ledger.get(rid)  # parses and validates the file
        assert record is not None
        assert [c.verdict.value for c in record.checks] == [verdict]
    for rid in ("slow-one", "slow-two"):
        record = ledger.get(rid)
        assert record is None or record.checks == []
    leftovers = [p.name for p in snapshots.iterdir() if not p.name.endswith(".json")]
    assert leftovers in ([], [".lock"])  # no temp files, no lock owner
