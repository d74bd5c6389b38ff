"""`linkkeeper prune`: the one explicit way to delete orphaned ledger records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from linkkeeper.cli import cli
from linkkeeper.core.models import Reading
from linkkeeper.ledger.store import Ledger

BOTH = """\
weeks:
  - week: 1
    readings:
      - {id: kept, url: "https://blog.example/post/live"}
      - {id: dropped, url: "https://blog.example/gone"}
"""
ONE = """\
weeks:
  - week: 1
    readings:
      - {id: kept, url: "https://blog.example/post/live"}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    with Ledger(tmp_path / "snapshots") as ledger:
        for reading_id, url in (("kept", "https://blog.example/post/live"),
                                ("dropped", "https://blog.example/gone")):  # fmt: skip
            ledger.save(ledger.record_for(Reading(id=reading_id, title=None, url=url)))
    (tmp_path / "readings.yaml").write_text(ONE, encoding="utf-8")
    return tmp_path


def test_prune_lists_first_and_deletes_only_with_yes(project: Path) -> None:
    listed = CliRunner().invoke(cli, ["prune"])
    assert listed.exit_code == 0, listed.output
    assert "dropped" in listed.output and "--yes" in listed.output
    assert (project / "snapshots" / "dropped.json").exists()
    # the listing run marked it orphaned (as check would) but deleted nothing
    assert json.loads((project / "snapshots" / "dropped.json").read_text())["orphaned"] is True

    deleted = CliRunner().invoke(cli, ["prune", "--yes"])
    assert deleted.exit_code == 0, deleted.output
    assert "dropped" in deleted.output
    assert not (project / "snapshots" / "dropped.json").exists()
    assert (project / "snapshots" / "kept.json").exists()


def test_prune_with_nothing_orphaned_and_returning_readings(project: Path) -> None:
    (project / "readings.yaml").write_text(BOTH, encoding="utf-8")
    result = CliRunner().invoke(cli, ["prune", "--yes"])
    assert result.exit_code == 0
    assert "No orphaned records" in result.output
    records = (p.name for p in (project / "snapshots").glob("*.json") if p.name[0] != ".")
    assert sorted(records) == ["dropped.json", "kept.json"]  # (.freshness.json: a cache)


def test_prune_leaves_a_corrupt_record_alone_and_prunes_the_rest(project: Path) -> None:
    (project / "snapshots" / "kept.json").write_text("{ not json", encoding="utf-8")
    result = CliRunner().invoke(cli, ["prune", "--yes"])
    assert result.exit_code == 2
    assert "kept.json:1:3: not valid JSON" in result.stderr
    assert (project / "snapshots" / "kept.json").read_text(encoding="utf-8") == "{ not json"
    assert not (project / "snapshots" / "dropped.json").exists()  # a usable orphan: pruned
