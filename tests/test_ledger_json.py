"""The ledger's fast JSON writes exactly the bytes ``json.dumps`` writes, for any record shape."""

from __future__ import annotations

import enum
import json
import math
import random
import struct
from collections import OrderedDict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from linkkeeper.core.models import CheckResult, Reading, Verdict
from linkkeeper.ledger import jsonfile as _jsonfile
from linkkeeper.ledger.store import Ledger


def reference(data: Any) -> bytes:
    """What the ledger wrote before orjson: the definition of a record file."""
    return (json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


class Colour(enum.StrEnum):
    RED = "red"


class Size(enum.IntEnum):
    BIG = 3


class Text(str):
    pass


FLOATS = [
    0.0, -0.0, 1.0, -1.5, 0.1, 1 / 3, 0.83, 1e-4, 9.99e-5, 1e-5, 1.5e-7, 1e-10, 1e-300,
    5e-324, 1e15, 9999999999999998.0, 1e16, 1.2345678901234568e17, 1e22, 1.7976931348623157e308,
    2.0**53, 2.0**63, 123456.789, -2.5e-6,
]  # fmt: skip
INTS = [0, -1, 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1,
        10**30, -(10**40)]  # fmt: skip


def random_floats(rng: random.Random, count: int) -> list[float]:
    """Any bit pattern (every exponent) plus plain decimals of every magnitude."""
    found: list[float] = []
    while len(found) < count:
        value = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if math.isfinite(value):
            found.append(value)
        found.append(round(rng.uniform(-1, 1) * 10 ** rng.randint(-12, 20), rng.randint(0, 6)))
    return found


def random_text(rng: random.Random) -> str:
    """Control characters, quotes, backslashes, BMP and astral characters, no surrogates."""
    pools = [
        '\x00\x01\x08\t\n\x0b\x0c\r\x1b\x1f\x7f"\\/',
        "aZ09 -_.:",
        "éßøΩЖ中文ｶ\u2028\u2029\ufeff",
        "\U0001f600\U00010348\U0010ffff",
    ]
    return "".join(rng.choice(rng.choice(pools)) for _ in range(rng.randint(0, 12)))


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.choice([*INTS, rng.randint(-(10**6), 10**6)])
    if kind == 2:
        return rng.choice([*FLOATS, *random_floats(rng, 1)])
    if kind in (3, 4, 5):
        return random_text(rng)
    if kind in (6, 7):
        return {random_text(rng): random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))}
    return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))]


def a_record() -> dict[str, Any]:
    """A full record as a check with metadata and drift leaves it."""
    return {
        "id": "attention",
        "url": "https://example.org/attention",
        "title": "Attention — “is all you need”",
        "orphaned": False,
        "checks": [
            {
                "at": "2026-11-26T10:00:00Z",
                "verdict": "ok",
                "reason": "HTTP 200 OK",
                "url": "https://example.org/attention",
                "http_status": 200,
                "final_url": "https://example.org/attention",
                "suggestion": None,
                "latency_ms": 120.5,
            },
        ],
        "health": {
            "state": "alive",
            "since": "2026-11-26T10:00:00Z",
            "summary": "alive",
            "failures": 0,
            "first_failure": None,
            "last_success": "2026-11-26T10:00:00Z",
        },
        "metadata": {"authors": {"value": ["Ashish Vaswani", "Łukasz Kaiser"]}, "words": {}},
        "drift": {
            "similarity": 1.0,
            "baseline": {"minhash": "00ff" * 64, "words": 701},
            "latest": None,
            "notes": [],
        },
        "archive": {},
    }


def test_every_character_is_written_as_json_writes_it() -> None:
    every = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    for start in range(0, len(every), 4096):
        chunk = "".join(every[start : start + 4096])
        data = {"text": chunk, chunk[:50]: [chunk[-50:]]}
        assert _jsonfile.encode(data) == reference(data)


def test_keys_are_sorted_as_json_sorts_them() -> None:
    keys = ["b", "a", "B", "", "a\x00", "ab", "é", "\uff5e", "\U0001f600", "\u2028", "10", "9"]
    data = {key: index for index, key in enumerate(keys)}
    assert _jsonfile.encode(data) == reference(data)


@pytest.mark.parametrize("value", FLOATS + INTS, ids=repr)
def test_numbers(value: float) -> None:
    data = {"n": value, "list": [value, -value]}
    assert _jsonfile.encode(data) == reference(data)


def test_floats_of_every_magnitude() -> None:
    rng = random.Random(20261126)
    values = random_floats(rng, 20_000)
    assert _jsonfile.encode({"f": values}) == reference({"f": values})
    for value in values[:3000]:  # one at a time too: one odd float must not hide in a list
        assert _jsonfile.encode({"f": value}) == reference({"f": value})


def test_not_finite_floats_are_written_as_json_writes_them() -> None:
    data = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf, "ok": 1.0}
    assert _jsonfile.encode(data) == reference(data)
    assert b"NaN" in _jsonfile.encode(data)  # json's (invalid) text, not orjson's null


def test_nested_empties_and_scalars() -> None:
    data = {"a": {}, "b": [], "c": [{}], "d": [[]], "e": {"x": {"y": []}}, "f": [None, True]}
    assert _jsonfile.encode(data) == reference(data)
    deep: list[Any] = [1]
    for _ in range(200):
        deep = [deep, {}]
    for top in ({}, [], "x", 1, 1.5, 1e-5, None, True, [1, [2, [3, []]]], deep):
        assert _jsonfile.encode(top) == reference(top)


def test_random_records() -> None:
    rng = random.Random(7)
    for _ in range(400):
        data = {**a_record(), "extra": random_value(rng)}
        assert _jsonfile.encode(data) == reference(data)


def test_types_json_writes_its_own_way() -> None:
    shapes: list[Any] = [
        {"t": (1, "two", (3.0,))},
        {"e": Colour.RED, "i": Size.BIG, Colour.RED: 1},
        {Text("k"): Text("v")},
        OrderedDict([("b", 1), ("a", 2)]),
        {"o": OrderedDict(z=1)},
        {"big": [2**100, -(2**100)]},
    ]
    for data in shapes:
        assert _jsonfile.encode(data) == reference(data)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"when": datetime(2026, 1, 1, tzinfo=UTC)}, TypeError),
        ({"what": object()}, TypeError),
        ({"bytes": b"x"}, TypeError),
        ({1: "int key"}, None),  # json writes it (as "1"); orjson refuses: json's way
        ({"surrogate": "\ud800"}, UnicodeEncodeError),
    ],
)
def test_what_json_refuses_is_refused_the_same_way(data: Any, error: type | None) -> None:
    if error is None:
        assert _jsonfile.encode(data) == reference(data)
        return
    with pytest.raises(error):
        reference(data)
    with pytest.raises(error):
        _jsonfile.encode(data)


def test_a_cycle_is_refused_like_json_refuses_it() -> None:
    data: dict[str, Any] = {"a": 1}
    data["self"] = data
    with pytest.raises(ValueError, match="Circular reference"):
        _jsonfile.encode(data)


def test_reading_is_json_loads_of_the_text_file(tmp_path: Path) -> None:
    for raw in (b'{"a": 1}\r\n', b'{"a":\r 1}', '{"é": "\u2028"}'.encode()):
        path = tmp_path / "r.json"
        path.write_bytes(raw)
        assert repr(_jsonfile.decode(raw)) == repr(json.loads(path.read_text(encoding="utf-8")))
    for constant in (b"NaN", b"Infinity", b"-Infinity"):  # not JSON: a damaged record (#18)
        with pytest.raises(ValueError, match="is not a JSON number"):
            _jsonfile.decode(b'{"n": ' + constant + b"}")
    for broken in (b'{\r"a": [,]\r}', b'{\r\n"a": [,]\r\n}', b"\xef\xbb\xbf{}"):
        path.write_bytes(broken)
        with pytest.raises(json.JSONDecodeError) as ours:
            _jsonfile.decode(broken)
        with pytest.raises(json.JSONDecodeError) as theirs:
            json.loads(path.read_text(encoding="utf-8"))
        assert (ours.value.msg, ours.value.lineno, ours.value.colno) == (
            theirs.value.msg,
            theirs.value.lineno,
            theirs.value.colno,
        )


def test_ledger_files_are_json_dumps_of_the_record(tmp_path: Path) -> None:
    reading = Reading(id="attention", title="Attention — “all you need”", url="https://e.org/a")
    rng = random.Random(3)
    with Ledger(tmp_path) as ledger:
        for night in range(5):
            result = CheckResult(reading.id, reading.url, Verdict.BROKEN, random_text(rng),
                                 http_status=404, checked_at=datetime(2026, 11, 20 + night,
                                                                      tzinfo=UTC))  # fmt: skip

            def fold(record: Any, night: int = night) -> None:
                record.section("drift").update(similarity=rng.random() / 10**5, n=night)
                record.section("metadata")["extra"] = random_value(rng)

            record, write = ledger.stage_check(reading, result, fold=fold)
            assert write is not None
            write()
            on_disk = (tmp_path / "attention.json").read_bytes()
            assert on_disk == reference(record.data)


def test_orjson_is_the_fast_path_for_plain_records() -> None:
    assert _jsonfile._plain(a_record())
    assert not _jsonfile._plain({"f": 1e-5})
    assert not _jsonfile._plain({"t": (1,)})


def test_documents_keep_their_key_order_as_json_does() -> None:
    """The check report's JSON (``json_document``): json.dumps(indent=2) without sorting."""
    rng = random.Random(11)
    for _ in range(300):
        data = {"zeta": 1, "alpha": random_value(rng), "results": [a_record(), {"b": 1, "a": []}]}
        expected = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        assert _jsonfile.json_document(data) == expected
    odd = {"b": Verdict.OK, "a": 1e-5, "c": [float("nan")], "d": 2**70, "é": "\ud800"}
    assert _jsonfile.json_document(odd) == json.dumps(odd, indent=2, ensure_ascii=False) + "\n"
