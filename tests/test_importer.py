"""The importer: the seed page in full, merges that keep hand edits, safe writes."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from linkkeeper.curriculum import readings as curriculum
from linkkeeper.curriculum.importer import PageError, dump, import_page, parse_page
from linkkeeper.curriculum.readings import CurriculumError, loads

REPO = Path(__file__).resolve().parents[1]
SEED = Path(__file__).with_name("data") / "ai-workshop-page.md"
SEED_URLS = {
    "https://arxiv.org/pdf/1910.01500.pdf",
    "https://arxiv.org/abs/1706.03762",
    "https://towardsdatascience.com/the-mostly-complete-chart-of-neural-networks-explained-3fb6f2367464",
    "https://towardsdatascience.com/intuitively-understanding-convolutions-for-deep-learning-1f6f42faee1",
    "https://thenextweb.com/news/understanding-transformers-the-machine-learning-model-behind-gpt-3-machine-learning-ai-syndication",
    "https://jalammar.github.io/illustrated-transformer/",
    "https://playground.tensorflow.org/",
    "https://www.technologyreview.com/2021/05/27/1025453/artificial-intelligence-learning-create-itself-agi/",
    "https://mirror.xyz/herndondryhurst.eth/eZG6mucl9fqU897XvJs0vUUMnm5OITpSWN8S-6KWamY",
    "http://www2.csudh.edu/ccauthen/576f12/frankfurt__harry_-_on_bullshit.pdf",
    "https://www.robinsloan.com/lab/notes-on-a-genre/",
    "https://www.quantamagazine.org/a-new-link-to-an-old-model-could-crack-the-mystery-of-deep-learning-20211011/",
    "https://www.nature.com/articles/s42256-020-0164-7",
    "https://www.youtube.com/watch?v=y57wwucbXR8",
    "https://www.youtube.com/watch?v=RJwPN4qNi_Y",
    "https://tvm.apache.org/",
    "https://medium.com/@hackerm0m/ursula-le-guin-and-machine-learning-303e4e327b73",
}  # fmt: skip


@pytest.fixture(scope="module")
def seed() -> dict[str, Any]:
    return parse_page(SEED.read_text(encoding="utf-8"))


def week(data: dict[str, Any], number: int) -> dict[str, Any]:
    return next(w for w in data["weeks"] if w["week"] == number)


# -- the seed page ----------------------------------------------------------------------------
def test_seed_page_has_exactly_the_17_urls(seed: dict[str, Any]) -> None:
    cur = loads(dump(seed, "# test"))
    urls = [r.url for r in cur.readings() if r.url]
    assert len(urls) == 17
    assert set(urls) == SEED_URLS
    assert cur.warnings == []


def test_seed_page_weeks_prompts_and_comments(seed: dict[str, Any]) -> None:
    assert [w["week"] for w in seed["weeks"]] == list(range(1, 10))
    assert week(seed, 1)["comments"] == [
        {
            "author": "Venkat",
            "text": "ML Perf is more like SATs or GRE than like traditional hardware "
            "benchmarking, which is more like EEGs or fMRI",
        }
    ]
    assert week(seed, 1)["readings"][0]["title"] == "ML Perf paper"
    assert week(seed, 2)["prompt"] == "What would good 2x2 axes for this taxonomy be?"
    assert week(seed, 3)["title"] == "Transformers"
    assert [r["title"] for r in week(seed, 3)["readings"]] == [
        "less-technical explainer",
        "more-technical explainer",
        "Attention is all you need",
    ]
    assert week(seed, 3)["readings"][2]["note"] == (
        "The original paper, Attention is all you need is really hard..."
    )
    assert week(seed, 4)["readings"][0]["kind"] == "tool"
    assert week(seed, 6)["prompt"].startswith("Read and comment on this article from 2021")
    assert week(seed, 6)["readings"][0]["title"] == "AI is learning how to create itself"
    assert "Wolfram Mathworld" in week(seed, 7)["prompt"]
    assert week(seed, 8)["prompt"] == (
        "Comment on this article on AI art by Holly Herndon and Mat Dryhurst"
    )
    assert week(seed, 9)["prompt"] == (
        "First read Harry Frankfurt's classic article On Bullshit, then read Robin Sloan's "
        "article Notes on a Genre and answer the question: Is AI a bullshit engine?"
    )
    assert [r["kind"] for r in week(seed, 9)["readings"]] == ["pdf", "article"]


def test_seed_page_items_without_url(seed: dict[str, Any]) -> None:
    cur = loads(dump(seed, "# test"))
    untitled = {r.title: (r.week, r.week_title, r.note) for r in cur.readings() if not r.url}
    assert untitled == {
        "browser-based model training wizard": (5, None, None),
        "Google Colab": (None, "Hands on 1", None),
        "Install PyTorch": (
            None,
            "Hands on 2",
            "For technical people: Install PyTorch (Python/Anaconda first if necessary)",
        ),
        "Find and use an AI-based image-manipulation tool": (
            None,
            "Hands on 2",
            "For non-technical people: Find and use an AI-based image-manipulation tool",
        ),
    }
    assert week(seed, 5)["prompt"].endswith("to recognize a voice phrase or object (via Anuraj)")


def test_seed_page_backlog_and_response(seed: dict[str, Any]) -> None:
    titles = [item.get("title") or item.get("group") for item in seed["backlog"]]
    assert titles == [
        None,  # a bare URL: the ledger will know its page title
        "Hands on 1",
        "Hands on 2",
        "Latent spaces",
        "Software 2.0",
        "Dall-e 2 and PaLM video",
        "TVM",
        "Response",
    ]
    response = seed["backlog"][-1]
    assert response["comments"][0]["text"].startswith("I was most impressed by the mapping")
    assert response["comments"][0]["text"].endswith("position and layer )")
    assert response["readings"][0]["url"].startswith("https://medium.com/@hackerm0m/")
    assert seed["description"] == (
        "Page for the #ai-workshop channel on Discord\n"
        "We read a paper/article or do a small learning task every week. "
        "New readings and prompts are posted on Tuesdays."
    )


def test_nothing_on_the_page_is_lost(seed: dict[str, Any]) -> None:
    """Every word of the page (markers aside) appears in the YAML."""

    def strings(value: Any) -> list[str]:
        if isinstance(value, dict):
            return [s for v in value.values() for s in strings(v)]
        if isinstance(value, list):
            return [s for v in value for s in strings(v)]
        return [str(value)]

    kept = set(re.findall(r"[\w'-]+", " ".join(strings(loads(dump(seed, "")).data)).lower()))
    page = SEED.read_text(encoding="utf-8")
    page = re.sub(r"https?://\S+?(?=[)\s,]|$)", " ", page)  # URLs are compared above
    page = re.sub(r"Week \d+:|Prompt:|Backlog/hopper", " ", page)
    missing = set(re.findall(r"[\w'-]+", page.lower())) - kept
    assert missing == set()


def test_import_is_deterministic() -> None:
    text = SEED.read_text(encoding="utf-8")
    assert dump(parse_page(text), "") == dump(parse_page(text), "")


def test_other_page_shapes() -> None:
    data = parse_page(
        """\
# Reading group

Intro paragraph.

- Week 1: Latent spaces https://www.nature.com/articles/s42256-020-0164-7
    - Prompt: First question?
    - Prompt: Second question?
    - Mary Ann: a comment by two-word author
    - See also [the video](https://youtu.be/abc123) and [the slides](https://example.org/s.pdf)
- Week 2: Embeddings
    - https://example.org/embeddings
"""
    )
    assert data["title"] == "Reading group"
    assert data["description"] == "Intro paragraph."
    first = week(data, 1)
    assert first["prompt"] == "First question?\nSecond question?"
    assert first["comments"] == [{"author": "Mary Ann", "text": "a comment by two-word author"}]
    assert [(r["title"], r["kind"]) for r in first["readings"]] == [
        ("Latent spaces", "article"),
        ("the video", "youtube"),
        ("the slides", "pdf"),
    ]
    assert first["readings"][1]["note"] == "See also the video and the slides"
    assert week(data, 2)["title"] == "Embeddings"
    assert week(data, 2)["readings"] == [
        {"id": "example-embeddings", "url": "https://example.org/embeddings", "kind": "article"}
    ]
    text = dump(data, "")
    assert "prompt: |-\n      First question?\n      Second question?\n" in text
    assert loads(text).week(1) is not None


# -- merging into a file a person keeps -------------------------------------------------------
def _write_seed_file(tmp_path: Path) -> Path:
    output = tmp_path / "readings.yaml"
    result = import_page(SEED, output)
    assert result.created and result.written
    return output


HAND_EDITS = [
    # (what the importer wrote, what the person made of it)
    ("        title: ML Perf paper\n", "        title: MLPerf Inference Benchmark\n"),
    ("      - id: taxonomy-of-nns\n", "      - id: nn-zoo\n"),
    (  # a moved link: the person fixed the URL; the id still ties it to the page
        "https://towardsdatascience.com/intuitively-understanding-convolutions-for-deep-learning-1f6f42faee1",
        "https://medium.com/data-science/intuitively-understanding-convolutions-for-deep-learning-1f6f42faee1",
    ),
    ("  - week: 1\n", "  - week: 1\n    posted: '2022-03-01'\n    title: Benchmarks\n"),
    (
        "    prompt: What would good 2x2 axes for this taxonomy be?\n",
        "    prompt: What would good 2x2 axes be? Bring a sketch.\n",
    ),
    (
        "        kind: arxiv\n\n  - week: 2\n",
        "        kind: arxiv\n        note: the inference paper\n"
        "      - id: mlperf-site\n        title: MLCommons\n        url: https://mlcommons.org/\n"
        "        kind: article\n\n  - week: 2\n",
    ),
    ("        title: Google Colab\n", "        title: Google Colab (free GPU)\n"),
]


def _hand_edit(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    for before, after in HAND_EDITS:
        assert before in text, before
        text = text.replace(before, after)
    path.write_text(text, encoding="utf-8")
    loads(text)  # still valid
    return text


def test_reimport_keeps_hand_edits_and_reports_no_change(tmp_path: Path) -> None:
    output = _write_seed_file(tmp_path)
    edited = _hand_edit(output)
    result = import_page(SEED, output, write=True)
    assert not result.changed and not result.written
    assert output.read_text(encoding="utf-8") == edited
    (note,) = result.notes  # the moved link is said out loud, not silently matched
    assert "taken as reading '2d-convolution-tutorial'" in note
    assert "keeping the file's URL" in note


def test_same_id_for_a_new_link_is_not_swallowed(tmp_path: Path) -> None:
    """A new page link whose derived id is taken by a reading still on the page is added."""
    output = _write_seed_file(tmp_path)
    page = tmp_path / "page.md"
    page.write_text(SEED.read_text("utf-8") + "- Week 10: [TVM](https://tvm.ai/)\n", "utf-8")
    result = import_page(page, output, write=True)
    assert result.notes == []
    by_id = curriculum.load(output).by_id()
    assert (by_id["tvm"].url, by_id["tvm-2"].url) == ("https://tvm.apache.org/", "https://tvm.ai/")


def test_merge_adds_what_the_page_gained(tmp_path: Path) -> None:
    output = _write_seed_file(tmp_path)
    edited = _hand_edit(output)
    page = tmp_path / "page.md"
    seed = SEED.read_text(encoding="utf-8")
    page.write_text(
        seed.replace(
            "- Week 9:",
            "- Week 10: [Scaling laws](https://arxiv.org/abs/2001.08361)\n"
            "    - Prompt: Do they still hold?\n- Week 9:",
        ).replace(
            "    - TVM https://tvm.apache.org/\n",
            "    - TVM https://tvm.apache.org/\n    - Colab https://colab.research.google.com/\n",
        ),
        encoding="utf-8",
    )
    result = import_page(page, output, write=False)
    assert result.changed and not result.written
    assert output.read_text(encoding="utf-8") == edited  # untouched without --write
    diff = result.diff()
    added = [ln[1:] for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("++")]
    removed = [ln for ln in diff.splitlines() if ln.startswith("-") and not ln.startswith("--")]
    assert removed == []  # merging only adds
    assert "  - week: 10" in added
    assert "      - id: arxiv-2001-08361" in added
    assert "    prompt: Do they still hold?" in added
    assert "    url: https://colab.research.google.com/" in added

    result = import_page(page, output, write=True)
    assert result.written
    cur = curriculum.load(output)
    assert [w.number for w in cur.weeks] == list(range(1, 11))  # the new week in order
    by_id = cur.by_id()
    for hand in ("nn-zoo", "mlperf-site"):
        assert hand in by_id
    assert "taxonomy-of-nns" not in by_id
    assert by_id["arxiv-1910-01500"].title == "MLPerf Inference Benchmark"
    assert by_id["arxiv-1910-01500"].note == "the inference paper"
    assert by_id["2d-convolution-tutorial"].url.startswith("https://medium.com/data-science/")
    assert by_id["google-colab"].title == "Google Colab (free GPU)"
    first = cur.week(1)
    assert first is not None and (first.title, str(first.posted)) == ("Benchmarks", "2022-03-01")
    assert cur.week(2).prompt == "What would good 2x2 axes be? Bring a sketch."  # type: ignore[union-attr]
    assert len([r for r in cur.readings() if r.url]) == 17 + 1 + 2  # seed + hand + page


def test_committed_readings_yaml_round_trips() -> None:
    """The committed file is the seed page imported, then kept by hand: re-import is a no-op."""
    result = import_page(SEED, REPO / "readings.yaml", write=False)
    assert not result.changed, result.diff()


# -- writing safely ---------------------------------------------------------------------------
def test_writes_replace_the_file_atomically(tmp_path: Path) -> None:
    output = _write_seed_file(tmp_path)
    output.write_text(output.read_text(encoding="utf-8").replace("    title: TVM\n", ""), "utf-8")
    os.chmod(output, 0o600)
    snapshot = tmp_path / "old-link.yaml"
    os.link(output, snapshot)  # a second name for the old inode
    before = snapshot.read_text(encoding="utf-8")
    result = import_page(SEED, output, write=True)
    assert result.written
    assert "title: TVM\n" in output.read_text(encoding="utf-8")
    assert snapshot.read_text(encoding="utf-8") == before  # old inode never written in place
    assert output.stat().st_ino != snapshot.stat().st_ino
    assert output.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old-link.yaml", "readings.yaml"]


def test_invalid_existing_file_is_reported_and_kept(tmp_path: Path) -> None:
    output = tmp_path / "readings.yaml"
    output.write_text("weeks:\n  - week: 1\n    readings:\n      - url: htps://x\n", "utf-8")
    with pytest.raises(CurriculumError) as caught:
        import_page(SEED, output, write=True)
    assert str(caught.value).startswith(f"{output}:4:14: weeks[0].readings[0].url:")
    assert "htps://x" in output.read_text(encoding="utf-8")


def test_page_without_weeks(tmp_path: Path) -> None:
    page = tmp_path / "notes.md"
    page.write_text("- shopping list\n- milk\n", encoding="utf-8")
    with pytest.raises(PageError, match=r"no 'Week N: \.\.\.' bullets"):
        import_page(page, tmp_path / "readings.yaml")
    assert not (tmp_path / "readings.yaml").exists()


def test_header_and_inner_comments_kept(tmp_path: Path) -> None:
    output = _write_seed_file(tmp_path)
    text = output.read_text(encoding="utf-8")
    text = "# Kept by the organizers.\n" + text.replace(
        "  - week: 2\n", "  # week 2 was moved once\n  - week: 2\n"
    ).replace("    title: TVM\n", "")
    output.write_text(text, encoding="utf-8")
    result = import_page(SEED, output, write=False)
    assert result.changed
    assert result.new_text.startswith("# Kept by the organizers.\n# yaml-language-server:")
    assert "kind: arxiv\n\n  # week 2 was moved once\n  - week: 2\n" in result.new_text
    assert result.rewritten == []


# -- comments and layout survive: the file is edited, not rewritten ----------------------------
ANNOTATED = """\
# yaml-language-server: $schema=./linkkeeper/readings.schema.json
# Kept by the organizers: comments anywhere survive an import.
title: Reading group  # the group's name

weeks:
  # week 1 came from the page
  - week: 1
    prompt: First question?
    readings:
      # the paper everyone asked for
      - id: latent-spaces
        title: Latent spaces
        url: https://www.nature.com/articles/s42256-020-0164-7  # moved once
        kind: article

  # week 2 is about embeddings
  - week: 2
    title: Embeddings
    readings:
      - id: example-embeddings
        url: https://example.org/embeddings
        kind: article

# the hopper
backlog:
  # someday
  - id: tvm
    title: TVM  # compiler
    url: https://tvm.apache.org/
    kind: article
# end of file
"""
ANNOTATED_PAGE = """\
# Reading group

- Week 1: Latent spaces https://www.nature.com/articles/s42256-020-0164-7
    - Prompt: First question?
    - Mary Ann: a comment on week one
    - See also [the video](https://youtu.be/abc123)
- Week 2: Embeddings
    - https://example.org/embeddings
- Week 3: [Scaling laws](https://arxiv.org/abs/2001.08361)
- Backlog
    - TVM https://tvm.apache.org/
    - Colab https://colab.research.google.com/
"""
# ANNOTATED with what the page adds: a comment and a reading in week 1, week 3, a backlog item
ANNOTATED_IMPORTED = """\
# yaml-language-server: $schema=./linkkeeper/readings.schema.json
# Kept by the organizers: comments anywhere survive an import.
title: Reading group  # the group's name

weeks:
  # week 1 came from the page
  - week: 1
    prompt: First question?
    comments:
      - author: Mary Ann
        text: a comment on week one
    readings:
      # the paper everyone asked for
      - id: latent-spaces
        title: Latent spaces
        url: https://www.nature.com/articles/s42256-020-0164-7  # moved once
        kind: article
      - id: the-video
        title: the video
        url: https://youtu.be/abc123
        kind: youtube
        note: See also the video

  # week 2 is about embeddings
  - week: 2
    title: Embeddings
    readings:
      - id: example-embeddings
        url: https://example.org/embeddings
        kind: article

  - week: 3
    readings:
      - id: arxiv-2001-08361
        title: Scaling laws
        url: https://arxiv.org/abs/2001.08361
        kind: arxiv

# the hopper
backlog:
  # someday
  - id: tvm
    title: TVM  # compiler
    url: https://tvm.apache.org/
    kind: article
  - id: colab
    title: Colab
    url: https://colab.research.google.com/
    kind: tool
# end of file
"""


def test_comments_everywhere_stay_in_place(tmp_path: Path) -> None:
    output = tmp_path / "readings.yaml"
    output.write_text(ANNOTATED, encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(ANNOTATED_PAGE, encoding="utf-8")
    result = import_page(page, output, write=True)
    assert result.written and result.rewritten == [] and result.notes == []
    assert output.read_text(encoding="utf-8") == ANNOTATED_IMPORTED
    cur = curriculum.load(output)  # the loader (PyYAML) reads the edited file
    assert [w.number for w in cur.weeks] == [1, 2, 3]
    assert cur.week(1).comments[0].author == "Mary Ann"  # type: ignore[union-attr]
    assert {"the-video", "arxiv-2001-08361", "colab"} <= set(cur.by_id())


def test_import_twice_leaves_the_bytes_alone(tmp_path: Path) -> None:
    output = tmp_path / "readings.yaml"
    output.write_text(ANNOTATED, encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(ANNOTATED_PAGE, encoding="utf-8")
    assert import_page(page, output, write=True).written
    written = output.read_bytes()
    again = import_page(page, output, write=True)
    assert not again.changed and not again.written
    assert output.read_bytes() == written


def test_new_items_get_todays_layout(tmp_path: Path) -> None:
    """Take a week, a backlog group and a title out of an imported file: re-import restores
    the very bytes the first import wrote (blank lines, key order, quoting, literal blocks)."""
    output = _write_seed_file(tmp_path)
    full = output.read_text(encoding="utf-8")
    week3 = full[full.index("  - week: 3\n") : full.index("  - week: 4\n")]
    response = full[full.index("  - group: Response\n") :]
    assert "description: |-" in full and response.count("\n") > 3
    output.write_text(
        full.replace(week3, "").replace(response, "").replace("    title: TVM\n", ""), "utf-8"
    )
    result = import_page(SEED, output, write=True)
    assert result.written and result.rewritten == []
    assert output.read_text(encoding="utf-8") == full


UNUSUAL = """\
# a comment before the document start
---
weeks:
- week: 1
  title: a title wrapped
    over two lines
  readings: [{url: "https://example.org/a"}]   \n\
- week: 2
  readings:
  - title: b
    url: https://example.org/b  # kept
...
# after the document end
"""


def test_unusual_layout_kept_or_named(tmp_path: Path) -> None:
    """Nothing to add: not a byte changes. Something to add: the lines ruamel cannot carry as
    written are named; the document markers and the comments around them stay."""
    output = tmp_path / "readings.yaml"
    output.write_text("# yaml-language-server: x\n" + UNUSUAL, encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text("- Week 2: [b](https://example.org/b)\n", encoding="utf-8")
    before = output.read_bytes()
    result = import_page(page, output, write=True)
    assert not result.changed and not result.written and output.read_bytes() == before

    page.write_text("- Week 2: [b](https://example.org/b) [c](https://example.org/c)\n", "utf-8")
    result = import_page(page, output, write=True)
    text = output.read_text(encoding="utf-8")
    assert text.startswith(
        "# yaml-language-server: x\n# a comment before the document start\n---\n"
    )
    assert text.endswith("    kind: article\n...\n# after the document end\n")
    assert "    url: https://example.org/b  # kept\n  - id: c\n" in text  # file indentation
    assert [n for n, _ in result.rewritten] == [6, 7, 8]  # the wrapped title, the flow list
    assert curriculum.load(output).by_id()["c"].week == 2
