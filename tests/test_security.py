"""What a hostile file, page or archive answer can make linkkeeper do (issue 15).

Each test drives the real code path a hostile input would take: ``linkkeeper`` in a
subprocess under a memory limit for the YAML bombs, real requests over loopback sockets for the
network points.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from linkkeeper.curriculum import CurriculumError, loads

MEMORY_LIMIT = 1024 * 1024 * 1024  # address space for a subprocess that must stay small


def run_bounded(
    args: list[str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``linkkeeper ARGS`` with at most :data:`MEMORY_LIMIT` of address space: a bomb that is
    not refused ends in MemoryError (or the timeout), not in a machine out of memory."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    return subprocess.run(
        [sys.executable, "-m", "linkkeeper", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit,
        check=False,
    )


# -- point 4: YAML alias bombs and deep nesting -----------------------------------------------
def _alias_bomb(levels: int = 9) -> str:
    """The billion-laughs shape: each anchor repeats the previous one nine times."""
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for n in range(1, levels + 1):
        lines.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]")
    lines.append(f"weeks: [{{week: 1, readings: [{{title: x, note: *a{levels}}}]}}]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_with_a_located_error_in_bounded_memory(tmp_path: Path) -> None:
    (tmp_path / "readings.yaml").write_text(_alias_bomb(), encoding="utf-8")
    done = run_bounded(["list", "--readings", "readings.yaml"], tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "readings.yaml:2:" in done.stderr
    assert "alias '*a0' is not allowed" in done.stderr
    assert "Traceback" not in done.stderr


def test_any_alias_is_refused_even_a_small_one() -> None:
    text = "weeks:\n- week: 1\n  readings:\n  - &r {title: A}\n  - *r\n"
    with pytest.raises(CurriculumError) as caught:
        loads(text)
    (problem,) = caught.value.problems
    assert (problem.line, problem.column) == (5, 5)
    assert "alias '*r'" in problem.message


@pytest.mark.parametrize(
    "text",
    [
        "weeks: " + "[" * 5000 + "]" * 5000 + "\n",  # beyond libyaml's own limit
        "weeks: " + "[" * 200 + "]" * 200 + "\n",  # within it: the reader would recurse
        "weeks:\n" + "".join(" " * i + "- \n" for i in range(1, 900)),
    ],
    ids=["flow-5000", "flow-200", "block-900"],
)
def test_deep_nesting_is_a_located_error_not_a_recursion_error(text: str, tmp_path: Path) -> None:
    (tmp_path / "readings.yaml").write_text(text, encoding="utf-8")
    done = run_bounded(["list", "--readings", "readings.yaml"], tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "nested more than 20 levels deep" in done.stderr
    assert "readings.yaml:1:" in done.stderr or "readings.yaml:" in done.stderr
    assert "Traceback" not in done.stderr


# -- point 6 and issue 18.5: hosts two parsers disagree on, invalid IDN hosts -----------------
def _url_error(url: str) -> str:
    text = f"weeks:\n- week: 1\n  readings:\n  - url: '{url}'\n"
    with pytest.raises(CurriculumError) as caught:
        loads(text)
    (problem,) = caught.value.problems
    assert (problem.line, problem.path) == (4, "weeks[0].readings[0].url")
    return problem.message


def test_backslash_in_the_authority_is_refused_at_load() -> None:
    # httpx and urlsplit check evil.example; a browser opens a.example
    assert "backslash in its host part" in _url_error("https://a.example\\@evil.example/")
    assert "backslash" in _url_error("https://a.example:443\\@b.example/")


@pytest.mark.parametrize(
    ("url", "browser"),
    [("https://0x7f.1/", "127.0.0.1"), ("https://a%2eexample/x", "a.example")],
)
def test_hosts_the_parsers_disagree_on_are_refused(url: str, browser: str) -> None:
    message = _url_error(url)
    assert f"a browser opens '{browser}'" in message


@pytest.mark.parametrize(
    "url",
    ["https://xn--zz.example/", "https://xn--abc-.example/a", "https://a.example%40evil.example/"],
)
def test_invalid_host_names_are_located_errors(url: str) -> None:
    assert "invalid host name" in _url_error(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://Bücher.example/x",
        "https://xn--bcher-kva.example/",
        "https://a_b.example/",
        "https://user@a.example:8080/p?q=\\#f",
        "https://a.example/path\\with\\backslashes",
        "http://[::1]:8000/",
        "http://127.0.0.1:8000/",
    ],
)
def test_ordinary_hosts_still_load(url: str) -> None:
    loads(f"weeks:\n- week: 1\n  readings:\n  - url: '{url}'\n")


def test_check_of_an_invalid_idn_host_exits_2_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "readings.yaml").write_text(
        "weeks:\n- week: 1\n  readings:\n  - url: https://xn--zz.example/\n", encoding="utf-8"
    )
    done = run_bounded(
        ["check", "--readings", "readings.yaml", "--snapshots", "snapshots"], tmp_path
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "readings.yaml:4:10: weeks[0].readings[0].url:" in done.stderr
    assert "Traceback" not in done.stderr
