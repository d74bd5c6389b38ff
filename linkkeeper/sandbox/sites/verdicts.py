"""news.example, intl.example, thai.example, home.example: the soft 404s a first round missed.

Imitates, from InternetArchiveBot's dead-link rules (wikimedia/DeadlinkChecker) and common pages
on the web: deep links bounced home with something after it (``/?utm_source=``, ``/#top``,
``/index.html``, ``/en/``), bounced to the site's search page for their own slug, in-page
redirects (``<meta http-equiv="refresh">``, one-line scripts) served with 200, not-found pages
in the web's other big languages served with 200, a site whose own not-found template (in a
language no phrase list covers) is served with 200, and a host answering every path with its
home page. Next to each, the live page that must stay ok.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from urllib.parse import quote

from aiohttp import web

from linkkeeper.sandbox.sites._common import (
    Handler,
    article_page,
    build_app,
    html_response,
    moved_to,
    not_found_page,
    og,
    page,
    prose,
    redirect,
)


def live_article(
    title: str, host: str, extra: str = "", head: str = "", lang: str = "en"
) -> Handler:
    """A long live article (12 paragraphs) on ``host``."""

    async def handler(request: web.Request) -> web.StreamResponse:
        url = f"https://{host}{request.path}"
        text = article_page(
            title,
            og(title, url, site=host) + head,
            "Desk · 2024-01-05",
            12,
            request.path,
            extra,
            site=host,
        )
        if lang != "en":
            text = text.replace('<html lang="en">', f'<html lang="{lang}">', 1)
        return html_response(text)

    return handler


def fixed_page(text: str, status: int = 200) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return html_response(text, status=status)

    return handler


# -- news.example: a news site that sends lost stories home or to its search ----------------
NEWS = "news.example"
NEWS_HOME = page(
    "The Daily Example - News, analysis and opinion",
    '<header><nav><a href="/">Home</a> · <a href="/world/">World</a> · <a href="/search">'
    "Search</a></nav></header><main><h1>The Daily Example</h1>"
    + prose("news home", 4)
    + '<ul><li><a href="/2024/01/live-story">Reading groups are back</a></li></ul></main>',
    '<link rel="canonical" href="https://news.example/">',
)


async def news_search(request: web.Request) -> web.StreamResponse:
    query = html.escape(request.query.get("q", ""))
    body = (
        f'<main><h1>Search</h1><form action="/search"><input name="q" value="{query}"></form>'
        f"<p>Results for “{query}”: 0 stories.</p></main>"
    )
    return html_response(page(f"Search: {query} - The Daily Example", body))


def meta_refresh(target: str, delay: int = 0) -> str:
    return page(
        "Redirecting…",
        f'<p>You are being redirected. <a href="{target}">Continue</a>.</p>',
        f'<meta http-equiv="refresh" content="{delay}; url={target}">',
    )


def script_redirect(statement: str) -> str:
    return page("The Daily Example", f"<script>{statement}</script><noscript>Enable JS</noscript>")


async def news_unknown(request: web.Request) -> web.StreamResponse:
    """Every unknown story is sent to a search for its slug (as many news sites do)."""
    slug = request.path.rstrip("/").rsplit("/", 1)[-1]
    return redirect(f"https://{NEWS}/search?q={quote(slug)}", 301)


CONDITIONAL_SCRIPT = (
    "<script>var seen = localStorage.getItem('consent');\n"
    "if (!seen) { window.location.href = '/'; }</script>"
)


def news_app() -> web.Application:
    story = live_article("Reading groups are back", NEWS)
    return build_app(
        [
            web.get("/", fixed_page(NEWS_HOME)),
            web.get("/index.html", fixed_page(NEWS_HOME)),
            web.get("/en/", fixed_page(NEWS_HOME)),
            web.get("/search", news_search),
            web.get("/2024/01/live-story", story),
            web.get("/world/utm-story", moved_to("/?utm_source=old-link&utm_medium=redirect", 301)),
            web.get("/world/top-story", moved_to("/#top", 302, absolute=False)),
            web.get("/world/index-story", moved_to("/index.html", 301)),
            web.get("/en/world/lang-story", moved_to("/en/", 301)),
            web.get("/world/section-story", moved_to("/ai/", 301, absolute=False)),
            web.get("/ai/", live_article("AI desk", NEWS)),
            web.get("/2019/05/search-story", moved_to("/search?q=search-story", 301)),
            web.get("/meta-home", fixed_page(meta_refresh("/"))),
            web.get("/meta-404", fixed_page(meta_refresh("/404.html", 3))),
            web.get("/404.html", not_found_page("Page not found", "Nothing here.")),
            web.get("/js-home", fixed_page(script_redirect('window.location.href = "/";'))),
            web.get("/js-404", fixed_page(script_redirect("location.replace('/not-found');"))),
            web.get(
                "/meta-live",
                live_article("Live blog", NEWS, head='<meta http-equiv="refresh" content="300">'),
            ),
            web.get("/js-conditional", live_article("Consent story", NEWS, CONDITIONAL_SCRIPT)),
            web.get("/members/story", moved_to("/login?next=/members/story", 302)),
            # an old story rewritten (inside the server, no redirect) to the home page
            web.get("/2017/02/rewritten-story", fixed_page(NEWS_HOME)),
            # a live story whose template declares the home page as canonical (a common slip)
            web.get(
                "/2024/02/canonical-slip",
                live_article(
                    "Canonical slip",
                    NEWS,
                    head='<link rel="canonical" href="https://news.example/">',
                ),
            ),
            web.get(
                "/login",
                fixed_page(page("Sign in - The Daily Example", "<h1>Sign in</h1><form></form>")),
            ),
        ],
        news_unknown,
    )


# -- intl.example: not-found pages in other languages, served with 200 -------------------------
INTL = "intl.example"
# language code -> (title, heading, sentence) as real sites word them
NOT_FOUND_PAGES: dict[str, tuple[str, str, str]] = {
    "de": ("Seite nicht gefunden", "Fehler 404", "Die angeforderte Seite existiert nicht."),
    "fr": ("Page introuvable", "Oups !", "La page que vous cherchez n'existe pas."),
    "es": ("Página no encontrada", "Vaya", "Lo sentimos, la página no existe."),
    "it": ("Pagina non trovata", "Ops", "La pagina che cerchi non esiste."),
    "pt": ("Página não encontrada", "Ops", "A página que você procura não existe."),
    "nl": ("Pagina niet gevonden", "Oeps", "Deze pagina bestaat niet (meer)."),
    "pl": ("Nie znaleziono strony", "Ups", "Strona nie istnieje."),
    "ru": ("Страница не найдена", "Ошибка", "Запрашиваемая страница не существует."),
    "ja": ("ページが見つかりません", "エラー", "お探しのページは存在しません。"),
    "zh": ("页面不存在", "出错了", "抱歉，您访问的页面找不到了。"),
    "tr": ("Sayfa bulunamadı", "Hata", "Aradığınız sayfa mevcut değil."),
    "ko": ("페이지를 찾을 수 없습니다", "오류", "요청하신 페이지를 찾을 수 없습니다."),
    "fa": ("صفحه مورد نظر یافت نشد", "خطا", "صفحه‌ای که دنبال آن هستید وجود ندارد."),
    "vi": ("Không tìm thấy trang", "Lỗi", "Trang bạn tìm không tồn tại."),
    "id": ("Halaman tidak ditemukan", "Maaf", "Halaman yang Anda cari tidak ada."),
    "cs": ("Stránka nenalezena", "Chyba", "Požadovaná stránka neexistuje."),
    "ar": ("الصفحة غير موجودة", "خطأ", "عذراً، الصفحة المطلوبة غير موجودة."),
}
# A long live article that mentions the phrase in passing: must stay ok.
GERMAN_NOTE = (
    "<p>Hinweis: Wenn ein Link nicht gefunden wird, hilft oft das Archiv; diese Seite "
    "erklärt, wie Leselisten gepflegt werden.</p>"
)


def intl_not_found(lang: str) -> Handler:
    title, heading, sentence = NOT_FOUND_PAGES[lang]
    body = (
        f'<header><nav><a href="/{lang}/">{INTL}</a></nav></header>'
        f"<main><h1>{html.escape(heading)}</h1><h2>{html.escape(title)}</h2>"
        f'<p>{html.escape(sentence)}</p><p><a href="/{lang}/">⌂</a></p></main>'
    )
    return fixed_page(page(title, body, lang=lang))


def intl_app() -> web.Application:
    routes = [web.get(f"/{lang}/artikel/weg", intl_not_found(lang)) for lang in NOT_FOUND_PAGES]
    routes += [
        web.get(
            "/de/artikel/leselisten",
            live_article("Leselisten pflegen", INTL, GERMAN_NOTE, lang="de"),
        ),
        web.get("/de/", fixed_page(page("intl.example", "<h1>Willkommen</h1>", lang="de"))),
    ]
    return build_app(routes, not_found_page("Not Found", "No such page."))


# -- thai.example: its own not-found template, in a language no phrase list covers -------------
THAI = "thai.example"
THAI_NOT_FOUND = page(
    "thai.example",
    '<header><nav><a href="/">หน้าแรก</a> · <a href="/about">เกี่ยวกับเรา</a></nav></header>'
    "<main><h1>อุ๊ย</h1><p>ขออภัย เราไม่พบหน้าที่คุณต้องการ กรุณาตรวจสอบที่อยู่อีกครั้ง "
    'หรือกลับไปที่หน้าแรก</p><p><a href="/">กลับหน้าแรก</a></p></main>'
    "<footer><p>© thai.example</p></footer>",
    lang="th",
)
THAI_ABOUT = page(
    "เกี่ยวกับเรา - thai.example",
    '<header><nav><a href="/">หน้าแรก</a> · <a href="/about">เกี่ยวกับเรา</a></nav></header>'
    "<main><h1>เกี่ยวกับเรา</h1><p>กลุ่มอ่านหนังสือของเราพบกันทุกสัปดาห์ "
    "เพื่อพูดคุยเรื่องบทความและงานวิจัยด้านการเรียนรู้ของเครื่อง</p></main>"
    "<footer><p>© thai.example</p></footer>",
    lang="th",
)


def thai_app() -> web.Application:
    return build_app(
        [
            web.get("/old/gone-page", fixed_page(THAI_NOT_FOUND)),  # the template, with 200
            web.get("/about", fixed_page(THAI_ABOUT)),  # short, live
            web.get("/article/live", live_article("บทความ", THAI, lang="th")),
        ],
        fixed_page(THAI_NOT_FOUND, status=404),
    )


# -- home.example: every path answers 200 with the home page ----------------------------------
HOME = "home.example"
HOME_PAGE = page(
    "Example Studio — design and research",
    '<header><nav><a href="/">Home</a> · <a href="/work">Work</a> · <a href="/blog">Blog</a>'
    "</nav></header><main><h1>Example Studio</h1>"
    + prose("studio home", 1)
    + "<p>We design tools for reading groups.</p></main><footer>© Example Studio</footer>",
)


def home_app() -> web.Application:
    return build_app([], fixed_page(HOME_PAGE))


# -- down hosts: servers answering 5xx on every path (an organizer's bad morning) -------------
MAINTENANCE = page(
    "Down for maintenance",
    "<main><h1>We'll be back soon</h1><p>Scheduled maintenance: back in an hour.</p></main>",
)


def down_app(status: int, retry_after: str | None = None) -> Callable[[], web.Application]:
    """An app answering ``status`` on every path (503 with ``Retry-After`` for maintenance)."""
    headers = {"Retry-After": retry_after} if retry_after else None
    text = MAINTENANCE if status == 503 else page(f"Error {status}", f"<h1>Error {status}</h1>")

    def make() -> web.Application:
        async def handler(request: web.Request) -> web.StreamResponse:
            return html_response(text, status=status, headers=headers)

        return build_app([], handler)

    return make


# -- app.example: a single-page app, the same shell on every path ----------------------------
APP_SHELL = page(
    "Reader",
    '<noscript>You need to enable JavaScript to run this app.</noscript><div id="root"></div>'
    '<script src="/static/js/main.3f2a1b.js"></script>',
)


def app_app() -> web.Application:
    """Every path answers the same shell (an SPA's fallback); the script renders the page."""
    return build_app([], fixed_page(APP_SHELL))
