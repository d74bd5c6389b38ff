"""Per-host politeness: how many requests at once, how far apart, and when to back off.

:class:`HostScheduler` hands out request slots: one global limit, a per-host limit, a minimum
gap between request starts to one host, an adaptive per-host backoff after 429/503 and a
Retry-After pause for the whole host. O(1) work per request; state only for hosts seen.

:func:`run_bounded` runs a worker over many items (10,000 links) with a fixed pool of tasks
pulling from one iterator, optionally keeping a slow host from soaking up every worker.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class HostPolicy:
    """How one host may be contacted."""

    concurrency: int = 4
    interval: float = 0.5  # seconds between request starts


@dataclass
class _HostState:
    semaphore: asyncio.Semaphore
    interval: float
    start_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_start: float = -math.inf
    blocked_until: float = 0.0  # Retry-After: nothing starts before this
    penalty: float = 0.0  # adaptive backoff added to the interval

    def ready_at(self) -> float:
        return max(self.last_start + self.interval + self.penalty, self.blocked_until)


class HostScheduler:
    """Hands out request slots so that every host is treated politely.

    Order inside :meth:`slot`: the host's semaphore, then (one request of the host at a time)
    wait for the host's next allowed start, then the global semaphore. A request waiting for
    a slow host therefore never holds a global slot.
    """

    def __init__(
        self,
        max_concurrency: int = 64,
        default: HostPolicy | None = None,
        policies: Mapping[str, HostPolicy] | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
    ) -> None:
        self.default = default or HostPolicy()
        self.policies = {host.lower(): p for host, p in (policies or {}).items()}
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._global = asyncio.Semaphore(max_concurrency)
        self._hosts: dict[str, _HostState] = {}

    def policy(self, host: str) -> HostPolicy:
        return self.policies.get(host.lower(), self.default)

    def _state(self, host: str) -> _HostState:
        key = host.lower()
        state = self._hosts.get(key)
        if state is None:
            policy = self.policy(key)
            state = _HostState(asyncio.Semaphore(max(1, policy.concurrency)), policy.interval)
            self._hosts[key] = state
        return state

    def slot(self, host: str) -> _Slot:
        """Hold one request slot for ``host`` (use around sending and reading one response)."""
        return _Slot(self, self._state(host))

    async def _start(self, state: _HostState) -> None:
        """Wait (one request of the host at a time) for the host's next allowed start, then
        take a global slot."""
        async with state.start_lock:
            while True:
                delay = state.ready_at() - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                    continue
                await self._global.acquire()
                if state.ready_at() <= time.monotonic():
                    break
                self._global.release()  # the host got blocked while we queued: wait again
            state.last_start = time.monotonic()

    def set_interval(self, host: str, interval: float) -> None:
        """Change a host's gap between starts (robots.txt ``Crawl-delay``)."""
        self._state(host).interval = interval

    def interval(self, host: str) -> float:
        return self._state(host).interval

    def penalize(self, host: str, retry_after: float | None = None) -> None:
        """After a 429/503: double the host's extra gap; pause the whole host for Retry-After."""
        state = self._state(host)
        state.penalty = min(max(state.penalty * 2, self.backoff_base), self.backoff_max)
        if retry_after is not None and retry_after > 0:
            state.blocked_until = max(state.blocked_until, time.monotonic() + retry_after)

    def blocked_for(self, host: str) -> float:
        """Seconds until ``host`` may be asked again (Retry-After pause, gap and backoff)."""
        state = self._hosts.get(host.lower())
        return max(0.0, state.ready_at() - time.monotonic()) if state is not None else 0.0

    def reward(self, host: str) -> None:
        """After a normal answer: halve the extra gap, dropping it once below the base."""
        state = self._hosts.get(host.lower())
        if state is not None and state.penalty:
            state.penalty = state.penalty / 2 if state.penalty / 2 >= self.backoff_base else 0.0


class _Slot:
    """``async with scheduler.slot(host)``. A class, not an ``@asynccontextmanager``: it wraps
    every request, and the generator made an uncontended slot cost 7.5 us instead of 5."""

    __slots__ = ("_scheduler", "_state")

    def __init__(self, scheduler: HostScheduler, state: _HostState) -> None:
        self._scheduler = scheduler
        self._state = state

    async def __aenter__(self) -> None:
        semaphore = self._state.semaphore
        await semaphore.acquire()
        try:
            await self._scheduler._start(self._state)
        except BaseException:
            semaphore.release()
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._scheduler._global.release()
        self._state.semaphore.release()


async def run_bounded(
    items: Iterable[T],
    worker: Callable[[T], Awaitable[R]],
    concurrency: int,
    *,
    key: Callable[[T], Hashable] | None = None,
    per_key: int | Callable[[Hashable], int] = 1,
    on_result: Callable[[T, R], None] | None = None,
) -> list[R]:
    """Run ``worker`` over ``items`` with at most ``concurrency`` at once; results in input order.

    A fixed pool of tasks pulls from one iterator: no task per item, so 10,000 items cost
    nothing up front. With ``key`` (e.g. the URL's host) at most ``per_key`` workers serve one
    key; further items of a busy key are parked and taken up by the workers already on that
    key, so a slow host (arXiv's 15 s crawl delay) cannot tie up the whole pool.
    ``on_result`` is called as each item finishes (progress bars). If a worker raises, the
    other workers are cancelled and the exception propagates.
    """
    source = enumerate(items)
    results: dict[int, R] = {}
    busy: defaultdict[Hashable, int] = defaultdict(int)
    # A job is (index, item, key of the item): the key is computed once per item.
    parked: defaultdict[Hashable, deque[tuple[int, T, Hashable]]] = defaultdict(deque)

    def limit(k: Hashable) -> int:
        return max(1, per_key(k) if callable(per_key) else per_key)

    def next_item() -> tuple[int, T, Hashable] | None:
        for index, item in source:
            if key is None:
                return index, item, None
            k = key(item)
            if busy[k] < limit(k):
                busy[k] += 1
                return index, item, k
            parked[k].append((index, item, k))
        return None

    async def pump() -> None:
        job = next_item()
        while job is not None:
            index, item, k = job
            result = await worker(item)
            results[index] = result
            if on_result is not None:
                on_result(item, result)
            job = None
            if key is not None:
                if parked[k]:
                    job = parked[k].popleft()  # stay on this key: its slot count is unchanged
                else:
                    busy[k] -= 1
                    parked.pop(k, None)
            if job is None:
                job = next_item()

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, concurrency)):
                group.create_task(pump())
    except BaseExceptionGroup as group_error:
        # one failure, or one failure every worker met (the ledger's first failed write)
        unique = {id(error): error for error in group_error.exceptions}
        if len(unique) == 1:
            raise group_error.exceptions[0] from None
        raise
    return [results[i] for i in range(len(results))]
