"""Archived copies members can trust: no view ever offers a capture of the breakage.

Real sockets throughout: three nights of the real nightly job (check, archive, publish, the
rolling issue) over readings the sandbox web serves broken, each with a Wayback history of a
good old capture and a newer capture of the breakage; then the member views through the CLI.
What was fetched, replayed and submitted is read from the sandbox's own request log.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner, Result

from linkkeeper import nightly
from linkkeeper.archive.iakeys import Keys
from linkkeeper.archive.wayback import Outcome, WaybackClient, WaybackSettings, make_client
from linkkeeper.check.command import CheckOptions
from linkkeeper.cli import cli
from linkkeeper.core.config import HostOverride
from linkkeeper.curriculum.readings import load
from linkkeeper.ledger.store import Ledger
from linkkeeper.sandbox import Sandbox
from linkkeeper.sandbox.sites._common import article_page, page
from linkkeeper.web.remap import Remapper

WEB = "web.archive.org"
GOOD_TS = "20210501101500"  # when each page was live
BAD_TS = "20260115080000"  # a capture of the breakage, before linkkeeper saw it fail
NIGHTS = [datetime(2026, 3, 1, 3, 17, tzinfo=UTC) + timedelta(days=n) for n in range(3)]


def article(title: str) -> str:
    return article_page(title, "", "By A. Writer", 10, title, site="Blog")


def watch_page(status: str, reason: str = "") -> str:
    player = {"playabilityStatus": {"status": status} | ({"reason": reason} if reason else {})}
    script = f"<script>var ytInitialPlayerResponse = {json.dumps(player)};</script>"
    return page("A talk - YouTube" if status == "OK" else " - YouTube", script)


NOT_FOUND = page("Page not found", "<main><h1>Page not found</h1><p>Sorry.</p></main>")
PARKED = page(
    "parked.example", "<main><h1>This domain is for sale!</h1><p>Buy this domain.</p></main>"
)

# id -> (url, how the breakage was captured: (status, body, where it led), what rejects it)
BREAKAGES: dict[str, tuple[str, tuple[int, str | None, str | None], str]] = {
    "gone-404": ("https://blog.example/missing", (404, NOT_FOUND, None), "404"),
    "to-root": (
        "https://blog.example/deep/link/to/article",
        (302, None, "https://blog.example/"),
        "redirected to the site root",
    ),
    "soft-200": ("https://blog.example/soft-404", (200, NOT_FOUND, None), "soft 404"),
    "parked": (
        "https://parked.example/the-article",
        (302, None, "https://parked.example/lander"),
        "parked-domain lander",
    ),
    "removed-video": (
        "https://www.youtube.com/watch?v=removedVid01",
        (200, watch_page("ERROR", "Video unavailable"), None),
        "removed or unavailable video",
    ),
}
ONLY_BAD = ("only-bad", "https://blog.example/gone")  # 410 live; only a soft-404 capture
LIVE = ("alive", "https://blog.example/post/live")

CURRICULUM = "title: Trust list\nweeks:\n  - week: 1\n    readings:\n" + "".join(
    f"      - id: {rid}\n        title: Reading {rid}\n        url: {url}\n"
    for rid, url in [*((k, v[0]) for k, v in BREAKAGES.items()), ONLY_BAD, LIVE]
)


def snapshot(timestamp: str, original: str) -> str:
    return f"https://web.archive.org/web/{timestamp}/{original}"


def seed(box: Sandbox) -> dict[str, dict[str, str]]:
    """The Wayback history of every reading; returns the breakage capture each old ledger
    recorded (SPN2 files a capture under the address it was redirected to)."""
    machine = box.wayback
    bad: dict[str, dict[str, str]] = {}
    for rid, (url, (status, body, led), _) in BREAKAGES.items():
        good = watch_page("OK") if "youtube" in url else article(f"Reading {rid}")
        machine.seed(url, GOOD_TS, body=good)
        machine.seed(url, BAD_TS, statuscode=status, body=body, location=led)
        if led is not None:
            landing = PARKED if "parked" in led else page("Blog", "<main><h1>Blog</h1></main>")
            machine.seed(led, BAD_TS, body=landing)
        original = led or url
        bad[rid] = {"timestamp": BAD_TS, "url": snapshot(BAD_TS, original), "original": original}
    machine.seed(ONLY_BAD[1], BAD_TS, body=NOT_FOUND)
    return bad


def prime(snapshots: Path, readings: Path, bad: dict[str, dict[str, str]]) -> None:
    """The ledger an earlier linkkeeper left: it had submitted each reading and recorded the
    capture of the breakage as the latest (the issue's finding)."""
    by_id = load(readings).by_id()
    with Ledger(snapshots) as ledger:
        for rid, capture in bad.items():
            record = ledger.record_for(by_id[rid])
            record.section("captures").update(
                url=by_id[rid].url, latest=capture, ours=[capture | {"job_id": "spn2-" + "0" * 40}]
            )
            ledger.save(record)


@pytest.fixture
def project(tmp_path: Path, clean_sandbox: Sandbox) -> dict[str, Any]:
    readings = tmp_path / "readings.yaml"
    readings.write_text(CURRICULUM, encoding="utf-8")
    bad = seed(clean_sandbox)
    prime(tmp_path / "snapshots", readings, bad)
    config = clean_sandbox.wayback.config
    keys = Keys(config.access_key, config.secret_key, "sandbox")
    curriculum = load(readings)
    results, replays, saves = [], [], []
    for night in NIGHTS:
        clean_sandbox.requests.clear()
        options = nightly.NightlyOptions(
            check=CheckOptions(
                readings=readings,
                snapshots=tmp_path / "snapshots",
                remap=tuple(clean_sandbox.remap_rules()),
                allow_private=True,
                host_interval=0.0,
                fail_on="never",
                hosts={"arxiv.org": HostOverride(interval=0.0)},
            ),
            site=tmp_path / "site",
            markdown=tmp_path / "READINGS.md",
            issue=False,
            ia_keys=keys,
            archive={"cdx_interval": 0.0, "poll_interval": 0.0, "captures_per_minute": 600.0},
        )
        results.append(nightly.run(options, curriculum, clock=lambda n=night: n, say=print))
        replays.append([r.path for r in clean_sandbox.requests.matching(WEB, "/web/")])
        saves.append([r.body for r in clean_sandbox.requests.matching(WEB, "/save", "POST")])
    return {"root": tmp_path, "readings": readings, "bad": bad, "results": results,
            "replays": replays, "saves": saves,
            "remap": [f"--remap={rule}" for rule in clean_sandbox.remap_rules()]}  # fmt: skip


def cli_run(project: dict[str, Any], *args: str) -> Result:
    root = project["root"]
    options = ["--readings", str(project["readings"]), "--snapshots", str(root / "snapshots")]
    return CliRunner().invoke(cli, [*args, *options], catch_exceptions=False)


def test_every_view_offers_the_capture_from_before_the_break(project: dict[str, Any]) -> None:
    site = BeautifulSoup((project["root"] / "site" / "index.html").read_text(), "html.parser")
    markdown = (project["root"] / "READINGS.md").read_text(encoding="utf-8")
    issue = project["results"][-1].issue_body
    post = cli_run(project, "week", "1").stdout
    for rid, (url, _, rejected_for) in BREAKAGES.items():
        good = snapshot(GOOD_TS, url)
        bad_ts = project["bad"][rid]["timestamp"]
        assert site.select_one(f"#t-{rid} a")["href"] == good, rid
        assert f"({good})" in markdown and good in post and good in issue, rid
        opened = cli_run(project, "open", rid)
        assert opened.stdout == good + "\n", rid
        assert "last good copy before it broke, 2021-05-01" in opened.stderr
        assert f"not offered: the capture of 2026-01-15 ({rejected_for}" in opened.stderr or (
            rejected_for in opened.stderr
        ), opened.stderr
        shown = cli_run(project, "show", rid).stdout
        assert f"Archived copy offered: {good} (last good copy before it broke)" in shown, rid
        assert f"bad       {bad_ts}" in shown and rejected_for in shown, shown
    for text in (str(site), markdown, post, issue):
        assert f"/web/{BAD_TS}/" not in text  # no view ever links a capture of the breakage


def test_a_reading_with_only_bad_captures_says_so_everywhere(project: dict[str, Any]) -> None:
    rid, url = ONLY_BAD
    site = BeautifulSoup((project["root"] / "site" / "index.html").read_text(), "html.parser")
    assert site.select_one(f"#t-{rid} a")["href"] == url
    assert "no good archived copy: find a new source" in site.select_one(f"#r-{rid}").get_text()
    line = next(x for x in (project["root"] / "READINGS.md").read_text().splitlines() if url in x)
    assert "no good archived copy: find a new source" in line and "web.archive.org" not in line
    post = next(x for x in cli_run(project, "week", "1").stdout.splitlines() if url in x)
    assert "no good archived copy: find a new source" in post
    issue = next(x for x in project["results"][-1].issue_body.splitlines() if f"`{rid}`" in x)
    assert "no good archived copy: find a new source" in issue and "web.archive.org" not in issue
    opened = cli_run(project, "open", rid)
    assert opened.stdout == url + "\n"
    assert "no good archived copy: find a new source" in opened.stderr
    assert "soft 404" in opened.stderr  # which capture was not offered, and why
    shown = cli_run(project, "show", rid).stdout
    assert "Archived copy offered: none (no good archived copy: find a new source)" in shown
    report = cli_run(
        project, "check", "--format", "text", "--allow-private", "--fail-on", "never",
        *project["remap"],
    )  # fmt: skip
    block = report.stdout.split(f"  {rid} ", 1)[1].split("\n  ", 2)[:2]
    assert "no good archived copy: find a new source" in " ".join(block)


def test_broken_readings_are_never_submitted_and_say_why(project: dict[str, Any]) -> None:
    submitted = [body.decode() for night in project["saves"] for body in night]
    assert submitted, "the live reading is captured: the archive stage did submit"
    live = [b for b in submitted if "post%2Flive" in b]
    assert live and len(live) == len(submitted)  # nothing else, on any night
    for rid in [*BREAKAGES, ONLY_BAD[0]]:
        data = json.loads((project["root"] / "snapshots" / f"{rid}.json").read_text())
        assert data["archive"]["state"] == "broken"
        assert data["archive"]["reason"].startswith(
            "not captured: the page is gone since 2026-03-01"
        )
        if rid == ONLY_BAD[0]:
            assert data["archive"]["reason"].endswith("no good archived copy: find a new source")
        else:
            assert (
                f"the newest good capture is 2021-05-01 ({snapshot(GOOD_TS, BREAKAGES[rid][0])})"
                in (data["archive"]["reason"])
            )


def test_each_capture_is_read_once_and_remembered(project: dict[str, Any]) -> None:
    first, *later = project["replays"]
    for rid, (url, _, _) in BREAKAGES.items():
        assert f"/web/{GOOD_TS}id_/{url}" in first, rid
        assert sum(p.startswith(f"/web/{BAD_TS}id_/") for p in first) >= 1
    assert later == [[], []], later  # nights 2 and 3 read no capture again
    data = json.loads((project["root"] / "snapshots" / "to-root.json").read_text())
    verdicts = data["captures"]["verdicts"]
    assert verdicts[GOOD_TS]["verdict"] == "good"
    assert verdicts[BAD_TS]["verdict"] == "bad"
    assert "deep link redirected to the site root" in verdicts[BAD_TS]["reason"]


# -- the sandbox archive captures what the sandbox web serves -------------------------------
@pytest.mark.asyncio
async def test_sandbox_spn2_captures_the_web_as_it_is(clean_sandbox: Sandbox) -> None:
    config = clean_sandbox.wayback.config
    settings = WaybackSettings(poll_interval=0.01, poll_deadline=5.0, cdx_interval=0.0)
    async with make_client(Remapper.parse(clean_sandbox.remap_rules()), allow_private=True) as http:
        client = WaybackClient(
            http, Keys(config.access_key, config.secret_key, "sandbox"), settings=settings
        )
        missing = await client.save("https://blog.example/missing")
        assert missing.outcome is Outcome.PERMANENT and missing.status_ext == "error:not-found"
        bounced = await client.save("https://blog.example/deep/link/to/article")
        assert bounced.outcome is Outcome.CAPTURED and bounced.capture is not None
        assert bounced.capture.original == "https://blog.example/"  # filed where it led
        replay = await client.replay(
            bounced.capture.timestamp, "https://blog.example/deep/link/to/article"
        )
        assert replay.redirects == [(302, "https://blog.example/")] and replay.status == 200
        live = await client.save("https://blog.example/post/live")
        assert live.capture is not None
        copy = await client.replay(live.capture.timestamp, "https://blog.example/post/live")
        served = clean_sandbox.requests.matching("blog.example", "/post/live")
        assert served and b"<article>" in copy.body  # the real page, not a stub


def test_a_reading_that_comes_back_is_captured_again(
    tmp_path: Path, clean_sandbox: Sandbox
) -> None:
    from linkkeeper.core.models import CheckResult, Verdict

    rid, url = LIVE
    readings = tmp_path / "readings.yaml"
    readings.write_text(
        f"weeks:\n  - week: 1\n    readings:\n      - id: {rid}\n        url: {url}\n",
        encoding="utf-8",
    )
    reading = load(readings).by_id()[rid]
    now = datetime.now(UTC)
    # captured three days ago while it was broken: inside the 30-day window, but bad
    clean_sandbox.wayback.seed(url, now - timedelta(days=3), body=NOT_FOUND)
    snapshots = tmp_path / "snapshots"
    then = now - timedelta(days=3)
    with Ledger(snapshots) as ledger:
        ledger.add_check(reading, CheckResult(rid, url, Verdict.BROKEN, "soft 404",
                                              http_status=200, checked_at=then))  # fmt: skip
    config = clean_sandbox.wayback.config
    env = {"IA_ACCESS_KEY": config.access_key, "IA_SECRET_KEY": config.secret_key}
    remaps = [part for rule in clean_sandbox.remap_rules() for part in ("--remap", rule)]
    args = ["archive", "--allow-private", "--cdx-interval", "0", "--poll-interval", "0.01",
            "--readings", str(readings), "--snapshots", str(snapshots), "--format", "json",
            *remaps]  # fmt: skip
    held = json.loads(CliRunner().invoke(cli, args, env=env).stdout)["readings"][0]
    assert held["state"] == "broken" and held["capture"] is None
    (after,) = held["rejected"]  # made when the page had broken: kept, with the reason
    assert "after the page broke" in after["reason"]
    assert not clean_sandbox.requests.matching(WEB, "/save", "POST")
    with Ledger(snapshots) as ledger:  # the next check finds the page again
        ledger.add_check(reading, CheckResult(rid, url, Verdict.OK, "HTTP 200 OK",
                                              http_status=200, checked_at=now))  # fmt: skip
    back = json.loads(CliRunner().invoke(cli, args, env=env).stdout)["readings"][0]
    assert back["state"] == "captured", back  # the bad capture does not count as recent
    assert len(clean_sandbox.requests.matching(WEB, "/save", "POST")) == 1
    assert back["capture"]["url"].startswith("https://web.archive.org/web/")


def test_drift_and_unreplayable_captures_are_not_offered(
    tmp_path: Path, clean_sandbox: Sandbox
) -> None:
    """A capture before the break whose text is not the reading's (drift similarity under
    0.6 against the baseline) is rejected; a capture the archive answers with another one (not
    replayable yet) is unreadable, retried later, not judged on the other one's bytes."""
    import httpx

    from linkkeeper.core.models import CheckResult, Verdict

    rid, url = LIVE
    readings = tmp_path / "readings.yaml"
    readings.write_text(
        f"weeks:\n  - week: 1\n    readings:\n      - id: {rid}\n        url: {url}\n",
        encoding="utf-8",
    )
    snapshots = tmp_path / "snapshots"
    remaps = [part for rule in clean_sandbox.remap_rules() for part in ("--remap", rule)]
    base = ["--allow-private", "--readings", str(readings), "--snapshots", str(snapshots)]
    checked = CliRunner().invoke(cli, ["check", *base, "--host-interval", "0", *remaps])
    assert checked.exit_code == 0, checked.output  # the live text is the drift baseline
    live = httpx.get(f"{clean_sandbox.origin('blog.example')}/post/live", timeout=5).text
    now = datetime.now(UTC)
    machine = clean_sandbox.wayback
    machine.seed(url, now - timedelta(days=400), body=live)
    machine.seed(url, now - timedelta(days=10), body=article("Something else entirely"))
    reading = load(readings).by_id()[rid]
    missing = now - timedelta(days=5)  # recorded by SPN2, not in the archive yet
    stamp = missing.strftime("%Y%m%d%H%M%S")
    with Ledger(snapshots) as ledger:
        ledger.add_check(reading, CheckResult(rid, url, Verdict.BROKEN, "HTTP 404 Not Found",
                                              http_status=404, checked_at=now))  # fmt: skip
        record = ledger.get(rid)
        assert record is not None
        fresh = {"timestamp": stamp, "url": snapshot(stamp, url), "original": url}
        record.section("captures").update(url=url, latest=fresh, ours=[fresh])
        ledger.save(record)
    args = ["archive", *base, "--cdx-interval", "0", "--format", "json", *remaps]
    result = json.loads(CliRunner().invoke(cli, args).stdout)["readings"][0]
    verdicts = json.loads((snapshots / f"{rid}.json").read_text())["captures"]["verdicts"]
    assert verdicts[stamp]["verdict"] == "unreadable" and verdicts[stamp]["attempts"] == 1
    assert "serves another capture" in verdicts[stamp]["reason"]
    drifted = (now - timedelta(days=10)).strftime("%Y%m%d%H%M%S")
    assert verdicts[drifted]["verdict"] == "bad"
    assert "unlike the reading's (drift similarity" in verdicts[drifted]["reason"]
    good = (now - timedelta(days=400)).strftime("%Y%m%d%H%M%S")
    assert verdicts[good]["verdict"] == "good" and verdicts[good]["similarity"] >= 0.6
    assert result["capture"]["timestamp"] == good


def test_a_verdict_keeps_no_terminal_escapes_from_the_captured_page() -> None:
    from linkkeeper.archive.capture_check import BAD, record_verdict

    section: dict[str, Any] = {}
    capture = {"timestamp": BAD_TS, "url": snapshot(BAD_TS, LIVE[1]), "original": LIVE[1]}
    record_verdict(
        section, capture, BAD, "soft 404: '\x1b[2JPage not found\x07' in the title", NIGHTS[0]
    )
    stored = section["verdicts"][BAD_TS]
    assert stored["reason"] == "soft 404: 'Page not found' in the title"
    assert stored["verdict"] == BAD and stored["read_at"] == "2026-03-01T03:17:00Z"
