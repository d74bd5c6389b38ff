"""``check``: its options, handed to the check engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from linkkeeper.cli import options as shared

# -- check ----------------------------------------------------------------------------------
# The report's format, and how the run goes: nightly takes these too, with their variables.
report_format = shared.format_option("text", "json", "markdown", "github", own=False)
run_options = shared.stack(
    shared.option(
        "--fail-on",
        type=click.Choice(["broken", "dead", "never"]),
        default="dead",
        help="Exit 1 when any verdict is broken / any reading is dead / never.",
    ),
    shared.reach_options(
        remap="Fetch URLs matching the regex PATTERN from REPLACEMENT instead (repeatable; "
        "reports keep the original URLs).",
        private="Allow private, loopback and link-local addresses (refused by default).",
    ),
    shared.duration_option(
        "--max-age",
        "20h",
        "Reuse successful results younger than this (e.g. 20h, 3d; 0: re-check "
        "all). Failures are always re-checked.",
    ),
    shared.option("--force", is_flag=True, help="Re-check every selected link, however fresh."),
    shared.count_option("--max-concurrency", 64, "Requests in flight over all hosts."),
    shared.count_option(
        "--host-concurrency",
        4,
        "Requests in flight per host (a config [tool.linkkeeper.hosts] entry wins).",
    ),
    shared.seconds_option(
        "--host-interval", 0.5, "Minimum gap between request starts to one host."
    ),
    shared.count_option(
        "--retries",
        3,
        "Extra attempts for a link that times out, is reset or answers 408/429/5xx.",
        least=0,
    ),
    shared.seconds_option(
        "--retry-after-cap",
        40.0,
        "The longest Retry-After honoured before one more try (a server asking for an hour gets "
        "this much, and the report says so).",
    ),
    shared.seconds_option(
        "--link-timeout",
        45.0,
        "Most time one link may take, every attempt and wait included (slow-drip servers).",
    ),
    shared.seconds_option(
        "--retry-budget",
        120.0,
        "Seconds of retry waiting for the whole run, summed over links; once spent, failures "
        "are final at their first answer. The nightly may afford more patience.",
    ),
    shared.health_policy_options,
    shared.option(
        "--canary",
        metavar="URL",
        default="https://web.archive.org/",
        callback=lambda ctx, param, value: None if value in ("", "none") else value,
        help="Asked once (HEAD) when a run fetched a single site and it gave no answer: if the "
        "canary answers, the network works and the failure counts; if not, the run is "
        "inconclusive. 'none': never ask (a lone failure then never counts).",
    ),
)


@click.command("check")
@shared.selection_options("Check")
@report_format
@shared.option(
    "--output",
    type=shared.FILE,
    help="Write the report to FILE (atomically) instead of stdout.",
)
@run_options
@shared.option(
    "--accept-drift",
    multiple=True,
    metavar="ID",
    own=True,
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

    policy = shared.health_policy(options)
    settings = shared.from_config("hosts", "user_agent_contact")
    check_options = CheckOptions(readings=readings, ids=ids, policy=policy, **settings, **options)
    shared.run_stage(
        readings,
        lambda curriculum: main(check_options, curriculum.readings()),
        CheckUsageError,
        cache_dir=check_options.snapshots,
    )
