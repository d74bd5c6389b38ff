"""``linkkeeper demo``: the whole pipeline on the sandbox, from a folder that is not the repo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from linkkeeper.cli import cli
from linkkeeper.core.models import Health, Verdict
from linkkeeper.curriculum.readings import load
from linkkeeper.demo import find_readings, packaged_readings, uncovered_hosts
from linkkeeper.sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent


def test_demo_runs_from_any_folder_and_leaves_it_alone(tmp_path: Path) -> None:
    here = tmp_path / "elsewhere"
    (here / "snapshots").mkdir(parents=True)
    (here / "snapshots" / ".gitkeep").touch()
    out = tmp_path / "kept"
    # a separate process (the sandbox web keeps module-level state) in a folder without
    # readings.yaml, so the packaged copy is used
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "linkkeeper", "demo", "--keep", str(out)],
        cwd=here, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    text = result.stdout
    assert "the copy of readings.yaml shipped with linkkeeper" in text
    assert "robots.txt asks for 15 s" in text  # the crawl-delay override is said out loud
    for name in [*Verdict, *Health]:
        assert f"{name.value} " in text, name  # every class in the counts lines
    issue = (out / "rolling-issue.md").read_text(encoding="utf-8")
    assert "### Dead (2)" in issue and "taxonomy-of-nns" in issue
    # each dead reading links its last good capture from before it broke, and the demo says
    # which capture of the breakage it rejected and why
    fallbacks = text.split("Archived copies offered instead of the broken originals", 1)[1]
    for reading, good, bad in (
        ("taxonomy-of-nns", "20210302174410", "2025-03-20: soft 404"),
        ("less-technical-explainer", "20220517090342", "2023-06-12: soft 404"),
    ):
        block = fallbacks.split(f"  {reading} (dead):", 1)[1].splitlines()[1:3]
        assert "offered:  last good copy before it broke" in block[0] and good in block[0]
        assert f"rejected: {bad}" in block[1], block
        assert f"web/{good}/" in issue
    assert "archive: 15 captured, 2 not captured (page broken)" in text  # never submitted
    assert (out / "site" / "index.html").is_file() and (out / "READINGS.md").is_file()
    # one sandbox issue, kept across nights; night 2 adds a failure to the failing readings'
    # rows of recent nights, so its text (and the issue) changes too
    assert "created, updated, updated" in text
    assert "<br>`▁▁▁`" in issue  # the dead readings' recent nights
    for _, name in (("site", "site/index.html"), ("issue", "rolling-issue.md")):
        assert str(out / name) in text  # tells the newcomer where to look
    # Discord: the Tuesday posts went out, the dead readings' posts were healed in place on
    # the night they died, one alert was posted, and nobody was pinged
    assert "discord: posted the Tuesday posts of weeks 1," in text
    assert "discord: healed the post of weeks 2 and 3; alerted 2 newly dead" in text
    assert "(edited in place)" in text and "-# ✏️ updated" in text
    assert "The alert, posted once:" in text and "🔴 **2 readings died**" in text
    assert "Pings: 0; link previews: 0" in text
    channel = (out / "discord-channel.html").read_text(encoding="utf-8")
    assert channel.count('class="msg"') == 9 and channel.count("(edited)") == 2
    record = (out / "snapshots" / "_discord.json").read_text(encoding="utf-8")
    assert '"alerted"' in record and "sbxTOKEN" not in record
    assert sorted(p.name for p in (here / "snapshots").iterdir()) == [".gitkeep"]
    assert sorted(p.name for p in here.iterdir()) == ["snapshots"]


def test_keep_refuses_a_folder_with_files(tmp_path: Path) -> None:
    (tmp_path / "snapshots").mkdir()
    result = CliRunner().invoke(cli, ["demo", "--keep", str(tmp_path)])
    assert result.exit_code == 2 and "not an empty folder" in result.stderr
    assert list((tmp_path / "snapshots").iterdir()) == []


def test_readings_in_the_current_folder_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert find_readings(None)[0] == packaged_readings()
    (tmp_path / "readings.yaml").write_text("title: x\nweeks: []\n", encoding="utf-8")
    assert find_readings(None)[0] == Path("readings.yaml")


def test_the_packaged_copy_is_the_repository_list_and_fully_sandboxed(sandbox: Sandbox) -> None:
    shipped = load(packaged_readings())
    repository = load(ROOT / "readings.yaml")
    assert [(r.id, r.url) for r in shipped.readings()] == [
        (r.id, r.url) for r in repository.readings()
    ], "linkkeeper/sandbox/data/readings.yaml must stay a symlink to the repository's readings.yaml"
    assert uncovered_hosts(shipped, sandbox) == []
