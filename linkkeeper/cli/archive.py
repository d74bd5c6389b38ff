"""``archive``: its options, handed to the archive run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from linkkeeper.cli import options as shared


# -- archive ---------------------------------------------------------------------------------
@click.command("archive")
@click.argument("ids", nargs=-1)
@click.option(
    "--week",
    type=click.IntRange(min=1),
    envvar="LINKKEEPER_WEEK",
    show_envvar=True,
    help="Archive this week's readings (added to any IDs given).",
)
@shared.readings_option
@shared.snapshots_option
@click.option(
    "--dry-run",
    is_flag=True,
    envvar="LINKKEEPER_DRY_RUN",
    show_envvar=True,
    help="Look up captures and show what would be submitted; write and submit nothing.",
)
@shared.shared_envvar("fmt", "LINKKEEPER_FORMAT")
@shared.format_option("text", "json")
@click.option(
    "--remap",
    multiple=True,
    type=shared.RemapRule(),
    envvar="LINKKEEPER_REMAP",
    show_envvar=True,
    help="Connect to URLs matching the regex PATTERN at REPLACEMENT instead (repeatable; "
    "the ledger keeps the public URLs).",
)
@click.option(
    "--allow-private",
    is_flag=True,
    envvar="LINKKEEPER_ALLOW_PRIVATE",
    show_envvar=True,
    help="Allow the archive endpoints on private or loopback addresses (sandbox, mirrors).",
)
@click.option(
    "--wayback-url",
    envvar="LINKKEEPER_WAYBACK_URL",
    show_envvar=True,
    show_default="https://web.archive.org",
    metavar="URL",
    help="Save Page Now, CDX and replay base URL.",
)
@click.option(
    "--availability-url",
    envvar="LINKKEEPER_AVAILABILITY_URL",
    show_envvar=True,
    show_default="https://archive.org/wayback/available",
    metavar="URL",
    help="The availability API (a hint only; CDX decides).",
)
@click.option(
    "--if-not-archived-within",
    default="30d",
    callback=shared.duration,
    show_default=True,
    envvar="LINKKEEPER_IF_NOT_ARCHIVED_WITHIN",
    show_envvar=True,
    metavar="DURATION",
    help="No new capture when one is younger than this (e.g. 30d, 12h).",
)
@click.option(
    "--captures-per-minute",
    type=click.FloatRange(min=0, min_open=True),
    default=6.0,
    show_default=True,
    envvar="LINKKEEPER_CAPTURES_PER_MINUTE",
    show_envvar=True,
    help="Submissions per minute (shared by all running captures).",
)
@shared.seconds_option("--poll-interval", 3.0, "Seconds between status polls of a running capture.")
@shared.seconds_option(
    "--poll-deadline", 120.0, "Stop polling a capture after this long; the next run polls it again."
)
@shared.seconds_option(
    "--cdx-interval",
    2.0,
    "Minimum gap between CDX searches (the CDX server allows about 30 a minute).",
)
@click.option(
    "--refresh-captures",
    is_flag=True,
    envvar="LINKKEEPER_REFRESH_CAPTURES",
    show_envvar=True,
    help="Look up existing captures again even when the recorded ones are fresh.",
)
@shared.health_policy_options
def archive_command(ids: tuple[str, ...], readings: Path, **options: Any) -> None:
    """Archive the readings in the Wayback Machine and record the captures in snapshots/.

    \b
    Finds existing captures (the one from the week a reading was assigned, the latest),
    then submits what has no capture within --if-not-archived-within. New captures need
    Internet Archive keys (IA_ACCESS_KEY/IA_SECRET_KEY or `ia configure`); finding
    captures does not. Jobs still running at the end are polled by the next run.
    Exit codes: 0 every reading with a URL has an archived copy, 1 some have none yet,
    2 bad input (readings.yaml, ids, options, keys config), a locked ledger or a damaged
    record (named; the rest is archived), 3 inconclusive (not one capture lookup answered;
    nothing recorded or submitted), 130 interrupted (finished results are kept).
    """
    from linkkeeper.archive import ArchiveOptions, ArchiveUsageError, main

    ctx = click.get_current_context()
    config = ctx.meta.get("linkkeeper.config")
    policy = shared.health_policy(options)
    archive_options = ArchiveOptions(
        readings=readings,
        ids=ids,
        policy=policy,
        user_agent_contact=config.shared.get("user_agent_contact") if config else None,
        **options,
    )
    curriculum = shared.load_curriculum(readings)
    try:
        code = main(archive_options, curriculum.readings())
    except ArchiveUsageError as exc:
        shared.fail(str(exc))
    sys.exit(code)
