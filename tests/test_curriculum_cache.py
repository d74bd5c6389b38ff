"""The curriculum cache: a load of bytes this code already validated returns exactly what a
full load returns, and anything else (other bytes, a damaged cache, an invalid file, no room
to write) costs a full load, never a wrong answer."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from linkkeeper.cli import cli
from linkkeeper.curriculum import CurriculumError, keep_pending, load, load_cached
from linkkeeper.curriculum.cache import CACHE_NAME

REPO = Path(__file__).resolve().parents[1]
RICH = """\
title: Cache test
description: |-
  Two weeks and a backlog.
weeks:
  - week: 1
    title: Transformers
    posted: 2024-01-09
    prompt: Read one
    comments:
      - author: Venkat
        text: The paper is hard.
    readings:
      - id: attention
        title: Attention is all you need
        url: https://arxiv.org/abs/1706.03762
        note: The original
      - title: Illustrated
        url: https://jalammar.github.io/illustrated-transformer/
  - week: 2
    readings:
      - title: Same again
        url: https://arxiv.org/abs/1706.03762
      - title: Discuss
        kind: task
backlog:
  - title: A loose one
    url: https://example.org/loose.pdf
  - group: Hands on 1
    note: Try it
    comments:
      - text: Bring a laptop
    readings:
      - url: https://colab.research.google.com/drive/abc
"""


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    readings = tmp_path / "readings.yaml"
    readings.write_text(RICH, encoding="utf-8")
    snapshots = tmp_path / "snapshots"
    snapshots.mkdir()
    return readings, snapshots


def test_a_cached_load_is_the_full_load(files: tuple[Path, Path]) -> None:
    readings, snapshots = files
    full = load(readings)
    assert full.warnings  # the repeated URL: warnings come back from the cache too
    first = load_cached(readings, snapshots)  # validates, then keeps the model
    assert (snapshots / CACHE_NAME).is_file()
    second = load_cached(readings, snapshots)  # rebuilt from the cache
    assert first == full and second == full
    assert second.readings() == full.readings()
    assert [str(w) for w in second.warnings] == [str(w) for w in full.warnings]


def test_the_repository_curriculum_round_trips(tmp_path: Path) -> None:
    readings = REPO / "readings.yaml"
    load_cached(readings, tmp_path)
    assert load_cached(readings, tmp_path) == load(readings)


def test_the_cache_is_used_and_not_a_full_load(files: tuple[Path, Path]) -> None:
    readings, snapshots = files
    load_cached(readings, snapshots)
    cache = snapshots / CACHE_NAME
    kept = orjson.loads(cache.read_bytes())
    kept["curriculum"]["title"] = "Title from the cache"  # same key: it is believed
    cache.write_bytes(orjson.dumps(kept))
    assert load_cached(readings, snapshots).title == "Title from the cache"


def test_other_bytes_are_loaded_afresh(files: tuple[Path, Path]) -> None:
    readings, snapshots = files
    load_cached(readings, snapshots)
    stat = readings.stat()
    changed = RICH.replace("Transformers", "Transformer")  # one byte shorter...
    readings.write_text(changed + " ", encoding="utf-8")  # ...and one longer: same size
    os.utime(readings, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same mtime
    assert readings.stat().st_size == stat.st_size
    assert load_cached(readings, snapshots).weeks[0].title == "Transformer"


@pytest.mark.parametrize(
    "damage",
    [b"", b"{", b"null", b"[]", b'{"key": 3}', b"\xff\xfe", None],
    ids=["empty", "cut", "null", "list", "wrong-key", "not-utf8", "shapes"],
)
def test_a_damaged_cache_costs_a_full_load(files: tuple[Path, Path], damage: bytes | None) -> None:
    readings, snapshots = files
    load_cached(readings, snapshots)
    cache = snapshots / CACHE_NAME
    if damage is None:  # the right key over nonsense
        kept = orjson.loads(cache.read_bytes())
        kept["curriculum"]["weeks"] = [{"week": [1]}]
        damage = orjson.dumps(kept)
    cache.write_bytes(damage)
    assert load_cached(readings, snapshots) == load(readings)
    assert load_cached(readings, snapshots) == load(readings)  # and the cache was repaired


def test_an_invalid_curriculum_is_never_cached(files: tuple[Path, Path]) -> None:
    readings, snapshots = files
    readings.write_text("weeks:\n  - week: one\n", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(CurriculumError, match="week"):
            load_cached(readings, snapshots)
    assert not (snapshots / CACHE_NAME).exists()


def test_no_snapshots_folder_and_no_room_still_load(files: tuple[Path, Path]) -> None:
    readings, snapshots = files
    assert load_cached(readings, snapshots / "missing") == load(readings)
    assert not (snapshots / "missing").exists()  # loading never makes the ledger's folder
    (snapshots / "missing").mkdir()  # the ledger made it (a first run): the cache is kept now
    keep_pending(snapshots / "missing")
    assert (snapshots / "missing" / CACHE_NAME).is_file()
    (snapshots / CACHE_NAME).mkdir()  # a cache that can be neither read nor replaced
    assert load_cached(readings, snapshots) == load(readings)
    assert (snapshots / CACHE_NAME).is_dir()
    assert not list(snapshots.glob(".*.tmp"))  # no temp file left behind


def test_check_keeps_the_cache_beside_the_ledger(files: tuple[Path, Path]) -> None:
    readings, snapshots = files
    readings.write_text("weeks:\n  - week: 1\n    readings:\n      - title: No link\n")
    argv = ["check", "--readings", str(readings), "--snapshots", str(snapshots)]
    argv += ["--format", "json", "--canary", "none"]
    snapshots.rmdir()  # a first run: no ledger folder yet when readings.yaml is loaded
    first = CliRunner().invoke(cli, argv, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert (snapshots / CACHE_NAME).is_file()  # kept once the ledger made its folder
    second = CliRunner().invoke(cli, argv, catch_exceptions=False)
    assert second.exit_code == 0, second.output
    assert orjson.loads(second.stdout)["results"] == orjson.loads(first.stdout)["results"]
    assert ".curriculum-cache.json" in (REPO / ".gitignore").read_text()
