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

import difflib
import html
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urljoin, urlsplit

from linkkeeper.models import FetchResult

THRESHOLD = 1.0  # total weight that makes a 200 page a soft 404
SHORT_PAGE_WORDS = 250  # visible words below which a not-found heading is telling
MAX_PARSE_BYTES = FetchResult.PARSE_LIMIT  # never parse more than this of a body
PROBE_SIMILARITY = 0.8  # probe and page this alike (0..1): our page is the site's not-found page
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
# A language home page (/en/, /de-ch) bounced to the root is not a lost deep link.
LANGUAGE_HOME = re.compile(r"^/[a-z]{2}(?:[-_][a-z]{2})?/?$", re.IGNORECASE)
NOT_FOUND_PATH = re.compile(
    r"(?:^|/)(?:404|error[-_]?404|not[-_]?found|page[-_]?not[-_]?found|errors?)(?:/|\.\w+|$)",
    re.IGNORECASE,
)


class Fetches(Protocol):
    """What the probe needs from :class:`linkkeeper.fetcher.Fetcher`."""

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
    from linkkeeper.htmltree import first, strings, text_of

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


def mentions(text: str, pattern: re.Pattern[str], keys: tuple[str, ...]) -> bool:
    """``pattern.search(text)``, skipped when ``text`` has none of the pattern's keys."""
    lower = text.lower()
    return any(key in lower for key in keys) and pattern.search(text) is not None


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
    final = page.final_url.lower()
    if any(host in final for host in PARKING_HOSTS):
        return False
    markup = page.text(MAX_PARSE_BYTES)
    if not _balanced(markup.lower()):
        return False
    markup = _COMMENT.sub(" ", markup)
    heads = " | ".join(_plain(m.group(2)) for m in _TITLE_OR_H1.finditer(markup))
    if not heads.strip() or mentions(heads, STRONG_PHRASES, STRONG_KEYS):
        return False  # no title or heading (an empty page?), or a not-found phrase in one
    body = _TAG.sub(" ", _HIDDEN_BLOCK.sub(" ", markup))
    if "&" in body:
        body = html.unescape(body)
    words = body.split()
    if not words:
        return False
    # keys first (substring tests); the normalised text only when one is there
    lower = f"{heads} | {body}".lower()
    short = len(words) < QUICK_LONG_WORDS  # weak words in headings and any in the text count
    checks = [(PARKED_MARKERS, PARKED_KEYS)]
    if short:
        checks += [(STRONG_PHRASES, STRONG_KEYS), (WEAK_PHRASES, WEAK_KEYS)]
    text = ""
    for pattern, keys in checks:
        if any(key in lower for key in keys):
            text = text or f"{heads} | {' '.join(words)}"
            if pattern.search(text):
                return False
    return True


# -- the signals ---------------------------------------------------------------------------
def phrase_signal(text: PageText) -> Signal | None:
    """Not-found phrases: telling in the title or ``<h1>`` of a short page, weak elsewhere."""
    short = text.words < SHORT_PAGE_WORDS
    heads = " | ".join((text.title, *text.headings))
    strong = STRONG_PHRASES.search(heads)
    weak = WEAK_PHRASES.search(heads)
    if strong:
        where = f"'{strong.group(0)}' in the title/heading"
        if short:
            return Signal("not-found-heading", 1.0, f"{where} of a short page")
        return Signal("not-found-heading", 0.4, f"{where} of a long page")
    body_strong = STRONG_PHRASES.search(text.text)
    if weak and short:
        detail = f"'{weak.group(0)}' in the title/heading of a short page"
        return Signal("weak-heading", 0.5, detail)
    if body_strong and short:
        return Signal("not-found-text", 0.5, f"'{body_strong.group(0)}' in a short page's text")
    body_weak = WEAK_PHRASES.search(text.text)
    if body_weak and short:
        return Signal("weak-text", 0.2, f"'{body_weak.group(0)}' in a short page's text")
    return None


def redirect_signal(requested: str, page: FetchResult) -> Signal | None:
    """A deep link redirected to the site root or to a ``/404``-like URL (IABot counts both)."""
    if not page.redirects:
        return None
    start, end = urlsplit(requested), urlsplit(page.final_url)
    if NOT_FOUND_PATH.search(end.path) and not NOT_FOUND_PATH.search(start.path):
        return Signal("redirect-to-404", 1.0, f"redirected to a not-found URL ({end.path})")
    deep = (start.path not in ROOT_PATHS and not LANGUAGE_HOME.match(start.path)) or bool(
        start.query
    )
    if deep and end.path in ROOT_PATHS and not end.query:
        detail = f"deep link redirected to the site root ({end.netloc})"
        return Signal("redirect-to-root", 1.0, detail)
    return None


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
    text = page_text(page) if html_page and not quick_clean(page) else None
    candidates = [empty_signal(page, text), redirect_signal(requested, page)]
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


def similarity(a: PageText, b: PageText) -> float:
    """How alike two pages read (0..1), on their visible words and titles."""
    words_a = f"{a.title} {a.text}".lower().split()[:3000]
    words_b = f"{b.title} {b.text}".lower().split()[:3000]
    if not words_a and not words_b:
        return 1.0
    return difflib.SequenceMatcher(None, words_a, words_b, autojunk=False).ratio()


def probe_signal(page: FetchResult, probe: FetchResult) -> Signal | None:
    """Compare our page with the site's answer for a path that cannot exist."""
    if probe.status is None:
        return None
    if probe.status in (404, 410):
        return Signal("site-does-404", -0.5, f"the site answers a made-up path with {probe.status}")
    if not 200 <= probe.status < 300:
        return None
    ratio = similarity(page_text(page), page_text(probe)) if is_html(page) else 0.0
    if ratio >= PROBE_SIMILARITY:
        return Signal(
            "like-probe",
            0.7,
            f"the site answers a made-up path with 200 and a page {ratio:.0%} like this one",
        )
    return None


async def check_with_probe(
    requested: str, page: FetchResult, fetcher: Fetches, *, always_probe: bool = False
) -> Soft404Report:
    """:func:`assess`, plus one sibling probe when the page is suspicious (or always)."""
    report = assess(requested, page)
    if report.is_soft404 or not (report.suspicious or always_probe):
        return report
    base = page.final_url or requested
    probe = await fetcher.fetch(probe_url(base), max_body=MAX_PARSE_BYTES)
    signal = probe_signal(page, probe)
    if signal is not None:
        report.signals.append(signal)
    return report
