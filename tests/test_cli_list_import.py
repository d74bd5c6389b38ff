"""``linkkeeper list`` and ``linkkeeper import`` as a person runs them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from linkkeeper.cli import EXIT_USAGE, cli
from linkkeeper.curriculum.listing import to_data
from linkkeeper.curriculum.readings import load

REPO = Path(__file__).resolve().parents[1]
SEED = Path(__file__).with_name("data") / "ai-workshop-page.md"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with a copy of the committed readings.yaml and no config file above it."""
    shutil.copy(REPO / "readings.yaml", tmp_path / "readings.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LINKKEEPER_READINGS", raising=False)
    monkeypatch.delenv("LINKKEEPER_CONFIG", raising=False)
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


# -- list -------------------------------------------------------------------------------------
def test_list_table(workdir: Path) -> None:
    result = run("list")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for expected in (
        "Week 1",
        "Week 3 · Transformers",
        "Week 9",
        "Backlog",
        "Hands on 2",
        "arxiv-1706-03762",
        "Attention is all you need",
        "https://www.youtube.com/watch?v=RJwPN4qNi_Y",
        "youtube",
        "(no link)",
        "Venkat: ML Perf is more like SATs",
        "What would good 2x2 axes for this taxonomy be?",
    ):
        assert expected in out, expected
    assert "\x1b[" not in out  # plain text when not a terminal


def test_list_json(workdir: Path) -> None:
    result = run("list", "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert [w["week"] for w in data["weeks"]] == list(range(1, 10))
    urls = [r["url"] for w in data["weeks"] for r in w["readings"] if r["url"]]
    urls += [r["url"] for g in data["backlog"] for r in g["readings"] if r["url"]]
    assert len(set(urls)) == 17
    assert [g["group"] for g in data["backlog"]] == [None, "Hands on 1", "Hands on 2", None,
                                                     "Response"]  # fmt: skip
    first = data["weeks"][0]["readings"][0]
    assert first == {
        "id": "arxiv-1910-01500",
        "title": "ML Perf paper",
        "title_from": "curriculum",  # the key `week` and `publish` use
        "title_source": "curriculum",
        "url": "https://arxiv.org/pdf/1910.01500.pdf",
        "kind": "arxiv",
        "note": None,
        "week": 1,
        "line": line_of((workdir / "readings.yaml").read_text("utf-8"), "id: arxiv-1910-01500"),
    }


def test_list_one_week(workdir: Path) -> None:
    data = json.loads(run("list", "--format", "json", "--week", "3").stdout)
    assert [w["week"] for w in data["weeks"]] == [3]
    assert len(data["weeks"][0]["readings"]) == 3
    assert data["backlog"] == []
    table = run("list", "--week", "9").stdout
    assert "Notes on a Genre" in table and "Week 8" not in table and "Backlog" not in table


def test_list_unknown_week(workdir: Path) -> None:
    result = run("list", "--week", "42")
    assert result.exit_code == EXIT_USAGE
    assert "week 42 is not in readings.yaml (weeks: 1, 2, 3, 4, 5, 6, 7, 8, 9)" in result.stderr


def test_list_titles_seam_fills_in_from_the_ledger() -> None:
    cur = load(REPO / "readings.yaml")
    titles = {
        "mirror-herndondryhurst-eth": "The Ethics of AI Art",
        "arxiv-1910-01500": "ignored: the curriculum has a title",
    }
    data = to_data(cur, titles=titles)
    mirror = data["weeks"][7]["readings"][0]
    assert (mirror["title"], mirror["title_source"]) == ("The Ethics of AI Art", "ledger")
    assert data["weeks"][0]["readings"][0]["title"] == "ML Perf paper"


def test_list_prints_warnings_but_succeeds(workdir: Path) -> None:
    text = (workdir / "readings.yaml").read_text(encoding="utf-8")
    text = text.replace("url: https://tvm.apache.org/", "url: https://arxiv.org/abs/1706.03762")
    (workdir / "readings.yaml").write_text(text, encoding="utf-8")
    result = run("list")
    assert result.exit_code == 0
    assert "warning: backlog[6].url: same URL as weeks[2].readings[2]" in result.stderr


def line_of(text: str, fragment: str) -> int:
    """1-based line of the last line containing ``fragment`` (the file is kept by hand)."""
    return max(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


BREAKAGES = [
    # (find, replace, "column: path: message" expected on the line of `replace`), in file order
    (
        "    prompt: What would",
        "\tprompt: What would",
        "1: YAML syntax error: found character '\\t' that cannot start any token (while "
        "scanning for the next token); YAML indentation must use spaces, not tabs",
    ),
    (
        "        title: Taxonomy of NNs\n",
        "        titel: Taxonomy of NNs\n",
        "9: weeks[1].readings[0].titel: unknown key 'titel'; did you mean 'title'?",
    ),
    (
        "      - id: more-technical-explainer\n",
        "      - id: less-technical-explainer\n",
        "13: weeks[2].readings[1].id: id 'less-technical-explainer' is already used by "
        "weeks[2].readings[0] (line {first}); give this reading another id",
    ),
    (
        "url: https://jalammar.github.io/",
        "url: htps://jalammar.github.io/",
        "14: weeks[2].readings[1].url: 'htps://jalammar.github.io/illustrated-transformer/' is "
        "not an http(s) URL; write it as https://jalammar.github.io/illustrated-transformer/",
    ),
    (
        "  - week: 4\n",
        "  - week: four\n",
        "11: weeks[3].week: is the text 'four'; expected a whole number, e.g. `week: 3`",
    ),
    (
        "url: https://www.nature.com/articles/s42256-020-0164-7",
        "url: https://www.nature.com/articles/s42256 020 0164 7",
        "10: backlog[3].url: 'https://www.nature.com/articles/s42256 020 0164 7' contains a "
        "space; remove it or write it as %20",
    ),
]


def break_file(path: Path, breakages: list[tuple[str, str, str]]) -> list[str]:
    """Apply ``breakages`` to the file; the located messages the loader must print."""
    text = path.read_text(encoding="utf-8")
    first = line_of(text, "- id: less-technical-explainer")
    for find, replace, _ in breakages:
        assert text.count(find) == 1
        text = text.replace(find, replace)
    path.write_text(text, encoding="utf-8")
    return [
        f"{path}:{line_of(text, replace.strip())}:{tail.format(first=first)}"
        for _, replace, tail in breakages
    ]


@pytest.mark.parametrize("breakage", BREAKAGES, ids=lambda b: b[2].split(":")[1].strip())
def test_list_on_a_broken_file(workdir: Path, breakage: tuple[str, str, str]) -> None:
    (expected,) = break_file(Path("readings.yaml"), [breakage])
    result = run("list")
    assert result.exit_code == EXIT_USAGE
    assert result.stdout == ""
    assert result.stderr == f"Error: readings.yaml cannot be used (1 error):\n{expected}\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "readings.yaml:1:1: the file is empty"),
        (None, "readings.yaml: no such file; create it with `linkkeeper import PAGE.md`"),
    ],
)
def test_list_on_an_empty_or_missing_file(workdir: Path, text: str | None, expected: str) -> None:
    path = workdir / "readings.yaml"
    if text is None:
        path.unlink()
    else:
        path.write_text(text, encoding="utf-8")
    result = run("list", "--format", "json")
    assert result.exit_code == EXIT_USAGE
    assert expected in result.stderr


def test_list_reports_every_error_at_once(workdir: Path) -> None:
    path = workdir / "readings.yaml"
    expected = break_file(path, BREAKAGES[1:])
    result = run("list", "--readings", str(path))
    assert result.exit_code == EXIT_USAGE
    lines = result.stderr.splitlines()
    assert lines == [f"Error: {path} cannot be used (5 errors):", *expected]


# -- import -----------------------------------------------------------------------------------
def test_import_creates_then_reports_no_changes(workdir: Path) -> None:
    (workdir / "readings.yaml").unlink()
    result = run("import", str(SEED))
    assert result.exit_code == 0
    assert result.stdout == f"Wrote readings.yaml from {SEED}.\n"
    assert len({r.url for r in load(workdir / "readings.yaml").readings() if r.url}) == 17
    again = run("import", str(SEED), "--output", "readings.yaml")
    assert (again.exit_code, again.stdout) == (0, "readings.yaml: no changes.\n")


def test_import_committed_file_is_in_sync(workdir: Path) -> None:
    result = run("import", str(SEED))
    assert (result.exit_code, result.stdout) == (0, "readings.yaml: no changes.\n")


def test_import_shows_diff_and_writes_only_with_write(workdir: Path) -> None:
    page = workdir / "page.md"
    page.write_text(
        SEED.read_text(encoding="utf-8")
        + "- Week 10: [Scaling laws](https://arxiv.org/abs/2001.08361)\n",
        encoding="utf-8",
    )
    before = (workdir / "readings.yaml").read_bytes()
    shown = run("import", str(page))
    assert shown.exit_code == 0
    assert "+  - week: 10\n" in shown.stdout
    assert "+      - id: arxiv-2001-08361\n" in shown.stdout
    assert "Not written: run again with --write to update readings.yaml." in shown.stdout
    assert (workdir / "readings.yaml").read_bytes() == before

    written = run("import", str(page), "--write")
    assert written.exit_code == 0
    assert "Updated readings.yaml." in written.stdout
    assert load(workdir / "readings.yaml").week(10) is not None
    assert run("import", str(page)).stdout == "readings.yaml: no changes.\n"


def test_import_into_a_broken_file(workdir: Path) -> None:
    path = workdir / "readings.yaml"
    path.write_text("weeks:\n  - week: 1\n    readings:\n      - url: htps://x\n", "utf-8")
    result = run("import", str(SEED), "--write")
    assert result.exit_code == EXIT_USAGE
    assert "readings.yaml:4:14: weeks[0].readings[0].url:" in result.stderr
    assert "htps://x" in path.read_text(encoding="utf-8")


def test_import_missing_page(workdir: Path) -> None:
    result = run("import", "nope.md")
    assert result.exit_code == EXIT_USAGE
    assert "nope.md" in result.stderr


WEEK_10 = """\
  - week: 10
    readings:
      - id: arxiv-2001-08361
        title: Scaling laws
        url: https://arxiv.org/abs/2001.08361
        kind: arxiv
"""


def _page_with_week_10(workdir: Path) -> Path:
    page = workdir / "page.md"
    page.write_text(
        SEED.read_text(encoding="utf-8")
        + "- Week 10: [Scaling laws](https://arxiv.org/abs/2001.08361)\n",
        encoding="utf-8",
    )
    return page


def test_import_write_keeps_every_comment(workdir: Path) -> None:
    path = workdir / "readings.yaml"
    annotated = (
        path.read_text(encoding="utf-8")
        .replace("  - week: 2\n", "  # week 2: bring a sketch\n  - week: 2\n")
        .replace(
            "        url: https://playground.tensorflow.org/\n",
            "        url: https://playground.tensorflow.org/  # needs WebGL\n",
        )
        .replace("backlog:\n", "# someday\nbacklog:\n")
    )
    path.write_text(annotated, encoding="utf-8")
    written = run("import", str(_page_with_week_10(workdir)), "--write")
    assert (written.exit_code, written.stderr) == (0, "")
    assert "Updated readings.yaml." in written.stdout
    expected = annotated.replace("\n# someday\nbacklog:\n", f"\n{WEEK_10}\n# someday\nbacklog:\n")
    assert path.read_text(encoding="utf-8") == expected


def test_import_names_the_lines_it_cannot_keep(workdir: Path) -> None:
    path = workdir / "readings.yaml"
    text = path.read_text(encoding="utf-8")
    wrapped = text.replace("    title: Transformers\n", "    title: Transformers\n      at last\n")
    path.write_text(wrapped, encoding="utf-8")
    number = wrapped.splitlines().index("    title: Transformers") + 1
    shown = run("import", str(_page_with_week_10(workdir)))
    assert shown.exit_code == 0
    assert shown.stderr.splitlines() == [
        f"note: readings.yaml:{number} is not kept as written: 'title: Transformers'",
        f"note: readings.yaml:{number + 1} is not kept as written: 'at last'",
    ]
    assert "-    title: Transformers\n" in shown.stdout  # the diff shows it too
    assert path.read_text(encoding="utf-8") == wrapped
