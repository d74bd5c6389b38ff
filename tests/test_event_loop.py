"""Every command's async work runs on uvloop where it is installed (core/interrupt.run_async),
and on asyncio's own loop when asked (``LINKKEEPER_EVENT_LOOP=asyncio``)."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest

from linkkeeper.core import run_async


async def loop_module() -> str:
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop()).__module__


@pytest.mark.skipif(importlib.util.find_spec("uvloop") is None, reason="uvloop not installed")
def test_runs_on_uvloop_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LINKKEEPER_EVENT_LOOP", raising=False)
    assert run_async(loop_module()).startswith("uvloop")


def test_asyncios_own_loop_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKKEEPER_EVENT_LOOP", "asyncio")
    assert run_async(loop_module()).startswith("asyncio")
