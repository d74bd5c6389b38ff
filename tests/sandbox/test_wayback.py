"""The sandbox Wayback Machine speaks the real APIs' shapes, over real sockets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
import pytest

from linkkeeper.sandbox import Sandbox, start_wayback
from linkkeeper.sandbox.wayback import ManualClock, WaybackMachine, surt

AUTH = {"Authorization": "LOW sandbox-access:sandbox-secret", "Accept": "application/json"}
ARTICLE = "https://www.example.org/2022/article"
START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    sandbox = start_wayback()
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
    clock = ManualClock(START)
    machine.configure(clock=clock)
    return clock


@pytest.fixture
def web(box: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=box.origin("web.archive.org"), timeout=5) as client:
        yield client


@pytest.fixture
def org(box: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=box.origin("archive.org"), timeout=5) as client:
        yield client


def save(web: httpx.Client, url: str, **options: str) -> httpx.Response:
    return web.post("/save", data={"url": url, **options}, headers=AUTH)


def poll_until_done(web: httpx.Client, job_id: str) -> dict:
    for _ in range(10):
        body = web.get(f"/save/status/{job_id}").json()
        if body["status"] != "pending":
            return body
    raise AssertionError(f"job {job_id} still pending")


# -- SPN2 capture ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {"Accept": "application/json"},
        {"Accept": "application/json", "Authorization": "LOW sandbox-access:wrong"},
        {"Accept": "application/json", "Authorization": "Bearer sandbox-access:sandbox-secret"},
    ],
)
def test_save_without_valid_auth_is_401(machine, web, headers) -> None:
    r = web.post("/save", data={"url": ARTICLE}, headers=headers)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"message": "You need to be logged in to use Save Page Now."}
    assert machine.jobs == {}


def test_save_accepted_shape(machine, web) -> None:
    r = save(web, ARTICLE)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert set(body) == {"url", "job_id"}
    assert body["url"] == ARTICLE
    assert re.fullmatch(r"spn2-[0-9a-f]{40}", body["job_id"])
    assert list(machine.jobs) == [body["job_id"]]


def test_same_url_within_the_hour_gets_the_same_job(machine, clock, web) -> None:
    first = save(web, ARTICLE).json()["job_id"]
    clock.advance(minutes=2)
    again = save(web, "http://example.org/2022/article/").json()  # same SURT key
    assert again["job_id"] == first
    assert again["message"].startswith("The same snapshot had been made 2 minutes ago.")
    clock.advance(minutes=59)
    assert save(web, ARTICLE).json()["job_id"] not in (first, None)


@pytest.mark.parametrize("within", ["30d", "8d 5h 20m", str(178 * 3600)])
def test_if_not_archived_within_hit_answers_job_id_null(machine, clock, web, within) -> None:
    machine.seed(ARTICLE, START - timedelta(hours=177, minutes=9))
    body = save(web, ARTICLE, if_not_archived_within=within).json()
    assert body["url"] == ARTICLE
    assert body["job_id"] is None
    assert body["message"].startswith("The same snapshot had been made 177 hours, 9 minutes ago.")
    assert machine.jobs == {}


def test_if_not_archived_within_miss_starts_a_job(machine, clock, web) -> None:
    machine.seed(ARTICLE, START - timedelta(days=10))
    body = save(web, ARTICLE, if_not_archived_within="3d 5h 20m").json()
    assert body["job_id"].startswith("spn2-")


def test_per_url_per_day_limit_refuses_with_status_ext(machine, clock, web) -> None:
    for _ in range(5):
        assert save(web, ARTICLE).json()["job_id"].startswith("spn2-")
        clock.advance(minutes=61)  # past the same-job window; jobs finish on their own
    r = save(web, ARTICLE)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"status", "status_ext", "message"}
    assert body["status"] == "error"
    assert body["status_ext"] == "error:too-many-daily-captures"
    assert "5 times today" in body["message"]
    assert save(web, "https://example.org/other").json()["job_id"].startswith("spn2-")


def test_per_day_limit_refuses(machine, clock, web) -> None:
    machine.configure(captures_per_day=2)
    save(web, "https://a.example/1")
    save(web, "https://a.example/2")
    body = save(web, "https://a.example/3").json()
    assert body["status_ext"] == "error:too-many-daily-captures"
    assert "job_id" not in body


def test_captures_per_minute_answers_429_without_retry_after(machine, clock, web) -> None:
    machine.configure(concurrent_sessions=100)
    for i in range(6):
        assert save(web, f"https://a.example/{i}").status_code == 200
    r = save(web, "https://a.example/6")
    assert r.status_code == 429
    assert "retry-after" not in r.headers
    assert r.headers["content-type"] == "application/json"
    clock.advance(seconds=61)
    assert save(web, "https://a.example/6").json()["job_id"].startswith("spn2-")


def test_busy_slots_answer_429_until_a_job_completes(machine, web) -> None:
    ids = [save(web, f"https://a.example/{i}").json()["job_id"] for i in range(3)]
    user = web.get("/save/status/user", params={"_t": "1"}, headers=AUTH).json()
    assert user == {
        "processing": 3,
        "available": 0,
        "daily_captures": 3,
        "daily_captures_limit": 100,
    }
    r = save(web, "https://a.example/3")
    assert r.status_code == 429
    assert "retry-after" not in r.headers
    assert r.json()["status_ext"] == "error:user-session-limit"
    assert poll_until_done(web, ids[0])["status"] == "success"
    assert save(web, "https://a.example/3").status_code == 200


def test_boolean_options_only_1_or_on_are_true(machine, web) -> None:
    machine.target_status("https://gone.example/page", 404)
    no = save(web, "https://gone.example/page", capture_all="true").json()["job_id"]
    failed = poll_until_done(web, no)
    assert (failed["status"], failed["status_ext"]) == ("error", "error:not-found")
    machine.configure(same_job_window=timedelta(0))
    yes = save(web, "https://gone.example/page", capture_all="on").json()["job_id"]
    done = poll_until_done(web, yes)
    assert (done["status"], done["http_status"]) == ("success", 404)
    assert machine.jobs[no].options["capture_all"] is False


def test_fail_url_at_submit(machine, web) -> None:
    machine.fail_url(ARTICLE, "error:blocked-url")
    body = save(web, ARTICLE).json()
    assert body["status"] == "error"
    assert body["status_ext"] == "error:blocked-url"
    assert isinstance(body["message"], str)


# -- SPN2 status ----------------------------------------------------------------------------------
def test_pending_for_n_polls_then_success_and_capture_is_readable(machine, clock, web, org) -> None:
    job_id = save(web, ARTICLE).json()["job_id"]
    for _ in range(2):
        r = web.get(f"/save/status/{job_id}")
        assert r.headers["content-type"] == "application/json"
        assert r.json() == {"status": "pending", "job_id": job_id, "resources": [ARTICLE]}
    done = web.get(f"/save/status/{job_id}").json()
    assert set(done) == {
        "status",
        "job_id",
        "original_url",
        "timestamp",
        "duration_sec",
        "resources",
        "outlinks",
        "http_status",
    }
    assert done["status"] == "success"
    assert done["original_url"] == ARTICLE
    assert done["timestamp"] == "20260302120000"
    assert isinstance(done["duration_sec"], float)
    assert isinstance(done["resources"], list)
    assert isinstance(done["outlinks"], list)
    assert done["http_status"] == 200
    assert [c.timestamp for c in machine.captures(ARTICLE)] == ["20260302120000"]
    cdx = web.get("/cdx/search/cdx", params={"url": ARTICLE, "output": "json"}).json()
    assert cdx[1][1] == "20260302120000"
    avail = org.get("/wayback/available", params={"url": ARTICLE}).json()
    assert avail["archived_snapshots"]["closest"]["timestamp"] == "20260302120000"
    assert web.get(f"/web/20260302120000/{ARTICLE}").status_code == 200


def test_visibility_lag_hides_fresh_captures(machine, clock, web) -> None:
    machine.configure(visibility_lag=timedelta(hours=3), pending_polls=0)
    job_id = save(web, ARTICLE).json()["job_id"]
    assert web.get(f"/save/status/{job_id}").json()["status"] == "success"
    params = {"url": ARTICLE, "output": "json"}
    assert web.get("/cdx/search/cdx", params=params).json() == []
    clock.advance(hours=3)
    assert len(web.get("/cdx/search/cdx", params=params).json()) == 2


def test_status_by_post_and_batch(machine, web) -> None:
    machine.configure(concurrent_sessions=5)
    a = save(web, "https://a.example/1").json()["job_id"]
    b = save(web, "https://a.example/2").json()["job_id"]
    one = web.post("/save/status", data={"job_id": a}).json()
    assert one == {"status": "pending", "job_id": a, "resources": ["https://a.example/1"]}
    batch = web.post("/save/status", data={"job_ids": f"{a},{b}"}).json()
    assert [s["job_id"] for s in batch] == [a, b]
    assert [s["status"] for s in batch] == ["pending", "pending"]


def test_error_at_status_time(machine, web) -> None:
    machine.fail_url(ARTICLE, "error:invalid-host-resolution", at="status")
    job_id = save(web, ARTICLE).json()["job_id"]
    body = poll_until_done(web, job_id)
    assert set(body) == {"status", "status_ext", "exception", "message", "job_id", "resources"}
    assert body["status"] == "error"
    assert body["status_ext"] == "error:invalid-host-resolution"
    assert body["job_id"] == job_id
    assert body["resources"] == []
    assert machine.captures(ARTICLE) == []


def test_unknown_job_id_is_pending_not_404(machine, web) -> None:
    made_up = "spn2-" + "0" * 40
    r = web.get(f"/save/status/{made_up}")
    assert r.status_code == 200
    assert r.json() == {"status": "pending", "job_id": made_up, "resources": []}


def test_user_status_needs_auth(machine, web) -> None:
    r = web.get("/save/status/user", params={"_t": "42"})
    assert r.status_code == 401
    assert r.json() == {"message": "You need to be logged in to use Save Page Now."}
    user = web.get("/save/status/user", params={"_t": "43"}, headers=AUTH).json()
    assert user == {
        "processing": 0,
        "available": 3,
        "daily_captures": 0,
        "daily_captures_limit": 100,
    }


def test_system_status(machine, web) -> None:
    r = web.get("/save/status/system")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})
    machine.configure(system_status="Save Page Now is overloaded.", system_http_status=502)
    r = web.get("/save/status/system")
    assert (r.status_code, r.json()) == (502, {"status": "Save Page Now is overloaded."})


# -- availability API ----------------------------------------------------------------------------
def test_availability_closest_shape(machine, org) -> None:
    machine.seed("https://example.org/2022/article", "20220315101010")
    machine.seed("https://example.org/2022/article", "20240101000000")
    r = org.get("/wayback/available", params={"url": ARTICLE, "timestamp": "2022"})
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {
        "url": ARTICLE,
        "archived_snapshots": {
            "closest": {
                "available": True,
                "url": "http://web.archive.org/web/20220315101010/https://example.org/2022/article",
                "timestamp": "20220315101010",
                "status": "200",
            }
        },
    }
    latest = org.get("/wayback/available", params={"url": ARTICLE}).json()
    assert latest["archived_snapshots"]["closest"]["timestamp"] == "20240101000000"


def test_availability_nothing_and_empty_mode(machine, org) -> None:
    nothing = org.get("/wayback/available", params={"url": "never.example/x"}).json()
    assert nothing == {"url": "never.example/x", "archived_snapshots": {}}
    machine.seed(ARTICLE, "20220315101010")
    machine.availability_empty(True)
    flaky = org.get("/wayback/available", params={"url": ARTICLE}).json()
    assert flaky == {"url": ARTICLE, "archived_snapshots": {}}


# -- CDX -------------------------------------------------------------------------------------------
PAPER = "https://arxiv.org/abs/1706.03762"


@pytest.fixture
def paper(machine: WaybackMachine) -> WaybackMachine:
    machine.seed(PAPER, "20170613000000")
    machine.seed(PAPER, "20180101120000", statuscode=301, mimetype="text/html")
    machine.seed(PAPER, "20220315101010")
    machine.seed(PAPER, "20240601000000", statuscode=404)
    machine.seed("https://arxiv.org/abs/1810.04805", "20190101000000")
    return machine


def cdx(web: httpx.Client, **params: str | list[str]) -> httpx.Response:
    return web.get("/cdx/search/cdx", params=params)


def test_cdx_json_has_header_row_and_string_fields(paper, web) -> None:
    r = cdx(web, url=PAPER, output="json")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    rows = r.json()
    assert rows[0] == [
        "urlkey",
        "timestamp",
        "original",
        "mimetype",
        "statuscode",
        "digest",
        "length",
    ]
    assert len(rows) == 5
    assert rows[1][:5] == ["org,arxiv)/abs/1706.03762", "20170613000000", PAPER, "text/html", "200"]
    assert all(isinstance(v, str) for row in rows for v in row)


def test_cdx_text_output_and_fl(paper, web) -> None:
    r = cdx(web, url="arxiv.org/abs/1706.03762", fl="timestamp,statuscode")
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text.splitlines() == [
        "20170613000000 200",
        "20180101120000 301",
        "20220315101010 200",
        "20240601000000 404",
    ]


def test_cdx_filters(paper, web) -> None:
    ok = cdx(web, url=PAPER, fl="timestamp", filter="statuscode:200")
    assert ok.text.split() == ["20170613000000", "20220315101010"]
    not_ok = cdx(web, url=PAPER, fl="timestamp", filter=["!statuscode:200", "statuscode:[34].."])
    assert not_ok.text.split() == ["20180101120000", "20240601000000"]
    partial = cdx(web, url=PAPER, fl="timestamp", filter="statuscode:2")  # regex must match whole
    assert partial.text == ""


def test_cdx_from_to_limit_and_closest(paper, web) -> None:
    def stamps(**params: str) -> list[str]:
        return cdx(web, url=PAPER, fl="timestamp", **params).text.split()

    assert stamps(**{"from": "2018", "to": "2022"}) == ["20180101120000", "20220315101010"]
    assert stamps(**{"to": "201801"}) == ["20170613000000", "20180101120000"]
    assert stamps(limit="2") == ["20170613000000", "20180101120000"]
    assert stamps(limit="-1") == ["20240601000000"]
    assert stamps(closest="20211201", sort="closest", limit="2") == [
        "20220315101010",
        "20240601000000",
    ]


def test_cdx_collapse_and_prefix(paper, web) -> None:
    assert cdx(web, url=PAPER, fl="timestamp", collapse="timestamp:4").text.split() == [
        "20170613000000",
        "20180101120000",
        "20220315101010",
        "20240601000000",
    ]
    assert cdx(web, url=PAPER, fl="statuscode", collapse="statuscode").text.split() == [
        "200",
        "301",
        "200",
        "404",
    ]
    keys = cdx(web, url="arxiv.org/abs/*", fl="urlkey", collapse="urlkey").text.split()
    assert keys == ["org,arxiv)/abs/1706.03762", "org,arxiv)/abs/1810.04805"]


def test_cdx_nothing_and_missing_url(paper, web) -> None:
    assert cdx(web, url="https://never.example/", output="json").json() == []
    assert cdx(web, url="https://never.example/").text == ""
    r = cdx(web, output="json")
    assert r.status_code == 400
    assert "url" in r.text


@pytest.mark.parametrize(
    ("kind", "exception"),
    [
        ("Administrative", "AdministrativeAccessControlException"),
        ("Robot", "RobotAccessControlException"),
    ],
)
def test_cdx_blocked_site(paper, web, kind, exception) -> None:
    paper.block_site("arxiv.org", kind=kind)
    r = cdx(web, url=PAPER, output="json")
    assert r.status_code == 403
    assert exception in r.text
    assert r.headers["x-archive-wayback-runtime-error"].startswith(exception)


def test_surt_is_light_normalisation() -> None:
    assert surt("https://www.arxiv.org/abs/1706.03762/") == "org,arxiv)/abs/1706.03762"
    assert surt("http://ARXIV.org:80/abs/1706.03762#x") == "org,arxiv)/abs/1706.03762"
    assert surt("example.com") == "com,example)/"
    assert surt("https://example.com/p?b=2&a=1") == "com,example)/p?a=1&b=2"


# -- replay, TimeMap, TimeGate ---------------------------------------------------------------------
def links(header: str) -> dict[str, tuple[str, str | None]]:
    """rel -> (target, datetime) from a Link header or a link-format body."""
    found = {}
    for target, params in re.findall(r"<([^>]*)>([^<]*)", header):
        rel = re.search(r'rel="([^"]+)"', params).group(1)
        dt = re.search(r'datetime="([^"]+)"', params)
        found[rel] = (target, dt.group(1) if dt else None)
    return found


def test_replay_exact_capture_has_memento_headers(paper, web) -> None:
    r = web.get(f"/web/20220315101010/{PAPER}")
    assert r.status_code == 200
    assert r.headers["memento-datetime"] == "Tue, 15 Mar 2022 10:10:10 GMT"
    rels = links(r.headers["link"])
    assert set(rels) == {
        "original",
        "timemap",
        "timegate",
        "first memento",
        "prev memento",
        "memento",
        "next memento",
        "last memento",
    }
    assert rels["original"][0] == PAPER
    assert rels["prev memento"][0].endswith(f"/web/20180101120000/{PAPER}")
    assert rels["next memento"][0].endswith(f"/web/20240601000000/{PAPER}")
    for rel in ("first memento", "prev memento", "memento", "next memento", "last memento"):
        assert parsedate_to_datetime(rels[rel][1]).tzinfo is not None
    assert PAPER in r.text
    first = links(web.get(f"/web/20170613000000/{PAPER}").headers["link"])
    assert "prev memento" not in first
    assert "next memento" in first


def test_replay_partial_or_inexact_timestamp_redirects_to_closest(paper, web, box) -> None:
    origin = box.origin("web.archive.org")
    r = web.get(f"/web/2022/{PAPER}")
    assert r.status_code == 302
    assert r.headers["location"] == f"{origin}/web/20220315101010/{PAPER}"
    r = web.get(f"/web/20231231000000id_/{PAPER}")
    assert r.headers["location"] == f"{origin}/web/20240601000000id_/{PAPER}"
    r = web.get(f"/web/0/{PAPER}")
    assert r.headers["location"] == f"{origin}/web/20170613000000/{PAPER}"


def test_replay_id_gives_original_bytes(machine, web) -> None:
    machine.seed(ARTICLE, "20220315101010", body=b"<p>the original article</p>")
    r = web.get(f"/web/20220315101010id_/{ARTICLE}")
    assert r.status_code == 200
    assert r.content == b"<p>the original article</p>"
    banner = web.get(f"/web/20220315101010/{ARTICLE}")
    assert banner.content.endswith(b"<p>the original article</p>")
    assert banner.content != r.content
    machine.seed("https://example.org/stub", "20220315101010")
    stub = web.get("/web/20220315101010id_/https://example.org/stub")
    assert "https://example.org/stub" in stub.text


def test_replay_without_captures_is_404(machine, web) -> None:
    assert web.get("/web/20220315101010/https://never.example/").status_code == 404
    assert web.get("/web/2022/https://never.example/").status_code == 404


def test_timemap(paper, web) -> None:
    r = web.get(f"/web/timemap/link/{PAPER}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/link-format"
    entries = re.findall(r'rel="([^"]+)"', r.text)
    assert entries == [
        "original",
        "self",
        "timegate",
        "first memento",
        "memento",
        "memento",
        "last memento",
    ]


def test_timegate_redirects_to_closest_memento(paper, web, box) -> None:
    r = web.get(f"/web/{PAPER}", headers={"Accept-Datetime": "Thu, 01 Jul 2021 00:00:00 GMT"})
    assert r.status_code == 302
    assert r.headers["location"] == f"{box.origin('web.archive.org')}/web/20220315101010/{PAPER}"
    assert r.headers["vary"] == "accept-datetime"


def test_replay_keeps_the_archived_urls_query(machine, web) -> None:
    machine.seed("https://example.org/item?id=7&b=2", "20220315101010", body="<p>item 7</p>")
    r = web.get("/web/20220315101010id_/https://example.org/item?id=7&b=2")
    assert r.status_code == 200
    assert r.text == "<p>item 7</p>"
    assert links(r.headers["link"])["original"][0] == "https://example.org/item?id=7&b=2"
    assert web.get("/web/20220315101010id_/https://example.org/item?id=8").status_code == 404


def test_expired_job_answers_like_an_unknown_one(machine, clock, web) -> None:
    job_id = save(web, ARTICLE).json()["job_id"]
    clock.advance(minutes=61)
    assert web.get(f"/save/status/{job_id}").json() == {
        "status": "pending",
        "job_id": job_id,
        "resources": [],
    }


def test_success_reports_the_url_after_redirects(machine, web) -> None:
    machine.redirect("http://old.example/paper", "https://new.example/paper")
    done = poll_until_done(web, save(web, "http://old.example/paper").json()["job_id"])
    assert done["original_url"] == "https://new.example/paper"
    assert [c.url for c in machine.captures("https://new.example/paper")] == [
        "https://new.example/paper"
    ]


def test_administratively_blocked_site_is_refused_by_spn(machine, web) -> None:
    machine.block_site("blocked.example")
    body = save(web, "https://sub.blocked.example/x").json()
    assert body["status_ext"] == "error:blocked-url"


def test_cdx_domain_wildcard(paper, web) -> None:
    paper.seed("https://export.arxiv.org/abs/1", "20200101000000")
    paper.seed("https://notarxiv.org/abs/1", "20200101000000")
    keys = cdx(web, url="*.arxiv.org", fl="urlkey", collapse="urlkey").text.split()
    assert keys == [
        "org,arxiv)/abs/1706.03762",
        "org,arxiv)/abs/1810.04805",
        "org,arxiv,export)/abs/1",
    ]
