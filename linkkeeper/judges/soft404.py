"""Soft-404 detection: a 200 answer that is really "not found".

About three in ten dead links answer 200 (Bar-Yossef et al., WWW 2004): a short "Page not
found" page, a deep link bounced to the home page or to ``/404``, a parked-domain lander, an
empty body. Loose phrases ("has been removed") appear in live articles too, so each signal
carries a weight and only a total of :data:`THRESHOLD` condemns a page: one weak signal alone
never does. A random sibling probe (a made-up path next to ours on the same host) tells whether
the site does real 404s at all and whether our page looks like its not-found page.

Speed: walking a page's text and running every phrase pattern over it costs several times
what fetching it does (1.7 ms against 0.3 ms for a 5 KB article), so a cheap pass over the
markup (:func:`quick_clean`, 0.13 ms) first rules out the common case, an ordinary page with a
title, no not-found, apology or parking words anywhere and no structure the pass cannot read.
Only pages it cannot clear are walked, from the shared parse (:meth:`FetchResult.tree`).
"""

from __future__ import annotations

import asyncio
import difflib
import html
import re
import secrets
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import parse_qsl, urljoin, urlsplit

from linkkeeper.core import FetchResult
from linkkeeper.web import mentions

THRESHOLD = 1.0  # total weight that makes a 200 page a soft 404
SHORT_PAGE_WORDS = 250  # visible words below which a not-found heading is telling
MAX_PARSE_BYTES = FetchResult.PARSE_LIMIT  # never parse more than this of a body
PROBE_SIMILARITY = 0.8  # probe and page this alike (0..1): our page may be the not-found page
APP_SHELL_WORDS = 20  # fewer visible words, and scripts: a single-page app's shell
SAME_PAGE = 0.95  # this alike (echoed URLs left out): the very page a made-up path gets
PROBE_PREFIX = "linkkeeper-probe-"

# Phrases a not-found page puts in its title or main heading. Strong ones mean "not found"
# on their own; weak ones are common in live pages too (apologies, "oops", "removed").
STRONG_PHRASES = re.compile(
    r"\b(?:404|page not found|not found|file not found|page (?:does not|doesn't) exist"
    r"|(?:no longer|not) (?:available|exists?)|(?:can ?not|can't|could ?not|couldn't) be found"
    r"|(?:can't|cannot|could not|couldn't) find (?:the|that|this) page|nothing (?:was )?found"
    r"|page (?:is )?missing|no such (?:page|file|article|post)|does not exist)\b",
    re.IGNORECASE,
)
# The same in the web's most used other languages (W3Techs' top content languages: Spanish,
# German, Japanese, French, Russian, Portuguese, Italian, Dutch, Polish, Turkish, Persian,
# Chinese, Vietnamese, Indonesian, Korean, Czech, Arabic). No ``\b`` around the CJK ones: a
# word boundary never falls between two CJK characters. Weighed exactly like the English
# phrases; the probe comparison (:func:`probe_signal`) needs no phrase at all.
INTL_PHRASES = re.compile(
    r"\b(?:seite nicht gefunden|nicht gefunden|existiert nicht|fehler 404"  # de
    r"|page introuvable|introuvable|page non trouv[ée]e|n'existe pas|n’existe pas"  # fr
    r"|p[áa]gina no encontrada|no encontrad[ao]|no se (?:ha )?encontr[óo]|no existe"  # es
    r"|pagina non trovata|non trovat[ao]|non esiste"  # it
    r"|p[áa]gina n[ãa]o encontrada|n[ãa]o encontrad[ao]|n[ãa]o existe"  # pt
    r"|pagina niet gevonden|niet gevonden|bestaat niet"  # nl
    r"|nie znaleziono|strona nie istnieje|nie istnieje"  # pl
    r"|страница не найдена|не найден[ао]?|не существует"  # ru
    r"|sayfa bulunamad[ıi]|bulunamad[ıi]"  # tr
    r"|không tìm thấy|trang không tồn tại"  # vi
    r"|halaman tidak ditemukan|tidak ditemukan"  # id
    r"|stránka nenalezena|nenalezen[ao]"  # cs
    r")\b"
    r"|ページが見つかりません|見つかりません|存在しません"  # ja
    r"|页面不存在|找不到页面|页面未找到|頁面不存在|找不到網頁|找不到"  # zh
    r"|페이지를 찾을 수 없습니다|찾을 수 없"  # ko
    r"|صفحه مورد نظر یافت نشد|یافت نشد"  # fa
    r"|الصفحة غير موجودة|غير موجودة|لم يتم العثور",  # ar
    re.IGNORECASE,
)
WEAK_PHRASES = re.compile(
    r"\b(?:oops|sorry|has been (?:removed|deleted|taken down)|was (?:removed|deleted)"
    r"|gone|error|unavailable|lost)\b",
    re.IGNORECASE,
)
PARKED_MARKERS = re.compile(
    r"(?:this domain (?:name )?(?:is|may be) for sale|domain (?:is )?for sale|buy this domain"
    r"|this domain (?:has been|is) (?:registered|parked)|parked (?:free|domain)|domain parking"
    r"|sedoparking|parkingcrew|bodis\.com|above\.com|hugedomains|afternic|dan\.com/buy"
    r"|is available for purchase|make an offer on this domain)",
    re.IGNORECASE,
)
# Lower-case words at least one of which every match of the pattern above contains: a plain
# substring test (C speed) rules a pattern out before its regex, which is slow over a whole
# page, has to run. tests/test_soft404.py checks every phrase of each pattern has one.
STRONG_KEYS = ("404", "found", "exist", "available", "find", "missing", "such")
INTL_KEYS = (
    "gefunden", "existiert", "404", "introuvable", "trouv", "existe", "encontr", "trovat",
    "esiste", "gevonden", "bestaat", "znaleziono", "istnieje", "найден", "существ", "bulunama",
    "tìm thấy", "tồn tại", "ditemukan", "nenalezen", "見つかりません", "存在しません", "不存在",
    "找不到", "未找到", "찾을 수 없", "یافت نشد", "موجودة", "العثور",
)  # fmt: skip
WEAK_KEYS = ("oops", "sorry", "removed", "deleted", "taken", "gone", "error", "unavailable", "lost")
PARKED_KEYS = (
    "domain",
    "parked",
    "parking",
    "bodis",
    "above.com",
    "afternic",
    "dan.com",
    "purchase",
)
PARKING_HOSTS = (
    "sedo.com",
    "afternic.com",
    "dan.com",
    "hugedomains.com",
    "parkingcrew.net",
    "bodis.com",
    "godaddy.com/domainsearch",
    "undeveloped.com",
)
ROOT_PATHS = {"", "/", "/index.html", "/index.htm", "/index.php", "/home", "/home/"}
NOT_FOUND_PATH = re.compile(
    r"(?:^|/)(?:404|error[-_]?404|not[-_]?found|page[-_]?not[-_]?found|errors?)(?:/|\.\w+|$)",
    re.IGNORECASE,
)


class Fetches(Protocol):
    """What the probe needs from :class:`linkkeeper.web.fetcher.Fetcher`."""

    async def fetch(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        max_body: int | None = None,
    ) -> FetchResult: ...


@dataclass(frozen=True)
class Signal:
    """One reason to suspect a soft 404, with its weight (negative weights acquit)."""

    name: str
    weight: float
    detail: str


@dataclass
class Soft404Report:
    """The signals that fired on one page and what they add up to."""

    signals: list[Signal] = field(default_factory=list)
    words: int | None = None  # visible words of the page (exact, or the cheap pass's estimate)

    @property
    def score(self) -> float:
        return round(sum(s.weight for s in self.signals), 3)

    @property
    def is_soft404(self) -> bool:
        return self.score >= THRESHOLD

    @property
    def suspicious(self) -> bool:
        """Something fired but not enough: worth a sibling probe."""
        return 0 < self.score < THRESHOLD

    def explain(self) -> str:
        """``"deep link redirected to the site root (+1.0); ..."`` for the verdict's reason."""
        if not self.signals:
            return "no soft-404 signals"
        return "; ".join(f"{s.detail} ({s.weight:+.1f})" for s in self.signals)


_WEIGHTS = re.compile(r"\s*\([+-]\d+(?:\.\d+)?\)")


def for_members(reason: str) -> str:
    """A verdict's reason without the signal weights ("(+1.0)"): they explain the verdict to
    an organizer; members read the words."""
    return _WEIGHTS.sub("", reason)


@dataclass(frozen=True)
class PageText:
    """The parts of an HTML page the signals look at."""

    title: str
    headings: tuple[str, ...]
    text: str  # visible text, whitespace-collapsed
    has_scripts: bool

    @property
    def words(self) -> int:
        return len(self.text.split())


# Elements whose text a reader does not see (the title is read on its own).
HIDDEN = frozenset({"script", "style", "noscript", "template", "title"})


def page_text(page: FetchResult) -> PageText:
    """Title, ``<h1>``s and visible text of a (capped) HTML body, from the shared parse."""
    from linkkeeper.core import first, strings, text_of

    root = page.tree()
    title_tag = first(root, "title")
    title = text_of(title_tag) if title_tag is not None else ""
    headings = tuple(text_of(h) for h in root.iter("h1"))
    has_scripts = first(root, "script") is not None
    visible = strings(root, skip=lambda element: element.tag in HIDDEN)
    text = " ".join(" ".join(visible).split())
    return PageText(title=title, headings=headings, text=text, has_scripts=has_scripts)


# -- the cheap first pass ------------------------------------------------------------------
QUICK_LONG_WORDS = 2 * SHORT_PAGE_WORDS  # margin: the pass's word count is an estimate
# What must open and close in pairs for the pass to read the page (else it is parsed).
_PAIRS = (
    *((f"<{name}", f"</{name}") for name in ("script", "style", "noscript", "template")),
    ("<title", "</title"),
    ("<h1", "</h1"),
    ("<!--", "-->"),
)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_HIDDEN_BLOCK = re.compile(
    r"<(script|style|noscript|template|title)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL
)
_TAG = re.compile(r"</?[a-zA-Z][^>]*>|<![^>]*>|<\?[^>]*>")
_TITLE_OR_H1 = re.compile(r"<(title|h1)\b[^>]*>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL)


def _plain(markup: str) -> str:
    """Tags out, entities decoded, whitespace collapsed (as the parse's text would be)."""
    return " ".join(html.unescape(_TAG.sub(" ", markup)).split())


def not_found_phrase(text: str) -> re.Match[str] | None:
    """The first not-found phrase in ``text``, English or another of the web's big languages."""
    found = STRONG_PHRASES.search(text) if mentions(text, STRONG_PHRASES, STRONG_KEYS) else None
    if found is None and mentions(text, INTL_PHRASES, INTL_KEYS):
        found = INTL_PHRASES.search(text)
    return found


def _balanced(lower: str) -> bool:
    """Whether the blocks the pass relies on open and close in pairs (plain counts: fast)."""
    for opening, closing in _PAIRS:
        count = lower.count(opening)
        if (count and count != lower.count(closing)) or (not count and closing in lower):
            return False
    return True


def quick_clean(page: FetchResult) -> bool:
    """True when a regex pass proves that no page signal (not-found or apology phrase, parking
    marker, empty page) can fire, so the page needs no parse; any doubt gives False.

    Conservative by construction: the patterns run over at least what the parse would show
    (titles, ``<h1>`` s and text, entities decoded); the phrases that only count on short
    pages (weak ones, any in the text) are skipped only well above the short-page size; a
    page without a titled or headed text is left to the parse (it may be empty), and so is
    one whose hidden blocks, titles, headings or comments do not open and close in pairs.
    """
    return _quick_scan(page)[0]


def _quick_scan(page: FetchResult) -> tuple[bool, int | None]:
    """:func:`quick_clean` and, when the pass got that far, its estimate of the words."""
    final = page.final_url.lower()
    if any(host in final for host in PARKING_HOSTS):
        return False, None
    markup = page.text(MAX_PARSE_BYTES)
    if not _balanced(markup.lower()):
        return False, None
    markup = _COMMENT.sub(" ", markup)
    heads = " | ".join(_plain(m.group(2)) for m in _TITLE_OR_H1.finditer(markup))
    if not heads.strip() or not_found_phrase(heads):
        return False, None  # no title or heading (an empty page?), or a not-found phrase in one
    body = _TAG.sub(" ", _HIDDEN_BLOCK.sub(" ", markup))
    if "&" in body:
        body = html.unescape(body)
    words = body.split()
    if not words:
        return False, len(words)
    # keys first (substring tests); the normalised text only when one is there
    lower = f"{heads} | {body}".lower()
    short = len(words) < QUICK_LONG_WORDS  # weak words in headings and any in the text count
    checks = [(PARKED_MARKERS, PARKED_KEYS)]
    if short:
        checks += [
            (STRONG_PHRASES, STRONG_KEYS),
            (INTL_PHRASES, INTL_KEYS),
            (WEAK_PHRASES, WEAK_KEYS),
        ]
    text = ""
    for pattern, keys in checks:
        if any(key in lower for key in keys):
            text = text or f"{heads} | {' '.join(words)}"
            if pattern.search(text):
                return False, len(words)
    return True, len(words)


# -- the signals ---------------------------------------------------------------------------
def phrase_signal(text: PageText) -> Signal | None:
    """Not-found phrases: telling in the title or ``<h1>`` of a short page, weak elsewhere."""
    short = text.words < SHORT_PAGE_WORDS
    heads = " | ".join((text.title, *text.headings))
    strong = not_found_phrase(heads)
    weak = WEAK_PHRASES.search(heads)
    if strong:
        where = f"'{strong.group(0)}' in the title/heading"
        if short:
            return Signal("not-found-heading", 1.0, f"{where} of a short page")
        return Signal("not-found-heading", 0.4, f"{where} of a long page")
    body_strong = not_found_phrase(text.text) if short else None
    if weak and short:
        detail = f"'{weak.group(0)}' in the title/heading of a short page"
        return Signal("weak-heading", 0.5, detail)
    if body_strong and short:
        return Signal("not-found-text", 0.5, f"'{body_strong.group(0)}' in a short page's text")
    body_weak = WEAK_PHRASES.search(text.text)
    if body_weak and short:
        return Signal("weak-text", 0.2, f"'{body_weak.group(0)}' in a short page's text")
    return None


# Home pages: the root, an index file, a language root (/en/, /de-ch/index.html).
LANGUAGES = frozenset(
    re.findall(
        r"\w+",
        "en de fr es it pt nl pl ru ja zh ko tr fa ar vi id cs sv da no nb fi el he hu ro uk bg "
        "hr sk sl sr lt lv et th hi bn ms ca eu gl",
    )
)
INDEX_FILE = re.compile(r"/(?:index|default|home)(?:\.[a-z]{2,5})?/?$", re.IGNORECASE)
LANGUAGE_ROOT = re.compile(r"^/([a-z]{2})(?:[-_][a-z]{2})?/?$", re.IGNORECASE)
# Query keys that only track where a visitor came from: /?utm_source=feed is still the root.
TRACKING_KEYS = frozenset({"ref", "source", "src", "from", "fbclid", "gclid", "mc_cid", "mc_eid"})
SEARCH_KEYS = frozenset({"s", "q", "query", "search", "keyword", "keywords", "term", "searchterm"})
SEARCH_PATH = re.compile(
    r"(?:^|/)(?:search|suche|recherche|buscar|busca|cerca|zoeken|szukaj|poisk)"
    r"(?:/|\.[a-z]{2,5}|$)",
    re.IGNORECASE,
)
SIGN_IN_PATH = re.compile(
    r"(?:^|/)(?:log[-_]?in|sign[-_]?in|signon|sso|auth|authenticate|authorize|session/new"
    r"|account/login|users/sign_in|wp-login\.php|cas/login)(?:/|\.[a-z]{2,5}|$)",
    re.IGNORECASE,
)


def _query_keys(query: str) -> set[str]:
    return {k.lower() for k, _ in parse_qsl(query, keep_blank_values=True)}


def is_home_url(url: str) -> bool:
    """The site's home page: root, index file or language root, whatever the fragment, and
    whatever tracking query (``/?utm_source=x``, ``/#top``, ``/index.html``, ``/en/``)."""
    parts = urlsplit(url)
    path = INDEX_FILE.sub("/", parts.path or "/")
    lang = LANGUAGE_ROOT.match(path)
    if path not in ROOT_PATHS and not (lang and lang.group(1).lower() in LANGUAGES):
        return False
    keys = _query_keys(parts.query)
    return all(k.startswith("utm_") or k in TRACKING_KEYS for k in keys)


def is_search_url(url: str) -> bool:
    """The site's search page (``/search?q=slug``, ``/?s=slug``)."""
    parts = urlsplit(url)
    if SEARCH_PATH.search(parts.path):
        return True
    path = INDEX_FILE.sub("/", parts.path or "/")
    return path in ROOT_PATHS and bool(_query_keys(parts.query) & SEARCH_KEYS)


def is_sign_in_url(url: str) -> bool:
    """A log-in page (``/login?next=...``, ``/users/sign_in``, ``/wp-login.php``)."""
    return bool(SIGN_IN_PATH.search(urlsplit(url).path))


def is_generic_url(url: str) -> bool:
    """A home, search or sign-in page: never a reading's new address."""
    return is_home_url(url) or is_search_url(url) or is_sign_in_url(url)


def is_deep(url: str) -> bool:
    """A link to one page of a site, not to its home page (``/en/`` is a home page)."""
    return not is_home_url(url)


def same_site(a: str, b: str) -> bool:
    host_a = (urlsplit(a).hostname or "").removeprefix("www.")
    host_b = (urlsplit(b).hostname or "").removeprefix("www.")
    return host_a == host_b


def destination_signal(requested: str, target: str, how: str) -> Signal | None:
    """Where a deep link ends up (``how``: "redirected", "sent by the page"), when that says
    the page is gone: the site's root, its search page or a ``/404``-like URL."""
    start, end = urlsplit(requested), urlsplit(target)
    if NOT_FOUND_PATH.search(end.path) and not NOT_FOUND_PATH.search(start.path):
        return Signal("redirect-to-404", 1.0, f"{how} to a not-found URL ({end.path})")
    if not is_deep(requested):
        return None
    if is_home_url(target):
        where = "site root" if end.path in ROOT_PATHS else f"site's home page ({end.path})"
        return Signal("redirect-to-root", 1.0, f"deep link {how} to the {where} ({end.netloc})")
    if is_search_url(target) and not is_search_url(requested) and same_site(requested, target):
        shown = end.path + (f"?{end.query}" if end.query else "")
        return Signal("redirect-to-search", 1.0, f"deep link {how} to the site's search ({shown})")
    return None


def redirect_signal(requested: str, page: FetchResult) -> Signal | None:
    """A deep link redirected to the site root (through query strings, fragments, index files
    and language roots), to its search page or to a ``/404``-like URL (IABot counts the first
    and the last)."""
    if not page.redirects:
        return None
    return destination_signal(requested, page.final_url, "redirected")


# In-page redirects: <meta http-equiv="refresh" content="0; url=/"> and one-line scripts
# (``window.location = "/"``, ``location.replace('/404')``).
_META = re.compile(r"<meta\b[^>]*>", re.IGNORECASE)
_REFRESH = re.compile(r"http-equiv\s*=\s*[\"']?refresh", re.IGNORECASE)
_CONTENT = re.compile(r"content\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+))", re.IGNORECASE)
_REFRESH_URL = re.compile(r"^\s*\d*(?:\.\d*)?\s*[;,]\s*(?:url\s*=\s*)?['\"]?([^'\"]+)", re.I)
_SCRIPT_REDIRECT = re.compile(
    r"<script\b[^>]*>\s*(?:(?:window|document|top|self)\.)?location"
    r"(?:\.href\s*=\s*|\s*=\s*|\.(?:replace|assign)\(\s*)([\"'])([^\"'<>]+)\1\s*\)?\s*;?\s*"
    r"</script>",
    re.IGNORECASE,
)


def inpage_redirect(page: FetchResult) -> tuple[str, str] | None:
    """``(target URL, "meta refresh" | "script")`` when the page sends the browser elsewhere."""
    markup = page.text(MAX_PARSE_BYTES)
    lower = markup.lower()
    base = page.final_url or page.url
    if "refresh" in lower:
        for tag in _META.finditer(markup):
            if not _REFRESH.search(tag.group(0)):
                continue
            content = _CONTENT.search(tag.group(0))
            value = next((g for g in content.groups() if g is not None), "") if content else ""
            found = _REFRESH_URL.match(html.unescape(value))
            if found:
                return urljoin(base, found.group(1).strip()), "meta refresh"
    if "location" in lower:
        script = _SCRIPT_REDIRECT.search(markup)
        if script:
            return urljoin(base, html.unescape(script.group(2).strip())), "script"
    return None


def inpage_redirect_signal(requested: str, page: FetchResult) -> Signal | None:
    """A page served with 200 that sends the browser to the home page or a not-found URL."""
    found = inpage_redirect(page)
    if found is None:
        return None
    target, how = found
    signal = destination_signal(requested, target, f"sent by the page's {how}")
    if signal is None:
        return None
    return Signal(f"inpage-{signal.name}", signal.weight, signal.detail)


def parked_signal(page: FetchResult, text: PageText) -> Signal | None:
    """A domain parking lander or a bounce to a domain marketplace."""
    final = page.final_url.lower()
    for host in PARKING_HOSTS:
        if host in final:
            return Signal("parked", 1.0, f"redirected to a domain marketplace ({host})")
    marker = PARKED_MARKERS.search(f"{text.title} | {' | '.join(text.headings)}")
    if marker:
        return Signal("parked", 1.0, f"parked-domain lander ('{marker.group(0)}')")
    marker = PARKED_MARKERS.search(text.text)
    if marker and text.words < SHORT_PAGE_WORDS:
        return Signal("parked", 1.0, f"parked-domain lander ('{marker.group(0)}')")
    if marker:
        return Signal("parked-mention", 0.2, f"mentions '{marker.group(0)}'")
    return None


def empty_signal(page: FetchResult, text: PageText | None) -> Signal | None:
    """An empty 200 body; a page of scripts without text (an app) is not empty."""
    if not page.body.strip():
        return Signal("empty-body", 1.0, "the page body is empty")
    if text is not None and text.words == 0 and not text.title and not text.has_scripts:
        return Signal("empty-page", 1.0, "the page has no title and no text")
    return None


def is_html(page: FetchResult) -> bool:
    ctype = page.content_type
    if ctype:
        return ctype in {"text/html", "application/xhtml+xml"}
    return page.body.lstrip()[:200].lower().startswith((b"<!doctype html", b"<html"))


def assess(requested: str, page: FetchResult) -> Soft404Report:
    """Every signal that needs no extra request, for a 2xx answer to ``requested``."""
    report = Soft404Report()
    html_page = is_html(page) and bool(page.body.strip())
    text = None
    if html_page:
        clean, report.words = _quick_scan(page)
        if not clean:
            text = page_text(page)
            report.words = text.words
    candidates = [
        empty_signal(page, text),
        redirect_signal(requested, page) or inpage_redirect_signal(requested, page),
    ]
    if text is not None:
        candidates += [parked_signal(page, text), phrase_signal(text)]
    report.signals = [s for s in candidates if s is not None]
    return report


# -- the sibling probe ---------------------------------------------------------------------
def probe_url(url: str, token: str | None = None) -> str:
    """A made-up sibling of ``url``: same host and parent folder, random last segment."""
    token = token or secrets.token_hex(6)
    parts = urlsplit(url)
    path = parts.path or "/"
    parent = path if path.endswith("/") and path != "/" else path.rsplit("/", 1)[0] + "/"
    if parent.endswith("//"):
        parent = "/"
    return urljoin(f"{parts.scheme}://{parts.netloc}{parent}", f"{PROBE_PREFIX}{token}")


def similarity(a: PageText, b: PageText, echoes: tuple[str, ...] = ()) -> float:
    """How alike two pages read (0..1), on their visible words and titles; words holding one
    of ``echoes`` (the requested path, the probe's token) are left out: a not-found page that
    repeats the URL asked for is the same page for every URL."""
    needles = tuple(e.lower() for e in echoes if e)

    def words(text: PageText) -> list[str]:
        out = f"{text.title} {text.text}".lower().split()[:3000]
        return [w for w in out if not any(n in w for n in needles)] if needles else out

    words_a, words_b = words(a), words(b)
    if not words_a and not words_b:
        return 1.0
    return difflib.SequenceMatcher(None, words_a, words_b, autojunk=False).ratio()


def _echoes(requested: str, probe: FetchResult) -> tuple[str, ...]:
    """The last path segments of the reading's URL and of the probe (pages echo them)."""
    out = []
    for url in (requested, probe.url):
        segment = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
        if len(segment) >= 4:
            out.append(segment)
    return tuple(out)


def _redirected_elsewhere(requested: str, page: FetchResult) -> bool:
    if not page.redirects:
        return False
    a, b = urlsplit(requested), urlsplit(page.final_url)
    return (a.hostname, a.path.rstrip("/")) != (b.hostname, b.path.rstrip("/"))


def probe_signal(
    page: FetchResult, probe: FetchResult, requested: str | None = None
) -> Signal | None:
    """Compare our page with the site's answer for a path that cannot exist.

    The same final URL after redirects, or the same page (:data:`SAME_PAGE` alike once echoed
    URLs are left out), means the reading gets what any made-up path gets: gone, whatever
    else the page looks like. A 404 whose page is ours, served with 200, is the site's own
    not-found page. A real 404 for the probe acquits a little; a merely similar 200 weighs
    less than the threshold.
    """
    requested = requested or page.url
    if probe.status is None or probe.error is not None:
        return None
    html_pair = is_html(page) and is_html(probe) and bool(probe.body.strip())
    shell = False
    if html_pair and page.body.strip():
        ours = page_text(page)
        shell = ours.words < APP_SHELL_WORDS and ours.has_scripts
    if probe.status in (404, 410):
        if html_pair and page.body.strip() and not shell:
            ratio = similarity(page_text(page), page_text(probe), _echoes(requested, probe))
            if ratio >= SAME_PAGE:
                detail = (
                    f"the page is the site's own not-found page ({ratio:.0%} alike, what a "
                    f"made-up path gets with {probe.status}), served with {page.status}"
                )
                return Signal("like-not-found", 1.0, detail)
        return Signal("site-does-404", -0.5, f"the site answers a made-up path with {probe.status}")
    if not 200 <= probe.status < 300:
        return None
    if (
        _redirected_elsewhere(requested, page)
        and probe.redirects
        and _same_destination(page.final_url, probe.final_url)
    ):
        detail = f"a made-up path on this site is redirected to the same place ({page.final_url})"
        return Signal("same-as-probe", 1.0, detail)
    if not html_pair:
        return None
    if shell:
        return None  # an app's shell, the same for every path: its script shows the content
    ratio = similarity(page_text(page), page_text(probe), _echoes(requested, probe))
    if ratio >= SAME_PAGE:
        detail = f"a made-up path on this site gets the same page ({ratio:.0%} alike)"
        return Signal("same-as-probe", 1.0, detail)
    if ratio >= PROBE_SIMILARITY:
        return Signal(
            "like-probe",
            0.7,
            f"the site answers a made-up path with 200 and a page {ratio:.0%} like this one",
        )
    return None


def _same_destination(a: str, b: str) -> bool:
    """Same host and path (the query may echo the slug: ``/search?q=<slug>``)."""
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.hostname, pa.path.rstrip("/")) == (pb.hostname, pb.path.rstrip("/"))


def _redirected_up(requested: str, page: FetchResult) -> bool:
    """Redirected to a shallower page (``/blog/2019/post`` -> ``/blog/``): where lost links
    are sent; a move to a page as deep as the link (``/old-post`` -> ``/posts/new``) is not."""
    if not _redirected_elsewhere(requested, page):
        return False
    depth = [
        len([p for p in urlsplit(u).path.split("/") if p]) for u in (requested, page.final_url)
    ]
    return depth[1] < depth[0]


def worth_probing(requested: str, page: FetchResult, report: Soft404Report) -> bool:
    """A probe costs a request: spend it on a deep link whose page is suspicious, was
    redirected to a shallower page, or is short (not-found pages are; so is a home page an
    app serves for every path), never on a home page."""
    if not is_deep(requested) or not is_html(page):
        return False
    if report.suspicious or _redirected_up(requested, page):
        return True
    if report.words is not None:  # counted by assess (exactly, or by the cheap pass)
        return report.words < SHORT_PAGE_WORDS
    if page._tree is not None:  # parsed already: the exact count is free
        return page_text(page).words < SHORT_PAGE_WORDS
    return len(_visible_markup(page.text(MAX_PARSE_BYTES)).split()) < SHORT_PAGE_WORDS


def _visible_markup(markup: str) -> str:
    """The page's text without tags, comments and hidden blocks (a cheap estimate)."""
    return _TAG.sub(" ", _HIDDEN_BLOCK.sub(" ", _COMMENT.sub(" ", markup)))


# One probe per folder per run: readings in the same folder of a host share its answer.
_PROBES: weakref.WeakKeyDictionary[object, dict[str, asyncio.Task[FetchResult]]] = (
    weakref.WeakKeyDictionary()
)


async def probe(fetcher: Fetches, requested: str) -> FetchResult:
    """The site's answer for a made-up sibling of ``requested`` (cached per run and folder)."""
    url = probe_url(requested)
    folder = url.rsplit("/", 1)[0]
    try:
        cache = _PROBES.setdefault(fetcher, {})
    except TypeError:  # a fetcher that cannot be weakly referenced: no cache
        return await fetcher.fetch(url, max_body=MAX_PARSE_BYTES)
    task = cache.get(folder)
    if task is None:
        task = cache[folder] = asyncio.ensure_future(fetcher.fetch(url, max_body=MAX_PARSE_BYTES))
    return await asyncio.shield(task)


_LINK_OR_META = re.compile(r"<(?:link|meta)\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r"""([a-z:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)


def declared_url(page: FetchResult) -> str | None:
    """The page's own idea of its address: ``<link rel="canonical">``, else ``og:url``."""
    markup = page.text(MAX_PARSE_BYTES)
    lower = markup.lower()
    if "canonical" not in lower and "og:url" not in lower:
        return None
    base = page.final_url or page.url
    found: dict[str, str] = {}
    for tag in _LINK_OR_META.finditer(markup):
        attrs = {m.group(1).lower(): next(g for g in m.groups()[1:] if g is not None)
                 for m in _ATTR.finditer(tag.group(0))}  # fmt: skip
        if "canonical" in attrs.get("rel", "").lower().split() and attrs.get("href"):
            found.setdefault("canonical", attrs["href"])
        elif (attrs.get("property") or attrs.get("name") or "").lower() == "og:url":
            found.setdefault("og", attrs.get("content", ""))
    address = (found.get("canonical") or found.get("og") or "").strip()
    return urljoin(base, html.unescape(address)) if address else None


async def _home(fetcher: Fetches, url: str) -> FetchResult:
    """The site's home page (cached per run and host, like the probes)."""
    parts = urlsplit(url)
    home = f"{parts.scheme}://{parts.netloc}/"
    try:
        cache = _PROBES.setdefault(fetcher, {})
    except TypeError:
        return await fetcher.fetch(home, max_body=MAX_PARSE_BYTES)
    task = cache.get(home)
    if task is None:
        task = cache[home] = asyncio.ensure_future(fetcher.fetch(home, max_body=MAX_PARSE_BYTES))
    return await asyncio.shield(task)


async def home_signal(requested: str, page: FetchResult, fetcher: Fetches) -> Signal | None:
    """A deep link whose page names the site's home page as its address (canonical or
    ``og:url``) and reads like it: the site serves its home page for a lost link. A live
    article that merely declares the wrong canonical (a common mistake) reads differently."""
    if not is_deep(requested) or not is_html(page):
        return None
    declared = declared_url(page)
    if declared is None or not is_home_url(declared) or not same_site(declared, requested):
        return None
    home = await _home(fetcher, page.final_url or requested)
    if home.status is None or not 200 <= home.status < 300 or not is_html(home):
        return None
    ratio = similarity(page_text(page), page_text(home), _echoes(requested, home))
    if ratio < SAME_PAGE:
        return None
    return Signal("is-home-page", 1.0, f"the page is the site's home page ({ratio:.0%} alike)")


async def check_with_probe(
    requested: str, page: FetchResult, fetcher: Fetches, *, always_probe: bool = False
) -> Soft404Report:
    """:func:`assess`, plus one sibling probe (per folder and run) when it is worth one, and
    a look at the home page when the page says it is the home page."""
    report = assess(requested, page)
    if report.is_soft404:
        return report
    if (always_probe and is_deep(requested)) or worth_probing(requested, page, report):
        signal = probe_signal(page, await probe(fetcher, requested), requested)
        if signal is not None:
            report.signals.append(signal)
    if not report.is_soft404:
        signal = await home_signal(requested, page, fetcher)
        if signal is not None:
            report.signals.append(signal)
    return report
