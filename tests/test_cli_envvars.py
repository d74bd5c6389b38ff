"""Every option of every command can come from the environment, as the README promises."""

from __future__ import annotations

import json
from pathlib import Path

import click
from click.testing import CliRunner

from linkkeeper.cli import cli

ROOT = Path(__file__).resolve().parent.parent


def options() -> list[tuple[str, click.Option]]:
    ctx = click.Context(cli)
    found = []
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        assert command is not None
        found += [(name, p) for p in command.params if isinstance(p, click.Option)]
    return found


def test_every_option_has_an_environment_variable() -> None:
    missing = [f"{name} {max(p.opts, key=len)}" for name, p in options() if not p.envvar]
    assert missing == []
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "LINKKEEPER_<COMMAND>_<OPTION>" in readme


def test_a_command_s_own_variable_works_and_another_s_does_not_leak(tmp_path: Path) -> None:
    readings = tmp_path / "readings.yaml"
    readings.write_text(
        "weeks:\n  - week: 1\n    readings:\n      - id: a\n        url: https://a.example/\n",
        encoding="utf-8",
    )
    env = {"LINKKEEPER_FORMAT": "github", "LINKKEEPER_LIST_FORMAT": "json", "LINKKEEPER_CONFIG": ""}
    args = ["list", "--readings", str(readings), "--snapshots", str(tmp_path / "s")]
    result = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    reading = document["weeks"][0]["readings"][0]
    assert reading["id"] == "a" and "title_from" in reading  # the key week and publish use
