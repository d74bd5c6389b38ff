"""publish / week / open on a small curriculum and a ledger written through the Ledger API."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import stat
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from _site_fixture import Plan, capture_for, write_ledger
from bs4 import BeautifulSoup, Tag
from click.testing import CliRunner, Result

from linkkeeper.cli import cli
from linkkeeper.core.models import Health, Reading
from linkkeeper.curriculum.readings import load
from linkkeeper.ledger.links import choose
from linkkeeper.ledger.store import Ledger
from linkkeeper.outputs.pages import DISCORD_LIMIT, split_messages

CURRICULUM = """\
title: Test circle
description: |-
  A reading group for curious people.
  We meet on Tuesdays.
weeks:
  - week: 1
    title: Basics & <tags>
    posted: 2021-10-12
    prompt: What did you learn?
    comments:
      - author: Venkat
        text: A <b>bold</b> claim
    readings:
      - id: alive-paper
        title: Alive paper
        url: https://example.org/alive
      - id: dead-article
        title: Dead article
        url: https://example.org/dead?a=1&b=2
      - id: untitled-page
        url: https://example.org/untitled
  - week: 2
    readings:
      - id: blocked-site
        title: Blocked site
        url: https://blocked.example/article
      - id: failing-site
        title: Failing site
        url: https://flaky.example/post
      - id: never-checked
        title: Never checked
        url: https://new.example/
      - id: dead-no-capture
        title: Dead and never archived
        url: https://gone.example/
      - id: a-task
        title: Draw a convolution by hand
        note: Pencil and paper
backlog:
  - id: changed-page
    title: Changed page
    url: https://drift.example/essay
  - group: Hands on
    readings:
      - id: install-pytorch
        title: Install PyTorch
"""
ELSEWHERE = "https://medium.com/data-science/dead-article-1f6f42faee1"  # its TDS Archive twin
PLANS = {
    "alive-paper": Plan("alive", metadata={"authors": ["Ada Lovelace", "Alan Turing"]}),
    "dead-article": Plan("dead", suggestion=ELSEWHERE),
    "untitled-page": Plan("alive", capture="latest", metadata={"title": "Fetched Title"}),
    "blocked-site": Plan("blocked", capture="latest"),
    "failing-site": Plan("failing"),
    "dead-no-capture": Plan("dead", capture=None),
    "changed-page": Plan("alive", changed="title changed; length halved"),
}
ROBUST = ("data-originalurl", "data-versionurl", "data-versiondate")


@dataclass
class Project:
    root: Path
    readings: Path
    snapshots: Path

    def run(self, *args: str, env: dict[str, str] | None = None) -> Result:
        options = ["--readings", str(self.readings), "--snapshots", str(self.snapshots)]
        return CliRunner().invoke(cli, [*args, *options], env=env, catch_exceptions=False)

    def reading(self, reading_id: str) -> Reading:
        return load(self.readings).by_id()[reading_id]

    def capture(self, reading_id: str, kind: str = "assigned") -> str:
        return capture_for(self.reading(reading_id), kind)["url"]


def make_project(root: Path, curriculum: str = CURRICULUM) -> Project:
    root.mkdir(parents=True, exist_ok=True)
    readings = root / "readings.yaml"
    readings.write_text(curriculum, encoding="utf-8")
    project = Project(root, readings, root / "snapshots")
    write_ledger(project.snapshots, load(readings).readings(), PLANS)
    return project


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return make_project(tmp_path_factory.mktemp("template"))


@pytest.fixture
def project(template: Project, tmp_path: Path) -> Project:
    """A fresh copy of the module's project (building a ledger fsyncs every record)."""
    root = tmp_path / "project"
    shutil.copytree(template.root, root)
    return Project(root, root / "readings.yaml", root / "snapshots")


@pytest.fixture
def site(project: Project) -> BeautifulSoup:
    result = project.run("publish", "--output", str(project.root / "site"))
    assert result.exit_code == 0, result.output
    html = (project.root / "site" / "index.html").read_text(encoding="utf-8")
    return BeautifulSoup(html, "html.parser")


def article(soup: BeautifulSoup, reading_id: str) -> Tag:
    found = soup.select_one(f"#r-{reading_id} article")
    assert found is not None, f"no article for {reading_id}"
    return found


def primary(soup: BeautifulSoup, reading_id: str) -> Tag:
    link = article(soup, reading_id).select_one("h3 a, h4 a")
    assert link is not None
    return link


# -- the page ----------------------------------------------------------------------------------
def test_page_lists_every_week_and_the_backlog(site: BeautifulSoup) -> None:
    headings = [h.get_text(" ", strip=True) for h in site.select("main section > h2")]
    assert headings == ["Week 1 : Basics & <tags>", "Week 2", "Backlog"]
    assert site.select_one("#week-1 .prompt").get_text(" ", strip=True) == (
        "Prompt: What did you learn?"
    )
    comment = site.select_one("#week-1 figure.comment")
    assert comment.select_one("blockquote").get_text(strip=True) == "A <b>bold</b> claim"
    assert comment.find("b") is None  # autoescaped, not injected
    assert site.select_one("#backlog h3.group").get_text(strip=True) == "Hands on"
    assert article(site, "install-pytorch").select_one("h4").get_text(strip=True) == (
        "Install PyTorch"
    )


def test_dead_reading_leads_with_its_capture_and_says_why(
    site: BeautifulSoup, project: Project
) -> None:
    original = "https://example.org/dead?a=1&b=2"
    capture = project.capture("dead-article")
    assert capture == f"https://web.archive.org/web/20211012093000/{original}"  # week 1's date
    link = primary(site, "dead-article")
    assert link["href"] == capture
    assert "archived copy" in link.get_text()
    assert {a: link[a] for a in ROBUST} == {
        "data-originalurl": original,
        "data-versionurl": capture,
        "data-versiondate": "2021-10-12",
    }
    box = article(site, "dead-article").select_one(".fallback")
    text = box.get_text(" ", strip=True)
    assert "The original link is dead." in text
    assert "HTTP 404 Not Found" in text and "as assigned" in text
    assert box.select_one("a.original")["href"] == original
    assert box.select_one("a.original")["data-versionurl"] == capture
    assert article(site, "dead-article").select_one(".badge").get_text() == "dead"
    assert article(site, "dead-article").select_one("a.live-elsewhere")["href"] == ELSEWHERE
    assert article(site, "alive-paper").select_one("a.live-elsewhere") is None


def test_a_moved_reading_offers_its_new_address_not_a_live_elsewhere(tmp_path: Path) -> None:
    one = "weeks:\n- week: 1\n  readings:\n  - id: moved-post\n    url: https://example.org/old\n"
    project = make_project(tmp_path / "moved", one)
    new = "https://example.org/new"
    write_ledger(project.snapshots, load(project.readings).readings(),
                 {"moved-post": Plan("moved", suggestion=new)})  # fmt: skip
    assert project.run("publish", "--output", str(tmp_path / "site")).exit_code == 0
    html = BeautifulSoup((tmp_path / "site" / "index.html").read_text("utf-8"), "html.parser")
    links = {a.get_text(): a["href"] for a in article(html, "moved-post").select(".aside a")}
    assert links["new address"] == new and "It has moved" in article(html, "moved-post").get_text()
    assert article(html, "moved-post").select_one("a.live-elsewhere") is None


def test_blocked_keeps_the_original_with_the_archive_beside(
    site: BeautifulSoup, project: Project
) -> None:
    link = primary(site, "blocked-site")
    assert link["href"] == "https://blocked.example/article"
    archived = article(site, "blocked-site").select_one("a.archived")
    assert archived["href"] == project.capture("blocked-site", "latest")
    assert archived["data-versiondate"] == "2026-03-02"
    assert "latest capture" in archived.parent.get_text()
    assert link["data-versionurl"] == archived["href"]


def test_alive_failing_unknown_and_unarchived_readings(
    site: BeautifulSoup, project: Project
) -> None:
    alive = article(site, "alive-paper")
    assert primary(site, "alive-paper")["href"] == "https://example.org/alive"
    assert alive.select_one("a.archived")["href"] == project.capture("alive-paper")
    assert "as assigned" in alive.select_one(".aside").get_text()
    assert "Ada Lovelace and Alan Turing" in alive.select_one(".meta").get_text()
    assert "checked 2 Mar 2026" in alive.select_one(".meta").get_text(" ", strip=True)

    assert primary(site, "failing-site")["href"] == project.capture("failing-site")
    assert "timed out" in article(site, "failing-site").select_one(".fallback").get_text()

    unknown = primary(site, "never-checked")
    assert unknown["href"] == "https://new.example/"
    assert not any(a in unknown.attrs for a in ROBUST)  # no capture, no Robust Links
    assert article(site, "never-checked").select_one(".badge").get_text() == "unknown"

    gone = article(site, "dead-no-capture")
    assert primary(site, "dead-no-capture")["href"] == "https://gone.example/"
    assert "no good archived copy: find a new source" in gone.select_one(".fallback").get_text()


def test_titles_plain_items_and_changed(site: BeautifulSoup) -> None:
    assert primary(site, "untitled-page").get_text(strip=True) == "Fetched Title"
    task = article(site, "a-task")
    assert task.find("a") is None and task.select_one(".badge") is None
    assert task.select_one(".note").get_text() == "Pencil and paper"
    badges = [b.get_text() for b in article(site, "changed-page").select(".badge")]
    assert badges == ["alive", "changed"]
    assert "title changed; length halved" in article(site, "changed-page").get_text()


def test_every_link_with_a_capture_carries_robust_links(site: BeautifulSoup) -> None:
    versioned = site.select("a[data-versionurl]")
    assert len(versioned) >= 10
    for link in versioned:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", link["data-versiondate"])
        assert link["data-versionurl"].startswith("https://web.archive.org/web/")
        assert link["data-versionurl"].endswith(link["data-originalurl"])
        assert link["href"] in (link["data-originalurl"], link["data-versionurl"])


def test_page_is_self_contained_and_structured(site: BeautifulSoup) -> None:
    assert site.html["lang"] == "en"
    assert site.select_one('meta[name="viewport"]')["content"].startswith("width=device-width")
    assert site.find("script") is None and site.find("link") is None
    assert not site.select("[src]")
    assert site.find("header") and site.find("main") and site.find("footer") and site.find("nav")
    levels = [int(h.name[1]) for h in site.find_all(re.compile(r"^h[1-6]$"))]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels)), levels
    assert "prefers-color-scheme:dark" in site.style.get_text()
    assert ":focus-visible" in site.style.get_text()


def test_reruns_are_byte_identical_and_now_sets_the_date(project: Project) -> None:
    out = project.root / "site"
    first = project.run("publish", "--output", str(out))
    assert "Wrote" in first.stdout
    page = (out / "index.html").read_bytes()
    second = project.run("publish", "--output", str(out))
    assert "Unchanged:" in second.stdout
    assert (out / "index.html").read_bytes() == page
    footer = BeautifulSoup(page, "html.parser").footer.time
    assert footer["datetime"] == "2026-03-02T04:30:00Z"  # the newest time in the ledger
    project.run("publish", "--output", str(out), "--now", "2026-04-01")
    assert "1 Apr 2026" in (out / "index.html").read_text(encoding="utf-8")
    bad = project.run("publish", "--output", str(out), "--now", "April")
    assert bad.exit_code == 2 and "--now 'April'" in bad.stderr


def test_corrupt_record_is_named_and_the_page_still_published(project: Project) -> None:
    (project.snapshots / "alive-paper.json").write_text("{oops", encoding="utf-8")
    result = project.run("publish", "--output", str(project.root / "site"))
    assert result.exit_code == 2
    assert "alive-paper.json:1:2" in result.stderr
    assert (project.snapshots / "alive-paper.json").read_text(encoding="utf-8") == "{oops"
    assert (project.root / "site" / "index.html").exists()  # the other readings are published


# -- READINGS.md -------------------------------------------------------------------------------
def test_markdown_list_has_archive_fallbacks(project: Project) -> None:
    target = project.root / "READINGS.md"
    result = project.run(
        "publish", "--output", str(project.root / "site"), "--markdown", str(target)
    )
    assert result.exit_code == 0, result.output
    md = target.read_text(encoding="utf-8")
    assert md.startswith("# Test circle\n")
    assert "## Week 1: Basics & \\<tags\\>" in md and "## Week 2\n" in md
    assert "## Backlog" in md and "### Hands on" in md
    dead = next(line for line in md.splitlines() if "Dead article" in line)
    assert dead.startswith(f"- **[Dead article]({project.capture('dead-article')})**")
    assert "❌ dead (HTTP 404 Not Found" in dead
    assert "[original](https://example.org/dead?a=1&b=2)" in dead
    assert dead.endswith(f" · [live elsewhere]({ELSEWHERE})")
    blocked = next(line for line in md.splitlines() if "Blocked site" in line)
    assert blocked.startswith("- **[Blocked site](https://blocked.example/article)**")
    assert f"[archived copy]({project.capture('blocked-site', 'latest')})" in blocked
    assert "- **Draw a convolution by hand**\\\n  Pencil and paper" in md
    assert "> A \\<b\\>bold\\</b\\> claim\n> — Venkat" in md
    assert "\n\n\n" not in md and md.endswith("linkkeeper.\n")


# -- linkkeeper week ---------------------------------------------------------------------------
def test_week_post_for_discord(project: Project) -> None:
    result = project.run("week", "1")
    assert result.exit_code == 0, result.output
    post = result.stdout
    assert len(post) <= DISCORD_LIMIT and "✂" not in post
    assert post.startswith("**📚 Week 1: Basics & \\<tags\\>**\nWhat did you learn?\n")
    assert "- **Alive paper**: <https://example.org/alive>" in post  # many links: no embeds
    dead = "the original is dead, here is the archived copy (as assigned, 12 Oct 2021)"
    capture = project.capture("dead-article")
    assert f"- **Dead article**: {dead}: <{capture}> · live elsewhere: <{ELSEWHERE}>\n" in post
    assert "> A \\<b\\>bold\\</b\\> claim\n> — Venkat" in post
    assert result.stderr == ""


def test_week_post_with_one_link_keeps_its_embed(project: Project) -> None:
    result = project.run("week", "2")
    assert "- **Blocked site**: <https://blocked.example/article> (if it will not open" in (
        result.stdout
    )
    one = (
        "weeks:\n- week: 1\n  readings:\n  - id: alive-paper\n    url: https://example.org/alive\n"
    )
    single = make_project(project.root / "single", one)
    post = single.run("week", "1").stdout
    assert "https://example.org/alive" in post and "<https://" not in post


def test_long_week_is_split_into_messages_under_the_limit(tmp_path: Path) -> None:
    prompt = " ".join(["Discuss the reading in depth."] * 60)
    items = "".join(
        f"      - id: reading-{i}\n        title: Reading number {i} with a long title\n"
        f"        url: https://example.org/{'x' * 120}/{i}\n"
        f"        note: {'Why it matters. ' * 8}\n"
        for i in range(12)
    )
    week = f"weeks:\n  - week: 5\n    prompt: {prompt}\n    readings:\n{items}"
    project = make_project(tmp_path, week)
    result = project.run("week", "5")
    assert result.exit_code == 0
    cut = "\n\n✂ " + "-" * 20 + " next message " + "-" * 20 + "\n\n"
    messages = result.stdout.rstrip("\n").split(cut)
    assert len(messages) >= 3
    assert all(len(m) <= DISCORD_LIMIT for m in messages), [len(m) for m in messages]
    assert [m.rsplit("\n", 1)[1] for m in messages] == [
        f"({i}/{len(messages)})" for i in range(1, len(messages) + 1)
    ]
    assert all(f"Reading number {i} with" in result.stdout for i in range(12))
    assert "split into" in result.stderr and "2,000" in result.stderr


def test_split_messages_cuts_overlong_lines_and_words() -> None:
    text = "head\n\n" + "word " * 900 + "\n\n" + "y" * 4500
    messages = split_messages(text, limit=2000)
    assert all(len(m) <= 2000 for m in messages)
    joined = "".join(m.rsplit("\n", 1)[0] for m in messages)
    assert joined.count("word") == 900 and joined.count("y") == 4500
    assert split_messages("short") == ["short"]


def test_week_markdown_json_and_unknown_week(project: Project) -> None:
    md = project.run("week", "2", "--format", "markdown").stdout
    assert md.startswith("## Week 2\n")
    assert f"- **[Failing site]({project.capture('failing-site')})**" in md
    data = json.loads(project.run("week", "1", "--format", "json").stdout)
    assert data["week"] == 1 and data["posted"] == "2021-10-12"
    by_id = {r["id"]: r for r in data["readings"]}
    assert by_id["dead-article"]["best"] == project.capture("dead-article")
    assert by_id["dead-article"]["capture"]["date"] == "2021-10-12"
    assert by_id["dead-article"]["live_elsewhere"] == ELSEWHERE
    assert by_id["alive-paper"]["live_elsewhere"] is None
    assert by_id["alive-paper"]["archive_first"] is False
    assert all(len(m) <= DISCORD_LIMIT for m in data["discord_messages"])
    missing = project.run("week", "7")
    assert missing.exit_code == 2 and "weeks: 1, 2" in missing.stderr


# -- linkkeeper open ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reading_id", "expect", "stderr"),
    [
        ("alive-paper", "https://example.org/alive", ""),
        ("never-checked", "https://new.example/", ""),
        ("dead-article", "capture:assigned", f"live elsewhere: {ELSEWHERE}"),
        ("failing-site", "capture:assigned", "the original is failing"),
        ("untitled-page", "https://example.org/untitled", ""),
        ("blocked-site", "https://blocked.example/article", "blocks automated checks"),
        ("dead-no-capture", "https://gone.example/", "warning: the original is dead and no"),
    ],
)
def test_open_prints_the_best_working_link(
    project: Project, reading_id: str, expect: str, stderr: str
) -> None:
    result = project.run("open", reading_id)
    assert result.exit_code == 0, result.output
    if expect.startswith("capture:"):
        expect = project.capture(reading_id, expect.split(":")[1])
    assert result.stdout == expect + "\n"
    assert stderr in result.stderr and bool(stderr) == bool(result.stderr)


def test_open_falls_back_to_the_last_good_capture_before_the_break(project: Project) -> None:
    with Ledger(project.snapshots) as ledger:
        record = ledger.get("dead-article")
        assert record is not None
        record.section("captures")["assigned"] = None
        ledger.save(record)
    result = project.run("open", "dead-article")
    # the 2026-03-02 capture was made after the page broke (2026-02-28): never offered
    assert result.stdout == project.capture("dead-article") + "\n"
    assert "last good copy before it broke, 2021-10-12" in result.stderr


def test_open_unknown_id_and_task(project: Project) -> None:
    typo = project.run("open", "dead-artcle")
    assert typo.exit_code == 2 and "did you mean dead-article or" in typo.stderr
    by_title = project.run("open", "convolution")
    assert by_title.exit_code == 2 and "did you mean a-task?" in by_title.stderr
    nothing = project.run("open", "zzz")
    assert nothing.exit_code == 2 and "see `linkkeeper list`" in nothing.stderr
    task = project.run("open", "a-task")
    assert task.exit_code == 1 and "has no link" in task.stderr and task.stdout == ""


def test_open_in_the_browser(project: Project) -> None:
    log = project.root / "opened.txt"
    script = project.root / "browser.sh"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{log}"\n', encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    result = project.run("open", "dead-article", "--browser", env={"BROWSER": str(script)})
    assert result.exit_code == 0, result.output
    assert log.read_text(encoding="utf-8") == project.capture("dead-article") + "\n"


# -- the link rule on edge cases ---------------------------------------------------------------
def test_stale_record_and_unsafe_capture_are_ignored(project: Project) -> None:
    record = Ledger(project.snapshots).get("dead-article")
    assert record is not None
    edited = Reading("dead-article", "Dead article", "https://example.org/moved-elsewhere")
    choice = choose(edited, record)
    assert choice.stale and choice.state == Health.UNKNOWN and choice.capture is None
    assert choice.best == edited.url

    record.data["captures"]["url"] = "https://example.org/before-the-edit"  # archive.py's key
    assert choose(project.reading("dead-article"), record).capture is None
    record.data["captures"]["url"] = record.url
    record.data["captures"]["assigned"]["url"] = "javascript:alert(1)"
    choice = choose(project.reading("dead-article"), record)
    assert choice.capture_kind == "before-break"  # the unsafe entry is dropped, not linked
    assert choice.best == project.capture("dead-article")  # the copy as it was judged


def test_publish_without_a_ledger(tmp_path: Path) -> None:
    readings = tmp_path / "readings.yaml"
    readings.write_text(textwrap.dedent(CURRICULUM), encoding="utf-8")
    args = ["--readings", str(readings), "--snapshots", str(tmp_path / "none")]
    result = CliRunner().invoke(cli, ["publish", *args, "--output", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    assert "every link shows as unknown" in result.stderr
    soup = BeautifulSoup((tmp_path / "s" / "index.html").read_text(encoding="utf-8"), "html.parser")
    assert {b.get_text() for b in soup.select("article .badge")} == {"unknown"}
    assert soup.footer.time is None  # no check time known, and no wall-clock churn
    assert os.listdir(tmp_path / "s") == ["index.html"]
