"""One reading's record in snapshots/: its shape (:class:`Record`, :class:`Check`), reading and
validating its file, and the damage a file can show (:class:`DamagedRecord`). The store that
holds them all, with its lock, sync and writes: :mod:`linkkeeper.ledger.store`."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from linkkeeper.core import (
    CheckResult,
    Reading,
    Verdict,
    member,
)
from linkkeeper.ledger import jsonfile as _jsonfile
from linkkeeper.ledger.health import (
    FAILURE,
    UNKNOWN,
    HealthState,
    format_time,
    parse_time,
)

DEFAULT_MAX_CHECKS = 30


# What makes two checks the same outcome: the reason's wording and the time do not count.
OUTCOME_KEYS = ("verdict", "url", "http_status", "final_url", "suggestion")


FIX_CORRUPT = (
    "fix it by hand, restore it from git (`git log -p -- {path}` shows its good versions), or "
    "delete it to start that reading's history again; linkkeeper will not overwrite it"
)


FIX_CONFLICT = (
    "resolve the conflict (keep one side between the `<<<<<<<` and `>>>>>>>` lines, or take "
    "one whole version with `git checkout --theirs -- {path}` or `--ours`), or delete it to "
    "start that reading's history again; linkkeeper will not overwrite it"
)


CONFLICT_MARKER = re.compile(rb"^(<<<<<<<|\|\|\|\|\|\|\||=======|>>>>>>>)(?: |$)", re.MULTILINE)


MAX_DEPTH = 64  # records nest 5 levels; deeper is damage (and would exhaust the encoder)


# Sections other stages own: the JSON type each must have, and of the keys inside them that
# the stages read without looking (a wrong type there would be replaced, or crash them).
SECTION_SHAPES: dict[str, dict[str, tuple[type, ...]]] = {
    "captures": {
        "ours": (list,),
        "assigned": (dict, type(None)),
        "latest": (dict, type(None)),
        "checked_at": (str, type(None)),
        "url": (str, type(None)),
    },
    "archive": {
        "state": (str, type(None)),
        "attempts": (int,),
        "reason": (str,),
        "job_id": (str, type(None)),
        "submitted_at": (str, type(None)),
        "next_try_after": (str, type(None)),
    },
    "metadata": {"url": (str, type(None)), "fetched_at": (str, type(None))},
    "drift": {
        "baseline": (dict, type(None)),
        "latest": (dict, type(None)),
        "capture": (dict, type(None)),
        "url": (str, type(None)),
        "checked_at": (str, type(None)),
    },
}


SECTION_TYPE_NAMES = {dict: "an object", list: "a list", str: "a string", int: "a number",
                      type(None): "null"}  # fmt: skip


class LedgerError(Exception):
    """The ledger cannot be used as is; the message names the file and what to do."""


class DamagedRecord(LedgerError):
    """A record file that cannot be used as it is on disk (not JSON, a merge conflict, a
    section of the wrong type ...). Commands name it, leave it byte for byte as it is and
    carry on with the other readings; ``problem`` says what is wrong, the message also where
    and what to do."""

    def __init__(self, path: Path, reading_id: str, problem: str, line: int | str | None = None,
                 fix: str = FIX_CORRUPT) -> None:  # fmt: skip
        self.path, self.reading_id, self.problem, self.line = path, reading_id, problem, line
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {problem}; {fix.format(path=path)}")


@dataclass(frozen=True)
class Check:
    """One entry of a record's ``checks`` list (the URL is kept so a changed URL starts over)."""

    at: datetime
    verdict: Verdict
    reason: str = ""
    url: str | None = None
    http_status: int | None = None
    final_url: str | None = None
    suggestion: str | None = None

    @classmethod
    def from_result(cls, result: CheckResult, at: datetime) -> Check:
        return cls(
            at=at,
            verdict=member(Verdict, result.verdict),
            reason=result.reason,
            url=result.url,
            http_status=result.http_status,
            final_url=result.final_url,
            suggestion=result.suggestion,
        )

    @classmethod
    def from_dict(cls, data: Any) -> Check:
        """Parse one entry; ``ValueError`` says what is wrong with it."""
        if not isinstance(data, dict):
            raise ValueError(f"expected an object, got {type(data).__name__}")
        if "at" not in data or "verdict" not in data:
            raise ValueError("needs both 'at' and 'verdict'")
        try:
            verdict = member(Verdict, data["verdict"])
        except ValueError:
            allowed = ", ".join(v.value for v in Verdict)
            raise ValueError(f"verdict {data['verdict']!r} is not one of {allowed}") from None
        at = parse_time(data["at"])
        if at is None:
            raise ValueError("'at' is null")
        status = data.get("http_status")
        if status is not None and (not isinstance(status, int) or isinstance(status, bool)):
            raise ValueError(f"http_status {status!r} is not a number")
        # Every entry of a history is parsed a few times a run: fill the fields directly, at
        # half the cost of the frozen dataclass's __init__ (one object.__setattr__ per field).
        check = object.__new__(cls)
        check.__dict__.update(
            at=at,
            verdict=verdict,
            reason=str(data.get("reason") or ""),
            url=data.get("url"),
            http_status=status,
            final_url=data.get("final_url"),
            suggestion=data.get("suggestion"),
        )
        return check

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": format_time(self.at),
            "verdict": self.verdict.value,
            "reason": self.reason,
            "url": self.url,
            "http_status": self.http_status,
            "final_url": self.final_url,
            "suggestion": self.suggestion,
        }


@dataclass
class Record:
    """One reading's record. ``data`` is the whole JSON object, so sections written by other
    stages (``captures``, ``archive``, ``metadata``, ``drift`` ...) survive untouched; the
    properties are typed views of the sections this module owns."""

    data: dict[str, Any]
    # When a success of the current URL was last seen (the freshness cache), if known; not
    # part of the file.
    confirmed_at: datetime | None = field(default=None, compare=False, repr=False)

    @classmethod
    def new(cls, reading: Reading) -> Record:
        return cls(
            {
                "id": reading.id,
                "url": reading.url,
                "title": reading.title,
                "orphaned": False,
                "checks": [],
                "health": UNKNOWN.to_dict(),
            }
        )

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def url(self) -> str | None:
        return self.data.get("url")

    @property
    def title(self) -> str | None:
        return self.data.get("title")

    @property
    def orphaned(self) -> bool:
        return bool(self.data.get("orphaned", False))

    @orphaned.setter
    def orphaned(self, value: bool) -> None:
        self.data["orphaned"] = value

    @property
    def checks(self) -> list[Check]:
        """All kept checks, oldest first."""
        return [Check.from_dict(entry) for entry in self.data.get("checks", [])]

    @property
    def current_checks(self) -> list[Check]:
        """Checks of the record's current URL: health starts over when the URL is edited."""
        return [c for c in self.checks if c.url is None or c.url == self.url]

    @property
    def health(self) -> HealthState:
        """The stored state, with ``last_checked`` filled in from the history and the cache."""
        return self.health_given(self.current_checks)

    def health_given(self, current: list[Check]) -> HealthState:
        """:attr:`health` for a caller that holds :attr:`current_checks` already."""
        raw = self.data.get("health")
        state = HealthState.from_dict(raw) if raw else UNKNOWN
        seen = [c.at for c in current if c.verdict != Verdict.SKIPPED]
        if self.confirmed_at is not None and seen:
            seen.append(self.confirmed_at)
        return replace(state, last_checked=max(seen, default=None))

    @health.setter
    def health(self, state: HealthState) -> None:
        self.data["health"] = state.to_dict()

    def section(self, name: str) -> dict[str, Any]:
        """A section other stages own (``archive``, ``metadata`` ...), created empty if absent."""
        if name in {"id", "url", "title", "orphaned", "checks", "health"}:
            raise ValueError(f"{name!r} is managed by the ledger itself")
        value = self.data.setdefault(name, {})
        if not isinstance(value, dict):
            raise ValueError(f"section {name!r} of record {self.id!r} is not an object")
        return value

    def add(self, check: Check, keep: int = DEFAULT_MAX_CHECKS) -> bool:
        """Append a check if it carries information (kept in time order, only the newest
        ``keep``); True when appended.

        Every failing check (broken, transient) is appended with its time: health counts them
        towards dead. Any other check that repeats the latest entry's outcome (same verdict,
        URL, status, final URL and suggestion; a skip also the same reason) is dropped, so a
        night where nothing changed leaves the record byte for byte as it was."""
        entries: list[dict[str, Any]] = self.data.setdefault("checks", [])
        new = check.to_dict()
        if check.verdict not in FAILURE and entries and _repeats(entries[-1], new):
            return False
        entries.append(new)
        if len(entries) > 1 and check.at < Check.from_dict(entries[-2]).at:
            entries.sort(key=lambda entry: Check.from_dict(entry).at)
        del entries[:-keep]
        return True

    def to_json(self) -> str:
        """The file text: sorted keys, indent 2, UTF-8 as is, trailing newline."""
        return _jsonfile.encode(self.data).decode("utf-8")


def repeats_result(last: dict[str, Any], result: CheckResult, at: datetime) -> bool:
    """``_repeats(last, Check.from_result(result, at).to_dict())`` for a success, without
    building the entry (a steady night asks this of almost every reading)."""
    if at.year < 1000:  # format_time's strftime text, which parse_time refuses: as before
        return _repeats(last, Check.from_result(result, at).to_dict())
    stamp = (at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)).replace(microsecond=0)
    try:
        if parse_time(last.get("at")) > stamp:  # type: ignore[operator]
            return False  # an older check arriving late: keep it, it is sorted in
    except (TypeError, ValueError):
        return False
    return (
        last.get("verdict") == member(Verdict, result.verdict).value
        and last.get("url") == result.url
        and last.get("http_status") == result.http_status
        and last.get("final_url") == result.final_url
        and last.get("suggestion") == result.suggestion
    )


def _repeats(last: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether ``new`` says nothing ``last`` did not (skips compare their reason too)."""
    keys = (*OUTCOME_KEYS, "reason") if new["verdict"] == Verdict.SKIPPED.value else OUTCOME_KEYS
    try:
        if parse_time(last.get("at")) > parse_time(new["at"]):  # type: ignore[operator]
            return False  # an older check arriving late: keep it, it is sorted in
    except (TypeError, ValueError):
        return False
    return all(last.get(key) == new[key] for key in keys)


def damage_report(damaged: Mapping[str, DamagedRecord], *, what: str = "") -> list[str]:
    """The lines a command prints (to stderr) about damaged records it left alone: one per
    file (where, what is wrong, what to do), then one summing up. ``what``: how the command
    carried on, e.g. "the other readings were checked"."""
    if not damaged:
        return []
    ids = sorted(damaged)
    count = f"{len(ids)} ledger record{'s' * (len(ids) != 1)}"
    tail = f"; {what}" if what else ""
    return [
        *(f"Error: {damaged[i]}" for i in ids),
        f"{count} could not be used and {'were' if len(ids) != 1 else 'was'} left byte for "
        f"byte as {'they were' if len(ids) != 1 else 'it was'} ({', '.join(ids)}){tail}.",
    ]


def _read(path: Path) -> tuple[bytes, os.stat_result] | None:
    """The file's bytes and the stat of the very file read (no path lookup in between)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        stat = os.fstat(fd)
        raw = os.read(fd, stat.st_size + 1)
        if len(raw) != stat.st_size:  # not what fstat said (growing, short read): to the end
            chunks = [raw]
            while chunks[-1]:
                chunks.append(os.read(fd, 1 << 16))
            raw = b"".join(chunks)
    finally:
        os.close(fd)
    return raw, stat


def _may_hold_markers(raw: bytes) -> bool:
    """A cheap first look for :data:`CONFLICT_MARKER` (a third of the regex's cost, which
    every record read by a run used to pay)."""
    return b"<<<<<<<" in raw or b"|||||||" in raw or b"=======" in raw or b">>>>>>>" in raw


def _parse(path: Path, raw: bytes, reading_id: str) -> Record:
    """The record in a file's bytes; :class:`DamagedRecord` says what is wrong and where."""
    if _may_hold_markers(raw) and (marker := CONFLICT_MARKER.search(raw)) is not None:
        line = raw.count(b"\n", 0, marker.start()) + 1
        problem = "holds git merge conflict markers (a `git pull` or merge left both versions)"
        raise DamagedRecord(path, reading_id, problem, line, FIX_CONFLICT)
    try:
        data = _jsonfile.decode(raw)
    except UnicodeDecodeError as exc:
        raise DamagedRecord(path, reading_id, f"byte {exc.start} is not UTF-8") from None
    except json.JSONDecodeError as exc:
        if not raw.strip():
            raise DamagedRecord(path, reading_id, "is empty (not valid JSON)") from None
        where = f"{exc.lineno}:{exc.colno}"
        raise DamagedRecord(path, reading_id, f"not valid JSON ({exc.msg})", where) from None
    except RecursionError:
        raise DamagedRecord(path, reading_id, "is nested too deeply to be a record") from None
    except ValueError as exc:  # an integer beyond Python's digit limit, NaN or Infinity
        problem = f"holds a value no record has ({_short(exc)})"
        raise DamagedRecord(path, reading_id, problem) from None
    _validate(data, path, raw, reading_id)
    return Record(data)


def _short(exc: Exception) -> str:
    """The first clause of an exception's message (json's big-integer one runs on)."""
    return str(exc).split(";")[0].split(": value has")[0]


def _validate(
    data: Any, path: Path, raw: bytes | None, reading_id: str, *, built: bool = False
) -> None:
    """Check the sections the ledger owns; other sections are left to their stages. ``raw``:
    the file's bytes (for the line in messages), ``None`` for a record about to be written;
    ``built``: see :meth:`Ledger._stage`."""

    def problem(message: str, key: str | None = None, index: int | None = None) -> LedgerError:
        if raw is None:  # a record in memory, before writing
            return LedgerError(f"refusing to write {path}: {message}")
        line = _line_of(_jsonfile.as_text(raw), key, index) if key else None
        return DamagedRecord(path, reading_id, message, line)

    if not isinstance(data, dict):
        raise problem(f"expected a JSON object, found {type(data).__name__}")
    if raw is not None:  # what this run's stages wrote has these right by construction
        if "version" in data:
            raise problem(
                f"has a format version ({_kind(data['version'])}) this linkkeeper does not "
                "know: a newer linkkeeper or another program wrote it (if a newer linkkeeper, "
                "upgrade this one)",
                "version",
            )
        _validate_sections(data, problem, shallow=raw.count(b"{") + raw.count(b"[") <= MAX_DEPTH)
    if data.get("id") != reading_id:
        raise problem(f"id is {data.get('id')!r} but the file is for {reading_id!r}", "id")
    for key in ("url", "title"):
        if not isinstance(data.get(key), str | None):
            raise problem(f"{key!r} must be a string or null", key)
    if not isinstance(data.get("orphaned", False), bool):
        raise problem("'orphaned' must be true or false", "orphaned")
    checks = data.get("checks", [])
    if not isinstance(checks, list):
        raise problem("'checks' must be a list", "checks")
    if built:
        return
    for index, entry in enumerate(checks):
        try:
            Check.from_dict(entry)
        except (ValueError, TypeError) as exc:
            raise problem(f"checks[{index}]: {exc}", "checks", index) from None
    health = data.get("health")
    if health is not None:
        try:
            if not isinstance(health, dict):
                raise TypeError("expected an object")
            HealthState.from_dict(health)
        except (ValueError, TypeError, KeyError) as exc:
            raise problem(f"'health' is malformed ({exc})", "health") from None


def _validate_sections(
    data: dict[str, Any], problem: Callable[..., LedgerError], *, shallow: bool = False
) -> None:
    """Other stages' sections have the types those stages read them as (see
    :data:`SECTION_SHAPES`), and nothing nests deeper than :data:`MAX_DEPTH`. ``shallow``: the
    file opens at most that many objects and lists in all, so it cannot nest deeper (the walk
    over every container was most of this check's cost)."""
    if not shallow and _too_deep(data):
        raise problem(f"nests more than {MAX_DEPTH} levels deep (no record does)")
    for name, shape in SECTION_SHAPES.items():
        section = data.get(name)
        if section is None:
            continue
        if not isinstance(section, dict):
            raise problem(f"section {name!r} must be an object, found {_kind(section)}", name)
        for key, types in shape.items():
            if key not in section:
                continue  # the stage fills it in
            value = section[key]
            if not isinstance(value, types) or (type(value) is bool and bool not in types):
                wanted = " or ".join(SECTION_TYPE_NAMES[t] for t in types)
                raise problem(f"{name}.{key} must be {wanted}, found {_kind(value)}", name)
        if name == "metadata":
            for key, value in section.items():
                if key not in shape and not isinstance(value, dict):
                    raise problem(f"metadata.{key} must be an object, found {_kind(value)}", name)
        if name == "captures" and not all(isinstance(c, dict) for c in section.get("ours", [])):
            raise problem("every entry of captures.ours must be an object", name)


def _too_deep(data: dict[str, Any]) -> bool:
    level: list[Any] = [data]  # breadth first: one list per level, no tuple per node
    for _ in range(MAX_DEPTH):
        deeper = []
        for node in level:
            for child in node.values() if type(node) is dict else node:
                if type(child) is dict or type(child) is list:
                    deeper.append(child)
        if not deeper:
            return False
        level = deeper
    return True


def _kind(value: Any) -> str:
    """A JSON value's type and a short excerpt, for messages: ``a list ([1, 2])``."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}  # fmt: skip
    text = json.dumps(value, ensure_ascii=False) if value is not None else ""
    text = text if len(text) <= 40 else text[:37] + "..."
    return names.get(type(value), type(value).__name__) + (f" ({text})" if text else "")


def _line_of(text: str, key: str, index: int | None = None) -> int | None:
    """Best-effort line of ``"key":`` (or of its ``index``-th list entry) for error messages."""
    match = re.search(rf'"{re.escape(key)}"\s*:', text)
    if match is None:
        return None
    pos = match.end()
    if index is not None:
        for _ in range(index + 1):
            pos = text.find("{", pos) + 1
            if pos == 0:
                return None
        pos -= 1
    return text.count("\n", 0, pos) + 1
