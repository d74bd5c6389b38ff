"""``nightly`` (check's and archive's options, one run), ``demo`` and ``sandbox``."""

from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import click

from linkkeeper.cli import options as shared
from linkkeeper.cli.archive import tuning_options
from linkkeeper.cli.check import report_format, run_options


# -- nightly, demo, sandbox (the schedule and the first run) ----------------------------------
@click.command("nightly")
@shared.ledger_options
@report_format
@run_options
@shared.page_options(
    "--site",
    page="Folder for the published page (index.html).",
    markdown="The list as GitHub Markdown, committed beside readings.yaml.",
    markdown_default="READINGS.md",
)
@shared.option(
    "--issue/--no-issue",
    default=True,
    own=True,
    help="Keep the rolling GitHub issue up to date (token from GITHUB_TOKEN).",
)
@shared.option(
    "--github-repo",
    metavar="OWNER/NAME",
    envvar="GITHUB_REPOSITORY",
    help="The repository of the rolling issue.",
)
@shared.option(
    "--github-api",
    metavar="URL",
    default="https://api.github.com",
    envvar="GITHUB_API_URL",
    help="GitHub's REST API (GitHub Enterprise: https://HOST/api/v3).",
)
@shared.option(
    "--summary-file",
    type=shared.FILE,
    envvar="GITHUB_STEP_SUMMARY",
    help="Append the night's Markdown summary to FILE (the job summary in Actions).",
)
@shared.option(
    "--issue-file",
    type=shared.FILE,
    own=True,
    help="Also write the rolling-issue text to FILE (works without GitHub).",
)
@shared.option(
    "--commit-message-file",
    type=shared.FILE,
    own=True,
    help="Write a commit message saying what changed ('linkkeeper: 2 dead, 1 failing').",
)
@shared.discord_options
@tuning_options
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

    policy = shared.health_policy(options)
    # check's options go to the check stage; what NightlyOptions does not take, to archive
    check = {f.name: options.pop(f.name) for f in fields(CheckOptions) if f.name in options}
    own = {f.name for f in fields(NightlyOptions)}
    archive = {name: options.pop(name) for name in list(options) if name not in own}
    try:
        keys = load_keys()
    except KeysError as exc:
        shared.fail(str(exc))
    settings = shared.from_config("hosts", "user_agent_contact")
    nightly = NightlyOptions(
        check=CheckOptions(
            readings=readings, snapshots=snapshots, policy=policy, **settings, **check
        ),
        github_token=os.environ.get("GITHUB_TOKEN") or None,
        ia_keys=keys,
        archive=archive,
        **options,
    )
    shared.run_stage(
        readings, lambda curriculum: main(nightly, curriculum), NightlyError, cache_dir=snapshots
    )


@click.command("demo")
@shared.option(
    "--keep",
    type=shared.FOLDER,
    own=True,
    help="Keep the output (ledger, site, issue text) in DIR, a new or empty folder.",
)
@shared.option(
    "--readings",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    own=True,
    help="The curriculum (default: ./readings.yaml, else the copy shipped with linkkeeper).",
)
@shared.option(
    "--nights",
    type=click.IntRange(1, 7),
    default=3,
    own=True,
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
@shared.option(
    "--rules-file",
    type=shared.FILE,
    own=True,
    help="Also write the remap rules to FILE, one per line (for LINKKEEPER_REMAP).",
)
def sandbox_command(rules_file: Path | None) -> None:
    """Serve the sandbox (web, Wayback Machine, GitHub API) on loopback until Ctrl-C.

    Prints the --remap rules that send the real URLs there, and the sandbox credentials.
    """
    from linkkeeper.demo import serve

    serve(rules_file)
