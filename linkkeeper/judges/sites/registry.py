"""Which site family knows a URL: the first match in :data:`SITES`, ``generic`` last."""

from __future__ import annotations

from linkkeeper.judges.sites.arxiv import ArxivSite
from linkkeeper.judges.sites.base import Site
from linkkeeper.judges.sites.generic import GenericSite
from linkkeeper.judges.sites.medium import MediumSite
from linkkeeper.judges.sites.mirror import MirrorSite
from linkkeeper.judges.sites.nature import NatureSite
from linkkeeper.judges.sites.pdf import PdfSite
from linkkeeper.judges.sites.youtube import YouTubeSite

# Most specific first: arXiv's /pdf URLs are papers before they are PDFs.
SITES: tuple[Site, ...] = (
    YouTubeSite(),
    ArxivSite(),
    MirrorSite(),
    MediumSite(),
    NatureSite(),
    PdfSite(),
    GenericSite(),
)


def site_for(url: str | None) -> Site:
    """The family that knows ``url``; :class:`GenericSite` for every other page."""
    if url:
        for site in SITES:
            if site.matches(url):
                return site
    return SITES[-1]


def site_named(name: str) -> Site:
    """The site family called ``name`` (``"youtube"``, ``"generic"`` ...)."""
    for site in SITES:
        if site.name == name:
            return site
    raise KeyError(f"no site family named {name!r}; known: {[s.name for s in SITES]}")
