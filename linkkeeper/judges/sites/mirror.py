"""Mirror (mirror.xyz) posts: the Next.js data block says whether the entry exists.

Every Mirror URL serves the same app shell; the post itself is the ``entry:<digest>`` object in
``__NEXT_DATA__``'s ``__APOLLO_STATE__``. A 200 whose state has no entry is an empty shell: the
post is gone even though the status says otherwise.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from linkkeeper.core import FetchResult, Verdict
from linkkeeper.judges.sites.base import ByHost, Found, Judgement
from linkkeeper.judges.sites.generic import PageRules, failure, judge_copy, judge_page, missing_url

if TYPE_CHECKING:
    from linkkeeper.core import Reading
    from linkkeeper.web import Fetcher

NEXT_DATA_ID = "__NEXT_DATA__"


def next_data(page: FetchResult) -> dict[str, Any] | None:
    """The parsed ``<script id="__NEXT_DATA__">`` JSON, or ``None``. From the page's shared
    parse (judging and metadata read it) unless the body is longer than that parse reads: the
    data block must be whole."""
    if len(page.body) <= page.PARSE_LIMIT:
        root = page.tree()
    else:
        from linkkeeper.core import parse

        root = parse(page.text())
    script = next((s for s in root.iter("script") if s.get("id") == NEXT_DATA_ID), None)
    if script is None:
        return None
    try:
        data = json.loads(script.text or "")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def find_entry(data: dict[str, Any], digest: str | None) -> dict[str, Any] | None:
    """The ``entry:<digest>`` object (any entry when the digest is not a key)."""
    state = data.get("props", {}).get("pageProps", {}).get("__APOLLO_STATE__") or {}
    if not isinstance(state, dict):
        return None
    if digest and isinstance(state.get(f"entry:{digest}"), dict):
        return state[f"entry:{digest}"]
    for key, value in state.items():
        if key.startswith("entry:") and isinstance(value, dict):
            return value
    return None


class MirrorSite(ByHost):
    """Posts on mirror.xyz and ``<name>.mirror.xyz``."""

    name = "mirror"
    kind = "article"

    def serves(self, host: str) -> bool:
        return host == "mirror.xyz" or host.endswith(".mirror.xyz")

    async def check(self, reading: Reading, fetcher: Fetcher) -> Judgement:
        if not reading.url:
            return missing_url()
        page = await fetcher.fetch(reading.url)
        failed = failure(page)
        if failed is not None:
            return failed
        data = next_data(page)
        if data is None:  # not the app we know: fall back to the generic rules
            return await judge_page(reading.url, page, fetcher, PageRules())
        digest = urlsplit(page.final_url or reading.url).path.rstrip("/").rsplit("/", 1)[-1]
        entry = find_entry(data, digest)
        base = {"http_status": page.status, "final_url": page.final_url, "page": page}
        if entry is None:
            reason = f"HTTP {page.status} but an empty shell: no entry in Mirror's page data"
            return Judgement(Verdict.BROKEN, reason, **base)
        judged = await judge_page(reading.url, page, fetcher, PageRules(soft404=False))
        title = entry.get("title")
        judged.reason = f"{judged.reason}; Mirror entry present" + (f": {title!r}" if title else "")
        judged.extra["mirror_entry"] = {
            k: entry.get(k) for k in ("title", "publishedAtTimestamp", "digest") if k in entry
        }
        return judged

    def judge_capture(self, url: str, page: FetchResult) -> Judgement:
        """An archived Mirror post: an empty shell (no entry in the page data) is no copy."""
        data = next_data(page) if failure(page) is None else None
        if data is None:
            return judge_copy(url, page)
        digest = urlsplit(page.final_url or url).path.rstrip("/").rsplit("/", 1)[-1]
        if find_entry(data, digest) is None:
            reason = f"HTTP {page.status} but an empty shell: no entry in Mirror's page data"
            return Judgement(Verdict.BROKEN, reason, http_status=page.status, page=page)
        return judge_copy(url, page, PageRules(soft404=False))


# -- metadata (the metadata stage reads what ``check`` already fetched) -------------------------
def metadata(judgement: Judgement) -> Found:
    """Title, publication (``displayName``/``ens``), date and markdown body of the entry."""
    result = Found()
    page = judgement.page
    data = next_data(page) if page is not None and page.error is None else None
    if page is None or data is None:
        return result
    digest = urlsplit(page.final_url or page.url).path.rstrip("/").rsplit("/", 1)[-1]
    entry = find_entry(data, digest)
    if entry is None:
        return result
    title = entry.get("title")
    result.add("title", " ".join(title.split()) if isinstance(title, str) else None, "next-data")
    state = data.get("props", {}).get("pageProps", {}).get("__APOLLO_STATE__") or {}
    publisher = entry.get("publisher") if isinstance(entry.get("publisher"), dict) else {}
    ref = (publisher.get("project") or {}).get("__ref") if isinstance(publisher, dict) else None
    project = state.get(ref) if isinstance(ref, str) else None
    if isinstance(project, dict):
        name = project.get("displayName") or project.get("ens")
        result.add("authors", [name] if isinstance(name, str) and name.strip() else None,
                   "next-data")  # fmt: skip
    stamp = entry.get("publishedAtTimestamp")
    if isinstance(stamp, int | float) and not isinstance(stamp, bool) and stamp > 0:
        day = datetime.fromtimestamp(stamp, UTC).date().isoformat()
        result.add("published", day, "next-data")
    result.add("site", "Mirror", "next-data")
    body = entry.get("body")
    result.text = body if isinstance(body, str) and body.strip() else None
    return result
