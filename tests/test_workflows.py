"""The GitHub workflows: valid against GitHub's schema (offline), and every ``linkkeeper``
command they run exists with the options they pass. A renamed option fails here, not at 3 am."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from linkkeeper.cli import cli

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
NIGHTLY = ROOT / ".github" / "workflows" / "nightly.yml"
SEPARATORS = frozenset({"&&", "||", ";", "|", "&", "(", ")"})


def validate(*files: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema with its bundled copy of the workflow schema: no network needed."""
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema",
               "vendor.github-workflows", *map(str, files)]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def load(path: Path) -> dict[Any, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def run_scripts(workflow: dict[Any, Any]) -> list[str]:
    return [
        step["run"]
        for job in workflow.get("jobs", {}).values()
        for step in job.get("steps", [])
        if "run" in step
    ]


def linkkeeper_commands(script: str) -> list[list[str]]:
    """The argument lists of every ``linkkeeper ...`` (or ``python -m linkkeeper``) command."""
    found: list[list[str]] = []
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        current: list[str] = []
        for token in [*lexer, ";"]:
            if token not in SEPARATORS:
                current.append(token)
                continue
            while current and "=" in current[0] and not current[0].startswith("-"):
                current.pop(0)  # VAR=value prefixes
            if current[:1] == ["linkkeeper"]:
                found.append(current[1:])
            elif current[1:3] == ["-m", "linkkeeper"] and "python" in current[0]:
                found.append(current[3:])
            current = []
    return found


def _options(command: click.Command) -> dict[str, click.Option]:
    return {
        name: param
        for param in command.params
        if isinstance(param, click.Option)
        for name in (*param.opts, *param.secondary_opts)
    }


def _takes_value(option: click.Option, token: str) -> bool:
    return not option.is_flag and not option.count and "=" not in token


def resolve(args: list[str]) -> tuple[str, click.Command, list[str]]:
    """Walk the Click tree: group options, sub-commands, then the command's own options.

    Fails naming the command and option that a workflow uses but the CLI does not know."""
    command: click.Command = cli
    path = ["linkkeeper"]
    rest = list(args)
    while isinstance(command, click.Group):
        while rest and rest[0].startswith("-"):
            option = _options(command).get(rest[0].split("=", 1)[0])
            assert option is not None, f"`{' '.join(path)}` has no option {rest[0]}"
            del rest[: 2 if _takes_value(option, rest[0]) else 1]
        assert rest, f"`{' '.join(path)}` is run without a sub-command"
        sub = command.get_command(click.Context(command), rest[0])
        assert sub is not None, f"`{' '.join(path)}` has no command {rest[0]!r}"
        path.append(rest.pop(0))
        command = sub
    known, index = _options(command), 0
    while index < len(rest):
        token = rest[index]
        if token.startswith("-") and token != "-":
            option = known.get(token.split("=", 1)[0])
            assert option is not None, f"`{' '.join(path)}` has no option {token}"
            index += 2 if _takes_value(option, token) else 1
        else:
            index += 1
    return " ".join(path), command, rest


def test_there_is_a_nightly_workflow() -> None:
    assert NIGHTLY in WORKFLOWS


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_github_schema(path: Path) -> None:
    result = validate(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps: {}\n")
    assert validate(broken).returncode != 0


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_linkkeeper_commands_in_workflows_exist(path: Path) -> None:
    for script in run_scripts(load(path)):
        for args in linkkeeper_commands(script):
            name, command, rest = resolve(args)
            # then let Click itself parse the line: types, choices, values, extra arguments
            command.make_context(name, rest)


def test_the_command_check_rejects_unknown_commands_and_options() -> None:
    script = "linkkeeper list --week 1 --no-such-thing && FOO=1 linkkeeper nonsense"
    first, second = linkkeeper_commands(script)
    with pytest.raises(AssertionError, match="no option --no-such-thing"):
        resolve(first)
    with pytest.raises(AssertionError, match="no command 'nonsense'"):
        resolve(second)
    assert linkkeeper_commands("python -m linkkeeper demo \\\n  --keep out") == [
        ["demo", "--keep", "out"]
    ]


def test_nightly_schedule_concurrency_and_permissions() -> None:
    workflow = load(NIGHTLY)
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["schedule"][0]["cron"] and "workflow_dispatch" in triggers
    assert workflow["concurrency"]["cancel-in-progress"] is False
    assert workflow["permissions"] == {}
    jobs = workflow["jobs"]
    assert jobs["nightly"]["permissions"] == {"contents": "write", "issues": "write"}
    assert jobs["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    steps = jobs["nightly"]["steps"]
    uses = [step.get("uses") for steps_ in (steps, jobs["deploy"]["steps"]) for step in steps_]
    assert {"actions/checkout@v4", "actions/setup-python@v5", "actions/deploy-pages@v4",
            "actions/upload-pages-artifact@v3"} <= set(uses)  # fmt: skip
    setup = next(s for s in steps if s.get("uses") == "actions/setup-python@v5")
    assert setup["with"]["cache"] == "pip"
    night = next(s for s in steps if "linkkeeper nightly" in s.get("run", ""))
    assert set(night["env"]) == {
        "GITHUB_TOKEN",
        "IA_ACCESS_KEY",
        "IA_SECRET_KEY",
        "DISCORD_WEBHOOK_URL",
    }
    commit = next(s for s in steps if s.get("name", "").startswith("Commit the ledger"))
    assert "41898244+github-actions[bot]@users.noreply.github.com" in commit["run"]
    assert "git diff --cached --quiet" in commit["run"]  # no empty commits
