"""Bot walls: the signatures that betray a challenge page instead of the site's answer.

The web client reads them to leave a wall unretried (:func:`wall_answer`); the judges read them to
call a walled answer ``blocked`` (:func:`challenge_marker`)."""

from __future__ import annotations

import re

from linkkeeper.core import FetchResult


def mentions(text: str, pattern: re.Pattern[str], keys: tuple[str, ...]) -> bool:
    """``pattern.search(text)``, skipped when ``text`` has none of the pattern's keys."""
    lower = text.lower()
    return any(key in lower for key in keys) and pattern.search(text) is not None


# Bot walls. Any of these in a non-2xx answer means "blocked"; on a 200 only the unambiguous
# ones count (an article may well mention "captcha").
CHALLENGE_ANY = re.compile(
    r"just a moment\.\.\.|attention required! \| cloudflare|cdn-cgi/challenge-platform|cf-chl-"
    r"|robot detection|automated access|unusual traffic|captcha|are you a robot"
    r"|verify (?:you are|that you are) (?:a )?human|not a robot|pardon our interruption"
    r"|incapsula|px-captcha|ddos-guard|ddos protection|datadome|perimeterx"
    r"|confirm you(?:'|’)re not a bot|access denied.{0,400}reference #"
    r"|checking your browser before accessing|cf-browser-verification|_cf_chl_opt"
    r"|used cloudflare to restrict access|error code:? 10(?:0[5-9]|1[0-2]|20)\b"
    r"|sucuri website firewall|cloudproxy|sucuri\.net/privacy-policy",
    re.IGNORECASE | re.DOTALL,
)
# Bot walls that answer 5xx (Sucuri's firewall and Cloudflare's Bot Fight page with 503,
# Cloudflare's "error 1006: access denied" with 500): the wall will not lift on a retry, so
# the fetcher does not retry them (see :func:`wall_answer`).
WALL_HEADERS = {"x-sucuri-block": "Sucuri firewall"}  # present on a non-2xx answer: a wall
CHALLENGE_ON_200 = re.compile(
    r"<title>\s*(?:just a moment\.\.\.|attention required! \| cloudflare)"
    r"|cdn-cgi/challenge-platform|captcha-delivery\.com|px-captcha|confirm you(?:'|’)re not a bot",
    re.IGNORECASE,
)
# What every match of CHALLENGE_ON_200 contains (lower case): most pages are ruled out by a
# substring test before the regex runs (see :func:`mentions`).
CHALLENGE_ON_200_KEYS = ("just a moment", "attention required", "challenge-platform", "captcha",
                         "not a bot")  # fmt: skip
CHALLENGE_SCAN_BYTES = 64 * 1024


def challenge_marker(page: FetchResult) -> str | None:
    """What betrays a bot wall in this answer, or ``None``."""
    if page.headers.get("cf-mitigated", "").lower() == "challenge":
        return "cf-mitigated: challenge"
    ok = page.status is not None and 200 <= page.status < 300
    if not ok:
        for name, label in WALL_HEADERS.items():
            if name in page.headers:
                return f"{label}, {name}: {page.headers[name]}"[:60]
    text = page.text(CHALLENGE_SCAN_BYTES)
    if ok and not mentions(text, CHALLENGE_ON_200, CHALLENGE_ON_200_KEYS):
        return None
    found = (CHALLENGE_ON_200 if ok else CHALLENGE_ANY).search(text)
    return " ".join(found.group(0).split())[:60] if found else None


def wall_answer(page: FetchResult) -> bool:
    """A 5xx (or 429) that is a bot wall, not a server in trouble: no retry will change it."""
    status = page.status
    if status is None or page.error is not None or not (status == 429 or status >= 500):
        return False
    return challenge_marker(page) is not None
