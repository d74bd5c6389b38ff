"""Discord: ``week N --post``, healing posted weeks, alerts, rate limits and failures, all
against the sandbox webhook (``linkkeeper/sandbox/discord.py``) over real loopback sockets."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from _site_fixture import Plan, write_ledger
from click.testing import CliRunner, Result

from linkkeeper.cli import cli
from linkkeeper.curriculum.readings import load
from linkkeeper.ledger.store import Ledger
from linkkeeper.outputs import discord, webhook
from linkkeeper.outputs.pages import build
from linkkeeper.outputs.webhook import ClientSettings, DiscordError, Webhook, WebhookClient
from linkkeeper.sandbox import Sandbox
from linkkeeper.sandbox.discord import HOST, TOKEN, WEBHOOK_ID, WEBHOOK_URL, DiscordAPI
from linkkeeper.web.remap import Remapper

CURRICULUM = """\
title: Discord test list
weeks:
  - week: 1
    title: Pings
    posted: 2026-02-24
    prompt: "Read one @everyone, or ask <@123> and @here"
    readings:
      - id: loud
        title: "Attention @everyone <@123> <@&456> @here"
        url: https://example.org/loud
      - id: fragile
        title: Fragile post
        url: https://example.org/fragile
      - id: steady
        title: Steady paper
        url: https://example.org/steady
  - week: 2
    readings:
      - id: other
        title: Other reading
        url: https://example.org/other
"""
ALIVE = {"loud": Plan(), "fragile": Plan(), "steady": Plan(), "other": Plan()}
NEW_HOME = "https://example.org/new-home"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[DiscordAPI, Sandbox]]:
    api = DiscordAPI(bucket_limit=5, bucket_window=0.3)
    with Sandbox(api.hosts()) as box:
        yield api, box


@pytest.fixture
def api(served: tuple[DiscordAPI, Sandbox]) -> DiscordAPI:
    served[0].reset()
    served[1].requests.clear()
    return served[0]


@pytest.fixture
def box(served: tuple[DiscordAPI, Sandbox], api: DiscordAPI) -> Sandbox:
    return served[1]


def project(root: Path, plans: dict[str, Plan], curriculum: str = CURRICULUM) -> Path:
    """A folder with readings.yaml and a ledger in snapshots/ saying what ``plans`` say."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "readings.yaml").write_text(curriculum, encoding="utf-8")
    write_ledger(root / "snapshots", load(root / "readings.yaml").readings(), plans)
    return root


def post(box: Sandbox, root: Path, *args: str, url: str = WEBHOOK_URL) -> Result:
    argv = [
        "week",
        *args,
        "--post",
        "--readings",
        str(root / "readings.yaml"),
        "--snapshots",
        str(root / "snapshots"),
        "--allow-private",
    ]
    for rule in box.remap_rules():
        argv += ["--remap", rule]
    return CliRunner().invoke(cli, argv, env={"DISCORD_WEBHOOK_URL": url, "HOME": str(root)})


def state(root: Path) -> dict:
    return json.loads((root / "snapshots" / "_discord.json").read_text(encoding="utf-8"))


class Sleeps:
    """Records the waits the client asks for (and yields, without really waiting)."""

    def __init__(self, real: bool = False) -> None:
        self.waits: list[float] = []
        self.real = real

    async def __call__(self, seconds: float) -> None:
        self.waits.append(round(seconds, 3))
        await asyncio.sleep(seconds if self.real else 0)


def client(box: Sandbox, sleep: Sleeps | None = None, **settings: float) -> WebhookClient:
    options = ClientSettings(allow_private=True, **settings)  # type: ignore[arg-type]
    remap = Remapper.parse(box.remap_rules())
    return WebhookClient(Webhook.parse(WEBHOOK_URL), options, remap=remap, sleep=sleep or Sleeps())


def heal(
    box: Sandbox, root: Path, day: date = date(2026, 3, 3), **kw: object
) -> discord.NightReport:
    site = build(load(root / "readings.yaml"), Ledger(root / "snapshots"))
    settings = ClientSettings(allow_private=True, backoff=0.01, retries=1)
    work = discord.heal_and_alert(
        site,
        Webhook.parse(WEBHOOK_URL),
        root / "snapshots",
        today=day,
        settings=settings,
        remap=Remapper.parse(box.remap_rules()),
        sleep=Sleeps(real=True),
        **kw,
    )  # type: ignore[arg-type]
    return asyncio.run(work)


def next_night(root: Path, new: Path, plans: dict[str, Plan]) -> Path:
    """The same project on a later night: a ledger saying ``plans``, the Discord record kept."""
    project(new, plans)
    shutil.copy(root / "snapshots" / "_discord.json", new / "snapshots" / "_discord.json")
    return new


# -- the webhook URL ------------------------------------------------------------------------
def test_webhook_urls_are_parsed_and_errors_never_repeat_the_token() -> None:
    hook = Webhook.parse(f"https://discord.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}")
    assert (hook.id, hook.origin) == (WEBHOOK_ID, "https://discord.com")
    assert hook.base == f"https://discord.com/api/v10/webhooks/{WEBHOOK_ID}/{TOKEN}"
    assert TOKEN not in repr(hook) and TOKEN not in hook.redacted
    assert Webhook.parse(f"https://ptb.discord.com/api/v9/webhooks/{WEBHOOK_ID}/{TOKEN}/").id
    for bad in (
        f"https://discord.com/api/webhooks/{TOKEN}",
        f"ftp://discord.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}",
        f"discord.com/{WEBHOOK_ID}/{TOKEN}",
        "",
    ):
        with pytest.raises(DiscordError) as caught:
            Webhook.parse(bad)
        assert TOKEN not in str(caught.value) and "api/webhooks/ID/TOKEN" in str(caught.value)


# -- 1. posting the week ----------------------------------------------------------------------
def test_week_post_sends_the_post_pings_nobody_and_records_the_ids(
    tmp_path: Path, api: DiscordAPI, box: Sandbox
) -> None:
    root = project(tmp_path, ALIVE)
    printed = CliRunner().invoke(
        cli,
        [
            "week",
            "1",
            "--readings",
            str(root / "readings.yaml"),
            "--snapshots",
            str(root / "snapshots"),
        ],
    )
    result = post(box, root, "1")
    assert result.exit_code == 0, result.output
    assert "posted week 1 to Discord (1 message)" in result.stdout
    [message] = api.posted()
    assert message.content == printed.stdout.strip()  # what `week 1` prints, exactly
    assert "Attention @\u200beveryone" in message.content and "@\u200bhere" in message.content
    assert not message.pinged  # nobody: not @everyone, not user 123, not role 456
    assert message.flags & webhook.SUPPRESS_EMBEDS and message.embeds == []
    [request] = box.requests.matching(HOST, "/api/v10/webhooks/", "POST")
    body = json.loads(request.body)
    assert body["allowed_mentions"] == {"parse": []} and request.path.endswith("?wait=true")
    assert state(root)["weeks"]["1"]["messages"] == [message.id]
    assert state(root)["weeks"]["1"]["webhook"] == WEBHOOK_ID

    again = post(box, root, "1")  # posting twice never duplicates
    assert again.exit_code == 0 and "already posted and is up to date" in again.stdout
    assert len(api.posted()) == 1 and len(box.requests) == 1


def test_the_sandbox_would_ping_without_allowed_mentions(api: DiscordAPI, box: Sandbox) -> None:
    """The guard above means something: the same text without ``allowed_mentions`` pings."""

    async def raw() -> None:
        async with client(box) as c:
            assert c._client is not None
            await c._client.post(
                c.webhook.base, params={"wait": "true"}, json={"content": "hi @everyone and <@123>"}
            )

    asyncio.run(raw())
    [message] = api.posted()
    assert message.pinged and message.mention_everyone and message.mentions == ["123"]


def test_a_long_week_is_posted_as_several_messages_under_the_limit(
    tmp_path: Path, api: DiscordAPI, box: Sandbox
) -> None:
    many = "weeks:\n- week: 1\n  readings:\n" + "".join(
        f"  - id: r{i}\n    title: Reading number {i} with a rather long title for splitting\n"
        f"    url: https://example.org/{'x' * 60}/{i}\n"
        for i in range(40)
    )
    root = project(tmp_path, {f"r{i}": Plan() for i in range(40)}, many)
    result = post(box, root, "1")
    assert result.exit_code == 0, result.output
    posted = api.posted()
    assert len(posted) >= 3 and all(len(m.content) <= 2000 for m in posted)
    assert [m.content for m in posted][-1].endswith(f"({len(posted)}/{len(posted)})")
    assert state(root)["weeks"]["1"]["messages"] == [m.id for m in posted]


def test_content_over_2000_characters_is_refused_with_discords_400(
    api: DiscordAPI, box: Sandbox
) -> None:
    async def go() -> None:
        async with client(box) as c:
            await c.execute("x" * 2001)

    with pytest.raises(DiscordError) as caught:
        asyncio.run(go())
    assert caught.value.status == 400 and caught.value.code == 50035
    assert "Must be 2000 or fewer in length" in str(caught.value) and not caught.value.later
    assert api.posted() == []


def test_an_unknown_webhook_is_a_clear_error_and_is_not_retried(
    tmp_path: Path, api: DiscordAPI, box: Sandbox
) -> None:
    root = project(tmp_path, ALIVE)
    wrong = f"https://discord.com/api/webhooks/1999999999999999999/{TOKEN}"
    result = post(box, root, "1", url=wrong)
    assert result.exit_code == 1
    assert "404 Unknown Webhook (code 10015)" in result.stderr
    assert "update DISCORD_WEBHOOK_URL" in result.stderr and TOKEN not in result.output
    assert len(box.requests) == 1  # Discord asks clients never to retry a 404 webhook
    missing = CliRunner().invoke(
        cli,
        ["week", "1", "--post", "--readings", str(root / "readings.yaml")],
        env={"DISCORD_WEBHOOK_URL": ""},
    )
    assert missing.exit_code == 2 and "Copy Webhook URL" in missing.stderr


def test_a_private_webhook_address_is_refused_without_allow_private(tmp_path: Path) -> None:
    root = project(tmp_path, ALIVE)
    result = CliRunner().invoke(
        cli,
        [
            "week",
            "1",
            "--post",
            "--readings",
            str(root / "readings.yaml"),
            "--snapshots",
            str(root / "snapshots"),
        ],
        env={"DISCORD_WEBHOOK_URL": f"http://127.0.0.1:9/api/webhooks/{WEBHOOK_ID}/{TOKEN}"},
    )
    assert result.exit_code == 2 and "--allow-private" in result.stderr
    assert TOKEN not in result.output
    plain = CliRunner().invoke(
        cli,
        [
            "week",
            "1",
            "--post",
            "--readings",
            str(root / "readings.yaml"),
            "--snapshots",
            str(root / "snapshots"),
        ],
        env={"DISCORD_WEBHOOK_URL": WEBHOOK_URL.replace("https:", "http:")},
    )
    assert plain.exit_code == 2 and "is not https" in plain.stderr and TOKEN not in plain.output


# -- 4. rate limits and failures ----------------------------------------------------------------
def test_429_waits_retry_after_from_the_body_then_from_the_header(
    api: DiscordAPI, box: Sandbox
) -> None:
    sleeps = Sleeps()

    async def go() -> None:
        async with client(box, sleeps) as c:
            api.rate_limit(2, retry_after=0.25)
            await c.execute("one")
            api.rate_limit(1, retry_after=2.5, header_only=True)  # Retry-After: 3
            await c.execute("two")

    asyncio.run(go())
    assert [m.content for m in api.posted()] == ["one", "two"]
    assert sleeps.waits[:2] == [0.25, 0.25] and 3.0 in sleeps.waits
    assert len(box.requests) == 5


def test_a_rate_limit_longer_than_max_wait_is_owed_not_waited(
    api: DiscordAPI, box: Sandbox
) -> None:
    async def go() -> None:
        async with client(box, max_wait=5.0) as c:
            api.rate_limit(1, retry_after=3600)
            await c.execute("one")

    with pytest.raises(DiscordError) as caught:
        asyncio.run(go())
    assert caught.value.later and "rate limited by Discord for 3600 s" in str(caught.value)


def test_an_empty_bucket_is_waited_out_before_the_next_request(box: Sandbox) -> None:
    api = DiscordAPI(bucket_limit=2, bucket_window=0.4)
    with Sandbox(api.hosts()) as own:
        sleeps = Sleeps(real=True)

        async def go() -> None:
            async with client(own, sleeps) as c:
                for n in range(3):
                    await c.execute(f"message {n}")

        asyncio.run(go())
    assert len(api.posted()) == 3 and len(own.requests) == 3  # never a 429
    assert len(sleeps.waits) == 1 and 0 < sleeps.waits[0] <= 0.4


def test_5xx_is_retried_a_bounded_number_of_times(api: DiscordAPI, box: Sandbox) -> None:
    sleeps = Sleeps()

    async def go(text: str) -> None:
        async with client(box, sleeps, retries=3, backoff=0.5) as c:
            await c.execute(text)

    api.fail_next(502, times=2)
    asyncio.run(go("after two 502s"))
    assert [m.content for m in api.posted()] == ["after two 502s"]
    assert sleeps.waits == [0.5, 1.0]

    box.requests.clear()
    api.go_down(500)
    with pytest.raises(DiscordError) as caught:
        asyncio.run(go("never"))
    assert caught.value.later and "500" in str(caught.value)
    assert len(box.requests) == 4  # the first try and three retries, then it gives up
    api.go_down(None)


# -- 2 and 3. healing and alerts ----------------------------------------------------------------
def test_a_reading_that_dies_is_healed_in_place_and_announced_once(
    tmp_path: Path, api: DiscordAPI, box: Sandbox
) -> None:
    root = project(tmp_path / "tuesday", ALIVE)
    assert post(box, root, "1").exit_code == 0
    [message] = api.posted()
    assert heal(box, root).edited == [] and len(box.requests) == 1  # nothing changed: no call

    dead = {**ALIVE, "fragile": Plan("dead", suggestion=NEW_HOME)}
    night = next_night(root, tmp_path / "wednesday", dead)
    report = heal(box, night)
    assert report.status == "ran" and report.edited == [1] and report.alerted == ["fragile"]
    edited = api.messages[message.id]
    assert len(edited.history) == 1 and edited.edited_timestamp is not None
    assert "web.archive.org/web/" in edited.content and "Fragile post" in edited.content
    assert "-# ✏️ updated 3 Mar 2026: Fragile post died (archived copy linked)" in edited.content
    assert not edited.pinged and edited.embeds == []
    alert = api.posted()[-1]
    assert alert.id != message.id and alert.content.startswith("🔴 **1 reading died**")
    assert "**Fragile post** (week 1)" in alert.content
    assert "archived copy: <https://web.archive.org/web/" in alert.content
    assert f"suggested replacement: <{NEW_HOME}>" in alert.content
    assert not alert.pinged and alert.flags & webhook.SUPPRESS_EMBEDS
    patch = json.loads(box.requests.matching(HOST, "/api/v10/", "PATCH")[0].body)
    assert patch["allowed_mentions"] == {"parse": []} and patch["flags"] == 4

    box.requests.clear()
    again = heal(box, night, date(2026, 3, 4))  # the same news the next night: silence
    assert again.edited == [] and again.alerted == [] and len(box.requests) == 0
    assert "up to date" in again.message

    back = next_night(night, tmp_path / "thursday", ALIVE)
    report = heal(box, back, date(2026, 3, 5))
    assert report.edited == [1] and report.alerted == []
    assert "Fragile post is back" in api.messages[message.id].content
    assert "web.archive.org" not in api.messages[message.id].content

    again_dead = next_night(back, tmp_path / "friday", dead)
    assert heal(box, again_dead, date(2026, 3, 6)).alerted == ["fragile"]  # a new death is news


def test_a_moved_reading_is_healed_to_its_new_address(
    tmp_path: Path, api: DiscordAPI, box: Sandbox
) -> None:
    root = project(tmp_path / "tuesday", ALIVE)
    assert post(box, root, "1").exit_code == 0
    moved = next_night(
        root, tmp_path / "later", {**ALIVE, "steady": Plan("moved", suggestion=NEW_HOME)}
    )
    report = heal(box, moved)
    assert report.edited == [1] and report.alerted == []  # moved is not dead: no alert
    content = api.posted()[0].content
    assert f"moved to: <{NEW_HOME}>" in content and "Steady paper moved" in content


def test_a_night_with_discord_down_owes_the_edit_and_the_alert_to_the_next(
    tmp_path: Path, api: DiscordAPI, box: Sandbox
) -> None:
    root = project(tmp_path / "tuesday", ALIVE)
    assert post(box, root, "1").exit_code == 0
    night = next_night(root, tmp_path / "wednesday", {**ALIVE, "fragile": Plan("dead")})
    api.go_down(500)
    report = heal(box, night)
    assert report.status == "deferred" and report.edited == [] and report.alerted == []
    assert report.owed == ["week 1", "the alert"] and "next night" in report.message
    saved = state(night)
    assert saved["weeks"]["1"]["owed"] and saved["alerted"] == {}
    api.go_down(None)
    report = heal(box, night, date(2026, 3, 4))
    assert report.status == "ran" and report.edited == [1] and report.alerted == ["fragile"]
    assert state(night)["weeks"]["1"]["owed"] is None


def test_a_message_deleted_in_discord_stops_its_healing(
    tmp_path: Path, api: DiscordAPI, box: Sandbox
) -> None:
    root = project(tmp_path / "tuesday", ALIVE)
    assert post(box, root, "1").exit_code == 0
    api.messages[api.posted()[0].id].deleted = True
    night = next_night(
        root, tmp_path / "wednesday", {**ALIVE, "steady": Plan("moved", suggestion=NEW_HOME)}
    )
    report = heal(box, night)
    assert report.status == "failed" and "Unknown Message" in report.message
    assert "deleted in Discord" in state(night)["weeks"]["1"]["gone"]
    box.requests.clear()
    assert heal(box, night).edited == [] and len(box.requests) == 0


def test_nothing_is_alerted_or_edited_on_a_night_with_no_posted_weeks(
    tmp_path: Path, api: DiscordAPI, box: Sandbox
) -> None:
    root = project(tmp_path, ALIVE)
    report = heal(box, root)
    assert report.status == "ran" and len(box.requests) == 0
    assert (root / "snapshots" / "_discord.json").is_file()
    assert datetime.now(UTC).year >= 2026


# -- the nightly job, end to end on the sandbox web, Wayback Machine and Discord ---------------
NIGHTLY_CURRICULUM = """\
weeks:
  - week: 1
    title: Convolutions
    readings:
      - id: more-technical-explainer
        title: more-technical explainer
        url: https://jalammar.github.io/illustrated-transformer/
      - id: less-technical-explainer
        title: less-technical explainer @everyone
        url: https://thenextweb.com/news/understanding-transformers-the-machine-learning-model-behind-gpt-3-machine-learning-ai-syndication
"""


def nightly_options(root: Path, web: Sandbox, box: Sandbox, **extra: object) -> object:
    from linkkeeper import nightly
    from linkkeeper.archive.iakeys import Keys
    from linkkeeper.check.command import CheckOptions
    from linkkeeper.core.config import HostOverride

    wayback = web.wayback.config
    return nightly.NightlyOptions(
        check=CheckOptions(
            readings=root / "readings.yaml",
            snapshots=root / "snapshots",
            remap=(*web.remap_rules(), *box.remap_rules()),
            allow_private=True,
            host_interval=0.0,
            fail_on="never",
            hosts={"arxiv.org": HostOverride(interval=0.0)},
        ),
        site=root / "site",
        markdown=None,
        issue=False,
        ia_keys=Keys(wayback.access_key, wayback.secret_key, "sandbox"),
        archive={"cdx_interval": 0.0, "poll_interval": 0.0, "captures_per_minute": 600.0},
        discord_webhook=WEBHOOK_URL,
        discord_retries=1,
        discord_backoff=0.01,
        **extra,
    )


def test_a_night_with_discord_answering_500_still_commits_the_ledger(
    tmp_path: Path, clean_sandbox: Sandbox, api: DiscordAPI, box: Sandbox
) -> None:
    from linkkeeper import nightly

    (tmp_path / "readings.yaml").write_text(NIGHTLY_CURRICULUM, encoding="utf-8")
    curriculum = load(tmp_path / "readings.yaml")
    assert post(box, tmp_path, "1").exit_code == 0
    [message] = api.posted()
    results = []
    for night in range(5):
        if night == 2:
            api.go_down(500)  # the night the tutorial is found dead
        if night == 3:
            api.go_down(None)
        box.requests.clear()
        start = datetime(2026, 3, 1, 3, 17, tzinfo=UTC).replace(day=1 + night)
        options = nightly_options(tmp_path, clean_sandbox, box)
        result = nightly.run(options, curriculum, clock=lambda s=start: s, say=lambda _: None)
        results.append((result, len(box.requests)))
    notes = [next(s for s in r.night.stages if s.name == "discord") for r, _ in results]
    assert [n.status for n in notes] == ["ran", "ran", "deferred", "ran", "ran"]
    assert [r.exit_code for r, _ in results] == [0, 0, 0, 0, 0]  # Discord never fails a night
    assert results[0][1] == 0 and results[1][1] == 0  # nothing died: Discord is not asked
    assert results[2][1] == 4  # edit and alert, each tried twice, then owed
    record = json.loads((tmp_path / "snapshots" / "less-technical-explainer.json").read_text())
    assert record["health"]["state"] == "dead"  # the ledger kept the night's results
    assert "owed" in notes[2].message or "next night" in notes[2].message
    assert notes[3].counts == {"healed": 1, "alerted": 1}
    healed = api.messages[message.id]
    assert (
        "-# ✏️ updated 4 Mar 2026: less-technical explainer @\u200beveryone died" in healed.content
    )
    alert = api.posted()[-1]
    assert "less-technical explainer" in alert.content and not alert.pinged
    assert results[4][1] == 0  # the fifth night: same news, no requests at all
    assert len(api.posted()) == 2


def test_the_webhook_url_appears_in_zero_bytes_of_output_logs_and_files(
    tmp_path: Path,
    clean_sandbox: Sandbox,
    api: DiscordAPI,
    box: Sandbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    (tmp_path / "readings.yaml").write_text(NIGHTLY_CURRICULUM, encoding="utf-8")
    outputs = [post(box, tmp_path, "1").output]
    api.fail_next(500, times=10)
    outputs.append(post(box, tmp_path, "1").output)  # nothing changed: no call, no error
    env = {
        "DISCORD_WEBHOOK_URL": WEBHOOK_URL,
        "HOME": str(tmp_path),
        "LINKKEEPER_DISCORD_RETRIES": "0",
        "IA_CONFIG_FILE": str(tmp_path / "no-ia.ini"),
    }
    base = [
        "nightly",
        "--readings",
        str(tmp_path / "readings.yaml"),
        "--snapshots",
        str(tmp_path / "snapshots"),
        "--site",
        str(tmp_path / "site"),
        "--markdown",
        str(tmp_path / "READINGS.md"),
        "--no-issue",
        "--issue-file",
        str(tmp_path / "i.md"),
        "--commit-message-file",
        str(tmp_path / "c.txt"),
        "--summary-file",
        str(tmp_path / "summary.md"),
        "--allow-private",
        "--host-interval",
        "0",
        "--cdx-interval",
        "0",
        "--poll-interval",
        "0",
        "--fail-on",
        "never",
        "--max-age",
        "0",
        "--force",
    ]
    for rule in (*clean_sandbox.remap_rules(), *box.remap_rules()):
        base += ["--remap", rule]
    for trouble in ("down", "deleted"):
        if trouble == "deleted":
            api.reset()
            api.delete_webhook()
        for _ in range(3):
            result = CliRunner().invoke(cli, base, env=env)
            outputs.append(result.output)
    bad = CliRunner().invoke(
        cli,
        [
            "week",
            "1",
            "--post",
            "--readings",
            str(tmp_path / "readings.yaml"),
            "--discord-webhook",
            WEBHOOK_URL.replace("/api/", "/apx/"),
        ],
    )
    outputs.append(bad.output)
    assert bad.exit_code == 2
    text = "\n".join(outputs) + caplog.text
    assert "discord" in text.lower()
    for secret in (TOKEN, WEBHOOK_URL):
        assert secret not in text
        for path in tmp_path.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path


def test_without_a_webhook_discord_is_off(
    tmp_path: Path, clean_sandbox: Sandbox, api: DiscordAPI, box: Sandbox
) -> None:
    from linkkeeper import nightly

    (tmp_path / "readings.yaml").write_text(NIGHTLY_CURRICULUM, encoding="utf-8")
    options = nightly_options(tmp_path, clean_sandbox, box)
    options = type(options)(**{**options.__dict__, "discord_webhook": None})  # type: ignore[attr-defined]
    start = datetime(2026, 3, 1, 3, 17, tzinfo=UTC)
    result = nightly.run(
        options, load(tmp_path / "readings.yaml"), clock=lambda: start, say=lambda _: None
    )
    assert [s.name for s in result.night.stages if s.name == "discord"] == []
    assert len(box.requests) == 0 and not (tmp_path / "snapshots" / "_discord.json").exists()


def test_the_webhook_also_comes_from_linkkeepers_variable_and_the_config_file(
    tmp_path: Path, api: DiscordAPI, box: Sandbox
) -> None:
    root = project(tmp_path, ALIVE)
    rules = "".join(f"  '{rule}',\n" for rule in box.remap_rules())
    (root / "pyproject.toml").write_text(
        f'[tool.linkkeeper]\ndiscord_webhook = "{WEBHOOK_URL}"\nallow_private = true\n'
        f"remap = [\n{rules}]\n",
        encoding="utf-8",
    )
    base = [
        "--config",
        str(root / "pyproject.toml"),
        "week",
        "1",
        "--post",
        "--readings",
        str(root / "readings.yaml"),
        "--snapshots",
        str(root / "snapshots"),
    ]
    result = CliRunner().invoke(cli, base, env={"DISCORD_WEBHOOK_URL": None})
    assert result.exit_code == 0, result.output
    assert len(api.posted()) == 1
    api.reset()
    (root / "snapshots" / "_discord.json").unlink()
    (root / "pyproject.toml").write_text(
        f"[tool.linkkeeper]\nallow_private = true\nremap = [\n{rules}]\n", encoding="utf-8"
    )
    env = {"DISCORD_WEBHOOK_URL": None, "LINKKEEPER_DISCORD_WEBHOOK": WEBHOOK_URL}
    result = CliRunner().invoke(cli, base, env=env)
    assert result.exit_code == 0, result.output
    assert len(api.posted()) == 1 and TOKEN not in result.output


def test_a_healed_post_that_grows_or_shrinks_adds_or_deletes_messages(
    tmp_path: Path, api: DiscordAPI, box: Sandbox
) -> None:
    def week(n: int) -> str:
        return "weeks:\n- week: 1\n  readings:\n" + "".join(
            f"  - id: r{i}\n    title: Reading {i} with a title long enough to need room\n"
            f"    url: https://example.org/{'y' * 70}/{i}\n"
            for i in range(n)
        )

    root = project(tmp_path / "one", {"r0": Plan()}, week(1))
    assert post(box, root, "1").exit_code == 0
    [first] = api.posted()
    grown = tmp_path / "many"
    project(grown, {f"r{i}": Plan() for i in range(30)}, week(30))
    shutil.copy(root / "snapshots" / "_discord.json", grown / "snapshots" / "_discord.json")
    assert heal(box, grown).edited == [1]
    posted = api.posted()
    assert len(posted) >= 3 and posted[0].id == first.id and first.id in api.messages
    assert state(grown)["weeks"]["1"]["messages"] == [m.id for m in posted]
    assert "Reading 29 with a title" in posted[-1].content and "added" in posted[-1].content

    shrunk = project(tmp_path / "one-again", {"r0": Plan()}, week(1))
    shutil.copy(grown / "snapshots" / "_discord.json", shrunk / "snapshots" / "_discord.json")
    assert heal(box, shrunk, date(2026, 3, 4)).edited == [1]
    assert [m.id for m in api.posted()] == [first.id]  # the extra messages were deleted
    assert state(shrunk)["weeks"]["1"]["messages"] == [first.id]


def test_merging_two_sides_keeps_every_posted_week_and_every_alert() -> None:
    week = {"webhook": "1", "messages": ["10"], "shown": {"a": "ok"}}
    base = {"version": 1, "weeks": {"1": week, "2": week}, "alerted": {"x": "t1"}}
    ours = {
        **base,
        "weeks": {"1": {**week, "shown": {"a": "dead w"}}, "2": week},
        "alerted": {"x": "t1", "a": "t2"},
    }
    theirs = {
        **base,
        "weeks": {"1": week, "2": {**week, "messages": ["20"]}, "3": {**week, "messages": ["30"]}},
        "alerted": {"y": "t3"},
    }
    merged = discord.merge_records(base, ours, theirs)
    assert merged["weeks"]["1"]["shown"] == {"a": "dead w"}  # only tonight changed it
    assert merged["weeks"]["2"]["messages"] == ["20"]  # only the organizer changed it
    assert merged["weeks"]["3"]["messages"] == ["30"]  # new on their side
    assert merged["alerted"] == {"x": "t1", "a": "t2", "y": "t3"}
    both = {**theirs, "weeks": {"1": {**week, "messages": ["11"]}}}
    assert discord.merge_records(base, ours, both)["weeks"]["1"]["messages"] == ["11"]
    same = {**theirs, "weeks": {"1": {**week, "shown": {"a": "moved m"}}}}
    assert discord.merge_records(base, ours, same)["weeks"]["1"]["shown"] == {"a": "dead w"}
