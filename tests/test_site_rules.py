"""The shared judging rules on their own, plus walls the main sandbox does not stage
(cookieless handshake loops, a paywall page at a ``.pdf`` URL) on a small loopback web."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator

import pytest
from aiohttp import web

from linkkeeper.core.models import FetchResult, Reading, Verdict
from linkkeeper.judges.sites import Judgement, site_for
from linkkeeper.judges.sites.arxiv import arxiv_canonical
from linkkeeper.judges.sites.generic import canonical, challenge_marker, failure, permanent_target
from linkkeeper.judges.sites.medium import tds_twin
from linkkeeper.judges.sites.nature import without_handshake
from linkkeeper.judges.sites.youtube import oembed_url, video_id
from linkkeeper.sandbox import Sandbox, VirtualHost
from linkkeeper.web.fetcher import Fetcher, FetchSettings
from linkkeeper.web.remap import Remapper


def result(status: int | None, body: bytes = b"", **kw: object) -> FetchResult:
    return FetchResult(url="https://x.example/a", final_url="https://x.example/a", status=status,
                       body=body, **kw)  # type: ignore[arg-type]  # fmt: skip


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("http://example.org/a", "https://example.org/a"),
        ("https://example.org/a/", "https://www.example.org/a"),
        ("https://EXAMPLE.org:443/a", "https://example.org/a"),
        ("https://example.org/%7Eme", "https://example.org/~me"),
    ],
)
def test_trivial_normalisations_are_equal(a: str, b: str) -> None:
    assert canonical(a) == canonical(b)


def test_permanent_target_only_follows_the_leading_permanent_run() -> None:
    url = "http://old.example/post"
    assert permanent_target(url, [(301, "https://old.example/post")]) is None
    assert permanent_target(url, [(301, "https://new.example/post")]) == "https://new.example/post"
    assert permanent_target(url, [(302, "/tmp"), (301, "https://new.example/x")]) is None
    chain = [(308, "https://new.example/p"), (302, "https://new.example/login")]
    assert permanent_target(url, chain) == "https://new.example/p"
    assert permanent_target(url, [(301, "/elsewhere")]) == "http://old.example/elsewhere"


def test_arxiv_pdf_suffix_redirect_is_not_a_move() -> None:
    url = "https://arxiv.org/pdf/1910.01500.pdf"
    assert (
        permanent_target(url, [(301, "https://arxiv.org/pdf/1910.01500")], arxiv_canonical) is None
    )


@pytest.mark.parametrize(
    ("status", "verdict"),
    [(404, Verdict.BROKEN), (410, Verdict.BROKEN), (400, Verdict.BROKEN), (401, Verdict.BLOCKED),
     (403, Verdict.BLOCKED), (429, Verdict.BLOCKED), (999, Verdict.BLOCKED),
     (451, Verdict.BLOCKED), (500, Verdict.TRANSIENT),
     (503, Verdict.TRANSIENT), (408, Verdict.TRANSIENT), (418, Verdict.BLOCKED)],
)  # fmt: skip
def test_status_table(status: int, verdict: Verdict) -> None:
    got = failure(result(status))
    assert got is not None and got.verdict is verdict
    assert str(status) in got.reason


def test_2xx_is_not_a_failure() -> None:
    assert failure(result(200)) is None


@pytest.mark.parametrize(
    ("error", "verdict"),
    [("timeout", Verdict.TRANSIENT), ("reset", Verdict.TRANSIENT), ("dns", Verdict.BROKEN),
     ("connect", Verdict.BROKEN), ("redirect-loop", Verdict.BROKEN),
     ("too-many-redirects", Verdict.BROKEN), ("private-address", Verdict.SKIPPED),
     ("something-new", Verdict.TRANSIENT)],
)  # fmt: skip
def test_error_table(error: str, verdict: Verdict) -> None:
    got = failure(result(None, error=error, error_detail="detail"))
    assert got is not None and got.verdict is verdict and "detail" in got.reason


def test_challenge_on_a_5xx_or_404_is_a_wall() -> None:
    page = b"<html><title>Just a moment...</title><body>Checking your browser</body></html>"
    assert failure(result(503, page)).verdict is Verdict.BLOCKED  # type: ignore[union-attr]
    captcha = b"<p>Please solve this CAPTCHA to continue</p>"
    assert failure(result(404, captcha)).verdict is Verdict.BLOCKED  # type: ignore[union-attr]


def test_article_about_captchas_is_not_a_wall() -> None:
    assert challenge_marker(result(200, b"<title>How CAPTCHAs work</title><p>captcha</p>")) is None
    walled = result(200, b"<title>Just a moment...</title>")
    assert challenge_marker(walled) is not None


def test_url_helpers() -> None:
    assert video_id("https://m.youtube.com/watch?v=abc_DEF-123&t=4") == "abc_DEF-123"
    assert video_id("https://www.youtube.com/shorts/abcdefghijk") == "abcdefghijk"
    assert video_id("https://www.youtube.com/@someone") is None
    assert "url=https%3A%2F%2Fwww.youtube.com%2Fwatch%3Fv%3Dabc" in oembed_url("abc")
    assert tds_twin("https://towardsdatascience.com/a-b-c-0123456789ab") == (
        "https://medium.com/data-science/a-b-c-0123456789ab"
    )
    assert tds_twin("https://towardsdatascience.com/about") is None
    assert (
        without_handshake("https://www.nature.com/articles/x?error=cookies_not_supported&code=1-2")
        == "https://www.nature.com/articles/x"
    )
    assert without_handshake("https://www.nature.com/search?q=a&code=1") == (
        "https://www.nature.com/search?q=a&code=1"
    )


# -- walls on a small web of our own -------------------------------------------------------------
def _loop_app(target: str) -> web.Application:
    """Every path redirects to ``target``, cookies or not (a handshake a cookie jar can't end)."""

    async def bounce(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(target.format(path=request.path))

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", bounce)
    return app


def _paywall_app() -> web.Application:
    async def login(request: web.Request) -> web.StreamResponse:
        text = ("<html><title>Article</title><body><h1>Access this article</h1>"
                "<p>Log in or access through your institution.</p></body></html>")  # fmt: skip
        return web.Response(text=text, content_type="text/html")

    app = web.Application()
    app.router.add_get("/articles/x.pdf", login)
    return app


@pytest.fixture(scope="module")
def walls() -> Iterator[Sandbox]:
    hosts = [
        VirtualHost("www.nature.com", lambda: _loop_app("https://idp.nature.com/authorize")),
        VirtualHost("idp.nature.com", lambda: _loop_app("https://www.nature.com/articles/x")),
        VirtualHost(
            "betterprogramming.pub",
            lambda: _loop_app("https://medium.com/m/global-identity?redirectUrl=b"),
        ),
        VirtualHost("medium.com", lambda: _loop_app("https://betterprogramming.pub/story-1")),
        VirtualHost("journal.example", _paywall_app),
    ]
    with Sandbox(hosts) as box:
        yield box


def judge(box: Sandbox, url: str) -> Judgement:
    async def run() -> Judgement:
        settings = dataclasses.replace(
            FetchSettings(), allow_private=True, host_interval=0.0, retries=0
        )
        async with Fetcher(settings, remap=Remapper.parse(box.remap_rules())) as fetcher:
            return await site_for(url).check(Reading(id="r", title=None, url=url), fetcher)

    return asyncio.run(run())


def test_nature_handshake_loop_is_blocked_not_broken(walls: Sandbox) -> None:
    got = judge(walls, "https://www.nature.com/articles/x")
    assert got.verdict is Verdict.BLOCKED and "handshake" in got.reason


def test_medium_global_identity_loop_is_blocked_not_broken(walls: Sandbox) -> None:
    got = judge(walls, "https://betterprogramming.pub/story-1")
    assert got.verdict is Verdict.BLOCKED and "global-identity" in got.reason


def test_login_page_at_a_pdf_url_is_a_paywall(walls: Sandbox) -> None:
    got = judge(walls, "https://journal.example/articles/x.pdf")
    assert got.verdict is Verdict.BLOCKED and "paywalled" in got.reason


def test_the_family_of_a_url_is_the_first_that_matches_it_whatever_its_host() -> None:
    """The registry asks only the families that serve a URL's host; over hosts of every
    family (with www., subdomains, odd case, look-alikes) and paths of every form, it picks
    what asking every family in order picks."""
    from linkkeeper.check.engine import host_of
    from linkkeeper.judges.sites.registry import SITES

    hosts = ["youtube.com", "www.YouTube.com", "youtu.be", "m.youtube.com", "notyoutube.com",
             "arxiv.org", "www.arxiv.org", "export.arxiv.org", "arxiv.org.evil.example",
             "mirror.xyz", "dev.mirror.xyz", "www.mirror.xyz", "mirror.xyz.example",
             "medium.com", "www.medium.com", "ada.medium.com", "towardsdatascience.com",
             "www.towardsdatascience.com", "medium.com.example", "nature.com",
             "www.nature.com", "idp.nature.com", "natures.com", "blog.example", "127.0.0.5:8080",
             "[::1]:8443", "user@arxiv.org", "EXAMPLE.org.", ""]  # fmt: skip
    paths = ["", "/", "/watch?v=dQw4w9WgXcQ", "/embed/dQw4w9WgXcQ", "/shorts/dQw4w9WgXcQ",
             "/dQw4w9WgXcQ", "/abs/1706.03762", "/pdf/1706.03762v5", "/pdf/1706.03762.pdf",
             "/ada/some-story-1a2b3c4d5e6f", "/articles/s41586-020-2649-2",
             "/articles/s41586-020-2649-2.pdf", "/paper.PDF", "/a/b.pdf?x=1",
             "/post/x"]  # fmt: skip
    checked = 0
    for scheme in ("https", "http", "ftp"):
        for host in hosts:
            for path in paths:
                url = f"{scheme}://{host}{path}"
                exhaustive = next((s for s in SITES if s.matches(url)), SITES[-1])
                assert site_for(url) is exhaustive, url
                assert site_for(url, host_of(url)) is exhaustive, url  # the engine's host
                checked += 1
    assert checked == 3 * len(hosts) * len(paths)
    assert site_for(None) is SITES[-1] and site_for("") is SITES[-1]


@pytest.mark.parametrize(
    "url",
    ["https://a.example/x.pdf", "HTTPS://A.EXAMPLE/X.PDF", " http://a.example/", "\thttps://a/",
     "http:/a.example/", "http://", "https:", "ftp://a.example/b.pdf", "https://a.example/x.pdf?a",
     "https://a.example/x%2Epdf", "https://a.example/x.pdf#frag", "https://a.example/?f=b.pdf",
     "https://a.example/b.pdf/", "https://a.pdf.example/", "mailto:a@b.pdf", "hTtP://a.example/",
     "https://a.example/\nb.pdf", "http\n://a.example/", "", "https://a.example/.PdF"],
)  # fmt: skip
def test_the_cheap_first_looks_of_the_pdf_and_generic_families_answer_as_splitting(
    url: str,
) -> None:
    """Their shortcuts (no ``.pdf`` in the text; an ``http(s)://`` start) never change what
    splitting the URL says."""
    from urllib.parse import urlsplit

    from linkkeeper.judges.sites.generic import GenericSite
    from linkkeeper.judges.sites.pdfbody import looks_like_pdf_url

    assert looks_like_pdf_url(url) == urlsplit(url).path.lower().endswith(".pdf")
    assert GenericSite().matches(url) == (urlsplit(url).scheme in ("http", "https"))
