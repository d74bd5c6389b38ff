"""Site knowledge, one module per site family; the engine asks :func:`site_for` and never
branches on host names itself.

A :class:`Site` decides how to check a URL of its family (which requests, which of them are
authoritative) and turns the responses into a :class:`Judgement`. ``generic`` is the fallback
for every other page and holds the soft-404 logic shared by all.
"""

from __future__ import annotations

from linkkeeper.judges.sites.base import (  # noqa: F401  (the package's face)
    LOW_CONFIDENCE,
    WALLED,
    Field,
    Found,
    Judgement,
    Site,
    found,
)


def site_for(url: str | None, host: str | None = None) -> Site:
    """The site family that knows ``url`` (``generic`` for every other page); ``host``: the
    URL's lower-case host name, when the caller has it already."""
    from linkkeeper.judges.sites.registry import site_for as _site_for

    return _site_for(url, host)


def __getattr__(name: str) -> object:
    """``SITES`` on demand (the family modules import this package, so no eager import)."""
    if name == "SITES":
        from linkkeeper.judges.sites.registry import SITES

        return SITES
    raise AttributeError(name)
