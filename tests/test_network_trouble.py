"""Our network, not theirs: a run that cannot reach the web learns nothing and records nothing.

Real loopback servers play each fault: a black hole (accepts, never answers), refused ports, a
TLS port that speaks plain HTTP, a scripted name service, and a captive portal that sends every
site to one login page. The canary (``CheckRun.canary``) is always mapped explicitly, so the
tests never depend on the machine's own internet.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from linkkeeper.check.command import exit_code
from linkkeeper.check.engine import CANARY_URL, EXIT_INCONCLUSIVE, CheckRun, run_checks
from linkkeeper.check.report import Outcome, render
from linkkeeper.core.models import Health, Reading, Verdict
from linkkeeper.ledger.store import Ledger
from linkkeeper.sandbox import Sandbox, VirtualHost
from linkkeeper.web.fetcher import Fetcher, FetchSettings
from linkkeeper.web.remap import Remapper

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
PROSE = " ".join(f"Sentence {i} about attention and reading lists." for i in range(60))
SITES = ("a.test", "b.test", "c.test", "d.test")


def _article() -> web.Application:
    async def page(request: web.Request) -> web.Response:
        return web.Response(
            text=f"<html><head><title>Article at {request.path}</title></head><body>"
            f"<h1>An article</h1><p>{PROSE}</p></body></html>",
            content_type="text/html",
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", page)
    return app


def _portal_login() -> web.Application:
    async def login(request: web.Request) -> web.Response:
        return web.Response(
            text="<html><head><title>Hotel WiFi login</title></head><body><h1>Welcome</h1>"
            f"<form><input name=room></form><p>{PROSE}</p></body></html>",
            content_type="text/html",
        )

    app = web.Application()
    app.router.add_route("*", "/login", login)
    return app


def _intercept() -> web.Application:
    """What a captive portal does to every request: 302 to its login page."""

    async def catch(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"https://portal.example/login?continue={request.path}")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", catch)
    return app


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    sandbox = Sandbox(
        [
            VirtualHost("live.test", _article),
            VirtualHost("portal.example", _portal_login),
            VirtualHost("intercept.test", _intercept),
            VirtualHost.blackhole("hole.test"),
            VirtualHost.refused("refused.test"),
        ]
    ).start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


def rules_to(box: Sandbox, target: str, names: Sequence[str], scheme: str = "https") -> list[str]:
    """Send ``https://NAME`` for each name to the sandbox host ``target``."""
    origin = box.origin(target, scheme)
    return [rf"^https://{name.replace('.', chr(92) + '.')}(?=[/?#]|$) {origin}" for name in names]


def reading(rid: str, url: str | None) -> Reading:
    return Reading(id=rid, title=rid.title(), url=url, week=1, line=1)


READINGS = [reading(f"r-{host[0]}", f"https://{host}/paper") for host in SITES] + [
    reading("r-a2", "https://a.test/other"),
    reading("task", None),
]


def check(
    snapshots: Path,
    rules: Sequence[str],
    readings: Sequence[Reading] = READINGS,
    *,
    now: datetime = T0,
    resolver: AbstractResolver | None = None,
    canary: str | None = CANARY_URL,
) -> Outcome:
    settings = FetchSettings(
        allow_private=True,
        host_interval=0,
        retries=0,
        connect_timeout=1,
        read_timeout=0.5,
        total_timeout=1,
    )

    async def go(run: CheckRun) -> Outcome:
        async with Fetcher(settings, Remapper.parse(rules), resolver=resolver) as fetcher:
            return await run_checks(
                run, readings, readings, fetcher, max_concurrency=8, host_concurrency=lambda h: 4
            )

    with Ledger(snapshots) as ledger:
        run = CheckRun(ledger, timedelta(0), False, lambda: now, canary=canary)
        return asyncio.run(go(run))


def records(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("[!.]*.json"))}


def healthy_night(box: Sandbox, snapshots: Path) -> dict[str, bytes]:
    outcome = check(snapshots, rules_to(box, "live.test", [*SITES, "web.archive.org"]))
    assert not outcome.inconclusive
    assert {row.result.health for row in outcome.rows if row.result.url} == {Health.ALIVE}
    return records(snapshots)


def assert_learned_nothing(outcome: Outcome, *, starts: str) -> None:
    assert outcome.inconclusive is not None and outcome.inconclusive.startswith(starts)
    assert exit_code(outcome, "dead") == EXIT_INCONCLUSIVE
    for row in outcome.rows:
        assert row.counted is (row.result.url is None) and row.action is None
        assert row.result.verdict == Verdict.SKIPPED
    for fmt in ("text", "markdown", "github", "json"):
        assert "Nothing was learned" in render(outcome, fmt)
    github = render(outcome, "github")
    assert github.startswith("::warning title=linkkeeper%3A nothing learned::")
    assert "does not let robots" not in render(outcome, "text")
    summary = json.loads(render(outcome, "json"))["summary"]
    assert summary["checked"] == 0 and summary["by_action"]["ignore"] == 0


# -- 1: no site gave an HTTP answer --------------------------------------------------------------
@pytest.mark.parametrize(
    ("target", "scheme", "kind"),
    [
        ("hole.test", "https", "timeout"),  # a firewall or proxy that accepts and never answers
        ("refused.test", "https", "connect"),
        ("live.test", "http-as-https", "tls"),  # a TLS port that speaks plain HTTP
    ],
)
def test_a_night_without_answers_changes_nothing(
    box: Sandbox, tmp_path: Path, target: str, scheme: str, kind: str
) -> None:
    before = healthy_night(box, tmp_path)
    everywhere = [*SITES, "web.archive.org"]  # the canary is in the same broken network
    if scheme == "http-as-https":
        port = box.hosts[target].ports["http"]
        rules = [
            rf"^https://{h.replace('.', chr(92) + '.')} https://127.0.0.1:{port}"
            for h in everywhere
        ]
    else:
        rules = rules_to(box, target, everywhere)
    for night in range(1, 5):  # four black nights used to make every reading dead
        outcome = check(tmp_path, rules, now=T0 + timedelta(days=night))
        assert_learned_nothing(outcome, starts="The network seems down: no site answered")
        message = outcome.inconclusive or ""
        assert "(5 links on 4 sites: " in message  # a TLS failure may
        # come as a reset now and then (the plain-HTTP server hangs up first): same evidence
        assert kind in message or (kind == "tls" and "reset" in message)
        assert records(tmp_path) == before  # byte for byte: nothing for the nightly to commit
        assert {row.result.health for row in outcome.rows if row.result.url} == {Health.ALIVE}


def test_a_first_night_without_network_creates_no_files(box: Sandbox, tmp_path: Path) -> None:
    outcome = check(tmp_path, rules_to(box, "hole.test", [*SITES, "web.archive.org"]))
    assert_learned_nothing(outcome, starts="The network seems down")
    assert records(tmp_path) == {}  # not even the task without a URL
    assert {row.result.health for row in outcome.rows} == {Health.UNKNOWN}


# -- 11: one site, or some names, failing is evidence only when our network works ----------------
def test_a_lone_site_failing_counts_only_when_the_canary_answers(
    box: Sandbox, tmp_path: Path
) -> None:
    one = [READINGS[0]]
    check(tmp_path, rules_to(box, "live.test", ["a.test"]), one)
    before = records(tmp_path)
    offline = rules_to(box, "refused.test", ["a.test", "web.archive.org"])
    for night in range(1, 5):
        outcome = check(tmp_path, offline, one, now=T0 + timedelta(days=night))
        assert_learned_nothing(outcome, starts="The network seems down: the one site")
        assert "neither did https://web.archive.org/" in (outcome.inconclusive or "")
        assert records(tmp_path) == before
    # the same failure while the canary answers: the site is down, not us
    dead_site = [*rules_to(box, "refused.test", ["a.test"])]
    dead_site += rules_to(box, "live.test", ["web.archive.org"])
    outcome = check(tmp_path, dead_site, one, now=T0 + timedelta(days=5))
    assert outcome.inconclusive is None
    assert outcome.rows[0].result.verdict == Verdict.BROKEN
    assert outcome.rows[0].result.health == Health.FAILING
    # and without a canary at all, a lone failure is no evidence either
    outcome = check(tmp_path, offline, one, now=T0 + timedelta(days=6), canary=None)
    assert outcome.inconclusive is not None


class FlakyDNS(AbstractResolver):
    """A name service answering loopback for some names and failing for the rest."""

    def __init__(self, good: set[str], errno: int = socket.EAI_NONAME) -> None:
        self.good, self.errno = good, errno

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host not in self.good:
            raise socket.gaierror(self.errno, "scripted name service failure")
        return [
            ResolveResult(hostname=host, host="127.0.0.1", port=port, family=socket.AF_INET,
                          proto=0, flags=socket.AI_NUMERICHOST)
        ]  # fmt: skip

    async def close(self) -> None:
        pass


def named_rules(box: Sandbox, names: Sequence[str]) -> list[str]:
    """``https://NAME`` -> ``http://NAME:PORT`` of live.test: the name is looked up for real."""
    port = box.hosts["live.test"].ports["https"]
    return [
        rf"^https://{n.replace('.', chr(92) + '.')}(?=[/?#]|$) http://{n}:{port}" for n in names
    ]


def test_a_flaky_resolver_costs_no_reading(box: Sandbox, tmp_path: Path) -> None:
    rules = named_rules(box, [*SITES, "web.archive.org"])
    healthy = FlakyDNS({*SITES, "web.archive.org"})
    check(tmp_path, rules, resolver=healthy)
    before = records(tmp_path)
    # names work for a.test only: one site answers, three fail to resolve at once
    outcome = check(tmp_path, rules, now=T0 + timedelta(days=1), resolver=FlakyDNS({"a.test"}))
    assert outcome.inconclusive is None  # a.test answered: something was learned
    rows = {row.reading.id: row for row in outcome.rows}
    for rid in ("r-b", "r-c", "r-d"):
        assert not rows[rid].counted and rows[rid].action is None
        assert "name service failed for 3 of 4 sites" in rows[rid].result.reason
        stored = json.loads((tmp_path / f"{rid}.json").read_text())
        assert stored["health"]["state"] == "alive" and stored["health"]["failures"] == 0
    assert rows["r-a"].result.verdict == Verdict.OK
    assert "3 not checked" in render(outcome, "text")
    assert records(tmp_path)["r-a.json"] == before["r-a.json"]


def test_a_temporary_name_failure_never_counts(box: Sandbox, tmp_path: Path) -> None:
    rules = named_rules(box, SITES)
    dns = FlakyDNS({"a.test", "b.test", "c.test"}, errno=socket.EAI_AGAIN)
    outcome = check(tmp_path, rules, resolver=dns)
    row = {row.reading.id: row for row in outcome.rows}["r-d"]
    assert (row.result.verdict, row.counted) == (Verdict.SKIPPED, False)
    assert "temporary failure" in row.result.reason
    stored = json.loads((tmp_path / "r-d.json").read_text())
    assert stored["health"]["failures"] == 0


def test_a_name_that_does_not_exist_still_counts(box: Sandbox, tmp_path: Path) -> None:
    rules = named_rules(box, SITES)
    outcome = check(tmp_path, rules, resolver=FlakyDNS({"a.test", "b.test", "c.test"}))
    row = {row.reading.id: row for row in outcome.rows}["r-d"]
    assert (row.result.verdict, row.result.health, row.counted) == (
        Verdict.BROKEN,
        Health.FAILING,
        True,
    )


# -- 6: a captive portal -------------------------------------------------------------------------
def test_a_captive_portal_is_not_a_healthy_web(box: Sandbox, tmp_path: Path) -> None:
    before = healthy_night(box, tmp_path)
    rules = rules_to(box, "intercept.test", SITES) + rules_to(box, "live.test", ["web.archive.org"])
    rules += rules_to(box, "portal.example", ["portal.example"])
    outcome = check(tmp_path, rules, now=T0 + timedelta(days=1))
    assert_learned_nothing(outcome, starts="A captive portal")
    assert "portal.example/login" in (outcome.inconclusive or "")
    assert records(tmp_path) == before  # no title, metadata or drift baseline from the portal
    assert "Hotel WiFi" not in json.dumps([r.result.reason for r in outcome.rows])


def test_a_first_night_behind_a_portal_stores_nothing(box: Sandbox, tmp_path: Path) -> None:
    rules = rules_to(box, "intercept.test", SITES) + rules_to(
        box, "portal.example", ["portal.example"]
    )
    outcome = check(tmp_path, rules)
    assert_learned_nothing(outcome, starts="A captive portal")
    assert records(tmp_path) == {}


def test_one_reading_behind_a_portal_is_caught_by_the_canary(box: Sandbox, tmp_path: Path) -> None:
    rules = rules_to(box, "intercept.test", ["a.test", "web.archive.org"])
    rules += rules_to(box, "portal.example", ["portal.example"])
    outcome = check(tmp_path, rules, [READINGS[0]])
    assert_learned_nothing(outcome, starts="A captive portal")
    assert records(tmp_path) == {}


def test_one_reading_that_moved_to_another_site_is_recorded(box: Sandbox, tmp_path: Path) -> None:
    """The control: a redirect to another site while the canary answers at home is news."""
    rules = rules_to(box, "intercept.test", ["a.test"]) + rules_to(
        box, "live.test", ["web.archive.org"]
    )
    rules += rules_to(box, "portal.example", ["portal.example"])
    outcome = check(tmp_path, rules, [READINGS[0]])
    assert outcome.inconclusive is None
    assert outcome.rows[0].counted  # judged by the site rules (a login page: blocked)
    assert outcome.rows[0].result.verdict != Verdict.SKIPPED
    assert set(records(tmp_path)) == {"r-a.json"}


# -- 10: a disk that fills up mid-run ------------------------------------------------------------
def test_the_run_stops_fetching_at_the_first_failed_write(
    box: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The folder vanishes after the first record (as a full disk refuses every write): the
    run ends with that error instead of fetching the other pages it could not record."""
    import gc
    import shutil

    snapshots = tmp_path / "snapshots"
    many = [reading(f"p{n}", f"https://a.test/page/{n}") for n in range(600)]
    rules = rules_to(box, "live.test", ["a.test", "web.archive.org"])
    settings = FetchSettings(allow_private=True, host_interval=0, retries=0)
    box.requests.clear()

    def gone(row: object) -> None:
        if snapshots.exists():
            shutil.rmtree(snapshots)

    async def go(run: CheckRun) -> Outcome:
        async with Fetcher(settings, Remapper.parse(rules)) as fetcher:
            return await run_checks(
                run, many, many, fetcher, max_concurrency=8, host_concurrency=lambda h: 8
            )

    snapshots.mkdir()
    with pytest.raises(OSError), Ledger(snapshots) as ledger:
        asyncio.run(go(CheckRun(ledger, timedelta(0), False, lambda: T0, on_row=gone)))
    fetched = len(box.requests.for_host("live.test"))
    # before: all 600; now the run stops soon after the failure (slack for a busy machine)
    assert fetched < 400, f"{fetched} of 600 pages fetched after the writes failed"
    gc.collect()
    assert "never retrieved" not in caplog.text


def test_two_dead_sites_count_when_the_canary_answers(box: Sandbox, tmp_path: Path) -> None:
    """`check --week N` whose two links, on two sites, are really down while the network
    works: the canary's answer is the evidence, so the failures count (not "network down")."""
    two = [READINGS[0], READINGS[1]]
    rules = rules_to(box, "refused.test", ["a.test", "b.test"])
    rules += rules_to(box, "live.test", ["web.archive.org"])
    outcome = check(tmp_path, rules, two)
    assert outcome.inconclusive is None
    assert [r.result.verdict for r in outcome.rows] == [Verdict.BROKEN, Verdict.BROKEN]
    assert all(r.counted for r in outcome.rows) and len(records(tmp_path)) == 2
