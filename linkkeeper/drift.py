"""Content drift: does a live link still show what was assigned?

Over 75% of cited web references drift (Jones et al. 2016): the link works, the text is not the
one the group read. When a reading is first seen live we keep a fingerprint of its main text
(``baseline``); later checks compare against it. Only the main text counts: scripts, navigation,
headers, footers, asides, forms and ad/"related" blocks are dropped and digits and month names
are erased, so rotating ads, dates, counters and "related articles" do not look like drift,
while a replaced article does.

Fingerprint: 5-word shingles of the normalised text -> a bottom-k MinHash signature (the 64
smallest shingle hashes; two signatures estimate the Jaccard similarity of the shingle sets in
O(n log k), fast even for a book-length PDF) plus a 64-bit simhash (hex), the word count and the
title. A changed reading keeps its baseline until :func:`accept` re-baselines
it. The ``drift`` section is rewritten only when the verdict or the picture changes, so an
unchanged page leaves the record byte-identical.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from linkkeeper.health import format_time

if TYPE_CHECKING:
    from bs4 import BeautifulSoup

    from linkkeeper.ledger import Record
    from linkkeeper.report import Row

SHINGLE = 5  # words per shingle
PERMUTATIONS = 64  # MinHash values kept
MIN_WORDS = 20  # below this a page has no text worth fingerprinting (app shells, players)
CHANGED_BELOW = 0.6  # similarity under this: the reading changed
MOSTLY_NEW_BELOW = 0.3
SIMILARITY_STEP = 0.05  # smaller moves of the score are not worth a rewrite of the record
TITLE_SAME_AT = 0.5  # word overlap of two titles at or above this: the same title

SIMHASH_SAMPLE = 256  # simhash over the smallest hashes only: bounded work per page
HASH_BITS = 52  # stored hashes stay exact as JSON numbers in any language

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


def main_text(html: str | BeautifulSoup) -> str:
    """The readable text of a page: ``<article>`` (the longest), else ``<main>``, else the body,
    without chrome and rotating blocks. A parsed page given here is taken apart (parse once)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser") if isinstance(html, str) else html
    for tag in soup.find_all(DROP_TAGS):
        tag.decompose()
    for tag in soup.find_all(True):
        if tag.decomposed:  # inside a block removed a moment ago
            continue
        attrs = tag.attrs or {}
        marks = " ".join([*attrs.get("class", []), str(attrs.get("id", ""))])
        if attrs.get("role") in DROP_ROLES or (marks.strip() and NOISE.search(marks)):
            tag.decompose()
    candidates = soup.find_all("article") or soup.find_all("main")
    candidates = candidates or soup.find_all(attrs={"role": "main"})
    if candidates:
        root = max(candidates, key=lambda t: len(t.get_text(" ", strip=True)))
    else:
        root = soup.body or soup
    return root.get_text(" ", strip=True)


def words_of(text: str) -> list[str]:
    """Lower-case words without digits, dates or month/day names: what a reader reads."""
    return [w for w in WORD.findall(text.lower()) if w not in STOP]


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
            "minhash": list(self.minhash),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Fingerprint | None:
        """Tolerant: a hand-edited or foreign entry is ``None``, never a crash."""
        if not isinstance(data, dict):
            return None
        minhash, words = data.get("minhash"), data.get("words")
        if not isinstance(minhash, list) or not 0 < len(minhash) <= PERMUTATIONS:
            return None
        if not all(isinstance(v, int) for v in minhash) or not isinstance(words, int):
            return None
        title = data.get("title")
        return cls(title if isinstance(title, str) else None, words, str(data.get("simhash")),
                   tuple(minhash))  # fmt: skip


def _hash(text: str) -> int:
    """A stable hash (Python's own ``hash`` changes per process)."""
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> (64 - HASH_BITS)


def fingerprint(text: str, title: str | None = None) -> Fingerprint | None:
    """The fingerprint of a main text; ``None`` when there are too few words to judge."""
    words = words_of(text)
    if len(words) < MIN_WORDS:
        return None
    shingles = {" ".join(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}
    hashes = sorted({_hash(s) for s in shingles})
    weights = [0] * HASH_BITS
    for h in hashes[:SIMHASH_SAMPLE]:
        for bit in range(HASH_BITS):
            weights[bit] += 1 if h >> bit & 1 else -1
    simhash = sum(1 << bit for bit, weight in enumerate(weights) if weight > 0)
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
    """Fold one live view of the page into the record's ``drift`` section; True if it changed.

    The first view becomes the baseline. Later views are compared with it; the section is
    rewritten only when ``changed``/``description`` differ or the score moved by at least
    :data:`SIMILARITY_STEP`, so nightly runs over an unchanged page write nothing."""
    latest = fingerprint(text, title)
    if latest is None:
        return False
    section = record.data.get("drift")
    if not isinstance(section, dict) or section.get("url") != url:
        section = None
    baseline = Fingerprint.from_dict(section.get("baseline")) if section else None
    if section is None or baseline is None:
        record.data["drift"] = {
            "url": url,
            "baseline": latest.to_dict(now),
            "latest": None,
            "similarity": 1.0,
            "changed": False,
            "description": None,
            "checked_at": format_time(now),
        }
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
    """Re-baseline a changed reading on its latest view (an organizer accepted the new text)."""
    section = record.data.get("drift")
    if not isinstance(section, dict) or not isinstance(section.get("latest"), dict):
        return False
    section.update(baseline=section["latest"], latest=None, similarity=1.0, changed=False,
                   description=None, checked_at=format_time(now))  # fmt: skip
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
