"""Every command facing a damaged ledger record: names the file, says what is wrong and what
to do, leaves it byte for byte as it was, carries on with the other readings, exits 2.

The ledger is made by real runs of `check` and `archive` against the sandbox (real sockets);
then one record, ``victim``, is damaged in each of the ways below, and each command runs.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from linkkeeper.cli import cli
from linkkeeper.sandbox import Sandbox, start_sandbox

READINGS = """\
title: Damage test list
weeks:
  - week: 1
    readings:
      - id: victim
        title: The damaged one
        url: https://blog.example/post/live
      - id: other
        title: The other one
        url: https://jalammar.github.io/illustrated-transformer/
      - id: discuss
        title: Discuss in the group
        kind: task
"""
PAGE = "- Week 1: [The damaged one](https://blog.example/post/live)\n"
FAST = ["--allow-private", "--host-interval", "0"]
ARCHIVE_FAST = ["--cdx-interval", "0", "--poll-interval", "0", "--captures-per-minute", "600"]


def _sub(pattern: str, replacement: str) -> Callable[[str], str]:
    def damage(text: str) -> str:
        new, count = re.subn(pattern, replacement, text, count=1)
        assert count == 1, f"{pattern!r} not in the record"
        return new

    return damage


def _conflict(text: str) -> str:
    """What `git pull --rebase` leaves when both sides changed the health summary."""
    match = re.search(r'(?m)^( *)"summary": .*\n', text)
    assert match is not None
    indent = match.group(1)
    theirs = f'{indent}"summary": "failing since 2026-03-01",\n'
    return (
        text[: match.start()]
        + "<<<<<<< HEAD\n"
        + match.group(0)
        + "=======\n"
        + theirs
        + ">>>>>>> 1a2b3c4 (linkkeeper: 1 failing)\n"
        + text[match.end() :]
    )


DEEP = "[" * 10_000 + "]" * 10_000
# kind -> (what to do to the record's text, words the error must contain)
DAMAGE: dict[str, tuple[Callable[[str], str], str]] = {
    "truncated": (lambda t: t[: len(t) // 2], "not valid JSON"),
    "empty": (lambda t: "", "is empty"),
    "garbage": (lambda t: "\x00\x07 PK\x03\x04 not a record at all }{", "not valid JSON"),
    "nan": (_sub(r'"failures": \d+', '"failures": NaN'), "NaN"),
    "infinity": (_sub(r'"http_status": \d+', '"http_status": -Infinity'), "Infinity"),
    "huge-integer": (_sub(r'"http_status": \d+', '"http_status": ' + "9" * 5000), "4300"),
    "deep-nesting": (lambda t: DEEP, "nested too deeply"),
    "deep-inside": (_sub(r'"orphaned": false', '"orphaned": ' + DEEP), "nested too deeply"),
    "nesting-that-parses": (
        _sub(r'"metadata": \{', '"metadata": {"junk": {"a": ' + "[" * 200 + "]" * 200 + "},"),
        "levels deep",
    ),
    "top-level-list": (lambda t: f"[{t}]", "expected a JSON object"),
    "id-wrong-type": (_sub(r'"id": "victim"', '"id": 5'), "id is 5"),
    "checks-wrong-type": (_sub(r'"checks": \[', '"checks": "none", "was": ['), "'checks'"),
    "check-bad-verdict": (_sub(r'"verdict": "ok"', '"verdict": "zombie"'), "zombie"),
    "health-wrong-type": (_sub(r'"health": \{', '"health": 7, "was": {'), "'health'"),
    "wrong-version": (lambda t: '{\n  "version": 2,' + t[1:], "format version"),
    "merge-conflict": (_conflict, "merge conflict"),
    "metadata-a-list": (_sub(r'"metadata": \{', '"metadata": [1, 2], "was": {'), "metadata"),
    "captures-ours-a-string": (_sub(r'"ours": \[', '"ours": "no", "was": ['), "captures.ours"),
    "captures-a-string": (_sub(r'"captures": \{', '"captures": "x", "was": {'), "captures"),
    "archive-attempts-text": (
        _sub(r'"attempts": \d+', '"attempts": "three"'),
        "archive.attempts",
    ),
    "drift-baseline-a-number": (_sub(r'"baseline": \{', '"baseline": 5, "was": {'), "drift"),
    "not-utf8": (None, "not UTF-8"),  # type: ignore[dict-item]  # bytes: see damage_victim
}


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=True)


def _nightly(box: Sandbox) -> list[str]:
    remaps = [part for rule in box.remap_rules() for part in ("--remap", rule)]
    return ["nightly", "--no-issue", *FAST, *ARCHIVE_FAST, *remaps,
            "--summary-file", "summary.md", "--commit-message-file", "commit.txt"]  # fmt: skip


def _with_remaps(command: str, box: Sandbox, *extra: str) -> list[str]:
    remaps = [part for rule in box.remap_rules() for part in ("--remap", rule)]
    fast = FAST if command == "check" else FAST[:1]
    return [command, *fast, *remaps, *extra]


# command -> (its arguments, how it shows it carried on with the other readings)
COMMANDS: dict[str, tuple[Callable[[Sandbox], list[str]], Callable[[Path, Result], bool]]] = {
    "list": (lambda box: ["list"], lambda d, r: "The other one" in r.stdout),
    "show": (
        lambda box: ["show", "victim"],
        lambda d, r: "The damaged one" in r.stdout and "record cannot be used" in r.stdout,
    ),
    "check": (
        lambda box: _with_remaps("check", box, "--format", "json", "--max-age", "0"),
        lambda d, r: [row["id"] for row in json.loads(r.stdout)["results"]] == ["other", "discuss"],
    ),
    "archive": (
        lambda box: _with_remaps("archive", box, *ARCHIVE_FAST, "--format", "json"),
        lambda d, r: [e["id"] for e in json.loads(r.stdout)["readings"]] == ["other", "discuss"],
    ),
    "publish": (
        lambda box: ["publish", "--output", "site"],
        lambda d, r: "The other one" in (d / "site" / "index.html").read_text(encoding="utf-8"),
    ),
    "week": (lambda box: ["week", "1"], lambda d, r: "The other one" in r.stdout),
    "open": (
        lambda box: ["open", "victim"],
        lambda d, r: r.stdout.strip() == "https://blog.example/post/live",
    ),
    "nightly": (
        _nightly,
        lambda d, r: (
            "2 readings: 1 ok, 1 skipped" in r.stdout
            and "damaged record(s) left as they were: victim"
            in (d / "summary.md").read_text("utf-8")
        ),
    ),
    "prune": (lambda box: ["prune"], lambda d, r: "No orphaned records" in r.stdout),
    "import": (lambda box: ["import", "page.md", "--write"], lambda d, r: r.exit_code == 0),
}


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    sandbox = start_sandbox()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture(scope="module")
def healthy(box: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose ledger was written by real check and archive runs."""
    folder = tmp_path_factory.mktemp("healthy")
    (folder / "readings.yaml").write_text(READINGS, encoding="utf-8")
    (folder / "page.md").write_text(PAGE, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        checked = _run(*_with_remaps("check", box))
        assert checked.exit_code == 0, checked.output
        archived = _run(*_with_remaps("archive", box, *ARCHIVE_FAST))
        assert archived.exception is None or archived.exit_code in (0, 1), archived.output
    record = (folder / "snapshots" / "victim.json").read_text(encoding="utf-8")
    for section in ("metadata", "captures", "archive", "drift", "health"):
        assert f'"{section}":' in record  # every kind of damage below has a target
    return folder


@pytest.fixture
def project(healthy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "project"
    shutil.copytree(healthy, folder)
    monkeypatch.chdir(folder)
    for name in ("LINKKEEPER_CONFIG", "LINKKEEPER_FORMAT", "LINKKEEPER_REMAP", "GITHUB_TOKEN",
                 "IA_ACCESS_KEY", "IA_SECRET_KEY", "GITHUB_STEP_SUMMARY"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IA_CONFIG_FILE", str(tmp_path / "no-ia.ini"))
    return folder


def damage_victim(folder: Path, kind: str) -> bytes:
    path = folder / "snapshots" / "victim.json"
    text = path.read_text(encoding="utf-8")
    change = DAMAGE[kind][0]
    raw = text.replace('"The damaged one"', '"The damaged \xff one"').encode("latin-1", "replace")
    damaged = raw if change is None else change(text).encode("utf-8")
    path.write_bytes(damaged)
    return damaged


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("kind", list(DAMAGE))
def test_a_damaged_record_is_named_kept_and_the_rest_goes_on(
    box: Sandbox, project: Path, kind: str, command: str
) -> None:
    damaged = damage_victim(project, kind)
    args, carried_on = COMMANDS[command]
    result = _run(*args(box))

    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.output,
        result.exc_info,
    )
    assert "Traceback" not in result.output
    assert (project / "snapshots" / "victim.json").read_bytes() == damaged  # byte for byte
    assert not list((project / "snapshots").glob(".victim.json.*"))  # no temp file either
    assert carried_on(project, result), result.output
    if command == "import":  # it never reads the ledger
        return
    assert result.exit_code == 2, result.output
    message = result.stderr
    assert re.search(r"snapshots/victim\.json(:\d+(:\d+)?)?: ", message), message
    assert DAMAGE[kind][1] in message, message
    assert "delete it to start that reading's history again" in message
    fix = "resolve the conflict" if kind == "merge-conflict" else "restore it from git"
    assert fix in message
    assert "Error: Error:" not in message
