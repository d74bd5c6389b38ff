"""`linkkeeper archive` against the sandbox Wayback Machine, over real loopback sockets.

Through the Python API (``ArchiveRun``, with the sandbox's manual clock so days pass in a
line) and through the CLI (CliRunner, and a real subprocess for the crash test). Every claim
about what was submitted is checked against the requests the sandbox recorded.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from click.testing import CliRunner, Result

from linkkeeper.archive.iakeys import KEYS_PAGE, Keys
from linkkeeper.archive.run import ArchiveOutcome, ArchiveRun, ArchiveSettings, spn2_within
from linkkeeper.archive.wayback import Pacer, WaybackClient, WaybackSettings, make_client
from linkkeeper.cli import cli
from linkkeeper.core.models import Reading
from linkkeeper.curriculum.readings import load
from linkkeeper.ledger.links import pick_capture
from linkkeeper.ledger.store import Ledger
from linkkeeper.sandbox import Sandbox
from linkkeeper.sandbox.wayback import ManualClock, WaybackMachine
from linkkeeper.web.remap import Remapper

ROOT = Path(__file__).resolve().parent.parent
WEB = "web.archive.org"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
KEYS_ENV = {"IA_ACCESS_KEY": "sandbox-access", "IA_SECRET_KEY": "sandbox-secret"}
KEYS = Keys("sandbox-access", "sandbox-secret")
FAST = WaybackSettings(poll_interval=0.01, poll_deadline=2.0, cdx_interval=0.0, timeout=5.0)
CLI_FAST = ["--poll-interval", "0.01", "--cdx-interval", "0", "--captures-per-minute", "60000"]


def url(n: int) -> str:  # a host the sandbox web does not serve: stub captures
    return f"https://posts.example/post/{n}"


def readings(count: int, assigned: date | None = date(2026, 1, 6)) -> list[Reading]:
    return [
        Reading(f"r{n}", f"Reading {n}", url(n), week=1, assigned=assigned) for n in range(count)
    ]


@pytest.fixture(autouse=True)
def no_real_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never read the developer's ~/.ia or ia.ini, nor keys exported in their shell."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("IA_CONFIG_FILE", str(home / "absent-ia.ini"))
    for name in ("IA_ACCESS_KEY", "IA_SECRET_KEY", "LINKKEEPER_REMAP", "LINKKEEPER_FORMAT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def machine(clean_sandbox: Sandbox) -> WaybackMachine:
    machine: WaybackMachine = clean_sandbox.wayback
    machine.configure(captures_per_minute=100_000, pending_polls=1)
    return machine


@pytest.fixture
def clock(machine: WaybackMachine) -> ManualClock:
    clock = ManualClock(NOW)
    machine.configure(clock=clock)
    return clock


async def archive(
    box: Sandbox,
    selected: Sequence[Reading],
    snapshots: Path,
    clock: ManualClock,
    *,
    keys: Keys | None = KEYS,
    pacer: Pacer | None = None,
    protocol: WaybackSettings = FAST,
    **kw: object,
) -> ArchiveOutcome:
    async with make_client(Remapper.parse(box.remap_rules()), allow_private=True) as client:
        wayback = WaybackClient(client, keys, settings=protocol, now=clock)
        with Ledger(snapshots) as ledger:
            run = ArchiveRun(
                ledger, wayback, ArchiveSettings(), pacer or Pacer(per_minute=600_000), clock, **kw
            )  # type: ignore[arg-type]
            return await run.run(selected)


def record(snapshots: Path, reading_id: str) -> dict:  # type: ignore[type-arg]
    return json.loads((snapshots / f"{reading_id}.json").read_text(encoding="utf-8"))


def posts(box: Sandbox) -> Counter[str]:
    """Submitted URLs (each POST /save), counted."""
    return Counter(
        parse_qs(r.body.decode())["url"][0] for r in box.requests.matching(WEB, "/save", "POST")
    )


def states(outcome: ArchiveOutcome) -> dict[str, str | None]:
    return {e.reading.id: e.state.value if e.state else None for e in outcome.entries}


# -- capturing ----------------------------------------------------------------
@pytest.mark.asyncio
async def test_captures_after_pending_polls_and_records_them(
    clean_sandbox: Sandbox, machine: WaybackMachine, clock: ManualClock, tmp_path: Path
) -> None:
    machine.configure(pending_polls=3)
    outcome = await archive(clean_sandbox, readings(2), tmp_path, clock)
    assert states(outcome) == {"r0": "captured", "r1": "captured"}
    assert posts(clean_sandbox) == {url(0): 1, url(1): 1}
    data = record(tmp_path, "r0")
    snapshot = f"https://web.archive.org/web/20260302120000/{url(0)}"
    (ours,) = data["captures"]["ours"]
    assert ours["url"] == snapshot and ours["job_id"].startswith("spn2-")
    assert data["captures"]["latest"] == {k: v for k, v in ours.items() if k != "job_id"}
    assert data["captures"]["assigned"]["url"] == snapshot  # closest after the assignment
    assert data["archive"] == {
        "state": "captured",
        "job_id": ours["job_id"],
        "submitted_at": "2026-03-02T12:00:00Z",
        "attempts": 1,
        "reason": "captured on 2026-03-02",
        "status_ext": None,
        "next_try_after": None,
    }
    assert len(clean_sandbox.requests.matching(WEB, f"/save/status/{ours['job_id']}")) == 4
    # the account's free slots are read before anything is submitted
    order = [r.path.split("?")[0] for r in clean_sandbox.requests.matching(WEB, "/save")]
    assert order.index("/save/status/user") < order.index("/save")
    # a second run inside the window asks the archive nothing and rewrites nothing
    before = {p.name: p.read_bytes() for p in tmp_path.glob("*.json")}
    clean_sandbox.requests.clear()
    again = await archive(clean_sandbox, readings(2), tmp_path, clock)
    assert states(again) == {"r0": "captured", "r1": "captured"}
    assert list(clean_sandbox.requests) == []
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*.json")} == before


@pytest.mark.asyncio
async def test_recent_capture_in_cdx_needs_no_submission(
    clean_sandbox: Sandbox, machine: WaybackMachine, clock: ManualClock, tmp_path: Path
) -> None:
    machine.seed(url(0), NOW - timedelta(days=3))
    machine.seed(url(1), NOW - timedelta(days=40))  # older than the 30-day window
    outcome = await archive(clean_sandbox, readings(2), tmp_path, clock)
    assert states(outcome) == {"r0": "recent", "r1": "captured"}
    assert posts(clean_sandbox) == {url(1): 1}
    recent = record(tmp_path, "r0")
    assert recent["captures"]["latest"]["timestamp"] == "20260227120000"
    assert recent["archive"]["reason"] == "archived on 2026-02-27; no new capture needed"
    assert recent["captures"]["ours"] == [] and recent["archive"]["attempts"] == 0


@pytest.mark.asyncio
async def test_recent_answer_from_save_page_now_is_respected(
    clean_sandbox: Sandbox, machine: WaybackMachine, clock: ManualClock, tmp_path: Path
) -> None:
    # Somebody captured it an hour ago; CDX does not list it yet (lag), SPN2 knows.
    machine.configure(visibility_lag=timedelta(days=1), pending_polls=0)
    _, job = machine.submit({"url": url(0)})
    machine.poll(job["job_id"])
    clock.advance(hours=1)
    outcome = await archive(clean_sandbox, readings(1), tmp_path, clock)
    assert states(outcome) == {"r0": "recent"}
    data = record(tmp_path, "r0")["archive"]
    assert data["job_id"] is None and "had been made 1 hours, 0 minutes ago" in data["reason"]
    assert data["next_try_after"] == "2026-04-01T13:00:00Z"  # not asked again in the window
    clean_sandbox.requests.clear()
    await archive(clean_sandbox, readings(1), tmp_path, clock)
    assert posts(clean_sandbox) == {}


REFUSALS = [  # (status_ext, where, state, words in the reason)
    ("error:blocked-url", "submit", "refused", "block list"),
    ("error:not-found", "status", "refused", "404"),
    ("error:user-session-limit", "submit", "queued", "at once"),
    ("error:soft-time-limit-exceeded", "status", "queued", "too long"),
    ("error:brand-new-code-2027", "submit", "queued", "error:brand-new-code-2027"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("code", "at", "state", "words"), REFUSALS)
async def test_refusals_are_recorded_by_class(
    clean_sandbox: Sandbox,
    machine: WaybackMachine,
    clock: ManualClock,
    tmp_path: Path,
    code: str,
    at: str,
    state: str,
    words: str,
) -> None:
    machine.fail_url(url(0), code, at=at)  # type: ignore[arg-type]
    outcome = await archive(clean_sandbox, readings(2), tmp_path, clock)
    assert states(outcome) == {"r0": state, "r1": "captured"}  # the run goes on
    data = record(tmp_path, "r0")["archive"]
    assert data["status_ext"] == code and words in data["reason"]
    retry = "2026-03-02T13:00:00Z" if state == "queued" else None
    assert data["next_try_after"] == retry
    assert [e.reading.id for e in outcome.without_capture] == ["r0"]
    # An immediate rerun leaves it alone: refused for good, transient after next_try_after.
    clean_sandbox.requests.clear()
    await archive(clean_sandbox, readings(2), tmp_path, clock)
    assert posts(clean_sandbox) == {}
    clock.advance(hours=2)
    await archive(clean_sandbox, readings(2), tmp_path, clock)
    assert posts(clean_sandbox) == ({url(0): 1} if state == "queued" else {})
    # Naming a refused reading retries it.
    await archive(clean_sandbox, readings(2)[:1], tmp_path, clock, forced=frozenset({"r0"}))
    assert posts(clean_sandbox)[url(0)] >= 1


# -- keys ----------------------------------------------------------------
def cli_run(box: Sandbox, *args: str, env: dict[str, str] | None = None) -> Result:
    remaps = [part for rule in box.remap_rules() for part in ("--remap", rule)]
    argv = ["archive", "--allow-private", *CLI_FAST, *remaps, *args]
    return CliRunner().invoke(cli, argv, env=env, catch_exceptions=False)


READINGS_YAML = """\
title: Test list
weeks:
  - week: 1
    posted: 2023-03-06
    readings:
      - id: old-post
        title: An old post
        url: https://posts.example/post/0
      - id: new-post
        title: A new post
        url: https://posts.example/post/1
  - week: 2
    readings:
      - id: discuss
        title: Discuss in the group
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "readings.yaml").write_text(READINGS_YAML, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_without_keys_existing_captures_are_found_and_nothing_is_submitted(
    clean_sandbox: Sandbox, machine: WaybackMachine, project: Path
) -> None:
    machine.seed(url(0), "20220915120000")
    result = cli_run(clean_sandbox, "--format", "json")
    assert result.exit_code == 1, result.output  # new-post has no archived copy at all
    report = json.loads(result.stdout)
    by_id = {r["id"]: r for r in report["readings"]}
    assert by_id["old-post"]["state"] == by_id["new-post"]["state"] == "waiting-keys"
    assert by_id["old-post"]["capture"]["url"].endswith(f"/web/20220915120000/{url(0)}")
    assert by_id["old-post"]["assigned"]["timestamp"] == "20220915120000"
    assert by_id["new-post"]["capture"] is None and by_id["discuss"]["state"] is None
    assert report["keys"] is False and report["summary"]["waiting_keys"] == 2
    assert KEYS_PAGE in by_id["new-post"]["reason"]
    assert "looked up for 2 reading(s) (no keys needed)" in result.stderr
    assert result.stderr.count(KEYS_PAGE) == 1  # the keys paragraph once, not per reading
    assert "New Wayback captures need" not in by_id["new-post"]["reason"]  # nor in records
    assert not clean_sandbox.requests.matching(WEB, "/save")  # neither SPN2 nor legacy GET
    assert record(project / "snapshots", "new-post")["archive"]["state"] == "waiting-keys"


def test_refused_keys_wait_for_keys(
    clean_sandbox: Sandbox, machine: WaybackMachine, project: Path
) -> None:
    env = {"IA_ACCESS_KEY": "AKwrong", "IA_SECRET_KEY": "SKwrong"}
    result = cli_run(clean_sandbox, "--format", "json", env=env)
    states_ = {r["id"]: r["state"] for r in json.loads(result.stdout)["readings"]}
    assert states_ == {"old-post": "waiting-keys", "new-post": "waiting-keys", "discuss": None}
    assert "refused the keys" in result.stderr
    assert not clean_sandbox.requests.matching(WEB, "/save", "POST")


def test_cli_captures_with_keys_and_text_summary(
    clean_sandbox: Sandbox, machine: WaybackMachine, project: Path
) -> None:
    machine.seed(url(0), datetime.now(UTC) - timedelta(days=2))
    result = cli_run(clean_sandbox, env=KEYS_ENV)
    assert result.exit_code == 0, result.output
    assert "1 captured, 1 already archived." in result.stdout
    assert posts(clean_sandbox) == {url(1): 1}
    # --dry-run afterwards: nothing due, nothing written, nothing submitted
    clean_sandbox.requests.clear()
    dry = cli_run(clean_sandbox, "--dry-run", "--refresh-captures", env=KEYS_ENV)
    assert dry.exit_code == 0 and "Dry run, nothing written" in dry.stdout
    assert posts(clean_sandbox) == {}


def test_dry_run_shows_what_would_be_submitted_and_writes_nothing(
    clean_sandbox: Sandbox, machine: WaybackMachine, project: Path
) -> None:
    machine.seed(url(0), "20220915120000")
    result = cli_run(clean_sandbox, "--dry-run", "--format", "json", env=KEYS_ENV)
    report = json.loads(result.stdout)
    assert report["dry_run"] is True
    actions = {r["id"]: (r["action"], r["state"]) for r in report["readings"]}
    assert actions["old-post"] == ("would-submit", "queued")
    assert actions["new-post"] == ("would-submit", "queued")
    assert report["readings"][0]["assigned"]["timestamp"] == "20220915120000"
    assert not clean_sandbox.requests.matching(WEB, "/save")
    assert clean_sandbox.requests.matching(WEB, "/cdx/search/cdx")  # lookups are read-only
    assert not (project / "snapshots").exists()


def test_window_from_config_file_and_environment(
    clean_sandbox: Sandbox, machine: WaybackMachine, project: Path
) -> None:
    machine.seed(url(0), datetime.now(UTC) - timedelta(days=2))
    (project / "pyproject.toml").write_text(
        '[tool.linkkeeper.archive]\nif_not_archived_within = "1h"\n', encoding="utf-8"
    )

    def old_post(env: dict[str, str]) -> tuple[str, str]:
        result = cli_run(clean_sandbox, "--dry-run", "--format", "json", "old-post", env=env)
        entry = json.loads(result.stdout)["readings"][0]
        return entry["state"], entry["action"]

    assert old_post(KEYS_ENV) == ("queued", "would-submit")  # 2 days > 1 h: capture again
    env = KEYS_ENV | {"LINKKEEPER_IF_NOT_ARCHIVED_WITHIN": "30d"}  # the environment wins
    assert old_post(env) == ("recent", "looked-up")
    assert posts(clean_sandbox) == {}


def test_usage_errors_exit_2(clean_sandbox: Sandbox, project: Path) -> None:
    with Ledger(project / "snapshots"):
        locked = cli_run(clean_sandbox, env=KEYS_ENV)
    assert locked.exit_code == 2 and "another linkkeeper run holds" in locked.stderr
    unknown = cli_run(clean_sandbox, "no-such-id", env=KEYS_ENV)
    assert unknown.exit_code == 2 and "no-such-id" in unknown.stderr
    half = cli_run(clean_sandbox, env={"IA_ACCESS_KEY": "AKonly"})
    assert half.exit_code == 2 and "IA_SECRET_KEY" in half.stderr
    private = CliRunner().invoke(cli, ["archive", "--wayback-url", "http://127.0.0.1:9"])
    assert private.exit_code == 2 and "--allow-private" in private.stderr
    (project / "readings.yaml").write_text("weeks:\n  - week: one\n", encoding="utf-8")
    bad = cli_run(clean_sandbox, env=KEYS_ENV)
    assert bad.exit_code == 2 and "readings.yaml" in bad.stderr
    assert not clean_sandbox.requests.matching(WEB, "/save")


def test_spn2_within_format() -> None:
    assert spn2_within(timedelta(days=30)) == "30d"
    assert spn2_within(timedelta(days=1, hours=12, minutes=5)) == "1d 12h 5m"
    assert spn2_within(timedelta(0)) == "0"


# -- pacing, slots, quota ------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_per_minute_pacing_spaces_submissions(
    clean_sandbox: Sandbox, machine: WaybackMachine, clock: ManualClock, tmp_path: Path
) -> None:
    machine.configure(pending_polls=0, concurrent_sessions=3)
    outcome = await archive(
        clean_sandbox, readings(4), tmp_path, clock, pacer=Pacer(per_minute=600)
    )
    assert set(states(outcome).values()) == {"captured"}
    times = [r.time for r in clean_sandbox.requests.matching(WEB, "/save", "POST")]
    assert len(times) == 4  # three workers, one shared pacer: 0.1 s apart all the same
    assert all(b - a >= 0.1 - 0.01 for a, b in itertools.pairwise(times)), times


@pytest.mark.asyncio
async def test_429_backs_off_then_stays_queued(
    clean_sandbox: Sandbox, machine: WaybackMachine, clock: ManualClock, tmp_path: Path
) -> None:
    machine.configure(captures_per_minute=2, pending_polls=0, concurrent_sessions=1)
    pacer = Pacer(per_minute=600_000, backoff_initial=0.05, max_busy_retries=2)
    outcome = await archive(clean_sandbox, readings(3), tmp_path, clock, pacer=pacer)
    assert states(outcome) == {"r0": "captured", "r1": "captured", "r2": "queued"}
    busy = [r.time for r in clean_sandbox.requests.matching(WEB, "/save", "POST")][2:]
    assert len(busy) == 3  # the first try and two retries, each answered 429
    for i, (a, b) in enumerate(itertools.pairwise(busy)):
        assert b - a >= 0.05 * 2**i - 0.01, (i, b - a)
    data = record(tmp_path, "r2")["archive"]
    assert "429" in data["reason"] and data["next_try_after"] == "2026-03-02T13:00:00Z"
    assert data["attempts"] == 3
    clock.advance(hours=1)  # the next run, after next_try_after, finishes it
    again = await archive(clean_sandbox, readings(3), tmp_path, clock)
    assert states(again)["r2"] == "captured"


@pytest.mark.asyncio
async def test_never_more_captures_at_once_than_free_slots(
    clean_sandbox: Sandbox, machine: WaybackMachine, clock: ManualClock, tmp_path: Path
) -> None:
    machine.configure(concurrent_sessions=3, pending_polls=4)
    machine.submit({"url": "https://elsewhere.example/busy"})  # somebody else holds a slot
    outcome = await archive(clean_sandbox, readings(5), tmp_path, clock)
    assert set(states(outcome).values()) == {"captured"}
    spans = {}
    for job_id, job in machine.jobs.items():
        polls = [r.time for r in clean_sandbox.requests.matching(WEB, f"/save/status/{job_id}")]
        posts_ = clean_sandbox.requests.matching(WEB, "/save", "POST")
        sent = [r.time for r in posts_ if parse_qs(r.body.decode())["url"][0] == job.url]
        if sent:
            spans[job.url] = (sent[0], max(polls))
    assert len(spans) == 5
    running = [sum(a <= t <= b for a, b in spans.values()) for t, _ in spans.values()]
    assert max(running) == 2  # three slots, one busy: two of ours at once, never three


@pytest.mark.asyncio
async def test_daily_quota_stops_the_run_and_the_next_run_resumes_without_duplicates(
    clean_sandbox: Sandbox, machine: WaybackMachine, clock: ManualClock, tmp_path: Path
) -> None:
    machine.configure(captures_per_day=2, concurrent_sessions=1)
    first = await archive(clean_sandbox, readings(4), tmp_path, clock)
    assert states(first) == {"r0": "captured", "r1": "captured", "r2": "queued", "r3": "queued"}
    assert first.stopped and "quota" in first.stopped
    assert "quota" in record(tmp_path, "r3")["archive"]["reason"]
    assert record(tmp_path, "r3")["archive"]["next_try_after"] is None  # the next run goes on
    clock.advance(days=1)  # a new day, a new quota
    second = await archive(clean_sandbox, readings(4), tmp_path, clock)
    assert set(states(second).values()) == {"captured"}
    assert posts(clean_sandbox) == {url(n): 1 for n in range(4)}  # each exactly once


@pytest.mark.asyncio
async def test_quota_answer_mid_run_stops_submitting(
    clean_sandbox: Sandbox, machine: WaybackMachine, clock: ManualClock, tmp_path: Path
) -> None:
    machine.configure(concurrent_sessions=1)
    machine.fail_url(url(1), "error:too-many-daily-captures")
    first = await archive(clean_sandbox, readings(4), tmp_path, clock)
    assert states(first) == {"r0": "captured", "r1": "queued", "r2": "queued", "r3": "queued"}
    assert posts(clean_sandbox) == {url(0): 1, url(1): 1}  # nothing after the quota answer
    assert record(tmp_path, "r1")["archive"]["status_ext"] == "error:too-many-daily-captures"
    machine.reset()  # the next day: the refusal is gone (the ledger keeps r0's capture)
    machine.configure(clock=clock, captures_per_minute=100_000, pending_polls=1)
    second = await archive(clean_sandbox, readings(4), tmp_path, clock)
    assert set(states(second).values()) == {"captured"}
    assert posts(clean_sandbox) == {url(0): 1, url(1): 2, url(2): 1, url(3): 1}


@pytest.mark.asyncio
async def test_job_pending_at_deadline_is_polled_next_run_not_resubmitted(
    clean_sandbox: Sandbox, machine: WaybackMachine, clock: ManualClock, tmp_path: Path
) -> None:
    machine.configure(pending_polls=10_000)
    slow = WaybackSettings(poll_interval=0.01, poll_deadline=0.05, cdx_interval=0.0)
    first = await archive(clean_sandbox, readings(1), tmp_path, clock, protocol=slow)
    assert states(first) == {"r0": "submitted"}
    data = record(tmp_path, "r0")["archive"]
    job_id = data["job_id"]
    assert job_id.startswith("spn2-") and "next run polls the same job" in data["reason"]
    assert first.without_capture  # exit 1: no archived copy yet
    machine.configure(pending_polls=0)
    clock.advance(minutes=5)
    second = await archive(clean_sandbox, readings(1), tmp_path, clock)
    assert states(second) == {"r0": "captured"}
    assert second.entries[0].action == "polled"
    assert posts(clean_sandbox) == {url(0): 1}
    assert record(tmp_path, "r0")["captures"]["ours"][0]["job_id"] == job_id


@pytest.mark.asyncio
async def test_expired_job_is_submitted_again(
    clean_sandbox: Sandbox, machine: WaybackMachine, clock: ManualClock, tmp_path: Path
) -> None:
    machine.configure(pending_polls=10_000, max_capture_time=timedelta(days=9))
    slow = WaybackSettings(poll_interval=0.01, poll_deadline=0.05, cdx_interval=0.0)
    await archive(clean_sandbox, readings(1), tmp_path, clock, protocol=slow)
    machine.configure(pending_polls=0)
    clock.advance(hours=2)  # SPN2 forgot the job (it answers "pending" forever)
    second = await archive(clean_sandbox, readings(1), tmp_path, clock)
    assert states(second) == {"r0": "captured"} and posts(clean_sandbox) == {url(0): 2}


@pytest.mark.asyncio
async def test_an_edited_url_starts_its_archive_record_over(
    clean_sandbox: Sandbox, machine: WaybackMachine, clock: ManualClock, tmp_path: Path
) -> None:
    await archive(clean_sandbox, readings(1), tmp_path, clock)
    edited = [Reading("r0", "Reading 0", url(7), week=1)]
    outcome = await archive(clean_sandbox, edited, tmp_path, clock)
    assert states(outcome) == {"r0": "captured"}
    caps = record(tmp_path, "r0")["captures"]
    assert caps["url"] == url(7) and [c["original"] for c in caps["ours"]] == [url(7)]
    assert record(tmp_path, "r0")["archive"]["attempts"] == 1
    assert posts(clean_sandbox) == {url(0): 1, url(7): 1}


# -- capture choice ----------------------------------------------------------------
@pytest.mark.asyncio
async def test_capture_choice_around_the_assignment_date(
    clean_sandbox: Sandbox, machine: WaybackMachine, clock: ManualClock, tmp_path: Path
) -> None:
    assigned = {"mid": date(2023, 3, 6), "early": date(2019, 9, 2), "backlog": None}
    chosen = [Reading(k, k, url(i), assigned=a) for i, (k, a) in enumerate(assigned.items())]
    for reading in chosen:
        for ts in ("20210510083000", "20220915120000", "20240110090000"):
            machine.seed(reading.url or "", ts)
        machine.seed(reading.url or "", "20230301000000", statuscode=404)
    await archive(clean_sandbox, chosen, tmp_path, clock, keys=None)
    caps = {k: record(tmp_path, k)["captures"] for k in assigned}
    assert caps["mid"]["assigned"]["timestamp"] == "20220915120000"
    assert caps["early"]["assigned"]["timestamp"] == "20210510083000"
    assert caps["backlog"]["assigned"] is None
    assert {c["latest"]["timestamp"] for c in caps.values()} == {"20240110090000"}
    with Ledger(tmp_path) as ledger:
        best = {k: pick_capture(ledger.get(k))[0] for k in assigned}
    assert best["mid"] and best["mid"].timestamp == "20220915120000"
    assert best["backlog"] and best["backlog"].timestamp == "20240110090000"


@pytest.mark.asyncio
async def test_blocked_site_is_excluded_and_never_submitted(
    clean_sandbox: Sandbox, machine: WaybackMachine, clock: ManualClock, tmp_path: Path
) -> None:
    machine.block_site("posts.example")
    outcome = await archive(clean_sandbox, readings(1), tmp_path, clock)
    assert states(outcome) == {"r0": "excluded"}
    assert "site blocked" in record(tmp_path, "r0")["captures"]["excluded"]
    assert posts(clean_sandbox) == {}


# -- the whole curriculum ----------------------------------------------------------------
def test_whole_curriculum_is_archived_or_explained(
    clean_sandbox: Sandbox, machine: WaybackMachine, project: Path
) -> None:
    curriculum = load(ROOT / "readings.yaml")
    linked = [r for r in curriculum.readings() if r.url]
    machine.seed(linked[0].url or "", datetime.now(UTC) - timedelta(days=1))
    machine.fail_url(linked[1].url or "", "error:blocked-url")
    machine.block_site("www.nature.com")
    result = cli_run(
        clean_sandbox, "--readings", str(ROOT / "readings.yaml"), "--format", "json", env=KEYS_ENV
    )
    report = json.loads(result.stdout)
    by_id = {r["id"]: r for r in report["readings"]}
    assert set(by_id) == {r.id for r in curriculum.readings()}
    for reading in linked:
        entry = by_id[reading.id]
        assert entry["state"] in {"captured", "recent", "refused", "excluded"}, entry
        assert entry["reason"], entry
        if entry["state"] in {"captured", "recent"} and reading.id != "less-technical-explainer":
            assert entry["capture"]["url"].startswith("https://web.archive.org/web/")
    # never checked, so it was submitted; the capture is of the home page its link bounces to,
    # so it is not offered
    bounced = by_id["less-technical-explainer"]
    assert bounced["state"] == "captured" and bounced["capture"] is None
    assert "not a good copy" in bounced["reason"] and "site root" in bounced["reason"]
    assert by_id[linked[0].id]["state"] == "recent"
    assert by_id[linked[1].id]["state"] == "refused"
    assert by_id["latent-spaces"]["state"] == "excluded"
    assert report["summary"]["captured"] == len(linked) - 3
    assert result.exit_code == 1  # the refused and the excluded reading have no copy
    submitted = posts(clean_sandbox)
    assert all(n == 1 for n in submitted.values()) and len(submitted) == len(linked) - 2


# -- a crash ----------------------------------------------------------------
def test_a_killed_run_loses_nothing_and_repeats_nothing(
    clean_sandbox: Sandbox, machine: WaybackMachine, project: Path
) -> None:
    machine.configure(pending_polls=3, concurrent_sessions=2)
    count = 8
    body = "\n".join(f"      - id: p{n}\n        url: {url(n)}" for n in range(count))
    (project / "readings.yaml").write_text(f"weeks:\n  - week: 1\n    readings:\n{body}\n")
    env = {
        **os.environ,
        **KEYS_ENV,
        "LINKKEEPER_REMAP": "\n".join(clean_sandbox.remap_rules()),
        "PYTHONPATH": str(ROOT),
    }
    argv = [sys.executable, "-m", "linkkeeper", "archive", "--allow-private", "--poll-interval"]
    argv += ["0.05", "--cdx-interval", "0", "--captures-per-minute", "600"]
    process = subprocess.Popen(argv, cwd=project, env=env, stdout=subprocess.DEVNULL)
    snapshots, kept = project / "snapshots", {}
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline and len(kept) < 2:
            time.sleep(0.01)
            for path in snapshots.glob("p*.json"):
                data = json.loads(path.read_text())
                if data.get("archive", {}).get("state") == "captured":
                    kept[path.stem] = data["captures"]["ours"]
        assert len(kept) >= 2, "the run did not capture anything in time"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    at_kill = [json.loads(p.read_text()).get("archive", {}) for p in snapshots.glob("p*.json")]
    assert sum(a.get("state") == "captured" for a in at_kill) < count  # killed mid-run
    clean_sandbox.requests.clear()
    rerun = cli_run(clean_sandbox, "--format", "json", env=KEYS_ENV)
    assert rerun.exit_code == 0, rerun.output
    assert {r["state"] for r in json.loads(rerun.stdout)["readings"]} == {"captured"}
    resubmitted = posts(clean_sandbox)
    assert resubmitted  # the rerun finished the rest
    for reading_id, ours in kept.items():  # earlier results kept as they were, not resubmitted
        assert record(snapshots, reading_id)["captures"]["ours"] == ours
        assert url(int(reading_id[1:])) not in resubmitted
    jobs = Counter(job.url for job in machine.jobs.values())
    assert jobs == {url(n): 1 for n in range(count)}  # nothing captured twice
    assert not list(snapshots.glob(".*.tmp"))


def test_an_archive_that_cannot_be_reached_learns_nothing_and_says_so(
    clean_sandbox: Sandbox, machine: WaybackMachine, project: Path
) -> None:
    """Offline: no lookup succeeds. No "was done", no "needs a new capture", no records, no
    keys paragraph per reading; exit 3."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{sock.getsockname()[1]}"
    argv = ["archive", "--allow-private", *CLI_FAST, "--remap", rf"^https?://[^/]+ {nowhere}"]
    for fmt in ("text", "json"):
        result = CliRunner().invoke(cli, [*argv, "--format", fmt], catch_exceptions=False)
        assert result.exit_code == 3, result.output
        assert "could not be reached: all 2 capture lookups failed" in result.stderr
        assert "was done" not in result.output and "needs a new capture" not in result.output
        assert result.output.count(KEYS_PAGE) == 0
        assert not list((project / "snapshots").glob("[!.]*.json"))  # nothing recorded
    assert json.loads(result.stdout)["unreachable"].startswith("The Wayback Machine could not")


@pytest.mark.asyncio
async def test_a_quiet_night_leaves_every_record_byte_for_byte(
    clean_sandbox: Sandbox, machine: WaybackMachine, clock: ManualClock, tmp_path: Path
) -> None:
    """Readings with no capture (no keys to make one) are looked up every night; a lookup that
    finds nothing new must not rewrite ``captures.checked_at`` (a commit every night)."""
    machine.seed(url(0), "20220915120000")
    selected = readings(3)
    await archive(clean_sandbox, selected, tmp_path, clock, keys=None)
    before = {p.name: p.read_bytes() for p in tmp_path.glob("[!.]*.json")}
    assert len(before) == 3
    for _night in range(2):
        clock.advance(days=1)
        clean_sandbox.requests.clear()
        await archive(clean_sandbox, selected, tmp_path, clock, keys=None)
        assert clean_sandbox.requests.matching(WEB, "/cdx/search/cdx")  # really looked up
        assert {p.name: p.read_bytes() for p in tmp_path.glob("[!.]*.json")} == before
    # news still moves the date: a capture appears for r1
    machine.seed(url(1), "20260303120000")
    clock.advance(days=1)
    await archive(clean_sandbox, selected, tmp_path, clock, keys=None)
    assert record(tmp_path, "r1")["captures"]["checked_at"] == "2026-03-05T12:00:00Z"
    assert (tmp_path / "r2.json").read_bytes() == before["r2.json"]


def test_an_archive_behind_a_captive_portal_learns_nothing(
    clean_sandbox: Sandbox, project: Path
) -> None:
    """Every request to the archive is sent to a hotel's login page: that page is no answer
    from the archive (not "the answer cannot be read", recorded per reading)."""
    from aiohttp import web as aioweb

    from linkkeeper.sandbox import VirtualHost

    async def catch(request: aioweb.Request) -> aioweb.Response:
        raise aioweb.HTTPFound("https://portal.example/login?continue=/")

    async def login(request: aioweb.Request) -> aioweb.Response:
        return aioweb.Response(text="<html><title>Hotel WiFi login</title></html>",
                               content_type="text/html")  # fmt: skip

    def intercept() -> aioweb.Application:
        app = aioweb.Application()
        app.router.add_route("*", "/{tail:.*}", catch)
        return app

    def portal() -> aioweb.Application:
        app = aioweb.Application()
        app.router.add_route("*", "/login", login)
        return app

    with Sandbox([VirtualHost("intercept.test", intercept),
                  VirtualHost("portal.example", portal)]) as hotel:  # fmt: skip
        rules = [
            rf"^https?://(web\.)?archive\.org {hotel.origin('intercept.test')}",
            rf"^https://portal\.example {hotel.origin('portal.example')}",
        ]
        argv = ["archive", "--allow-private", *CLI_FAST, "--format", "json"]
        for rule in rules:
            argv += ["--remap", rule]
        result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    assert result.exit_code == 3, result.output
    assert "the answer came from portal.example" in result.stderr
    assert not list((project / "snapshots").glob("[!.]*.json"))
