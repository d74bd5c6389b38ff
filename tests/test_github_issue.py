"""The rolling issue against the sandbox GitHub API, over real sockets on loopback."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import date

import pytest

from linkkeeper.check.report import Outcome, Row
from linkkeeper.core.models import CheckResult, Health, Reading, Verdict
from linkkeeper.outputs.github import (
    API_VERSION,
    NO_REPO,
    NO_TOKEN,
    GitHubError,
    RollingIssue,
    update_rolling_issue,
)
from linkkeeper.outputs.summary import MARKER, closing_comment, is_healthy, issue_body
from linkkeeper.sandbox import Sandbox
from linkkeeper.sandbox.github import HOST, REPO, TOKEN, GitHubAPI


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[GitHubAPI, Sandbox]]:
    api = GitHubAPI()
    with Sandbox(api.hosts()) as box:
        yield api, box


@pytest.fixture
def github(served: tuple[GitHubAPI, Sandbox]) -> tuple[GitHubAPI, str, Sandbox]:
    api, box = served
    api.reset()
    box.requests.clear()
    return api, box.origin(HOST), box


def row(rid: str, verdict: Verdict, health: Health, **extra: str) -> Row:
    url = f"https://example.org/{rid}"
    reading = Reading(id=rid, title=rid.title(), url=url, week=3)
    result = CheckResult(rid, url, verdict, extra.pop("reason", "404 Not Found"), health=health,
                         suggestion=extra.pop("suggestion", None))  # fmt: skip
    return Row(reading, result, archive_url=extra.pop("archive_url", None))


OK = row("fine", Verdict.OK, Health.ALIVE, reason="200 OK")
WALLED = row("walled", Verdict.BLOCKED, Health.BLOCKED, reason="403 with a Cloudflare challenge")
SNAPSHOT = "https://web.archive.org/web/20220315101010/https://example.org/gone"
DEAD = row("gone", Verdict.BROKEN, Health.DEAD, archive_url=SNAPSHOT)
FAILING = row("shaky", Verdict.TRANSIENT, Health.FAILING, reason="timeout after 3 retries")
MOVED = row("moved", Verdict.MOVED, Health.ALIVE, reason="301 to a new home",
            suggestion="https://example.com/new-home")  # fmt: skip

NIGHTS = [
    Outcome([OK, DEAD, WALLED]),  # 1: something broken -> created
    Outcome([OK, DEAD, FAILING, MOVED, WALLED]),  # 2: different -> updated
    Outcome([OK, WALLED]),  # 3: all healthy -> closed with a comment
    Outcome([OK, FAILING, WALLED]),  # 4: broken again -> reopened
]


def night(n: int, api_url: str, token: str | None = TOKEN) -> tuple[str, str]:
    outcome = NIGHTS[n - 1]
    body = issue_body(outcome)
    result = update_rolling_issue(
        body,
        healthy=is_healthy(outcome),
        repo=REPO,
        token=token,
        api_url=api_url,
        closing_comment=closing_comment(date(2026, 3, n)),
        allow_private=True,  # the fake API listens on loopback
    )
    return result.action, body


def test_four_nights_keep_exactly_one_issue(github: tuple[GitHubAPI, str, Sandbox]) -> None:
    api, url, _ = github
    expected = [("created", "open"), ("updated", "open"), ("closed", "closed"),
                ("reopened", "open")]  # fmt: skip
    for n, (action, state) in enumerate(expected, start=1):
        done, body = night(n, url)
        issues = api.issues()
        assert done == action, f"night {n}"
        assert len(issues) == 1, f"night {n}: {len(issues)} issues"
        assert (issues[0].state, issues[0].body) == (state, body), f"night {n}"
        assert issues[0].labels == ["linkkeeper"]
    issue = api.issues()[0]
    assert [c.body for c in issue.comments] == [closing_comment(date(2026, 3, 3))]
    assert issue.state_reason == "reopened"
    assert "shaky" in issue.body and "gone" not in issue.body


def test_bodies_list_problems_with_archive_links_and_replacements() -> None:
    first, second, healthy = (issue_body(NIGHTS[i]) for i in (0, 1, 2))
    drifted = row("drifted", Verdict.OK, Health.ALIVE, reason="200 OK")
    drifted.changed = True
    assert "### Changed (1)" in issue_body(Outcome([OK, drifted]))
    assert not is_healthy(Outcome([OK, drifted]))
    assert first.startswith(MARKER) and "### Dead (1)" in first
    assert "[2022-03-15](https://web.archive.org/web/20220315101010/" in first
    assert "<https://example.com/new-home>" in second and "### Failing (1)" in second
    assert "`walled`" in first  # blocked is mentioned, not listed as a problem
    assert "All readings are healthy" in healthy and "gone" not in healthy
    assert issue_body(NIGHTS[0]) == first  # no dates: identical nights give identical bodies


def test_same_body_is_not_patched_and_healthy_with_no_issue_does_nothing(
    github: tuple[GitHubAPI, str, Sandbox],
) -> None:
    api, url, box = github
    assert night(3, url)[0] == "healthy"  # nothing open, nothing to close
    assert api.issues() == []
    night(1, url)
    stamp = api.issues()[0].updated_at
    box.requests.clear()
    assert night(1, url)[0] == "unchanged"
    assert [r.method for r in box.requests.for_host(HOST)] == ["GET"]
    assert api.issues()[0].updated_at == stamp


def test_requests_carry_the_documented_headers_and_query(
    github: tuple[GitHubAPI, str, Sandbox],
) -> None:
    _, url, box = github
    night(1, url)
    listing = box.requests.matching(HOST, f"/repos/{REPO}/issues?", "GET")[0]
    assert "state=all" in listing.path and "labels=linkkeeper" in listing.path
    for request in box.requests.for_host(HOST):
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["accept"] == "application/vnd.github+json"
        assert request.headers["x-github-api-version"] == API_VERSION


def test_label_is_found_not_the_title_and_the_latest_issue_wins(
    github: tuple[GitHubAPI, str, Sandbox],
) -> None:
    api, url, _ = github
    api.seed_issue("linkkeeper: readings that need attention", "someone else's", ("bug",))
    old = api.seed_issue("Broken links (old)", "old", ("linkkeeper",), state="closed")
    newer = api.seed_issue("Broken links", "newer", ("linkkeeper",), state="closed")
    api.seed_issue("A pull request", "pr", ("linkkeeper",), pull_request=True)
    assert night(1, url)[0] == "reopened"
    by_number = {i.number: i for i in api.issues()}
    assert by_number[newer.number].state == "open"
    assert by_number[old.number].state == "closed" and by_number[old.number].body == "old"
    assert len(api.issues()) == 4  # nothing created


def test_no_token_or_repo_skips_with_a_clear_message(
    github: tuple[GitHubAPI, str, Sandbox],
) -> None:
    api, url, box = github
    result = update_rolling_issue(
        "x", healthy=False, repo=REPO, token=None, api_url=url, allow_private=True
    )
    assert (result.action, result.message) == ("skipped", NO_TOKEN)
    assert "GITHUB_TOKEN" in result.message
    result = update_rolling_issue(
        "x", healthy=False, repo=None, token=TOKEN, api_url=url, allow_private=True
    )
    assert (result.action, result.message) == ("skipped", NO_REPO)
    assert len(box.requests) == 0 and api.issues() == []


def test_errors_name_the_fix_and_never_the_token(
    github: tuple[GitHubAPI, str, Sandbox],
) -> None:
    api, url, _ = github
    with pytest.raises(GitHubError) as bad:
        night(1, url, token="ghp_wrong-token-123")
    assert "401 Bad credentials" in str(bad.value) and "GITHUB_TOKEN" in str(bad.value)
    assert "ghp_wrong-token-123" not in str(bad.value)
    api.fail_next(403, "Resource not accessible by integration")
    with pytest.raises(GitHubError, match="issues: write"):
        night(1, url)
    api.fail_next(403, "API rate limit exceeded", {"x-ratelimit-remaining": "0"})
    with pytest.raises(GitHubError, match="rate limited"):
        night(1, url)
    with pytest.raises(GitHubError, match="check --github-repo"):
        update_rolling_issue(
            "x", healthy=False, repo="nobody/nothing", token=TOKEN, api_url=url, allow_private=True
        )
    assert api.issues() == []


def test_token_is_hidden_from_repr() -> None:
    with RollingIssue(
        REPO, "ghp_secret-value", api_url="http://127.0.0.1:9", allow_private=True
    ) as issue:
        assert "ghp_secret-value" not in repr(issue)
    with pytest.raises(GitHubError, match="OWNER/NAME"):
        RollingIssue("not a repo", "t")


def test_unreachable_api_is_an_error_without_the_token(
    github: tuple[GitHubAPI, str, Sandbox],
) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(GitHubError, match="ConnectError") as err:
        update_rolling_issue("x", healthy=False, repo=REPO, token="tok-abc-123",
                             api_url=f"http://127.0.0.1:{port}", allow_private=True)  # fmt: skip
    assert "tok-abc-123" not in str(err.value)
