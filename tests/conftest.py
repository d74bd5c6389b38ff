"""Shared fixtures: one sandbox (web + Wayback) per test session, on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from linkkeeper.sandbox import Sandbox, start_sandbox


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """The running sandbox; tests must not assume an empty request log (use ``clean_sandbox``)."""
    box = start_sandbox()
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture
def clean_sandbox(sandbox: Sandbox) -> Sandbox:
    """The sandbox with its request log cleared and the Wayback and web state reset."""
    from linkkeeper.sandbox.web import reset_web_state

    sandbox.requests.clear()
    reset_web_state()
    if sandbox.wayback is not None:
        sandbox.wayback.reset()
    return sandbox
