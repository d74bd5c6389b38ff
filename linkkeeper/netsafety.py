"""Refuse to connect to private, loopback and link-local addresses (SSRF guard).

A reading list is untrusted input: a link to ``http://192.168.1.1/`` or a name resolving to
``127.0.0.1`` must not make a CI runner probe its own network. The check looks at the address
actually connected to (after ``--remap``), resolved with the event loop's resolver.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_public(address: IPAddress) -> bool:
    """Globally routable unicast: excludes private, loopback, link-local, shared, reserved."""
    return address.is_global and not address.is_multicast


class AddressGuard:
    """Per-host verdicts, cached for the run (one resolution per host, not per request)."""

    def __init__(self) -> None:
        self._verdicts: dict[str, str | None] = {}

    async def refusal(self, host: str, port: int) -> str | None:
        """Why ``host`` must not be contacted, or ``None`` when all its addresses are public.

        A name that does not resolve gives ``None`` (uncached): the connection attempt then
        reports the DNS failure in its own words.
        """
        key = host.lower()
        if key in self._verdicts:
            return self._verdicts[key]
        try:
            addresses: list[IPAddress] = [ipaddress.ip_address(key)]
            relation = "is"
        except ValueError:
            relation = "resolves to"
            loop = asyncio.get_running_loop()
            try:
                infos = await loop.getaddrinfo(key, port, type=socket.SOCK_STREAM)
            except (socket.gaierror, UnicodeError):
                return None
            addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
        blocked = [a for a in addresses if not is_public(a)]
        verdict = (
            f"{host} {relation} {blocked[0]}, a private/loopback/link-local address "
            "(refused unless private addresses are allowed)"
            if blocked
            else None
        )
        self._verdicts[key] = verdict
        return verdict
