"""``linkkeeper list``: the curriculum as a readable table or as JSON, offline.

``titles`` is the seam for the ledger: a mapping of reading id -> fetched page title, used
where the curriculum has no title of its own (shown dimmed, ``title_from: "page"``, the key
``week`` and ``publish`` use; ``title_source: "ledger"`` is its older name, kept).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

from linkkeeper.core import Reading, reader_gone, textsafe
from linkkeeper.curriculum.readings import Comment, Curriculum, Group

PIPE_WIDTH = 200


def _reading(reading: Reading, titles: Mapping[str, str]) -> dict[str, Any]:
    title, source = reading.title, "curriculum" if reading.title else None
    if not title and titles.get(reading.id):
        title, source = titles[reading.id], "ledger"
    if title:  # printed to a terminal: no escape sequences, whoever wrote it
        title = textsafe.title(title)
    return {
        "id": reading.id,
        "title": title,
        "title_from": {"curriculum": "curriculum", "ledger": "page"}.get(source or ""),
        "title_source": source,  # the older name (values curriculum | ledger), kept
        "url": reading.url,
        "kind": reading.kind,
        "note": reading.note,
        "week": reading.week,
        "line": reading.line,
    }


def _comments(comments: list[Comment]) -> list[dict[str, Any]]:
    return [{"author": c.author, "text": c.text} for c in comments]


def _group(name: str | None, note: str | None, comments: list[Any], readings: list[Any]) -> Any:
    return {"group": name, "note": note, "comments": comments, "readings": readings}


def to_data(
    curriculum: Curriculum, titles: Mapping[str, str] | None = None, week: int | None = None
) -> dict[str, Any]:
    """The JSON document: weeks with their readings, then the backlog as groups.

    Ungrouped backlog readings appear in groups with ``"group": null`` (consecutive ones
    together), so every reading sits in a ``readings`` list. ``week`` keeps only that week
    and an empty backlog.
    """
    titles = titles or {}
    weeks = [w for w in curriculum.weeks if week is None or w.number == week]
    backlog: list[dict[str, Any]] = []
    for item in curriculum.backlog if week is None else []:
        if isinstance(item, Group):
            readings = [_reading(r, titles) for r in item.readings]
            backlog.append(_group(item.name, item.note, _comments(item.comments), readings))
        elif backlog and backlog[-1]["group"] is None:
            backlog[-1]["readings"].append(_reading(item, titles))
        else:
            backlog.append(_group(None, None, [], [_reading(item, titles)]))
    return {
        "title": curriculum.title,
        "description": curriculum.description,
        "weeks": [
            {
                "week": w.number,
                "title": w.title,
                "posted": w.posted.isoformat() if w.posted else None,
                "prompt": w.prompt,
                "comments": _comments(w.comments),
                "readings": [_reading(r, titles) for r in w.readings],
            }
            for w in weeks
        ],
        "backlog": backlog,
    }


def render(
    curriculum: Curriculum,
    *,
    fmt: str = "table",
    titles: Mapping[str, str] | None = None,
    week: int | None = None,
) -> None:
    """Print the curriculum to stdout as ``table`` (rich; plain when piped) or ``json``."""
    data = to_data(curriculum, titles, week)
    if fmt == "json":
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return
    from rich.console import Console

    # piped output keeps one reading per line (grep-able) instead of folding at 80 columns
    console = Console(highlight=False, width=None if sys.stdout.isatty() else PIPE_WIDTH)
    console.on_broken_pipe = reader_gone  # type: ignore[method-assign]  # rich would exit 1
    for heading in (data["title"], data["description"]):
        if heading and week is None:
            console.print(heading, style="bold" if heading == data["title"] else "dim")
    for w in data["weeks"]:
        name = f"Week {w['week']}" + (f" · {w['title']}" if w["title"] else "")
        posted = f"  (posted {w['posted']})" if w["posted"] else ""
        _section(console, name + posted, w["prompt"], w["comments"], w["readings"])
    if data["backlog"]:
        console.print("\nBacklog", style="bold")
    for group in data["backlog"]:
        name = f"{group['group']}" if group["group"] else ""
        _section(console, name, group["note"], group["comments"], group["readings"])


def link_text(url: str, style: str = "") -> Any:
    """A URL as a terminal hyperlink (OSC 8): folded at a narrow terminal's edge, every piece
    still opens the whole address (a URL cut mid-word was no longer clickable)."""
    from rich.style import Style
    from rich.text import Text

    base = Style.parse(style or "none")
    if not url.isascii() or not url.isprintable() or " " in url:  # never inside an escape
        return Text(textsafe.plain(url), style=base)
    return Text(url, style=base + Style(link=url))


def _section(
    console: Any,
    heading: str,
    prompt: str | None,
    comments: list[dict[str, Any]],
    readings: list[dict[str, Any]],
) -> None:
    from rich import box
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    if heading:
        console.print(f"\n{heading}", style="bold cyan")
    if prompt:
        console.print(Padding(Text(prompt, style="italic"), (0, 0, 0, 2), expand=False))
    for comment in comments:
        who = f"{comment['author']}: " if comment["author"] else ""
        console.print(
            Padding(Text(f"> {who}{comment['text']}", style="dim"), (0, 0, 0, 2), expand=False)
        )
    if not readings:
        return
    table = Table(box=box.SIMPLE, show_edge=False, pad_edge=False)
    table.add_column("id", style="green", no_wrap=True)
    table.add_column("title", overflow="fold")
    table.add_column("kind")
    table.add_column("url", overflow="fold")
    for r in readings:
        style = "" if r["title_source"] == "curriculum" else "dim italic"
        title = Text(r["title"] or "—", style=style)
        table.add_row(
            r["id"], title, r["kind"] or "", link_text(r["url"]) if r["url"] else "(no link)"
        )
    console.print(table)
