"""``linkkeeper demo`` and ``linkkeeper sandbox``: the whole pipeline on loopback, for newcomers.

The demo starts the sandbox web and Wayback Machine plus a sandbox GitHub API, remaps the real
URLs of ``readings.yaml`` to them and runs the real nightly job, unchanged, into a fresh
folder: a few simulated nights a day apart, so the health rules (dead only after several
failures over two days) have something to show. Works offline, from any folder (a copy of
``readings.yaml`` ships with the package), and never touches the current ``snapshots/``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click

from linkkeeper.archive import Keys
from linkkeeper.check import CheckOptions, Row
from linkkeeper.core import Health, HostOverride
from linkkeeper.ledger import NO_GOOD_COPY, LinkChoice
from linkkeeper.nightly import NightlyOptions, NightResult
from linkkeeper.sandbox import Sandbox, start_sandbox
from linkkeeper.sandbox.discord import WEBHOOK_URL as DISCORD_WEBHOOK
from linkkeeper.sandbox.discord import DiscordAPI, channel_html
from linkkeeper.sandbox.github import HOST as GITHUB_HOST
from linkkeeper.sandbox.github import REPO, TOKEN, GitHubAPI

if TYPE_CHECKING:
    from linkkeeper.curriculum import Curriculum

SANDBOX_CRAWL_DELAY = 0.2  # seconds between arXiv requests in the demo (robots.txt says 15)
CRAWL_DELAY_NOTE = (
    f"arXiv's robots.txt asks for 15 s between requests; on the sandbox the demo shortens "
    f"that to {SANDBOX_CRAWL_DELAY} s to stay under half a minute. Real runs obey the 15 s."
)
# The real archive allows about 6 captures a minute, polled every 3 s, CDX every 2 s; the
# sandbox is on this machine, so the demo lifts those limits (and says so).
SANDBOX_ARCHIVE = {"captures_per_minute": 600.0, "poll_interval": 0.05, "cdx_interval": 0.0}
ARCHIVE_NOTE = (
    "the real Wayback Machine takes about 6 captures a minute (polled every 3 s, lookups 2 s "
    "apart); the sandbox one is told to take 600, and the demo polls it every 0.05 s."
)
OUTPUT_FILES = [
    ("Published site", "site/index.html"),
    ("READINGS.md", "READINGS.md"),
    ("Rolling issue text", "rolling-issue.md"),
    ("Job summary", "step-summary.md"),
    ("Commit message", "commit-message.txt"),
    ("Discord channel", "discord-channel.html"),
    ("Ledger", "snapshots/"),
]


# Discord lets a webhook make about 5 requests per 2 s; the sandbox webhook's bucket refills
# every 0.1 s so the demo posts its nine weeks at once (the client obeys the bucket either way).
SANDBOX_DISCORD_WINDOW = 0.1


class DemoError(Exception):
    """The demo cannot start (e.g. --keep names a folder with files in it)."""


def packaged_readings() -> Path:
    """The copy of ``readings.yaml`` shipped in the package (a real file: no zip installs)."""
    return Path(str(resources.files("linkkeeper") / "sandbox" / "data" / "readings.yaml"))


def find_readings(given: Path | None) -> tuple[Path, str]:
    """(curriculum file, how it was chosen): --readings, ./readings.yaml, else the packaged copy."""
    if given is not None:
        return given, str(given)
    local = Path("readings.yaml")
    if local.is_file():
        return local, "readings.yaml in this folder"
    return packaged_readings(), "the copy of readings.yaml shipped with linkkeeper"


def output_folder(keep: Path | None) -> Path:
    """A new temporary folder, or ``keep`` when it is new or empty (never a used folder, so
    the demo cannot write into a real ``snapshots/``)."""
    if keep is None:
        return Path(tempfile.mkdtemp(prefix="linkkeeper-demo-"))
    if keep.exists() and (not keep.is_dir() or any(keep.iterdir())):
        raise DemoError(f"--keep {keep}: not an empty folder; name a new or empty folder")
    keep.mkdir(parents=True, exist_ok=True)
    return keep


@contextmanager
def sandboxes() -> Iterator[tuple[Sandbox, Sandbox]]:
    """The sandbox web + Wayback Machine, and the sandbox GitHub API, both running."""
    from linkkeeper.sandbox.history import seed_history

    web = start_sandbox()
    web.wayback.configure(captures_per_minute=int(SANDBOX_ARCHIVE["captures_per_minute"]))
    seed_history(web.wayback)  # years of captures of the readings that die, breakage included
    discord = DiscordAPI(bucket_window=SANDBOX_DISCORD_WINDOW)
    try:
        with Sandbox(GitHubAPI().hosts() + discord.hosts()) as github:  # + the Discord webhook
            github.discord = discord
            yield web, github
    finally:
        web.stop()


def uncovered_hosts(curriculum: Curriculum, sandbox: Sandbox) -> list[str]:
    """Hosts of the curriculum the sandbox does not imitate (their links would go online)."""
    hosts = {urlsplit(r.url).hostname or "" for r in curriculum.readings() if r.url}
    return sorted(h for h in hosts if h.lower() not in sandbox.hosts)


def options_for(
    web: Sandbox, github: Sandbox, readings: Path, out: Path, last: bool
) -> NightlyOptions:
    """The nightly options of one demo night: remapped, private addresses allowed, sandbox
    keys and GitHub, every output inside ``out``."""
    return NightlyOptions(
        check=CheckOptions(
            readings=readings,
            snapshots=out / "snapshots",
            remap=(*web.remap_rules(), *github.remap_rules()),
            allow_private=True,
            hosts={"arxiv.org": HostOverride(interval=SANDBOX_CRAWL_DELAY)},
        ),
        discord_webhook=DISCORD_WEBHOOK,
        site=out / "site",
        markdown=out / "READINGS.md",
        github_repo=REPO,
        github_api=github.origin(GITHUB_HOST),
        github_token=TOKEN,
        ia_keys=Keys(web.wayback.config.access_key, web.wayback.config.secret_key, "sandbox"),
        archive=SANDBOX_ARCHIVE,
        summary_file=out / "step-summary.md" if last else None,
        issue_file=out / "rolling-issue.md",
        commit_message_file=out / "commit-message.txt",
    )


def _progress(total: int) -> Callable[[Row], None]:
    done = 0

    def show(row: Row) -> None:
        nonlocal done
        done += 1
        health = row.result.health
        extra = f" ({health})" if health and health not in (Health.ALIVE, Health.UNKNOWN) else ""
        click.echo(f"    [{done:>2}/{total}] {row.result.verdict!s:<9} {row.reading.id}{extra}")

    return show


def _counts(title: str, table: dict[str, int]) -> str:
    return f"  {title:<9} " + ", ".join(f"{name} {n}" for name, n in table.items())


def fallback_lines(reading_id: str, choice: LinkChoice) -> list[str]:
    """What members get for one reading whose original is failing or dead, and which captures
    were rejected and why (the demo's proof that no capture of the breakage is offered)."""
    lines = [f"  {reading_id} ({choice.state.value}):"]
    if choice.capture is not None:
        day = choice.capture.day.isoformat() if choice.capture.day else choice.capture.timestamp
        lines.append(f"      offered:  {choice.capture_label}, {day}: {choice.capture.url}")
    else:
        lines.append(f"      offered:  nothing ({NO_GOOD_COPY})")
    for timestamp, why in reversed(choice.rejected):
        lines.append(f"      rejected: {timestamp[:4]}-{timestamp[4:6]}-{timestamp[6:8]}: {why}")
    return lines


def show_fallbacks(curriculum: Curriculum, snapshots: Path) -> None:
    """The archived copy each broken reading links, with the captures rejected on the way."""
    from linkkeeper.ledger import Ledger, choose

    ledger = Ledger(snapshots)
    chosen = [(r.id, choose(r, ledger.get(r.id))) for r in curriculum.readings() if r.url]
    broken = [(rid, c) for rid, c in chosen if c.original_broken]
    if not broken:
        return
    click.secho("\nArchived copies offered instead of the broken originals", bold=True)
    for reading_id, choice in broken:
        for line in fallback_lines(reading_id, choice):
            click.echo(line)


def main(keep: Path | None = None, readings: Path | None = None, nights: int = 3) -> int:
    """The demo; returns 0 (the findings are the point of a demo, not a failure)."""
    from linkkeeper import nightly
    from linkkeeper.check import print_rich, render_text
    from linkkeeper.curriculum import CurriculumError, load

    started = time.monotonic()
    path, chosen = find_readings(readings)
    try:
        curriculum = load(path)
    except CurriculumError as exc:
        raise DemoError(f"{path} cannot be used:\n{exc}") from None
    out = output_folder(keep)
    total = len(curriculum.readings())
    click.secho("linkkeeper demo: the nightly job on a built-in sandbox", bold=True)
    click.echo(
        "Loopback imitations of the reading list's sites, the Wayback Machine and GitHub answer "
        "the requests; nothing of yours is changed."
    )
    click.echo(f"  Curriculum: {chosen} ({total} readings)")
    click.echo(f"  Output:     {out}{'' if keep else ' (temporary; --keep DIR to choose)'}")
    click.echo(f"  Note:       {CRAWL_DELAY_NOTE}")
    click.echo(f"  Note:       {ARCHIVE_NOTE}")
    click.echo(
        f"  Nights:     {nights}, simulated a day apart: a link is dead only after "
        "3 failures over 48 h, so one bad night never kills it."
    )
    actions: list[str] = []
    result: NightResult | None = None
    with sandboxes() as (web, github):
        post_weeks(curriculum, out, github, datetime.now(UTC) - timedelta(days=nights))
        if outside := uncovered_hosts(curriculum, web):
            click.secho(
                f"  Online:     the sandbox does not imitate {', '.join(outside)}; those links "
                "are fetched from the real internet (and fail when offline).",
                fg="yellow",
            )
        for night in range(1, nights + 1):
            last = night == nights
            shift = timedelta(days=nights - night)

            def clock(shift: timedelta = shift) -> datetime:
                return datetime.now(UTC) - shift

            click.secho(f"\nNight {night} of {nights} ({clock().date()})", bold=True)
            result = nightly.run(
                options_for(web, github, path, out, last),
                curriculum,
                clock=clock,
                on_row=_progress(total) if last else None,
                say=lambda line: click.echo(f"  {line}"),
            )
            actions.append(result.issue.action if result.issue else "none")
        show_discord(github.discord, out)
    assert result is not None
    outcome = result.night.outcome
    click.secho("\nThe report of the last night", bold=True)
    if sys.stdout.isatty():
        from rich.console import Console

        print_rich(outcome, Console())
    else:
        click.echo(render_text(outcome), nl=False)
    summary = outcome.summary()
    click.echo(_counts("Verdicts:", summary["by_verdict"]))
    click.echo(_counts("Health:", summary["by_health"]))
    fail_on = result.night.fail_on
    click.echo(
        f"  A real night would exit {result.exit_code} (--fail-on {fail_on}: "
        f"{'findings' if result.night.fails else 'nothing at that level'})."
    )
    show_fallbacks(curriculum, out / "snapshots")
    issue = result.issue
    click.secho("\nWhere to look", bold=True)
    for label, name in OUTPUT_FILES:
        click.echo(f"  {label + ':':<20} {out / name}{'/' if name.endswith('/') else ''}")
    if issue is not None and issue.number is not None:
        click.echo(
            f"  The sandbox GitHub has one rolling issue, #{issue.number}; "
            f"night by night it was: {', '.join(actions)}."
        )
    click.echo(f"Done in {time.monotonic() - started:.1f} s.")
    return 0


def post_weeks(curriculum: Curriculum, out: Path, github: Sandbox, when: datetime) -> None:
    """Post every week's Tuesday message to the sandbox channel, as ``week N --post`` does."""
    from linkkeeper.ledger import Ledger
    from linkkeeper.outputs import build, discord
    from linkkeeper.web import Remapper

    webhook = discord.Webhook.parse(DISCORD_WEBHOOK)
    settings = discord.ClientSettings(allow_private=True)
    remap = Remapper.parse(github.remap_rules())
    with Ledger(out / "snapshots") as ledger:
        site = build(curriculum, ledger)
        weeks = [w for w in site.weeks if any(r.url for r in w.readings)]
        for week in weeks:
            work = discord.post_week(
                week, webhook, out / "snapshots", settings=settings, remap=remap, now=when
            )
            discord.run(work)
    from linkkeeper.outputs import weeks_words

    numbers = weeks_words([w.number for w in weeks if w.number is not None])
    click.secho("\nTuesday", bold=True)
    click.echo(
        f"  discord: posted the Tuesday posts of {numbers} to the sandbox channel "
        "through its webhook "
        f"({len(github.discord.posted())} messages; ids in snapshots/_discord.json). "
        f"Note: its bucket refills every {SANDBOX_DISCORD_WINDOW} s (Discord's: about 2 s)."
    )


def _quote(text: str, limit: int = 14) -> list[str]:
    lines = text.splitlines()
    shown = [f"    │ {line}" for line in lines[:limit]]
    if len(lines) > limit:
        shown.append(f"    │ … ({len(lines) - limit} more lines)")
    return shown


def show_discord(api: DiscordAPI, out: Path) -> None:
    """The post as it went out, the same message healed in place, and the alert."""
    from linkkeeper.core import atomic_write_text

    messages = api.posted()
    atomic_write_text(out / "discord-channel.html", channel_html(messages))
    click.secho("\nDiscord (the sandbox channel)", bold=True)
    healed = [m for m in messages if m.history]
    alerts = [m for m in messages if m.content.startswith("🔴")]
    if healed:
        first = healed[0]
        click.echo("  A Tuesday post as it went out:")
        click.echo("\n".join(_quote(first.history[0])))
        click.echo("  ...and the same message after the night its reading died (edited in place):")
        click.echo("\n".join(_quote(first.content)))
        click.echo(f"  {len(healed)} post(s) healed; unchanged posts were not touched.")
    for alert in alerts:
        click.echo("  The alert, posted once:")
        click.echo("\n".join(_quote(alert.content)))
    pinged = sum(m.pinged for m in messages)
    previews = sum(bool(m.embeds) for m in messages)
    click.echo(
        f"  Pings: {pinged}; link previews: {previews} (allowed_mentions: parse nothing; "
        "SUPPRESS_EMBEDS)."
    )


def serve(rules_file: Path | None = None) -> None:
    """``linkkeeper sandbox``: serve until Ctrl-C, printing how to point linkkeeper at it."""
    from linkkeeper.core import atomic_write_text

    with sandboxes() as (web, github):
        rules = web.remap_rules()
        click.secho(
            f"Sandbox running on 127.0.0.1 ({len(web.hosts)} hosts). Ctrl-C to stop.", bold=True
        )
        click.echo("\nRemap rules (one --remap each; LINKKEEPER_REMAP takes them one per line):")
        for rule in rules:
            click.echo(f"  {rule}")
        if rules_file is not None:
            atomic_write_text(rules_file, "\n".join(rules) + "\n")
            click.echo(f"(also written to {rules_file})")
        wayback = web.wayback.config
        origin = github.origin(GITHUB_HOST)
        rules_ref = f'"$(cat {rules_file})"' if rules_file else '"<the rules above>"'
        click.echo(
            "\nCredentials (sandbox only):\n"
            f"  IA_ACCESS_KEY={wayback.access_key} IA_SECRET_KEY={wayback.secret_key}\n"
            f"  GITHUB_TOKEN={TOKEN}  --github-api {origin} --github-repo {REPO}\n"
            f"  DISCORD_WEBHOOK_URL={DISCORD_WEBHOOK}  (a sandbox channel; with the rules above "
            "and --allow-private, e.g. linkkeeper week 3 --post)\n"
            "\nFor example:\n"
            f"  LINKKEEPER_REMAP={rules_ref} linkkeeper check --allow-private "
            "--snapshots /tmp/sandbox-snapshots\n"
            f"  LINKKEEPER_REMAP={rules_ref} GITHUB_TOKEN={TOKEN} linkkeeper nightly "
            "--allow-private --snapshots /tmp/sandbox-snapshots --site /tmp/sandbox-site "
            f"--markdown /tmp/sandbox-READINGS.md --github-api {origin} --github-repo {REPO}\n"
            "(the sandbox Wayback Machine paces captures like the real one: about 6 a minute)"
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            click.echo("\nSandbox stopped.")
