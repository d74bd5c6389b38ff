"""The per-host scheduler and the bounded worker pool (no network needed)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator

import pytest

from linkkeeper.web.politeness import HostPolicy, HostScheduler, run_bounded


class Gauge:
    """Counts how many are inside at once."""

    def __init__(self) -> None:
        self.now = 0
        self.max = 0

    def __enter__(self) -> None:
        self.now += 1
        self.max = max(self.max, self.now)

    def __exit__(self, *exc: object) -> None:
        self.now -= 1


# -- HostScheduler --------------------------------------------------------------------------
def test_adaptive_backoff_doubles_caps_and_decays() -> None:
    scheduler = HostScheduler(default=HostPolicy(4, 0.0), backoff_base=0.5, backoff_max=3.0)
    penalties = []
    for _ in range(5):
        scheduler.penalize("a.test")
        penalties.append(scheduler._state("a.test").penalty)
    assert penalties == [0.5, 1.0, 2.0, 3.0, 3.0]
    decays = []
    for _ in range(4):
        scheduler.reward("a.test")
        decays.append(scheduler._state("a.test").penalty)
    assert decays == [1.5, 0.75, 0.0, 0.0]
    scheduler.reward("never-seen.test")  # no state is created for a host never penalized
    assert "never-seen.test" not in scheduler._hosts


def test_policies_are_per_host_case_insensitive() -> None:
    scheduler = HostScheduler(
        default=HostPolicy(4, 0.5), policies={"Export.arXiv.org": HostPolicy(1, 3.0)}
    )
    assert scheduler.policy("export.arxiv.org") == HostPolicy(1, 3.0)
    assert scheduler.policy("EXAMPLE.org") == HostPolicy(4, 0.5)


@pytest.mark.asyncio
async def test_interval_between_starts_and_per_host_concurrency() -> None:
    scheduler = HostScheduler(max_concurrency=10, default=HostPolicy(2, 0.05))
    starts: list[float] = []
    gauge = Gauge()

    async def request() -> None:
        async with scheduler.slot("a.test"):
            starts.append(time.monotonic())
            with gauge:
                await asyncio.sleep(0.12)

    await asyncio.gather(*(request() for _ in range(5)))
    assert gauge.max == 2
    assert all(b - a >= 0.05 for a, b in itertools.pairwise(starts))


@pytest.mark.asyncio
async def test_global_limit_across_hosts() -> None:
    scheduler = HostScheduler(max_concurrency=3, default=HostPolicy(4, 0.0))
    gauge = Gauge()

    async def request(host: str) -> None:
        async with scheduler.slot(host):
            with gauge:
                await asyncio.sleep(0.02)

    await asyncio.gather(*(request(f"h{i % 5}.test") for i in range(20)))
    assert gauge.max == 3


@pytest.mark.asyncio
async def test_retry_after_blocks_whole_host_but_not_others() -> None:
    scheduler = HostScheduler(max_concurrency=1, default=HostPolicy(4, 0.0))
    entered: dict[str, float] = {}

    async def request(host: str) -> None:
        async with scheduler.slot(host):
            entered[host] = time.monotonic()

    blocked_at = time.monotonic()
    scheduler.penalize("busy.test", retry_after=0.2)
    await asyncio.gather(request("busy.test"), request("calm.test"))
    # The waiting request held no global slot (max_concurrency=1): calm.test went first.
    assert list(entered) == ["calm.test", "busy.test"]
    assert entered["busy.test"] - blocked_at >= 0.2


@pytest.mark.asyncio
async def test_set_interval_applies_to_next_start() -> None:
    scheduler = HostScheduler(default=HostPolicy(4, 0.0))
    async with scheduler.slot("r.test"):
        first = time.monotonic()
    scheduler.set_interval("r.test", 0.1)
    async with scheduler.slot("r.test"):
        second = time.monotonic()
    assert second - first >= 0.1


# -- run_bounded ----------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_run_bounded_order_and_limit() -> None:
    gauge = Gauge()

    async def work(n: int) -> int:
        with gauge:
            await asyncio.sleep(0.001 * (n % 3))
        return n * n

    assert await run_bounded(range(50), work, 4) == [n * n for n in range(50)]
    assert gauge.max == 4
    assert await run_bounded([], work, 4) == []


@pytest.mark.asyncio
async def test_run_bounded_pulls_lazily() -> None:
    pulled = 0

    def items() -> Iterator[int]:
        nonlocal pulled
        for n in range(10_000):
            pulled += 1
            yield n

    seen_at_first_result: list[int] = []

    async def work(n: int) -> int:
        await asyncio.sleep(0)
        return n

    def on_result(item: int, result: int) -> None:
        if not seen_at_first_result:
            seen_at_first_result.append(pulled)

    results = await run_bounded(items(), work, 8, on_result=on_result)
    assert len(results) == 10_000
    assert seen_at_first_result[0] <= 8  # only as many items in hand as workers


@pytest.mark.asyncio
async def test_run_bounded_keeps_a_slow_key_from_taking_every_worker() -> None:
    items = [("slow", i) for i in range(5)] + [("fast", i) for i in range(20)]
    gauge = Gauge()
    finished: list[str] = []

    async def work(item: tuple[str, int]) -> str:
        if item[0] == "slow":
            with gauge:
                await asyncio.sleep(0.03)
        return item[0]

    results = await run_bounded(
        items,
        work,
        3,
        key=lambda item: item[0],
        per_key=lambda k: 1 if k == "slow" else 3,
        on_result=lambda item, result: finished.append(result),
    )
    assert results == [kind for kind, _ in items]  # input order, every item done once
    assert gauge.max == 1
    assert finished[:20] == ["fast"] * 20  # fast items were not stuck behind slow ones


@pytest.mark.asyncio
async def test_run_bounded_propagates_worker_errors() -> None:
    async def work(n: int) -> int:
        if n == 3:
            raise ValueError("bad item 3")
        await asyncio.sleep(0)
        return n

    with pytest.raises(ValueError, match="bad item 3"):
        await run_bounded(range(100), work, 4)
