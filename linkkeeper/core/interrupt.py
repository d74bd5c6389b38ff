"""Ctrl-C that stops an asyncio run promptly, whichever thread the signal lands on.

``asyncio.run`` catches SIGINT with ``signal.signal``: the handler runs in the main thread
once that thread executes Python again. While the loop sleeps in ``epoll_wait`` (every
request in flight waiting on a slow server) and the kernel hands the signal to another
thread (the ledger's writer thread, a DNS lookup), nothing wakes the loop: the run went on
until a 60 s answer arrived (tests/test_sigint.py flaked so under load).
``loop.add_signal_handler`` also writes the signal to the loop's wake-up pipe, so the loop
wakes at once, whoever received it.

`run_async` is how every command runs its async work: on uvloop's event loop where uvloop is
installed (libuv's loop costs less CPU per request than asyncio's pure-Python one: measured,
about 16 of 133 µs per conditional GET, README "Speed"), with :func:`interruptible` around it.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


async def interruptible(work: Awaitable[T]) -> T:
    """Await ``work``; the first Ctrl-C cancels it (its cleanups run: a write under way is
    finished) and then raises :class:`KeyboardInterrupt`, a second one raises at once."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    interrupted = False

    def on_sigint() -> None:
        nonlocal interrupted
        if interrupted or task is None:
            raise KeyboardInterrupt  # the second Ctrl-C: stop now
        interrupted = True
        task.cancel()

    try:
        loop.add_signal_handler(signal.SIGINT, on_sigint)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, Windows
        return await work
    try:
        return await work
    except asyncio.CancelledError:
        if interrupted and task is not None and task.uncancel() == 0:
            raise KeyboardInterrupt from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGINT)


def run_async(work: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(interruptible(work))``, on uvloop's loop where it is installed."""
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(interruptible(work))


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory; ``None`` (asyncio's own loop) where uvloop is not installed
    (Windows) or ``LINKKEEPER_EVENT_LOOP=asyncio`` asks for the standard one."""
    import os

    if os.environ.get("LINKKEEPER_EVENT_LOOP", "").strip().lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
