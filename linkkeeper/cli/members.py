"""``publish``, ``week``, ``open``: the members' view of the reading list."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from linkkeeper.cli import options as shared
from linkkeeper.core import textsafe


# -- publish, week, open (the members' view) ------------------------------------------------
def members_view(readings: Path, snapshots: Path, now: str | None = None) -> Any:
    """The curriculum, the ledger as a view model, and the ledger (its ``damaged`` records
    show as never checked: report them with :func:`exit_if_damaged`); exit 2 when unusable."""
    from linkkeeper.ledger import Ledger, LedgerError
    from linkkeeper.outputs import build, parse_now

    curriculum = shared.load_curriculum(readings)
    if not snapshots.is_dir():
        note = f"note: {snapshots}/ does not exist: every link shows as unknown (run check first)"
        click.secho(note, fg="yellow", err=True)
    try:
        moment = parse_now(now) if now else None
    except ValueError:
        shared.fail(f"--now {now!r} is not an ISO date or date-time; write it like 2026-03-02")
    ledger = Ledger(snapshots)
    try:
        return curriculum, build(curriculum, ledger, moment), ledger
    except LedgerError as exc:
        shared.fail(str(exc))


@click.command("publish")
@shared.ledger_options
@shared.page_options(
    "--output",
    page="Folder for the page (index.html).",
    markdown="Also write the list as GitHub Markdown to this file, e.g. READINGS.md.",
)
@shared.option(
    "--now",
    metavar="DATE",
    own=True,
    help="The 'status as of' date to print (ISO); default: the newest check in the ledger.",
)
def publish_command(
    readings: Path, snapshots: Path, output: Path, markdown: Path | None, now: str | None
) -> None:
    """Publish the reading list as one static page (and Markdown) with archive fallbacks.

    Dead and failing links lead to their archived copy; every link carries Robust Links
    attributes. Files are only rewritten when their content changes.
    """
    from linkkeeper.outputs import publish

    _, site, ledger = members_view(readings, snapshots, now)
    for written in publish(site, output, markdown):
        click.echo(f"{'Wrote' if written.changed else 'Unchanged:'} {written.path}")
    counts = ", ".join(f"{n} {state}" for state, n in site.counts) or "no links"
    click.echo(f"{len(site.weeks)} weeks; links: {counts}")
    shared.exit_if_damaged(
        ledger, "their readings are published with the plain link, status unknown"
    )


@click.command("week")
@click.argument("number", type=click.IntRange(min=1))
@shared.ledger_options
@shared.format_option("discord", "markdown", "json")
@shared.option(
    "--post",
    is_flag=True,
    own=True,
    help="Post it to Discord through the webhook and record the message ids in the ledger "
    "(a week already posted is updated in place, never posted twice).",
)
@shared.discord_options
@shared.reach_options(
    remap="Reach URLs matching the regex PATTERN at REPLACEMENT instead (e.g. a sandbox).",
    private="Allow a webhook at a private, loopback or link-local address.",
)
def week_command(
    number: int, readings: Path, snapshots: Path, fmt: str, post: bool, **discord: Any
) -> None:
    """Print the Tuesday post for week NUMBER, ready to paste into Discord, or --post it.

    Broken originals are replaced by their archived copy; a post longer than Discord's
    2,000 characters is split into numbered messages. With --post, `nightly` keeps the
    posted messages up to date (see README, Discord).

    \b
    Exit codes: 0 printed or posted, 1 Discord did not take it (retry later),
    2 bad input (unknown week, no or malformed webhook URL).
    """
    from linkkeeper.outputs import week_output

    _, site, ledger = members_view(readings, snapshots)
    section = next((w for w in site.weeks if w.number == number), None)
    if section is None:
        numbers = ", ".join(str(w.number) for w in site.weeks) or "none"
        shared.fail(f"week {number} is not in {readings} (weeks: {numbers})")
    if post:
        _post_week(section, snapshots, **discord)
        return
    text, notes = week_output(section, fmt)
    click.echo(text, nl=False)
    for note in notes:
        click.secho(note, fg="yellow", err=True)
    week_ids = {view.id for view in section.readings}
    ledger.damaged = {i: e for i, e in ledger.damaged.items() if i in week_ids}
    shared.exit_if_damaged(ledger, "their readings are posted with the plain link, status unknown")


def _post_week(
    section: Any,
    snapshots: Path,
    discord_webhook: str | None,
    discord_retries: int,
    remap: tuple[str, ...],
    allow_private: bool,
) -> None:
    """``week N --post``: the webhook call, the ledger file, one line of outcome."""
    from linkkeeper.ledger import Ledger, LedgerError
    from linkkeeper.outputs import (
        STATE_FILE,
        WEBHOOK_HELP,
        ClientSettings,
        DiscordError,
        Webhook,
        post_week,
        run,
    )
    from linkkeeper.web import RemapError, Remapper

    if not discord_webhook:
        shared.fail(f"--post needs a Discord webhook: {WEBHOOK_HELP}")
    try:
        webhook = Webhook.parse(discord_webhook)
        remapper = Remapper.parse(remap)
    except (DiscordError, RemapError) as exc:
        shared.fail(str(exc))
    settings = ClientSettings(retries=discord_retries, allow_private=allow_private)
    try:
        with Ledger(snapshots):
            result = run(post_week(section, webhook, snapshots, settings=settings, remap=remapper))
    except LedgerError as exc:
        shared.fail(str(exc))
    except DiscordError as exc:
        if exc.status is None and not exc.later:  # refused before asking Discord: bad input
            shared.fail(str(exc))
        click.secho(f"Error: {exc}", fg="red", err=True)
        click.echo(
            f"Messages Discord accepted before that are recorded in {snapshots / STATE_FILE}; "
            "run the same command again to finish (nothing is posted twice).",
            err=True,
        )
        sys.exit(shared.EXIT_FINDINGS)
    click.echo(f"{result.message}; message ids in {snapshots / STATE_FILE}")


@click.command("open")
@click.argument("reading_id", metavar="ID")
@shared.ledger_options
@shared.option("--browser", is_flag=True, own=True, help="Also open the link in the web browser.")
def open_command(reading_id: str, readings: Path, snapshots: Path, browser: bool) -> None:
    """Print the best working link for reading ID: the original while it is healthy, else
    its archived copy (from the week it was assigned, else the latest).

    \b
    Exit codes: 0 printed, 1 the reading has no link, 2 unknown id or bad input.
    """
    from linkkeeper.ledger import Ledger, LedgerError, UnknownReading, choose, explain, find_reading

    curriculum = shared.load_curriculum(readings)
    ledger = Ledger(snapshots)
    try:
        reading = find_reading(curriculum.readings(), reading_id)
        choice = choose(reading, ledger.find(reading.id))
    except (UnknownReading, LedgerError) as exc:
        shared.fail(str(exc.args[0]) if exc.args else str(exc))
    if choice.best is None:
        click.secho(f"{reading.id} has no link (a task: {reading.title})", fg="yellow", err=True)
        sys.exit(shared.EXIT_FINDINGS)
    if note := explain(choice):  # the ledger's reasons: plain text on a terminal
        click.secho(textsafe.plain(note, None), fg="yellow", err=True)
    click.echo(textsafe.plain(choice.best, None))
    if browser:
        import webbrowser

        if not webbrowser.open(choice.best):
            click.secho("warning: no web browser could be started", fg="yellow", err=True)
    shared.exit_if_damaged(ledger, "the link printed is the curriculum's, its health unknown")
