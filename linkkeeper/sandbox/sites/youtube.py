"""www.youtube.com: watch pages that answer 200 for everything, and the oEmbed endpoint.

Imitates: removed and private videos still answer 200 (told apart only by
``playabilityStatus``), the "Sign in to confirm you're not a bot" page that datacenter clients
get even for live videos, and oEmbed, the reliable existence check: 200 exists, 401 embedding
disabled, 403 private, 404 deleted, 400 bad id.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from aiohttp import web

from linkkeeper.sandbox.sites._common import (
    build_app,
    html_response,
    meta,
    not_found_page,
    page,
)

WatchState = Literal["ok", "removed", "private", "botcheck"]
VALID_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")


@dataclass(frozen=True)
class Video:
    title: str
    author: str
    channel: str  # the @handle
    watch: WatchState  # what the watch page shows
    oembed: int  # what oEmbed answers
    embeddable: bool = True


VIDEOS = {
    "y57wwucbXR8": Video(
        "Building the Software 2 0 Stack (Andrej Karpathy)", "Databricks", "@Databricks", "ok", 200
    ),
    "RJwPN4qNi_Y": Video(
        "DALL-E 2 and PaLM explained", "AI Explainers", "@aiexplainers", "ok", 200
    ),
    "noEmbedVid1": Video(
        "A talk that may not be embedded",
        "Sandbox Channel",
        "@sandbox",
        "ok",
        401,
        embeddable=False,
    ),
    "removedVid01": Video("", "", "", "removed", 404),
    "privateVid01": Video("", "", "", "private", 403),
    "botcheckV01": Video("", "", "", "botcheck", 404),  # bot wall over a deleted video
    "botLiveVid1": Video(
        "A live video behind the bot check", "Sandbox Channel", "@sandbox", "botcheck", 200
    ),
}
UNKNOWN = Video("", "", "", "removed", 404)  # a well-formed id YouTube has no video for

PLAYABILITY: dict[WatchState, dict[str, Any]] = {
    "removed": {
        "status": "ERROR",
        "reason": "Video unavailable",
        "errorScreen": {
            "playerErrorMessageRenderer": {
                "subreason": {"simpleText": "This video has been removed by the uploader"}
            }
        },
    },
    "private": {
        "status": "LOGIN_REQUIRED",
        "reason": "This is a private video",
        "messages": ["Please sign in if you've been granted access to this video"],
    },
    "botcheck": {
        "status": "LOGIN_REQUIRED",
        "reason": "Sign in to confirm you're not a bot",
        "messages": ["This helps protect our community. Learn more"],
    },
}


def _compact(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


async def watch(request: web.Request) -> web.StreamResponse:
    video_id = request.query.get("v", "")
    video = VIDEOS.get(video_id, UNKNOWN)
    url = f"https://www.youtube.com/watch?v={video_id}"
    if video.watch == "ok":
        player = {
            "responseContext": {},
            "playabilityStatus": {"status": "OK", "playableInEmbed": video.embeddable},
            "videoDetails": {
                "videoId": video_id,
                "title": video.title,
                "author": video.author,
                "lengthSeconds": "1234",
                "isPrivate": False,
            },
        }
        head = meta(
            ("name", "title", video.title),
            ("property", "og:title", video.title),
            ("property", "og:url", url),
            ("property", "og:type", "video.other"),
        )
        head += f'\n<link rel="canonical" href="{html.escape(url)}">'
        title = video.title
    else:
        player = {"responseContext": {}, "playabilityStatus": PLAYABILITY[video.watch]}
        head, title = "", ""
    script = f"<script>var ytInitialPlayerResponse = {_compact(player)};</script>"
    body = f'<div id="player"></div>\n{script}\n<ytd-app></ytd-app>'
    return html_response(page(f"{title} - YouTube", body, head))


def _video_id(url: str) -> str | None:
    """The id of a watch or youtu.be URL, else None."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host in ("www.youtube.com", "youtube.com", "m.youtube.com") and parts.path == "/watch":
        return parse_qs(parts.query).get("v", [None])[0]
    if host == "youtu.be":
        return parts.path.lstrip("/") or None
    return None


OEMBED_ERRORS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}


async def oembed(request: web.Request) -> web.StreamResponse:
    if request.query.get("format", "json") != "json":
        return web.Response(status=501, text="Not Implemented", content_type="text/plain")
    video_id = _video_id(request.query.get("url", ""))
    if video_id is None or (video_id not in VIDEOS and not VALID_ID.match(video_id)):
        status = 400
    else:
        video = VIDEOS.get(video_id, UNKNOWN)
        status = video.oembed
    if status != 200:
        return web.Response(status=status, text=OEMBED_ERRORS[status], content_type="text/plain")
    data = {
        "title": video.title,
        "author_name": video.author,
        "author_url": f"https://www.youtube.com/{video.channel}",
        "type": "video",
        "height": 113,
        "width": 200,
        "version": "1.0",
        "provider_name": "YouTube",
        "provider_url": "https://www.youtube.com/",
        "thumbnail_height": 360,
        "thumbnail_width": 480,
        "thumbnail_url": f"https://i.ytimg.com/vi/{video_id}/hqdefault.jpg",
        "html": f'<iframe width="200" height="113" src="https://www.youtube.com/embed/'
        f'{video_id}?feature=oembed" frameborder="0" allowfullscreen></iframe>',
    }
    return web.json_response(data)


async def home(request: web.Request) -> web.StreamResponse:
    return html_response(page("YouTube", "<ytd-app></ytd-app>"))


def youtube_app() -> web.Application:
    return build_app(
        [web.get("/", home), web.get("/watch", watch), web.get("/oembed", oembed)],
        not_found_page("404 Not Found", "This page isn't available. Sorry about that."),
    )
