"""The curriculum loader: the data it gives, the ids it derives, the errors it locates."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from linkkeeper.core.models import Reading
from linkkeeper.curriculum.readings import (
    Curriculum,
    CurriculumError,
    Group,
    Problem,
    derive_id,
    derive_kind,
    load,
    loads,
)

REPO = Path(__file__).resolve().parents[1]


def problems_of(text: str) -> list[Problem]:
    with pytest.raises(CurriculumError) as caught:
        loads(text)
    return caught.value.problems


def only(text: str) -> Problem:
    found = problems_of(text)
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


# -- what a valid file gives ------------------------------------------------------------------
def test_minimal_form() -> None:
    cur = loads("weeks: [{week: 1, readings: [{url: 'https://arxiv.org/abs/1706.03762'}]}]")
    assert cur.readings() == [
        Reading(
            id="arxiv-1706-03762",
            title=None,
            url="https://arxiv.org/abs/1706.03762",
            kind="arxiv",
            week=1,
            line=1,
        )
    ]
    assert cur.warnings == []


def test_full_features() -> None:
    cur = loads(
        """\
title: Reading group
description: |
  Two lines
  of intro.
weeks:
  - week: 2
    title: Transformers
    posted: 2024-01-09
    prompt: Read one.
    comments:
      - author: Venkat
        text: Hard but worth it.
    readings:
      - title: Attention is all you need
        url: https://arxiv.org/abs/1706.03762
        note: the original paper
      - id: my-own-id
        url: https://example.org/post
        kind: tool
backlog:
  - url: https://www.youtube.com/watch?v=y57wwucbXR8
  - group: Hands on 1
    readings:
      - title: Google Colab
"""
    )
    assert cur.title == "Reading group"
    assert cur.description == "Two lines\nof intro.\n"
    week = cur.week(2)
    assert week is not None
    assert (week.title, week.posted, week.prompt) == ("Transformers", date(2024, 1, 9), "Read one.")
    assert week.comments[0].author == "Venkat"
    first, second = week.readings
    assert (first.id, first.kind, first.note, first.assigned) == (
        "arxiv-1706-03762",
        "arxiv",
        "the original paper",
        date(2024, 1, 9),
    )
    assert (first.week, first.week_title, first.line) == (2, "Transformers", 14)
    assert (second.id, second.kind) == ("my-own-id", "tool")  # written kind wins
    video, colab = cur.backlog_readings()
    assert (video.id, video.kind, video.week, video.week_title) == (
        "youtube-y57wwucbxr8",
        "youtube",
        None,
        None,
    )
    assert isinstance(cur.backlog[1], Group)
    assert (colab.id, colab.url, colab.week, colab.week_title) == (
        "google-colab",
        None,
        None,
        "Hands on 1",
    )
    assert [r.id for r in cur.readings()] == [
        "arxiv-1706-03762",
        "my-own-id",
        "youtube-y57wwucbxr8",
        "google-colab",
    ]


def test_committed_readings_yaml() -> None:
    cur = load(REPO / "readings.yaml")
    assert isinstance(cur, Curriculum)
    assert [w.number for w in cur.weeks] == list(range(1, 10))
    readings = cur.readings()
    assert len({r.url for r in readings if r.url}) == 17
    assert len({r.id for r in readings}) == len(readings)
    assert {r.title for r in readings if r.url is None} == {
        "browser-based model training wizard",
        "Google Colab",
        "Install PyTorch",
        "Find and use an AI-based image-manipulation tool",
    }
    assert all(r.week is None for r in cur.backlog_readings())
    assert cur.warnings == []


# -- ids and kinds ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("title", "url", "expected"),
    [
        ("ML Perf paper", "https://arxiv.org/pdf/1910.01500.pdf", "arxiv-1910-01500"),
        (None, "https://arxiv.org/abs/1706.03762v5", "arxiv-1706-03762"),
        ("Taxonomy of NNs", "https://towardsdatascience.com/x-3fb6f2367464", "taxonomy-of-nns"),
        ("Déjà vu: «AI»!", None, "deja-vu-ai"),
        (None, "https://www.youtube.com/watch?v=y57wwucbXR8", "youtube-y57wwucbxr8"),
        (None, "https://youtu.be/RJwPN4qNi_Y", "youtube-rjwpn4qni-y"),
        (
            None,
            "http://www2.csudh.edu/ccauthen/576f12/frankfurt__harry_-_on_bullshit.pdf",
            "csudh-frankfurt-harry-on-bullshit",
        ),
        (
            None,
            "https://medium.com/@hackerm0m/ursula-le-guin-and-machine-learning-303e4e327b73",
            "medium-ursula-le-guin-and-machine-learning",
        ),
        (
            None,
            "https://mirror.xyz/herndondryhurst.eth/eZG6mucl9fqU897XvJs0vUUMnm5OITpSWN8S-6KWamY",
            "mirror-herndondryhurst-eth",
        ),
        (None, "https://tvm.apache.org/", "tvm-apache"),
        ("!!!", None, "reading"),
    ],
)
def test_derive_id(title: str | None, url: str | None, expected: str) -> None:
    assert derive_id(title, url) == expected


def test_derived_ids_are_unique_and_explicit_ids_win() -> None:
    cur = loads(
        """\
weeks:
  - week: 1
    readings:
      - title: Same
      - title: Same
      - url: https://example.org/b
        id: same-3
      - title: Same
"""
    )
    assert [r.id for r in cur.readings()] == ["same", "same-2", "same-3", "same-4"]


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://arxiv.org/pdf/1910.01500.pdf", "arxiv"),
        ("http://www2.csudh.edu/x/on_bullshit.pdf", "pdf"),
        ("https://www.youtube.com/watch?v=y57wwucbXR8", "youtube"),
        ("https://medium.com/@hackerm0m/ursula", "medium"),
        ("https://someone.medium.com/post", "medium"),
        ("https://mirror.xyz/herndondryhurst.eth/abc", "mirror"),
        ("https://playground.tensorflow.org/", "tool"),
        ("https://www.nature.com/articles/s42256-020-0164-7", "article"),
        (None, None),
    ],
)
def test_derive_kind(url: str | None, kind: str | None) -> None:
    assert derive_kind(url) == kind


# -- located errors ---------------------------------------------------------------------------
def test_problem_format_matches_the_documented_shape() -> None:
    text = "weeks:\n  - week: 1\n    readings:\n      - url: htps://x\n"
    problem = only(text)
    assert str(problem) == (
        "readings.yaml:4:14: weeks[0].readings[0].url: 'htps://x' is not an http(s) URL; "
        "write it as https://x"
    )
    assert (problem.line, problem.column, problem.severity) == (4, 14, "error")


@pytest.mark.parametrize(
    ("text", "line", "column", "path", "words"),
    [
        (  # YAML syntax: a tab
            "weeks:\n  - week: 1\n\treadings: []\n",
            3,
            1,
            "",
            ["YAML syntax error", "tabs"],
        ),
        (  # YAML syntax: unquoted ': '
            "weeks:\n  - week: 1\n    title: Foo: bar\n",
            3,
            15,
            "",
            ["YAML syntax error", "quote"],
        ),
        (  # unknown key, with did-you-mean
            "weeks:\n  - week: 1\n    readings:\n      - url: https://a.org\n        titel: T\n",
            5,
            9,
            "weeks[0].readings[0].titel",
            ["unknown key 'titel'", "did you mean 'title'?"],
        ),
        (  # synonym did-you-mean
            "weeks:\n  - week: 1\n    readings:\n      - link: https://a.org\n",
            4,
            9,
            "weeks[0].readings[0].link",
            ["did you mean 'url'?"],
        ),
        (  # non-http scheme
            "weeks:\n- week: 1\n  readings:\n  - url: ftp://files.org/a.pdf\n",
            4,
            10,
            "weeks[0].readings[0].url",
            ["ftp://", "only http(s)"],
        ),
        (  # no scheme
            "weeks:\n- week: 1\n  readings:\n  - url: www.example.org/a\n",
            4,
            10,
            "weeks[0].readings[0].url",
            ["has no scheme", "https://www.example.org/a"],
        ),
        (  # space in URL
            "weeks:\n- week: 1\n  readings:\n  - url: https://example.org/a b\n",
            4,
            10,
            "weeks[0].readings[0].url",
            ["contains a space", "%20"],
        ),
        (  # missing host
            "weeks:\n- week: 1\n  readings:\n  - url: https:///path\n",
            4,
            10,
            "weeks[0].readings[0].url",
            ["no host name"],
        ),
        (  # wrong type: text for a number
            "weeks:\n- week: two\n",
            2,
            9,
            "weeks[0].week",
            ["'two'", "whole number", "week: 3"],
        ),
        (  # wrong type: YAML boolean for a title
            "weeks:\n- week: 1\n  readings:\n  - title: no\n",
            4,
            12,
            "weeks[0].readings[0].title",
            ["boolean false", 'quote it: title: "no"'],
        ),
        (  # a bare URL instead of a reading mapping
            "weeks:\n- week: 1\n  readings:\n  - https://a.org\n",
            4,
            5,
            "weeks[0].readings[0]",
            ["- url: https://a.org"],
        ),
        (  # a date that does not exist
            "weeks:\n- week: 1\n  posted: 2024-13-01\n",
            3,
            11,
            "weeks[0].posted",
            ["YYYY-MM-DD"],
        ),
        (  # unknown kind
            "weeks:\n- week: 1\n  readings:\n  - {url: 'https://a.org', kind: artcle}\n",
            4,
            34,
            "weeks[0].readings[0].kind",
            ["did you mean 'article'?"],
        ),
        (  # id not a slug
            "weeks:\n- week: 1\n  readings:\n  - {url: 'https://a.org', id: My Id}\n",
            4,
            32,
            "weeks[0].readings[0].id",
            ["not a valid id", "my-id"],
        ),
        (  # neither url nor title
            "weeks:\n- week: 1\n  readings:\n  - note: hello\n",
            4,
            5,
            "weeks[0].readings[0]",
            ["neither `url:` nor `title:`"],
        ),
        (  # week without number
            "weeks:\n- title: T\n",
            2,
            3,
            "weeks[0]",
            ["add `week: N`"],
        ),
        (  # a key twice
            "weeks:\n- week: 1\n  week: 2\n",
            3,
            3,
            "weeks[0].week",
            ["appears twice"],
        ),
        ("", 1, 1, "", ["the file is empty"]),  # empty file
        ("# nothing but a comment\n", 1, 1, "", ["the file is empty"]),
        ("- week: 1\n", 1, 1, "", ["top level is a list", "weeks:"]),
    ],
)
def test_each_error_is_located(
    text: str, line: int, column: int, path: str, words: list[str]
) -> None:
    problem = only(text)
    assert (problem.line, problem.column, problem.path) == (line, column, path), str(problem)
    for word in words:
        assert word in problem.message, str(problem)


def test_duplicate_ids_are_errors_naming_the_first() -> None:
    problem = only(
        "weeks:\n- week: 1\n  readings:\n  - {id: a, url: 'https://a.org'}\n"
        "  - {id: a, url: 'https://b.org'}\n"
    )
    assert (problem.line, problem.path) == (5, "weeks[0].readings[1].id")
    assert "already used by weeks[0].readings[0] (line 4)" in problem.message


def test_duplicate_weeks_are_errors() -> None:
    problem = only("weeks:\n- week: 1\n- week: 1\n")
    assert (problem.line, problem.path) == (3, "weeks[1].week")


def test_duplicate_urls_are_warnings() -> None:
    cur = loads(
        "weeks:\n- week: 1\n  readings:\n  - url: https://a.org/x\n"
        "backlog:\n  - url: https://A.ORG/x/\n"
    )
    (warning,) = cur.warnings
    assert (warning.severity, warning.line, warning.path) == ("warning", 6, "backlog[0].url")
    assert str(warning).startswith("readings.yaml:6:10: warning: backlog[0].url: same URL as")
    assert len(cur.readings()) == 2


def test_all_errors_at_once_in_line_order() -> None:
    found = problems_of(
        """\
weeks:
  - week: 1
    posted: yesterday
    readings:
      - url: htps://a.org
        titel: A
      - url: https://b.org/a b
  - week: 0
backlog:
  - group: Hands on
    reading: []
"""
    )
    assert [(p.line, p.path) for p in found] == [
        (3, "weeks[0].posted"),
        (5, "weeks[0].readings[0].url"),
        (6, "weeks[0].readings[0].titel"),
        (7, "weeks[0].readings[1].url"),
        (8, "weeks[1].week"),
        (11, "backlog[0].reading"),
    ]
    assert "did you mean 'readings'?" in found[-1].message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CurriculumError) as caught:
        load(tmp_path / "nope.yaml")
    assert str(caught.value) == (
        f"{tmp_path / 'nope.yaml'}: no such file; create it with `linkkeeper import PAGE.md` "
        "or pass --readings PATH"
    )


def test_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "my.yaml"
    path.write_text("weeks:\n- week: 1\n  readings:\n  - url: https:///x\n", encoding="utf-8")
    with pytest.raises(CurriculumError) as caught:
        load(path)
    assert str(caught.value).startswith(f"{path}:4:10: weeks[0].readings[0].url: ")


def test_libyaml_and_pure_python_loaders_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast loader must place every reading, warning and error where the pure one does."""
    import yaml

    from linkkeeper.curriculum import readings as curriculum

    text = (REPO / "readings.yaml").read_text(encoding="utf-8")
    schema_error = text.replace("url: https://", "url: htps://", 1)
    syntax_error = text + "\nbacklog:\n  - note: [unclosed\n"

    def outcome(loader: object) -> tuple[object, ...]:
        monkeypatch.setattr(curriculum, "FAST_LOADER", loader)
        loaded = curriculum.loads(text)
        errors = []
        for broken in (schema_error, syntax_error):
            with pytest.raises(CurriculumError) as caught:
                curriculum.loads(broken)
            errors.append(str(caught.value))
        return [(r.id, r.line, r.week) for r in loaded.readings()], loaded.warnings, errors

    assert getattr(yaml, "CSafeLoader", None) is not None  # the venv's PyYAML has libyaml
    assert outcome(yaml.CSafeLoader) == outcome(yaml.SafeLoader)
