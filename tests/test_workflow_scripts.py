"""The nightly workflow's own shell steps, run for real with bash and git on local repositories.

The commit-back must survive an organizer pushing during the night (a conflict in snapshots/
used to fail the step and lose the night's ledger), and an inconclusive night (exit 3) is a
warning, not a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
NIGHTLY = ROOT / ".github" / "workflows" / "nightly.yml"

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def step(name: str) -> str:
    workflow = yaml.safe_load(NIGHTLY.read_text(encoding="utf-8"))
    for job in workflow["jobs"].values():
        for found in job.get("steps", []):
            if found.get("name") == name:
                return str(found["run"])
    raise AssertionError(f"no step {name!r} in {NIGHTLY}")


def bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """As GitHub runs a ``run:`` step: ``bash --noprofile --norc -eo pipefail``."""
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def record(text: str) -> str:
    return '{\n  "checks": [\n    "' + text + '"\n  ],\n  "id": "a"\n}\n'


@pytest.fixture
def repos(tmp_path: Path) -> tuple[Path, Path, Path]:
    """An origin, the runner's checkout (shallow, as actions/checkout makes it) and an
    organizer's clone."""
    origin, seed = tmp_path / "origin.git", tmp_path / "seed"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(origin))
    git(tmp_path, "clone", "--quiet", str(origin), str(seed))
    (seed / "snapshots").mkdir()
    (seed / "snapshots" / "a.json").write_text(record("old"))
    (seed / "snapshots" / "gone.json").write_text(record("pruned later"))
    (seed / "readings.yaml").write_text("weeks: []\n")
    git(seed, "add", "-A")
    git(seed, "commit", "--quiet", "-m", "start")
    git(seed, "push", "--quiet", "origin", "HEAD:main")
    runner, organizer = tmp_path / "runner", tmp_path / "organizer"
    git(tmp_path, "clone", "--quiet", "--depth", "1", f"file://{origin}", str(runner))
    git(tmp_path, "clone", "--quiet", str(origin), str(organizer))
    return origin, runner, organizer


def test_the_night_survives_an_organizers_push_into_snapshots(
    repos: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    origin, runner, organizer = repos
    # during the night an organizer runs `check` locally and pushes: same record, new one,
    # a pruned one and the curriculum
    (organizer / "snapshots" / "a.json").write_text(record("organizer"))
    (organizer / "snapshots" / "mine.json").write_text(record("organizer only"))
    (organizer / "readings.yaml").write_text("weeks: [1]\n")
    git(organizer, "rm", "--quiet", "snapshots/gone.json")
    git(organizer, "add", "-A")
    git(organizer, "commit", "--quiet", "-m", "local check")
    git(organizer, "push", "--quiet", "origin", "HEAD:main")
    # the runner's night wrote the same records
    (runner / "snapshots" / "a.json").write_text(record("tonight"))
    (runner / "snapshots" / "gone.json").write_text(record("tonight too"))
    (runner / "READINGS.md").write_text("# Readings\n")
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    (temp / "commit-message.txt").write_text("linkkeeper: 1 failing\n")

    result = bash(step("Commit the ledger (only when something changed)"), runner,
                  {"RUNNER_TEMP": str(temp), "GITHUB_REF_NAME": "main"})  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "merging it" in result.stdout

    check = tmp_path / "check"
    git(tmp_path, "clone", "--quiet", str(origin), str(check))
    assert (check / "snapshots" / "a.json").read_text() == record("tonight")  # whole, valid
    assert not (check / "snapshots" / "gone.json").exists()  # pruned by a person: stays gone
    assert (check / "snapshots" / "mine.json").read_text() == record("organizer only")
    assert (check / "readings.yaml").read_text() == "weeks: [1]\n"  # theirs, untouched
    assert (check / "READINGS.md").read_text() == "# Readings\n"
    log = git(check, "log", "--format=%s")
    assert "linkkeeper: 1 failing" in log and "local check" in log
    assert "<<<<<<<" not in (check / "snapshots" / "a.json").read_text()


def test_a_conflict_outside_the_records_stops_without_forcing(
    repos: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    origin, runner, organizer = repos
    (organizer / "READINGS.md").write_text("hand written\n")
    (organizer / "snapshots" / "a.json").write_text(record("organizer"))
    git(organizer, "add", "-A")
    git(organizer, "commit", "--quiet", "-m", "organizer")
    git(organizer, "push", "--quiet", "origin", "HEAD:main")
    (runner / "snapshots" / "a.json").write_text(record("tonight"))
    (runner / "README.md").write_text("x\n")  # not written by linkkeeper: never committed
    temp = tmp_path / "t"
    temp.mkdir()
    result = bash(step("Commit the ledger (only when something changed)"), runner,
                  {"RUNNER_TEMP": str(temp), "GITHUB_REF_NAME": "main"})  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr  # README.md is not added
    check = tmp_path / "check"
    git(tmp_path, "clone", "--quiet", str(origin), str(check))
    assert (check / "READINGS.md").read_text() == "hand written\n"
    assert not (check / "README.md").exists()


def test_a_quiet_night_commits_nothing(repos: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, runner, _ = repos
    result = bash(step("Commit the ledger (only when something changed)"), runner,
                  {"RUNNER_TEMP": str(tmp_path), "GITHUB_REF_NAME": "main"})  # fmt: skip
    assert result.returncode == 0 and "Nothing changed; no commit." in result.stdout
    assert git(runner, "log", "--format=%s") == "start\n"


@pytest.mark.parametrize(
    ("code", "step_code", "warned"), [(0, 0, False), (1, 1, False), (2, 2, False), (3, 0, True)]
)
def test_an_inconclusive_night_is_a_warning_not_a_failure(
    tmp_path: Path, code: int, step_code: int, warned: bool
) -> None:
    """The nightly step with a stand-in ``linkkeeper`` on PATH that exits ``code``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "linkkeeper"
    fake.write_text(f"#!/bin/sh\nexit {code}\n")
    fake.chmod(0o755)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "RUNNER_TEMP": str(tmp_path)}
    result = bash(step("Check, archive, publish, update the rolling issue"), tmp_path, env)
    assert result.returncode == step_code
    assert ("::warning title=linkkeeper: inconclusive night::" in result.stdout) is warned


def test_an_organizers_discord_post_during_the_night_keeps_both_sides(
    repos: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """``snapshots/_discord.json`` changed on both sides: tonight healed week 2, meanwhile an
    organizer posted week 3. Both weeks' message ids survive (else week 3 would never be
    healed, and posting it again would duplicate it), and both sides' alerts are kept."""
    import json
    import sys

    origin, runner, organizer = repos
    week = {
        "webhook": "1",
        "messages": ["200"],
        "sent": ["x"],
        "shown": {"a": "ok"},
        "posted_at": "2026-03-03T18:00:00Z",
        "updated_at": None,
        "owed": None,
    }
    base = {"version": 1, "weeks": {"2": week}, "alerted": {}}
    (organizer / "snapshots" / "_discord.json").write_text(json.dumps(base))
    git(organizer, "add", "-A")
    git(organizer, "commit", "--quiet", "-m", "week 2 posted")
    git(organizer, "push", "--quiet", "origin", "HEAD:main")
    git(runner, "fetch", "--quiet", "--depth", "1", "origin", "main")
    git(runner, "reset", "--quiet", "--hard", "FETCH_HEAD")
    # the organizer posts week 3 while the night heals week 2 and alerts reading "a"
    theirs = {
        **base,
        "weeks": {"2": week, "3": {**week, "messages": ["300"]}},
        "alerted": {"b": "2026-03-01T03:17:00Z"},
    }
    (organizer / "snapshots" / "_discord.json").write_text(json.dumps(theirs))
    git(organizer, "commit", "--quiet", "-am", "week 3 posted")
    git(organizer, "push", "--quiet", "origin", "HEAD:main")
    healed = {
        **week,
        "shown": {"a": "dead https://web.archive.org/x"},
        "updated_at": "2026-03-04T03:20:00Z",
    }
    ours = {**base, "weeks": {"2": healed}, "alerted": {"a": "2026-03-02T03:17:00Z"}}
    (runner / "snapshots" / "_discord.json").write_text(json.dumps(ours))
    temp = tmp_path / "t"
    temp.mkdir()
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    result = bash(
        step("Commit the ledger (only when something changed)"),
        runner,
        {"RUNNER_TEMP": str(temp), "GITHUB_REF_NAME": "main", "PATH": path},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    check = tmp_path / "check"
    git(tmp_path, "clone", "--quiet", str(origin), str(check))
    merged = json.loads((check / "snapshots" / "_discord.json").read_text())
    assert merged["weeks"]["2"] == healed and merged["weeks"]["3"]["messages"] == ["300"]
    assert set(merged["alerted"]) == {"a", "b"}
