"""The ledger's JSON text, byte for byte what :mod:`json` writes, at :mod:`orjson` speed.

Record files are ``json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\\n"``.
With an indent the standard library encodes in pure Python (~70 µs for a 3 KB record, most of
the ledger's CPU per reading); orjson writes the same text in ~3 µs for every value they
format alike (tests/test_ledger_json.py proves it over many shapes). Values they format
differently go to :mod:`json`, so the bytes never depend on the encoder: floats whose text
differs (``1e-05`` is ``0.00001`` in orjson, NaN is ``null``), integers beyond 64 bits, keys
that are not exactly ``str``, lone surrogates, and any type that is not plain JSON (tuples,
subclasses, datetimes, enums), which :mod:`json` writes or refuses as it always did.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
_IN_ORDER = orjson.OPT_INDENT_2
_SCALARS = frozenset({str, int, bool, type(None)})
_MAX_CONTAINERS = 100_000  # a walk this long is a cycle or a giant: json decides


def encode(data: Any) -> bytes:
    """``(json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\\n")`` in UTF-8;
    raises what that raises (``TypeError``, ``ValueError``, ``UnicodeEncodeError``)."""
    fast = _by_orjson(data, _OPTIONS)
    if fast is not None:
        return fast
    text = json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    return text.encode("utf-8")


def _by_orjson(data: Any, option: int) -> bytes | None:
    """orjson's text (and a newline) where it is json's; ``None`` where json must write it: a
    big integer, a non-str key, a lone surrogate, anything :func:`_plain` refuses."""
    if not _plain(data):
        return None
    try:
        return orjson.dumps(data, option=option) + b"\n"
    except orjson.JSONEncodeError:
        return None


def decode(raw: bytes) -> Any:
    """The data of a file's bytes, as ``json.loads(path.read_text("utf-8"))`` gives it; raises
    ``UnicodeDecodeError``, ``json.JSONDecodeError`` (with json's line and column), or
    ``ValueError`` for NaN, Infinity and integers beyond Python's digit limit.

    Parsing stays with json: orjson reads integers beyond 64 bits as floats and refuses NaN,
    and the check for those costs what orjson saves (json.loads is C already)."""
    text = as_text(raw)
    if text.startswith("\ufeff"):  # as json.loads words it
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _DECODER.decode(text)  # json.loads(text, parse_constant=...) with one decoder


def _refuse_constant(name: str) -> Any:
    """NaN and Infinity are not JSON (json writes them, nothing else reads them): refused."""
    raise ValueError(f"{name} is not a JSON number")


# json.loads builds a new decoder (and its scanner) for every call given an option
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def as_text(raw: bytes) -> str:
    """The file as ``Path.read_text`` gives it: UTF-8, newlines translated (they only ever
    change the line numbers of error messages)."""
    text = raw.decode("utf-8")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _plain(data: Any) -> bool:
    """Whether ``data`` holds only what orjson writes exactly as json does: exact dicts,
    lists, strings, integers, booleans, None, and floats of the same text."""
    stack, budget = [data], _MAX_CONTAINERS
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is not dict and kind is not list:
            return kind in _SCALARS or (kind is float and _same_float(node))
        for item in node.values() if kind is dict else node:
            kind = type(item)
            if kind is str or kind is int or item is None or kind is bool:
                continue
            if kind is dict or kind is list:
                budget -= 1
                if budget < 0:  # a cycle, or a giant
                    return False
                stack.append(item)
            elif kind is not float or not _same_float(item):
                return False
    return True


def _same_float(value: float) -> bool:
    """json writes ``float.__repr__`` (``NaN``/``Infinity`` when not finite, orjson: null)."""
    return orjson.dumps(value) == float.__repr__(value).encode("ascii")


def json_document(data: Any) -> str:
    """``json.dumps(data, indent=2, ensure_ascii=False) + "\\n"`` (keys in insertion order),
    at orjson's speed where the text is the same: the check report's JSON."""
    fast = _by_orjson(data, _IN_ORDER)
    if fast is not None:
        return fast.decode("utf-8")
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
