"""Harvesting in a worker process (linkkeeper.check.pool) gives what harvesting on the loop
gives, falls back to the loop when the worker dies, and leaves Ctrl-C to the parent.

Real pages: the sandbox's behaviour table and the curriculum, judged through a real Fetcher on
loopback; real worker processes (``spawn``), forced on with ``start_after=0`` (or
``LINKKEEPER_HARVEST_AFTER=0`` for the command).
"""

from __future__ import annotations

import asyncio
import json
import logging
import operator
import os
import pickle
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_sites import RUN, TABLE, judge_all

from linkkeeper.check.engine import CheckRun, run_checks
from linkkeeper.check.metadata import Harvest, harvest, reads_page
from linkkeeper.check.pool import HarvestPool
from linkkeeper.core.config import HostOverride
from linkkeeper.core.models import FetchResult, Reading, Verdict
from linkkeeper.curriculum.readings import load
from linkkeeper.judges.sites import Judgement
from linkkeeper.ledger.store import Ledger
from linkkeeper.sandbox import Sandbox
from linkkeeper.sandbox.web import reset_web_state
from linkkeeper.web.fetcher import Fetcher, FetchSettings
from linkkeeper.web.remap import Remapper

Sections = dict[str, tuple[object, object]]
REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 3, 3, 4, 0, tzinfo=UTC)
POOL_LOG = "harvesting pages in a worker process failed"
# Live pages of every kind the sandbox serves (the curriculum adds arXiv, PDFs, YouTube, Mirror,
# nature, Medium), a 2 MB page cut at the body cap and a badly encoded one.
EXTRA_URLS = [
    row.url
    for row in TABLE
    if row.verdict in (Verdict.OK, Verdict.MOVED, Verdict.BROKEN)
    and "trouble.example" not in row.url
    and RUN not in row.url  # the flaky counters
] + [
    "https://trouble.example/huge",
    "https://trouble.example/bad-encoding",
    "https://trouble.example/status/200",
    "https://trouble.example/redirect-chain?n=3",
]


def readings() -> list[Reading]:
    """The curriculum's readings and the extra pages, one reading per URL."""
    curriculum = load(REPO / "readings.yaml").readings()
    seen = {r.url for r in curriculum}
    extra = [url for url in dict.fromkeys(EXTRA_URLS) if url not in seen]
    return [*curriculum, *(Reading(id=f"page-{n}", title=None, url=url) for n, url in
                           enumerate(extra))]  # fmt: skip


def settings() -> FetchSettings:
    return FetchSettings(
        allow_private=True,
        host_interval=0.0,
        retries=0,
        backoff_base=0.05,
        backoff_max=0.1,
        host_overrides={
            "export.arxiv.org": HostOverride(interval=0.25),
            "arxiv.org": HostOverride(interval=0.0),  # not the sandbox's 15 s Crawl-delay
        },
    )


async def warm(pool: HarvestPool) -> None:
    assert await pool.wait_ready(60)


def check(
    box: Sandbox,
    snapshots: Path,
    pool: HarvestPool,
    prepare: Callable[[HarvestPool], Awaitable[None]] | None = warm,
) -> None:
    """One full check of :func:`readings` through the engine, harvesting with ``pool``;
    ``prepare`` runs first, on the run's loop (the pool's pipes belong to it)."""
    chosen = readings()

    async def go() -> None:
        if prepare is not None:
            await prepare(pool)
        async with Fetcher(settings(), Remapper.parse(box.remap_rules())) as fetcher:
            run = CheckRun(ledger, force=True, clock=lambda: NOW, harvester=pool)
            await run_checks(run, chosen, chosen, fetcher, max_concurrency=16,
                             host_concurrency=lambda host: 4)  # fmt: skip

    with Ledger(snapshots) as ledger:
        asyncio.run(go())


def sections(snapshots: Path) -> Sections:
    """Each record's ``metadata`` and ``drift`` sections."""
    found = {}
    for path in sorted(snapshots.glob("[!.]*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        found[path.stem] = (data.get("metadata"), data.get("drift"))
    return found


def test_judgements_pickle_without_their_parse_and_harvest_the_same(sandbox: Sandbox) -> None:
    """Every judgement of the behaviour table travels (its page without the lxml tree) and a
    worker harvests from it exactly what this process does."""
    urls = [row.url for row in TABLE]
    judged = asyncio.run(judge_all(sandbox, urls))
    pages = [(Reading(id=f"r{n}", title=None, url=url), j) for n, (url, j) in
             enumerate(zip(urls, judged, strict=True))]  # fmt: skip
    here = []
    for reading, judgement in pages:
        if judgement.page is not None:
            judgement.page.tree()  # parsed, as after judging
        copy = pickle.loads(pickle.dumps(judgement, pickle.HIGHEST_PROTOCOL))
        assert isinstance(copy, Judgement) and copy.verdict is judgement.verdict
        if copy.page is not None:
            assert copy.page._tree is None and copy.page.body == judgement.page.body  # type: ignore[union-attr]
        here.append(harvest(reading, judgement))
        assert harvest(reading, copy) == here[-1]
        assert pickle.loads(pickle.dumps(here[-1])) == here[-1]

    async def in_worker() -> list[Harvest | None]:
        pool = HarvestPool(workers=1, start_after=0, queue=1000)
        try:
            assert await pool.wait_ready(60)
            found = await asyncio.gather(*(pool.harvest(r, j) for r, j in pages))
            assert pool.pooled == pool.read == sum(reads_page(j) for _, j in pages) > 40
            return found
        finally:
            pool.close()

    assert asyncio.run(in_worker()) == here


@pytest.fixture(scope="module")
def without_pool(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Sections:
    """The records' sections after a check that harvested every page on the loop."""
    reset_web_state()
    pool = HarvestPool(workers=0)
    snapshots = tmp_path_factory.mktemp("without-pool")
    check(sandbox, snapshots, pool, prepare=None)
    assert pool.pooled == 0 and pool.read > 40
    return sections(snapshots)


def test_check_with_the_pool_records_what_a_check_without_it_records(
    clean_sandbox: Sandbox, tmp_path: Path, without_pool: Sections
) -> None:
    """The curriculum and the table's pages, checked with every page harvested by a worker
    and with none: the same metadata and drift in every record."""
    pool = HarvestPool(workers=1, start_after=0, queue=1000)
    check(clean_sandbox, tmp_path, pool)
    assert pool.read > 40 and pool.pooled == pool.read  # every page read went there
    with_pool = sections(tmp_path)
    assert with_pool == without_pool
    assert len(with_pool) == len(readings())
    arxiv = with_pool["arxiv-1706-03762"][0]
    assert isinstance(arxiv, dict) and arxiv["title"]["source"] == "arxiv-api"  # papers sent
    assert len([drift for _, drift in with_pool.values() if drift]) > 30


def test_a_check_whose_worker_died_records_the_same(
    clean_sandbox: Sandbox,
    tmp_path: Path,
    without_pool: Sections,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def start_and_kill(pool: HarvestPool) -> None:
        assert await pool.wait_ready(60)
        for pid in pool.pids():
            os.kill(pid, signal.SIGKILL)

    pool = HarvestPool(workers=1, start_after=0)
    with caplog.at_level(logging.WARNING, logger="linkkeeper.check.pool"):
        check(clean_sandbox, tmp_path, pool, prepare=start_and_kill)
    assert pool.pooled == 0 and pool.read > 40
    assert sections(tmp_path) == without_pool
    assert sum(POOL_LOG in r.getMessage() for r in caplog.records) == 1


def test_a_dead_worker_leaves_its_pages_to_the_loop(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """Killed while pages wait for it (and before the next ones): every page is harvested
    here instead, with the same result, and the failure is logged once."""
    url = "https://blog.example/post/live"
    (judgement,) = asyncio.run(judge_all(sandbox, [url]))
    reading = Reading(id="live", title=None, url=url)
    assert reads_page(judgement)
    expected = harvest(reading, judgement)

    async def go() -> list[Harvest | None]:
        pool = HarvestPool(workers=1, start_after=0, queue=1000)
        try:
            assert await pool.wait_ready(60)
            waiting = [asyncio.ensure_future(pool.harvest(reading, judgement)) for _ in range(50)]
            await asyncio.sleep(0)  # all sent
            for pid in pool.pids():
                os.kill(pid, signal.SIGKILL)
            found = list(await asyncio.gather(*waiting))
            found.append(await pool.harvest(reading, judgement))  # after: here at once
            assert pool.pids() == []
            return found
        finally:
            pool.close()

    with caplog.at_level(logging.WARNING, logger="linkkeeper.check.pool"):
        found = asyncio.run(go())
    assert found == [expected] * 51
    assert sum(POOL_LOG in r.getMessage() for r in caplog.records) == 1


def small_page() -> Judgement:
    body = b"<html><head><title>A title</title></head><body><p>Some words.</p></body></html>"
    url = "https://blog.example/x"
    page = FetchResult(url, url, 200, {"content-type": "text/html"}, body)
    return Judgement(Verdict.OK, "HTTP 200", 200, url, page=page)


def test_a_page_that_cannot_travel_is_harvested_here(caplog: pytest.LogCaptureFixture) -> None:
    judgement = small_page()
    judgement.extra["odd"] = lambda: None  # does not pickle
    reading = Reading(id="x", title=None, url=judgement.final_url)

    async def go() -> tuple[Harvest | None, int]:
        pool = HarvestPool(workers=1, start_after=0)
        try:
            assert await pool.wait_ready(60)
            return await pool.harvest(reading, judgement), pool.pooled
        finally:
            pool.close()

    with caplog.at_level(logging.WARNING, logger="linkkeeper.check.pool"):
        found, pooled = asyncio.run(go())
    assert found == harvest(reading, judgement) and pooled == 0
    assert sum(POOL_LOG in r.getMessage() for r in caplog.records) == 1
    caplog.clear()
    judgement.extra["odd"] = Unreadable()  # pickles, but the worker cannot unpickle it
    with caplog.at_level(logging.WARNING, logger="linkkeeper.check.pool"):
        found, pooled = asyncio.run(go())
    assert found == harvest(reading, judgement) and pooled == 0
    assert sum("ZeroDivisionError" in r.getMessage() for r in caplog.records) == 1


class Unreadable:
    def __reduce__(self) -> tuple[object, tuple[int, int]]:
        return operator.truediv, (1, 0)


def test_small_runs_steady_nights_and_single_cpus_never_start_a_worker() -> None:
    judgement = small_page()
    reading = Reading(id="x", title=None, url=judgement.final_url)

    async def go(pool: HarvestPool) -> HarvestPool:
        for _ in range(5):
            assert await pool.harvest(reading, judgement) == harvest(reading, judgement)
        pool.close()
        return pool

    small = asyncio.run(go(HarvestPool(workers=1, start_after=5)))
    assert small.read == 5 and small.pooled == 0 and small.pids() == []
    single = asyncio.run(go(HarvestPool(workers=0, start_after=0)))
    assert single.read == 5 and single.pooled == 0 and single.pids() == []
    steady = HarvestPool(workers=1, start_after=2)
    assert steady.expect(2) == 0  # a night that expects to read few pages in full
    asyncio.run(go(steady))  # more than it expected changed: still not worth a worker
    assert steady.read == 5 and steady.pooled == 0 and steady.pids() == []


def test_a_run_that_expects_many_pages_pools_from_its_first_page() -> None:
    """Told it will read more than ``start_after`` pages, the pool boots its worker at once
    (before the run's first request) and sends the very first page to it."""
    judgement = small_page()
    reading = Reading(id="x", title=None, url=judgement.final_url)

    async def go() -> tuple[int, bool, HarvestPool]:
        pool = HarvestPool(workers=1, start_after=2)
        try:
            room = pool.expect(3)
            booting = len(pool._running)  # spawned by expect() itself, no page asked yet
            assert await pool.wait_ready(60)
            assert await pool.harvest(reading, judgement) == harvest(reading, judgement)
        finally:
            pool.close()
        return room, booting == 1, pool

    room, spawned, pool = asyncio.run(go())
    assert room == 128 and spawned
    assert pool.read == 1 and pool.pooled == 1


# -- Ctrl-C ------------------------------------------------------------------------------------
READINGS = """\
weeks:
  - week: 1
    readings:
{pages}
      - id: slow-one
        url: https://trouble.example/slow?ms=60000&n=1
      - id: slow-two
        url: https://trouble.example/slow?ms=60000&n=2
"""
LIVE = [
    "https://blog.example/post/live",
    "https://news.example/2024/01/live-story",
    "https://jalammar.github.io/illustrated-transformer/",
    "https://www.robinsloan.com/lab/notes-on-a-genre/",
    "https://thai.example/article/live",
    "https://soft.example/article/real-one",
]


def children(pid: int) -> set[int]:
    found = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
        except OSError:
            continue
        found |= {int(p) for p in text.split()}
    return found


def harvest_workers(pid: int) -> set[int]:
    """The parent's children that are harvest workers."""
    found = set()
    for child in children(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"linkkeeper.check.pool import _serve" in command:
            found.add(child)
    return found


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")
@pytest.mark.parametrize("when", ["booting", "running"])
def test_ctrl_c_goes_to_the_parent_and_no_worker_outlives_it(
    clean_sandbox: Sandbox, tmp_path: Path, when: str
) -> None:
    """A terminal's Ctrl-C reaches the whole process group, worker included: the worker
    neither dies with a traceback (while it boots) nor stops the run on its own; the parent
    stops as usual (finished results kept, 130) and has ended its workers by then."""
    pages = "\n".join(f"      - id: page-{n}\n        url: {url}" for n, url in enumerate(LIVE))
    (tmp_path / "readings.yaml").write_text(READINGS.format(pages=pages), encoding="utf-8")
    snapshots = tmp_path / "snapshots"
    remaps = [part for rule in clean_sandbox.remap_rules() for part in ("--remap", rule)]
    command = [sys.executable, "-m", "linkkeeper", "check", "--allow-private",
               "--host-interval", "0", *remaps]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO), "LINKKEEPER_HARVEST_AFTER": "0",
           "LINKKEEPER_HARVEST_WORKERS": "1"}  # fmt: skip
    env.pop("LINKKEEPER_CONFIG", None)
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )  # fmt: skip
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 30
        while not (workers := harvest_workers(process.pid)):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no harvest worker started"
            time.sleep(0.005)
        if when == "running":
            while len(clean_sandbox.requests.matching("trouble.example", "/slow")) < 2 or not all(
                (snapshots / f"page-{n}.json").exists() for n in range(len(LIVE))
            ):
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the live pages were never recorded"
                time.sleep(0.05)
            time.sleep(0.3)  # the worker is up and idle
        os.killpg(process.pid, signal.SIGINT)  # as a terminal does: the whole group
        _, stderr = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()

    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert "Interrupted:" in stderr
    assert POOL_LOG not in stderr  # the worker did not die of it (it would have, booting)
    if when == "running":
        assert f"Interrupted: {len(LIVE)} of {len(LIVE) + 2} readings" in stderr
    for pid in workers:  # joined by the parent before it exited
        assert not Path(f"/proc/{pid}").exists()
    for rid in ("slow-one", "slow-two"):
        record = Ledger(snapshots).get(rid)
        assert record is None or record.checks == []
