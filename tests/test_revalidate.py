"""Steady nights against the sandbox's real loopback servers: conditional requests, 304s,
the body hash, and verdicts identical to full checks night after night."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from linkkeeper.check.engine import CheckRun, run_checks
from linkkeeper.check.report import Outcome
from linkkeeper.core.models import Reading, Verdict
from linkkeeper.ledger.freshness import FRESHNESS_NAME
from linkkeeper.ledger.store import Ledger
from linkkeeper.sandbox import Sandbox
from linkkeeper.sandbox.sites import trouble
from linkkeeper.sandbox.web import WEB_STATE
from linkkeeper.web.fetcher import Fetcher
from linkkeeper.web.remap import Remapper
from tests.test_sites import TABLE, event_loops, settings

NIGHT = datetime(2026, 3, 2, 3, 17, tzinfo=UTC)
DAY = timedelta(days=1)


def night(
    box: Sandbox,
    snapshots: Path,
    readings: Sequence[Reading],
    n: int,
    *,
    force: bool = False,
    loop: Callable[[], asyncio.AbstractEventLoop] | None = None,
) -> dict[str, tuple[Verdict, str]]:
    """One nightly check (``n`` days after the first), as ``linkkeeper check --max-age 20h``
    runs it; id -> (verdict, reason)."""
    remap = Remapper.parse(box.remap_rules())

    async def go(run: CheckRun) -> Outcome:
        warm = asyncio.create_task(asyncio.to_thread(trouble.gzip_bomb))
        # roomier than test_sites' deadlines: two runs of the table must not disagree because
        # a loaded machine answered a 50 ms page in 0.9 s (3 s pages and stalls still time out)
        async with Fetcher(settings(total_timeout=1.5, read_timeout=0.6), remap=remap) as fetcher:
            outcome = await run_checks(
                run, readings, readings, fetcher, max_concurrency=32,
                host_concurrency=lambda host: 8,
            )  # fmt: skip
        await warm
        return outcome

    now = NIGHT + n * DAY
    # loop None: asyncio's own
    with Ledger(snapshots) as ledger, asyncio.Runner(loop_factory=loop) as runner:
        outcome = runner.run(go(CheckRun(ledger, timedelta(hours=20), force, lambda: now)))
    return {row.reading.id: (row.result.verdict, row.result.reason) for row in outcome.rows}


def readings_of(urls: Sequence[str]) -> list[Reading]:
    return [Reading(id=f"r{i}", title=None, url=url, line=i + 1) for i, url in enumerate(urls)]


def requests_to(box: Sandbox, host: str, path: str) -> list[dict[str, str]]:
    return [r.headers for r in box.requests if r.host == host and r.path == path]


def records(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("[!.]*.json"))}


# -- the whole behaviour table, night after night ----------------------------------------------
@pytest.mark.parametrize("loop", event_loops())
def test_three_steady_nights_give_the_verdicts_of_full_checks(
    clean_sandbox: Sandbox, tmp_path: Path, loop: Callable[[], asyncio.AbstractEventLoop] | None
) -> None:
    """Every row of the sandbox's behaviour table, checked on three nights the way the nightly
    job does (conditional requests, carried-over verdicts), and on the same nights by a full
    ``--force`` check into another ledger: the verdicts are the same every night, and the
    steady nights did carry pages over (so the comparison means something)."""
    WEB_STATE.settings.arxiv_robot_limit = 10_000  # six runs in a minute: no robot wall here
    urls = list(dict.fromkeys(row.url for row in TABLE))
    readings = readings_of(urls)
    steady, full = tmp_path / "steady", tmp_path / "full"
    carried = 0
    for n in range(3):
        got = night(clean_sandbox, steady, readings, n, loop=loop)
        want = night(clean_sandbox, full, readings, n, force=True, loop=loop)
        differ = {r.url: (got[r.id], want[r.id]) for r in readings if got[r.id][0] != want[r.id][0]}
        assert differ == {}, f"night {n + 1}"
        carried += sum("unchanged since the last check" in reason for _, reason in got.values())
        assert not any("unchanged since" in reason for _, reason in want.values())
    assert carried >= 2 * 20  # nights 2 and 3 carried most live pages over
    full_304 = [h for h in requests_to(clean_sandbox, "blog.example", "/post/live")]
    assert any("if-none-match" in h for h in full_304)


# -- 304 Not Modified ----------------------------------------------------------------------------
def test_a_304_carries_the_last_good_check_over_without_a_body(
    clean_sandbox: Sandbox, tmp_path: Path
) -> None:
    readings = readings_of(
        ["https://jalammar.github.io/illustrated-transformer/", "https://blog.example/moved-temp"]
    )
    first = night(clean_sandbox, tmp_path, readings, 0)
    before = records(tmp_path)
    cache = json.loads((tmp_path / FRESHNESS_NAME).read_text())["pages"]
    assert cache["r0"]["etag"].startswith('"') and cache["r0"]["last_modified"]
    assert cache["r1"]["final_url"] == "https://blog.example/post/live"  # the hop they came from
    clean_sandbox.requests.clear()

    second = night(clean_sandbox, tmp_path, readings, 1)

    assert [v for v, _ in second.values()] == [v for v, _ in first.values()] == [Verdict.OK] * 2
    assert "304 Not Modified" in second["r0"][1] and "304 Not Modified" in second["r1"][1]
    assert second["r1"][1].startswith(first["r1"][1])  # "... (now at https://blog.example/...)"
    [page] = requests_to(clean_sandbox, "jalammar.github.io", "/illustrated-transformer/")
    assert page["if-none-match"] == cache["r0"]["etag"]
    assert page["if-modified-since"] == cache["r0"]["last_modified"]
    # validators go only to the hop they came from, after the same redirect
    [hop] = requests_to(clean_sandbox, "blog.example", "/moved-temp")
    [target] = requests_to(clean_sandbox, "blog.example", "/post/live")
    assert "if-none-match" not in hop and "if-none-match" in target
    assert records(tmp_path) == before  # metadata, drift, history: all carried, nothing rewritten


def test_a_304_to_a_request_without_validators_fools_nobody(
    clean_sandbox: Sandbox, tmp_path: Path
) -> None:
    readings = readings_of(["https://trouble.example/status/304"])
    got = night(clean_sandbox, tmp_path, readings, 0)["r0"]
    assert got[0] is Verdict.TRANSIENT
    assert "304 Not Modified answering a request that carried no validators" in got[1]


def test_a_weak_etag_is_never_sent_so_one_that_lies_fools_nobody(
    clean_sandbox: Sandbox, tmp_path: Path
) -> None:
    """The server keeps W/"same" and answers 304 to it, though the post became a "Page not
    found" page. Sent, that 304 would carry "ok" over a dead page."""
    url = f"https://blog.example/weak-etag/{uuid.uuid4().hex[:8]}"
    readings = readings_of([url])
    assert night(clean_sandbox, tmp_path, readings, 0)["r0"][0] is Verdict.OK
    second = night(clean_sandbox, tmp_path, readings, 1)["r0"]
    assert second[0] is Verdict.BROKEN and "soft 404" in second[1]
    path = url.removeprefix("https://blog.example")
    assert all("if-none-match" not in h for h in requests_to(clean_sandbox, "blog.example", path))


def test_weak_etag_pages_are_spared_the_parse_by_their_body_hash(
    clean_sandbox: Sandbox, tmp_path: Path
) -> None:
    readings = readings_of(
        ["https://medium.com/@hackerm0m/ursula-le-guin-and-machine-learning-303e4e327b73"]
    )
    night(clean_sandbox, tmp_path, readings, 0)
    assert json.loads((tmp_path / FRESHNESS_NAME).read_text())["pages"]["r0"]["etag"] is None
    clean_sandbox.requests.clear()
    verdict, reason = night(clean_sandbox, tmp_path, readings, 1)["r0"]
    assert verdict is Verdict.OK and "(the same bytes)" in reason
    [sent] = requests_to(clean_sandbox, "medium.com", readings[0].url.split(".com")[1])
    assert "if-none-match" not in sent


# -- the body hash -------------------------------------------------------------------------------
def test_a_changed_page_is_read_again_and_its_validators_replaced(
    clean_sandbox: Sandbox, tmp_path: Path
) -> None:
    url = f"https://blog.example/changing/{uuid.uuid4().hex[:8]}"
    readings = readings_of([url])
    night(clean_sandbox, tmp_path, readings, 0)
    etag = json.loads((tmp_path / FRESHNESS_NAME).read_text())["pages"]["r0"]["etag"]
    verdict, reason = night(clean_sandbox, tmp_path, readings, 1)["r0"]
    assert verdict is Verdict.OK and "unchanged" not in reason
    drift = json.loads((tmp_path / "r0.json").read_text())["drift"]
    assert drift["changed"] is True and "title changed" in drift["description"]
    entry = json.loads((tmp_path / FRESHNESS_NAME).read_text())["pages"]["r0"]
    assert entry["etag"] != etag  # the new page's validators
    assert entry.get("trusted", True)  # new bytes under a new ETag: an honest server


def test_force_reads_everything_and_a_changed_verdict_drops_the_entry(
    clean_sandbox: Sandbox, tmp_path: Path
) -> None:
    url = f"https://blog.example/weak-etag/{uuid.uuid4().hex[:8]}"
    readings = readings_of(["https://blog.example/post/live", url])
    night(clean_sandbox, tmp_path, readings, 0)
    clean_sandbox.requests.clear()
    forced = night(clean_sandbox, tmp_path, readings, 1, force=True)
    assert "unchanged" not in forced["r0"][1]
    assert all(
        "if-none-match" not in r.headers for r in clean_sandbox.requests.for_host("blog.example")
    )
    pages = json.loads((tmp_path / FRESHNESS_NAME).read_text())["pages"]
    assert "r0" in pages and "r1" not in pages  # r1 is a soft 404 now: nothing to carry over


def test_a_strong_etag_caught_naming_other_bytes_is_never_sent_again(
    clean_sandbox: Sandbox, tmp_path: Path
) -> None:
    """The server answers 304 to "fixed" whatever it serves. A full check (--force) sees other
    bytes under the same strong ETag: from then on the ETag is not sent, and the page is
    recognised by its bytes only."""
    url = f"https://blog.example/strong-etag-lies/{uuid.uuid4().hex[:8]}"
    path = url.removeprefix("https://blog.example")
    readings = readings_of([url])
    night(clean_sandbox, tmp_path, readings, 0)
    entry = json.loads((tmp_path / FRESHNESS_NAME).read_text())["pages"]["r0"]
    assert entry["etag"] == '"fixed"' and entry.get("trusted", True)
    night(clean_sandbox, tmp_path, readings, 1, force=True)  # the other post, same ETag
    entry = json.loads((tmp_path / FRESHNESS_NAME).read_text())["pages"]["r0"]
    assert entry["trusted"] is False
    clean_sandbox.requests.clear()
    verdict, reason = night(clean_sandbox, tmp_path, readings, 2)["r0"]
    assert verdict is Verdict.OK and "(the same bytes)" in reason
    [sent] = requests_to(clean_sandbox, "blog.example", path)
    assert "if-none-match" not in sent


def test_validators_go_only_to_the_same_chain(clean_sandbox: Sandbox, tmp_path: Path) -> None:
    """Two readings reach /post/live: directly and through a 301. Each one's validators are
    sent only after its own chain, so the redirect hop never gets them."""
    readings = readings_of(
        ["https://blog.example/post/live", "https://blog.example/moved-permanently"]
    )
    night(clean_sandbox, tmp_path, readings, 0)
    pages = json.loads((tmp_path / FRESHNESS_NAME).read_text())["pages"]
    assert pages["r0"]["redirects"] == []
    assert pages["r1"]["redirects"] == [[301, "https://blog.example/post/live"]]
    clean_sandbox.requests.clear()
    got = night(clean_sandbox, tmp_path, readings, 1)
    assert got["r1"][0] is Verdict.MOVED and "304 Not Modified" in got["r1"][1]
    [hop] = requests_to(clean_sandbox, "blog.example", "/moved-permanently")
    assert "if-none-match" not in hop
    assert all(
        "if-none-match" in h for h in requests_to(clean_sandbox, "blog.example", "/post/live")
    )
