"""The published schema and the loader agree: what one accepts the other accepts.

The independent side is ``check-jsonschema`` (the validator editors and CI use), run once on
all sample files; the loader must give the same verdict for each.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from linkkeeper.curriculum.readings import KINDS, CurriculumError, load, schema

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "linkkeeper" / "readings.schema.json"
CHECK_JSONSCHEMA = Path(sys.executable).with_name("check-jsonschema")

VALID = {
    "minimal": "weeks: [{week: 1, readings: [{url: 'https://arxiv.org/abs/1706.03762'}]}]\n",
    "no-readings": "weeks:\n  - week: 1\n    prompt: Think about it.\n",
    "full": """\
title: Group
description: Intro.
weeks:
  - week: 1
    title: Transformers
    posted: 2024-01-09
    prompt: Read one.
    comments:
      - author: Venkat
        text: Good one.
      - text: Anonymous remark.
    readings:
      - id: attention
        title: Attention is all you need
        url: https://arxiv.org/abs/1706.03762
        kind: arxiv
        note: hard
      - title: Install PyTorch
backlog:
  - url: https://tvm.apache.org/
  - group: Hands on 1
    note: try these
    comments:
      - text: fun
    readings:
      - title: Google Colab
  - group: Empty group
""",
}
INVALID = {
    "week-zero": "weeks:\n  - week: 0\n",
    "week-text": "weeks:\n  - week: two\n",
    "no-weeks": "title: Group\n",
    "unknown-key": "weeks:\n  - week: 1\n    readings:\n      - {url: 'https://a.org', titel: A}\n",
    "unknown-top-key": "weeks: []\nweekz: []\n",
    "bad-scheme": "weeks:\n  - week: 1\n    readings:\n      - url: htps://a.org\n",
    "space-in-url": "weeks:\n  - week: 1\n    readings:\n      - url: https://a.org/a b\n",
    "no-host": "weeks:\n  - week: 1\n    readings:\n      - url: https:///a\n",
    "bad-date": "weeks:\n  - week: 1\n    posted: 2024-13-01\n",
    "bad-kind": "weeks:\n  - week: 1\n    readings:\n      - {url: 'https://a.org', kind: blog}\n",
    "bad-id": "weeks:\n  - week: 1\n    readings:\n      - {url: 'https://a.org', id: A B}\n",
    "empty-reading": "weeks:\n  - week: 1\n    readings:\n      - note: hi\n",
    "comment-no-text": "weeks:\n  - week: 1\n    comments:\n      - author: Venkat\n",
    "group-bad-key": "weeks: []\nbacklog:\n  - group: G\n    items: []\n",
    "reading-as-text": "weeks:\n  - week: 1\n    readings:\n      - https://a.org\n",
}


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(json.loads(SCHEMA.read_text(encoding="utf-8")))
    assert schema()["$defs"]["reading"]["properties"]["kind"]["enum"] == list(KINDS)


def test_schema_ships_in_the_package() -> None:
    assert schema() == json.loads(SCHEMA.read_text(encoding="utf-8"))


def test_committed_file_points_editors_at_the_schema() -> None:
    first = (REPO / "readings.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=./linkkeeper/readings.schema.json"
    assert (REPO / "readings.yaml").parent.joinpath("linkkeeper/readings.schema.json").is_file()


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("samples")
    paths = {"committed": REPO / "readings.yaml"}
    for name, text in {**VALID, **INVALID}.items():
        paths[name] = folder / f"{name}.yaml"
        paths[name].write_text(text, encoding="utf-8")
    return paths


@pytest.fixture(scope="module")
def schema_failures(samples: dict[str, Path]) -> set[str]:
    """The sample names check-jsonschema rejects (one run for all of them)."""
    run = subprocess.run(
        [
            str(CHECK_JSONSCHEMA),
            "-o",
            "json",
            "--schemafile",
            str(SCHEMA),
            *map(str, samples.values()),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(run.stdout)
    assert report["parse_errors"] == []
    failed = {error["filename"] for error in report["errors"]}
    return {name for name, path in samples.items() if str(path) in failed}


@pytest.mark.parametrize("name", ["committed", *VALID])
def test_valid_files_pass_both(
    name: str, samples: dict[str, Path], schema_failures: set[str]
) -> None:
    load(samples[name])
    assert name not in schema_failures


@pytest.mark.parametrize("name", list(INVALID))
def test_invalid_files_fail_both(
    name: str, samples: dict[str, Path], schema_failures: set[str]
) -> None:
    with pytest.raises(CurriculumError) as caught:
        load(samples[name])
    assert all(p.line is not None for p in caught.value.errors)
    assert name in schema_failures
