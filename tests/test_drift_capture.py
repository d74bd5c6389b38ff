"""The drift baseline from the assigned-week capture, and ``check --accept-drift``.

Real sockets: ``check`` fetches the sandbox web, ``archive`` finds and replays the sandbox
Wayback Machine's captures (through the same remap rules), both through the CLI. Every claim
about what was fetched is checked against the requests the sandbox recorded.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from linkkeeper.archive.capture_baseline import read_assigned
from linkkeeper.archive.wayback import WaybackClient, WaybackSettings, make_client
from linkkeeper.check import drift
from linkkeeper.cli import cli
from linkkeeper.core.models import Reading
from linkkeeper.ledger.record import Record
from linkkeeper.sandbox import Sandbox
from linkkeeper.web.remap import Remapper

WEB = "web.archive.org"
LIVE = "https://blog.example/post/live"
TS = "20220915120000"  # the week was posted 2023-03-06: this capture is the assigned one
REPLAY = f"/web/{TS}id_/"
READINGS_YAML = f"""\
title: Drift list
weeks:
  - week: 1
    posted: 2023-03-06
    readings:
      - id: live
        title: Notes on reading groups
        url: {LIVE}
"""
WORDS = [a + b for a in ("ka", "to", "mi", "ra", "ne", "lu", "so") for b in ("fe", "di", "po")]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A one-reading curriculum; no config, keys or remap rules of the developer's own."""
    (tmp_path / "readings.yaml").write_text(READINGS_YAML, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("IA_CONFIG_FILE", str(tmp_path / "absent-ia.ini"))
    for name in ("IA_ACCESS_KEY", "IA_SECRET_KEY", "LINKKEEPER_REMAP", "LINKKEEPER_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def run(box: Sandbox, command: str, *args: str) -> Result:
    remaps = [part for rule in box.remap_rules() for part in ("--remap", rule)]
    tuning = {
        "check": ["--host-interval", "0", "--fail-on", "never", "--format", "json"],
        "archive": ["--cdx-interval", "0", "--format", "json"],
    }[command]
    result = CliRunner().invoke(cli, [command, "--allow-private", *tuning, *remaps, *args])
    assert result.exit_code == 0, result.output
    return result


def drift_of(project: Path) -> dict[str, Any]:
    data = json.loads((project / "snapshots" / "live.json").read_text(encoding="utf-8"))
    return data["drift"]


def row(result: Result) -> dict[str, Any]:
    (only,) = json.loads(result.stdout)["results"]
    return only


def replays(box: Sandbox) -> int:
    return len(box.requests.matching(WEB, REPLAY))


def live_page(box: Sandbox) -> str:
    """The live article's HTML, as the check sees it."""
    return httpx.get(f"{box.origin('blog.example')}/post/live", timeout=5).text


def replaced_article() -> str:
    """Same site, same title, another text: what a rewritten post looked like in 2022."""
    pick = random.Random(7).choice
    paragraphs = "".join(
        "<p>" + " ".join(pick(WORDS) for _ in range(60)) + ".</p>" for _ in range(10)
    )
    return (
        "<!DOCTYPE html><html><head><title>Notes on reading groups</title></head><body>"
        f"<main><article><h1>Notes on reading groups</h1>{paragraphs}</article></main>"
        "</body></html>"
    )


def test_a_replaced_article_is_changed_against_the_capture_and_accepting_it_sticks(
    clean_sandbox: Sandbox, project: Path
) -> None:
    run(clean_sandbox, "check")
    first = drift_of(project)
    assert first["baseline"]["source"] == "live" and first["changed"] is False
    clean_sandbox.wayback.seed(LIVE, TS, body=replaced_article())

    archived = json.loads(run(clean_sandbox, "archive").stdout)
    assert archived["readings"][0]["assigned"]["timestamp"] == TS
    section = drift_of(project)
    assert section["baseline"]["source"] == "capture" and section["baseline"]["capture"] == TS
    assert section["baseline"]["at"] == "2022-09-15T12:00:00Z"
    assert section["first_seen"] == first["baseline"]  # the live first view is kept
    assert section["latest"] == first["baseline"]  # ... and compared at once
    assert section["changed"] is True and section["similarity"] < 0.3
    assert "mostly new text" in section["description"]
    assert section["capture"]["result"] == "baseline"
    assert replays(clean_sandbox) == 1

    report = row(run(clean_sandbox, "check"))  # fresh: the recorded verdict, now changed
    assert report["changed"] is True and report["similarity"] < 0.3
    run(clean_sandbox, "archive", "--refresh-captures")  # looked up again: not read again
    assert replays(clean_sandbox) == 1 and drift_of(project) == section

    accepting = run(clean_sandbox, "check", "--accept-drift", "live")
    assert "live: its current text is the new drift baseline" in accepting.stderr
    assert row(accepting)["changed"] is False
    accepted = drift_of(project)
    assert accepted["baseline"]["source"] == "accepted" and accepted["changed"] is False
    assert accepted["capture"]["timestamp"] == TS  # the capture stays read
    again = row(run(clean_sandbox, "check", "--max-age", "0"))  # fetched live again
    assert again["fresh"] is False and again["changed"] is False and again["similarity"] == 1.0
    run(clean_sandbox, "archive", "--refresh-captures")
    assert drift_of(project)["baseline"]["source"] == "accepted"  # the capture is not put back
    assert replays(clean_sandbox) == 1


def test_a_capture_that_differs_only_in_ads_and_dates_is_not_drift(
    clean_sandbox: Sandbox, project: Path
) -> None:
    then = live_page(clean_sandbox).replace("2023-04-01", "2022-09-14")
    assert then != live_page(clean_sandbox)
    then = then.replace(
        "<article>",
        '<article><div class="ad-slot">Kettle Pro: forty percent off today</div>'
        '<div class="related-posts"><a href="/r">Why kettles whistle</a></div>',
    )
    clean_sandbox.wayback.seed(LIVE, TS, body=then)
    run(clean_sandbox, "archive")  # before any check: the capture is the first baseline
    section = drift_of(project)
    assert section["baseline"]["source"] == "capture" and "first_seen" not in section
    assert section["changed"] is None and section["latest"] is None  # nothing to compare yet
    report = row(run(clean_sandbox, "check"))
    assert report["changed"] is False and report["similarity"] == 1.0
    section = drift_of(project)
    assert section["baseline"]["source"] == "capture" and section["changed"] is False
    assert replays(clean_sandbox) == 1


def test_a_pdf_capture_gives_no_baseline_and_is_read_once(
    clean_sandbox: Sandbox, project: Path
) -> None:
    pdf = (Path(__file__).parents[1] / "linkkeeper/sandbox/data/attention.pdf").read_bytes()
    clean_sandbox.wayback.seed(LIVE, TS, mimetype="application/pdf", body=pdf)
    run(clean_sandbox, "archive")
    run(clean_sandbox, "archive", "--refresh-captures")
    assert replays(clean_sandbox) == 1
    mark = drift_of(project)["capture"]
    assert mark["timestamp"] == TS and mark["result"] == "skipped" and "PDF" in mark["note"]
    run(clean_sandbox, "check")  # the live view is the baseline; the note stays
    section = drift_of(project)
    assert section["baseline"]["source"] == "live" and section["capture"] == mark


@pytest.mark.asyncio
async def test_a_failed_replay_is_noted_never_raised_and_retried_a_few_times(
    clean_sandbox: Sandbox,
) -> None:
    """The archive answers nothing (a refused port, for real): noted, retried on later runs
    up to CAPTURE_TRIES, then left alone."""
    reading = Reading("live", "Notes", LIVE)
    record = Record.new(reading)
    record.data["captures"] = {"assigned": {"timestamp": TS, "original": LIVE, "url": "x"}}
    now = datetime(2026, 3, 2, tzinfo=UTC)
    settings = WaybackSettings(cdx_interval=0.0, timeout=2.0)
    rules = Remapper.parse(clean_sandbox.remap_rules())
    async with make_client(rules, allow_private=True) as client:
        wayback = WaybackClient(client, wayback_url="https://refused.example", settings=settings)
        results = [await read_assigned(record, reading, wayback, now) for _ in range(4)]
    assert results == [True, True, True, False]  # the fourth run does not try again
    mark = record.data["drift"]["capture"]
    assert mark["result"] == "failed" and mark["attempts"] == drift.CAPTURE_TRIES
    assert "replay of" in mark["note"]
    assert "baseline" not in record.data["drift"]


def test_accept_drift_of_an_unknown_reading_is_a_usage_error(project: Path) -> None:
    result = CliRunner().invoke(cli, ["check", "--accept-drift", "nope"])
    assert result.exit_code == 2
    assert "'nope'" in result.stderr and "linkkeeper list" in result.stderr
    assert not (project / "snapshots").exists()  # refused before the ledger is touched
