"""Ledgers for the publish tests, written through the real Ledger API (health is computed by
the health module from check histories, not hand-written)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from linkkeeper.archive.capture_check import GOOD, record_verdict
from linkkeeper.core.models import CheckResult, Reading, Verdict
from linkkeeper.ledger.store import Ledger

END = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)  # the newest check of every ledger built here
DEFAULT_ASSIGNED = date(2021, 10, 11)

OK = (Verdict.OK, "HTTP 200", 200)
BROKEN = (Verdict.BROKEN, "HTTP 404 Not Found", 404)
TRANSIENT = (Verdict.TRANSIENT, "timed out after 3 attempts", None)
BLOCKED = (Verdict.BLOCKED, "HTTP 403 with a Cloudflare challenge", 403)
MOVED = (Verdict.MOVED, "HTTP 301 to a live page", 301)
HISTORY = {  # one check per night, the last one at END
    "alive": [OK, OK, OK],
    "failing": [OK, OK, TRANSIENT],
    "dead": [OK, BROKEN, BROKEN, BROKEN],
    "blocked": [BLOCKED, BLOCKED, BLOCKED],
    "moved": [OK, MOVED],
    "unknown": [],
}


@dataclass
class Plan:
    """What the ledger should say about one reading."""

    state: str = "alive"
    capture: str | None = "assigned"  # "assigned", "latest" or None (never archived)
    changed: str | None = None  # drift description when the page changed
    metadata: dict[str, Any] = field(default_factory=dict)  # field -> value
    suggestion: str | None = None  # what the last check suggested (moved target, live elsewhere)


def capture_for(reading: Reading, kind: str) -> dict[str, str]:
    day = (reading.assigned or DEFAULT_ASSIGNED) if kind == "assigned" else END.date()
    stamp = f"{day:%Y%m%d}093000"
    original = reading.url or ""
    return {
        "timestamp": stamp,
        "url": f"https://web.archive.org/web/{stamp}/{original}",
        "original": original,
    }


def write_ledger(path: Path, readings: Iterable[Reading], plans: Mapping[str, Plan]) -> None:
    """One record per planned reading (readings without a plan get no record at all)."""
    with Ledger(path) as ledger:
        for reading in readings:
            plan = plans.get(reading.id)
            if plan is None:
                continue
            history = HISTORY[plan.state]
            for night, (verdict, reason, status) in enumerate(history):
                at = END - timedelta(days=len(history) - 1 - night)
                last = night == len(history) - 1
                result = CheckResult(
                    reading.id, reading.url, verdict, reason, http_status=status, checked_at=at,
                    suggestion=plan.suggestion if last else None,
                )  # fmt: skip
                ledger.add_check(reading, result)
            record = ledger.record_for(reading)
            if plan.capture:
                capture = capture_for(reading, plan.capture)
                section = record.section("captures")
                section.update(
                    assigned=capture if plan.capture == "assigned" else None,
                    latest=capture_for(reading, "latest"),
                    ours=[],
                    checked_at="2026-03-02T04:30:00Z",
                    excluded=None,
                )
                for copy in (capture, capture_for(reading, "latest")):  # both read, both good
                    record_verdict(section, copy, GOOD, "HTTP 200 OK", END)
            if plan.changed:
                record.section("drift").update(
                    changed=True, similarity=0.41, description=plan.changed
                )
            for name, value in plan.metadata.items():
                record.section("metadata")[name] = {
                    "value": value,
                    "source": "citation_title",
                    "confidence": "high",
                }
            ledger.save(record)


# A night on the group's real curriculum, as the sandbox plays it: Towards Data Science links
# gone, a bot wall at MIT Technology Review, Medium flaky, one link not checked yet.
SANDBOX_PLANS: dict[str, Plan] = {
    "taxonomy-of-nns": Plan("dead"),
    "2d-convolution-tutorial": Plan("dead", capture="latest"),
    "ai-is-learning-how-to-create-itself": Plan("blocked"),
    "medium-ursula-le-guin-and-machine-learning": Plan("failing", capture="latest"),
    "tvm": Plan("unknown", capture=None),
    "less-technical-explainer": Plan(changed="title changed; length halved"),
    "arxiv-1706-03762": Plan(
        metadata={"authors": ["Ashish Vaswani", "Noam Shazeer", "Niki Parmar", "Jakob Uszkoreit"]}
    ),
    "mirror-herndondryhurst-eth": Plan(metadata={"authors": ["Holly Herndon", "Mat Dryhurst"]}),
}


def sandbox_plans(readings: Iterable[Reading]) -> dict[str, Plan]:
    """Every linked reading alive and archived, except those ``SANDBOX_PLANS`` says otherwise."""
    return {r.id: SANDBOX_PLANS.get(r.id, Plan()) for r in readings if r.url}
