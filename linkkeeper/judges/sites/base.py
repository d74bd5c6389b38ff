"""What every site family shares: the :class:`Judgement`, the :class:`Site` protocol and the
metadata a family finds (:class:`Found`). Families import this, never the package."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from linkkeeper.core import FetchResult, Verdict

if TYPE_CHECKING:
    from linkkeeper.core import Reading
    from linkkeeper.web import Fetcher


Field = dict[str, Any]  # {"value": ..., "source": ..., "confidence": "high" | "low"}
WALLED = "may be paywalled or walled; cannot tell"
LOW_CONFIDENCE = frozenset({"title", "pdf-info", "pdf-text", "url"})


def found(value: Any, source: str, confidence: str | None = None) -> Field:
    """One field with its source; ``<title>``, PDF and URL guesses are low confidence."""
    level = confidence or ("low" if source in LOW_CONFIDENCE else "high")
    return {"value": value, "source": source, "confidence": level}


@dataclass
class Found:
    """Fields found for one reading (first source wins) and its main text for drift."""

    fields: dict[str, Field] = field(default_factory=dict)
    text: str | None = None

    def add(self, name: str, value: Any, source: str, confidence: str | None = None) -> None:
        if value not in (None, "", []) and name not in self.fields:
            self.fields[name] = found(value, source, confidence)

    def merge(self, other: Found) -> None:
        for name, value in other.fields.items():
            self.fields.setdefault(name, value)
        self.text = self.text or other.text


@dataclass
class Judgement:
    """A site's conclusion about one link, before the engine stamps and records it."""

    verdict: Verdict
    reason: str  # one human sentence: what we saw and why it means this verdict
    http_status: int | None = None
    final_url: str | None = None
    suggestion: str | None = None  # replacement URL worth offering (moved target, TDS twin)
    page: FetchResult | None = None  # the main response, kept for metadata and drift
    extra: dict[str, object] = field(default_factory=dict)  # site facts (e.g. oEmbed JSON)


def url_host(url: str) -> str:
    """The URL's host name in lower case, as :meth:`Site.serves` is asked about it."""
    return (urlsplit(url).hostname or "").lower()


class ByHost:
    """A family known by its host alone (Medium, Mirror): a URL is its when the host is."""

    def serves(self, host: str) -> bool:
        raise NotImplementedError

    def matches(self, url: str) -> bool:
        return self.serves(url_host(url))


class Site(Protocol):
    """One site family (arXiv, YouTube, Medium/TDS, Mirror, nature, PDFs, generic)."""

    name: str  # e.g. "youtube"
    kind: str  # the reading kind it implies, e.g. "video"

    def serves(self, host: str) -> bool:
        """Whether URLs on ``host`` (lower-case, as ``urlsplit(url).hostname``) may be this
        family's: every URL :meth:`matches` accepts is on such a host. The registry asks
        :meth:`matches` only of the families that serve a URL's host."""
        ...

    def matches(self, url: str) -> bool:
        """True when this family knows the URL."""
        ...

    async def check(self, reading: Reading, fetcher: Fetcher) -> Judgement:
        """Fetch what this family needs (politely, through ``fetcher``) and judge it."""
        ...
