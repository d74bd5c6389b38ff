"""Discord-bound text pings nobody: ``@everyone``, ``@here`` and ``<@123>`` are made inert in
every field of the week post, whether an organizer wrote it or a page's title brought it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from linkkeeper.cli import cli
from linkkeeper.core.models import Reading
from linkkeeper.ledger.store import Ledger
from linkkeeper.outputs.mentions import ZWSP, neutralize, neutralize_url

# a mention Discord would act on: not already broken by a zero-width space
LIVE_MENTION = re.compile(r"@(everyone|here)\b|<@[!&]?\d+>", re.IGNORECASE)
READINGS = """\
title: Mentions
weeks:
  - week: 1
    title: Pings @everyone
    prompt: "Discuss, @here and <@123456789012345678>"
    readings:
      - id: organizer
        title: "Read this @everyone"
        url: https://blog.example/post/live
        note: "@HERE too, and <@&42> and <@!7>"
      - id: fetched
        url: https://medium.com/@here/a-post-1f6f42faee1
"""


def test_neutralize_breaks_every_mention_and_nothing_else() -> None:
    assert neutralize("hi @everyone and @here!") == f"hi @{ZWSP}everyone and @{ZWSP}here!"
    assert neutralize("<@123> <@!45> <@&67>") == f"<@{ZWSP}123> <@{ZWSP}!45> <@{ZWSP}&67>"
    assert neutralize("@Everyone") == f"@{ZWSP}Everyone"
    harmless_texts = ("@heremaps", "me@here.org", "@everyones", "no at all", "@ here",
                      "https://medium.com/@here/x")  # fmt: skip
    for harmless in harmless_texts:
        assert neutralize(harmless) == harmless
    assert neutralize_url("https://medium.com/@here/x") == "https://medium.com/%40here/x"
    assert neutralize_url("https://medium.com/@hackerm0m/x") == "https://medium.com/@hackerm0m/x"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "readings.yaml").write_text(READINGS, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with Ledger(tmp_path / "snapshots") as ledger:  # a page whose title pings
        url = "https://medium.com/@here/a-post-1f6f42faee1"
        record = ledger.record_for(Reading(id="fetched", title=None, url=url))
        record.data["metadata"] = {
            "url": url,
            "title": {"value": "Hello @everyone", "source": "og:title", "confidence": "high"},
        }
        ledger.save(record)
    return tmp_path


@pytest.mark.parametrize("fmt", ["discord", "json", "markdown"])
def test_the_week_post_pings_nobody(project: Path, fmt: str) -> None:
    result = CliRunner().invoke(cli, ["week", "1", "--format", fmt], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = result.stdout
    if fmt == "json":
        text = "\n".join(json.loads(text)["discord_messages"])
    assert LIVE_MENTION.search(text) is None, text
    assert f"Read this @{ZWSP}everyone" in text  # the organizer's title, still readable
    assert f"Hello @{ZWSP}everyone" in text  # the fetched one
    assert f"@{ZWSP}HERE too" in text
    assert "https://medium.com/%40here/a-post-1f6f42faee1" in text  # the link still works
