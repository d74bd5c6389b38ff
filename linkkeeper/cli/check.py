"""``check``: its options, handed to the check engine."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from linkkeeper.cli import options as shared

# -- check ----------------------------------------------------------------------------------


@click.command("check")
@click.argument("ids", nargs=-1)
@click.option(
    "--week",
    type=click.IntRange(min=1),
    envvar="LINKKEEPER_WEEK",
    show_envvar=True,
    help="Check this week's readings (added to any IDs given).",
)
@shared.readings_option
@shared.snapshots_option
@shared.shared_envvar("fmt", "LINKKEEPER_FORMAT")
@shared.format_option("text", "json", "markdown", "github")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="LINKKEEPER_OUTPUT",
    show_envvar=True,
    help="Write the report to FILE (atomically) instead of stdout.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["broken", "dead", "never"]),
    default="dead",
    show_default=True,
    envvar="LINKKEEPER_FAIL_ON",
    show_envvar=True,
    help="Exit 1 when any verdict is broken / any reading is dead / never.",
)
@click.option(
    "--remap",
    multiple=True,
    type=shared.RemapRule(),
    envvar="LINKKEEPER_REMAP",
    show_envvar=True,
    help="Fetch URLs matching the regex PATTERN from REPLACEMENT instead (repeatable; "
    "reports keep the original URLs).",
)
@click.option(
    "--allow-private",
    is_flag=True,
    envvar="LINKKEEPER_ALLOW_PRIVATE",
    show_envvar=True,
    help="Allow private, loopback and link-local addresses (refused by default).",
)
@click.option(
    "--max-age",
    default="20h",
    callback=shared.duration,
    show_default=True,
    envvar="LINKKEEPER_MAX_AGE",
    show_envvar=True,
    metavar="DURATION",
    help="Reuse successful results younger than this (e.g. 20h, 3d; 0: re-check "
    "all). Failures are always re-checked.",
)
@click.option(
    "--force",
    is_flag=True,
    envvar="LINKKEEPER_FORCE",
    show_envvar=True,
    help="Re-check every selected link, however fresh.",
)
@click.option(
    "--max-concurrency",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    envvar="LINKKEEPER_MAX_CONCURRENCY",
    show_envvar=True,
    help="Requests in flight over all hosts.",
)
@click.option(
    "--host-concurrency",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    envvar="LINKKEEPER_HOST_CONCURRENCY",
    show_envvar=True,
    help="Requests in flight per host (a config [tool.linkkeeper.hosts] entry wins).",
)
@shared.seconds_option("--host-interval", 0.5, "Minimum gap between request starts to one host.")
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    envvar="LINKKEEPER_RETRIES",
    show_envvar=True,
    help="Extra attempts for a link that times out, is reset or answers 408/429/5xx.",
)
@shared.seconds_option(
    "--retry-after-cap",
    40.0,
    "The longest Retry-After honoured before one more try (a server asking for an hour gets "
    "this much, and the report says so).",
)
@shared.seconds_option(
    "--link-timeout",
    45.0,
    "Most time one link may take, every attempt and wait included (slow-drip servers).",
)
@shared.seconds_option(
    "--retry-budget",
    120.0,
    "Seconds of retry waiting for the whole run, summed over links; once spent, failures "
    "are final at their first answer. The nightly may afford more patience.",
)
@shared.health_policy_options
@click.option(
    "--canary",
    metavar="URL",
    default="https://web.archive.org/",
    show_default=True,
    envvar="LINKKEEPER_CANARY",
    show_envvar=True,
    callback=lambda ctx, param, value: None if value in ("", "none") else value,
    help="Asked once (HEAD) when a run fetched a single site and it gave no answer: if the "
    "canary answers, the network works and the failure counts; if not, the run is "
    "inconclusive. 'none': never ask (a lone failure then never counts).",
)
@click.option(
    "--accept-drift",
    multiple=True,
    metavar="ID",
    help="Accept the changed text of reading ID as its new drift baseline, before checking "
    "(repeatable): 'yes, the new version is fine'; it is no longer reported changed.",
)
def check_command(ids: tuple[str, ...], readings: Path, **options: Any) -> None:
    """Check the readings' links, record the results in snapshots/, report what needs doing.

    \b
    Exit codes: 0 nothing at or above --fail-on, 1 findings, 2 bad input (readings.yaml,
    ids, options), a locked ledger or a damaged record (named; the rest is checked),
    3 inconclusive (the network seems down or a captive portal answered: nothing learned,
    nothing recorded), 130 interrupted (finished results are kept).
    """
    from linkkeeper.check import CheckOptions, CheckUsageError, main

    ctx = click.get_current_context()
    config = ctx.meta.get("linkkeeper.config")
    policy = shared.health_policy(options)
    check_options = CheckOptions(
        readings=readings,
        ids=ids,
        policy=policy,
        hosts=config.hosts if config else {},
        user_agent_contact=config.shared.get("user_agent_contact") if config else None,
        **options,
    )
    curriculum = shared.load_curriculum(readings, cache_dir=check_options.snapshots)
    try:
        code = main(check_options, curriculum.readings())
    except CheckUsageError as exc:
        shared.fail(str(exc))
    sys.exit(code)
