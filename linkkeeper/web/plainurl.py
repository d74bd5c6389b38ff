"""``httpx.URL(text)`` without httpx's parser when the text is already in httpx's normal form.

httpx parses in pure Python (control-character scan, quoting of every component, IPv4
validation through :mod:`ipaddress`, IDNA checks): about 20 µs of the fetcher's ~130 µs of
CPU a request on loopback. Nearly every URL a run fetches is *plain*: ``http``/``https`` in
lower case, a lower-case ASCII name (no ``xn--`` label) or a dotted-quad IPv4 address, an
optional non-default port, and a path and query of characters httpx leaves alone. For such
text the parse result is known without parsing (each component is the text itself), so
:func:`parse_url` builds the ``httpx.URL`` directly (about 1 µs); any other text goes to
``httpx.URL`` as before, with its errors.

The direct build sets ``URL._uri_reference`` (httpx's private ``ParseResult``). At import
:func:`_agrees` compares it with httpx's own parse on sample URLs, field by field; if a future
httpx differs in any way (or moved the class), the fast path stays off and every URL is parsed
by httpx.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

PLAIN_MAX = 4096  # longer text is rare: httpx checks it (it refuses more than 65,536)

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"  # no leading zero: ipaddress
# DNS labels (at most 63 characters, which also bounds the regex's backtracking); the last
# starts with a letter, so a name is never what httpx takes for an IPv4 address (#.#.#.#).
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_NAME = rf"(?:{_LABEL}\.)*[a-z](?:[a-z0-9-]{{0,61}}[a-z0-9])?"
_IPV4 = rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}"
# Characters httpx's quote() keeps in a path (unreserved, sub-delims, ':', '@', '/'), and
# %XX escapes, which it keeps as written (either case); the query may also hold '?'.
_PATH_CHARS = r"[A-Za-z0-9\-._~!$&'()*+,;=:@/]"
_QUERY_CHARS = r"[A-Za-z0-9\-._~!$&'()*+,;=:@/?]"
_ESCAPE = r"%[0-9A-Fa-f]{2}"
_PLAIN = re.compile(
    rf"(?P<scheme>https?)://"
    rf"(?P<host>{_IPV4}|{_NAME})"
    rf"(?::(?P<port>[1-9][0-9]{{0,4}}))?"
    rf"(?P<path>/{_PATH_CHARS}*(?:{_ESCAPE}{_PATH_CHARS}*)*)?"
    rf"(?:\?(?P<query>{_QUERY_CHARS}*(?:{_ESCAPE}{_QUERY_CHARS}*)*))?"
)
_DEFAULT_PORTS = {"http": 80, "https": 443}  # httpx drops these

try:  # httpx's parse result; a version without it simply parses every URL
    from httpx._urlparse import ParseResult as _ParseResult
except ImportError:  # pragma: no cover
    _ParseResult = None

_enabled = False  # set by the self-check below


def _plain_parts(text: str) -> tuple[str, str, int | None, str, str | None] | None:
    """``(scheme, host, port, path, query)`` exactly as httpx's ``urlparse`` returns them, when
    ``text`` is plain; ``None`` otherwise."""
    if len(text) > PLAIN_MAX:
        return None
    match = _PLAIN.fullmatch(text)
    if match is None:
        return None
    scheme, host, port_text, path, query = match.groups()
    if "xn--" in host:  # IDNA: httpx decodes and checks these
        return None
    port = None
    if port_text is not None:
        port = int(port_text)
        if port > 65535 or port == _DEFAULT_PORTS[scheme]:
            return None
    if path is None:
        path = ""
    elif "." in path:  # httpx removes "." and ".." segments
        segments = path.split("/")
        if "." in segments or ".." in segments:
            return None
    return scheme, host, port, path, query


def _build(parts: tuple[str, str, int | None, str, str | None]) -> httpx.URL:
    scheme, host, port, path, query = parts
    url = object.__new__(httpx.URL)
    url._uri_reference = _ParseResult(scheme, "", host, port, path, query, None)
    return url


def is_plain(text: str) -> bool:
    """True when :func:`parse_url` builds ``text``'s URL without httpx's parser."""
    return _enabled and type(text) is str and _plain_parts(text) is not None


def parse_url(text: str) -> httpx.URL:
    """``httpx.URL(text)``: the same object, or the same exception; plain text skips the
    parser (and then ``str()`` of the result is ``text`` itself)."""
    if _enabled and type(text) is str:
        parts = _plain_parts(text)
        if parts is not None:
            return _build(parts)
    return httpx.URL(text)


SAMPLES = (
    "https://arxiv.org/abs/1706.03762",
    "http://127.0.0.5:43211/article/12",
    "https://example.com",
    "https://example.com?",
    "http://a-b.example.org:8443/p%2fq/%C3%A9.x..y/?q=1&r=a/b?c%2F:@~!$'()*+,;=",
    "https://0.0.0.0/",
    "http://255.255.255.255:65535/a/b/",
    "https://example.com:80/x",
    "http://localhost?only=query",
)


def _fields(url: httpx.URL) -> tuple[Any, ...]:
    return (
        type(url),
        url._uri_reference,
        str(url),
        url.scheme,
        url.host,
        url.netloc,
        url.raw_path,
        url.port,
        url.raw_host,
        url.userinfo,
        url.fragment,
        url.is_absolute_url,
    )


def _agrees() -> bool:
    """Whether the direct build gives what httpx's own parse gives, for every sample."""
    if _ParseResult is None:
        return False
    try:
        for text in SAMPLES:
            parts = _plain_parts(text)
            if parts is None:
                return False
            fast = _build(parts)
            if str(fast) != text or _fields(fast) != _fields(httpx.URL(text)):
                return False
            if fast != httpx.URL(text) or hash(fast) != hash(httpx.URL(text)):
                return False
    except Exception:  # any surprise from a future httpx: use its parser
        return False
    return True


_enabled = _agrees()
