"""``archive``: its options, handed to the archive run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from linkkeeper.cli import options as shared

# -- archive ---------------------------------------------------------------------------------
# Where the Wayback Machine is and how hard to press it: nightly takes these too.
tuning_options = shared.stack(
    shared.option(
        "--wayback-url",
        show_default="https://web.archive.org",
        metavar="URL",
        help="Save Page Now, CDX and replay base URL.",
    ),
    shared.option(
        "--availability-url",
        show_default="https://archive.org/wayback/available",
        metavar="URL",
        help="The availability API (a hint only; CDX decides).",
    ),
    shared.duration_option(
        "--if-not-archived-within",
        "30d",
        "No new capture when one is younger than this (e.g. 30d, 12h).",
    ),
    shared.option(
        "--captures-per-minute",
        type=click.FloatRange(min=0, min_open=True),
        default=6.0,
        help="Submissions per minute (shared by all running captures).",
    ),
    shared.seconds_option(
        "--poll-interval", 3.0, "Seconds between status polls of a running capture."
    ),
    shared.seconds_option(
        "--poll-deadline",
        120.0,
        "Stop polling a capture after this long; the next run polls it again.",
    ),
    shared.seconds_option(
        "--cdx-interval",
        2.0,
        "Minimum gap between CDX searches (the CDX server allows about 30 a minute).",
    ),
)


@click.command("archive")
@shared.selection_options("Archive")
@shared.option(
    "--dry-run",
    is_flag=True,
    help="Look up captures and show what would be submitted; write and submit nothing.",
)
@shared.format_option("text", "json", own=False)
@shared.reach_options(
    remap="Connect to URLs matching the regex PATTERN at REPLACEMENT instead (repeatable; "
    "the ledger keeps the public URLs).",
    private="Allow the archive endpoints on private or loopback addresses (sandbox, mirrors).",
)
@tuning_options
@shared.option(
    "--refresh-captures",
    is_flag=True,
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

    policy = shared.health_policy(options)
    settings = shared.from_config("user_agent_contact")
    archive_options = ArchiveOptions(
        readings=readings, ids=ids, policy=policy, **settings, **options
    )
    shared.run_stage(
        readings, lambda curriculum: main(archive_options, curriculum.readings()), ArchiveUsageError
    )
