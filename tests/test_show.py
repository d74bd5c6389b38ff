"""End to end through Click: the whole curriculum checked against the sandbox fills metadata and
drift, a second run changes none of it, and ``linkkeeper show`` tells everything about a reading.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner, Result

from linkkeeper.cli import cli
from linkkeeper.curriculum.readings import load
from linkkeeper.sandbox import Sandbox
from linkkeeper.sandbox.web import reset_web_state

REPO = Path(__file__).resolve().parents[1]
CONFIG = """[tool.linkkeeper.hosts."arxiv.org"]
interval = 0.0
[tool.linkkeeper.hosts."export.arxiv.org"]
interval = 0.2
"""
SECTIONS = ("metadata", "drift")


@dataclass
class Runs:
    project: Path
    first: Result
    second: Result
    api_calls_first: list[str]
    api_calls_second: list[str]
    sections_first: dict[str, dict[str, Any]]
    sections_second: dict[str, dict[str, Any]]


def sections(snapshots: Path) -> dict[str, dict[str, Any]]:
    records = {p.stem: json.loads(p.read_text()) for p in snapshots.glob("*.json")}
    return {rid: {s: data.get(s) for s in SECTIONS} for rid, data in records.items()}


def invoke(project: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli,
        [*args, "--readings", str(project / "readings.yaml"), "--snapshots",
         str(project / "snapshots")],
        env={"LINKKEEPER_CONFIG": str(project / "pyproject.toml"), "LINKKEEPER_REMAP": None},
    )  # fmt: skip


@pytest.fixture(scope="module")
def runs(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    project = tmp_path_factory.mktemp("show")
    shutil.copy(REPO / "readings.yaml", project / "readings.yaml")
    (project / "pyproject.toml").write_text(CONFIG, encoding="utf-8")
    remaps = [part for rule in sandbox.remap_rules() for part in ("--remap", rule)]
    argv = ["check", "--allow-private", "--host-interval", "0", "--fail-on", "never",
            "--format", "json", *remaps]  # fmt: skip
    reset_web_state()
    sandbox.requests.clear()
    first = invoke(project, *argv)
    api_first = [r.path for r in sandbox.requests if r.host == "export.arxiv.org"]
    after_first = sections(project / "snapshots")
    sandbox.requests.clear()
    second = invoke(project, *argv, "--max-age", "0")  # fetch everything again
    api_second = [r.path for r in sandbox.requests if r.host == "export.arxiv.org"]
    return Runs(project, first, second, api_first, api_second, after_first,
                sections(project / "snapshots"))  # fmt: skip


def test_every_linked_reading_gets_a_title(runs: Runs) -> None:
    assert runs.first.exit_code == 0, runs.first.output
    linked = [r for r in load(runs.project / "readings.yaml").readings() if r.url]
    for reading in linked:
        meta = runs.sections_first[reading.id]["metadata"]
        assert meta and meta["title"]["value"], reading.id
        assert meta["url"] == reading.url
    titles = {
        rid: s["metadata"]["title"] for rid, s in runs.sections_first.items() if s["metadata"]
    }
    assert titles["mirror-herndondryhurst-eth"]["value"] == "Infinite Images and the latent camera"
    assert titles["arxiv-1706-03762"]["source"] == "arxiv-api"
    assert titles["csudh-frankfurt-harry-on-bullshit"]["value"] == "On Bullshit"
    assert titles["software-2-0"]["source"] == "oembed"
    assert titles["taxonomy-of-nns"]["source"] == "url"  # a 404: only the URL says what it was


def test_arxiv_is_asked_once_per_run_in_one_batch(runs: Runs) -> None:
    assert len(runs.api_calls_first) == 1
    assert "1706.03762" in runs.api_calls_first[0] and "1910.01500" in runs.api_calls_first[0]
    assert runs.api_calls_second == []  # the API metadata is fresh: not asked again


def test_report_carries_drift_beside_the_verdict(runs: Runs) -> None:
    schema = json.loads((REPO / "linkkeeper" / "check-report.schema.json").read_text())
    document = json.loads(runs.first.stdout)
    jsonschema.validate(document, schema)
    rows = {r["id"]: r for r in document["results"]}
    assert rows["robinsloan-notes-on-a-genre"]["verdict"] == "ok"
    assert rows["robinsloan-notes-on-a-genre"]["changed"] is False
    assert rows["robinsloan-notes-on-a-genre"]["similarity"] == 1.0
    assert rows["taxonomy-of-nns"]["changed"] is None  # never seen live: nothing to compare
    second = {r["id"]: r for r in json.loads(runs.second.stdout)["results"]}
    assert second["robinsloan-notes-on-a-genre"]["fresh"] is False
    assert second["robinsloan-notes-on-a-genre"]["changed"] is False


def test_second_run_leaves_metadata_and_drift_byte_identical(runs: Runs) -> None:
    assert runs.second.exit_code == 0, runs.second.output
    assert runs.sections_second == runs.sections_first


def test_show_text(runs: Runs) -> None:
    result = invoke(runs.project, "show", "arxiv-1706-03762")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith("arxiv-1706-03762  Attention is all you need\n")
    assert "week 3 · Transformers" in text
    assert "Attention Is All You Need  [arxiv-api]" in text
    assert "Ashish Vaswani, Noam Shazeer" in text and "(8 in all)" in text
    assert "Health: alive" in text
    assert "Recent checks (newest first, " in text and "  ok         200  HTTP 200" in text
    assert "Captures: not looked up yet" in text
    assert "Drift: unchanged (similarity 1.00" in text


def test_show_json(runs: Runs) -> None:
    result = invoke(runs.project, "show", "csudh-frankfurt-harry-on-bullshit", "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["reading"]["title"] == "On Bullshit"
    assert document["metadata"]["title"] == {
        "value": "On Bullshit",
        "source": "pdf-text",
        "confidence": "low",
    }
    assert document["health"]["state"] == "alive"
    assert document["checks"][-1]["verdict"] == "ok"
    assert document["best_link"] == document["reading"]["url"]


def test_show_reading_without_a_link_or_record(runs: Runs) -> None:
    result = invoke(runs.project, "show", "google-colab")
    assert result.exit_code == 0, result.output
    assert "(no link: a task)" in result.stdout
    assert "Metadata: none yet" in result.stdout


def test_show_unknown_id_suggests(runs: Runs) -> None:
    result = invoke(runs.project, "show", "arxiv-1706-0376")
    assert result.exit_code == 2
    assert "did you mean arxiv-1706-03762" in result.stderr


def test_show_an_orphaned_record(runs: Runs) -> None:
    from linkkeeper.core.models import Reading
    from linkkeeper.ledger.record import Record
    from linkkeeper.ledger.store import Ledger

    with Ledger(runs.project / "snapshots") as ledger:
        record = Record.new(Reading("dropped-reading", "Gone from the list", "https://x.example/a"))
        record.orphaned = True
        ledger.save(record)
    result = invoke(runs.project, "show", "dropped-reading", "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["reading"] is None and document["orphaned"] is True
    text = invoke(runs.project, "show", "dropped-reading").stdout
    assert "not in the curriculum: an orphaned ledger record" in text
