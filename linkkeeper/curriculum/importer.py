"""Markdown page -> curriculum data, merged into an existing ``readings.yaml`` without loss.

The page is the group's bullet list ("Week N: ...", nested bullets, "Prompt:" lines, "Name: text"
comments, a "Backlog" section). Every word on the page lands somewhere: link text becomes a
reading's title, the sentence around it the week's prompt or the reading's note. Merging only
adds: what a person wrote in the file (titles, notes, ids, extra readings, dates) is kept.

An existing file is edited, not regenerated (:mod:`linkkeeper.curriculum.yamledit`): the page's
additions
are inserted where a fresh import would put them, laid out as a fresh import lays them out, and
every comment and untouched line stays as it was.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from linkkeeper.core import atomic_write_text
from linkkeeper.curriculum import readings as curriculum
from linkkeeper.curriculum import yamledit
from linkkeeper.curriculum.readings import (
    Curriculum,
    CurriculumError,
    Problem,
    derive_id,
    derive_kind,
    url_key,
)

SCHEMA_COMMENT = "# yaml-language-server: $schema={}"
# The schema as published with linkkeeper's sources (raw JSON, for editors anywhere).
SCHEMA_URL = (
    "https://raw.githubusercontent.com/ai-workshop/linkkeeper/main/linkkeeper/readings.schema.json"
)
BLANK_BEFORE = {("top", "weeks"), ("top", "backlog")}  # keys set off by a blank line
KEY_ORDER = {
    "top": ("title", "description", "weeks", "backlog"),
    "week": ("week", "title", "posted", "prompt", "comments", "readings"),
    "group": ("group", "note", "comments", "readings"),
    "reading": curriculum.READING_KEYS,
    "comment": ("author", "text"),
}
MD_LINK = re.compile(r"\[(?P<text>[^\]]*)\]\((?P<url>[^)\s]+)\)")
BARE_URL = re.compile(r"https?://[^\s<>()\[\]]+")
TRAILING_PUNCT = ".,;:!?'\""
WEEK = re.compile(r"^week\s+(?P<n>\d+)\s*[:.\-–]?\s*(?P<rest>.*)$", re.IGNORECASE)
BACKLOG = re.compile(r"^(backlog|hopper|later|someday)\b", re.IGNORECASE)
LABEL = re.compile(r"^(?P<label>[^:]{1,40}):\s*(?P<rest>.*)$")
AUTHOR = re.compile(r"^[A-Z][\w.'-]*( [A-Z][\w.'-]*)?$")  # "Venkat", "Mary Ann"
THIS_THING = re.compile(
    r"\bthis (?P<thing>(?:[\w-]+ ){0,5}?[\w-]+) (?:to|for|from|on|by|with|in|and|that|which)\b"
)
SHORT_LABEL_WORDS = 6


# -- the page as a tree of bullets ------------------------------------------------------------
@dataclass
class Node:
    text: str
    line: int
    children: list[Node] = field(default_factory=list)


def parse_tree(markdown: str) -> tuple[str | None, list[str], list[Node]]:
    """(heading, loose paragraphs, top-level bullets); continuation lines join their bullet."""
    heading: str | None = None
    paragraphs: list[str] = []
    roots: list[Node] = []
    stack: list[tuple[int, Node]] = []
    for number, raw in enumerate(markdown.splitlines(), start=1):
        if not raw.strip():
            continue
        bullet = re.match(r"^(?P<indent>\s*)[-*+](?:\s+(?P<text>.*)|$)", raw)
        if bullet is None:
            text = raw.strip()
            if text.startswith("#") and heading is None and not roots:
                heading = text.lstrip("#").strip()
            elif stack and raw[:1].isspace():
                stack[-1][1].text += " " + text  # a wrapped bullet
            else:
                paragraphs.append(text)
            continue
        indent = len(bullet["indent"].expandtabs(4))
        node = Node(text=(bullet["text"] or "").strip(), line=number)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        (stack[-1][1].children if stack else roots).append(node)
        stack.append((indent, node))
    return heading, paragraphs, roots


# -- links and the prose around them ----------------------------------------------------------
@dataclass
class Link:
    text: str | None  # None for a bare URL
    url: str


def split_links(text: str) -> list[str | Link]:
    """The text as prose pieces and links, in order."""
    parts: list[str | Link] = []
    pos = 0
    for match in MD_LINK.finditer(text):
        parts.extend(_bare_links(text[pos : match.start()]))
        parts.append(Link(match["text"].strip() or None, match["url"]))
        pos = match.end()
    parts.extend(_bare_links(text[pos:]))
    return parts


def _bare_links(text: str) -> list[str | Link]:
    parts: list[str | Link] = []
    pos = 0
    for match in BARE_URL.finditer(text):
        url = match.group().rstrip(TRAILING_PUNCT)
        parts.append(text[pos : match.start()])
        parts.append(Link(None, url))
        pos = match.start() + len(url)
    parts.append(text[pos:])
    return [p for p in parts if p != ""]


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"\s+([,;.!?])", r"\1", text)


def prose(parts: list[str | Link], *, keep_trailing: bool = False) -> str:
    """The sentence without its URLs: link texts kept inline, bare URLs dropped.

    Links that end the sentence ("... obsolete [Title](url)") are dropped unless
    ``keep_trailing``: a week's prompt reads better without them, the reading is listed anyway.
    """
    if not keep_trailing:
        while parts and (isinstance(parts[-1], Link) or not parts[-1].strip()):
            parts = parts[:-1]
    words = [p if isinstance(p, str) else (p.text or "") for p in parts]
    return _tidy("".join(words)).rstrip(":").strip()


@dataclass
class Bullet:
    """What one line says: its links (as readings) and the sentence around them."""

    readings: list[dict[str, Any]]
    sentence: str | None  # the prose, when it says more than the link titles (a prompt)
    note: str | None = None  # the same with trailing link texts kept (a reading's note)


def read_bullet(text: str) -> Bullet:
    parts = split_links(text)
    links = [p for p in parts if isinstance(p, Link)]
    residual = _tidy("".join(p for p in parts if isinstance(p, str)))
    readings = [_reading(link.text, link.url) for link in links]
    if not links:
        return Bullet([], _tidy(text) or None)
    if not residual.strip(TRAILING_PUNCT + " -"):
        return Bullet(readings, None)
    bare_label = len(links) == 1 and links[0].text is None and isinstance(parts[-1], Link)
    if bare_label and _is_label(residual):
        readings[0]["title"] = residual
        return Bullet(readings, None)
    return Bullet(readings, prose(parts) or None, prose(parts, keep_trailing=True) or None)


def _is_label(text: str) -> bool:
    """A short name ("Latent spaces") rather than a sentence ("Comment on this article: ")."""
    return len(text.split()) <= SHORT_LABEL_WORDS and not re.search(r"[:.,;!?]$", text)


def _reading(title: str | None, url: str | None, note: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"title": title, "url": url, "kind": derive_kind(url), "note": note}
    return {k: v for k, v in item.items() if v}


def task_title(text: str) -> str:
    """A short title for an item without a link: 'this X to ...', else text after 'Label:'."""
    if match := THIS_THING.search(text):
        return match["thing"]
    if (match := LABEL.match(text)) and match["rest"] and len(match["label"].split()) <= 4:
        text = match["rest"]
    return re.sub(r"\s*\([^)]*\)\s*$", "", text).strip() or text


def _task(text: str) -> dict[str, Any]:
    title = task_title(text)
    return {"title": title, "note": text} if title != text else {"title": title}


# -- interpreting the tree --------------------------------------------------------------------
class _Page:
    """Walks the bullets once, filling weeks, backlog and a pending 'Label:' capture."""

    def __init__(self) -> None:
        self.intro: list[str] = []
        self.weeks: list[dict[str, Any]] = []
        self.backlog: list[dict[str, Any]] | None = None
        self.capture: dict[str, Any] | None = None  # a bare "Response:" waiting for its text

    def top(self, node: Node) -> None:
        if not node.text and not node.children:
            return
        if match := WEEK.match(node.text):
            self.capture = None
            self.week(int(match["n"]), match["rest"], node.children)
        elif BACKLOG.match(node.text) and self.weeks:
            self.backlog = self.backlog if self.backlog is not None else []
            for child in node.children:
                self.backlog_item(child, self.backlog)
        elif self.capture is not None:
            self.captured(node)
        elif self.backlog is not None:
            self.backlog_item(node, self.backlog)
        elif self.weeks:
            self.week_child(self.weeks[-1], node)
        else:
            self.intro.append(_tidy(node.text))
            for child in node.children:
                self.intro.append(_tidy(child.text))

    def week(self, number: int, text: str, children: list[Node]) -> None:
        week: dict[str, Any] = {"week": number, "readings": []}
        self.weeks.append(week)
        bullet = read_bullet(text)
        week["readings"].extend(bullet.readings)
        if bullet.readings:
            if bullet.sentence:
                week["prompt"] = bullet.sentence
        elif bullet.sentence:
            head, sep, tail = bullet.sentence.partition(", ")
            if sep and len(head.split()) <= 4:
                week["title"], week["prompt"] = head, tail[:1].upper() + tail[1:]
            elif children or _is_label(bullet.sentence):
                week["title"] = bullet.sentence
            else:  # an instruction with no link: the thing to try is a reading without a URL
                week["prompt"] = bullet.sentence
                week["readings"].append({"title": task_title(bullet.sentence)})
        for child in children:
            self.week_child(week, child)

    def week_child(self, week: dict[str, Any], node: Node) -> None:
        label = LABEL.match(node.text)
        if label and label["label"].lower() == "prompt":
            prompt = _tidy(label["rest"])
            week["prompt"] = f"{week['prompt']}\n{prompt}" if week.get("prompt") else prompt
        elif label and label["rest"] and AUTHOR.match(label["label"]) and not split_has_link(node):
            comment = {"author": label["label"], "text": _tidy(label["rest"])}
            week.setdefault("comments", []).append(comment)
        else:
            week["readings"].extend(self.readings_of(node))
            for child in node.children:
                self.week_child(week, child)

    def readings_of(self, node: Node) -> list[dict[str, Any]]:
        bullet = read_bullet(node.text)
        if not bullet.readings:
            return [_task(bullet.sentence)] if bullet.sentence else []
        if bullet.note and bullet.note != bullet.readings[0].get("title"):
            bullet.readings[0]["note"] = bullet.note
        return bullet.readings

    def backlog_item(self, node: Node, into: list[dict[str, Any]]) -> None:
        has_links = split_has_link(node)
        label = LABEL.match(node.text)
        if not has_links and node.children:
            group: dict[str, Any] = {"group": _tidy(node.text), "readings": []}
            into.append(group)
            for child in node.children:
                group["readings"].extend(self.readings_of(child))
                for grandchild in child.children:
                    group["readings"].extend(self.readings_of(grandchild))
        elif not has_links and label and not label["rest"]:
            self.capture = {"group": _tidy(label["label"]), "readings": []}
            into.append(self.capture)
        else:
            into.extend(self.readings_of(node))
            for child in node.children:
                self.backlog_item(child, into)

    def captured(self, node: Node) -> None:
        """Text after a bare 'Response:' bullet: a comment, its links as readings."""
        assert self.capture is not None
        bullet = read_bullet(node.text)
        if bullet.sentence:
            self.capture.setdefault("comments", []).append({"text": bullet.sentence})
        self.capture["readings"].extend(bullet.readings)
        for child in node.children:
            self.captured(child)


def split_has_link(node: Node) -> bool:
    return any(isinstance(p, Link) for p in split_links(node.text))


def parse_page(markdown: str) -> dict[str, Any]:
    """The page as curriculum data (plain dicts, canonical key order, ids assigned)."""
    heading, paragraphs, roots = parse_tree(markdown)
    page = _Page()
    page.intro.extend(paragraphs)
    for node in roots:
        page.top(node)
    data: dict[str, Any] = {}
    if heading:
        data["title"] = heading
    if page.intro:
        data["description"] = "\n".join(page.intro)
    data["weeks"] = page.weeks
    if page.backlog:
        # a "Response:" with nothing after it says nothing: leave it out
        data["backlog"] = [
            g for g in page.backlog if "group" not in g or g.get("readings") or g.get("comments")
        ]
    _assign_ids(data, set())
    return _ordered(data)


def _assign_ids(data: dict[str, Any], used: set[str]) -> None:
    """Give every reading without an id the derived one, unique within ``used``."""
    for _, item in curriculum.reading_items(data):
        if "id" not in item:
            item["id"] = unique_id(derive_id(item.get("title"), item.get("url")), used)
        used.add(item["id"])


def unique_id(base: str, used: set[str]) -> str:
    candidate, n = base, 2
    while candidate in used:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


# -- merging ----------------------------------------------------------------------------------
def _norm(text: str | None) -> str:
    return re.sub(r"\W+", " ", (text or "").lower()).strip()


class _Index:
    """Finds the file's reading that a page reading is: same URL, else same id, else title."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.by_url: dict[str, dict[str, Any]] = {}
        self.by_id: dict[str, dict[str, Any]] = {}
        self.by_title: dict[str, dict[str, Any]] = {}
        for _, item in curriculum.reading_items(data):
            self.add(item)

    def add(self, item: dict[str, Any]) -> None:
        if item.get("url"):
            self.by_url.setdefault(url_key(item["url"]), item)
        if item.get("id"):
            self.by_id.setdefault(item["id"], item)
        if item.get("title") and not item.get("url"):
            self.by_title.setdefault(_norm(item["title"]), item)

    def find(self, item: dict[str, Any], page_urls: set[str]) -> dict[str, Any] | None:
        """Same URL; else same id when the file's URL left the page (a link a person moved)."""
        if item.get("url") and (hit := self.by_url.get(url_key(item["url"]))):
            return hit
        hit = self.by_id.get(item["id"])
        if hit and item.get("url") and hit.get("url") and url_key(hit["url"]) not in page_urls:
            return hit
        if hit and not item.get("url") and not hit.get("url"):
            return hit
        return None if item.get("url") else self.by_title.get(_norm(item.get("title")))


def merge(
    doc: dict[str, Any], page: dict[str, Any], used: set[str], notes: list[str] | None = None
) -> int:
    """Add to ``doc`` (the file as a round-trip document) what the page has and it lacks.

    Works in place and only adds: nothing in the file is dropped, changed or reordered, and
    comments stay with the lines they annotate. ``used`` holds the file's reading ids;
    ``notes`` collects what a person should know (page links taken as moved readings).
    Returns how many things were added: 0 means the file stays as it is.
    """
    edit = yamledit.Editor(KEY_ORDER, BLANK_BEFORE, _Dumper)
    index = _Index(doc)
    page_urls = {
        url_key(item["url"]) for _, item in curriculum.reading_items(page) if "url" in item
    }
    notes = notes if notes is not None else []
    for key in ("title", "description"):
        if key in page and key not in doc:
            edit.set(doc, key, page[key], "top")

    def new_readings(items: list[dict[str, Any]]) -> list[Any]:
        added: list[Any] = []  # round-trip mappings
        for item in items:
            if (hit := index.find(item, page_urls)) is not None:
                if item.get("url") and url_key(item["url"]) != url_key(hit.get("url") or ""):
                    notes.append(
                        f"the page's {item['url']} is taken as reading '{hit['id']}', which the "
                        f"file gives as {hit['url']}; keeping the file's URL"
                    )
                for key in ("title", "note"):
                    if key in item and key not in hit:
                        edit.set(hit, key, item[key], "reading")
                continue
            new = edit.node(dict(item, id=unique_id(item["id"], used)))
            used.add(new["id"])
            added.append(new)
            index.add(new)
        return added

    weeks = doc["weeks"]
    for week in page.get("weeks", []):
        target = next((w for w in weeks if w.get("week") == week["week"]), None)
        fresh = target is None
        target = edit.node({"week": week["week"]}) if target is None else target
        _fill(edit, target, week, ("title", "posted", "prompt"), "week")
        edit.extend(target, "readings", new_readings(week.get("readings", [])), "week")
        if fresh:  # in number order, the person's own order of weeks untouched
            at = next((i for i, w in enumerate(weeks) if w.get("week", 0) > week["week"]), None)
            edit.insert(weeks, len(weeks) if at is None else at, target, (doc, "weeks"), blank=True)
    backlog = doc["backlog"] if "backlog" in doc else edit.node([])
    for item in page.get("backlog", []):
        if "group" not in item:
            edit.extend_seq(backlog, new_readings([item]), (doc, "backlog"))
            continue
        group = next((g for g in backlog if _norm(g.get("group")) == _norm(item["group"])), None)
        fresh = group is None
        group = edit.node({"group": item["group"]}) if group is None else group
        _fill(edit, group, item, ("note",), "group")
        edit.extend(group, "readings", new_readings(item.get("readings", [])), "group")
        if fresh:
            edit.extend_seq(backlog, [group], (doc, "backlog"))
    if backlog and "backlog" not in doc:
        edit.set(doc, "backlog", backlog, "top")
    return edit.added


def _fill(
    edit: yamledit.Editor,
    target: dict[str, Any],
    source: dict[str, Any],
    keys: tuple[str, ...],
    kind: str,
) -> None:
    """Set missing scalar keys; append comments the target does not already have."""
    for key in keys:
        if key in source and key not in target:
            edit.set(target, key, source[key], kind)
    for comment in source.get("comments", []):
        have = [c.get("text", "") for c in target.get("comments", [])]
        if not any(difflib.SequenceMatcher(None, comment["text"], h).ratio() > 0.8 for h in have):
            edit.extend(target, "comments", [edit.node(comment)], kind)


# -- writing ----------------------------------------------------------------------------------
def _ordered(data: Any, kind: str = "top") -> Any:
    """Canonical key order everywhere, so dumps are stable whatever order a person used."""
    if isinstance(data, list):
        return [_ordered(item, kind) for item in data]
    if not isinstance(data, dict):
        return data
    if kind == "backlog":
        kind = "group" if "group" in data else "reading"
    order = KEY_ORDER[kind]
    keys = sorted(data, key=lambda k: order.index(k) if k in order else len(order))
    child = {"weeks": "week", "backlog": "backlog", "readings": "reading", "comments": "comment"}
    return {k: _ordered(data[k], child.get(k, kind)) for k in keys}


class _Dumper(yaml.SafeDumper):
    """Block style with indented lists; multi-line text as literal blocks."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_str)


def schema_reference(output: Path) -> str:
    """Where editors find the schema: ``./linkkeeper/...`` in linkkeeper's own repository,
    else the published copy (:data:`SCHEMA_URL`). A path into wherever linkkeeper happens to
    be installed (``../../.venv/lib/python3.11/site-packages/...``) would be committed and
    break on every other machine."""
    # the schema sits at the package root (linkkeeper/readings.schema.json)
    schema = Path(curriculum.__file__).parents[1].joinpath(curriculum.SCHEMA_FILE).resolve()
    relative = os.path.relpath(schema, output.resolve().parent)
    installed = {"site-packages", "dist-packages"} & set(schema.parts)
    if relative.startswith("..") or installed or os.path.isabs(relative):
        return SCHEMA_URL
    return f"./{relative}"


def dump(data: dict[str, Any], header: str) -> str:
    """YAML text: ``header`` (comment lines), then the data; a blank line between weeks.

    Keys are written in the order of ``data``: canonical for imported items, a person's own
    order for what they wrote.
    """
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=4096)
    body = re.sub(r"(?<!weeks:)\n(?=(  - week: |backlog:|weeks:))", "\n\n", body)
    return header.rstrip("\n") + "\n" + body


def _leading_comments(text: str) -> list[str]:
    """The comment (and blank) lines a file starts with."""
    lines: list[str] = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            break
        lines.append(line)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _header(text: str | None, output: Path) -> str:
    """The file's leading comment block, kept verbatim; the schema line added if absent."""
    lines = _leading_comments(text or "")
    if not any("yaml-language-server" in line for line in lines):
        lines.insert(0, SCHEMA_COMMENT.format(schema_reference(output)))
    return "\n".join(lines) + "\n"


def merge_text(
    text: str, existing: Curriculum, page: dict[str, Any], notes: list[str], filename: str
) -> str:
    """``text`` with what ``page`` adds: every other byte as it was (nothing to add: ``text``)."""
    used = {r.id for r in existing.readings()}
    try:
        return yamledit.edit(text, lambda doc: merge(doc, page, used, notes))
    except yamledit.EditError as exc:  # PyYAML read it; ruamel cannot
        message = f"cannot edit this file in place ({exc}); import into a new file instead"
        raise CurriculumError([Problem(filename, exc.line, 1, "", message)]) from None


@dataclass
class ImportResult:
    output: Path
    old_text: str | None
    new_text: str
    written: bool
    # (line, text) of the file's lines the edit does not keep as written: ruamel cannot carry
    # a few layouts (multi-line flow collections, plain text wrapped over lines, an indentation
    # that differs from the file's first list, escapes in double quotes); empty for files in
    # the importer's own layout, and always when nothing is added (the file is left alone)
    rewritten: list[tuple[int, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # merge decisions worth a look

    @property
    def changed(self) -> bool:
        return self.old_text != self.new_text

    @property
    def created(self) -> bool:
        return self.old_text is None

    def diff(self) -> str:
        name = str(self.output)
        lines = difflib.unified_diff(
            (self.old_text or "").splitlines(keepends=True),
            self.new_text.splitlines(keepends=True),
            fromfile=f"{name} (now)" if self.old_text is not None else "/dev/null",
            tofile=f"{name} (imported)",
        )
        return "".join(lines)


class PageError(Exception):
    """The page cannot be imported (no 'Week N:' items); the message says what to check."""


def import_page(page: Path, output: Path, *, write: bool = False) -> ImportResult:
    """Import ``page`` into ``output``: create it, or merge and write only when ``write``.

    Raises :class:`curriculum.CurriculumError` when the existing file (or the result) is
    invalid, :class:`PageError` when the page has no weeks.
    """
    imported = parse_page(page.read_text(encoding="utf-8"))
    if not imported["weeks"]:
        raise PageError(f"{page}: no 'Week N: ...' bullets found; is this the reading-list page?")
    old_text = output.read_text(encoding="utf-8") if output.exists() else None
    notes: list[str] = []
    if old_text is None:
        new_text = dump(imported, _header(None, output))
    else:
        existing = curriculum.loads(old_text, filename=str(output), path=output)
        new_text = merge_text(old_text, existing, imported, notes, str(output))
        if not any("yaml-language-server" in line for line in _leading_comments(old_text)):
            new_text = _header(None, output) + new_text
    curriculum.loads(new_text, filename=str(output))  # never write a file the loader rejects
    rewritten = yamledit.rewritten(old_text, new_text) if old_text is not None else []
    result = ImportResult(output, old_text, new_text, False, rewritten=rewritten, notes=notes)
    if result.changed and (result.created or write):
        atomic_write_text(output, new_text)
        result.written = True
    return result
