"""mirror.xyz: a Next.js app whose article lives in the ``__NEXT_DATA__`` JSON.

Imitates: ``props.pageProps.__APOLLO_STATE__["entry:<digest>"]`` (title, markdown body,
publishedAtTimestamp, a ``__ref`` to the publication with ``displayName``/``ens``), OG tags,
an empty-shell 200 whose data block is ``{}``, and the Next.js 404 page.
"""

from __future__ import annotations

import html
import json
from typing import Any

from aiohttp import web

from linkkeeper.sandbox.sites._common import build_app, html_response, og, page

ENS = "herndondryhurst.eth"
DIGEST = "eZG6mucl9fqU897XvJs0vUUMnm5OITpSWN8S-6KWamY"
EMPTY_DIGEST = "emptyShellDigest000"
PROJECT_REF = f"ProjectType:{ENS}"
BUILD_ID = "sandbox-build-1"

ENTRY = {
    "__typename": "entry",
    "_id": DIGEST,
    "digest": DIGEST,
    "title": "Infinite Images and the latent camera",
    "body": "# Infinite Images and the latent camera\n\nAI image generators are cameras "
    "pointed at the latent space of everything humans have pictured.\n\n"
    "## Spawning\n\nWe think of the model as a collective instrument, not a tool.\n",
    "publishedAtTimestamp": 1651766400,
    "publisher": {"__typename": "PublisherType", "project": {"__ref": PROJECT_REF}},
}
PROJECT = {
    "__typename": "ProjectType",
    "displayName": "Holly Herndon & Mat Dryhurst",
    "ens": ENS,
    "address": "0x0000000000000000000000000000000000000000",
}


def next_page(
    title: str, head: str, page_name: str, props: dict[str, Any], query: dict[str, str], main: str
) -> str:
    data = {
        "props": props,
        "page": page_name,
        "query": query,
        "buildId": BUILD_ID,
        "isFallback": False,
        "gssp": True,
        "scriptLoader": [],
    }
    script = (
        f'<script id="__NEXT_DATA__" type="application/json">'
        f"{json.dumps(data, separators=(',', ':'))}</script>"
    )
    return page(title, f'<div id="__next">{main}</div>\n{script}', head)


async def entry(request: web.Request) -> web.StreamResponse:
    digest = request.match_info["digest"]
    query = {"ens": ENS, "digest": digest}
    if digest == DIGEST:
        state = {f"entry:{DIGEST}": ENTRY, PROJECT_REF: PROJECT}
        title = str(ENTRY["title"])
        url = f"https://mirror.xyz/{ENS}/{DIGEST}"
        head = og(
            title, url, "AI art, spawning and the latent camera", site=str(PROJECT["displayName"])
        )
        main = f"<article><h1>{html.escape(title)}</h1></article>"
    else:  # the empty shell: same chrome, no entry in the data block
        state, title, head, main = {}, "Mirror", og("Mirror", "https://mirror.xyz/"), ""
    props = {
        "pageProps": {"__APOLLO_STATE__": state, "digest": digest, "ens": ENS},
        "__N_SSP": True,
    }
    return html_response(next_page(title, head, "/[ens]/[digest]", props, query, main))


async def not_found(request: web.Request) -> web.StreamResponse:
    props = {"pageProps": {"statusCode": 404}}
    main = "<h1>404</h1><h2>This page could not be found.</h2>"
    text = next_page("404: This page could not be found", "", "/_error", props, {}, main)
    return html_response(text, status=404)


def mirror_app() -> web.Application:
    return build_app(
        [web.get(f"/{ENS}/{{digest:{DIGEST}|{EMPTY_DIGEST}}}", entry)],
        not_found,
    )
