"""Which host a URL names, as a browser and as linkkeeper's own parsers see it.

A browser splits a URL by the WHATWG URL Standard; ``urllib.parse.urlsplit`` and httpx follow
RFC 3986. They disagree on a few spellings, and a disagreement means linkkeeper checks (and
archives) one site while members open another: ``https://a.example\\@evil.example/`` is
``evil.example`` to httpx and ``a.example`` to a browser. :func:`host_problem` refuses such a
URL when the curriculum is loaded, before any request is made; it also refuses host names that
are not valid (an ``xn--`` label that is not punycode would otherwise end in an ``idna``
traceback inside ``check``).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import unquote_to_bytes, urlsplit

import httpx
import idna

# WHATWG "forbidden domain code points" (plus the C0 controls, space and DEL)
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f#%/:<>?@\[\\\]^|]")
_IPV4_PART = re.compile(r"^(0[xX][0-9a-fA-F]*|[0-9]+)$")


class HostError(ValueError):
    """The host cannot be parsed; the message says why, in a user's words."""


def _ipv4_number(part: str) -> int:
    if part[:2].lower() == "0x":
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8)
    return int(part)


def _whatwg_ipv4(host: str) -> str | None:
    """The dotted form of a host WHATWG reads as an IPv4 address (``0x7f.1`` -> 127.0.0.1)."""
    parts = host.split(".")
    if parts and parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if not parts or not _IPV4_PART.match(parts[-1]):
        return None  # the last label is not a number: a domain name
    if len(parts) > 4 or not all(_IPV4_PART.match(p) for p in parts):
        raise HostError(f"{host!r} is neither a domain name nor an IPv4 address")
    try:
        numbers = [_ipv4_number(p) for p in parts]
    except ValueError:
        raise HostError(f"{host!r} is neither a domain name nor an IPv4 address") from None
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise HostError(f"{host!r} is an IPv4 address out of range")
    value = last + sum(n << (8 * (3 - i)) for i, n in enumerate(head))
    return str(ipaddress.IPv4Address(value))


def ascii_host(host: str) -> str:
    """A domain name in the lowercase ASCII form DNS sees; labels that are ASCII already are
    only lowercased (underscores stay, as browsers allow), the others go through IDNA (UTS 46)
    and ``xn--`` labels must decode. :class:`HostError` when a label is not valid."""
    labels = []
    for label in host.split("."):
        lowered = label.lower()
        try:
            if not label.isascii():
                lowered = idna.encode(label, uts46=True).decode("ascii")
            if lowered.startswith("xn--"):
                idna.decode(lowered)  # must be valid punycode of a valid label
        except (idna.IDNAError, UnicodeError) as exc:
            raise HostError(f"{label!r} is not a valid internationalised name ({exc})") from None
        labels.append(lowered)
    return ".".join(labels)


def whatwg_host(url: str) -> str:
    """The host a browser connects to for an ``http(s)`` URL (WHATWG URL Standard, enough of
    it for special schemes): the authority ends at ``/``, ``\\``, ``?`` or ``#``, the host is
    after the last ``@``, percent-decoded, mapped by IDNA, an IPv4 number normalised."""
    rest = url.partition(":")[2].lstrip("/\\")
    end = min((i for i in map(rest.find, "/\\?#") if i >= 0), default=len(rest))
    hostport = rest[:end].rpartition("@")[2]
    if hostport.startswith("["):
        inside, bracket, _ = hostport[1:].partition("]")
        if not bracket:
            raise HostError("an IPv6 address lacks its closing ']'")
        try:
            return str(ipaddress.IPv6Address(inside))
        except ValueError:
            raise HostError(f"[{inside}] is not an IPv6 address") from None
    raw = hostport.partition(":")[0]
    try:
        host = unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise HostError(f"{raw!r} percent-decodes to bytes that are not text") from None
    if not host:
        raise HostError("the host name is empty")
    if (found := _FORBIDDEN.search(host)) is not None:
        raise HostError(f"the host name contains {found.group()!r}")
    mapped = ascii_host(host)
    return _whatwg_ipv4(mapped) or mapped


def _normalised(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return ascii_host(host)


def host_problem(url: str) -> str | None:
    """Why ``url``'s host is unsafe to check (the parsers disagree, or it is not valid),
    phrased with its fix; ``None`` when browser and linkkeeper agree on a valid host."""
    rest = url.partition("://")[2]
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "\\" in authority:
        return (
            f"{url!r} has a backslash in its host part: browsers read it as '/', so they open "
            "another site than the one linkkeeper would check; write the address as the "
            "browser shows it"
        )
    try:
        browser = whatwg_host(url)
        ours = {
            "urllib": _normalised(urlsplit(url).hostname or ""),
            "httpx": _normalised(httpx.URL(url).host),
        }
    except (HostError, httpx.InvalidURL, ValueError, UnicodeError) as exc:
        return f"{url!r} has an invalid host name ({exc}); copy the address again from the browser"
    for parser, host in ours.items():
        if host != browser:
            return (
                f"{url!r} names two different hosts: a browser opens {browser!r}, linkkeeper "
                f"({parser}) would check {host!r}; write the host plainly, as the browser "
                "shows it"
            )
    return None
