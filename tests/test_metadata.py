"""Reading metadata from what the check fetched, per source, against the sandbox web.

Real sockets on loopback: the site families judge the sandbox's pages through a real Fetcher,
then :mod:`linkkeeper.check.metadata` reads the same responses (no second request for a page).
"""

from __future__ import annotations

import asyncio
import gc
import json
import weakref
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from click.testing import CliRunner

from linkkeeper.check import metadata
from linkkeeper.check.engine import CheckRun, run_checks
from linkkeeper.cli import cli
from linkkeeper.core.config import HostOverride
from linkkeeper.core.models import FetchResult, Reading, Verdict
from linkkeeper.judges.sites import Judgement, arxiv, site_for
from linkkeeper.ledger.record import Record
from linkkeeper.ledger.store import Ledger, PendingWrite
from linkkeeper.sandbox import Sandbox
from linkkeeper.sandbox.web import WEB_STATE
from linkkeeper.web.fetcher import Fetcher, FetchSettings
from linkkeeper.web.remap import Remapper

T = TypeVar("T")
NOW = datetime(2026, 3, 3, 4, 0, tzinfo=UTC)
API_GAP = 0.25  # our spacing of export.arxiv.org calls in tests (3 s in real life)
ATTENTION = "https://arxiv.org/abs/1706.03762"
MLPERF_PDF = "https://arxiv.org/pdf/1910.01500.pdf"
MIRROR = "https://mirror.xyz/herndondryhurst.eth/"
TECHREVIEW = (
    "https://www.technologyreview.com/2021/05/27/1025453/artificial-intelligence-learning-"
    "create-itself-agi/"
)


def settings() -> FetchSettings:
    return FetchSettings(
        allow_private=True,
        host_interval=0.0,
        retries=0,
        backoff_base=0.05,  # the scheduler's own slow-down after 429/503
        backoff_max=0.1,
        host_overrides={
            "export.arxiv.org": HostOverride(interval=API_GAP),
            "arxiv.org": HostOverride(interval=0.0),  # not the sandbox's 15 s Crawl-delay
        },
    )


def with_fetcher(box: Sandbox, work: Callable[[Fetcher], Awaitable[T]]) -> T:
    async def run() -> T:
        async with Fetcher(settings(), Remapper.parse(box.remap_rules())) as fetcher:
            return await work(fetcher)

    return asyncio.run(run())


def reading(url: str, rid: str = "r") -> Reading:
    return Reading(id=rid, title=None, url=url)


def judge(box: Sandbox, url: str) -> Judgement:
    return with_fetcher(box, lambda f: site_for(url).check(reading(url), f))


def fields(box: Sandbox, url: str, papers: Any = None) -> dict[str, tuple[Any, str]]:
    found = metadata.collect(reading(url), judge(box, url), papers or {})
    return {name: (f["value"], f["source"]) for name, f in found.fields.items()}


def api_calls(box: Sandbox) -> list[str]:
    return [r.path for r in box.requests if r.host == "export.arxiv.org"]


# -- arXiv export API --------------------------------------------------------------------------
def test_arxiv_batch_matches_entries_by_id_not_order(clean_sandbox: Sandbox) -> None:
    ids = ["1910.01500", "1706.03762v7"]  # the sandbox answers in reverse order
    papers = with_fetcher(clean_sandbox, lambda f: arxiv.fetch_papers(ids, f))
    assert papers["1706.03762"].title == "Attention Is All You Need"
    assert papers["1706.03762"].version == 7
    assert papers["1910.01500"].title == "MLPerf Inference Benchmark"
    assert papers["1910.01500"].doi == "10.1109/ISCA45697.2020.00045"
    assert papers["1910.01500"].authors[0] == "Vijay Janapa Reddi"
    calls = api_calls(clean_sandbox)
    assert len(calls) == 1 and "1706.03762" in calls[0] and "1910.01500" in calls[0]
    values = arxiv.paper_fields(papers["1706.03762"])
    assert values["published"]["value"] == "2017-06-12"
    assert values["latest_version"]["value"] == "v7"
    assert values["primary_category"]["value"] == "cs.CL"
    assert values["abstract"]["value"].startswith("The dominant sequence transduction models")
    assert "\n" not in values["abstract"]["value"]  # the API's wrapping is undone


def test_arxiv_error_feed_drops_the_bad_id_and_asks_again(clean_sandbox: Sandbox) -> None:
    WEB_STATE.settings.arxiv_api_interval = 0.2
    papers = with_fetcher(clean_sandbox, lambda f: arxiv.fetch_papers(["1706.03762", "bad"], f))
    assert list(papers) == ["1706.03762"]
    calls = api_calls(clean_sandbox)
    assert len(calls) == 2 and "bad" in calls[0] and "bad" not in calls[1]


def test_arxiv_empty_feed_and_non_feed_bodies() -> None:
    empty = b'<feed xmlns="http://www.w3.org/2005/Atom"><title>q</title></feed>'
    assert arxiv.parse_feed(empty) == arxiv.ArxivFeed({}, [])
    assert arxiv.parse_feed(b"Rate exceeded.") is None
    assert arxiv.parse_feed(b"<html><body><h1>503</h1></body></html>") is None


def test_arxiv_unknown_id_gives_nothing_in_one_request(clean_sandbox: Sandbox) -> None:
    papers = with_fetcher(clean_sandbox, lambda f: arxiv.fetch_papers(["2312.99999"], f))
    assert papers == {} and len(api_calls(clean_sandbox)) == 1


def test_arxiv_rate_limit_retries_once_then_falls_back_to_citation_tags(
    clean_sandbox: Sandbox,
) -> None:
    WEB_STATE.settings.arxiv_api_interval = 60.0  # every call after the first is refused

    async def work(fetcher: Fetcher) -> tuple[Any, ...]:
        first = await arxiv.fetch_papers(["1910.01500"], fetcher)  # accepted
        refused = await metadata.prefetch_arxiv([reading(ATTENTION)], fetcher)  # 503, 429
        again = await metadata.prefetch_arxiv([reading(ATTENTION)], fetcher)  # Rate exceeded.
        judged = await site_for(ATTENTION).check(reading(ATTENTION), fetcher)
        return first, refused, again, judged

    first, refused, again, judged = with_fetcher(clean_sandbox, work)
    assert list(first) == ["1910.01500"]
    assert refused == {} and again == {}
    assert len(api_calls(clean_sandbox)) == 5  # 1 + (1 + one polite retry) * 2
    found = metadata.collect(reading(ATTENTION), judged, refused).fields
    assert found["title"] == {
        "value": "Attention Is All You Need",
        "source": "citation_title",
        "confidence": "high",
    }
    assert found["authors"]["value"][:2] == ["Ashish Vaswani", "Noam Shazeer"]  # not "Last, First"
    assert found["published"]["value"] == "2017-06-12"


def test_arxiv_retry_succeeds_after_waiting(clean_sandbox: Sandbox) -> None:
    WEB_STATE.settings.arxiv_api_interval = 0.2

    async def work(fetcher: Fetcher) -> Any:
        async with Fetcher(settings(), Remapper.parse(clean_sandbox.remap_rules())) as other:
            await other.fetch(arxiv.api_url(["1910.01500"]))  # same User-Agent, just before
        return await metadata.prefetch_arxiv([reading(ATTENTION)], fetcher)

    papers = with_fetcher(clean_sandbox, work)
    assert papers["1706.03762"].title == "Attention Is All You Need"
    assert len(api_calls(clean_sandbox)) == 3


def test_api_fields_win_and_survive_an_api_outage(clean_sandbox: Sandbox) -> None:
    judged = judge(clean_sandbox, MLPERF_PDF)
    papers = with_fetcher(clean_sandbox, lambda f: arxiv.fetch_papers(["1910.01500"], f))
    record = Record.new(reading(MLPERF_PDF))
    assert metadata.update_record(record, reading(MLPERF_PDF), judged, NOW, papers)
    section = record.data["metadata"]
    assert section["title"]["source"] == "arxiv-api"
    assert section["content_type"]["value"] == "application/pdf"
    assert section["final_url"]["value"] == "https://arxiv.org/pdf/1910.01500"
    before = record.to_json()
    # next night the API is down: the PDF's own (low-confidence) title must not replace it
    assert not metadata.update_record(record, reading(MLPERF_PDF), judged, NOW, {})
    assert record.to_json() == before
    without_api = metadata.collect(reading(MLPERF_PDF), judged, {}).fields
    assert without_api["title"] == {
        "value": "MLPerf Inference Benchmark",
        "source": "pdf-info",
        "confidence": "low",
    }


# -- generic pages -----------------------------------------------------------------------------
def test_json_ld_article(clean_sandbox: Sandbox) -> None:
    found = fields(clean_sandbox, TECHREVIEW)
    assert found["title"] == ("AI is learning how to create itself", "json-ld")
    assert found["authors"] == (["Will Douglas Heaven"], "json-ld")
    assert found["published"] == ("2021-05-27", "json-ld")
    assert found["site"] == ("MIT Technology Review", "og")
    assert found["content_type"] == ("text/html", "http")
    assert found["words"][0] > 300


def test_open_graph_only(clean_sandbox: Sandbox) -> None:
    found = fields(clean_sandbox, "https://jalammar.github.io/illustrated-transformer/")
    assert found["title"] == ("The Illustrated Transformer", "og")
    assert found["published"] == ("2018-06-27", "og")  # article:published_time
    assert found["authors"] == (["Jay Alammar"], "meta")
    app = fields(clean_sandbox, "https://playground.tensorflow.org/")
    assert app["title"] == ("A Neural Network Playground", "og")
    assert app["site"] == ("playground.tensorflow.org", "url")  # no og:site_name: the host


def test_title_tag_only_is_low_confidence(clean_sandbox: Sandbox) -> None:
    found = metadata.collect(
        reading("https://blog.example/"), judge(clean_sandbox, "https://blog.example/")
    )
    assert found.fields["title"] == {"value": "Field Notes", "source": "title", "confidence": "low"}


def page(html: str, url: str = "https://example.org/post") -> FetchResult:
    headers = {"content-type": "text/html; charset=utf-8"}
    return FetchResult(url, url, 200, headers, html.encode())


def test_malformed_and_graph_json_ld() -> None:
    html = """<html><head><title>Fallback | Site</title>
    <script type="application/ld+json">{"@type": "Article", "headline": broken</script>
    <script type="application/ld+json">{"@context": "https://schema.org", "@graph": [
      {"@type": "WebSite", "@id": "#site", "name": "The Site"},
      {"@type": ["Article"], "headline": "  Graph   headline ",
       "author": [{"@id": "#ada"}, "Grace Hopper", {"@type": "Person", "name": "Alan Turing"}],
       "publisher": {"@id": "#org"}, "datePublished": "2020-02-03T04:05:06Z"},
      {"@type": "Person", "@id": "#ada", "name": "Ada Lovelace"},
      {"@type": "Organization", "@id": "#org", "name": "Graph Press"}]}</script>
    </head><body><article><p>Text.</p></article></body></html>"""
    found = metadata.html_metadata(page(html)).fields
    assert found["title"]["value"] == "Graph headline"
    assert found["authors"]["value"] == ["Ada Lovelace", "Grace Hopper", "Alan Turing"]
    assert found["site"] == {"value": "Graph Press", "source": "json-ld", "confidence": "high"}
    assert found["published"]["value"] == "2020-02-03"
    only_broken = metadata.html_metadata(page('<script type="application/ld+json">{</script>'))
    assert "title" not in only_broken.fields  # nothing to find, and no exception


def test_twitter_card_and_author_string() -> None:
    html = """<head><meta name="twitter:title" content="Card title">
    <script type="application/ld+json">{"@type": "BlogPosting", "author": "Sam Writer"}</script>
    </head>"""
    found = metadata.html_metadata(page(html)).fields
    assert found["title"] == {"value": "Card title", "source": "twitter", "confidence": "high"}
    assert found["authors"]["value"] == ["Sam Writer"]


def test_dead_page_gets_a_title_from_its_url_only(clean_sandbox: Sandbox) -> None:
    url = "https://towardsdatascience.com/the-mostly-complete-chart-of-neural-networks-explained-3fb6f2367464"
    found = fields(clean_sandbox, url)
    assert found["title"] == ("The mostly complete chart of neural networks explained", "url")
    assert "content_type" not in found  # nothing from a 404 page


# -- YouTube, Mirror, PDFs ---------------------------------------------------------------------
def test_youtube_oembed(clean_sandbox: Sandbox) -> None:
    found = fields(clean_sandbox, "https://www.youtube.com/watch?v=y57wwucbXR8")
    assert found["title"] == ("Building the Software 2 0 Stack (Andrej Karpathy)", "oembed")
    assert found["authors"] == (["Databricks"], "oembed")
    assert found["site"][0] == "YouTube"
    assert "size" not in found  # the oEmbed answer is not the reading's own page
    no_embed = fields(clean_sandbox, "https://www.youtube.com/watch?v=noEmbedVid1")  # oEmbed 401
    assert "title" not in no_embed


def test_mirror_entry_and_empty_shell(clean_sandbox: Sandbox) -> None:
    found = fields(clean_sandbox, f"{MIRROR}eZG6mucl9fqU897XvJs0vUUMnm5OITpSWN8S-6KWamY")
    assert found["title"] == ("Infinite Images and the latent camera", "next-data")
    assert found["authors"] == (["Holly Herndon & Mat Dryhurst"], "next-data")
    assert found["published"] == ("2022-05-05", "next-data")
    shell = fields(clean_sandbox, f"{MIRROR}emptyShellDigest000")
    assert "title" not in shell  # an empty shell has no entry, and a digest is not a title


def test_junk_pdf_title_replaced_by_first_page_text(clean_sandbox: Sandbox) -> None:
    url = "http://www2.csudh.edu/ccauthen/576f12/frankfurt__harry_-_on_bullshit.pdf"
    found = metadata.collect(reading(url), judge(clean_sandbox, url)).fields
    assert found["title"] == {"value": "On Bullshit", "source": "pdf-text", "confidence": "low"}
    assert found["pages"]["value"] == 1
    assert found["final_url"]["value"].startswith("https://www2.csudh.edu/")


# -- the ledger section ------------------------------------------------------------------------
class CountingLedger(Ledger):
    """A real ledger that notes which records each write puts on disk."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.written: list[str] = []

    def write_all(self, writes: Iterable[PendingWrite]) -> None:
        batch = list(writes)
        self.written += [write.reading_id for write in batch]
        super().write_all(batch)


def check_night(box: Sandbox, snapshots: Path, readings: list[Reading], now: datetime) -> list[str]:
    """One ``check`` run through the engine; the ids of the records it wrote, in order."""

    async def go(run: CheckRun) -> None:
        async with Fetcher(settings(), Remapper.parse(box.remap_rules())) as fetcher:
            await run_checks(run, readings, readings, fetcher, max_concurrency=8,
                             host_concurrency=lambda host: 4)  # fmt: skip

    with CountingLedger(snapshots) as ledger:
        asyncio.run(go(CheckRun(ledger, force=True, clock=lambda: now)))
        return ledger.written


def test_check_writes_each_record_once_with_metadata_and_drift(
    clean_sandbox: Sandbox, tmp_path: Path
) -> None:
    dead = "https://towardsdatascience.com/the-mostly-complete-chart-of-neural-networks-explained-3fb6f2367464"
    bullshit = "http://www2.csudh.edu/ccauthen/576f12/frankfurt__harry_-_on_bullshit.pdf"
    readings = [reading(TECHREVIEW, "agi"), reading(TECHREVIEW, "agi-again"),
                reading(bullshit, "pdf"), reading(dead, "dead")]  # fmt: skip
    written = check_night(clean_sandbox, tmp_path, readings, NOW)
    assert sorted(written) == ["agi", "agi-again", "dead", "pdf"]  # one write per record
    stored = {r.id: json.loads((tmp_path / f"{r.id}.json").read_text()) for r in readings}
    for rid in ("agi", "agi-again", "pdf"):
        assert len(stored[rid]["checks"]) == 1 and stored[rid]["checks"][0]["verdict"] == "ok"
        assert stored[rid]["drift"]["baseline"]["words"] > 20
    assert stored["agi"]["metadata"] == stored["agi-again"]["metadata"]  # one page, one reading
    assert stored["agi"]["metadata"]["title"]["value"] == "AI is learning how to create itself"
    assert stored["agi"]["drift"] == stored["agi-again"]["drift"]
    assert stored["pdf"]["metadata"]["title"]["value"] == "On Bullshit"
    assert stored["dead"]["metadata"]["title"]["source"] == "url"
    assert "drift" not in stored["dead"]
    # the next night nothing changed: only the failure is recorded again (it counts)
    assert check_night(clean_sandbox, tmp_path, readings, NOW + timedelta(days=1)) == ["dead"]


def test_release_frees_the_shared_parse_at_once() -> None:
    fetched = page("<!DOCTYPE html><html><body><article><p>Text.</p></article></body></html>")
    tree = fetched.tree()
    assert fetched.tree() is tree  # parsed once, shared
    root = weakref.ref(tree)
    gc.disable()  # freed by reference counting, not left for the cyclic GC
    try:
        fetched.release()
        del tree
        assert root() is None
    finally:
        gc.enable()
    assert fetched.tree().text_content() == "Text."  # parsed again if somebody still asks
    fetched.release()
    fetched.release()  # twice is harmless


def test_unchanged_page_leaves_the_record_untouched(clean_sandbox: Sandbox) -> None:
    judged = judge(clean_sandbox, TECHREVIEW)
    record = Record.new(reading(TECHREVIEW))
    assert metadata.update_record(record, reading(TECHREVIEW), judged, NOW)
    assert record.data["drift"]["changed"] is False
    first = record.to_json()
    later = NOW + timedelta(days=3)
    assert not metadata.update_record(
        record, reading(TECHREVIEW), judge(clean_sandbox, TECHREVIEW), later
    )
    assert record.to_json() == first
    # a month on, unchanged values are re-stamped once
    assert metadata.update_record(record, reading(TECHREVIEW), judged, NOW + timedelta(days=31))
    # a failed check only fills gaps, it never replaces what the live page said
    dead = Judgement(Verdict.BROKEN, "HTTP 404", 404, page=FetchResult(TECHREVIEW, TECHREVIEW, 404))
    before = record.to_json()
    assert not metadata.update_record(record, reading(TECHREVIEW), dead, later)
    assert record.to_json() == before


def test_no_answer_records_nothing() -> None:
    url = "https://refused.example/x-y-z"
    judged = Judgement(Verdict.BROKEN, "refused", page=FetchResult(url, url, None, error="connect"))
    record = Record.new(reading(url))
    assert not metadata.update_record(record, reading(url), judged, NOW)
    assert "metadata" not in record.data


def test_titles_from_ledger_feed_the_list_command(tmp_path: Path) -> None:
    (tmp_path / "readings.yaml").write_text(
        "title: T\nweeks:\n  - week: 1\n    readings:\n      - id: untitled\n"
        "        url: https://example.org/a\n      - id: titled\n        title: Mine\n"
        "        url: https://example.org/b\n",
        encoding="utf-8",
    )
    with Ledger(tmp_path / "snapshots") as ledger:
        for rid, url in (
            ("untitled", "https://example.org/a"),
            ("titled", "https://example.org/b"),
        ):
            record = Record.new(Reading(rid, None, url))
            metadata.store(
                record, url, {"title": metadata.found(f"Fetched {rid}", "og")}, True, NOW
            )
            ledger.save(record)
        stale = Record.new(Reading("moved-on", None, "https://example.org/new"))
        stale.data["metadata"] = {
            "url": "https://example.org/old",
            "title": metadata.found("Old", "og"),
        }
        ledger.save(stale)
    assert metadata.titles_from_ledger(tmp_path / "snapshots") == {
        "untitled": "Fetched untitled",
        "titled": "Fetched titled",
    }
    result = CliRunner().invoke(
        cli,
        ["list", "--format", "json", "--readings", str(tmp_path / "readings.yaml"),
         "--snapshots", str(tmp_path / "snapshots")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = {r["id"]: r for r in json.loads(result.stdout)["weeks"][0]["readings"]}
    assert rows["untitled"]["title"] == "Fetched untitled"
    assert rows["untitled"]["title_source"] == "ledger"
    assert rows["titled"]["title"] == "Mine"  # the curriculum's own title wins


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2017/06/12", "2017-06-12"),
        ("2021-05-27T10:00:00-04:00", "2021-05-27"),
        ("2020-5-3", "2020-05-03"),
        ("Tue, 01 Mar 2022 10:00:00 GMT", "2022-03-01"),
        ("2019", "2019"),
        ("soon", None),
    ],
)
def test_dates(text: str, iso: str | None) -> None:
    assert metadata.iso_date(text) == iso


def test_url_titles() -> None:
    assert (
        metadata.url_title("https://www.robinsloan.com/lab/notes-on-a-genre/") == "Notes on a genre"
    )
    assert metadata.url_title("https://www.youtube.com/watch?v=abc") is None
    assert metadata.url_title(f"{MIRROR}eZG6mucl9fqU897XvJs0vUUMnm5OITpSWN8S-6KWamY") is None
    assert metadata.url_title("https://x.org/a/frankfurt__harry_-_on_bullshit.pdf") == (
        "Frankfurt harry on bullshit"
    )
