"""--remap rules: parsing, errors a person can act on, and remapping below the client only."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from aiohttp import web

from linkkeeper.sandbox import Sandbox, VirtualHost
from linkkeeper.web.remap import RemapError, Remapper, RemapTransport


def test_first_matching_rule_wins() -> None:
    remap = Remapper.parse(
        [
            r"^https://arxiv\.org(?=[/?#]|$) http://127.0.0.1:41234",
            r"^https://(.*)$ http://mirror.test/\1",
        ]
    )
    assert remap.apply("https://arxiv.org/abs/1") == "http://127.0.0.1:41234/abs/1"
    assert remap.apply("https://arxiv.org") == "http://127.0.0.1:41234"
    assert remap.apply("https://arxiv.org.evil/x") == "http://mirror.test/arxiv.org.evil/x"
    assert remap.apply("http://other.org/") == "http://other.org/"


@pytest.mark.parametrize(
    "replacement",
    [
        r"http://staging.test/\1",
        r"http://staging.test/\g<rest>",
        "http://staging.test/$1",
        "http://staging.test/${rest}",
        "http://staging.test/$rest",
    ],
)
def test_python_and_lychee_group_syntax(replacement: str) -> None:
    remap = Remapper.parse([rf"^https://example\.org/(?P<rest>.*) {replacement}"])
    assert remap.apply("https://example.org/a/b?c=1") == "http://staging.test/a/b?c=1"


def test_double_dollar_is_a_literal_dollar() -> None:
    remap = Remapper.parse([r"^https://a\.test/ https://b.test/$$"])
    assert remap.apply("https://a.test/x") == "https://b.test/$x"


@pytest.mark.parametrize(
    ("rule", "complaint"),
    [
        ("only-a-pattern", "got 1 part"),
        ("a b c", "got 3 part"),
        ("^https://(unclosed http://x", "bad regex"),
        (r"^https://a\.test/(.*) http://b.test/\2", "bad replacement"),
        (r"^https://a\.test/(.*) http://b.test/${nope}", "bad replacement"),
    ],
)
def test_bad_rules_name_the_rule_and_problem(rule: str, complaint: str) -> None:
    with pytest.raises(RemapError) as caught:
        Remapper.parse([r"^x y", rule])
    message = str(caught.value)
    assert message.startswith("remap rule 2 '")
    assert rule in message
    assert complaint in message


def test_empty_remapper_is_falsy() -> None:
    assert not Remapper.parse([])
    assert Remapper.parse(["a b"])


def _echo_app() -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        response = web.json_response({"host": request.host, "path": request.path_qs})
        if request.path == "/set":
            response.set_cookie("seen", "1")
        if request.path == "/go":
            raise web.HTTPFound("/there")
        return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


@pytest.fixture(scope="module")
def echo_box() -> Iterator[Sandbox]:
    with Sandbox([VirtualHost("echo.example", _echo_app)]) as box:
        yield box


@pytest.mark.asyncio
async def test_transport_keeps_original_url_host_header_and_cookies(echo_box: Sandbox) -> None:
    remap = Remapper.parse(echo_box.remap_rules())
    transport = RemapTransport(httpx.AsyncHTTPTransport(), remap)
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.get("https://echo.example/set?q=1")
        assert response.json() == {"host": "echo.example", "path": "/set?q=1"}
        assert str(response.url) == "https://echo.example/set?q=1"
        assert client.cookies.jar and all(c.domain == "echo.example" for c in client.cookies.jar)
        moved = await client.get("https://echo.example/go", follow_redirects=True)
        assert str(moved.url) == "https://echo.example/there"
        assert [str(r.url) for r in moved.history] == ["https://echo.example/go"]
    assert [r.scheme for r in echo_box.requests] == ["https", "https", "https"]
