"""What members read says what linkkeeper knows, in members' words (issue 18.14)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from linkkeeper.cli import cli
from linkkeeper.core.models import CheckResult, Verdict
from linkkeeper.curriculum.readings import load
from linkkeeper.ledger.store import Ledger
from linkkeeper.outputs.pages import build

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
READINGS = """\
weeks:
  - week: 1
    readings:
      - id: walled
        title: Behind a wall
        url: https://walled.example/post
      - id: soft
        title: Soft gone
        url: https://soft.example/post
      - id: private
        title: On the intranet
        url: https://intranet.example/post
"""
SOFT = "soft 404: the title says page not found (+1.0); deep link redirected to the root (+0.5)"


def project(tmp_path: Path) -> tuple[Path, Path]:
    readings = tmp_path / "readings.yaml"
    readings.write_text(READINGS, encoding="utf-8")
    return readings, tmp_path / "snapshots"


def night(snapshots: Path, readings: Path, at: datetime, rid: str, verdict: Verdict,
          reason: str) -> None:  # fmt: skip
    by_id = load(readings).by_id()
    with Ledger(snapshots) as ledger:
        result = CheckResult(rid, by_id[rid].url, verdict, reason, checked_at=at)
        ledger.add_check(by_id[rid], result)


def test_a_blocked_card_shows_the_last_night_it_was_checked(tmp_path: Path) -> None:
    readings, snapshots = project(tmp_path)
    wall = "bot wall: Cloudflare challenge (HTTP 403)"
    for day in range(5):  # the same wall every night: only the first is stored
        night(snapshots, readings, T0 + timedelta(days=day), "walled", Verdict.BLOCKED, wall)
    view = {r.id: r for r in build(load(readings), Ledger(snapshots)).readings()}
    assert view["walled"].last_checked == T0 + timedelta(days=4)


def test_members_never_read_the_soft_404_score(tmp_path: Path) -> None:
    readings, snapshots = project(tmp_path)
    for day in range(2):
        night(snapshots, readings, T0 + timedelta(days=day), "soft", Verdict.BROKEN, SOFT)
    site = build(load(readings), Ledger(snapshots))
    why = {r.id: r for r in site.readings()}["soft"].why or ""
    assert "page not found" in why and "(+1.0)" not in why and "(+0.5)" not in why
    args = ["--readings", str(readings), "--snapshots", str(snapshots)]
    post = CliRunner().invoke(cli, ["week", "1", *args], catch_exceptions=False).stdout
    assert "(+" not in post
    shown = CliRunner().invoke(cli, ["show", "soft", *args], catch_exceptions=False).stdout
    assert "(+1.0)" in shown  # the organizer's view keeps the evidence


def test_show_never_says_not_checked_yet_above_a_recorded_check(tmp_path: Path) -> None:
    readings, snapshots = project(tmp_path)
    refused = "intranet.example resolves to 10.0.0.7, a private address; not fetched"
    night(snapshots, readings, T0, "private", Verdict.SKIPPED, refused)
    args = ["show", "private", "--readings", str(readings), "--snapshots", str(snapshots)]
    shown = CliRunner().invoke(cli, args, catch_exceptions=False).stdout
    assert "not checked yet" not in shown
    assert "Health: unknown — no verdict yet: 1 check(s) recorded, none judged the link" in shown
    assert "private address" in shown
