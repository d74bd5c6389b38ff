"""Small things of issue 18.10: clickable long URLs, unknown config keys, the schema
reference ``import`` writes, ``list | head -1``, and the private-address sentence."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from linkkeeper.check.report import Outcome, Row, print_rich
from linkkeeper.cli import cli
from linkkeeper.core.models import CheckResult, Reading, Verdict
from linkkeeper.curriculum.importer import SCHEMA_URL, schema_reference
from linkkeeper.curriculum.listing import _section

REPO = Path(__file__).resolve().parents[1]
LONG = (
    "https://thenextweb.com/news/understanding-transformers-the-machine-learning-model-"
    "behind-gpt-3-machine-learning-ai-syndication"
)
OSC8 = re.compile(r"\x1b\]8;[^;]*;([^\x1b]*)\x1b\\")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("LINKKEEPER_CONFIG", "LINKKEEPER_FORMAT", "LINKKEEPER_READINGS"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def terminal(width: int = 80) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=width, color_system="standard"), out


# -- long URLs ---------------------------------------------------------------------------------
def test_a_long_url_folded_in_the_list_table_is_still_one_link() -> None:
    console, out = terminal()
    reading = {"id": "less-technical-explainer", "title": "less-technical explainer",
               "title_source": "curriculum", "kind": "article", "url": LONG}  # fmt: skip
    _section(console, "Week 3", None, [], [reading])
    text = out.getvalue()
    assert LONG not in re.sub(r"\x1b[^m\\]*(m|\\)", "", text)  # folded at 80 columns ...
    targets = set(OSC8.findall(text)) - {""}
    assert targets == {LONG}  # ... yet every piece opens the whole address


def test_a_long_url_in_the_check_table_is_still_one_link() -> None:
    reading = Reading(id="less-technical-explainer", title=None, url=LONG, week=3)
    result = CheckResult(reading.id, LONG, Verdict.BROKEN, "HTTP 404 Not Found")
    console, out = terminal()
    print_rich(Outcome(rows=[Row(reading=reading, result=result)]), console)
    assert set(OSC8.findall(out.getvalue())) - {""} == {LONG}


# -- list | head -1 ------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["table", "json"])
def test_list_into_a_pipe_closed_early_exits_0(project: Path, fmt: str) -> None:
    lines = ["weeks:", "  - week: 1", "    readings:"]
    for n in range(3000):  # far more than a pipe holds: the write meets the closed pipe
        lines += [f"      - id: r-{n}", f"        url: https://example.org/a/long/path/{n}"]
    (project / "readings.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = f"{sys.executable} -m linkkeeper list --format {fmt} | head -1"
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.strip() in ("{", "")  # the first line: JSON's brace, or a blank line


# -- [tool.linkkeeper] keys --------------------------------------------------------------------
READINGS = "weeks:\n  - week: 1\n    readings:\n      - {id: a, url: 'https://example.org/'}\n"


def test_unknown_config_keys_are_named_with_their_line_and_a_suggestion(project: Path) -> None:
    (project / "readings.yaml").write_text(READINGS, encoding="utf-8")
    (project / "pyproject.toml").write_text(
        '[tool.linkkeeper]\nsnapshot = "snaps"\n\n[tool.linkkeeper.check]\nmax_agee = "3d"\n'
        "\n[tool.linkkeeper.chek]\nforce = true\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["list"])
    assert result.exit_code == 2
    errors = result.stderr
    config = project / "pyproject.toml"
    assert (
        f"{config}:2: unknown key 'snapshot' in [tool.linkkeeper]; did you mean 'snapshots'?"
        in errors
    )
    assert (
        f"{config}:5: unknown key 'max_agee' in [tool.linkkeeper.check]; did you mean 'max_age'?"
        in errors
    )
    assert f"{config}:7: unknown table 'chek' in [tool.linkkeeper]; did you mean 'check'?" in errors


def test_config_keys_may_be_the_options_names(project: Path) -> None:
    (project / "readings.yaml").write_text(READINGS, encoding="utf-8")
    (project / "pyproject.toml").write_text(
        '[tool.linkkeeper]\nuser_agent_contact = "https://example.org/us"\n'
        '[tool.linkkeeper.list]\nformat = "json"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["list"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("{")  # `format` set --format (its parameter is `fmt`)


# -- import's schema reference -----------------------------------------------------------------
def test_import_points_editors_at_the_published_schema(project: Path) -> None:
    page = project / "page.md"
    page.write_text("- Week 1: [A post](https://example.org/post)\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["import", str(page), "--output", "readings.yaml"])
    assert result.exit_code == 0, result.output
    first = (project / "readings.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first == f"# yaml-language-server: $schema={SCHEMA_URL}"  # not ../../work/...
    assert schema_reference(REPO / "readings.yaml") == "./linkkeeper/readings.schema.json"
    installed = Path(sys.prefix) / "lib" / "site-packages" / "readings.yaml"
    assert schema_reference(installed) == SCHEMA_URL


# -- the private-address sentence --------------------------------------------------------------
def test_a_loopback_archive_endpoint_is_refused_in_a_sentence(project: Path) -> None:
    (project / "readings.yaml").write_text(READINGS, encoding="utf-8")
    result = CliRunner().invoke(cli, ["archive", "--wayback-url", "http://127.0.0.1:9"])
    assert result.exit_code == 2
    assert (
        "Error: http://127.0.0.1:9 cannot be used: 127.0.0.1 is a private/loopback/link-local "
        "address" in result.stderr
    )
    assert "127.0.0.1 is 127.0.0.1" not in result.stderr
    assert "--allow-private" in result.stderr  # still required
