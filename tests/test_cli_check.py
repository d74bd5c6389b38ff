"""`linkkeeper check` end to end through Click against the sandbox web (real sockets)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner, Result

from linkkeeper.archive.capture_check import GOOD, record_verdict
from linkkeeper.cli import cli
from linkkeeper.ledger.store import Ledger
from linkkeeper.sandbox import Sandbox

READINGS = """\
title: Test list
weeks:
  - week: 1
    title: Basics
    posted: 2026-01-05
    readings:
      - id: live
        title: A live post
        url: https://blog.example/post/live
      - id: moved
        title: Moved away
        url: https://blog.example/moved-permanently
      - id: gone
        title: Gone for good
        url: https://blog.example/gone
  - week: 2
    readings:
      - id: soft
        title: A soft 404
        url: https://blog.example/soft-404
      - id: walled
        title: Behind a wall
        url: https://trouble.example/status/403
      - id: refused
        title: Nobody home
        url: https://refused.example/paper
      - id: discuss
        title: Discuss in the group
        kind: task
"""
EXPECTED = {  # id -> (verdict, words in the reason)
    "live": ("ok", "200"),
    "moved": ("moved", "permanently redirected"),
    "gone": ("broken", "410"),
    "soft": ("broken", "soft 404"),
    "walled": ("blocked", "403"),
    "refused": ("broken", "connection refused"),
    "discuss": ("skipped", "no URL"),
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with readings.yaml and no config file; the working directory for the test."""
    (tmp_path / "readings.yaml").write_text(READINGS, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for name in ("LINKKEEPER_CONFIG", "LINKKEEPER_FORMAT", "LINKKEEPER_REMAP"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def run(sandbox: Sandbox, *args: str, env: dict[str, str] | None = None) -> Result:
    remaps = [part for rule in sandbox.remap_rules() for part in ("--remap", rule)]
    argv = ["check", "--allow-private", "--host-interval", "0", *remaps, *args]
    return CliRunner().invoke(cli, argv, env=env, catch_exceptions=False)


def report(result: Result) -> dict[str, object]:
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def results_by_id(result: Result) -> dict[str, dict[str, object]]:
    return {r["id"]: r for r in report(result)["results"]}  # type: ignore[index, union-attr]


def fetches(sandbox: Sandbox) -> Counter[tuple[str, str]]:
    """Page requests per (host, path), leaving out robots.txt and soft-404 sibling probes."""
    return Counter(
        (r.host, r.path)
        for r in sandbox.requests
        if r.path != "/robots.txt" and "linkkeeper-probe-" not in r.path
    )


def test_verdicts_reasons_and_json_schema(clean_sandbox: Sandbox, project: Path) -> None:
    result = run(clean_sandbox, "--format", "json", "--fail-on", "never")
    assert result.exit_code == 0, result.output
    schema = json.loads(
        resources.files("linkkeeper").joinpath("check-report.schema.json").read_text()
    )
    jsonschema.validate(report(result), schema)
    rows = results_by_id(result)
    assert list(rows) == list(EXPECTED)
    for rid, (verdict, words) in EXPECTED.items():
        assert rows[rid]["verdict"] == verdict, rows[rid]
        assert words in str(rows[rid]["reason"]), rows[rid]
    assert rows["moved"]["suggestion"] == "https://blog.example/post/live"
    assert rows["moved"]["action"] == "replace"
    assert rows["gone"]["health"] == "failing"  # one bad night is not dead
    assert rows["gone"]["line"] == READINGS.splitlines().index("      - id: gone") + 1
    summary = report(result)["summary"]
    assert summary["checked"] == 6 and summary["skipped"] == 1  # type: ignore[index]
    for rid in EXPECTED:
        assert json.loads((project / "snapshots" / f"{rid}.json").read_text())["checks"]


def test_each_link_is_fetched_once_per_run(clean_sandbox: Sandbox, project: Path) -> None:
    run(clean_sandbox, "--format", "json")
    assert fetches(clean_sandbox) == {
        ("blog.example", "/post/live"): 2,  # the live reading, and the moved one's redirect
        ("blog.example", "/moved-permanently"): 1,
        ("blog.example", "/gone"): 1,
        ("blog.example", "/soft-404"): 1,
        ("trouble.example", "/status/403"): 1,
    }


@pytest.mark.parametrize(("fail_on", "code"), [("broken", 1), ("dead", 0), ("never", 0)])
def test_fail_on_exit_codes(clean_sandbox: Sandbox, project: Path, fail_on: str, code: int) -> None:
    assert run(clean_sandbox, "live", "gone", "--fail-on", fail_on).exit_code == code


def test_freshness_and_unchanged_second_run(clean_sandbox: Sandbox, project: Path) -> None:
    run(clean_sandbox, "--format", "json")
    snapshots = project / "snapshots"
    first = {p.name: p.read_bytes() for p in snapshots.iterdir()}
    clean_sandbox.requests.clear()

    again = run(clean_sandbox, "--format", "json")
    rows = results_by_id(again)
    assert rows["live"]["fresh"] is True and rows["moved"]["fresh"] is True
    assert rows["gone"]["fresh"] is False  # failures are always re-checked
    counts = fetches(clean_sandbox)
    assert counts[("blog.example", "/post/live")] == 0
    assert counts[("blog.example", "/gone")] == 1
    second = {p.name: p.read_bytes() for p in snapshots.iterdir()}
    assert set(second) == set(first)  # nothing new (no lock or temp files left behind either)
    for name in ("live.json", "moved.json", "discuss.json", "walled.json"):  # same outcomes
        assert second[name] == first[name]
    for name in ("gone.json", "soft.json", "refused.json"):  # each failure is recorded
        assert len(json.loads(second[name])["checks"]) == 2

    clean_sandbox.requests.clear()
    forced = run(clean_sandbox, "live", "--force", "--format", "json")
    assert results_by_id(forced)["live"]["fresh"] is False
    assert fetches(clean_sandbox)[("blog.example", "/post/live")] == 1
    clean_sandbox.requests.clear()
    run(clean_sandbox, "live", "--max-age", "0", "--format", "json")
    assert fetches(clean_sandbox)[("blog.example", "/post/live")] == 1
    assert (snapshots / "live.json").read_bytes() == first["live.json"]  # re-fetched, same


def test_selection_by_id_and_week(clean_sandbox: Sandbox, project: Path) -> None:
    result = run(clean_sandbox, "live", "--week", "2", "--format", "json")
    assert list(results_by_id(result)) == ["live", "soft", "walled", "refused", "discuss"]
    assert fetches(clean_sandbox)[("blog.example", "/gone")] == 0


def test_markdown_and_github_formats(clean_sandbox: Sandbox, project: Path) -> None:
    markdown = run(clean_sandbox, "--format", "markdown").stdout
    assert markdown.startswith("## linkkeeper check")
    assert "[Gone for good](https://blog.example/gone)" in markdown
    github = run(clean_sandbox, "--format", "github").stdout.splitlines()
    gone_line = READINGS.splitlines().index("      - id: gone") + 1
    assert any(
        line.startswith(f"::error file=readings.yaml,line={gone_line},") for line in github
    ), github
    assert not any("title=live" in line or "title=discuss" in line for line in github)


def test_plain_text_off_a_terminal(clean_sandbox: Sandbox, project: Path) -> None:
    text = run(clean_sandbox).stdout
    assert "Replace the link (1):" in text
    assert "  moved [moved] https://blog.example/moved-permanently" in text
    assert "use https://blog.example/post/live" in text
    assert "\x1b[" not in text  # no colours, no progress bar


def test_output_file_and_env_vars(clean_sandbox: Sandbox, project: Path) -> None:
    result = run(
        clean_sandbox,
        env={"LINKKEEPER_FORMAT": "json", "LINKKEEPER_OUTPUT": "out/report.json"},
    )
    assert result.exit_code == 0
    assert result.stdout == ""
    document = json.loads((project / "out" / "report.json").read_text())
    assert len(document["results"]) == len(EXPECTED)


def test_config_file_defaults(clean_sandbox: Sandbox, project: Path) -> None:
    (project / "pyproject.toml").write_text(
        '[tool.linkkeeper]\nsnapshots = "ledger"\n\n[tool.linkkeeper.check]\nfail_on = "broken"\n'
    )
    result = run(clean_sandbox, "gone")
    assert result.exit_code == 1  # fail_on from the config
    assert (project / "ledger" / "gone.json").exists()
    assert run(clean_sandbox, "gone", "--fail-on", "never").exit_code == 0  # the flag wins


def test_dead_threshold_from_config_env_and_flags(clean_sandbox: Sandbox, project: Path) -> None:
    # Default policy: one failure is only "failing", so --fail-on dead passes.
    first = run(clean_sandbox, "gone", "--format", "json")
    assert results_by_id(first)["gone"]["health"] == "failing"
    assert first.exit_code == 0
    # The shared config key lowers the bar for every command: one failure, no time span.
    (project / "pyproject.toml").write_text(
        "[tool.linkkeeper]\ndead_after_failures = 1\ndead_after_hours = 0\n"
    )
    second = run(clean_sandbox, "gone", "--format", "json")
    assert results_by_id(second)["gone"]["health"] == "dead"
    assert second.exit_code == 1
    stored = json.loads((project / "snapshots" / "gone.json").read_text())
    assert stored["health"]["state"] == "dead"
    # The environment beats the file, and a flag beats both.
    env = {"LINKKEEPER_DEAD_AFTER_FAILURES": "5"}
    third = run(clean_sandbox, "gone", "--format", "json", env=env)
    assert results_by_id(third)["gone"]["health"] == "failing"
    fourth = run(clean_sandbox, "gone", "--format", "json", "--dead-after-failures", "2", env=env)
    assert results_by_id(fourth)["gone"]["health"] == "dead"


def test_report_offers_the_archived_copy(clean_sandbox: Sandbox, project: Path) -> None:
    from linkkeeper.core.models import Reading

    snapshot = "https://web.archive.org/web/20220315101010/https://blog.example/gone"
    with Ledger(project / "snapshots") as ledger:
        record = ledger.record_for(Reading(id="gone", title=None, url="https://blog.example/gone"))
        assigned = {"timestamp": "20220315101010", "url": snapshot,
                    "original": "https://blog.example/gone"}  # fmt: skip
        section = record.section("captures")
        section.update(url="https://blog.example/gone", assigned=assigned)
        record_verdict(section, assigned, GOOD, "HTTP 200 OK", datetime(2026, 3, 1, tzinfo=UTC))
        ledger.save(record)
    result = run(clean_sandbox, "gone", "live", "--format", "json")
    rows = results_by_id(result)
    assert rows["gone"]["verdict"] == "broken"
    assert rows["gone"]["archive_url"] == snapshot
    assert rows["live"]["archive_url"] is None
    text = run(clean_sandbox, "gone", "--format", "text").stdout
    assert snapshot in text


def test_bad_readings_file_exits_2_with_the_location(clean_sandbox: Sandbox, project: Path) -> None:
    (project / "readings.yaml").write_text(
        "weeks:\n  - week: 1\n    readings:\n      - url: nope\n"
    )
    result = run(clean_sandbox)
    assert result.exit_code == 2
    assert "readings.yaml:4" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "no reading with id 'nope'"),
        (["--week", "7"], "no week 7"),
        (["--max-age", "soon"], "not a duration"),
        (["--remap", "only-a-pattern"], "remap rule"),
    ],
)
def test_usage_errors_exit_2(
    clean_sandbox: Sandbox, project: Path, args: list[str], message: str
) -> None:
    result = run(clean_sandbox, *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert not (project / "snapshots").exists() or not any((project / "snapshots").glob("*.json"))


def test_locked_ledger_exits_2(clean_sandbox: Sandbox, project: Path) -> None:
    with Ledger(project / "snapshots"):
        result = run(clean_sandbox)
    assert result.exit_code == 2
    assert "another linkkeeper run holds" in result.stderr
    assert clean_sandbox.requests.for_host("blog.example") == []


def test_one_reading_offline_counts_only_with_a_canary_answering(
    clean_sandbox: Sandbox, project: Path
) -> None:
    """`check refused` (one site, refused): the canary (the sandbox's web.archive.org)
    answers, so the failure counts; with no canary, or one that is down too, the run learned
    nothing: exit 3 and nothing recorded."""
    nowhere = "https://canary.example.invalid/"  # remapped nowhere below: no answer
    for canary in ("none", nowhere):
        extra = ["--remap", r"^https://canary\.example\.invalid http://127.0.0.1:9"]
        result = run(clean_sandbox, "refused", "--canary", canary, *extra)
        assert result.exit_code == 3, result.output
        assert "The network seems down: the one site checked did not answer" in result.stdout
        assert not (project / "snapshots" / "refused.json").exists()
    counted = run(clean_sandbox, "refused", "--format", "json", "--fail-on", "never")
    assert counted.exit_code == 0, counted.output
    assert results_by_id(counted)["refused"]["verdict"] == "broken"
    assert (project / "snapshots" / "refused.json").exists()
