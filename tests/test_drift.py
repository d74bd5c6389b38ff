"""Content drift: what must not count (ads, dates, related links, chrome) and what must."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import lxml.html

from linkkeeper.check import drift
from linkkeeper.check.report import Row
from linkkeeper.core.models import CheckResult, Reading, Verdict
from linkkeeper.ledger.record import Record

NOW = datetime(2026, 3, 3, 4, 0, tzinfo=UTC)
SYLLABLES = ("ka", "to", "mi", "ra", "ne", "lu", "so", "fe", "di", "po", "ga", "hu", "be", "zo")
VOCABULARY = [a + b + c for a in SYLLABLES for b in SYLLABLES for c in ("", "n", "s")]


def prose(seed: int, words: int = 600) -> str:
    pick = random.Random(seed).choice
    sentences = [" ".join(pick(VOCABULARY) for _ in range(12)) + "." for _ in range(words // 12)]
    return "\n".join(
        f"<p>{' '.join(sentences[i : i + 5])}</p>" for i in range(0, len(sentences), 5)
    )


def article(
    body: str,
    *,
    title: str = "Notes on reading groups",
    date: str = "March 3, 2024",
    views: int = 1234,
    ad: str = "Buy the new Kettle Pro today",
    related: tuple[str, ...] = ("Ten tips for tea", "Why kettles whistle"),
) -> str:
    links = "".join(f'<li><a href="/r{i}">{t}</a></li>' for i, t in enumerate(related))
    return f"""<!DOCTYPE html><html><head><title>{title} | Field Notes</title>
    <script>window.dataLayer = [{{"rotation": "{ad}"}}];</script><style>p {{ color: red }}</style>
    </head><body>
    <header><nav><a href="/">Home</a> <a href="/about">About us</a> <a href="/shop">Shop</a></nav>
    </header>
    <main><article><h1>{title}</h1>
    <p class="byline">By Sam Writer · Updated {date} · {views:,} views</p>
    <div class="ad-slot">{ad}</div>
    {body}
    <div class="related-posts"><h3>Related</h3><ul>{links}</ul></div>
    </article></main>
    <aside><h3>Popular now</h3><ul>{links}</ul></aside>
    <footer><p>© 2024 Field Notes · <a href="/privacy">Privacy</a></p>
    <form><input name="email"><button>Subscribe</button></form></footer>
    </body></html>"""


def fp(html: str, title: str = "Notes on reading groups") -> drift.Fingerprint:
    found = drift.fingerprint(drift.main_text(html), title)
    assert found is not None
    return found


BASE = article(prose(1))


def test_main_text_drops_chrome_and_rotating_blocks() -> None:
    text = drift.main_text(BASE)
    assert text.startswith("Notes on reading groups By Sam Writer")
    for noise in ("About us", "Kettle Pro", "Ten tips", "Popular now", "Privacy", "Subscribe",
                  "dataLayer", "color: red"):  # fmt: skip
        assert noise not in text


def test_ads_dates_counters_and_related_links_are_not_drift() -> None:
    rotated = article(
        prose(1),
        date="April 17, 2025",
        views=98765,
        ad="Sale: forty percent off every teapot",
        related=("Brewing at altitude", "A history of the samovar", "Cold brew, explained"),
    )
    result = drift.compare(fp(BASE), fp(rotated))
    assert result.similarity == 1.0
    assert result.changed is False and result.description is None


def test_a_small_edit_is_not_drift() -> None:
    body = prose(1)
    edited = body.replace("<p>", "<p>An editor's note was added here to clarify one point. ", 1)
    result = drift.compare(fp(BASE), fp(article(edited)))
    assert 0.8 <= result.similarity < 1.0
    assert result.changed is False


def test_a_replaced_article_is_drift() -> None:
    replaced = article(prose(2), title="Notes on reading groups")  # same chrome, new text
    result = drift.compare(fp(BASE), fp(replaced))
    assert result.similarity < 0.1
    assert result.changed is True
    assert result.description is not None and "mostly new text" in result.description


def test_title_change_and_length_are_described() -> None:
    renamed = article(prose(1), title="Sponsored: the best kettles of the year")
    result = drift.compare(fp(BASE), fp(renamed, "Sponsored: the best kettles of the year"))
    assert result.changed is True
    assert result.description is not None
    assert "title changed from 'Notes on reading groups' to 'Sponsored" in result.description
    halved = drift.compare(fp(BASE), fp(article(prose(1, 300))))
    assert halved.changed is True
    assert halved.description is not None and "halved" in halved.description
    doubled = drift.compare(fp(BASE), fp(article(prose(1) + prose(3))))
    assert doubled.description is not None and "doubled" in doubled.description


def test_too_little_text_has_no_fingerprint() -> None:
    assert drift.fingerprint("A Neural Network Playground", "x") is None


def test_fingerprints_are_stable_and_compact() -> None:
    a, b = fp(BASE), fp(BASE)
    assert a == b  # no per-process hashing
    stored = a.to_dict(NOW)
    assert len(a.minhash) == drift.PERMUTATIONS and len(stored["simhash"]) == 13
    assert all(0 <= v < 2**52 for v in a.minhash)  # 13 hex digits each
    # one line of fixed-width hex in the record, not 64 lines of numbers
    assert isinstance(stored["minhash"], str) and len(stored["minhash"]) == 64 * 13
    assert stored["minhash"] == "".join(f"{v:013x}" for v in a.minhash)
    assert drift.Fingerprint.from_dict(stored) == a
    older = {**stored, "minhash": list(a.minhash)}  # the earlier list form still reads
    assert drift.Fingerprint.from_dict(older) == a
    for junk in ("junk", stored["minhash"][:-1], stored["minhash"].upper(), [1.5], []):
        assert drift.Fingerprint.from_dict({**stored, "minhash": junk}) is None


def test_main_text_only_reads_a_shared_parse() -> None:
    from linkkeeper.core.models import FetchResult

    page = FetchResult("u", "u", 200, {"content-type": "text/html"}, BASE.encode())
    tree = page.tree()
    before = lxml.html.tostring(tree)
    assert drift.main_text(tree) == drift.main_text(BASE)
    assert lxml.html.tostring(tree) == before  # soft-404 judging and metadata read it too
    assert "Kettle Pro" in tree.text_content()


def test_ledger_section_baseline_no_churn_change_and_accept() -> None:
    url = "https://blog.example/post/live"
    record = Record.new(Reading("live", None, url))
    text = drift.main_text(BASE)
    assert drift.update(record, url, text, "Notes on reading groups", NOW)
    section = record.data["drift"]
    assert section["changed"] is False and section["latest"] is None
    baseline = dict(section["baseline"])
    first = record.to_json()

    later = NOW + timedelta(days=1)
    rotated = drift.main_text(article(prose(1), date="May 1, 2025", ad="Other ad"))
    assert not drift.update(record, url, rotated, "Notes on reading groups", later)
    assert record.to_json() == first  # byte-identical: nothing changed

    replaced = drift.main_text(article(prose(2)))
    assert drift.update(record, url, replaced, "Notes on reading groups", later)
    section = record.data["drift"]
    assert section["changed"] is True and section["similarity"] < 0.1
    assert section["baseline"] == baseline  # a changed reading keeps its baseline
    assert section["checked_at"] == "2026-03-04T04:00:00Z"
    changed_once = record.to_json()
    assert not drift.update(record, url, replaced, "Notes on reading groups", later + timedelta(1))
    assert record.to_json() == changed_once

    row = Row(Reading("live", None, url), CheckResult("live", url, Verdict.OK, "HTTP 200"))
    drift.annotate_row(record, row)
    assert row.changed is True and row.similarity is not None and row.similarity < 0.1

    assert drift.accept(record, later)
    assert record.data["drift"]["changed"] is False
    assert record.data["drift"]["baseline"]["minhash"] != baseline["minhash"]


def test_a_new_url_starts_a_new_baseline() -> None:
    record = Record.new(Reading("r", None, "https://a.example/1"))
    drift.update(record, "https://a.example/1", drift.main_text(BASE), None, NOW)
    other = drift.main_text(article(prose(2)))
    assert drift.update(record, "https://a.example/2", other, None, NOW)
    assert record.data["drift"]["url"] == "https://a.example/2"
    assert record.data["drift"]["changed"] is False


def test_shingle_hashes_are_the_stable_hash_of_each_joined_run() -> None:
    """Stored fingerprints stay comparable: the fast path hashes exactly what ``_hash`` of
    each space-joined 5-word run gives, ASCII or not."""
    rng = random.Random(7)
    vocabulary = ["café", "naïve", "日本語", "straße", "a", "bb", "transformer", "heads"]
    for size in (5, 6, 40, 300):
        words = [rng.choice(vocabulary) for _ in range(size)]
        for sample in (words, [w for w in words if w.isascii()]):
            runs = {" ".join(sample[i : i + 5]) for i in range(len(sample) - 4)}
            assert drift._shingle_hashes(sample) == sorted({drift._hash(r) for r in runs})
    assert drift._hash("one two three four five") == 0x3E1DA6133E7D5  # pinned: stored values
