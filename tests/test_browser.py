"""The published page in a real browser: Debian's headless Chromium driven by Playwright.

The site is built from the group's readings.yaml and a sandbox-like ledger, then loaded from
``file://`` and from a loopback HTTP server. Playwright never downloads a browser here: the
executable is ``$LINKKEEPER_CHROMIUM`` or Debian's ``chromium``. Without one, the tests skip
on a workstation but fail in CI (``CI`` set), where a missing browser is a broken setup.
Set ``LINKKEEPER_UPDATE_SCREENSHOT=1`` to rewrite ``docs/screenshot.png`` (the README image).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from _site_fixture import SANDBOX_PLANS, capture_for, sandbox_plans, write_ledger
from click.testing import CliRunner

from linkkeeper.cli import cli
from linkkeeper.curriculum.readings import Curriculum, load

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
WIDTHS = {"phone": 375, "desktop": 1280}
AA_TEXT = 4.5


def chromium_executable() -> str | None:
    configured = os.environ.get("LINKKEEPER_CHROMIUM")
    if configured:
        return configured
    debian = Path("/usr/bin/chromium")
    if debian.exists():
        return str(debian)
    # GitHub's Ubuntu runners ship Google Chrome instead of a Debian chromium.
    return shutil.which("chromium") or shutil.which("google-chrome")


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the browser tests (.ci/run installs chromium)")
    pytest.skip(reason)


@dataclass
class Site:
    curriculum: Curriculum
    index: Path

    @property
    def file_url(self) -> str:
        return self.index.as_uri()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    root = tmp_path_factory.mktemp("browser-site")
    curriculum = load(REPO / "readings.yaml")
    write_ledger(root / "snapshots", curriculum.readings(), sandbox_plans(curriculum.readings()))
    args = ["publish", "--readings", str(REPO / "readings.yaml")]
    args += ["--snapshots", str(root / "snapshots"), "--output", str(root / "site")]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return Site(curriculum, root / "site" / "index.html")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_executable()
    if executable is None or not Path(executable).exists():
        unavailable("no Chromium executable (apt-get install chromium, or set LINKKEEPER_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture(scope="module")
def http_url(site: Site) -> Iterator[str]:
    """The site served by a loopback HTTP server, as GitHub Pages would serve it."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(site.index.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def open_page(browser: Any, url: str, width: int, scheme: str = "light") -> tuple[Any, Any]:
    """A page at ``url``; the returned dict collects console errors and every request."""
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
    page = context.new_page()
    seen: dict[str, list[str]] = {"errors": [], "requests": []}
    page.on("console", lambda m: m.type == "error" and seen["errors"].append(m.text))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.goto(url, wait_until="load")
    return page, seen


def contrast(fg: str, bg: str) -> float:
    def luminance(color: str) -> float:
        r, g, b = (int(v) / 255 for v in re.findall(r"[\d.]+", color)[:3])
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    light, dark = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


COLORS_JS = """(selector) => [...document.querySelectorAll(selector)].map(el => {
  let bg = el; let color = getComputedStyle(bg).backgroundColor;
  while (bg && (color === 'rgba(0, 0, 0, 0)' || color === 'transparent')) {
    bg = bg.parentElement; color = bg ? getComputedStyle(bg).backgroundColor : 'rgb(255, 255, 255)';
  }
  return [el.textContent.trim().slice(0, 40), getComputedStyle(el).color, color];
})"""


@pytest.mark.parametrize("how", ["file", "http"])
@pytest.mark.parametrize("form", list(WIDTHS))
def test_site_renders_in_chromium(
    browser: Any, site: Site, http_url: str, how: str, form: str
) -> None:
    url = site.file_url if how == "file" else http_url
    page, seen = open_page(browser, url, WIDTHS[form])
    try:
        assert seen["errors"] == []
        page_url = page.url
        assert set(seen["requests"]) == {page_url}, "the page must load nothing else"
        for week in site.curriculum.weeks:
            heading = page.locator(f"#week-{week.number} h2")
            assert heading.is_visible(), f"week {week.number} is not shown"
            assert heading.inner_text().startswith(f"Week {week.number}")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{overflow}px of horizontal scrolling at {WIDTHS[form]}px"
        if how == "file":  # the same bytes over HTTP: one set of pictures is enough
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{form}.png"), full_page=True)
        if form == "desktop" and how == "file" and os.environ.get("LINKKEEPER_UPDATE_SCREENSHOT"):
            page.screenshot(path=str(REPO / "docs" / "screenshot.png"))
    finally:
        page.context.close()


def test_dead_reading_links_its_archived_copy(browser: Any, site: Site) -> None:
    by_id = site.curriculum.by_id()
    dead = [rid for rid, plan in SANDBOX_PLANS.items() if plan.state == "dead" and rid in by_id]
    assert dead, "readings.yaml no longer has any reading the sandbox ledger marks dead"
    page, _ = open_page(browser, site.file_url, WIDTHS["desktop"])
    try:
        for rid in dead:
            reading = by_id[rid]
            link = page.locator(f"#t-{rid} a")
            if SANDBOX_PLANS[rid].capture == "latest":  # captured only after it broke
                assert link.get_attribute("href") == reading.url  # that capture is never offered
                assert "no good archived copy" in page.locator(f"#r-{rid} .fallback").inner_text()
                continue
            capture = capture_for(reading, SANDBOX_PLANS[rid].capture or "assigned")
            assert link.get_attribute("href") == capture["url"]
            assert link.get_attribute("data-originalurl") == reading.url
            assert link.get_attribute("data-versionurl") == capture["url"]
            stamp = capture["timestamp"]
            day = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}"
            assert link.get_attribute("data-versiondate") == day
            assert "archived copy" in link.inner_text()
            assert "The original link is dead." in page.locator(f"#r-{rid} .fallback").inner_text()
        blocked = page.locator("#t-ai-is-learning-how-to-create-itself a")
        if blocked.count():
            assert blocked.get_attribute("href") == by_id["ai-is-learning-how-to-create-itself"].url
    finally:
        page.context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_contrast_meets_wcag_aa(browser: Any, site: Site, scheme: str) -> None:
    page, _ = open_page(browser, site.file_url, WIDTHS["desktop"], scheme)
    try:
        body = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert (contrast(body, "rgb(0, 0, 0)") > 10) == (scheme == "light")  # dark mode is dark
        page.locator("details").first.evaluate("d => d.open = true")
        checked = 0
        for selector in (".badge", ".meta", ".aside", ".fallback", "a", "h1", "h2", "p", "dt"):
            for text, fg, bg in page.evaluate(COLORS_JS, selector):
                ratio = contrast(fg, bg)
                assert ratio >= AA_TEXT, f"{selector} {text!r}: {fg} on {bg} is {ratio:.2f}:1"
                checked += 1
        assert checked > 50
    finally:
        page.context.close()


def test_keyboard_focus_is_visible(browser: Any, site: Site) -> None:
    page, _ = open_page(browser, site.file_url, WIDTHS["phone"])
    try:
        page.keyboard.press("Tab")
        first = page.evaluate("document.activeElement.textContent")
        assert first == "Skip to the readings"
        assert page.evaluate("document.activeElement.getBoundingClientRect().left") >= 0
        page.keyboard.press("Tab")
        style = page.evaluate(
            "(() => { const s = getComputedStyle(document.activeElement);"
            " return [s.outlineStyle, s.outlineWidth]; })()"
        )
        assert style == ["solid", "3px"]
    finally:
        page.context.close()


def test_recent_nights_are_squares_with_dates_on_every_width(
    browser: Any, site: Site, tmp_path: Path
) -> None:
    """The row of nights: one square per night (at most 60), its date in the square's
    ``<title>`` (the browser's hover text), an accessible name, inside the card on a phone."""
    from datetime import UTC, datetime, timedelta

    from linkkeeper.core.models import CheckResult, Reading, Verdict
    from linkkeeper.ledger.store import Ledger

    page, seen = open_page(browser, site.file_url, WIDTHS["phone"])
    try:
        assert seen["errors"] == []
        cells = page.locator("#r-taxonomy-of-nns svg.strip g")
        assert cells.count() == 4  # one ok night, then three broken ones
        labels = [cells.nth(i).locator("title").text_content() for i in range(4)]
        assert labels[0] == "27 Feb 2026: ok" and labels[-1].startswith("2 Mar 2026: broken")
        strip = page.locator("#r-taxonomy-of-nns svg.strip")
        name = page.locator(f"#{strip.get_attribute('aria-labelledby')}").text_content()
        assert name.endswith("4 nights: 1 ok, 3 broken")
        assert "4 nights: 1 ok, 3 broken" in page.locator("#r-taxonomy-of-nns .nights").inner_text()
        cells.nth(3).hover()  # hovering shows the native tooltip: no script involved
        assert page.evaluate("document.scripts.length") == 0
    finally:
        page.context.close()

    # a reading with 90 nights of history: the newest 60 squares, never wider than the card
    readings = tmp_path / "readings.yaml"
    readings.write_text(
        "weeks:\n- week: 1\n  readings:\n  - id: flaky\n    title: Flaky site\n"
        "    url: https://example.org/flaky\n",
        encoding="utf-8",
    )
    reading = Reading("flaky", "Flaky site", "https://example.org/flaky")
    start = datetime(2026, 1, 1, 3, 17, tzinfo=UTC)
    with Ledger(tmp_path / "snapshots") as ledger:
        for night in range(90):
            verdict = Verdict.TRANSIENT if night % 5 == 0 else Verdict.OK
            at = start + timedelta(days=night)
            ledger.add_check(
                reading, CheckResult("flaky", reading.url, verdict, "x", checked_at=at)
            )
    args = [
        "publish",
        "--readings",
        str(readings),
        "--snapshots",
        str(tmp_path / "snapshots"),
        "--output",
        str(tmp_path / "site"),
    ]
    assert CliRunner().invoke(cli, args).exit_code == 0
    for width in WIDTHS.values():
        page, seen = open_page(browser, (tmp_path / "site" / "index.html").as_uri(), width)
        try:
            assert seen["errors"] == []
            cells = page.locator("#r-flaky svg.strip g")
            assert cells.count() == 60
            assert cells.last.locator("title").text_content() == "31 Mar 2026: ok (unchanged)"
            strip = page.locator("#r-flaky svg.strip").bounding_box()
            card = page.locator("#r-flaky article").bounding_box()
            assert strip["x"] + strip["width"] <= card["x"] + card["width"]
            assert strip["width"] / 60 >= 4.5, "squares too small to see"
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0
        finally:
            page.context.close()
