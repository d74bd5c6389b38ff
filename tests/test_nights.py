"""Recent nights as squares: rebuilt from the change-only history, drawn for the page (SVG),
``show`` and the rolling issue (Unicode blocks)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bs4 import BeautifulSoup
from click.testing import CliRunner

from linkkeeper.check.report import Outcome, Row
from linkkeeper.cli import cli
from linkkeeper.core.models import CheckResult, Health, Reading, Verdict
from linkkeeper.ledger.record import Check
from linkkeeper.ledger.store import Ledger
from linkkeeper.outputs.nights import LIMIT, _cell, blocks, recent_nights, summary, svg
from linkkeeper.outputs.summary import issue_body

DAY = datetime(2026, 3, 1, 3, 17, tzinfo=UTC)


def check(days: float, verdict: Verdict, reason: str = "") -> Check:
    return Check(at=DAY + timedelta(days=days), verdict=verdict, reason=reason)


def test_quiet_nights_carry_the_last_recorded_verdict() -> None:
    checks = [check(0, Verdict.OK), check(3, Verdict.BROKEN, "HTTP 404"), check(4, Verdict.BROKEN)]
    marks = recent_nights(checks, end=date(2026, 3, 6))
    assert [m.day.day for m in marks] == [1, 2, 3, 4, 5, 6]
    assert blocks(marks) == "███▁▁▁"
    assert [m.carried for m in marks] == [False, True, True, False, False, True]
    assert marks[1].label == "2 Mar 2026: ok (unchanged)"
    assert marks[3].label == "4 Mar 2026: broken (HTTP 404)"
    assert summary(marks) == "6 nights: 3 ok, 3 broken"


def test_a_night_shows_its_worst_check_and_at_most_60_nights() -> None:
    same_day = [check(0, Verdict.OK), check(0.2, Verdict.TRANSIENT), check(0.4, Verdict.OK)]
    assert blocks(recent_nights(same_day)) == "▄"
    long = [check(d, Verdict.OK if d % 2 else Verdict.BLOCKED) for d in range(100)]
    marks = recent_nights(long)
    assert len(marks) == LIMIT and marks[-1].day == (DAY + timedelta(days=99)).date()
    assert marks[0].day == (DAY + timedelta(days=40)).date()
    assert recent_nights([]) == [] and blocks([]) == ""
    # a night before the window still says what held at its start
    gap = [check(0, Verdict.MOVED), check(80, Verdict.OK)]
    assert blocks(recent_nights(gap))[:2] == "▓▓"


def test_the_svg_has_a_shape_and_a_dated_title_per_night() -> None:
    checks = [
        check(0, Verdict.OK),
        check(1, Verdict.TRANSIENT, "timed out"),
        check(2, Verdict.BROKEN, "HTTP 410"),
        check(3, Verdict.BLOCKED),
        check(4, Verdict.MOVED),
        check(5, Verdict.SKIPPED),
    ]
    soup = BeautifulSoup(str(svg(recent_nights(checks), "n-x")), "html.parser")
    root = soup.svg
    assert root["role"] == "img" and root["aria-labelledby"] == "n-x"
    assert "6 nights: 1 ok, 1 moved" in root.find("title", id="n-x").get_text()
    groups = root.find_all("g")
    assert [g["class"][0] for g in groups] == [
        "n-ok",
        "n-transient",
        "n-broken",
        "n-blocked",
        "n-moved",
        "n-skipped",
    ]
    assert groups[2].title.get_text() == "3 Mar 2026: broken (HTTP 410)"
    # colour comes from the class (CSS); the geometry alone must tell the six apart
    shapes = {_cell(0, verdict) for verdict in Verdict}
    assert len(shapes) == 6, "every verdict needs its own shape, not only its own colour"
    assert "fill" not in str(root) and "stroke" not in str(root)


def test_show_prints_the_nights_as_blocks(tmp_path: Path) -> None:
    (tmp_path / "readings.yaml").write_text(
        "weeks:\n- week: 1\n  readings:\n  - id: flaky\n    url: https://example.org/f\n"
    )
    reading = Reading("flaky", None, "https://example.org/f")
    with Ledger(tmp_path / "snapshots") as ledger:
        for day, verdict in [(0, Verdict.OK), (2, Verdict.TRANSIENT), (3, Verdict.OK)]:
            result = CheckResult(
                "flaky", reading.url, verdict, "r", checked_at=DAY + timedelta(day)
            )
            ledger.add_check(reading, result)
    args = [
        "show",
        "flaky",
        "--readings",
        str(tmp_path / "readings.yaml"),
        "--snapshots",
        str(tmp_path / "snapshots"),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "Recent nights (4 nights: 3 ok, 1 failed (temporary); 2026-03-01 to 2026-03-04):" in (
        result.output
    )
    assert "\n  ██▄█\n" in result.output and "▁ broken" in result.output


def test_the_rolling_issue_shows_the_nights_of_the_readings_it_lists() -> None:
    reading = Reading("gone", "Gone", "https://example.org/gone", week=2)
    result = CheckResult("gone", reading.url, Verdict.BROKEN, "HTTP 404", checked_at=DAY)
    result.health = Health.DEAD
    body = issue_body(Outcome([Row(reading, result)]), {"gone": DAY}, {"gone": "██▁▁▁"})
    assert "2026-03-01<br>`██▁▁▁`" in body
    assert "Recent nights: █ ok" in body
    assert "`██▁▁▁`" not in issue_body(Outcome([Row(reading, result)]), {"gone": DAY})
