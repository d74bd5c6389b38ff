"""The Wayback client against the sandbox Wayback Machine, over real loopback sockets.

The client talks to the real URLs (``https://web.archive.org``, ``https://archive.org``); a
RemapTransport on the project's httpx-aiohttp stack sends them to the sandbox, exactly as the
``--remap`` rules do, so recorded snapshot URLs must stay public.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from linkkeeper.archive.iakeys import KEYS_PAGE, Keys
from linkkeeper.archive.wayback import (
    STATUS_EXT,
    ErrorClass,
    NeedKeys,
    Outcome,
    Pacer,
    WaybackClient,
    WaybackError,
    WaybackSettings,
    classify,
    make_client,
    parse_cdx_json,
)
from linkkeeper.sandbox import Sandbox, start_wayback
from linkkeeper.sandbox.wayback import ManualClock, WaybackMachine
from linkkeeper.web.remap import Remapper

ACCESS, SECRET = "AKtestACCESS7731", "SKtopSECRET9904"  # distinctive, to grep for leaks
KEYS = Keys(ACCESS, SECRET)
ARTICLE = "https://www.example.org/2022/article"
PDF = "https://arxiv.org/pdf/1706.03762"
VIDEO = "https://www.youtube.com/watch?v=kCc8FmEb1nY"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
FAST = WaybackSettings(poll_interval=0.02, poll_deadline=2.0, cdx_interval=0.0, timeout=5.0)
WEB = "web.archive.org"


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    sandbox = start_wayback(access_key=ACCESS, secret_key=SECRET)
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def machine(box: Sandbox) -> WaybackMachine:
    box.wayback.reset()
    box.requests.clear()
    return box.wayback


@pytest.fixture
def clock(machine: WaybackMachine) -> ManualClock:
    clock = ManualClock(NOW)
    machine.configure(clock=clock, captures_per_minute=1000)
    return clock


@asynccontextmanager
async def wayback(
    box: Sandbox, keys: Keys | None = KEYS, settings: WaybackSettings = FAST, **kw: object
) -> AsyncIterator[WaybackClient]:
    async with make_client(Remapper.parse(box.remap_rules()), allow_private=True) as client:
        yield WaybackClient(client, keys, settings=settings, now=lambda: NOW, **kw)  # type: ignore[arg-type]


def posts(box: Sandbox) -> list[float]:
    return [r.time for r in box.requests.matching(WEB, "/save", "POST")]


# -- SPN2 capture ------------------------------------------------------------------------------
@pytest.mark.parametrize("url", [ARTICLE, PDF, VIDEO])  # PDFs and videos: no skipping by type
@pytest.mark.asyncio
async def test_capture_succeeds_after_pending_polls(
    box: Sandbox, machine: WaybackMachine, clock: ManualClock, url: str
) -> None:
    machine.configure(pending_polls=3)
    async with wayback(box) as wb:
        result = await wb.save(url)
    assert result.outcome is Outcome.CAPTURED, result
    assert result.capture is not None and result.capture.timestamp == "20260302120000"
    assert result.capture.url == f"https://web.archive.org/web/20260302120000/{url}"
    assert result.job_id and result.job_id.startswith("spn2-")
    (post,) = box.requests.matching(WEB, "/save", "POST")
    assert post.headers["authorization"] == f"LOW {ACCESS}:{SECRET}"
    assert post.headers["accept"] == "application/json"
    assert post.headers["user-agent"].startswith("linkkeeper/")
    assert post.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(post.body.decode()) == {"url": [url], "if_not_archived_within": ["30d"]}
    assert len(box.requests.matching(WEB, f"/save/status/{result.job_id}", "GET")) == 4
    assert machine.captures(url)[-1].timestamp == "20260302120000"


@pytest.mark.asyncio
async def test_capture_follows_redirect_to_original_url(
    box: Sandbox, machine: WaybackMachine, clock: ManualClock
) -> None:
    machine.redirect(ARTICLE, "https://example.org/articles/2022")
    async with wayback(box) as wb:
        result = await wb.save(ARTICLE)
    assert result.capture is not None
    assert result.capture.url.endswith("/web/20260302120000/https://example.org/articles/2022")


@pytest.mark.asyncio
async def test_polling_stops_at_the_deadline(
    box: Sandbox, machine: WaybackMachine, clock: ManualClock
) -> None:
    machine.configure(pending_polls=10_000)
    settings = WaybackSettings(poll_interval=0.02, poll_deadline=0.15, cdx_interval=0.0)
    async with wayback(box, settings=settings) as wb:
        result = await wb.save(ARTICLE)
    assert result.outcome is Outcome.PENDING and result.retry_later
    assert result.job_id and "still running" in result.reason
    assert 2 <= len(box.requests.matching(WEB, "/save/status/", "GET")) <= 10


@pytest.mark.asyncio
async def test_recent_capture_shortcut_resolves_to_the_existing_capture(
    box: Sandbox, machine: WaybackMachine, clock: ManualClock
) -> None:
    machine.seed(ARTICLE, "20200105000000")
    machine.seed(ARTICLE, NOW - timedelta(days=3))
    async with wayback(box) as wb:
        result = await wb.save(ARTICLE)
    assert result.outcome is Outcome.RECENT and result.job_id is None
    assert result.message and "had been made 72 hours" in result.message
    assert result.capture is not None
    assert result.capture.url == f"https://web.archive.org/web/20260227120000/{ARTICLE}"
    assert not box.requests.matching(WEB, "/save/status/")
    (cdx,) = box.requests.matching(WEB, "/cdx/search/cdx")
    query = parse_qs(urlsplit(cdx.path).query)
    assert query["closest"] == ["20260302120000"] and query["sort"] == ["closest"]


CODES = [
    ("error:user-session-limit", Outcome.TRANSIENT),
    ("error:soft-time-limit-exceeded", Outcome.TRANSIENT),
    ("error:max-daily-bandwidth-from-ip", Outcome.TRANSIENT),
    ("error:blocked-url", Outcome.PERMANENT),
    ("error:invalid-host-resolution", Outcome.PERMANENT),
    ("error:no-captures", Outcome.PERMANENT),
    ("error:too-many-daily-captures", Outcome.QUOTA),
    ("error:brand-new-code-2027", Outcome.TRANSIENT),  # unknown: tolerated, retried
]


@pytest.mark.asyncio
@pytest.mark.parametrize("at", ["submit", "status"])
@pytest.mark.parametrize(("code", "outcome"), CODES)
async def test_refusals_are_classified(
    box: Sandbox, machine: WaybackMachine, clock: ManualClock, at: str, code: str, outcome: Outcome
) -> None:
    machine.fail_url(ARTICLE, code, at=at)  # type: ignore[arg-type]
    async with wayback(box) as wb:
        result = await wb.save(ARTICLE)
    assert result.outcome is outcome
    assert result.status_ext == code  # the raw code is kept for the record
    assert result.reason and result.capture is None
    polled = box.requests.matching(WEB, "/save/status/")
    assert bool(polled) == (at == "status")
    if "brand-new" in code:
        assert code in result.reason


@pytest.mark.asyncio
async def test_quota_stops_further_submissions_this_run(
    box: Sandbox, machine: WaybackMachine, clock: ManualClock
) -> None:
    machine.configure(captures_per_day=1)
    pacer = Pacer(per_minute=60_000)
    async with wayback(box) as wb:
        first = await wb.save(ARTICLE, pacer)
        second = await wb.save(PDF, pacer)
        third = await wb.save(VIDEO, pacer)
    assert first.outcome is Outcome.CAPTURED
    assert second.outcome is Outcome.QUOTA and second.status_ext == "error:too-many-daily-captures"
    assert third.outcome is Outcome.QUOTA and pacer.stopped and "per day" in pacer.stopped
    assert len(posts(box)) == 2  # nothing submitted after the quota answer


@pytest.mark.asyncio
async def test_without_keys_401_says_how_to_get_keys(
    box: Sandbox, machine: WaybackMachine, clock: ManualClock
) -> None:
    async with wayback(box, keys=None) as wb:
        result = await wb.save(ARTICLE)
        with pytest.raises(NeedKeys, match=r"s3\.php"):
            await wb.user_status()
    assert result.outcome is Outcome.UNAUTHORIZED and result.http_status == 401
    assert KEYS_PAGE in result.reason and "IA_ACCESS_KEY" in result.reason
    assert result.message == "You need to be logged in to use Save Page Now."
    (post,) = box.requests.matching(WEB, "/save", "POST")
    assert "authorization" not in post.headers


@pytest.mark.asyncio
async def test_wrong_keys_are_refused_without_echoing_them(
    box: Sandbox, machine: WaybackMachine, clock: ManualClock
) -> None:
    wrong = Keys("AKwrongACCESS", "SKwrongSECRET")
    async with wayback(box, keys=wrong) as wb:
        result = await wb.save(ARTICLE)
    assert result.outcome is Outcome.UNAUTHORIZED
    assert "keys refused" in result.reason
    assert "SKwrongSECRET" not in repr(result) and "AKwrongACCESS" not in repr(result)


# -- pacing -------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_429_backs_off_exponentially_then_captures(
    box: Sandbox, machine: WaybackMachine
) -> None:
    # One slot, held by a job that the sandbox completes 0.25 s after submission (real clock).
    machine.configure(concurrent_sessions=1, max_capture_time=timedelta(seconds=0.25))
    pacer = Pacer(per_minute=60_000, backoff_initial=0.1, backoff_factor=2.0)
    async with wayback(box) as wb:
        holder = await wb.submit(PDF)
        result = await wb.save(ARTICLE, pacer)
    assert holder.outcome is Outcome.ACCEPTED
    assert result.outcome is Outcome.CAPTURED, result
    times = posts(box)[1:]  # ARTICLE's submissions
    assert len(times) >= 2  # at least one 429 before the slot freed
    for i, (a, b) in enumerate(itertools.pairwise(times)):
        assert b - a >= 0.1 * 2**i - 0.01, (i, b - a)


@pytest.mark.asyncio
async def test_429_gives_up_as_busy_after_max_retries(
    box: Sandbox, machine: WaybackMachine, clock: ManualClock
) -> None:
    machine.configure(concurrent_sessions=1)
    pacer = Pacer(per_minute=60_000, backoff_initial=0.02, max_busy_retries=2)
    async with wayback(box) as wb:
        await wb.submit(PDF)  # holds the only slot; the manual clock never frees it
        result = await wb.save(ARTICLE, pacer)
    assert result.outcome is Outcome.BUSY and result.retry_later and result.http_status == 429
    assert len(posts(box)) == 1 + 3


@pytest.mark.asyncio
async def test_per_minute_pacing_spaces_submissions(
    box: Sandbox, machine: WaybackMachine, clock: ManualClock
) -> None:
    machine.configure(pending_polls=0)
    pacer = Pacer(per_minute=600)  # one every 0.1 s
    async with wayback(box) as wb:
        results = [await wb.save(u, pacer) for u in (ARTICLE, PDF, VIDEO)]
    assert [r.outcome for r in results] == [Outcome.CAPTURED] * 3
    times = posts(box)
    assert len(times) == 3
    assert all(b - a >= 0.1 - 0.01 for a, b in itertools.pairwise(times)), times


@pytest.mark.asyncio
async def test_user_status(box: Sandbox, machine: WaybackMachine, clock: ManualClock) -> None:
    machine.configure(concurrent_sessions=3, captures_per_day=50)
    async with wayback(box) as wb:
        await wb.submit(ARTICLE)
        status = await wb.user_status()
    assert (status.available, status.processing) == (2, 1)
    assert (status.daily_captures, status.daily_captures_limit) == (1, 50)
    (request,) = box.requests.matching(WEB, "/save/status/user")
    assert parse_qs(urlsplit(request.path).query)["_t"][0]  # cache buster


# -- finding captures -------------------------------------------------------------------------
def test_parse_cdx_json_shapes() -> None:
    assert parse_cdx_json("[]") == []
    assert parse_cdx_json("") == []
    rows = parse_cdx_json('[["timestamp","original"],["20220101000000","https://a.example/"]]')
    assert rows == [{"timestamp": "20220101000000", "original": "https://a.example/"}]


def test_error_table_covers_every_documented_code() -> None:
    documented = """bad-gateway bad-request bandwidth-limit-exceeded blocked blocked-client-ip
    blocked-url browsing-timeout capture-location-error cannot-fetch celery filesize-limit
    ftp-access-denied gateway-timeout http-version-not-supported internal-server-error
    invalid-url-syntax invalid-server-response invalid-host-resolution job-failed
    method-not-allowed not-implemented no-browsers-available network-authentication-required
    no-access not-found proxy-error protocol-error read-timeout soft-time-limit-exceeded
    service-unavailable too-many-daily-captures too-many-redirects too-many-requests
    user-session-limit unauthorized max-daily-bandwidth max-daily-bandwidth-from-ip
    max-daily-bandwidth-host no-captures redis-error""".split()  # noqa: SIM905
    assert sorted(documented) == sorted(STATUS_EXT)
    assert classify("error:max-daily-bandwidth-per-asn")[0] is ErrorClass.TRANSIENT
    assert all(why for _, why in STATUS_EXT.values())


@pytest.mark.asyncio
async def test_capture_choice_around_the_assignment_date(
    box: Sandbox, machine: WaybackMachine, clock: ManualClock
) -> None:
    for ts in ("20210510083000", "20220915120000", "20240110090000"):
        machine.seed(ARTICLE, ts)
    machine.seed(ARTICLE, "20230301000000", statuscode=404)  # not a usable copy
    machine.seed(ARTICLE, "20221001000000", statuscode=302)
    web = f"https://web.archive.org/web/{{}}/{ARTICLE}"
    async with wayback(box) as wb:
        mid = await wb.find_captures(ARTICLE, date(2023, 3, 6))
        early = await wb.find_captures(ARTICLE, date(2019, 9, 2))
        same_day = await wb.find_captures(ARTICLE, date(2022, 9, 15))
        undated = await wb.find_captures(ARTICLE, None)
        nothing = await wb.find_captures("https://never.example/archived", date(2023, 3, 6))
    assert mid.before and mid.before.url == web.format("20220915120000")
    assert mid.after is None and mid.best == mid.before
    assert mid.latest and mid.latest.url == web.format("20240110090000")
    assert early.before is None and early.after and early.after.timestamp == "20210510083000"
    assert early.best == early.after and early.latest == mid.latest
    assert same_day.before and same_day.before.timestamp == "20220915120000"
    assert undated.before is None and undated.best == mid.latest
    assert nothing.best is None and nothing.excluded is None
    assert all("127.0.0.1" not in c.url for c in (mid.before, mid.latest, early.after))
    for request in box.requests.matching(WEB, "/cdx/search/cdx"):
        query = parse_qs(urlsplit(request.path).query)
        assert query["output"] == ["json"] and query["fl"] == [
            "timestamp,original,statuscode,mimetype"
        ]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("kind", "words"), [("Administrative", "site blocked"), ("Robot", "robots")]
)
async def test_blocked_site_is_excluded(
    box: Sandbox, machine: WaybackMachine, clock: ManualClock, kind: str, words: str
) -> None:
    machine.seed(ARTICLE, "20220915120000")
    machine.block_site("example.org", kind)  # type: ignore[arg-type]
    async with wayback(box) as wb:
        found = await wb.find_captures(ARTICLE, date(2023, 3, 6))
    assert found.best is None and found.excluded and words in found.excluded


@pytest.mark.asyncio
async def test_cdx_pacing_min_interval(
    box: Sandbox, machine: WaybackMachine, clock: ManualClock
) -> None:
    machine.seed(ARTICLE, "20220915120000")
    settings = WaybackSettings(cdx_interval=0.1)
    async with wayback(box, settings=settings) as wb:
        await wb.find_captures(ARTICLE, date(2019, 1, 1))  # latest, before, after: 3 calls
    times = [r.time for r in box.requests.matching(WEB, "/cdx/search/cdx")]
    assert len(times) == 3
    assert all(b - a >= 0.1 - 0.01 for a, b in itertools.pairwise(times)), times


@pytest.mark.asyncio
async def test_availability_is_only_a_hint(
    box: Sandbox, machine: WaybackMachine, clock: ManualClock
) -> None:
    machine.seed(ARTICLE, "20220915120000")
    async with wayback(box) as wb:
        hint = await wb.availability(ARTICLE, "2023")
        machine.availability_empty()
        empty = await wb.availability(ARTICLE)
        still = await wb.find_captures(ARTICLE, date(2023, 3, 6))
    assert hint and hint.url == f"https://web.archive.org/web/20220915120000/{ARTICLE}"
    assert hint.status == 200
    assert empty is None and still.before is not None


@pytest.mark.asyncio
async def test_base_urls_are_configurable_for_other_archives(
    box: Sandbox, machine: WaybackMachine, clock: ManualClock
) -> None:
    machine.seed(ARTICLE, "20220915120000")
    # no remap: base URLs point straight at loopback
    async with make_client(allow_private=True) as client:
        wb = WaybackClient(
            client,
            KEYS,
            wayback_url=box.origin(WEB),
            availability_url=box.origin("archive.org") + "/wayback/available",
            replay_url="https://web.archive.org",
            settings=FAST,
            now=lambda: NOW,
        )
        found = await wb.find_captures(ARTICLE, date(2023, 3, 6))
        hint = await wb.availability(ARTICLE)
        saved = await wb.save(PDF)
    assert found.before and found.before.url.startswith("https://web.archive.org/web/2022")
    assert hint and hint.timestamp == "20220915120000"
    assert saved.capture and saved.capture.url.startswith("https://web.archive.org/web/2026")


# -- secrets --------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_secrets_never_appear_in_results_errors_or_logs(
    box: Sandbox,
    machine: WaybackMachine,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    produced: list[str] = [repr(KEYS), str(KEYS), f"{KEYS}", f"{KEYS!r}"]
    machine.fail_url(PDF, "error:blocked-url")
    async with wayback(box) as wb:
        for url in (ARTICLE, PDF):
            produced.append(repr(await wb.save(url)))
        produced.append(repr(await wb.user_status()))
        produced.append(repr(wb.__dict__))
    async with make_client(allow_private=True) as client:
        dead = WaybackClient(client, KEYS, wayback_url="http://127.0.0.1:9", settings=FAST)
        produced.append(repr(await dead.save(ARTICLE)))
        with pytest.raises(WaybackError) as info:
            await dead.user_status()
        produced += [str(info.value), repr(info.value), repr(info.value.__cause__)]
    out, err = capsys.readouterr()
    produced += [caplog.text, out, err, *(r.getMessage() for r in caplog.records)]
    text = "\n".join(produced)
    assert "Keys(access='***', secret='***')" in text
    assert "refused" in text or "failed" in text  # the dead archive's error is in there
    assert SECRET not in text and ACCESS not in text


def test_scrub_masks_both_halves() -> None:
    assert KEYS.scrub(f"Authorization: LOW {ACCESS}:{SECRET}") == "Authorization: LOW ***:***"
    assert KEYS.authorization() == f"LOW {ACCESS}:{SECRET}"
