"""Soft-404 signals on hand-written pages: strong signals condemn, one weak signal never does."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from linkkeeper.core.models import FetchResult
from linkkeeper.judges import soft404
from linkkeeper.judges.sites import generic

ARTICLE_WORDS = " ".join(f"word{i}" for i in range(600))


def html_page(
    body: str,
    *,
    url: str = "https://blog.example/post/a-story",
    final_url: str | None = None,
    redirects: list[tuple[int, str]] | None = None,
) -> FetchResult:
    return FetchResult(
        url=url,
        final_url=final_url or url,
        status=200,
        headers={"content-type": "text/html; charset=utf-8"},
        body=body.encode(),
        redirects=redirects or [],
    )


def names(report: soft404.Soft404Report) -> set[str]:
    return {s.name for s in report.signals}


def test_not_found_title_on_short_page_condemns() -> None:
    page = html_page("<html><title>Page Not Found</title><h1>Sorry</h1><p>Try search.</p></html>")
    report = soft404.assess(page.url, page)
    assert report.is_soft404
    assert "not-found-heading" in names(report)
    assert "page not found" in report.explain().lower()


def test_not_found_heading_on_long_article_does_not_condemn() -> None:
    body = (
        f"<title>Fixing 404 pages in nginx</title><h1>Fixing 404 pages</h1><p>{ARTICLE_WORDS}</p>"
    )
    report = soft404.assess("https://blog.example/nginx-404", html_page(body))
    assert not report.is_soft404
    assert report.score < soft404.THRESHOLD


def test_loose_phrase_in_long_article_never_condemns() -> None:
    body = (
        f"<title>On moderation</title><p>{ARTICLE_WORDS} the post has been removed {ARTICLE_WORDS}"
    )
    report = soft404.assess("https://blog.example/moderation", html_page(body))
    assert not report.is_soft404
    assert report.signals == []


def test_weak_heading_on_short_page_is_only_suspicious() -> None:
    page = html_page("<title>Oops!</title><p>Something odd happened here.</p>")
    report = soft404.assess(page.url, page)
    assert report.suspicious and not report.is_soft404


def test_deep_link_redirected_to_root_condemns() -> None:
    page = html_page(
        f"<title>Home</title><p>{ARTICLE_WORDS}</p>",
        url="https://news.example/news/some-deep-story",
        final_url="https://news.example/",
        redirects=[(301, "https://news.example/")],
    )
    report = soft404.assess(page.url, page)
    assert report.is_soft404 and "redirect-to-root" in names(report)


def test_root_to_root_redirect_is_not_a_soft_404() -> None:
    page = html_page(
        f"<title>Home</title><p>{ARTICLE_WORDS}</p>",
        url="http://news.example/",
        final_url="https://news.example/",
        redirects=[(301, "https://news.example/")],
    )
    assert soft404.assess(page.url, page).signals == []


def test_redirect_to_404_url_condemns() -> None:
    page = html_page(
        f"<title>Blog</title><p>{ARTICLE_WORDS}</p>",
        final_url="https://blog.example/404",
        redirects=[(302, "/404")],
    )
    report = soft404.assess(page.url, page)
    assert report.is_soft404 and "redirect-to-404" in names(report)


def test_parked_domain_lander_condemns() -> None:
    page = html_page("<title>parked.example</title><h1>This domain is for sale!</h1>")
    report = soft404.assess(page.url, page)
    assert report.is_soft404 and "parked" in names(report)


def test_parked_mention_in_long_article_does_not_condemn() -> None:
    body = f"<title>Domain squatting</title><p>{ARTICLE_WORDS} buy this domain {ARTICLE_WORDS}</p>"
    assert not soft404.assess("https://blog.example/squat", html_page(body)).is_soft404


@pytest.mark.parametrize("body", ["", "   \n  "])
def test_empty_body_condemns(body: str) -> None:
    report = soft404.assess("https://blog.example/empty", html_page(body))
    assert report.is_soft404 and "empty-body" in names(report)


def test_script_only_app_is_not_empty() -> None:
    page = html_page(
        '<html><head><title>Playground</title></head><body><div id="app"></div>'
        "<script src='/app.js'></script></body></html>"
    )
    assert soft404.assess("https://playground.example/", page).signals == []


def test_probe_url_is_a_sibling_on_the_same_host() -> None:
    probe = soft404.probe_url("https://soft.example/article/gone-one?x=1", token="abc")
    assert probe == "https://soft.example/article/linkkeeper-probe-abc"
    assert soft404.probe_url("https://soft.example/", token="t") == (
        "https://soft.example/linkkeeper-probe-t"
    )
    assert soft404.probe_url("https://soft.example/a/b/", token="t") == (
        "https://soft.example/a/b/linkkeeper-probe-t"
    )
    assert urlsplit(soft404.probe_url("https://soft.example/x")).path.startswith("/linkkeeper-")


def test_probe_like_our_page_adds_weight_and_real_404_acquits() -> None:
    ours = html_page("<title>Oops</title><p>We looked everywhere for /article/gone.</p>")
    like = html_page("<title>Oops</title><p>We looked everywhere for /article/probe-x.</p>")
    signal = soft404.probe_signal(ours, like)
    assert signal is not None and signal.weight > 0
    real404 = FetchResult(url="u", final_url="u", status=404, body=b"nope")
    acquit = soft404.probe_signal(ours, real404)
    assert acquit is not None and acquit.weight < 0
    other = html_page(f"<title>Welcome</title><p>{ARTICLE_WORDS}</p>")
    assert soft404.probe_signal(ours, other) is None


def test_explain_lists_signals() -> None:
    assert soft404.Soft404Report().explain() == "no soft-404 signals"
    report = soft404.Soft404Report(
        [soft404.Signal("a", 0.5, "first"), soft404.Signal("b", 0.7, "x")]
    )
    assert report.explain() == "first (+0.5); x (+0.7)"
    assert report.is_soft404


# -- the cheap first pass: never clears what the parse would flag ------------------------------
PROSE = " ".join(f"Paragraph {i} explains an error we hit and how it was fixed." for i in range(60))
CORPUS = [
    f"<html><head><title>Error handling in Rust</title></head><body><h1>Errors</h1><p>{PROSE}",
    f"<!DOCTYPE html><html><head><title>A fine article</title></head><body><p>{PROSE}</p>",
    f"<html><head><title>Fixing 404 pages</title><body><p>{ARTICLE_WORDS}</p>",  # no </head>
    "<html><head><title>Page Not Found</title></head><body><p>Try search.</p></body></html>",
    "<title>Welcome</title><h1>Page&nbsp;<em>not</em> found</h1><p>Try the search.</p>",
    "<title>Welcome</title><p>Sorry, the article you want has been removed.</p>",
    "<title>Home</title><p>Nothing here.</p><!-- <h1>not found</h1> -->",
    "<title>Welcome</title><p>This d&#111;main is for sale. Make an offer.</p>",
    f"<title>Domain names</title><p>{ARTICLE_WORDS} buy this domain {ARTICLE_WORDS}</p>",
    "<title>Gone</title><p>" + "word " * 400 + "</p>",
    "<html><head><title></title></head><body><div id='app'></div></body></html>",
    "<title></title><svg><title>Logo</title></svg>",
    "<title>App</title><script>var page = '<h1>not found</h1>'; i-->0;</script><p>Hi</p>",
    "<title>Unclosed</title><h1>Our news<p>" + "word " * 600,
    "<title>Short</title><p>Hello there, reader.</p>",
    f"<title>Long &amp; fine</title><h1>Attention</h1><p>{ARTICLE_WORDS}</p><p>oops</p>",
]


def flagged(page: FetchResult) -> list[soft404.Signal]:
    """The page signals the full parse raises (redirect signals need no page)."""
    text = soft404.page_text(page)
    signals = (soft404.empty_signal(page, text), soft404.parked_signal(page, text),
               soft404.phrase_signal(text))  # fmt: skip
    return [s for s in signals if s is not None]


@pytest.mark.parametrize("body", CORPUS)
def test_cheap_pass_clears_only_pages_the_parse_would_not_flag(body: str) -> None:
    page = html_page(body)
    if soft404.quick_clean(page):
        assert flagged(page) == []


def test_ordinary_articles_are_judged_without_a_parse() -> None:
    for body in CORPUS[:2]:  # long articles; "error" in the title and text of one
        page = html_page(body)
        assert soft404.assess(page.url, page).signals == []
        assert page._tree is None  # cleared by the cheap pass: never parsed
    page = html_page(CORPUS[3])
    assert soft404.assess(page.url, page).is_soft404
    assert page._tree is not None  # parsed once, kept for the metadata stage


def test_an_unclosed_head_does_not_hide_the_article() -> None:
    page = html_page(CORPUS[2])
    assert soft404.page_text(page).words == 600
    assert not soft404.assess(page.url, page).is_soft404
    assert page.tree().find(".//p") is not None  # the shared parse is left whole


@pytest.mark.parametrize("index", [3, 4, 5, 7])
def test_not_found_and_parked_pages_are_never_cleared(index: int) -> None:
    page = html_page(CORPUS[index])
    assert not soft404.quick_clean(page)
    assert flagged(page)


# -- the keys that let a substring test skip a regex --------------------------------------------
def spellings(items: object) -> list[str]:
    """Every string a finite pattern matches (``\\s*``-style runs dropped, ``x?`` both ways)."""
    import re._constants as c

    out = [""]
    for op, arg in items:  # type: ignore[attr-defined]
        if op is c.LITERAL:
            tails = [chr(arg)]
        elif op is c.AT:
            tails = [""]
        elif op is c.BRANCH:
            tails = [s for branch in arg[1] for s in spellings(branch)]
        elif op is c.SUBPATTERN:
            tails = spellings(arg[3])
        elif op is c.MAX_REPEAT and arg[1] == 1:
            tails = ["", *spellings(arg[2])]
        elif op is c.MAX_REPEAT and arg[2][0][0] is c.IN:  # \s* and the like
            tails = [""]
        elif op is c.IN and all(kind is c.LITERAL for kind, _ in arg):
            tails = [chr(code) for _, code in arg]
        else:
            raise AssertionError(f"extend spellings() for {op}")
        out = [head + tail for head in out for tail in tails]
    return out


@pytest.mark.parametrize(
    ("pattern", "keys"),
    [
        (soft404.STRONG_PHRASES, soft404.STRONG_KEYS),
        (soft404.INTL_PHRASES, soft404.INTL_KEYS),
        (soft404.WEAK_PHRASES, soft404.WEAK_KEYS),
        (soft404.PARKED_MARKERS, soft404.PARKED_KEYS),
        (generic.CHALLENGE_ON_200, generic.CHALLENGE_ON_200_KEYS),
    ],
)
def test_every_phrase_contains_one_of_its_keys(pattern: re.Pattern[str], keys: tuple[str]) -> None:
    import re._parser

    phrases = spellings(re._parser.parse(pattern.pattern, pattern.flags))
    assert len(phrases) > 5
    for phrase in phrases:
        assert any(key in phrase.lower() for key in keys), phrase
        assert soft404.mentions(f"Well: {phrase.upper()}.", pattern, keys), phrase


# -- round two (issue 17): home, search and sign-in pages; in-page redirects; fingerprints ------
@pytest.mark.parametrize(
    "url",
    [
        "https://news.example/",
        "https://news.example",
        "https://news.example/?utm_source=feed&utm_medium=rss",
        "https://news.example/#top",
        "https://news.example/index.html",
        "https://news.example/index.php?ref=old",
        "https://news.example/en/",
        "https://news.example/de-ch/index.html",
        "https://news.example/home",
    ],
)
def test_home_pages_are_seen_through_queries_fragments_index_files_and_languages(url: str) -> None:
    assert soft404.is_home_url(url) and not soft404.is_deep(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://news.example/?p=123",  # a WordPress post by id
        "https://news.example/ai/",  # a section that is no language
        "https://news.example/en/world/story",
        "https://news.example/blog/index.html",
    ],
)
def test_deep_pages_are_not_home_pages(url: str) -> None:
    assert not soft404.is_home_url(url) and soft404.is_deep(url)


def test_search_and_sign_in_pages() -> None:
    for url in ("https://n.example/search?q=x", "https://n.example/?s=slug",
                "https://n.example/de/suche/", "https://n.example/search.php?query=a"):  # fmt: skip
        assert soft404.is_search_url(url) and soft404.is_generic_url(url), url
    for url in ("https://n.example/login?next=/a", "https://n.example/users/sign_in",
                "https://n.example/wp-login.php", "https://n.example/account/login"):  # fmt: skip
        assert soft404.is_sign_in_url(url) and soft404.is_generic_url(url), url
    for url in ("https://n.example/research/paper", "https://n.example/2020/searching-well",
                "https://n.example/blog/authors/ann"):  # fmt: skip
        assert not soft404.is_generic_url(url), url


def test_no_permanent_redirect_target_is_a_home_search_or_sign_in_page() -> None:
    url = "https://n.example/2019/05/story"
    for target in ("https://n.example/", "https://n.example/search?q=story",
                   "https://n.example/login?next=x", "https://n.example/en/"):  # fmt: skip
        assert generic.permanent_target(url, [(301, target)]) is None, target
    assert generic.permanent_target(url, [(301, "https://n.example/posts/story")]) is not None


@pytest.mark.parametrize(
    ("markup", "target", "how"),
    [
        ('<meta http-equiv="refresh" content="0; url=/">', "https://b.example/", "meta refresh"),
        (
            "<META CONTENT='5;URL=/404.html' HTTP-EQUIV='Refresh'>",
            "https://b.example/404.html",
            "meta refresh",
        ),
        (
            "<meta http-equiv=refresh content=\"0;url='https://b.example/?s=x'\">",
            "https://b.example/?s=x",
            "meta refresh",
        ),
        ('<script>window.location.href = "/";</script>', "https://b.example/", "script"),
        (
            "<script>\n  location.replace('/not-found');\n</script>",
            "https://b.example/not-found",
            "script",
        ),
        ('<script>document.location="/"</script>', "https://b.example/", "script"),
    ],
)
def test_inpage_redirects_are_read(markup: str, target: str, how: str) -> None:
    page = html_page(f"<html><head>{markup}</head><body><p>Moving on</p></body></html>",
                     url="https://b.example/a/story")  # fmt: skip
    assert soft404.inpage_redirect(page) == (target, how)
    report = soft404.assess(page.url, page)
    assert report.is_soft404, report.explain()


@pytest.mark.parametrize(
    "markup",
    [
        '<meta http-equiv="refresh" content="300">',  # a live blog reloading itself
        '<meta http-equiv="refresh" content="0; url=/posts/new-home-of-story">',
        "<script>if (!ok) { window.location.href = '/'; }</script>",
        "<script>var home = '/'; track(window.location.href);</script>",
    ],
)
def test_harmless_refreshes_and_scripts_do_not_condemn(markup: str) -> None:
    page = html_page(f"<html><head>{markup}<title>A story</title></head><p>{ARTICLE_WORDS}</p>",
                     url="https://b.example/a/story")  # fmt: skip
    assert not soft404.assess(page.url, page).is_soft404


@pytest.mark.parametrize(
    "title", ["Seite nicht gefunden", "Page introuvable", "Página no encontrada",
              "Pagina non trovata", "ページが見つかりません", "页面不存在", "Страница не найдена",
              "Pagina niet gevonden", "Sayfa bulunamadı", "Nie znaleziono strony"],
)  # fmt: skip
def test_not_found_titles_in_other_languages_condemn_short_pages(title: str) -> None:
    page = html_page(f"<html><title>{title}</title><h1>:(</h1><p>—</p></html>")
    assert not soft404.quick_clean(page)
    assert soft404.assess(page.url, page).is_soft404


def test_a_long_article_mentioning_a_foreign_phrase_stays_clean() -> None:
    body = f"<title>Leselisten</title><h1>Leselisten</h1><p>{ARTICLE_WORDS} nicht gefunden</p>"
    assert soft404.assess("https://b.example/de/x", html_page(body)).signals == []


def test_same_page_as_a_made_up_path_is_gone_once_echoed_urls_are_left_out() -> None:
    ours = html_page("<title>Oops</title><p>No page at /article/gone-one, sorry. Go home.</p>",
                     url="https://s.example/article/gone-one")  # fmt: skip
    probe = html_page(
        "<title>Oops</title><p>No page at /article/linkkeeper-probe-ab12, sorry. Go home.</p>",
        url="https://s.example/article/linkkeeper-probe-ab12",
    )
    signal = soft404.probe_signal(ours, probe, ours.url)
    assert signal is not None and signal.name == "same-as-probe" and signal.weight >= 1.0


def test_own_not_found_page_served_with_200_is_gone_and_an_app_shell_is_not() -> None:
    template = "<title>x</title><main><h1>อุ๊ย</h1><p>ไม่พบหน้าที่คุณต้องการ กลับหน้าแรก</p></main>"
    ours = html_page(template, url="https://t.example/old/page")
    real404 = FetchResult(url="https://t.example/old/linkkeeper-probe-1", final_url="u",
                          status=404, headers={"content-type": "text/html"},
                          body=template.encode())  # fmt: skip
    signal = soft404.probe_signal(ours, real404, ours.url)
    assert signal is not None and signal.name == "like-not-found" and signal.weight >= 1.0
    shell = '<title>App</title><div id="root"></div><script src="/main.js"></script>'
    app, same = html_page(shell, url="https://a.example/r/1"), html_page(shell)
    assert soft404.probe_signal(app, same, app.url) is None


def test_a_redirect_where_a_made_up_path_is_redirected_is_gone() -> None:
    ours = html_page("<title>Topics</title><p>All topics</p>",
                     url="https://n.example/blog/2019/old", final_url="https://n.example/topics/",
                     redirects=[(301, "https://n.example/topics/")])  # fmt: skip
    probe = html_page("<title>Topics</title><p>All topics</p>",
                      url="https://n.example/blog/2019/linkkeeper-probe-x",
                      final_url="https://n.example/topics/",
                      redirects=[(301, "https://n.example/topics/")])  # fmt: skip
    signal = soft404.probe_signal(ours, probe, ours.url)
    assert signal is not None and signal.name == "same-as-probe"
    assert soft404.worth_probing(ours.url, ours, soft404.Soft404Report())
