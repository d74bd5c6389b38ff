"""When each reading's success was last confirmed: a machine-local cache beside the ledger.

A repeated identical success is not written to the record (a nightly commit must show only real
changes), so the record alone cannot tell whether last night's check saw the link alive.
``snapshots/.freshness.json`` remembers that per reading and URL for ``--max-age``. It is
git-ignored and written atomically once per run; losing it (a fresh CI checkout) only means
the next run re-checks the successes, which is correct, just slower.

The same file keeps what a conditional re-check needs (``pages``: validators and the body hash
of each reading's last good check, :mod:`linkkeeper.check.revalidate`). They are machine-local for
the same reason: a page that changes on every request would otherwise rewrite its record, and
the nightly commit, every night. Losing them costs one full night, nothing else.

And when each reading's Wayback captures were last looked up (``lookups``): the record's
``captures.checked_at`` moves only when a lookup found something new, so a reading with no
capture yet is not rewritten by every nightly lookup that finds nothing.

And which bytes of each record file this version of the code wrote or validated
(``validated``: a keyed hash, see :meth:`linkkeeper.ledger.store.Ledger._load`), so a steady
night decodes an unchanged record without validating it again; other bytes (a hand edit, a
merge, a damaged file, another version's code) are validated as always.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from linkkeeper.core import atomic_write_bytes
from linkkeeper.ledger.health import format_time, parse_time

FRESHNESS_NAME = ".freshness.json"
VERSION = 1

log = logging.getLogger(__name__)


class FreshnessCache:
    """``reading id -> (URL, last confirmed success)``; a changed URL makes an entry void."""

    def __init__(
        self,
        path: Path,
        entries: dict[str, dict[str, Any]] | None = None,
        pages: dict[str, dict[str, Any]] | None = None,
        lookups: dict[str, dict[str, Any]] | None = None,
        validated: dict[str, str] | None = None,
    ) -> None:
        self.path = path
        self._entries = entries or {}
        self._pages = pages or {}
        self._lookups = lookups or {}
        self._validated = validated or {}
        self._dirty = False
        self._lock = threading.Lock()  # the check engine records from worker threads

    @classmethod
    def load(cls, folder: Path) -> FreshnessCache:
        """The cache of a ledger folder; missing or unreadable means empty (re-check all)."""
        path = Path(folder) / FRESHNESS_NAME
        try:
            data = orjson.loads(path.read_bytes())  # 3.6 MB at 10,000 readings: orjson
        except FileNotFoundError:
            return cls(path)
        except (OSError, ValueError, RecursionError) as exc:
            log.warning("ignoring %s (%s): successes will be re-checked", path, exc)
            return cls(path)
        entries = data.get("confirmed") if isinstance(data, dict) else None
        if not isinstance(entries, dict) or data.get("version") != VERSION:
            return cls(path)  # a cache: an unknown one only costs re-checks
        return cls(
            path,
            _table(data, "confirmed", dict),
            _table(data, "pages", dict),
            _table(data, "lookups", dict),
            _table(data, "validated", str),
        )

    def confirmed(self, reading_id: str, url: str | None) -> datetime | None:
        """When a success of ``url`` was last seen for this reading, if known."""
        return _seen(self._entries, reading_id, url)

    def confirm(self, reading_id: str, url: str | None, at: datetime) -> None:
        """Remember a success seen at ``at`` (an older time never replaces a newer one)."""
        with self._lock:
            known = self.confirmed(reading_id, url)
            if known is not None and known >= at:
                return
            self._entries[reading_id] = {"url": url, "at": format_time(at)}
            self._dirty = True

    def looked_up(self, reading_id: str, url: str | None) -> datetime | None:
        """When the captures of ``url`` were last looked up for this reading, if known."""
        return _seen(self._lookups, reading_id, url)

    def note_lookup(self, reading_id: str, url: str | None, at: datetime) -> None:
        """Remember a capture lookup made at ``at``."""
        with self._lock:
            self._lookups[reading_id] = {"url": url, "at": format_time(at)}
            self._dirty = True

    def page(self, reading_id: str) -> dict[str, Any] | None:
        """The reading's revalidation entry (see :mod:`linkkeeper.check.revalidate`), if any."""
        return self._pages.get(reading_id)

    def validated(self, reading_id: str) -> str | None:
        """The keyed hash of the reading's record bytes this code last wrote or validated."""
        return self._validated.get(reading_id)

    def note_validated(self, reading_id: str, digest: str) -> None:
        """Remember that the record bytes with this keyed hash are valid (written or read)."""
        with self._lock:
            if self._validated.get(reading_id) != digest:
                self._validated[reading_id] = digest
                self._dirty = True

    def set_page(self, reading_id: str, entry: dict[str, Any] | None) -> None:
        """Replace (or with ``None`` drop) the reading's revalidation entry."""
        with self._lock:
            if self._pages.get(reading_id) == entry:
                return
            if entry is None:
                self._pages.pop(reading_id, None)
            else:
                self._pages[reading_id] = entry
            self._dirty = True

    def save(self) -> bool:
        """Write the cache atomically if anything changed; True when written."""
        with self._lock:
            if not self._dirty:
                return False
            document: dict[str, Any] = {"version": VERSION, "confirmed": self._entries}
            if self._pages:
                document["pages"] = self._pages
            if self._lookups:
                document["lookups"] = self._lookups
            if self._validated:
                document["validated"] = self._validated
            # the bytes json.dumps(sort_keys=True, separators=(",", ":")) wrote, 6x faster
            data = orjson.dumps(document, option=orjson.OPT_SORT_KEYS) + b"\n"
            atomic_write_bytes(self.path, data)
            self._dirty = False
            return True


def _table(data: dict[str, Any], name: str, kind: type) -> dict[str, Any]:
    """One table of the cache file, its entries of the wrong kind left out (a hand edit)."""
    table = data.get(name)
    if not isinstance(table, dict):
        return {}
    return {k: v for k, v in table.items() if isinstance(v, kind)}


def _seen(table: dict[str, dict[str, Any]], reading_id: str, url: str | None) -> datetime | None:
    """The time ``table`` holds for this reading and URL (none for another URL or a bad time)."""
    entry = table.get(reading_id)
    if entry is None or entry.get("url") != url:
        return None
    try:
        return parse_time(entry.get("at"))
    except ValueError:
        return None
