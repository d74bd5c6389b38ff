"""Internet Archive keys never leave the Authorization header: not in output, logs or files.

Runs ``archive`` (success, refusal, refused keys, unreachable archive, keys from ia.ini) and
``check`` with distinctive fake keys, then greps everything the runs produced for them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from linkkeeper.cli import cli
from linkkeeper.sandbox import Sandbox

ACCESS, SECRET = "AKcanaryACCESS4417", "SKcanary%SECRET9382"
WRONG_SECRET = "SKcanaryWRONG5150"
WEB = "web.archive.org"
READINGS = """\
weeks:
  - week: 1
    posted: 2026-01-05
    readings:
      - id: kept
        url: https://blog.example/post/live
      - id: blocked
        url: https://blog.example/post/blocked
"""
FAST = ["--poll-interval", "0.01", "--cdx-interval", "0", "--captures-per-minute", "60000"]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "readings.yaml").write_text(READINGS, encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(home))  # never the developer's ~/.ia
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("IA_CONFIG_FILE", str(home / "absent-ia.ini"))
    for name in ("IA_ACCESS_KEY", "IA_SECRET_KEY", "LINKKEEPER_REMAP", "LINKKEEPER_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def invoke(box: Sandbox, command: str, *args: str, env: dict[str, str]) -> Result:
    remaps = [part for rule in box.remap_rules() for part in ("--remap", rule)]
    argv = [command, "--allow-private", *remaps, *args]
    return CliRunner().invoke(cli, argv, env=env, catch_exceptions=False)


def produced_files(root: Path, skip: set[Path]) -> list[str]:
    """The text of every file under ``root`` (hidden ones too) but the inputs we wrote."""
    return [
        path.read_text(encoding="utf-8", errors="replace")
        for path in sorted(root.rglob("*"))
        if path.is_file() and path not in skip
    ]


def test_keys_never_appear_in_anything_a_run_produces(
    clean_sandbox: Sandbox, project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    machine = clean_sandbox.wayback
    machine.configure(access_key=ACCESS, secret_key=SECRET, captures_per_minute=100_000)
    machine.fail_url("https://blog.example/post/blocked", "error:blocked-url")
    keys = {"IA_ACCESS_KEY": ACCESS, "IA_SECRET_KEY": SECRET}
    ini = project / "home" / "ia.ini"
    ini.write_text(f"[s3]\naccess = {ACCESS}\nsecret = {SECRET}\n", encoding="utf-8")
    results = [
        invoke(clean_sandbox, "archive", *FAST, "--format", "json", env=keys),
        invoke(clean_sandbox, "archive", *FAST, "--refresh-captures", env=keys),
        invoke(  # keys from ia.ini, into a second ledger
            clean_sandbox,
            "archive",
            *FAST,
            "--snapshots",
            "from-ini",
            env={"IA_CONFIG_FILE": str(ini)},
        ),
        invoke(  # refused keys: 401
            clean_sandbox,
            "archive",
            *FAST,
            "--snapshots",
            "wrong",
            env={"IA_ACCESS_KEY": ACCESS, "IA_SECRET_KEY": WRONG_SECRET},
        ),
        invoke(  # the archive unreachable: error texts end up in the output
            clean_sandbox,
            "archive",
            *FAST,
            "--snapshots",
            "down",
            "--wayback-url",
            "http://127.0.0.1:9",
            "--dry-run",
            env=keys,
        ),
        invoke(
            clean_sandbox,
            "archive",
            *FAST,
            "--snapshots",
            "down",
            "--wayback-url",
            "http://127.0.0.1:9",
            "--format",
            "json",
            env=keys,
        ),
        invoke(
            clean_sandbox,
            "check",
            "--host-interval",
            "0",
            "--fail-on",
            "never",
            "--output",
            "report.json",
            env=keys,
        ),
    ]
    # The keys were really used (so this test can fail): SPN2 saw them, captures were made.
    posted = clean_sandbox.requests.matching(WEB, "/save", "POST")
    assert any(r.headers.get("authorization") == f"LOW {ACCESS}:{SECRET}" for r in posted)
    assert '"state": "captured"' in (project / "snapshots" / "kept.json").read_text()
    assert '"state": "refused"' in (project / "snapshots" / "blocked.json").read_text()
    assert "refused the keys" in results[3].stderr
    assert "127.0.0.1:9" in results[5].stderr  # the error is shown (nothing was recorded:
    assert not (project / "down" / "kept.json").exists()  # an unreachable archive teaches nothing)
    assert (project / "report.json").is_file()

    text = "\n".join(
        [
            *(r.stdout for r in results),
            *(r.stderr for r in results),
            caplog.text,
            *(record.getMessage() for record in caplog.records),
            *produced_files(project, {ini, project / "readings.yaml"}),
        ]
    )
    for value in (ACCESS, SECRET, WRONG_SECRET):
        assert value not in text
