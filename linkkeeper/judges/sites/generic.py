"""Every other page, and the judging rules all site families share.

The rules peers get wrong live here: a bot wall (401/403 challenge, 999, persistent 429) is
``blocked``, never ``broken``; one-off 5xx and timeouts are ``transient``; a 200 can still be a
soft 404 (:mod:`linkkeeper.judges.soft404`); a permanent redirect is ``moved`` only when it goes
somewhere new, not for http->https, ``www`` or trailing-slash tidying.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from linkkeeper.core import FetchResult, Verdict
from linkkeeper.judges import soft404
from linkkeeper.judges.sites.base import WALLED, Judgement
from linkkeeper.web import (  # noqa: F401  (the judges' wall rules)
    CHALLENGE_ANY,
    CHALLENGE_ON_200,
    CHALLENGE_ON_200_KEYS,
    CHALLENGE_SCAN_BYTES,
    WALL_HEADERS,
    challenge_marker,
    wall_answer,
)

if TYPE_CHECKING:
    from linkkeeper.core import Reading
    from linkkeeper.web import Fetcher

B, K, T = Verdict.BROKEN, Verdict.BLOCKED, Verdict.TRANSIENT

# Final HTTP status -> verdict and what it means (after the fetcher's own retries).
STATUS_TABLE: dict[int, tuple[Verdict, str]] = {
    400: (B, "the server rejects the URL as a bad request"),
    401: (K, f"authentication required: {WALLED}"),
    402: (K, f"payment required: {WALLED}"),
    403: (K, f"access denied: {WALLED}"),
    404: (B, "the page is not found"),
    405: (K, "the server refuses GET for this client; cannot tell"),
    406: (K, "the server refuses this client (not acceptable); cannot tell"),
    407: (K, "a proxy wants authentication; cannot tell"),
    408: (T, "the server timed out waiting for the request"),
    410: (B, "the page is gone for good"),
    412: (K, f"precondition failed: {WALLED}"),
    418: (K, "a bot wall answered 418; cannot tell"),
    428: (K, f"precondition required: {WALLED}"),
    429: (K, "rate limited even after waiting and retrying; cannot tell"),
    440: (K, f"login session required: {WALLED}"),
    449: (K, f"the site wants more from the client: {WALLED}"),
    451: (K, "unavailable for legal reasons here (geo-blocked); cannot tell"),
    999: (K, "bot wall (999, as LinkedIn answers robots); cannot tell"),
}

# Fetch error class -> verdict and why. NXDOMAIN and refused ports are strong dead signals
# (IABot counts them), but the health state machine needs several over days to say "dead".
ERROR_TABLE: dict[str, tuple[Verdict, str]] = {
    "timeout": (T, "timed out"),
    "reset": (T, "the connection was reset"),
    "protocol": (T, "the server broke the HTTP protocol"),
    "connect": (B, "connection refused: nothing answers at this address"),
    "dns": (B, "the host name does not resolve (DNS failure)"),
    "tls": (B, "the TLS handshake failed (bad or expired certificate?)"),
    "too-many-redirects": (B, "too many redirects"),
    "redirect-loop": (B, "the redirects go round in a loop"),
    "invalid-url": (B, "the URL is not valid: fix it in readings.yaml"),
    # the reading's URL is fine; where the site sends it is not (detail names the target)
    "redirect-not-web": (B, "the site redirects to an address a browser cannot open"),
    "bad-redirect": (B, "the site redirects to a malformed address"),
    "private-address": (Verdict.SKIPPED, "refused: the host resolves to a private address"),
}

PERMANENT = frozenset({301, 308})


def status_phrase(status: int) -> str:
    """``"404 Not Found"`` (or just the number for unofficial codes like 999)."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def has_content(page: FetchResult) -> bool:
    """An HTML page with a title or heading and some text: something a reader can judge."""
    if not soft404.is_html(page) or not page.body.strip():
        return False
    text = soft404.page_text(page)
    return bool(text.title or text.headings) and text.words >= 5


def attempts_note(page: FetchResult) -> str:
    return f" after {page.attempts} attempts" if page.attempts > 1 else ""


def failure(page: FetchResult) -> Judgement | None:
    """The verdict for a fetch that did not produce a 2xx answer, or ``None`` if it did."""
    base = {"http_status": page.status, "final_url": page.final_url or None, "page": page}
    if page.error is not None:
        verdict, meaning = ERROR_TABLE.get(page.error, (T, f"fetch failed ({page.error})"))
        detail = f" ({page.error_detail})" if page.error_detail else ""
        note = f"; {page.retry_note}" if page.retry_note else ""
        return Judgement(verdict, f"{meaning}{attempts_note(page)}{detail}{note}", **base)
    status = page.status
    if status is None:
        return Judgement(T, "no answer arrived", **base)
    if 200 <= status < 300:
        return None
    marker = challenge_marker(page)
    if marker is None and 300 <= status < 400 and "location" not in page.headers:
        # A browser shows the body of a redirect that goes nowhere: judge what it shows.
        if has_content(page):
            return None
        reason = (
            f"HTTP {status_phrase(status)} without a Location to go to and no page to judge; "
            "cannot tell"
        )
        return Judgement(K, reason, **base)
    if marker is not None:
        reason = f"bot wall: HTTP {status_phrase(status)} with '{marker}'; cannot tell"
        return Judgement(K, reason, **base)
    if status in STATUS_TABLE:
        verdict, meaning = STATUS_TABLE[status]
    elif status >= 500:
        verdict, meaning = T, "server error"
    elif 300 <= status < 400:
        verdict, meaning = B, "a redirect that leads nowhere"
    elif 400 <= status < 500:
        verdict, meaning = B, "client error"
    else:
        verdict, meaning = T, "unexpected status"
    reason = f"HTTP {status_phrase(status)}{attempts_note(page)}: {meaning}"
    if page.redirects:
        reason += f" (after redirects, at {page.final_url})"
    if page.retry_note:
        reason += f"; {page.retry_note}"
    return Judgement(verdict, reason, **base)


# -- redirects -------------------------------------------------------------------------------
def canonical(url: str) -> str:
    """The URL with trivial differences removed: scheme, ``www.``, default port, end slash."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().removeprefix("www.")
    port = parts.port
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    path = unquote(parts.path).rstrip("/") or "/"
    return urlunsplit(("https", netloc, path, parts.query, ""))


def hops(url: str, redirects: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The redirect chain as (status, absolute target URL)."""
    chain, current = [], url
    for status, location in redirects:
        current = urljoin(current, location)
        chain.append((status, current))
    return chain


def permanent_target(
    url: str, redirects: list[tuple[int, str]], canon: Callable[[str], str] = canonical
) -> str | None:
    """Where the leading run of 301/308 hops sends ``url``, if that is somewhere new.

    A temporary hop ends the run: what follows it is not a promise about the URL. A home,
    search or sign-in page is never a reading's new address: no target then.
    """
    target = None
    for status, hop_url in hops(url, redirects):
        if status not in PERMANENT:
            break
        target = hop_url
    if target is None or canon(target) == canon(url) or soft404.is_generic_url(target):
        return None
    return target


# -- the whole judgement for an ordinary page ------------------------------------------------
@dataclass(frozen=True)
class PageRules:
    """What a site family changes in the generic judgement."""

    canon: Callable[[str], str] = canonical  # trivial-redirect normaliser
    clean_final: Callable[[str], str] = lambda url: url  # strip handshake noise from final_url
    soft404: bool = True  # run the soft-404 signals on 2xx HTML
    always_probe: bool = False  # sibling probe on every page, not only suspicious ones


@dataclass(frozen=True)
class _Opened:
    """What the judgement found before the soft-404 step: an HTML page still to judge
    (``html``), or a PDF that passed (its ``ok_reason``)."""

    page: FetchResult
    final: str
    html: bool
    ok_reason: str = ""

    def says(self, verdict: Verdict, reason: str, suggestion: str | None = None) -> Judgement:
        status, page = self.page.status, self.page
        return Judgement(verdict, reason, status, self.final, suggestion, page)


def _open(url: str, page: FetchResult, rules: PageRules, live: bool) -> Judgement | _Opened:
    """The steps before the soft-404 signals: failure mapping, PDF check, bot wall on 200."""
    failed = failure(page)
    if failed is not None:
        return failed
    final = rules.clean_final(page.final_url or url)
    from linkkeeper.judges.sites.pdfbody import judge_pdf_body, looks_like_pdf_url

    if page.content_type == "application/pdf" or looks_like_pdf_url(page.final_url or url):
        pdf = judge_pdf_body(page)
        pdf.final_url = final
        return pdf if pdf.verdict is not Verdict.OK else _Opened(page, final, False, pdf.reason)
    opened = _Opened(page, final, True)
    marker = challenge_marker(page)
    if marker is not None:
        reason = f"bot wall behind HTTP {page.status}: '{marker}'"
        return opened.says(K, f"{reason}; cannot tell" if live else reason)
    return opened


def _conclude(url: str, rules: PageRules, opened: _Opened, live: bool) -> Judgement:
    """The steps after the soft-404 signals: a sign-in wall (live pages), moved, or ok."""
    page, final, ok_reason = opened.page, opened.final, opened.ok_reason
    if opened.html:
        if (
            live
            and page.redirects
            and soft404.is_sign_in_url(final)
            and not soft404.is_sign_in_url(url)
            and soft404.same_site(url, final)  # the site's own wall (another site's: a portal?)
        ):
            return opened.says(K, f"redirected to a sign-in page ({final}): {WALLED}")
        ok_reason = f"HTTP {status_phrase(page.status or 200)}"
        if live and page.status is not None and 300 <= page.status < 400:
            ok_reason += " without a Location: the page it shows is judged"
    target = permanent_target(url, page.redirects, rules.canon)
    if target is not None:
        if live:
            codes = _permanent_codes(page)
            reason = f"permanently redirected ({codes}) to {target}, a live page: update the link"
        else:
            reason = f"permanently redirected to {target}"
        return opened.says(Verdict.MOVED, reason, suggestion=target)
    where = "" if not live or rules.canon(final) == rules.canon(url) else f" (now at {final})"
    return opened.says(Verdict.OK, f"{ok_reason}{where}")


async def judge_page(
    url: str, page: FetchResult, fetcher: Fetcher, rules: PageRules = PageRules()
) -> Judgement:
    """Failure mapping, PDF check, bot wall on 200, soft 404, then moved or ok."""
    opened = _open(url, page, rules, live=True)
    if isinstance(opened, Judgement):
        return opened
    if opened.html and rules.soft404:
        report = await soft404.check_with_probe(url, page, fetcher, always_probe=rules.always_probe)
        if report.is_soft404:
            return opened.says(B, f"soft 404: {report.explain()}")
    return _conclude(url, rules, opened, live=True)


def judge_copy(url: str, page: FetchResult, rules: PageRules = PageRules()) -> Judgement:
    """:func:`judge_page` for a page that cannot be fetched again: an archived copy replayed
    from the Wayback Machine (``linkkeeper.archive.capture_check``). The same rules in the same
    order,
    except the random-sibling probe (there is no live site to ask), so a soft 404 must show
    its own signals (not-found heading, redirect to the root, parking, empty page); its
    reasons are shorter, as they describe a capture, not a link to update."""
    opened = _open(url, page, rules, live=False)
    if isinstance(opened, Judgement):
        return opened
    if opened.html and rules.soft404:
        report = soft404.assess(url, page)
        if report.is_soft404:
            return opened.says(B, f"soft 404: {report.explain()}")
    return _conclude(url, rules, opened, live=False)


def missing_url() -> Judgement:
    return Judgement(Verdict.SKIPPED, "the reading has no URL")


def _permanent_codes(page: FetchResult) -> str:
    return ", ".join(str(s) for s, _ in page.redirects if s in PERMANENT)


WEB_PREFIXES = ("https://", "http://")


class GenericSite:
    """Any web page: GET it (no HEAD: too many servers answer HEAD wrongly) and judge it."""

    name = "generic"
    kind = "article"

    def __init__(self, rules: PageRules | None = None) -> None:
        self.rules = rules or PageRules()

    def serves(self, host: str) -> bool:
        return True

    def matches(self, url: str) -> bool:
        # text that starts so has that scheme (urlsplit strips nothing before it): no split
        return url.startswith(WEB_PREFIXES) or urlsplit(url).scheme in ("http", "https")

    async def check(self, reading: Reading, fetcher: Fetcher) -> Judgement:
        if not reading.url:
            return missing_url()
        page = await fetcher.fetch(reading.url)
        return await judge_page(reading.url, page, fetcher, self.rules)
