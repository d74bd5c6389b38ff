"""The rolling issue: one GitHub issue, found by its label, kept in step with the readings.

Link checkers that open an issue per failing run bury a repository in duplicates; this keeps
exactly one. Each night it is found by label (``state=all``, so a closed one is reused; the
most recently updated wins if there are several), then created, updated in place (only when
its body changed), closed with a comment when all is healthy, or reopened when something
breaks again. GitHub's REST API through httpx; the token only ever travels in the
``Authorization`` header and never appears in a message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from linkkeeper.web import GuardedTransport

DEFAULT_API = "https://api.github.com"
DEFAULT_LABEL = "linkkeeper"
DEFAULT_TITLE = "linkkeeper: readings that need attention"
API_VERSION = "2022-11-28"
LABEL_COLOR = "b60205"
LABEL_DESCRIPTION = "Rolling report of broken readings, kept by linkkeeper"
REPO_NAME = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")

NO_TOKEN = (
    "no GITHUB_TOKEN: the rolling issue was not updated. In a workflow pass "
    "`env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}` with `permissions: issues: write`; "
    "locally export a token, or use --no-issue."
)
NO_REPO = (
    "no repository for the rolling issue: set GITHUB_REPOSITORY or pass --github-repo OWNER/NAME "
    "(or use --no-issue)."
)

# status -> what to do about it (the API's own message is added in front)
_ADVICE = {
    401: "the token was rejected: check GITHUB_TOKEN (expired or mistyped?)",
    403: "the token may not write issues: give the workflow `permissions: issues: write`",
    404: "the repository does not exist or the token cannot see it: check --github-repo",
    410: "issues are disabled for this repository: enable them in Settings > General",
    422: "GitHub refused the request as invalid",
}


class GitHubError(Exception):
    """A GitHub call failed; the message says what to fix and never contains the token."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status, None when no answer arrived


@dataclass(frozen=True)
class IssueResult:
    """What one night did to the rolling issue."""

    action: str  # created, updated, reopened, closed, unchanged, healthy, skipped
    message: str
    number: int | None = None
    url: str | None = None  # the issue's page on github.com

    @property
    def changed(self) -> bool:
        return self.action in ("created", "updated", "reopened", "closed")


class RollingIssue:
    """The rolling issue of one repository (a context manager around its HTTP client)."""

    def __init__(
        self,
        repo: str,
        token: str,
        *,
        api_url: str = DEFAULT_API,
        label: str = DEFAULT_LABEL,
        title: str = DEFAULT_TITLE,
        timeout: float = 30.0,
        allow_private: bool = False,
    ) -> None:
        """``allow_private``: let ``api_url`` be a private or loopback address (a local fake);
        otherwise such an address is refused like any link (see :mod:`linkkeeper.web.guarded`)."""
        if not REPO_NAME.fullmatch(repo):
            raise GitHubError(f"--github-repo {repo!r} is not OWNER/NAME (e.g. ai-workshop/site)")
        self.repo, self.label, self.title = repo, label, title
        self.api_url = api_url.rstrip("/")
        self._token = token
        self._client = httpx.Client(
            base_url=f"{self.api_url}/repos/{repo}",
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "linkkeeper (rolling issue)",
            },
            timeout=timeout,
            transport=GuardedTransport(allow_private=allow_private),
        )

    def __enter__(self) -> RollingIssue:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"RollingIssue(repo={self.repo!r}, api_url={self.api_url!r}, label={self.label!r})"

    # -- the night's update -----------------------------------------------------------------
    def sync(self, body: str, *, healthy: bool, closing_comment: str | None = None) -> IssueResult:
        """Bring the issue in line with tonight: create, update, close, reopen or leave it."""
        issue = self.find()
        if healthy:
            if issue is None or issue["state"] == "closed":
                return IssueResult("healthy", "all readings healthy; no open rolling issue")
            comment = closing_comment or "All readings are healthy again; closing."
            self._call("POST", f"/issues/{issue['number']}/comments", {"body": comment})
            changes: dict[str, Any] = {"state": "closed", "state_reason": "completed"}
            if issue.get("body") != body:
                changes["body"] = body
            issue = self._call("PATCH", f"/issues/{issue['number']}", changes)
            return self._result("closed", issue, "all readings healthy: closed")
        if issue is None:
            self._ensure_label()
            new = {"title": self.title, "body": body, "labels": [self.label]}
            return self._result("created", self._call("POST", "/issues", new), "opened")
        if issue["state"] == "closed":
            issue = self._call(
                "PATCH", f"/issues/{issue['number']}", {"state": "open", "body": body}
            )
            return self._result("reopened", issue, "something broke again: reopened")
        if issue.get("body") == body:
            return self._result("unchanged", issue, "left as it was (nothing new)")
        issue = self._call("PATCH", f"/issues/{issue['number']}", {"body": body})
        return self._result("updated", issue, "updated")

    def find(self) -> dict[str, Any] | None:
        """The labelled issue (open or closed) updated last; pull requests are not issues."""
        params = {"state": "all", "labels": self.label, "sort": "updated", "direction": "desc",
                  "per_page": "100"}  # fmt: skip
        found = [i for i in self._call("GET", "/issues", params=params) if "pull_request" not in i]
        return max(found, key=lambda i: i["updated_at"], default=None)

    def _ensure_label(self) -> None:
        """Give the label a colour and a description the first time (GitHub would add a grey
        one on its own)."""
        try:
            self._call("GET", f"/labels/{self.label}")
        except GitHubError as exc:
            if exc.status != 404:
                raise
            label = {"name": self.label, "color": LABEL_COLOR, "description": LABEL_DESCRIPTION}
            self._call("POST", "/labels", label)

    def _result(self, action: str, issue: dict[str, Any], what: str) -> IssueResult:
        number = issue["number"]
        return IssueResult(action, f"issue #{number} {what}", number, issue.get("html_url"))

    # -- HTTP -------------------------------------------------------------------------------
    def _call(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        where = f"{method} {self.api_url}/repos/{self.repo}{path}"
        try:
            response = self._client.request(method, path, json=payload, params=params)
        except httpx.HTTPError as exc:
            why = f"cannot reach GitHub ({type(exc).__name__}: {exc}); check --github-api"
            raise GitHubError(self._scrub(f"{where}: {why}")) from None
        if response.is_success:
            return response.json()
        raise GitHubError(self._scrub(f"{where}: {describe(response)}"), response.status_code)

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text


def describe(response: httpx.Response) -> str:
    """``403 Resource not accessible by integration: <what to do>``, rate limits included."""
    try:
        message = str(response.json().get("message", ""))
    except (ValueError, AttributeError):
        message = response.text[:200]
    status = response.status_code
    if status in (403, 429) and (
        response.headers.get("x-ratelimit-remaining") == "0" or "retry-after" in response.headers
    ):
        advice = "rate limited by GitHub: the next night will try again"
    else:
        advice = _ADVICE.get(status, "unexpected answer from GitHub")
    return f"{status} {message}: {advice}"


def update_rolling_issue(
    body: str,
    *,
    healthy: bool,
    repo: str | None,
    token: str | None,
    api_url: str = DEFAULT_API,
    label: str = DEFAULT_LABEL,
    closing_comment: str | None = None,
    allow_private: bool = False,
) -> IssueResult:
    """The night's issue update; ``skipped`` (with the reason) without a token or repository.

    Raises :class:`GitHubError` when GitHub refuses, so a broken setup is not silent."""
    if not token:
        return IssueResult("skipped", NO_TOKEN)
    if not repo:
        return IssueResult("skipped", NO_REPO)
    with RollingIssue(
        repo, token, api_url=api_url, label=label, allow_private=allow_private
    ) as issue:
        return issue.sync(body, healthy=healthy, closing_comment=closing_comment)
