"""A curriculum this code already validated is not validated again: ``check`` and ``nightly``
load ``readings.yaml`` every night, and the file rarely changes between nights.

Loading 10,000 readings costs about 0.9 s of CPU (YAML, the schema, every URL's shape and
host): a tenth of a steady night. After a load that found no error, the model (readings,
weeks, groups, warnings and the plain data) is kept in ``snapshots/.curriculum-cache.json``
(git-ignored, machine-local like ``.freshness.json``) under a key made of the file's bytes,
its name and the source of the code that validates it. The next load with the same key
rebuilds the model from that JSON without parsing or validating anything (~0.05 s).

Any other key (the file, or the loader's code, changed), a cache that cannot be read or makes
no sense, or one that cannot be written, costs a full load, never a wrong one: the cache is
only ever a copy of what :func:`linkkeeper.curriculum.readings.loads` returned for exactly
those bytes. A curriculum with errors is never cached (it raises every time).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from linkkeeper.core import Reading, atomic_write_bytes, source_stamp
from linkkeeper.curriculum.readings import (
    SCHEMA_FILE,
    Comment,
    Curriculum,
    CurriculumError,
    Group,
    Problem,
    Week,
    loads,
)

CACHE_NAME = ".curriculum-cache.json"
FORMAT = 1
_READING = ("id", "title", "url", "note", "kind", "line")  # the rest comes from its week/group
_PENDING: dict[Path, tuple[str, Curriculum]] = {}  # loads whose folder did not exist yet


@functools.cache
def code_stamp() -> str:
    """A hash of everything that decides what a load returns: this version's loader, its
    models and schema. Another version (or an edited checkout) never reuses a cache."""
    core = Path(str(resources.files("linkkeeper").joinpath("core")))
    names = [f"curriculum/{n}" for n in ("readings.py", "cache.py")]
    names += [f"core/{p.name}" for p in sorted(core.glob("*.py"))]
    return source_stamp(f"format {FORMAT}", (*names, SCHEMA_FILE))


def key_of(raw: bytes, filename: str) -> str:
    return hashlib.blake2b(
        code_stamp().encode() + b"\0" + filename.encode() + b"\0" + raw, digest_size=16
    ).hexdigest()


def load_cached(path: Path | str, cache_dir: Path | None) -> Curriculum:
    """:func:`linkkeeper.curriculum.readings.load`, reusing the model a previous load of the
    same bytes kept in ``cache_dir`` (``None``: no cache)."""
    from linkkeeper.curriculum.readings import load as full_load

    path = Path(path)
    if cache_dir is None:
        return full_load(path)
    try:
        text = path.read_text(encoding="utf-8")  # as load() reads it (newlines translated)
    except (OSError, UnicodeDecodeError):
        return full_load(path)  # it words the problem
    key = key_of(text.encode("utf-8"), str(path))
    cache = cache_dir / CACHE_NAME
    kept = _read(cache, key, path)
    if kept is not None:
        return kept
    curriculum = loads(text, filename=str(path), path=path)  # CurriculumError: not cached
    if not cache_dir.is_dir():  # a first run: the ledger makes the folder, then keeps it
        _PENDING[cache_dir] = (key, curriculum)
    else:
        _write(cache, key, curriculum)
    return curriculum


def keep_pending(cache_dir: Path) -> None:
    """Keep the cache a load in this process could not (``cache_dir`` did not exist yet):
    called once the ledger has made its folder, so a first run caches too."""
    pending = _PENDING.pop(cache_dir, None)
    if pending is not None and cache_dir.is_dir():
        _write(cache_dir / CACHE_NAME, *pending)


def _read(cache: Path, key: str, path: Path) -> Curriculum | None:
    try:
        kept = orjson.loads(cache.read_bytes())
        if not isinstance(kept, dict) or kept.get("key") != key:
            return None
        return _rebuild(kept["curriculum"], path)
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None  # missing, unreadable or nonsense: a full load replaces it


def _write(cache: Path, key: str, curriculum: Curriculum) -> None:
    try:
        data = orjson.dumps({"key": key, "curriculum": _flatten(curriculum)})
    except (TypeError, orjson.JSONEncodeError):
        return  # plain data orjson cannot write (e.g. a huge integer): not cached
    with contextlib.suppress(OSError):  # read-only, full: loading works, the next is slower
        atomic_write_bytes(cache, data)


# -- the model as JSON, and back ---------------------------------------------------------------
def _flatten(curriculum: Curriculum) -> dict[str, Any]:
    def readings(items: list[Reading]) -> list[list[Any]]:
        return [[getattr(r, name) for name in _READING] for r in items]

    def comments(items: list[Comment]) -> list[list[Any]]:
        return [[c.text, c.author] for c in items]

    backlog: list[Any] = []
    for item in curriculum.backlog:
        if isinstance(item, Group):
            group = [item.name, item.note, comments(item.comments), item.line]
            backlog.append({"group": group, "readings": readings(item.readings)})
        else:
            backlog.append({"reading": readings([item])[0]})
    return {
        "title": curriculum.title,
        "description": curriculum.description,
        "weeks": [
            {
                "week": [
                    w.number,
                    w.title,
                    w.posted.isoformat() if w.posted else None,
                    w.prompt,
                    comments(w.comments),
                    w.line,
                ],
                "readings": readings(w.readings),
            }
            for w in curriculum.weeks
        ],
        "backlog": backlog,
        "warnings": [
            [p.file, p.line, p.column, p.path, p.message, p.severity] for p in curriculum.warnings
        ],
        "data": curriculum.data,
    }


def _rebuild(flat: dict[str, Any], path: Path) -> Curriculum:
    """The model :func:`_flatten` was given, built as ``readings._build`` builds it."""

    def reading(values: list[Any], week: Week | None, section: str | None) -> Reading:
        fields = dict(zip(_READING, values, strict=True))
        return Reading(
            **fields,
            week=week.number if week else None,
            week_title=week.title if week else section,
            assigned=week.posted if week else None,
        )

    def comments(items: list[list[Any]]) -> list[Comment]:
        return [Comment(text=text, author=author) for text, author in items]

    weeks: list[Week] = []
    for item in flat["weeks"]:
        number, title, posted, prompt, said, line = item["week"]
        week = Week(
            number=number,
            title=title,
            posted=date.fromisoformat(posted) if posted else None,
            prompt=prompt,
            comments=comments(said),
            line=line,
        )
        week.readings = [reading(values, week, None) for values in item["readings"]]
        weeks.append(week)
    backlog: list[Reading | Group] = []
    for item in flat["backlog"]:
        if "reading" in item:
            backlog.append(reading(item["reading"], None, None))
            continue
        name, note, said, line = item["group"]
        group = Group(name=name, note=note, comments=comments(said), line=line)
        group.readings = [reading(values, None, name) for values in item["readings"]]
        backlog.append(group)
    return Curriculum(
        path=path,
        title=flat["title"],
        description=flat["description"],
        weeks=weeks,
        backlog=backlog,
        warnings=[Problem(*values) for values in flat["warnings"]],
        data=flat["data"],
    )


__all__ = ["CACHE_NAME", "CurriculumError", "keep_pending", "load_cached"]
