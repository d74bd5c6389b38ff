"""The sandbox: a loopback web and Wayback Machine that behave like the real ones.

``start_sandbox()`` starts every virtual host in a background thread and returns a running
:class:`Sandbox`; its ``remap_rules()`` make linkkeeper fetch real URLs from it. Used by the
tests, by ``linkkeeper demo`` and by ``linkkeeper sandbox`` (serve it by hand).
"""

from __future__ import annotations

from typing import Any

from linkkeeper.sandbox._server import RecordedRequest, RequestLog, Sandbox, VirtualHost

__all__ = [
    "RecordedRequest",
    "RequestLog",
    "Sandbox",
    "VirtualHost",
    "start_sandbox",
    "start_wayback",
]


def start_sandbox() -> Sandbox:
    """Start the sandbox web and the sandbox Wayback Machine together."""
    from linkkeeper.sandbox.wayback import SandboxCrawler, WaybackMachine
    from linkkeeper.sandbox.web import web_hosts

    machine = WaybackMachine()
    sandbox = Sandbox([*web_hosts(), *machine.hosts()])
    sandbox.wayback = machine
    machine.crawler = SandboxCrawler(sandbox)  # captures hold what the sandbox web serves
    return sandbox.start()


def start_wayback(**config: Any) -> Sandbox:
    """Start only the sandbox Wayback Machine (``config``: :class:`WaybackConfig` fields)."""
    from linkkeeper.sandbox.wayback import WaybackMachine

    machine = WaybackMachine(**config)
    sandbox = Sandbox(machine.hosts())
    sandbox.wayback = machine
    return sandbox.start()
