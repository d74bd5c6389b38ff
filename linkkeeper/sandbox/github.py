"""A sandbox GitHub REST API (``api.github.com``): issues, labels and comments of a few repos.

Enough of the real API for the rolling issue: list issues by state and label (sorted, paged,
pull requests mixed in as on GitHub), create, PATCH title/body/state/labels, comment, read and
create labels. Token auth like GitHub's (``Bearer`` or ``token``; 401 ``Requires
authentication`` / ``Bad credentials``), JSON error bodies with ``message`` and
``documentation_url``, 422 ``Validation Failed``. All state lives in one :class:`GitHubAPI`
object; serve it with ``Sandbox(github.hosts())`` and every request lands in the sandbox's
request log.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from linkkeeper.sandbox._server import VirtualHost

HOST = "api.github.com"
TOKEN = "sandbox-github-token"
REPO = "ai-workshop/readings"
API_VERSIONS = frozenset({"2022-11-28"})
DOCS = "https://docs.github.com/rest"
BOT = {"login": "github-actions[bot]", "id": 41898244, "type": "Bot"}


@dataclass
class Comment:
    id: int
    body: str
    created_at: datetime


@dataclass
class Issue:
    """One issue (or pull request, which the issues API lists too)."""

    number: int
    title: str
    body: str | None
    labels: list[str]
    created_at: datetime
    updated_at: datetime
    state: str = "open"
    state_reason: str | None = None
    closed_at: datetime | None = None
    comments: list[Comment] = field(default_factory=list)
    pull_request: bool = False


@dataclass
class Failure:
    """An error answer queued by :meth:`GitHubAPI.fail_next` (permissions, rate limits ...)."""

    status: int
    message: str
    headers: dict[str, str] = field(default_factory=dict)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class GitHubAPI:
    """The state behind the sandbox API; thread-safe, so tests may inspect it mid-run."""

    def __init__(
        self,
        token: str = TOKEN,
        repos: tuple[str, ...] = (REPO,),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.token = token
        self.repo_names = repos
        self.clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._issues: dict[str, dict[int, Issue]] = {name: {} for name in self.repo_names}
            self._labels: dict[str, dict[str, dict[str, Any]]] = {n: {} for n in self.repo_names}
            self._failures: list[Failure] = []
            self._last_time: datetime | None = None
            self._next_id = 1000

    # -- test helpers -----------------------------------------------------------------------
    def issues(self, repo: str = REPO) -> list[Issue]:
        """Every issue and pull request of ``repo``, by number."""
        with self._lock:
            return sorted(self._issues[repo].values(), key=lambda i: i.number)

    def labels(self, repo: str = REPO) -> list[str]:
        with self._lock:
            return sorted(self._labels[repo])

    def seed_issue(
        self,
        title: str,
        body: str | None = None,
        labels: tuple[str, ...] = (),
        *,
        state: str = "open",
        pull_request: bool = False,
        repo: str = REPO,
    ) -> Issue:
        """Put an issue (or pull request) there, as if somebody had opened it earlier."""
        with self._lock:
            issue = self._new_issue(repo, title, body, list(labels), pull_request=pull_request)
            if state == "closed":
                issue.state, issue.state_reason, issue.closed_at = (
                    "closed",
                    "completed",
                    self._now(),
                )
            return issue

    def fail_next(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        """The next request gets this error instead of an answer."""
        with self._lock:
            self._failures.append(Failure(status, message, headers or {}))

    def hosts(self) -> list[VirtualHost]:
        return [VirtualHost(HOST, self._app, http_redirects_to_https=True)]

    # -- state ------------------------------------------------------------------------------
    def _now(self) -> datetime:
        """Strictly increasing, to the second (GitHub's resolution): order is never a tie."""
        now = self.clock().astimezone(UTC).replace(microsecond=0)
        if self._last_time is not None and now <= self._last_time:
            now = self._last_time + timedelta(seconds=1)
        self._last_time = now
        return now

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _new_issue(
        self, repo: str, title: str, body: str | None, labels: list[str], pull_request: bool = False
    ) -> Issue:
        for name in labels:
            self._labels[repo].setdefault(name, self._label(name))
        issues = self._issues[repo]
        now = self._now()
        issue = Issue(len(issues) + 1, title, body, labels, now, now, pull_request=pull_request)
        issues[issue.number] = issue
        return issue

    def _label(
        self, name: str, color: str = "ededed", description: str | None = None
    ) -> dict[str, Any]:
        return {"id": self._id(), "name": name, "color": color, "description": description,
                "default": False}  # fmt: skip

    def _issue_json(self, repo: str, issue: Issue, origin: str) -> dict[str, Any]:
        kind = "pull" if issue.pull_request else "issues"
        data: dict[str, Any] = {
            "id": 5_000_000 + issue.number,
            "number": issue.number,
            "url": f"{origin}/repos/{repo}/issues/{issue.number}",
            "html_url": f"https://github.com/{repo}/{kind}/{issue.number}",
            "title": issue.title,
            "body": issue.body,
            "state": issue.state,
            "state_reason": issue.state_reason,
            "labels": [self._labels[repo][name] for name in issue.labels],
            "comments": len(issue.comments),
            "created_at": _iso(issue.created_at),
            "updated_at": _iso(issue.updated_at),
            "closed_at": _iso(issue.closed_at),
            "user": BOT,
            "locked": False,
        }
        if issue.pull_request:
            data["pull_request"] = {"url": f"{origin}/repos/{repo}/pulls/{issue.number}"}
        return data

    # -- HTTP -------------------------------------------------------------------------------
    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._gate])
        route = "/repos/{owner}/{name}"
        app.router.add_get(f"{route}/issues", self._list)
        app.router.add_post(f"{route}/issues", self._create)
        app.router.add_get(route + "/issues/{number:\\d+}", self._get)
        app.router.add_patch(route + "/issues/{number:\\d+}", self._update)
        app.router.add_get(route + "/issues/{number:\\d+}/comments", self._comments)
        app.router.add_post(route + "/issues/{number:\\d+}/comments", self._comment)
        app.router.add_get(route + "/labels/{label}", self._get_label)
        app.router.add_post(f"{route}/labels", self._create_label)
        return app

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Queued failures, API version, token and repository, in GitHub's order."""
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            return _error(failure.status, failure.message, failure.headers)
        version = request.headers.get("X-GitHub-Api-Version")
        if version is not None and version not in API_VERSIONS:
            return _error(400, f"API version {version} is not supported.")
        scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        if not credential:
            return _error(401, "Requires authentication")
        if scheme.lower() not in ("bearer", "token") or credential.strip() != self.token:
            return _error(401, "Bad credentials")
        if "owner" in request.match_info and _repo(request) not in self._issues:
            return _error(404, "Not Found")
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return _error(404, "Not Found")

    def _find(self, request: web.Request) -> Issue:
        issue = self._issues[_repo(request)].get(int(request.match_info["number"]))
        if issue is None:
            raise web.HTTPNotFound()
        return issue

    async def _list(self, request: web.Request) -> web.Response:
        query = request.query
        state = query.get("state", "open")
        if state not in ("open", "closed", "all"):
            return _invalid("Issue", "state", "invalid")
        wanted = [name for name in query.get("labels", "").split(",") if name]
        sort = query.get("sort", "created")
        key = {"created": "created_at", "updated": "updated_at", "comments": "comments"}.get(sort)
        if key is None:
            return _invalid("Issue", "sort", "invalid")
        per_page = min(max(int(query.get("per_page", "30")), 1), 100)
        page = max(int(query.get("page", "1")), 1)
        repo = _repo(request)
        with self._lock:
            found = [
                i
                for i in self._issues[repo].values()
                if (state == "all" or i.state == state) and all(n in i.labels for n in wanted)
            ]
            found.sort(
                key=lambda i: len(i.comments) if key == "comments" else getattr(i, key),
                reverse=query.get("direction", "desc") == "desc",
            )
            chunk = found[(page - 1) * per_page : page * per_page]
            data = [self._issue_json(repo, i, _origin(request)) for i in chunk]
        headers = {}
        if page * per_page < len(found):
            rest = {**query, "page": str(page + 1)}
            headers["Link"] = f'<{_origin(request)}{request.path}?{urlencode(rest)}>; rel="next"'
        return web.json_response(data, headers=headers)

    async def _create(self, request: web.Request) -> web.Response:
        data = await _json(request)
        if not isinstance(data.get("title"), str) or not data["title"]:
            return _invalid("Issue", "title", "missing_field")
        labels = [str(name) for name in data.get("labels", [])]
        repo = _repo(request)
        with self._lock:
            issue = self._new_issue(repo, data["title"], data.get("body"), labels)
            body = self._issue_json(repo, issue, _origin(request))
        return web.json_response(body, status=201)

    async def _get(self, request: web.Request) -> web.Response:
        with self._lock:
            issue = self._find(request)
            return web.json_response(self._issue_json(_repo(request), issue, _origin(request)))

    async def _update(self, request: web.Request) -> web.Response:
        data = await _json(request)
        state = data.get("state")
        if state not in (None, "open", "closed"):
            return _invalid("Issue", "state", "invalid")
        repo = _repo(request)
        with self._lock:
            issue = self._find(request)
            for name in ("title", "body"):
                if name in data:
                    setattr(issue, name, data[name])
            if "labels" in data:
                issue.labels = [str(n) for n in data["labels"]]
                for name in issue.labels:
                    self._labels[repo].setdefault(name, self._label(name))
            now = self._now()
            if state == "closed" and issue.state == "open":
                issue.state, issue.closed_at = "closed", now
                issue.state_reason = data.get("state_reason") or "completed"
            elif state == "open" and issue.state == "closed":
                issue.state, issue.closed_at, issue.state_reason = "open", None, "reopened"
            issue.updated_at = now
            return web.json_response(self._issue_json(repo, issue, _origin(request)))

    async def _comments(self, request: web.Request) -> web.Response:
        with self._lock:
            issue = self._find(request)
            data = [_comment_json(c) for c in issue.comments]
        return web.json_response(data)

    async def _comment(self, request: web.Request) -> web.Response:
        data = await _json(request)
        if not isinstance(data.get("body"), str) or not data["body"]:
            return _invalid("IssueComment", "body", "missing_field")
        with self._lock:
            issue = self._find(request)
            comment = Comment(self._id(), data["body"], self._now())
            issue.comments.append(comment)
            issue.updated_at = comment.created_at
        return web.json_response(_comment_json(comment), status=201)

    async def _get_label(self, request: web.Request) -> web.Response:
        with self._lock:
            label = self._labels[_repo(request)].get(request.match_info["label"])
        if label is None:
            return _error(404, "Not Found")
        return web.json_response(label)

    async def _create_label(self, request: web.Request) -> web.Response:
        data = await _json(request)
        name = data.get("name")
        if not isinstance(name, str) or not name:
            return _invalid("Label", "name", "missing_field")
        with self._lock:
            labels = self._labels[_repo(request)]
            if name in labels:
                return _invalid("Label", "name", "already_exists")
            labels[name] = self._label(name, data.get("color", "ededed"), data.get("description"))
            return web.json_response(labels[name], status=201)


def _repo(request: web.Request) -> str:
    return f"{request.match_info['owner']}/{request.match_info['name']}"


def _origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(
            text='{"message": "Problems parsing JSON"}', content_type="application/json"
        ) from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(
            text='{"message": "Problems parsing JSON"}', content_type="application/json"
        )
    return data


def _comment_json(comment: Comment) -> dict[str, Any]:
    return {"id": comment.id, "body": comment.body, "created_at": _iso(comment.created_at),
            "user": BOT}  # fmt: skip


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"message": message, "documentation_url": DOCS, "status": str(status)}
    return web.json_response(body, status=status, headers=headers)


def _invalid(resource: str, name: str, code: str) -> web.Response:
    body = {
        "message": "Validation Failed",
        "errors": [{"resource": resource, "code": code, "field": name}],
        "documentation_url": DOCS,
        "status": "422",
    }
    return web.json_response(body, status=422)
