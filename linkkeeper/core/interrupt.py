"""Ctrl-C that stops an asyncio run promptly, whichever thread the signal lands on.

``asyncio.run`` catches SIGINT with ``signal.signal``: the handler runs in the main thread
once that thread executes Python again. While the loop sleeps in ``epoll_wait`` (every
request in flight waiting on a slow server) and the kernel hands the signal to another
thread (the ledger's writer thread, a DNS lookup), nothing wakes the loop: the run went on
until a 60 s answer arrived (tests/test_sigint.py flaked so under load).
``loop.add_signal_handler`` also writes the signal to the loop's wake-up pipe, so the loop
wakes at once, whoever received it.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable
from typing import TypeVar

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
