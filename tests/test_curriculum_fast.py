"""The fast reading check that spares jsonschema most of a big readings.yaml: it accepts a
reading only when the schema does, and the problems a file gets are the same either way."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from linkkeeper.curriculum import readings as curriculum
from linkkeeper.curriculum.readings import CurriculumError, loads

GOOD = {"id": "attention-2017", "title": "Attention", "url": "https://arxiv.org/abs/1706.03762",
        "kind": "arxiv", "note": "The original paper"}  # fmt: skip
ITEMS: list[Any] = [
    GOOD,
    {"url": "https://example.org/a"},
    {"title": "Install PyTorch"},
    {**GOOD, "id": "Attention"},
    {**GOOD, "id": "attention\n"},  # `$` matches before a final newline, as in jsonschema
    {**GOOD, "id": "a--b"},
    {**GOOD, "title": ""},
    {**GOOD, "note": ""},
    {**GOOD, "url": "https://example.org/a b"},
    {**GOOD, "url": "ftp://example.org/a"},
    {**GOOD, "url": "https://"},
    {**GOOD, "kind": "blog"},
    {**GOOD, "kind": 3},
    {**GOOD, "kind": None},
    {**GOOD, "title": 3},
    {**GOOD, "url": None},
    {**GOOD, "note": ["a"]},
    {**GOOD, "link": "https://example.org"},
    {"id": "only-an-id"},
    {},
    [],
    "https://example.org/a",
    None,
]


def reading_validator() -> Draft202012Validator:
    schema = curriculum.schema()
    return Draft202012Validator({"$defs": schema["$defs"], "$ref": "#/$defs/reading"})


@pytest.mark.parametrize("item", ITEMS, ids=[repr(i)[:40] for i in ITEMS])
def test_the_fast_check_accepts_exactly_what_the_schema_accepts(item: Any) -> None:
    rules = curriculum._reading_rules()
    assert rules is not None  # the shipped schema is one the fast check understands
    schema_says = not list(reading_validator().iter_errors(item))
    assert rules.accepts(item) == schema_says


DOCUMENT = """\
weeks:
  - week: 1
    readings:
      - url: https://example.org/one
      - id: Bad-Id
        url: https://example.org/two
      - title: Fine
      - titel: Misspelt
  - week: 0
    readings:
      - url: htps://example.org/three
      - url: https://example.org/four
        kind: blog
backlog:
  - url: https://example.org/five
  - title: ""
  - group: Hands on
    readings:
      - url: https://example.org/six
      - note: no url or title
"""


def problems(text: str) -> list[str]:
    try:
        loads(text)
    except CurriculumError as exc:
        return [str(p) for p in exc.problems]
    return []


def test_a_file_gets_the_same_problems_at_the_same_places_either_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast = problems(DOCUMENT)
    monkeypatch.setattr(curriculum, "_reading_rules", lambda: None)  # jsonschema for all
    slow = problems(DOCUMENT)
    assert fast == slow
    assert len(fast) >= 7 and any(":4:" in p or ":5:" in p for p in fast)  # located
