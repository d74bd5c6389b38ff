"""The curriculum: ``readings.yaml`` loaded, validated and flattened into :class:`Reading` s.

Structure is checked with the published JSON Schema (``readings.schema.json``), so editors and
the loader agree by construction; URL shape and duplicate ids/URLs are checked here. Every
problem carries the file, line and column (from PyYAML's composed node marks), the path in the
document, what is wrong and the fix; all problems are reported in one go.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from linkkeeper.core import Reading, host_problem

SCHEMA_FILE = "readings.schema.json"
READING_KEYS = ("id", "title", "url", "kind", "note")  # also the key order the importer writes

DocPath = tuple[str | int, ...]


# -- problems ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """One thing wrong (or suspicious) in a curriculum file, located and with its fix."""

    file: str
    line: int | None  # 1-based
    column: int | None  # 1-based
    path: str  # e.g. weeks[2].readings[0].url
    message: str  # what is wrong; the fix
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}:{self.column}"
        level = "warning: " if self.severity == "warning" else ""
        path = f"{self.path}: " if self.path else ""
        return f"{where}: {level}{path}{self.message}"


class CurriculumError(Exception):
    """The file cannot be used; ``problems`` lists every error (and warning) found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


# -- the model --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Comment:
    """An organizer's or member's remark attached to a week or a backlog group."""

    text: str
    author: str | None = None


@dataclass
class Week:
    number: int
    title: str | None = None
    posted: date | None = None
    prompt: str | None = None
    comments: list[Comment] = field(default_factory=list)
    readings: list[Reading] = field(default_factory=list)
    line: int | None = None


@dataclass
class Group:
    """A named bundle of backlog readings ("Hands on 1"); its readings carry it as week_title."""

    name: str
    note: str | None = None
    comments: list[Comment] = field(default_factory=list)
    readings: list[Reading] = field(default_factory=list)
    line: int | None = None


@dataclass
class Curriculum:
    path: Path | None
    title: str | None
    description: str | None
    weeks: list[Week]
    backlog: list[Reading | Group]
    warnings: list[Problem] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # the file as plain data, as written

    def readings(self) -> list[Reading]:
        """Every reading in file order: weeks first, then the backlog (week=None)."""
        found = [r for week in self.weeks for r in week.readings]
        return found + self.backlog_readings()

    def backlog_readings(self) -> list[Reading]:
        out: list[Reading] = []
        for item in self.backlog:
            out.extend(item.readings if isinstance(item, Group) else [item])
        return out

    def week(self, number: int) -> Week | None:
        return next((w for w in self.weeks if w.number == number), None)

    def by_id(self) -> dict[str, Reading]:
        return {r.id: r for r in self.readings()}


# -- derived ids and kinds --------------------------------------------------------------------
ARXIV_PATH = re.compile(r"^/(?:abs|pdf|html)/(?P<id>.+?)(?:v\d+)?(?:\.pdf)?/?$")
KIND_BY_HOST = {
    "arxiv.org": "arxiv",
    "export.arxiv.org": "arxiv",
    "youtube.com": "youtube",
    "m.youtube.com": "youtube",
    "youtu.be": "youtube",
    "vimeo.com": "video",
    "medium.com": "medium",
    "mirror.xyz": "mirror",
    "github.com": "repo",
    "gitlab.com": "repo",
    "playground.tensorflow.org": "tool",
    "colab.research.google.com": "tool",
}
KIND_BY_EXTENSION = {".pdf": "pdf", ".mp4": "video", ".webm": "video", ".mp3": "podcast"}


def slugify(text: str, limit: int = 60) -> str:
    """Lowercase ASCII words joined by hyphens, cut at a word boundary near ``limit``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > limit:
        slug = slug[:limit].rsplit("-", 1)[0] if "-" in slug[:limit] else slug[:limit]
    return slug


def _host(url: str) -> str:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return re.sub(r"^www\d*\.", "", host)


def arxiv_id(url: str) -> str | None:
    """``1706.03762`` for any abs/pdf/html arXiv URL (version dropped), else None."""
    if _host(url) not in ("arxiv.org", "export.arxiv.org"):
        return None
    match = ARXIV_PATH.match(urlsplit(url).path)
    return match["id"] if match else None


def youtube_id(url: str) -> str | None:
    parts = urlsplit(url)
    host = _host(url)
    if host == "youtu.be":
        return parts.path.strip("/") or None
    if host in ("youtube.com", "m.youtube.com"):
        return (parse_qs(parts.query).get("v") or [None])[0]
    return None


def derive_id(title: str | None, url: str | None) -> str:
    """arXiv number, else slug of the title, else YouTube id, else host+path slug."""
    if url and (number := arxiv_id(url)):
        return f"arxiv-{slugify(number)}"
    if title and (slug := slugify(title)):
        return slug
    if url and (video := youtube_id(url)):
        return f"youtube-{slugify(video)}"
    if url and (slug := _url_slug(url)):
        return slug
    return "reading"


def _url_slug(url: str) -> str:
    """Site name plus the last readable path segment: ``csudh-frankfurt-harry-on-bullshit``."""
    host = _host(url)
    site = host.rsplit(".", 1)[0] if "." in host else host  # drop the top-level domain
    segments = [s for s in urlsplit(url).path.split("/") if s]
    segments = [re.sub(r"\.(pdf|html?|php|aspx?)$", "", s, flags=re.IGNORECASE) for s in segments]
    segments = [re.sub(r"-(?:[0-9a-f]{8,}|\d{6,})$", "", s) for s in segments]  # hash, date
    readable = next((s for s in reversed(segments) if not _opaque(s)), "")
    return slugify(f"{site} {readable}")


def _opaque(segment: str) -> bool:
    """A token such as ``eZG6mucl9fqU897XvJs0vUUMnm5OITpSWN8S-6KWamY`` (no words to read)."""
    words = len(re.findall(r"[-_.]", segment)) + 1
    return len(segment) >= 16 and words <= 2 and bool(re.search(r"\d", segment))


def derive_kind(url: str | None) -> str | None:
    """What a link is, from its host and extension; None without a URL."""
    if not url:
        return None
    host = _host(url)
    for known, kind in KIND_BY_HOST.items():
        if host == known or host.endswith("." + known):
            return kind
    suffix = Path(urlsplit(url).path).suffix.lower()
    return KIND_BY_EXTENSION.get(suffix, "article")


def url_key(url: str) -> str:
    """Comparison key for duplicate detection: case-folded scheme/host, no trailing slash."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    rest = parts.path.rstrip("/") + (f"?{parts.query}" if parts.query else "")
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{rest}"


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be checked, phrased with its fix; None when it is fine."""
    if url != url.strip():
        return f"{url!r} has spaces at its start or end; remove them"
    if any(ch.isspace() for ch in url):
        return f"{url!r} contains a space; remove it or write it as %20"
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in url):
        return (
            f"{url!r} contains an invisible control character; copy the address again from "
            "the browser"
        )
    scheme, sep, rest = url.partition("://")
    if not sep:
        if re.match(r"^[\w-]+(\.[\w-]+)+(/|$)", url):
            return f"{url!r} has no scheme; write it as https://{url}"
        if re.match(r"^[a-zA-Z][\w+.-]*:", url):
            return f"{url!r} is not a web link; only http(s) links can be checked"
        return f"{url!r} is not a URL; write the full address, e.g. https://example.org/page"
    if scheme not in ("http", "https"):
        if scheme.lower() in ("http", "https"):
            return f"{url!r}: write the scheme in lowercase: {scheme.lower()}://{rest}"
        if difflib.get_close_matches(scheme.lower(), ["https", "http"], n=1, cutoff=0.7):
            return f"{url!r} is not an http(s) URL; write it as https://{rest}"
        return f"{url!r} uses {scheme}://; only http(s) links can be checked, link a web page"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError as exc:
        return f"{url!r} is malformed ({exc}); copy the address again from the browser"
    if not parts.hostname or not re.match(r"^[^/?#]", rest):
        return f"{url!r} has no host name; write the full address, e.g. https://example.org/page"
    return host_problem(url)


# -- YAML with marks --------------------------------------------------------------------------
# libyaml (when PyYAML was built with it) composes ten times faster, with the same node marks;
# only a file it refuses is parsed again by the pure-Python loader, for its error messages.
FAST_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Constructor(yaml.constructor.SafeConstructor):
    """Scalars as YAML would give them, but dates stay strings (as the schema says)."""


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", lambda _c, node: node.value)


@dataclass
class _Marks:
    """Where each path's value (and, for mapping entries, its key) starts in the file."""

    values: dict[DocPath, yaml.Mark] = field(default_factory=dict)
    keys: dict[DocPath, yaml.Mark] = field(default_factory=dict)
    raw: dict[DocPath, str] = field(default_factory=dict)  # scalars as written, for quoting hints

    def at(self, path: DocPath, *, key: bool = False) -> yaml.Mark | None:
        """The mark of ``path``, or of its nearest located ancestor."""
        table = self.keys if key else self.values
        while path:
            if path in table:
                return table[path]
            if path in self.values:
                return self.values[path]
            path = path[:-1]
        return self.values.get(())


class _Reader:
    """Turns a composed YAML node tree into plain data, recording marks and problems."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.marks = _Marks()
        self.problems: list[Problem] = []
        self.constructor = _Constructor()

    def problem(
        self, path: DocPath, message: str, *, key: bool = False, level: str = "error"
    ) -> None:
        mark = self.marks.at(path, key=key)
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        self.problems.append(
            Problem(self.filename, line, column, format_path(path), message, level)
        )

    def read(self, node: yaml.Node, path: DocPath = ()) -> Any:
        if len(path) >= MAX_DEPTH:  # the reader recurses: stop before Python's own limit
            raise CurriculumError([_too_deep(self.filename, node.start_mark)])
        self.marks.values[path] = node.start_mark
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = self.key(key_node, path)
                if key is None:
                    continue
                if key in result:
                    self.marks.keys[(*path, key)] = key_node.start_mark
                    self.problem(
                        (*path, key), f"key '{key}' appears twice here; keep one", key=True
                    )
                self.marks.keys[(*path, key)] = key_node.start_mark
                result[key] = self.read(value_node, (*path, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.read(item, (*path, i)) for i, item in enumerate(node.value)]
        self.marks.raw[path] = str(node.value)
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError:
            self.problem(path, f"unknown YAML tag {node.tag!r}; remove it")
            return node.value

    def key(self, node: yaml.Node, path: DocPath) -> str | None:
        if not isinstance(node, yaml.ScalarNode):
            self.marks.values[(*path, "?")] = node.start_mark
            self.problem((*path, "?"), "a key must be a plain word such as 'url'")
            return None
        return str(node.value)


def format_path(path: DocPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# -- structure: the JSON Schema ---------------------------------------------------------------
@functools.cache
def schema() -> dict[str, Any]:
    """The published schema (package data), parsed once."""
    text = resources.files("linkkeeper").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


KINDS: tuple[str, ...] = tuple(schema()["$defs"]["reading"]["properties"]["kind"]["enum"])


@functools.cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator, FormatChecker

    return Draft202012Validator(schema(), format_checker=FormatChecker())


KEY_SYNONYMS = {
    **dict.fromkeys(("link", "href"), "url"),
    **dict.fromkeys(("notes", "comment", "description"), "note"),
    **dict.fromkeys(("items", "links", "reading"), "readings"),
    **{"name": "title", "type": "kind", "date": "posted", "number": "week"},
}
REQUIRED_HINTS = {
    "weeks": "the file has no `weeks:` list; add `weeks:` with at least one `- week: 1`",
    "week": "this week has no number; add `week: N` (1 for the first week)",
    "text": "this comment has no `text:`; add it, or remove the comment",
}
FIELD_EXAMPLES = {
    "week": "week: 3",
    "posted": "posted: 2024-01-09",
    "url": "url: https://...",
    "id": "id: attention-is-all-you-need",
}
TYPE_NAMES = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "array": "a list (lines starting with '- ')",
    "object": "a mapping (key: value lines)",
}


def _describe(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"the text {value!r}"


def _allowed_keys(subschema: dict[str, Any]) -> list[str]:
    return list(subschema.get("properties", {}))


def _unknown_key_message(key: str, allowed: list[str]) -> str:
    guess = KEY_SYNONYMS.get(key.lower())
    if guess not in allowed:
        close = difflib.get_close_matches(key.lower(), allowed, n=1, cutoff=0.6)
        guess = close[0] if close else None
    if guess:
        return f"unknown key '{key}'; did you mean '{guess}'?"
    return f"unknown key '{key}'; allowed here: {', '.join(allowed)}"


@dataclass(frozen=True)
class _ReadingRules:
    """The schema's ``reading`` definition, read into a check that takes a few µs a reading
    where jsonschema takes ~35 (a third of loading a 10,000-reading file)."""

    keys: frozenset[str]
    either: tuple[tuple[str, ...], ...]  # anyOf: one of these key sets must be present
    strings: dict[str, tuple[int, re.Pattern[str] | None]]  # key -> (minLength, pattern)
    enums: dict[str, tuple[Any, ...]]

    def accepts(self, item: Any) -> bool:
        """True only when the schema would accept ``item`` as a reading."""
        if type(item) is not dict or not item.keys() <= self.keys:
            return False
        if not any(all(k in item for k in need) for need in self.either):
            return False
        for key, value in item.items():
            if key in self.enums:
                if not any(type(value) is type(v) and value == v for v in self.enums[key]):
                    return False
                continue
            if type(value) is not str:
                return False
            shortest, pattern = self.strings[key]
            if len(value) < shortest or (pattern is not None and not pattern.search(value)):
                return False
        return True


@functools.cache
def _reading_rules() -> _ReadingRules | None:
    """The fast reading check, or None when the schema says more than it understands (then
    jsonschema checks every reading, as before)."""
    defs = schema().get("$defs", {})
    reading = defs.get("reading", {})
    arrays = [defs.get(n, {}).get("properties", {}).get("readings") for n in ("week", "group")]
    if set(reading) - {"type", "additionalProperties", "anyOf", "properties", "description"}:
        return None
    if reading.get("type") != "object" or reading.get("additionalProperties") is not False:
        return None
    if any(a != {"type": "array", "items": {"$ref": "#/$defs/reading"}} for a in arrays):
        return None
    either = []
    for branch in reading.get("anyOf", [{"required": []}]):
        if set(branch) != {"required"}:
            return None
        either.append(tuple(branch["required"]))
    strings, enums = {}, {}
    for key, rule in reading.get("properties", {}).items():
        rule = {k: v for k, v in rule.items() if k != "description"}
        if set(rule) == {"enum"}:
            enums[key] = tuple(rule["enum"])
        elif rule.get("type") == "string" and set(rule) <= {"type", "minLength", "pattern"}:
            pattern = re.compile(rule["pattern"]) if "pattern" in rule else None  # re.search,
            strings[key] = (int(rule.get("minLength", 0)), pattern)  # as jsonschema does
        else:
            return None
    return _ReadingRules(frozenset(strings) | frozenset(enums), tuple(either), strings, enums)


def _without_plain_readings(data: dict[str, Any]) -> tuple[Any, Callable[[DocPath], DocPath]]:
    """The document with every reading :class:`_ReadingRules` accepts left out (jsonschema
    then checks the rest: weeks, groups, comments, odd readings), and the function mapping a
    path in it back to the file's (list positions shift when readings are left out)."""
    rules = _reading_rules()
    if rules is None:
        return data, lambda path: path
    kept: dict[DocPath, list[int]] = {}

    def thin(items: Any, where: DocPath) -> Any:
        if not isinstance(items, list):
            return items
        kept[where] = [i for i, item in enumerate(items) if not rules.accepts(item)]
        return [items[i] for i in kept[where]]

    doc = dict(data)
    weeks = data.get("weeks")
    if isinstance(weeks, list):
        doc["weeks"] = [
            {**week, "readings": thin(week["readings"], ("weeks", w, "readings"))}
            if isinstance(week, dict) and "readings" in week
            else week
            for w, week in enumerate(weeks)
        ]
    backlog = data.get("backlog")
    if isinstance(backlog, list):
        groups = [
            {**item, "readings": thin(item["readings"], ("backlog", b, "readings"))}
            if isinstance(item, dict) and "group" in item and "readings" in item
            else item
            for b, item in enumerate(backlog)
        ]
        doc["backlog"] = thin(groups, ("backlog",))

    def original(path: DocPath) -> DocPath:
        out: list[str | int] = []
        for part in path:
            if isinstance(part, int) and (positions := kept.get(tuple(out))) is not None:
                part = positions[part]
            out.append(part)
        return tuple(out)

    return doc, original


def _schema_problems(data: Any, reader: _Reader) -> None:
    """Every schema violation as a located, friendly problem (one per place)."""
    seen: set[DocPath] = set()
    thinned, original = _without_plain_readings(data) if isinstance(data, dict) else (data, None)
    errors = list(_validator().iter_errors(thinned))
    if original is not None:
        for error in errors:  # back to the file's own positions
            fixed = original(tuple(error.path))
            error.path.clear()
            error.path.extend(fixed)
    errors.sort(key=lambda e: [str(p) for p in e.path])
    # "neither url nor title" is noise when the reading has a misspelt key ("link:", "titel:")
    misspelt = {tuple(e.absolute_path) for e in errors if e.validator == "additionalProperties"}
    errors = [
        e for e in errors if not (e.validator == "anyOf" and tuple(e.absolute_path) in misspelt)
    ]
    for error in errors:
        path: DocPath = tuple(error.absolute_path)
        name = next((p for p in reversed(path) if isinstance(p, str)), "")
        kind, value = error.validator, error.instance
        if kind == "additionalProperties":
            allowed = _allowed_keys(error.schema)
            for key in value:
                if key not in allowed:
                    reader.problem((*path, key), _unknown_key_message(key, allowed), key=True)
            continue
        if kind == "required":
            for missing in error.validator_value:
                if missing not in value:
                    hint = REQUIRED_HINTS.get(missing, f"add `{missing}:`")
                    reader.problem(path, hint)
            continue
        if path in seen:
            continue  # one message per place is enough (e.g. pattern and format of a date)
        seen.add(path)
        raw = reader.marks.raw.get(path, str(value))
        reader.problem(path, _value_message(kind, error, name, value, raw))


def _value_message(kind: str, error: Any, name: str, value: Any, raw: str) -> str:
    if kind == "type":
        expected = error.validator_value
        wanted = TYPE_NAMES.get(expected, expected)
        if value is None and name == "weeks":
            return "has no weeks yet; add a first one under it: `  - week: 1`"
        if value is None:
            return f"has no value; write {wanted} or remove the key"
        if expected == "string" and not isinstance(value, list | dict):
            return f'is {_describe(value)}, not text; quote it: {name}: "{raw}"'
        if expected == "object" and isinstance(value, str) and name == "readings":
            return f"is {_describe(value)}; write a reading as a mapping: - url: {value}"
        example = FIELD_EXAMPLES.get(name)
        return f"is {_describe(value)}; expected {wanted}" + (
            f", e.g. `{example}`" if example else ""
        )
    if kind == "minimum":
        return f"is {value}; weeks are numbered from 1"
    if kind == "minLength":
        return "is empty; write a value or remove the key"
    if kind in ("pattern", "format") and name == "posted":
        return f"{value!r} is not a date; write it as YYYY-MM-DD, e.g. 2024-01-09"
    if kind == "pattern" and name == "id":
        fix = slugify(value) or "my-reading"
        return f"{value!r} is not a valid id; use lowercase letters, digits and hyphens: {fix}"
    if kind == "pattern" and name == "url":
        return f"{value!r} is not an http(s) URL; write it as https://host/path"
    if kind == "enum":
        close = difflib.get_close_matches(str(value), KINDS, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"use one of: {', '.join(KINDS)}"
        return f"{value!r} is not a known kind; {hint} (or remove `kind:` to derive it)"
    if kind == "anyOf" and isinstance(value, dict):
        return "this reading has neither `url:` nor `title:`; add at least one"
    return error.message


# -- meaning: URLs, duplicates ----------------------------------------------------------------
def reading_items(data: dict[str, Any]) -> Iterator[tuple[DocPath, dict[str, Any]]]:
    """(path, mapping) of every reading, in file order; tolerant of a broken structure."""
    weeks = data.get("weeks")
    for w, week in enumerate(weeks if isinstance(weeks, list) else []):
        items = week.get("readings") if isinstance(week, dict) else None
        for r, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict):
                yield ("weeks", w, "readings", r), item
    backlog = data.get("backlog")
    for b, item in enumerate(backlog if isinstance(backlog, list) else []):
        if not isinstance(item, dict):
            continue
        if "group" in item:
            items = item.get("readings")
            for r, sub in enumerate(items if isinstance(items, list) else []):
                if isinstance(sub, dict):
                    yield ("backlog", b, "readings", r), sub
        else:
            yield ("backlog", b), item


def _line_of(reader: _Reader, path: DocPath) -> str:
    mark = reader.marks.at(path)
    return f"{format_path(path)} (line {mark.line + 1})" if mark else format_path(path)


def _semantic_problems(data: dict[str, Any], reader: _Reader) -> None:
    ids: dict[str, DocPath] = {}
    urls: dict[str, DocPath] = {}
    for path, item in reading_items(data):
        url = item.get("url")
        if isinstance(url, str) and url.strip():
            if message := url_problem(url):
                reader.problem((*path, "url"), message)
            elif (key := url_key(url)) in urls:
                first = _line_of(reader, urls[key])
                reader.problem(
                    (*path, "url"),
                    f"same URL as {first}; remove one, or ignore this if the repeat is meant",
                    level="warning",
                )
            else:
                urls[key] = path
        rid = item.get("id")
        if isinstance(rid, str):
            if rid in ids:
                first = _line_of(reader, ids[rid])
                message = f"id '{rid}' is already used by {first}; give this reading another id"
                reader.problem((*path, "id"), message)
            else:
                ids[rid] = path
    numbers: dict[int, int] = {}
    for w, week in enumerate(data.get("weeks") or []):
        number = week.get("week") if isinstance(week, dict) else None
        if isinstance(number, int) and not isinstance(number, bool):
            if number in numbers:
                first = _line_of(reader, ("weeks", numbers[number]))
                reader.problem(("weeks", w, "week"), f"week {number} is also {first}; renumber one")
            else:
                numbers[number] = w


# -- loading ----------------------------------------------------------------------------------
SYNTAX_HINTS = {
    "cannot start any token": "YAML indentation must use spaces, not tabs",
    "mapping values are not allowed": "quote a value that contains ': ' (\"...\")",
    "could not find expected ':'": "every line in a mapping needs 'key: value'",
    "found undefined alias": "remove the '*' or quote the value",
}


def _syntax_problem(exc: yaml.YAMLError, filename: str, text: str) -> Problem:
    mark = getattr(exc, "problem_mark", None)
    if isinstance(exc, yaml.reader.ReaderError):
        before = text[: exc.position]
        line, column = before.count("\n") + 1, len(before.rsplit("\n", 1)[-1]) + 1
        return Problem(filename, line, column, "", f"unreadable character; {exc.reason}")
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    hint = next((h for k, h in SYNTAX_HINTS.items() if k in problem), "fix the YAML syntax here")
    text_ = f"YAML syntax error: {problem}" + (f" ({context})" if context else "") + f"; {hint}"
    line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
    return Problem(filename, line, column, "", text_)


MAX_DEPTH = 20  # nesting levels; a curriculum needs six (weeks > week > readings > reading ...)


def _structure_problem(text: str, filename: str) -> Problem | None:
    """Refuse what can make a small file huge or deep before anything is built from it: YAML
    aliases (``*name``: each one repeats a whole subtree, so ten lines of them expand to
    billions of nodes; the curriculum needs none) and nesting deeper than :data:`MAX_DEPTH`
    (the pure-Python parser and the reader recurse). One pass over libyaml's events; a syntax
    error is left to the loader, which words it."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=FAST_LOADER):
            if isinstance(event, yaml.AliasEvent):
                mark = event.start_mark
                return Problem(
                    filename, mark.line + 1, mark.column + 1, "",
                    f"YAML alias '*{event.anchor}' is not allowed in a curriculum (aliases can "
                    "make a small file expand without end); write the value out in full",
                )  # fmt: skip
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    return _too_deep(filename, event.start_mark)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError as exc:  # libyaml's own limit (1000) may come first, when scanning
        if "maximum nesting depth" in str(exc):
            return _too_deep(filename, getattr(exc, "problem_mark", None))
        return None
    return None


def _too_deep(filename: str, mark: yaml.Mark | None) -> Problem:
    line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
    return Problem(
        filename, line, column, "",
        f"nested more than {MAX_DEPTH} levels deep; a curriculum needs about six (weeks, a "
        "week, its readings, a reading): check the indentation and brackets here",
    )  # fmt: skip


def loads(text: str, filename: str = "readings.yaml", path: Path | None = None) -> Curriculum:
    """Parse and validate curriculum text; raise :class:`CurriculumError` listing all errors."""
    # An alias needs a '*': only then is the file scanned for one before it is composed (the
    # scan costs about a twentieth of a load); nesting is bounded while reading (_Reader).
    if "*" in text and (refused := _structure_problem(text, filename)) is not None:
        raise CurriculumError([refused])
    try:
        root = yaml.compose(text, Loader=FAST_LOADER)
    except (yaml.YAMLError, RecursionError):
        if (refused := _structure_problem(text, filename)) is not None:
            raise CurriculumError([refused]) from None  # e.g. beyond libyaml's own depth limit
        try:  # the pure-Python parser words errors (and places them) as the hints expect
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            raise CurriculumError([_syntax_problem(exc, filename, text)]) from None
    if root is None:
        message = "the file is empty; start it with `weeks:` and a first `- week: 1` (see README)"
        raise CurriculumError([Problem(filename, 1, 1, "", message)])
    reader = _Reader(filename)
    data = reader.read(root)
    if not isinstance(data, dict):
        found = _describe(data)
        reader.problem(
            (), f"the top level is {found}; it must be a mapping that starts with `weeks:`"
        )
        raise CurriculumError(reader.problems)
    _schema_problems(data, reader)
    # a url-pattern complaint from the schema is replaced by the precise one from url_problem
    before = len(reader.problems)
    _semantic_problems(data, reader)
    precise = {(p.path, p.line) for p in reader.problems[before:] if p.path.endswith(".url")}
    problems = [
        p for i, p in enumerate(reader.problems) if i >= before or (p.path, p.line) not in precise
    ]
    problems.sort(key=lambda p: (p.line or 0, p.column or 0))
    if any(p.severity == "error" for p in problems):
        raise CurriculumError(problems)
    return _build(data, reader, path, problems)


def _read_error(exc: OSError | UnicodeDecodeError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file; create it with `linkkeeper import PAGE.md` or pass --readings PATH"
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text; save it as UTF-8"
    return f"cannot read it ({exc.strerror}); check the path and its permissions"


def load(path: Path | str) -> Curriculum:
    """Load ``readings.yaml``; raise :class:`CurriculumError` with every located problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CurriculumError([Problem(str(path), None, None, "", _read_error(exc))]) from None
    return loads(text, filename=str(path), path=path)


# -- building the model (the data is valid here) ----------------------------------------------
def _comments(items: list[dict[str, Any]] | None) -> list[Comment]:
    return [Comment(text=c["text"], author=c.get("author")) for c in items or []]


def _build(
    data: dict[str, Any], reader: _Reader, path: Path | None, warnings: list[Problem]
) -> Curriculum:
    used = {item["id"] for _, item in reading_items(data) if "id" in item}
    ids: dict[DocPath, str] = {}
    for rpath, item in reading_items(data):
        if "id" in item:
            ids[rpath] = item["id"]
            continue
        base = derive_id(item.get("title"), item.get("url"))
        candidate, n = base, 2
        while candidate in used:
            candidate, n = f"{base}-{n}", n + 1
        used.add(candidate)
        ids[rpath] = candidate

    def reading(
        rpath: DocPath, item: dict[str, Any], week: Week | None, section: str | None
    ) -> Reading:
        mark = reader.marks.at(rpath)
        return Reading(
            id=ids[rpath],
            title=item.get("title"),
            url=item.get("url"),
            note=item.get("note"),
            kind=item.get("kind") or derive_kind(item.get("url")),
            week=week.number if week else None,
            week_title=week.title if week else section,
            assigned=week.posted if week else None,
            line=mark.line + 1 if mark else None,
        )

    weeks: list[Week] = []
    for w, raw in enumerate(data.get("weeks") or []):
        mark = reader.marks.at(("weeks", w))
        week = Week(
            number=raw["week"],
            title=raw.get("title"),
            posted=date.fromisoformat(raw["posted"]) if raw.get("posted") else None,
            prompt=raw.get("prompt"),
            comments=_comments(raw.get("comments")),
            line=mark.line + 1 if mark else None,
        )
        week.readings = [
            reading(("weeks", w, "readings", r), item, week, None)
            for r, item in enumerate(raw.get("readings") or [])
        ]
        weeks.append(week)
    backlog: list[Reading | Group] = []
    for b, raw in enumerate(data.get("backlog") or []):
        if "group" not in raw:
            backlog.append(reading(("backlog", b), raw, None, None))
            continue
        mark = reader.marks.at(("backlog", b))
        group = Group(
            name=raw["group"],
            note=raw.get("note"),
            comments=_comments(raw.get("comments")),
            line=mark.line + 1 if mark else None,
        )
        group.readings = [
            reading(("backlog", b, "readings", r), item, None, group.name)
            for r, item in enumerate(raw.get("readings") or [])
        ]
        backlog.append(group)
    return Curriculum(
        path=path,
        title=data.get("title"),
        description=data.get("description"),
        weeks=weeks,
        backlog=backlog,
        warnings=warnings,
        data=data,
    )
