"""YouTube videos: the oEmbed endpoint decides, not the watch page.

Watch pages answer 200 for removed and private videos alike, and from data-centre addresses the
"confirm you're not a bot" check looks exactly like a private video. The thumbnail survives
videos of terminated accounts. oEmbed answers each case with its own status.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote, urlsplit

from linkkeeper.core import Verdict
from linkkeeper.judges.sites.base import Found, Judgement
from linkkeeper.judges.sites.generic import (
    challenge_marker,
    failure,
    judge_copy,
    missing_url,
    status_phrase,
)

if TYPE_CHECKING:
    from linkkeeper.core import FetchResult, Reading
    from linkkeeper.web import Fetcher

OEMBED = "https://www.youtube.com/oembed?url={url}&format=json"
HOSTS = {"youtube.com", "m.youtube.com", "music.youtube.com", "youtube-nocookie.com", "youtu.be"}
VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # oEmbed judges the id itself
PATH_FORMS = ("/embed/", "/shorts/", "/live/", "/v/")
# A watch page's player state (what an archived copy of the page shows; oEmbed is not archived)
PLAYABILITY = re.compile(
    r'"playabilityStatus"\s*:\s*\{\s*"status"\s*:\s*"([A-Z_]+)"'
    r'(?:[^{}]*?"reason"\s*:\s*"([^"]*)")?'
)

# oEmbed status -> verdict and what it says about the video.
OEMBED_TABLE: dict[int, tuple[Verdict, str]] = {
    200: (Verdict.OK, "the video exists"),
    401: (Verdict.OK, "the video exists (embedding disabled by its owner)"),
    403: (Verdict.BROKEN, "private video"),
    404: (Verdict.BROKEN, "the video was removed or deleted"),
    400: (Verdict.BROKEN, "no such video (YouTube rejects the id)"),
}


def video_id(url: str) -> str | None:
    """The video id of a watch, youtu.be, embed or shorts URL; ``None`` for other pages."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().removeprefix("www.")
    if host not in HOSTS:
        return None
    candidate: str | None = None
    if host == "youtu.be":
        candidate = parts.path.strip("/").split("/")[0]
    elif parts.path.rstrip("/") == "/watch":
        candidate = (parse_qs(parts.query).get("v") or [None])[0]
    else:
        for prefix in PATH_FORMS:
            if parts.path.startswith(prefix):
                candidate = parts.path[len(prefix) :].split("/")[0]
    return candidate if candidate and VIDEO_ID.match(candidate) else None


def watch_url(vid: str) -> str:
    return f"https://www.youtube.com/watch?v={vid}"


def oembed_url(vid: str) -> str:
    return OEMBED.format(url=quote(watch_url(vid), safe=""))


class YouTubeSite:
    """Videos on youtube.com / youtu.be, judged by one oEmbed request."""

    name = "youtube"
    kind = "video"

    def serves(self, host: str) -> bool:
        return host.removeprefix("www.") in HOSTS  # as video_id reads the host

    def matches(self, url: str) -> bool:
        return video_id(url) is not None

    async def check(self, reading: Reading, fetcher: Fetcher) -> Judgement:
        if not reading.url:
            return missing_url()
        vid = video_id(reading.url)
        if vid is None:
            return Judgement(Verdict.BROKEN, "not a YouTube video URL", final_url=reading.url)
        answer = await fetcher.fetch(oembed_url(vid))
        base = {"http_status": answer.status, "final_url": reading.url, "page": answer}
        walled = answer.status != 200 and challenge_marker(answer) is not None
        if answer.error is None and answer.status in OEMBED_TABLE and not walled:
            verdict, meaning = OEMBED_TABLE[answer.status]
            reason = f"YouTube oEmbed {status_phrase(answer.status)}: {meaning}"
            extra: dict[str, object] = {"video_id": vid}
            if answer.status == 200:
                try:
                    extra["oembed"] = json.loads(answer.body)
                except ValueError:
                    # A consent or bot page in place of JSON says nothing about the video.
                    reason = "YouTube oEmbed answered 200 without JSON (consent or bot page)"
                    return Judgement(Verdict.BLOCKED, f"{reason}; cannot tell", **base)
            return Judgement(verdict, reason, extra=extra, **base)
        failed = failure(answer)
        if failed is None:  # another 2xx: unknown meaning, do not condemn
            return Judgement(Verdict.BLOCKED, f"YouTube oEmbed answered {answer.status}", **base)
        failed.final_url = reading.url
        failed.reason = f"YouTube oEmbed: {failed.reason}"
        failed.extra = {"video_id": vid}
        return failed

    def judge_capture(self, url: str, page: FetchResult) -> Judgement:
        """An archived watch page: the player state it shows decides (a capture of "Video
        unavailable" is a capture of the removed video, whatever the HTTP status said)."""
        found = PLAYABILITY.search(page.text(512 * 1024))
        if found is None or failure(page) is not None:
            return judge_copy(url, page)
        status, why = found.group(1), found.group(2) or ""
        base = {"http_status": page.status, "final_url": page.final_url or url, "page": page}
        if status == "OK":
            return Judgement(Verdict.OK, "the watch page shows a playable video", **base)
        if "not a bot" in why:
            return Judgement(Verdict.BLOCKED, "the watch page shows YouTube's bot check", **base)
        meaning = "private video" if "private" in why.lower() else "removed or unavailable video"
        shown = f" ({why})" if why else ""
        return Judgement(Verdict.BROKEN, f"the watch page shows a {meaning}{shown}", **base)


# -- metadata (the metadata stage reads what ``check`` already fetched) -------------------------
def metadata(judgement: Judgement) -> Found:
    """Title and channel from the oEmbed answer kept in ``judgement.extra["oembed"]``."""
    result = Found()
    oembed = judgement.extra.get("oembed")
    if not isinstance(oembed, dict):
        return result
    for name, key in (("title", "title"), ("channel_url", "author_url")):
        value = oembed.get(key)
        result.add(name, " ".join(value.split()) if isinstance(value, str) else None, "oembed")
    channel = oembed.get("author_name")
    if isinstance(channel, str) and channel.strip():
        result.add("authors", [channel.strip()], "oembed")
    provider = oembed.get("provider_name")
    result.add("site", provider if isinstance(provider, str) else "YouTube", "oembed")
    result.add("content_type", "video", "oembed")
    return result
