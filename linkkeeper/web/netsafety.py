"""Refuse to connect to private, loopback and link-local addresses (SSRF guard).

A reading list is untrusted input: a link to ``http://192.168.1.1/`` or a name resolving to
``127.0.0.1`` must not make a CI runner probe its own network. Two doors, both on the address
actually connected to (after ``--remap``):

- an IP literal is judged before the request (:func:`literal_refusal`; aiohttp never asks a
  resolver about one);
- a name is judged inside the connection's own DNS lookup (:class:`GuardedResolver`, aiohttp's
  resolver): the addresses checked are the addresses connected to. Checking with a lookup of
  our own and letting the connection look up again would leave a DNS-rebinding window, where
  the second answer points somewhere the first did not.
"""

from __future__ import annotations

import ipaddress
import socket

from aiohttp import DefaultResolver
from aiohttp.abc import AbstractResolver, ResolveResult

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_public(address: IPAddress) -> bool:
    """Globally routable unicast: excludes private, loopback, link-local, shared, reserved."""
    return address.is_global and not address.is_multicast


class PrivateAddressRefused(OSError):
    """A name resolved to an off-limits address; raised before any connection is made."""


def _refusal(host: str, relation: str, address: object) -> str:
    what = "a private/loopback/link-local address (refused unless private addresses are allowed)"
    if relation == "is" and host.strip("[]").split("%")[0] == str(address):
        return f"{host} is {what}"  # not "127.0.0.1 is 127.0.0.1, a ..."
    return f"{host} {relation} {address}, {what}"


def _literal(host: str) -> IPAddress | None:
    """The address ``host`` spells (``[::1]`` and zone ids allowed), or ``None`` for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return None


def literal_refusal(host: str) -> str | None:
    """Why the IP literal ``host`` must not be contacted; ``None`` for public ones and names."""
    address = _literal(host)
    return None if address is None or is_public(address) else _refusal(host, "is", address)


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that refuses a name when any of its addresses is not public.

    Wraps the name service actually used (aiohttp's default, or one a test scripts); aiohttp
    turns the refusal into a connection error whose cause is :class:`PrivateAddressRefused`."""

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self._inner = inner if inner is not None else DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._inner.resolve(host, port, family)
        for answer in answers:
            address = ipaddress.ip_address(str(answer["host"]).split("%")[0])
            if not is_public(address):
                raise PrivateAddressRefused(_refusal(host, "resolves to", address))
        return answers

    async def close(self) -> None:
        await self._inner.close()


async def refusal(host: str, port: int) -> str | None:
    """Why ``host`` (an IP literal, or a name looked up now) must not be contacted, for
    up-front usage checks with a clear message; connections themselves are guarded by
    :class:`GuardedResolver`. A name that does not resolve gives ``None``: the request then
    reports the DNS failure in its own words."""
    if _literal(host) is not None:
        return literal_refusal(host)
    resolver = GuardedResolver()
    try:
        await resolver.resolve(host, port, socket.AF_UNSPEC)
    except PrivateAddressRefused as exc:
        return str(exc)
    except OSError:
        return None
    finally:
        await resolver.close()
    return None
