"""``linkkeeper nightly`` end to end on the sandbox: web, Wayback and GitHub over loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from linkkeeper import nightly
from linkkeeper.archive.iakeys import Keys
from linkkeeper.check.command import CheckOptions
from linkkeeper.cli import cli
from linkkeeper.core.config import HostOverride
from linkkeeper.curriculum.readings import load
from linkkeeper.outputs.summary import commit_message
from linkkeeper.sandbox import Sandbox
from linkkeeper.sandbox.github import HOST, REPO, TOKEN, GitHubAPI

CURRICULUM = """\
title: Nightly test list
weeks:
  - week: 1
    readings:
      - id: more-technical-explainer
        title: more-technical explainer
        url: https://jalammar.github.io/illustrated-transformer/
      - id: less-technical-explainer
        title: less-technical explainer
        url: https://thenextweb.com/news/understanding-transformers-the-machine-learning-model-behind-gpt-3-machine-learning-ai-syndication
      - id: 2d-convolution-tutorial
        title: 2d convolution tutorial
        url: https://towardsdatascience.com/intuitively-understanding-convolutions-for-deep-learning-1f6f42faee1
  - week: 2
    readings:
      - id: google-colab
        title: Google Colab
"""
CONFIG = '[tool.linkkeeper.hosts."arxiv.org"]\ninterval = 0.0\n'


@pytest.fixture(scope="module")
def github_served() -> Iterator[tuple[GitHubAPI, Sandbox]]:
    api = GitHubAPI()
    with Sandbox(api.hosts()) as box:
        yield api, box


@pytest.fixture
def github(github_served: tuple[GitHubAPI, Sandbox]) -> tuple[GitHubAPI, Sandbox]:
    api, box = github_served
    api.reset()
    box.requests.clear()
    return api, box


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "readings.yaml").write_text(CURRICULUM, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


def invoke(work: Path, web: Sandbox, github: Sandbox, *extra: str, token: str | None = TOKEN
           ) -> Result:  # fmt: skip
    args = ["--config", str(work / "pyproject.toml"), "nightly",
            "--readings", str(work / "readings.yaml"), "--snapshots", str(work / "snapshots"),
            "--site", str(work / "site"), "--markdown", str(work / "READINGS.md"),
            "--allow-private", "--host-interval", "0",
            "--issue-file", str(work / "issue.md"),
            "--commit-message-file", str(work / "commit.txt"),
            "--cdx-interval", "0", "--poll-interval", "0", *extra]  # fmt: skip
    for rule in web.remap_rules():
        args += ["--remap", rule]
    env = {
        "GITHUB_TOKEN": token,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": github.origin(HOST),
        "GITHUB_STEP_SUMMARY": str(work / "summary.md"),
        "IA_ACCESS_KEY": None,
        "IA_SECRET_KEY": None,
        "IA_CONFIG_FILE": str(work / "no-ia.ini"),
        "HOME": str(work),
    }
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def test_a_night_reports_failing_and_blocked_without_failing(
    clean_sandbox: Sandbox, github: tuple[GitHubAPI, Sandbox], work: Path
) -> None:
    api, box = github
    (work / "summary.md").write_text("earlier step\n", encoding="utf-8")
    result = invoke(work, clean_sandbox, box)
    assert result.exit_code == 0, result.output
    assert "less-technical-explainer" in result.stdout  # the report
    issues = api.issues()
    assert len(issues) == 1 and issues[0].labels == ["linkkeeper"]
    assert issues[0].body == (work / "issue.md").read_text(encoding="utf-8")
    assert "### Failing (1)" in issues[0].body and "`2d-convolution-tutorial`" in issues[0].body
    summary = (work / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("earlier step\n# linkkeeper nightly")  # appended, not replaced
    assert "The night passes" in summary and "issue #1 opened" in summary
    assert "without Internet Archive keys only existing captures were looked up" in summary
    assert (work / "commit.txt").read_text() == "linkkeeper: 1 failing, 1 blocked\n"
    assert (work / "site" / "index.html").is_file() and (work / "READINGS.md").is_file()
    assert (work / "snapshots" / "less-technical-explainer.json").is_file()

    # the next run within --max-age reuses the fresh success and leaves the issue alone
    box.requests.clear()
    again = invoke(work, clean_sandbox, box)
    assert again.exit_code == 0, again.output
    assert "1 fresh" in again.stderr
    assert [r.method for r in box.requests.for_host(HOST)] == ["GET"]
    assert len(api.issues()) == 1


def test_dead_fails_the_night_only_per_fail_on(
    clean_sandbox: Sandbox, github: tuple[GitHubAPI, Sandbox], work: Path
) -> None:
    _, box = github
    curriculum = load(work / "readings.yaml")
    wayback = clean_sandbox.wayback.config
    keys = Keys(wayback.access_key, wayback.secret_key, "sandbox")
    codes, messages = [], []
    for night, fail_on in enumerate(["dead", "dead", "dead", "never"]):
        options = nightly.NightlyOptions(
            check=CheckOptions(
                readings=work / "readings.yaml",
                snapshots=work / "snapshots",
                remap=tuple(clean_sandbox.remap_rules()),
                allow_private=True,
                host_interval=0.0,
                fail_on=fail_on,
                hosts={"arxiv.org": HostOverride(interval=0.0)},
            ),
            site=work / "site",
            markdown=None,
            issue=False,
            ia_keys=keys,
            archive={"cdx_interval": 0.0, "poll_interval": 0.0, "captures_per_minute": 600.0},
        )
        start = datetime(2026, 3, 1, 3, 17, tzinfo=UTC) + timedelta(days=night)
        result = nightly.run(options, curriculum, clock=lambda s=start: s, say=lambda _: None)
        codes.append(result.exit_code)
        messages.append(commit_message(result.night))
    assert codes == [0, 0, 1, 0]
    # the thenextweb link bounces to the home page: broken, so never submitted to the archive
    assert messages[0] == "linkkeeper: 1 failing, 1 blocked, 2 newly archived\n"
    assert messages[2] == "linkkeeper: 1 dead, 1 blocked\n"  # archived already: no new ones
    assert "### Dead (1)" in result.issue_body
    assert [s.status for s in result.night.stages if s.name == "rolling issue"] == ["skipped"]
    assert len(box.requests) == 0  # --no-issue: GitHub is never asked


def test_without_a_token_the_issue_is_skipped_with_a_message(
    clean_sandbox: Sandbox, github: tuple[GitHubAPI, Sandbox], work: Path
) -> None:
    api, box = github
    result = invoke(work, clean_sandbox, box, token=None)
    assert result.exit_code == 0, result.output
    assert "no GITHUB_TOKEN" in result.stderr and api.issues() == []
    assert (work / "issue.md").is_file()  # the text is still written for a person to read


def test_a_refused_issue_update_fails_the_night_but_keeps_the_site(
    clean_sandbox: Sandbox, github: tuple[GitHubAPI, Sandbox], work: Path
) -> None:
    api, box = github
    api.fail_next(403, "Resource not accessible by integration")
    result = invoke(work, clean_sandbox, box, token="ghs_not-printed-123")
    assert result.exit_code == 1
    assert "issues: write" in result.stderr and "ghs_not-printed-123" not in result.output
    assert (work / "site" / "index.html").is_file()
    summary = (work / "summary.md").read_text(encoding="utf-8")
    assert "The night **fails** (rolling issue failed)" in summary


def test_bad_input_is_a_usage_error(
    clean_sandbox: Sandbox, github: tuple[GitHubAPI, Sandbox], work: Path
) -> None:
    _, box = github
    result = invoke(work, clean_sandbox, box, "--remap", "only-one-part")
    assert result.exit_code == 2 and "remap rule" in result.stderr
    assert not (work / "site").exists()


def closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_offline_night_says_it_learned_nothing_and_writes_nothing(
    clean_sandbox: Sandbox, github: tuple[GitHubAPI, Sandbox], work: Path
) -> None:
    """Every site (the archive too) refuses: exit 3, honest words everywhere, no records."""
    api, box = github
    nowhere = f"http://127.0.0.1:{closed_port()}"
    offline = ["--remap", rf"^https?://(?!127\.0\.0\.1)[^/]+ {nowhere}", "--format", "github"]
    result = invoke(work, clean_sandbox, box, *offline)
    assert result.exit_code == nightly.EXIT_INCONCLUSIVE, result.output
    assert result.stdout.startswith("::warning title=linkkeeper%3A nothing learned::")
    assert "The network seems down: no site answered" in result.stdout
    summary = (work / "summary.md").read_text(encoding="utf-8")
    assert "4 readings: nothing learned tonight; no reading's health changed" in summary
    assert "The night is **inconclusive** (exit code 3)" in summary
    assert "all healthy" not in summary and "The night passes" not in summary
    assert "> [!WARNING]" in summary
    assert "**archive** (skipped): not run" in summary
    assert "**metadata** (skipped): nothing refreshed" in summary
    assert "from the pages it fetched" not in summary
    commit = (work / "commit.txt").read_text()
    assert commit.startswith("linkkeeper: nothing learned tonight") and "healthy" not in commit
    assert not list((work / "snapshots").glob("[!.]*.json"))  # nothing for git to commit
    assert api.issues() == []  # the rolling issue is left alone
    assert "does not let robots" not in result.stdout


QUIET = """\
title: Quiet list
weeks:
  - week: 1
    readings:
      - id: live
        title: A live post
        url: https://blog.example/post/live
      - id: walled
        title: Behind a wall
        url: https://trouble.example/status/403
      - id: discuss
        title: Discuss in the group
"""


def test_quiet_nights_leave_the_ledger_and_readings_md_byte_for_byte(
    clean_sandbox: Sandbox, work: Path
) -> None:
    """Nothing changed on the web: the second and third nights write nothing, so the nightly
    has nothing to commit (without keys the live reading is looked up in the archive each
    night, finding nothing new)."""
    (work / "readings.yaml").write_text(QUIET, encoding="utf-8")
    curriculum = load(work / "readings.yaml")
    snapshots = []
    for night in range(3):
        options = nightly.NightlyOptions(
            check=CheckOptions(
                readings=work / "readings.yaml",
                snapshots=work / "snapshots",
                remap=tuple(clean_sandbox.remap_rules()),
                allow_private=True,
                host_interval=0.0,
                fail_on="never",
            ),
            site=work / "site",
            markdown=work / "READINGS.md",
            issue=False,
            archive={"cdx_interval": 0.0, "poll_interval": 0.0},
        )
        start = datetime(2026, 3, 1, 3, 17, tzinfo=UTC) + timedelta(days=night)
        result = nightly.run(options, curriculum, clock=lambda s=start: s, say=lambda _: None)
        assert result.exit_code == 0
        # what the workflow commits (site/ is deployed, not committed: its "checked" dates
        # and night strips do move, as they should)
        files = [*(work / "snapshots").glob("[!.]*.json"), work / "READINGS.md"]
        snapshots.append({str(p): p.read_bytes() for p in files})
    assert len(snapshots[0]) >= 4
    assert b"unchanged since 1 Mar 2026" in snapshots[2][str(work / "READINGS.md")]
    assert snapshots[1] == snapshots[0] and snapshots[2] == snapshots[0]
