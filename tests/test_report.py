"""Report formats over hand-made outcomes: grouping by action, JSON schema, annotations."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources

import jsonschema
import pytest

from linkkeeper.check.report import (
    Action,
    Outcome,
    Row,
    action_for,
    has_findings,
    render,
    render_github,
    render_json,
    render_markdown,
    render_text,
)
from linkkeeper.core.models import CheckResult, Health, Reading, Verdict

AT = datetime(2026, 3, 2, 3, 4, 5, tzinfo=UTC)


def row(
    rid: str,
    verdict: Verdict,
    health: Health | None,
    *,
    url: str | None = "https://example.org/x",
    suggestion: str | None = None,
    reason: str = "why",
    line: int | None = 7,
    **extra: object,
) -> Row:
    reading = Reading(id=rid, title=f"Title {rid}", url=url, week=1, line=line)
    result = CheckResult(
        id=rid,
        url=url,
        verdict=verdict,
        reason=reason,
        suggestion=suggestion,
        http_status=200,
        checked_at=AT,
        health=health,
    )
    return Row(reading, result, **extra)  # type: ignore[arg-type]


def sample() -> Outcome:
    return Outcome(
        rows=[
            row("fine", Verdict.OK, Health.ALIVE, line=3),
            row("moved", Verdict.MOVED, Health.ALIVE, suggestion="https://new.example/", line=5),
            row("tds", Verdict.BROKEN, Health.FAILING, suggestion="https://medium.com/x", line=9),
            row("gone", Verdict.BROKEN, Health.DEAD, reason="HTTP 404, 100% sure", line=12),
            row("flaky", Verdict.BROKEN, Health.FAILING, line=15),
            row("slow", Verdict.TRANSIENT, Health.FAILING, line=18),
            row("walled", Verdict.BLOCKED, Health.BLOCKED, line=21),
            row("task", Verdict.SKIPPED, Health.UNKNOWN, url=None, reason="no URL", line=24),
            row("cached", Verdict.OK, Health.ALIVE, fresh=True, line=27),
        ]
    )


def schema() -> dict[str, object]:
    text = resources.files("linkkeeper").joinpath("check-report.schema.json").read_text()
    return json.loads(text)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("verdict", "health", "suggestion", "expected"),
    [
        (Verdict.OK, Health.ALIVE, None, None),
        (Verdict.MOVED, Health.ALIVE, "https://n/", Action.REPLACE),
        (Verdict.BROKEN, Health.FAILING, "https://twin/", Action.REPLACE),
        (Verdict.BROKEN, Health.DEAD, None, Action.USE_ARCHIVE),
        (Verdict.TRANSIENT, Health.DEAD, None, Action.USE_ARCHIVE),
        (Verdict.BROKEN, Health.FAILING, None, Action.WAIT),
        (Verdict.TRANSIENT, Health.FAILING, None, Action.WAIT),
        (Verdict.BLOCKED, Health.BLOCKED, None, Action.IGNORE),
        (Verdict.SKIPPED, Health.UNKNOWN, None, Action.IGNORE),  # e.g. private address refused
    ],
)
def test_action_for_each_verdict_and_health(
    verdict: Verdict, health: Health, suggestion: str | None, expected: Action | None
) -> None:
    result = CheckResult("r", "https://x/", verdict, "why", suggestion=suggestion, health=health)
    assert action_for(result) == expected


def test_reading_without_url_needs_nothing() -> None:
    result = CheckResult("r", None, Verdict.SKIPPED, "no URL", health=Health.UNKNOWN)
    assert action_for(result) is None


def test_attention_groups_rows_in_action_order() -> None:
    groups = sample().attention()
    assert list(groups) == [Action.REPLACE, Action.USE_ARCHIVE, Action.WAIT, Action.IGNORE]
    assert [r.reading.id for r in groups[Action.REPLACE]] == ["moved", "tds"]
    assert [r.reading.id for r in groups[Action.USE_ARCHIVE]] == ["gone"]
    assert [r.reading.id for r in groups[Action.WAIT]] == ["flaky", "slow"]
    assert [r.reading.id for r in groups[Action.IGNORE]] == ["walled"]


def test_summary_counts() -> None:
    summary = sample().summary()
    assert summary["total"] == 9
    assert (summary["checked"], summary["fresh"], summary["skipped"]) == (7, 1, 1)
    assert summary["by_verdict"] == {
        "ok": 2, "moved": 1, "broken": 3, "blocked": 1, "transient": 1, "skipped": 1,
    }  # fmt: skip
    assert summary["by_health"]["dead"] == 1
    assert summary["by_health"]["failing"] == 3
    assert summary["by_action"] == {"replace": 2, "use-archive": 1, "wait": 2, "ignore": 1}


@pytest.mark.parametrize(
    ("fail_on", "expected"), [("broken", True), ("dead", True), ("never", False)]
)
def test_fail_on(fail_on: str, expected: bool) -> None:
    assert has_findings(sample(), fail_on) is expected


def test_fail_on_dead_ignores_a_first_broken_night() -> None:
    outcome = Outcome(rows=[row("flaky", Verdict.BROKEN, Health.FAILING)])
    assert has_findings(outcome, "broken")
    assert not has_findings(outcome, "dead")


def test_json_matches_schema_and_documented_fields() -> None:
    document = json.loads(render_json(sample()))
    jsonschema.validate(document, schema())
    first = document["results"][0]
    for key in ("id", "url", "final_url", "kind", "verdict", "health", "http_status", "reason",
                "suggestion", "checked_at"):  # fmt: skip
        assert key in first
    assert first["checked_at"] == "2026-03-02T03:04:05Z"
    assert [r["id"] for r in document["results"]][:2] == ["fine", "moved"]
    by_id = {r["id"]: r for r in document["results"]}
    assert by_id["gone"]["action"] == "use-archive"
    assert by_id["cached"]["fresh"] is True
    assert by_id["task"]["action"] is None


def test_schema_rejects_an_unknown_verdict() -> None:
    document = json.loads(render_json(sample()))
    document["results"][0]["verdict"] = "dead-ish"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema())


def test_seams_show_archive_link_and_drift_flag() -> None:
    outcome = Outcome(
        rows=[
            row(
                "gone",
                Verdict.BROKEN,
                Health.DEAD,
                archive_url="https://web.archive.org/web/1/x",
                changed=True,
            )
        ]
    )
    document = json.loads(render_json(outcome))
    jsonschema.validate(document, schema())
    assert document["results"][0]["archive_url"] == "https://web.archive.org/web/1/x"
    assert document["results"][0]["changed"] is True
    for text in (render_text(outcome), render_markdown(outcome), render_github(outcome)):
        assert "https://web.archive.org/web/1/x" in text
        assert "(changed)" in text


def test_text_lists_attention_with_reason_and_suggestion() -> None:
    text = render_text(sample())
    assert "Replace the link (2):" in text
    assert "use https://new.example/" in text
    assert "HTTP 404, 100% sure" in text
    assert "fine" not in text.split("\n")[0]
    assert "  fine " not in text and "  task " not in text  # nothing to do for these
    assert text.rstrip().endswith("1 fresh, 1 skipped")


def test_text_when_all_is_well() -> None:
    text = render_text(Outcome(rows=[row("fine", Verdict.OK, Health.ALIVE)]))
    assert "All links need nothing." in text


def test_markdown_tables_escape_pipes() -> None:
    outcome = Outcome(rows=[row("p", Verdict.BROKEN, Health.DEAD, reason="a | b")])
    markdown = render_markdown(outcome)
    assert markdown.startswith("## linkkeeper check")
    assert "a \\| b" in markdown
    assert "| [Title p](https://example.org/x)<br>`p` | broken / dead |" in markdown


def test_github_annotations_point_at_reading_lines() -> None:
    lines = render_github(sample(), "course/readings.yaml").splitlines()
    assert lines[0].startswith(
        "::warning file=course/readings.yaml,line=5,title=moved%3A replace::"
    )
    gone = next(line for line in lines if "line=12" in line)
    assert gone.startswith("::error ")
    assert "HTTP 404, 100%25 sure" in gone  # % escaped as the workflow syntax requires
    assert any(line.startswith("::notice ") and "line=21" in line for line in lines)
    assert not any("line=3," in line or "line=24," in line for line in lines)
    assert not lines[-1].startswith("::")  # the summary is a plain log line


def test_github_escapes_newlines_in_messages() -> None:
    outcome = Outcome(rows=[row("n", Verdict.BROKEN, Health.DEAD, reason="one\ntwo")])
    line = render_github(outcome).splitlines()[0]
    assert "one%0Atwo" in line


def test_offline_is_loud_in_every_format() -> None:
    outcome = Outcome(rows=[row("a", Verdict.TRANSIENT, Health.FAILING)], offline=True)
    for fmt in ("text", "markdown", "github"):
        assert "network seems down" in render(outcome, fmt)
    assert json.loads(render(outcome, "json"))["summary"]["offline"] is True
