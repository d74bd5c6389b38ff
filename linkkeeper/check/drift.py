"""Content drift: does a live link still show what was assigned?

Over 75% of cited web references drift (Jones et al. 2016): the link works, the text is not the
one the group read. When a reading is first seen live we keep a fingerprint of its main text
(``baseline``); later checks compare against it. When ``archive`` finds the capture from the week
the reading was assigned, that capture's text becomes the baseline instead (it is what members
read: :func:`capture_baseline`; the live first-seen one is kept as ``first_seen``). Only the
main text counts: scripts, navigation, headers, footers, asides, forms and ad/"related" blocks
are dropped and digits and month names are erased, so rotating ads, dates, counters and
"related articles" do not look like drift, while a replaced article does.

Fingerprint: 5-word shingles of the normalised text -> a bottom-k MinHash signature (the 64
smallest shingle hashes; two signatures estimate the Jaccard similarity of the shingle sets in
O(n log k), fast even for a book-length PDF) plus a 52-bit simhash, the word count and the
title. Hashes are stored as fixed-width hex (the MinHash as one string of 64 x 13 digits), so a
record stays small and a changed fingerprint is a one-line diff. A changed reading keeps its
baseline until :func:`accept` re-baselines it. The ``drift`` section is rewritten only when the
verdict or the picture changes, so an unchanged page leaves the record byte-identical.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from linkkeeper.ledger import format_time

if TYPE_CHECKING:
    from linkkeeper.check.report import Row
    from linkkeeper.core import Element
    from linkkeeper.ledger import Ledger, Record

SHINGLE = 5  # words per shingle
PERMUTATIONS = 64  # MinHash values kept
MIN_WORDS = 20  # below this a page has no text worth fingerprinting (app shells, players)
CHANGED_BELOW = 0.6  # similarity under this: the reading changed
MOSTLY_NEW_BELOW = 0.3
SIMILARITY_STEP = 0.05  # smaller moves of the score are not worth a rewrite of the record
TITLE_SAME_AT = 0.5  # word overlap of two titles at or above this: the same title
CAPTURE_TRIES = 3  # archive runs that try to read a capture whose replay failed

SIMHASH_SAMPLE = 256  # simhash over the smallest hashes only: bounded work per page
HASH_BITS = 52  # hashes stay exact as JSON numbers in any language (the old list form)
HEX_DIGITS = HASH_BITS // 4  # one stored hash: 13 hex digits
HEX = re.compile(r"[0-9a-f]+")

# -- main text ---------------------------------------------------------------------------------
DROP_TAGS = (
    "script", "style", "noscript", "template", "svg", "canvas", "iframe", "nav", "header",
    "footer", "aside", "form", "button", "select", "input", "textarea", "dialog",
)  # fmt: skip
DROP_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search", "dialog"}
# class/id words of blocks that rotate between visits: ads, related links, share bars ...
NOISE = re.compile(
    r"(?:^|[-_\s])(?:ads?|advert\w*|sponsor\w*|promo\w*|related|recommend\w*|newsletter|"
    r"share|sharing|social|cookie\w*|comments?|sidebar|popular|trending|subscribe|banner|"
    r"breadcrumbs?|outbrain|taboola)(?:$|[-_\s])",
    re.IGNORECASE,
)
MONTHS = (
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday "
    "saturday sunday mon tue tues wed thu thurs fri sat sun am pm utc gmt"
)
STOP = frozenset(MONTHS.split())
WORD = re.compile(r"[^\W\d_]+")
ASCII_WORD = re.compile(r"[a-z]+")  # the same words in lower-case ASCII text, found faster


CANDIDATES = ("article", "main", "role=main")  # the text's root, in order of preference


def _dropped(tag: Element) -> bool:
    """Chrome or a rotating block: the tag and everything in it are not the reading's text."""
    if tag.tag in DROP_TAGS:
        return True
    attrs = tag.attrib
    if not attrs:
        return False
    if attrs.get("role") in DROP_ROLES:
        return True
    marks = f"{attrs.get('class', '')} {attrs.get('id', '')}"
    return bool(marks.strip() and NOISE.search(marks))


def main_text(html: str | Element) -> str:
    """The readable text of a page: ``<article>`` (the longest), else ``<main>``, else the body,
    without chrome and rotating blocks.

    A parsed page (the shared :meth:`~linkkeeper.core.models.FetchResult.tree`) is only read: each
    candidate root's text nodes, dropped subtrees skipped; a candidate inside a dropped block
    (an ``<article>`` in an ``<aside>``) or dropped itself does not count."""
    from linkkeeper.core import parse, text_of

    root = parse(html) if isinstance(html, str) else html

    def kept(element: Element) -> bool:
        return not _dropped(element) and not any(map(_dropped, element.iterancestors()))

    for kind in CANDIDATES:
        found = (
            [e for e in root.iter() if e.get("role") == "main"]
            if kind == "role=main"
            else list(root.iter(kind))
        )
        texts = [text_of(e, skip=_dropped) for e in found if kept(e)]
        if texts:
            return max(texts, key=len)
    body = next((e for e in root.iter("body") if kept(e)), root)
    return text_of(body, skip=_dropped)


def words_of(text: str) -> list[str]:
    """Lower-case words without digits, dates or month/day names: what a reader reads."""
    lower = text.lower()
    found = (ASCII_WORD if lower.isascii() else WORD).findall(lower)
    return [w for w in found if w not in STOP]


# -- fingerprints ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fingerprint:
    """What is kept of a text: enough to compare, too little to reconstruct it."""

    title: str | None
    words: int
    simhash: str  # 13 hex digits (52 bits)
    minhash: tuple[int, ...]

    def to_dict(self, at: datetime) -> dict[str, Any]:
        return {
            "at": format_time(at),
            "title": self.title,
            "words": self.words,
            "simhash": self.simhash,
            "minhash": "".join(f"{value:0{HEX_DIGITS}x}" for value in self.minhash),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Fingerprint | None:
        """Tolerant: a hand-edited or foreign entry is ``None``, never a crash. Reads the hex
        string and the earlier list of numbers."""
        if not isinstance(data, dict):
            return None
        minhash, words = _minhash(data.get("minhash")), data.get("words")
        if minhash is None or not 0 < len(minhash) <= PERMUTATIONS or not isinstance(words, int):
            return None
        title = data.get("title")
        return cls(title if isinstance(title, str) else None, words, str(data.get("simhash")),
                   minhash)  # fmt: skip


def _minhash(stored: Any) -> tuple[int, ...] | None:
    """The MinHash values of a stored fingerprint: hex string (13 digits each) or number list."""
    if isinstance(stored, list):
        return tuple(stored) if all(type(v) is int for v in stored) else None
    if not isinstance(stored, str) or len(stored) % HEX_DIGITS or not HEX.fullmatch(stored):
        return None
    return tuple(int(stored[i : i + HEX_DIGITS], 16) for i in range(0, len(stored), HEX_DIGITS))


def _hash(text: str) -> int:
    """A stable hash (Python's own ``hash`` changes per process)."""
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> (64 - HASH_BITS)


_BLAKE = hashlib.blake2b(digest_size=8)  # copied per shingle: cheaper than a new one each
_BITS = f"{{:0{HASH_BITS}b}}"  # a hash as its binary digits


def _shingle_hashes(words: list[str]) -> list[int]:
    """The distinct :func:`_hash` values of every run of :data:`SHINGLE` words joined by
    spaces, ascending: the same values, with one hasher copied instead of built per shingle
    (hashing is most of a fingerprint's cost, over a millisecond on a long article)."""
    runs = zip(*(words[i:] for i in range(SHINGLE)), strict=False)  # stops at the last whole
    digests = set()
    for shingle in set(map(" ".join, runs)):
        hasher = _BLAKE.copy()
        hasher.update(shingle.encode())
        digests.add(hasher.digest())
    shift = 64 - HASH_BITS
    return sorted({int.from_bytes(digest, "big") >> shift for digest in digests})


def _simhash(hashes: list[int]) -> int:
    """Bit ``i`` set when most hashes have it set; counted per column of their binary digits
    (string operations in C instead of a Python loop over 52 bits of each hash)."""
    rows = "".join(map(_BITS.format, hashes))  # most significant bit first
    simhash = 0
    for column in range(HASH_BITS):
        if 2 * rows[column::HASH_BITS].count("1") > len(hashes):
            simhash |= 1 << (HASH_BITS - 1 - column)
    return simhash


def fingerprint(text: str, title: str | None = None) -> Fingerprint | None:
    """The fingerprint of a main text; ``None`` when there are too few words to judge."""
    words = words_of(text)
    if len(words) < MIN_WORDS:
        return None
    hashes = _shingle_hashes(words)
    simhash = _simhash(hashes[:SIMHASH_SAMPLE])
    minhash = tuple(hashes[:PERMUTATIONS])
    return Fingerprint(" ".join(title.split()) if title else None, len(words),
                       f"{simhash:013x}", minhash)  # fmt: skip


def similarity(a: Fingerprint, b: Fingerprint) -> float:
    """Estimated Jaccard similarity of the two texts' shingle sets (0 unrelated .. 1 same)."""
    if a.minhash == b.minhash:
        return 1.0
    union = sorted(set(a.minhash) | set(b.minhash))[: max(len(a.minhash), len(b.minhash))]
    both = set(a.minhash) & set(b.minhash)
    return round(sum(h in both for h in union) / len(union), 2)


@dataclass(frozen=True)
class Comparison:
    similarity: float
    changed: bool
    description: str | None


def _title_changed(old: str | None, new: str | None) -> bool:
    if not old or not new:
        return False
    a, b = set(words_of(old)), set(words_of(new))
    if not a or not b:
        return old.casefold() != new.casefold()
    return len(a & b) / len(a | b) < TITLE_SAME_AT


def compare(baseline: Fingerprint, latest: Fingerprint) -> Comparison:
    """Is ``latest`` still the text of ``baseline``? With a short human description if not."""
    score = similarity(baseline, latest)
    notes = []
    if _title_changed(baseline.title, latest.title):
        notes.append(f"title changed from {baseline.title!r} to {latest.title!r}")
    ratio = latest.words / baseline.words if baseline.words else 1.0
    if ratio <= 0.6:
        notes.append(f"length about halved ({baseline.words} -> {latest.words} words)")
    elif ratio >= 1.8:
        notes.append(f"length about doubled ({baseline.words} -> {latest.words} words)")
    if score < MOSTLY_NEW_BELOW:
        notes.append(f"mostly new text (similarity {score:.2f})")
    elif score < CHANGED_BELOW:
        notes.append(f"much of the text changed (similarity {score:.2f})")
    changed = score < CHANGED_BELOW or bool(notes and notes[0].startswith("title"))
    return Comparison(score, changed, "; ".join(notes) if changed else None)


# -- the ledger section ------------------------------------------------------------------------
def update(record: Record, url: str | None, text: str, title: str | None, now: datetime) -> bool:
    """Fold one live view of the page (its main text) into the record's ``drift`` section;
    True if it changed. See :func:`observe`."""
    latest = fingerprint(text, title)
    return latest is not None and observe(record, url, latest, now)


def observe(record: Record, url: str | None, latest: Fingerprint, now: datetime) -> bool:
    """Fold one live view's fingerprint into the record's ``drift`` section; True if it changed.

    The first view becomes the baseline. Later views are compared with it; the section is
    rewritten only when ``changed``/``description`` differ or the score moved by at least
    :data:`SIMILARITY_STEP`, so nightly runs over an unchanged page write nothing."""
    section = _section(record, url)
    baseline = Fingerprint.from_dict(section.get("baseline")) if section else None
    if section is None or baseline is None:
        record.data["drift"] = {
            "url": url,
            "baseline": latest.to_dict(now) | {"source": "live"},
            "latest": None,
            "similarity": 1.0,
            "changed": False,
            "description": None,
            "checked_at": format_time(now),
        } | _kept(section, "capture")
        return True
    result = compare(baseline, latest)
    old_score = section.get("similarity")
    if (
        section.get("changed") == result.changed
        and section.get("description") == result.description
        and isinstance(old_score, int | float)
        and abs(old_score - result.similarity) < SIMILARITY_STEP
    ):
        return False
    section.update(
        latest=latest.to_dict(now),
        similarity=result.similarity,
        changed=result.changed,
        description=result.description,
        checked_at=format_time(now),
    )
    return True


def accept(record: Record, now: datetime) -> bool:
    """Re-baseline a changed reading on its latest view (an organizer accepted the new text).
    The capture already read stays noted, so ``archive`` does not put its text back."""
    section = record.data.get("drift")
    if not isinstance(section, dict) or not isinstance(section.get("latest"), dict):
        return False
    baseline = section["latest"] | {"source": "accepted", "accepted_at": format_time(now)}
    section.update(baseline=baseline, latest=None, similarity=1.0, changed=False,
                   description=None, checked_at=format_time(now))  # fmt: skip
    return True


def accept_ids(ledger: Ledger, ids: Iterable[str], now: datetime) -> dict[str, bool]:
    """``check --accept-drift``: :func:`accept` each reading's record and save it at once;
    id -> whether it had a newer view to accept (the ledger must be open)."""
    accepted = {}
    for reading_id in ids:
        record = ledger.find(reading_id)  # a damaged record: not accepted, reported
        accepted[reading_id] = record is not None and accept(record, now)
        if accepted[reading_id] and record is not None:
            ledger.save(record)
    return accepted


# -- the baseline from the assigned-week capture -----------------------------------------------
def _section(record: Record, url: str | None) -> dict[str, Any] | None:
    """The record's ``drift`` section when it is about ``url``."""
    section = record.data.get("drift")
    return section if isinstance(section, dict) and section.get("url") == url else None


def _kept(section: dict[str, Any] | None, *keys: str) -> dict[str, Any]:
    return {k: section[k] for k in keys if section and section.get(k) is not None}


def capture_wanted(record: Record, url: str, timestamp: str) -> bool:
    """Whether the capture at ``timestamp`` still has to be read for a baseline: never read,
    or its replay failed fewer than :data:`CAPTURE_TRIES` times (each capture is read once)."""
    section = _section(record, url)
    mark = section.get("capture") if section else None
    if not isinstance(mark, dict) or mark.get("timestamp") != timestamp:
        return True
    tries = mark.get("attempts")
    return mark.get("result") == "failed" and isinstance(tries, int) and tries < CAPTURE_TRIES


def note_capture(
    record: Record, url: str, timestamp: str, result: str, note: str, now: datetime
) -> bool:
    """Remember a capture that gave no baseline (``skipped``: not a text page; ``failed``: the
    replay failed, counted) so it is not fetched again; True (the record changed)."""
    section = _section(record, url) or {"url": url}
    mark = section.get("capture")
    tries = mark.get("attempts") if isinstance(mark, dict) else None
    same = isinstance(mark, dict) and mark.get("timestamp") == timestamp
    attempts = (tries if same and isinstance(tries, int) else 0) + 1
    section["capture"] = {"timestamp": timestamp, "result": result, "note": note,
                          "read_at": format_time(now)}  # fmt: skip
    if result == "failed":
        section["capture"]["attempts"] = attempts
    record.data["drift"] = section
    return True


def capture_baseline(
    record: Record, url: str, timestamp: str, found: Fingerprint, now: datetime
) -> bool:
    """Make the assigned-week capture's fingerprint the baseline (``source: capture``): it is
    what members read, so it wins over a live first-seen baseline (kept as ``first_seen``). A
    live view already recorded (``latest``, else the live baseline) is compared with it at
    once; without one ``changed`` stays unknown until the next check. Called once per capture
    (:func:`capture_wanted`); always changes the record."""
    section = _section(record, url)
    old = section.get("baseline") if section else None
    old = old if isinstance(old, dict) else None
    live = section.get("latest") if section else None
    if not isinstance(live, dict) and old is not None and old.get("source") != "capture":
        live = old  # an unchanged reading keeps no latest: its live baseline is the latest view
    live_print = Fingerprint.from_dict(live)
    first_seen = old if old is not None and old.get("source", "live") == "live" else None
    result = compare(found, live_print) if live_print is not None else None
    stamp = datetime.strptime(timestamp.ljust(14, "0")[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    new = {
        "url": url,
        "baseline": found.to_dict(stamp) | {"source": "capture", "capture": timestamp},
        "latest": live if live_print is not None else None,
        "similarity": result.similarity if result else None,
        "changed": result.changed if result else None,
        "description": result.description if result else None,
        "checked_at": format_time(now),
        "capture": {"timestamp": timestamp, "result": "baseline", "read_at": format_time(now)},
    } | ({"first_seen": first_seen} if first_seen else _kept(section, "first_seen"))
    record.data["drift"] = new
    return True


def annotate_row(record: Record, row: Row) -> None:
    """The check report's ``changed``/``similarity`` from the record (``check.ROW_ANNOTATORS``)."""
    section = record.data.get("drift")
    if not isinstance(section, dict) or section.get("url") != record.url:
        return
    if isinstance(section.get("changed"), bool):
        row.changed = section["changed"]
    score = section.get("similarity")
    if isinstance(score, int | float):
        row.similarity = float(score)
