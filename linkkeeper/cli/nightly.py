"""``nightly`` (check's and archive's options, one run), ``demo`` and ``sandbox``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from linkkeeper.cli import options as shared
from linkkeeper.cli.archive import archive_command
from linkkeeper.cli.check import check_command

# -- nightly, demo, sandbox (the schedule and the first run) ----------------------------------
# nightly shares these options (and their environment variables) with check
_NIGHTLY_FROM_CHECK = ("readings", "snapshots", "fmt", "fail_on", "remap", "allow_private",
                       "max_age", "force", "max_concurrency", "host_concurrency",
                       "host_interval", "retries", "retry_after_cap", "link_timeout",
                       "retry_budget", "dead_after_failures", "dead_after_hours",
                       "canary")  # fmt: skip


@click.command("nightly")
@click.option(
    "--site",
    type=click.Path(file_okay=False, path_type=Path),
    default="site",
    show_default=True,
    help="Folder for the published page (index.html).",
)
@click.option(
    "--markdown",
    type=click.Path(dir_okay=False, path_type=Path),
    default="READINGS.md",
    show_default=True,
    help="The list as GitHub Markdown, committed beside readings.yaml.",
)
@click.option(
    "--issue/--no-issue",
    default=True,
    show_default=True,
    help="Keep the rolling GitHub issue up to date (token from GITHUB_TOKEN).",
)
@click.option(
    "--github-repo",
    metavar="OWNER/NAME",
    envvar="GITHUB_REPOSITORY",
    show_envvar=True,
    help="The repository of the rolling issue.",
)
@click.option(
    "--github-api",
    metavar="URL",
    default="https://api.github.com",
    show_default=True,
    envvar="GITHUB_API_URL",
    show_envvar=True,
    help="GitHub's REST API (GitHub Enterprise: https://HOST/api/v3).",
)
@click.option(
    "--summary-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="GITHUB_STEP_SUMMARY",
    show_envvar=True,
    help="Append the night's Markdown summary to FILE (the job summary in Actions).",
)
@click.option(
    "--issue-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the rolling-issue text to FILE (works without GitHub).",
)
@click.option(
    "--commit-message-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a commit message saying what changed ('linkkeeper: 2 dead, 1 failing').",
)
@shared.discord_webhook_option
@shared.discord_retries_option
def nightly_command(readings: Path, snapshots: Path, **options: Any) -> None:
    """The scheduled job: check, archive, publish, then a summary and the rolling issue.

    Archive, metadata and publish run when this version has them; without Internet Archive
    keys only existing captures are looked up. Only --fail-on fails the night (default:
    dead readings); failing, blocked and changed readings are reported.

    \b
    Exit codes: 0 fine, 1 findings at --fail-on or a stage failed (e.g. the rolling issue
    could not be updated), 2 bad input, a locked ledger or a damaged record (named; the
    rest of the night goes on), 3 inconclusive (the network seems down or a captive portal
    answered: nothing learned, nothing recorded), 130 interrupted.
    """
    import os

    from linkkeeper.archive import KeysError, load_keys
    from linkkeeper.check import CheckOptions
    from linkkeeper.nightly import NightlyError, NightlyOptions, main

    config = click.get_current_context().meta.get("linkkeeper.config")
    policy = shared.health_policy(options)
    check = {name: options.pop(name) for name in _NIGHTLY_FROM_CHECK if name in options}
    archive = {name: options.pop(name) for name in _NIGHTLY_FROM_ARCHIVE if name in options}
    try:
        keys = load_keys()
    except KeysError as exc:
        shared.fail(str(exc))
    nightly = NightlyOptions(
        check=CheckOptions(
            readings=readings,
            snapshots=snapshots,
            hosts=config.hosts if config else {},
            user_agent_contact=config.shared.get("user_agent_contact") if config else None,
            policy=policy,
            **check,
        ),
        github_token=os.environ.get("GITHUB_TOKEN") or None,
        ia_keys=keys,
        archive=archive,
        **options,
    )
    curriculum = shared.load_curriculum(readings, cache_dir=snapshots)
    try:
        code = main(nightly, curriculum)
    except NightlyError as exc:
        shared.fail(str(exc))
    sys.exit(code)


nightly_command.params[:0] = [p for p in check_command.params if p.name in _NIGHTLY_FROM_CHECK]


@click.command("demo")
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the output (ledger, site, issue text) in DIR, a new or empty folder.",
)
@click.option(
    "--readings",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The curriculum (default: ./readings.yaml, else the copy shipped with linkkeeper).",
)
@click.option(
    "--nights",
    type=click.IntRange(1, 7),
    default=3,
    show_default=True,
    help="Nights to simulate, a day apart (a link is dead after 3 failures over 48 h).",
)
def demo_command(keep: Path | None, readings: Path | None, nights: int) -> None:
    """Run the nightly pipeline on the built-in sandbox: no network, nothing of yours touched.

    Starts loopback imitations of the reading list's sites, the Wayback Machine and GitHub,
    runs the nightly job over readings.yaml into a temporary folder, and shows the report,
    the published site and the rolling issue.
    """
    from linkkeeper.demo import DemoError, main

    try:
        sys.exit(main(keep=keep, readings=readings, nights=nights))
    except DemoError as exc:
        shared.fail(str(exc))


@click.command("sandbox")
@click.option(
    "--rules-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the remap rules to FILE, one per line (for LINKKEEPER_REMAP).",
)
def sandbox_command(rules_file: Path | None) -> None:
    """Serve the sandbox (web, Wayback Machine, GitHub API) on loopback until Ctrl-C.

    Prints the --remap rules that send the real URLs there, and the sandbox credentials.
    """
    from linkkeeper.demo import serve

    serve(rules_file)


# nightly also takes archive's tuning options (archive is defined above, so they join here)
_NIGHTLY_FROM_ARCHIVE = ("wayback_url", "availability_url", "if_not_archived_within",
                         "captures_per_minute", "poll_interval", "poll_deadline",
                         "cdx_interval")  # fmt: skip
nightly_command.params += [p for p in archive_command.params if p.name in _NIGHTLY_FROM_ARCHIVE]
