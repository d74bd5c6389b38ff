"""A Wayback Machine whose CDX answers do not parse: a failed lookup for that reading,
explained, and the run goes on (issue 18.4). The sandbox archive serves each answer over a
real socket; nothing in the client is replaced."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from linkkeeper.archive.wayback import capture_timestamp, parse_cdx_json
from linkkeeper.cli import cli
from linkkeeper.sandbox import Sandbox

GOOD = "https://blog.example/post/0"
HOSTILE = "https://blog.example/post/1"
HEADER = '["urlkey","timestamp","original","mimetype","statuscode","digest","length"]'
ROW = '"org,example)/","20220915120000","https://blog.example/post/1","text/html","200","D","9"'
READINGS_YAML = f"""\
title: Test list
weeks:
  - week: 1
    posted: 2023-03-06
    readings:
      - id: good
        title: A post with a capture
        url: {GOOD}
      - id: hostile
        title: A post the archive answers garbage about
        url: {HOSTILE}
"""
# name -> (the CDX body, words of the explanation)
ANSWERS = {
    "number-for-timestamp": (
        f'[{HEADER},["org,example)/",20220915120000,"{HOSTILE}","text/html","200","D","9"]]',
        "row 1 holds a number",
    ),
    "header-not-a-list": (f"[7,[{ROW}]]", "the header is a number, not a list"),
    "not-a-list": ('{"captures": []}', "expected a list of rows, got an object"),
    "row-not-a-list": (f'[{HEADER},"{HOSTILE}"]', "row 1 is a string, not a list"),
    "short-row": (f'[{HEADER},["org,example)/","20220915120000"]]', "wrong length"),
    "null-cell": (f'[{HEADER},[null,"20220915120000","{HOSTILE}","a","200","D","9"]]', "null"),
    "html": ("<html><body>Service Unavailable</body></html>", "not JSON"),
    "truncated": (f"[{HEADER},[{ROW}", "not JSON"),
    "deep": ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    "huge-integer": (f"[{HEADER},[" + "9" * 5000 + "]]", "4300"),
}
CLI_FAST = ["--poll-interval", "0.01", "--cdx-interval", "0", "--captures-per-minute", "60000"]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "readings.yaml").write_text(READINGS_YAML, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IA_CONFIG_FILE", str(tmp_path / "no-ia.ini"))
    for name in ("IA_ACCESS_KEY", "IA_SECRET_KEY", "LINKKEEPER_CONFIG", "LINKKEEPER_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def archive(box: Sandbox, *args: str) -> Result:
    remaps = [part for rule in box.remap_rules() for part in ("--remap", rule)]
    argv = ["archive", "--allow-private", *CLI_FAST, *remaps, *args]
    return CliRunner().invoke(cli, argv, catch_exceptions=True)


@pytest.mark.parametrize("answer", list(ANSWERS))
def test_an_unreadable_cdx_answer_is_a_failed_lookup_and_the_run_goes_on(
    clean_sandbox: Sandbox, project: Path, answer: str
) -> None:
    body, why = ANSWERS[answer]
    clean_sandbox.wayback.seed(GOOD, "20220915120000")
    clean_sandbox.wayback.answer_cdx(HOSTILE, body)

    result = archive(clean_sandbox, "--format", "json")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert result.exit_code == 1, result.output  # the hostile reading has no capture yet
    by_id = {entry["id"]: entry for entry in json.loads(result.stdout)["readings"]}
    assert by_id["good"]["capture"]["timestamp"] == "20220915120000"  # the other went on
    assert by_id["hostile"]["capture"] is None
    error = by_id["hostile"]["lookup_error"]
    assert error.startswith(f"CDX search for {HOSTILE}: the answer cannot be read (")
    assert why in error

    text = archive(clean_sandbox)  # the text report says it too
    assert text.exit_code == 1 and "Traceback" not in text.output
    assert "hostile: finding its captures failed, what was known is kept (CDX search" in (
        text.stdout
    )


def test_a_failed_lookup_keeps_the_capture_already_known(
    clean_sandbox: Sandbox, project: Path
) -> None:
    clean_sandbox.wayback.seed(HOSTILE, "20220915120000")
    clean_sandbox.wayback.seed(GOOD, "20220915120000")
    assert archive(clean_sandbox).exit_code == 0
    clean_sandbox.wayback.answer_cdx(HOSTILE, ANSWERS["number-for-timestamp"][0])
    again = archive(clean_sandbox, "--refresh-captures", "--format", "json")
    assert again.exit_code == 0, again.output
    hostile = next(e for e in json.loads(again.stdout)["readings"] if e["id"] == "hostile")
    assert "the answer cannot be read" in hostile["lookup_error"]
    assert hostile["capture"]["timestamp"] == "20220915120000"


def test_rows_with_impossible_timestamps_are_no_captures() -> None:
    rows = parse_cdx_json(f'[["timestamp","original"],["20261399999999","{GOOD}"]]')
    assert rows == [{"timestamp": "20261399999999", "original": GOOD}]
    for bad in ("20261399999999", "2026", "２０２６０１０１", "²0260101", 20260101, None, ""):
        assert capture_timestamp(bad) is None
    assert capture_timestamp("20260101") == "20260101"
    assert capture_timestamp("20260101123000") == "20260101123000"


def test_nightly_goes_through_an_unreadable_cdx_answer(
    clean_sandbox: Sandbox, project: Path
) -> None:
    clean_sandbox.wayback.seed(GOOD, "20220915120000")
    clean_sandbox.wayback.answer_cdx(HOSTILE, ANSWERS["header-not-a-list"][0])
    remaps = [part for rule in clean_sandbox.remap_rules() for part in ("--remap", rule)]
    outputs = ["--summary-file", "summary.md", "--site", "site", "--markdown", "R.md"]
    argv = ["nightly", "--no-issue", "--allow-private", "--host-interval", "0", *CLI_FAST[:4],
            *remaps, *outputs]  # fmt: skip
    result = CliRunner().invoke(cli, argv, catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert result.exit_code == 0, result.output
    summary = (project / "summary.md").read_text(encoding="utf-8")
    assert "- **archive** (ran)" in summary
    record = json.loads((project / "snapshots" / "good.json").read_text(encoding="utf-8"))
    assert record["captures"]["assigned"]["timestamp"] == "20220915120000"
