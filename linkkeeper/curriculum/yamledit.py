"""Edit a YAML file in place: add to it through a ruamel.yaml round-trip document, so every
comment and every line that was not changed stays byte for byte, and the new nodes are laid out
as the caller's PyYAML dumper would lay them out (the importer's, so an edited file and a fresh
import look alike).

ruamel.yaml keeps a file's comments on the nodes they follow; inserting a node means moving the
comment lines that annotated what comes next along with it. That bookkeeping lives here, on
ruamel's comment attributes (``.ca``), which is why ``pyproject.toml`` pins ruamel.yaml to one
minor version; ``tests/test_importer.py`` compares whole edited files, so a change there shows.
"""

from __future__ import annotations

import difflib
import io
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.error import YAMLError as RuamelError
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
    SingleQuotedScalarString,
)
from ruamel.yaml.tokens import CommentToken
from ruamel.yaml.util import load_yaml_guess_indent


class EditError(ValueError):
    """ruamel.yaml cannot read the file (``line``: 1-based, when known)."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


# -- the file as text around the document -------------------------------------------------------
# the lines ruamel does not carry through, kept as text: the leading comments with a "---"
# after them, and from a "..." document end on
HEAD = re.compile(r"\A(?:[ \t]*(?:#[^\n]*)?\n)*(?:---[ \t]*(?:#[^\n]*)?\n)?")
LINE_INDENT = re.compile(r"(?: *- )* *")  # spaces and sequence dashes
DOCUMENT_END = re.compile(r"^\.\.\.[ \t]*(?:#.*)?$", re.MULTILINE)


def _round_trip(body: str) -> tuple[YAML, Any]:
    """``body`` as a round-trip document, and the YAML that writes it back laid out the same.

    ruamel writes one indentation for the whole file: the file's own (2/4/2 if it has none).
    """
    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 4096  # long lines stay on one line, as the importer's dump writes them
    doc, sequence, offset = load_yaml_guess_indent(body, yaml=rt)
    rt.indent(mapping=2, sequence=sequence or 4, offset=2 if offset is None else offset)
    return rt, doc


def edit(text: str, change: Callable[[Any], int]) -> str:
    """``text`` after ``change`` (which adds to the round-trip document and returns how many
    things it added): every other byte as it was; ``text`` itself when nothing was added.
    :class:`EditError` when ruamel cannot read what PyYAML could."""
    head = HEAD.match(text)
    start = head.end() if head else 0
    end_marker = DOCUMENT_END.search(text, start)
    end = end_marker.start() if end_marker else len(text)
    body = text[start:end]
    try:
        rt, doc = _round_trip(body)
    except RuamelError as exc:  # one of the corners where ruamel and PyYAML differ
        mark = getattr(exc, "problem_mark", None)
        line = text.count("\n", 0, start) + mark.line + 1 if mark else None
        raise EditError(str(exc), line) from None
    if change(doc):
        out = io.StringIO()
        rt.dump(doc, out)
        body = out.getvalue()
    return text[:start] + body + text[end:]


def rewritten(old: str, new: str) -> list[tuple[int, str]]:
    """(line number, text) of each line of ``old`` that ``new`` does not keep as it was.

    A "- " that moved to a key added above, and trailing spaces, do not count.
    """

    def same(line: str) -> str:
        return LINE_INDENT.sub(lambda m: " " * len(m[0]), line.rstrip(), count=1)

    a, b = old.splitlines(), new.splitlines()
    matcher = difflib.SequenceMatcher(None, [same(x) for x in a], [same(x) for x in b], False)
    ops = matcher.get_opcodes()
    return [(i + 1, a[i]) for tag, i1, i2, _, _ in ops if tag != "equal" for i in range(i1, i2)]


# -- adding nodes -------------------------------------------------------------------------------
# ruamel keeps the comment lines (and blank lines) that follow an item on that item's last
# scalar, as one token: "# end-of-line comment\n" then "  # the lines above the next item\n".
# An item added after it takes those lines with it (they annotate what comes next); the
# end-of-line comment stays put.
BLOCK_SCALARS = (LiteralScalarString, FoldedScalarString)
QUOTED = {"'": SingleQuotedScalarString, '"': DoubleQuotedScalarString, "|": LiteralScalarString}


def _comment(text: str) -> CommentToken:
    return CommentToken(text, CommentMark(0), None)


def _leaf(parent: Any, key: Any) -> tuple[Any, Any] | None:
    """Where the last scalar written for ``parent[key]`` is (None: ends in a flow collection)."""
    value = parent[key]
    if isinstance(value, (CommentedMap, CommentedSeq)):
        if not value or value.fa.flow_style():
            return None  # ruamel keeps what follows on the next item instead
        return _leaf(value, next(reversed(value)) if isinstance(value, dict) else len(value) - 1)
    return parent, key


def _slot(container: Any) -> int:
    """Index of the 'after this item' comment in ruamel's per-item comment list."""
    return 2 if isinstance(container, dict) else 0


def _take_rest(parent: Any, key: Any) -> str | None:
    """Detach the comment and blank lines after ``parent[key]``; its end-of-line comment stays."""
    leaf = _leaf(parent, key)
    entry = leaf and leaf[0].ca.items.get(leaf[1])
    if not leaf or not entry or entry[_slot(leaf[0])] is None:
        return None
    container, name = leaf
    token = entry[_slot(container)]
    if isinstance(container[name], BLOCK_SCALARS):  # the scalar's own line break is not in it
        value = token.value
        eol, rest = "", value if value.startswith("\n") else " " * token.column + value
    else:
        eol, _, rest = token.value.partition("\n")
    if eol.strip():
        token.value = eol + "\n"
    else:
        entry[_slot(container)] = None
    return rest or None


def _take_head(parent: CommentedMap, key: str) -> str | None:
    """Detach the lines between ``key:`` and its sequence's first item (they annotate it)."""
    entry = parent.ca.items.get(key)
    if not entry:
        return None
    rest = ""
    if entry[2] is not None:  # the key's end-of-line comment, then the lines below it
        eol, _, rest = entry[2].value.partition("\n")
        if eol.strip():
            entry[2].value = eol + "\n"
        else:
            entry[2] = None
    if entry[3]:  # lines below the key alone: tokens without their indentation
        rest += "".join(" " * t.column + t.value if t.value.strip() else t.value for t in entry[3])
        entry[3] = None
    return rest or None


def _give_rest(parent: Any, key: Any, rest: str) -> None:
    """Put ``rest`` (comment and blank lines) after ``parent[key]``, a node made here."""
    leaf = _leaf(parent, key)
    assert leaf is not None, "new data always ends in a scalar"
    container, name = leaf
    entry = container.ca.items.setdefault(name, [None, None, None, None])
    text = rest if isinstance(container[name], BLOCK_SCALARS) else "\n" + rest
    entry[_slot(container)] = _comment(text)


Owner = tuple[CommentedMap, str] | None  # the mapping and key a sequence is the value of


class Editor:
    """Adds data to a round-trip document as ``dumper`` (PyYAML) would lay it out; counts what
    it added.

    ``key_order``: per kind of mapping, the canonical order of its keys (a new key goes before
    the first later one; a person's own order of the others is kept); ``blank_before``:
    ``(kind, key)`` pairs set off by a blank line; ``dumper`` picks each new string's quoting.
    """

    def __init__(
        self,
        key_order: Mapping[str, Sequence[str]],
        blank_before: Collection[tuple[str, str]],
        dumper: type[yaml.SafeDumper],
    ) -> None:
        self.key_order, self.blank_before, self.dumper = key_order, blank_before, dumper
        self.added = 0

    def node(self, value: Any) -> Any:
        """Plain data as round-trip nodes, each string in the style ``dumper`` gives it."""
        if isinstance(value, (CommentedMap, CommentedSeq)):
            return value
        if isinstance(value, dict):
            return CommentedMap((k, self.node(v)) for k, v in value.items())
        if isinstance(value, list):
            return CommentedSeq(self.node(v) for v in value)
        if isinstance(value, str):  # PyYAML (YAML 1.1, as the loader reads) picks the quoting
            emitted = yaml.dump(value, Dumper=self.dumper, allow_unicode=True, width=4096)
            return QUOTED.get(emitted[:1], str)(value)
        return value

    def set(self, target: CommentedMap, key: str, value: Any, kind: str) -> None:
        """Add ``key`` at its canonical place among the keys a person ordered their own way."""
        order = self.key_order[kind]
        keys = list(target)
        rank = order.index(key)
        at = next((i for i, k in enumerate(keys) if k in order and order.index(k) > rank), None)
        at = len(keys) if at is None else at
        before = (kind, key) in self.blank_before
        after = at < len(keys) and (kind, keys[at]) in self.blank_before
        self._place(target, at, key, self.node(value), blank_before=before, blank_after=after)

    def insert(
        self, seq: CommentedSeq, at: int, item: Any, owner: Owner = None, *, blank: bool = False
    ) -> None:
        """Add ``item`` at index ``at`` of ``seq`` (the value of ``owner``: mapping and key).

        ``blank``: set off by blank lines, as weeks are.
        """
        after = blank and at < len(seq)
        node = self.node(item)
        self._place(seq, at, None, node, blank_before=blank, blank_after=after, owner=owner)

    def extend_seq(self, seq: CommentedSeq, items: list[Any], owner: Owner = None) -> None:
        for item in items:
            self.insert(seq, len(seq), item, owner)

    def extend(self, target: CommentedMap, key: str, items: list[Any], kind: str) -> None:
        """Append ``items`` to ``target[key]``, adding the key when it is not there yet."""
        if key in target:
            self.extend_seq(target[key], items, (target, key))
        elif items:
            self.set(target, key, items, kind)

    def _place(
        self,
        container: Any,
        at: int,
        key: Any,
        node: Any,
        *,
        blank_before: bool,
        blank_after: bool,
        owner: Owner = None,
    ) -> None:
        """Insert ``node``; the lines that followed the previous item now follow it."""
        self.added += 1
        is_map = isinstance(container, dict)
        prev = (list(container)[at - 1] if is_map else at - 1) if at else None
        if prev is not None:
            rest = _take_rest(container, prev)
        else:
            rest = _take_head(*owner) if owner else None  # a sequence's first item
        if is_map:
            container.insert(at, key, node)
        else:
            container.insert(at, node)
        where = key if is_map else at
        if blank_before and prev is not None:
            entry = container.ca.items.setdefault(where, [None, None, None, None])
            entry[1] = [_comment("\n"), *(entry[1] or [])]
        if blank_after and not (rest or "").startswith("\n"):
            rest = "\n" + (rest or "")
        if rest:  # new data always ends in a scalar, so the lines have a place
            _give_rest(container, where, rest)
