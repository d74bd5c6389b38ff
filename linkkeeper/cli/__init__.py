"""The command line: thin wrappers that parse options and call the pipeline modules.

Heavy modules (httpx, aiohttp, jsonschema, rich ...) are imported inside the commands so that
``linkkeeper --help`` stays fast.
"""

from __future__ import annotations

import errno
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from linkkeeper import __version__
from linkkeeper.core import textsafe

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def fail(message: str) -> NoReturn:
    """Print an input/usage error and exit 2 (the documented code for bad input)."""
    click.secho(f"Error: {message}", fg="red", err=True)
    sys.exit(EXIT_USAGE)


def exit_if_damaged(ledger: Any, what: str = "") -> None:
    """Name each damaged ledger record the command left alone, then exit 2 if there was any
    (the command has done the rest of its work by now)."""
    from linkkeeper.check import report_damage

    if report_damage(ledger.damaged, what):
        sys.exit(EXIT_USAGE)


# -- shared options -------------------------------------------------------------------------
def readings_option(func: Any) -> Any:
    return click.option(
        "--readings",
        type=click.Path(dir_okay=False, path_type=Path),
        default="readings.yaml",
        show_default=True,
        envvar="LINKKEEPER_READINGS",
        show_envvar=True,
        help="The curriculum file.",
    )(func)


def snapshots_option(func: Any) -> Any:
    return click.option(
        "--snapshots",
        type=click.Path(file_okay=False, path_type=Path),
        default="snapshots",
        show_default=True,
        envvar="LINKKEEPER_SNAPSHOTS",
        show_envvar=True,
        help="The ledger folder (machine-written records).",
    )(func)


def format_option(*choices: str) -> Any:
    def decorate(func: Any) -> Any:
        return click.option(
            "--format",
            "fmt",
            type=click.Choice(choices),
            default=choices[0],
            show_default=True,
            help="Output format.",
        )(func)

    return decorate


def seconds_option(name: str, default: float, help: str) -> Any:
    """A non-negative number of seconds, with its ``LINKKEEPER_<NAME>`` variable."""
    return click.option(
        name,
        type=click.FloatRange(min=0),
        default=default,
        show_default=True,
        envvar="LINKKEEPER_" + name.removeprefix("--").upper().replace("-", "_"),
        show_envvar=True,
        metavar="SECONDS",
        help=help,
    )


def health_policy_options(func: Any) -> Any:
    """When a failing link becomes dead; every command that writes health takes these."""
    func = click.option(
        "--dead-after-hours",
        type=click.FloatRange(min=0),
        default=48.0,
        show_default=True,
        envvar="LINKKEEPER_DEAD_AFTER_HOURS",
        show_envvar=True,
        help="...spanning at least this many hours from the first failure to the latest.",
    )(func)
    return click.option(
        "--dead-after-failures",
        type=click.IntRange(min=1),
        default=3,
        show_default=True,
        envvar="LINKKEEPER_DEAD_AFTER_FAILURES",
        show_envvar=True,
        help="A link is dead after this many failed checks since its last success...",
    )(func)


def health_policy(options: dict[str, Any]) -> Any:
    """Pop the two health options out of a command's keyword arguments as a HealthPolicy."""
    from linkkeeper.ledger import HealthPolicy

    return HealthPolicy(
        dead_after_failures=options.pop("dead_after_failures"),
        dead_after_hours=options.pop("dead_after_hours"),
    )


# -- the group ------------------------------------------------------------------------------
class LazyGroup(click.Group):
    """Reads the config file once, before any command, into Click's ``default_map``."""

    def make_context(
        self, info_name: Any, args: list[str], parent: Any = None, **extra: Any
    ) -> Any:
        from linkkeeper.core import ConfigError, find_config, load_config

        config_path = _config_path_from_args(args)
        try:
            config = load_config(config_path if config_path else find_config())
            config = config.checked(self.config_keys())
        except ConfigError as exc:
            fail(str(exc))
        extra.setdefault("default_map", config.default_map(list(self.commands)))
        ctx = super().make_context(info_name, args, parent=parent, **extra)
        ctx.meta["linkkeeper.config"] = config
        return ctx

    def config_keys(self) -> dict[str, dict[str, str]]:
        """command -> {config key -> parameter}: an option's long name (``format``) and its
        parameter's name (``fmt``), with underscores, both set the option."""
        keys: dict[str, dict[str, str]] = {}
        for name, command in self.commands.items():
            table = keys[name] = {}
            for param in command.params:
                if param.name is None or param.name in ("help", "version"):
                    continue
                table[param.name] = param.name
                for flag in getattr(param, "opts", []):
                    if flag.startswith("--"):
                        table.setdefault(flag[2:].replace("-", "_"), param.name)
        return keys

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a disk that refuses writes ends in one line, not a traceback."""
        from linkkeeper.core import reader_gone

        try:
            return super().invoke(ctx)
        except BrokenPipeError:  # `linkkeeper list | head -1`: the reader had enough
            reader_gone()
        except OSError as exc:
            if exc.errno not in WRITE_ERRNOS:
                raise
            fail(write_error(exc))


# A disk full, a read-only or locked-down folder: the user's to fix, not a bug.
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                          errno.EFBIG})  # fmt: skip


def write_error(exc: OSError) -> str:
    """One sentence for a refused write: the file, why, and that nothing is half-written."""
    where = exc.filename or "a file"
    why = exc.strerror or str(exc)
    fix = {
        errno.ENOSPC: "free some space",
        errno.EDQUOT: "free some space (the disk quota is used up)",
        errno.EFBIG: "free some space (the file size limit is reached)",
        errno.EROFS: "make that folder writable",
    }.get(exc.errno or 0, "give this user write access to that folder")
    return (
        f"cannot write {where}: {why}. Every file written before is whole (writes are atomic); "
        f"{fix} and run the same command again."
    )


def _config_path_from_args(args: list[str]) -> Path | None:
    import os

    for i, arg in enumerate(args):
        if arg == "--config" and i + 1 < len(args):
            return Path(args[i + 1])
        if arg.startswith("--config="):
            return Path(arg.split("=", 1)[1])
    env = os.environ.get("LINKKEEPER_CONFIG")
    return Path(env) if env else None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="linkkeeper")
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="LINKKEEPER_CONFIG",
    show_envvar=True,
    help="Config file (default: the nearest pyproject.toml with [tool.linkkeeper]).",
)
def cli(config: Path | None) -> None:
    """Keep a reading list alive: check links, archive them, publish with fallbacks.

    \b
    Pipeline: readings.yaml -> check / archive -> snapshots/ -> reports and pages.
    Start with `linkkeeper demo` to see it all run on the built-in sandbox.
    """


def main() -> None:
    cli(prog_name="linkkeeper")


# -- commands -------------------------------------------------------------------------------
# Each command below parses options and hands off to one pipeline module.


# -- list, import (curriculum) --------------------------------------------------------------
def load_curriculum(path: Path) -> Any:
    """Load readings.yaml for any command; located errors on stderr and exit 2 when invalid."""
    from linkkeeper.curriculum import CurriculumError, load

    try:
        curriculum = load(path)
    except CurriculumError as exc:
        errors = len(exc.errors)
        fail(f"{path} cannot be used ({errors} error{'s' * (errors != 1)}):\n{exc}")
    for warning in curriculum.warnings:
        click.secho(str(warning), fg="yellow", err=True)
    return curriculum


@cli.command("list")
@readings_option
@snapshots_option
@format_option("table", "json")
@click.option("--week", type=click.IntRange(min=1), help="Show only this week.")
def list_command(readings: Path, snapshots: Path, fmt: str, week: int | None) -> None:
    """Show the curriculum offline: weeks, readings and the kind of each link.

    \b
    JSON: {"title", "description", "weeks": [{"week", "title", "posted", "prompt",
    "comments", "readings": [...]}], "backlog": [{"group", "note", "comments", "readings"}]}.
    """
    from linkkeeper.check import titles_from_ledger
    from linkkeeper.curriculum import render
    from linkkeeper.ledger import Ledger

    curriculum = load_curriculum(readings)
    if week is not None and curriculum.week(week) is None:
        numbers = ", ".join(str(w.number) for w in curriculum.weeks) or "none"
        fail(f"week {week} is not in {readings} (weeks: {numbers})")
    ledger = Ledger(snapshots)
    render(curriculum, fmt=fmt, week=week, titles=titles_from_ledger(ledger))
    exit_if_damaged(ledger, "their readings are listed without fetched titles")


@cli.command("import")
@click.argument("page", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The curriculum file to create or merge into (default: the configured readings).",
)
@click.option("--write", is_flag=True, help="Apply the changes to an existing file.")
def import_command(page: Path, output: Path | None, write: bool) -> None:
    """Import a Markdown reading-list page into readings.yaml.

    A new file is written at once. An existing file is merged by URL (nothing you wrote is
    dropped); the diff is shown and the file is only changed with --write.
    """
    from linkkeeper.curriculum import CurriculumError, PageError, import_page

    ctx = click.get_current_context()
    output = output or Path(ctx.lookup_default("readings") or "readings.yaml")
    try:
        result = import_page(page, output, write=write)
    except (CurriculumError, PageError) as exc:
        fail(f"cannot import into {output}:\n{exc}")
    for note in result.notes:
        click.secho(f"note: {note}", fg="yellow", err=True)
    if result.created:
        click.echo(f"Wrote {output} from {page}.")
        return
    if not result.changed:
        click.echo(f"{output}: no changes.")
        return
    for line in result.diff().splitlines():
        color = {"+": "green", "-": "red", "@": "cyan"}.get(line[:1])
        click.secho(line, fg=None if line[:3] in ("+++", "---") else color)
    for number, line in result.rewritten:
        note = f"note: {output}:{number} is not kept as written: {line.strip()!r}"
        click.secho(note, fg="yellow", err=True)
    if result.written:
        click.echo(f"Updated {output}.")
    else:
        click.echo(f"Not written: run again with --write to update {output}.")


# -- check ----------------------------------------------------------------------------------
class _RemapRule(click.ParamType):
    """A 'PATTERN REPLACEMENT' rule; in LINKKEEPER_REMAP rules are separated by newlines."""

    name = "'PATTERN REPLACEMENT'"
    envvar_list_splitter = "\n"


def _envvar(param_name: str, envvar: str) -> Any:
    """Give an option declared by a shared helper its own environment variable."""

    def decorate(func: Any) -> Any:
        for param in getattr(func, "__click_params__", []):
            if param.name == param_name:
                param.envvar, param.show_envvar = envvar, True
        return func

    return decorate


def _duration(ctx: click.Context, param: click.Parameter, text: Any) -> Any:
    """``--max-age`` as a timedelta; a bad value is a usage error (exit 2)."""
    from linkkeeper.check import parse_duration

    try:
        return parse_duration(str(text))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@cli.command("check")
@click.argument("ids", nargs=-1)
@click.option(
    "--week",
    type=click.IntRange(min=1),
    envvar="LINKKEEPER_WEEK",
    show_envvar=True,
    help="Check this week's readings (added to any IDs given).",
)
@readings_option
@snapshots_option
@_envvar("fmt", "LINKKEEPER_FORMAT")
@format_option("text", "json", "markdown", "github")
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
    type=_RemapRule(),
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
    callback=_duration,
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
@seconds_option("--host-interval", 0.5, "Minimum gap between request starts to one host.")
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    envvar="LINKKEEPER_RETRIES",
    show_envvar=True,
    help="Extra attempts for a link that times out, is reset or answers 408/429/5xx.",
)
@seconds_option(
    "--retry-after-cap",
    40.0,
    "The longest Retry-After honoured before one more try (a server asking for an hour gets "
    "this much, and the report says so).",
)
@seconds_option(
    "--link-timeout",
    45.0,
    "Most time one link may take, every attempt and wait included (slow-drip servers).",
)
@seconds_option(
    "--retry-budget",
    120.0,
    "Seconds of retry waiting for the whole run, summed over links; once spent, failures "
    "are final at their first answer. The nightly may afford more patience.",
)
@health_policy_options
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
    policy = health_policy(options)
    check_options = CheckOptions(
        readings=readings,
        ids=ids,
        policy=policy,
        hosts=config.hosts if config else {},
        user_agent_contact=config.shared.get("user_agent_contact") if config else None,
        **options,
    )
    curriculum = load_curriculum(readings)
    try:
        code = main(check_options, curriculum.readings())
    except CheckUsageError as exc:
        fail(str(exc))
    sys.exit(code)


# -- publish, week, open (the members' view) ------------------------------------------------
def members_view(readings: Path, snapshots: Path, now: str | None = None) -> Any:
    """The curriculum, the ledger as a view model, and the ledger (its ``damaged`` records
    show as never checked: report them with :func:`exit_if_damaged`); exit 2 when unusable."""
    from linkkeeper.ledger import Ledger, LedgerError
    from linkkeeper.outputs import build, parse_now

    curriculum = load_curriculum(readings)
    if not snapshots.is_dir():
        note = f"note: {snapshots}/ does not exist: every link shows as unknown (run check first)"
        click.secho(note, fg="yellow", err=True)
    try:
        moment = parse_now(now) if now else None
    except ValueError:
        fail(f"--now {now!r} is not an ISO date or date-time; write it like 2026-03-02")
    ledger = Ledger(snapshots)
    try:
        return curriculum, build(curriculum, ledger, moment), ledger
    except LedgerError as exc:
        fail(str(exc))


@cli.command("publish")
@readings_option
@snapshots_option
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default="site",
    show_default=True,
    help="Folder for the page (index.html).",
)
@click.option(
    "--markdown",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the list as GitHub Markdown to this file, e.g. READINGS.md.",
)
@click.option(
    "--now",
    metavar="DATE",
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
    exit_if_damaged(ledger, "their readings are published with the plain link, status unknown")


def discord_webhook_option(func: Any) -> Any:
    return click.option(
        "--discord-webhook",
        metavar="URL",
        envvar=["DISCORD_WEBHOOK_URL", "LINKKEEPER_DISCORD_WEBHOOK"],
        show_envvar=True,
        help="The Discord channel's webhook URL (a secret: prefer the environment variable).",
    )(func)


def discord_retries_option(func: Any) -> Any:
    return click.option(
        "--discord-retries",
        type=click.IntRange(min=0, max=10),
        default=3,
        show_default=True,
        envvar="LINKKEEPER_DISCORD_RETRIES",
        show_envvar=True,
        help="Retries of a Discord request answered 5xx or not at all (waits 1, 2, 4 s ...).",
    )(func)


@cli.command("week")
@click.argument("number", type=click.IntRange(min=1))
@readings_option
@snapshots_option
@format_option("discord", "markdown", "json")
@click.option(
    "--post",
    is_flag=True,
    help="Post it to Discord through the webhook and record the message ids in the ledger "
    "(a week already posted is updated in place, never posted twice).",
)
@discord_webhook_option
@discord_retries_option
@click.option(
    "--remap",
    multiple=True,
    type=_RemapRule(),
    envvar="LINKKEEPER_REMAP",
    show_envvar=True,
    help="Reach URLs matching the regex PATTERN at REPLACEMENT instead (e.g. a sandbox).",
)
@click.option(
    "--allow-private",
    is_flag=True,
    envvar="LINKKEEPER_ALLOW_PRIVATE",
    show_envvar=True,
    help="Allow a webhook at a private, loopback or link-local address.",
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
        fail(f"week {number} is not in {readings} (weeks: {numbers})")
    if post:
        _post_week(section, snapshots, **discord)
        return
    text, notes = week_output(section, fmt)
    click.echo(text, nl=False)
    for note in notes:
        click.secho(note, fg="yellow", err=True)
    week_ids = {view.id for view in section.readings}
    ledger.damaged = {i: e for i, e in ledger.damaged.items() if i in week_ids}
    exit_if_damaged(ledger, "their readings are posted with the plain link, status unknown")


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
        fail(f"--post needs a Discord webhook: {WEBHOOK_HELP}")
    try:
        webhook = Webhook.parse(discord_webhook)
        remapper = Remapper.parse(remap)
    except (DiscordError, RemapError) as exc:
        fail(str(exc))
    settings = ClientSettings(retries=discord_retries, allow_private=allow_private)
    try:
        with Ledger(snapshots):
            result = run(post_week(section, webhook, snapshots, settings=settings, remap=remapper))
    except LedgerError as exc:
        fail(str(exc))
    except DiscordError as exc:
        if exc.status is None and not exc.later:  # refused before asking Discord: bad input
            fail(str(exc))
        click.secho(f"Error: {exc}", fg="red", err=True)
        click.echo(
            f"Messages Discord accepted before that are recorded in {snapshots / STATE_FILE}; "
            "run the same command again to finish (nothing is posted twice).",
            err=True,
        )
        sys.exit(EXIT_FINDINGS)
    click.echo(f"{result.message}; message ids in {snapshots / STATE_FILE}")


@cli.command("open")
@click.argument("reading_id", metavar="ID")
@readings_option
@snapshots_option
@click.option("--browser", is_flag=True, help="Also open the link in the web browser.")
def open_command(reading_id: str, readings: Path, snapshots: Path, browser: bool) -> None:
    """Print the best working link for reading ID: the original while it is healthy, else
    its archived copy (from the week it was assigned, else the latest).

    \b
    Exit codes: 0 printed, 1 the reading has no link, 2 unknown id or bad input.
    """
    from linkkeeper.ledger import Ledger, LedgerError, UnknownReading, choose, explain, find_reading

    curriculum = load_curriculum(readings)
    ledger = Ledger(snapshots)
    try:
        reading = find_reading(curriculum.readings(), reading_id)
        choice = choose(reading, ledger.find(reading.id))
    except (UnknownReading, LedgerError) as exc:
        fail(str(exc.args[0]) if exc.args else str(exc))
    if choice.best is None:
        click.secho(f"{reading.id} has no link (a task: {reading.title})", fg="yellow", err=True)
        sys.exit(EXIT_FINDINGS)
    if note := explain(choice):  # the ledger's reasons: plain text on a terminal
        click.secho(textsafe.plain(note, None), fg="yellow", err=True)
    click.echo(textsafe.plain(choice.best, None))
    if browser:
        import webbrowser

        if not webbrowser.open(choice.best):
            click.secho("warning: no web browser could be started", fg="yellow", err=True)
    exit_if_damaged(ledger, "the link printed is the curriculum's, its health unknown")


# -- nightly, demo, sandbox (the schedule and the first run) ----------------------------------
# nightly shares these options (and their environment variables) with check
_NIGHTLY_FROM_CHECK = ("readings", "snapshots", "fmt", "fail_on", "remap", "allow_private",
                       "max_age", "force", "max_concurrency", "host_concurrency",
                       "host_interval", "retries", "retry_after_cap", "link_timeout",
                       "retry_budget", "dead_after_failures", "dead_after_hours",
                       "canary")  # fmt: skip


@cli.command("nightly")
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
@discord_webhook_option
@discord_retries_option
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
    policy = health_policy(options)
    check = {name: options.pop(name) for name in _NIGHTLY_FROM_CHECK if name in options}
    archive = {name: options.pop(name) for name in _NIGHTLY_FROM_ARCHIVE if name in options}
    try:
        keys = load_keys()
    except KeysError as exc:
        fail(str(exc))
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
    curriculum = load_curriculum(readings)
    try:
        code = main(nightly, curriculum)
    except NightlyError as exc:
        fail(str(exc))
    sys.exit(code)


nightly_command.params[:0] = [p for p in check_command.params if p.name in _NIGHTLY_FROM_CHECK]


@cli.command("demo")
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
        fail(str(exc))


@cli.command("sandbox")
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


# -- archive ---------------------------------------------------------------------------------
@cli.command("archive")
@click.argument("ids", nargs=-1)
@click.option(
    "--week",
    type=click.IntRange(min=1),
    envvar="LINKKEEPER_WEEK",
    show_envvar=True,
    help="Archive this week's readings (added to any IDs given).",
)
@readings_option
@snapshots_option
@click.option(
    "--dry-run",
    is_flag=True,
    envvar="LINKKEEPER_DRY_RUN",
    show_envvar=True,
    help="Look up captures and show what would be submitted; write and submit nothing.",
)
@_envvar("fmt", "LINKKEEPER_FORMAT")
@format_option("text", "json")
@click.option(
    "--remap",
    multiple=True,
    type=_RemapRule(),
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
    callback=_duration,
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
@seconds_option("--poll-interval", 3.0, "Seconds between status polls of a running capture.")
@seconds_option(
    "--poll-deadline", 120.0, "Stop polling a capture after this long; the next run polls it again."
)
@seconds_option(
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
@health_policy_options
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
    policy = health_policy(options)
    archive_options = ArchiveOptions(
        readings=readings,
        ids=ids,
        policy=policy,
        user_agent_contact=config.shared.get("user_agent_contact") if config else None,
        **options,
    )
    curriculum = load_curriculum(readings)
    try:
        code = main(archive_options, curriculum.readings())
    except ArchiveUsageError as exc:
        fail(str(exc))
    sys.exit(code)


# nightly also takes archive's tuning options (archive is defined above, so they join here)
_NIGHTLY_FROM_ARCHIVE = ("wayback_url", "availability_url", "if_not_archived_within",
                         "captures_per_minute", "poll_interval", "poll_deadline",
                         "cdx_interval")  # fmt: skip
nightly_command.params += [p for p in archive_command.params if p.name in _NIGHTLY_FROM_ARCHIVE]


# -- show (one reading, everything known) ------------------------------------------------------
@cli.command("show")
@click.argument("reading_id", metavar="ID")
@readings_option
@snapshots_option
@format_option("text", "json")
@click.option(
    "--checks",
    "history",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Recent checks to list in the text view (JSON lists all kept).",
)
def show_command(reading_id: str, readings: Path, snapshots: Path, fmt: str, history: int) -> None:
    """Show everything known about reading ID: curriculum entry, fetched metadata (with the
    source of each field), health and recent checks, captures, archive state and drift.

    \b
    Exit codes: 0 shown, 2 unknown id (with suggestions), bad input or a damaged record (its
    curriculum entry is shown, then the damage is named).
    """
    from linkkeeper.ledger import Ledger, LedgerError, UnknownReading, find_reading
    from linkkeeper.outputs import gather, render_json, render_text

    curriculum = load_curriculum(readings)
    ledger = Ledger(snapshots)
    try:
        try:
            reading = find_reading(curriculum.readings(), reading_id)
        except UnknownReading as exc:
            orphan = ledger.find(reading_id) if reading_id in ledger.ids() else None
            if orphan is None:
                exit_if_damaged(ledger)  # an orphan's damaged record: named, exit 2
                fail(str(exc))
            reading = None
        record = ledger.find(reading.id) if reading else orphan
    except LedgerError as exc:
        fail(str(exc))
    document = gather(reading, record)
    if ledger.damaged:  # the record exists but cannot be used: not "not checked yet"
        document["damaged"] = True
    click.echo(render_json(document) if fmt == "json" else render_text(document, history), nl=False)
    exit_if_damaged(ledger, "shown without its recorded checks, captures or metadata")


# -- prune (the only command that deletes ledger records) ------------------------------------
@cli.command("prune")
@readings_option
@snapshots_option
@click.option(
    "--yes",
    is_flag=True,
    help="Really delete; without it, only list what would go.",
)
def prune_command(readings: Path, snapshots: Path, yes: bool) -> None:
    """Delete the ledger records of readings that left readings.yaml (orphans).

    Nothing else ever deletes a record: check marks them `orphaned` and keeps their history.
    Without --yes this only lists them.

    \b
    Exit codes: 0 done (or nothing to do), 2 bad input, a locked ledger or a damaged record
    (named and left as it is; the other orphans are still listed or deleted).
    """
    from linkkeeper.ledger import Ledger, LedgerError

    curriculum = load_curriculum(readings)
    ledger = Ledger(snapshots)
    try:
        with ledger:
            ledger.sync(curriculum.readings())
            orphans = sorted(r.id for r in ledger.records() if r.orphaned)
            removed = ledger.prune_orphans() if yes and orphans else []
    except LedgerError as exc:
        fail(str(exc))
    if not orphans:
        click.echo(f"No orphaned records in {snapshots}/.")
    elif not yes:
        click.echo(f"{len(orphans)} orphaned record(s) in {snapshots}/ would be deleted:")
        for reading_id in orphans:
            click.echo(f"  {reading_id}")
        click.echo("Run again with --yes to delete them (git keeps their history).")
    else:
        click.echo(f"Deleted {len(removed)} orphaned record(s): {', '.join(removed)}")
    exit_if_damaged(ledger, "they were not pruned, whatever their reading")


def _give_every_option_a_variable(group: click.Group) -> None:
    """Every option can come from the environment (the README promises it): options without a
    shared ``LINKKEEPER_<OPTION>`` variable get ``LINKKEEPER_<COMMAND>_<OPTION>``, so that a
    variable meant for one command (``LINKKEEPER_FORMAT=github`` for check) never reaches
    another whose choices differ."""
    for name, command in group.commands.items():
        for param in command.params:
            if isinstance(param, click.Option) and param.envvar is None and param.opts:
                option = max(param.opts, key=len).lstrip("-").replace("-", "_").upper()
                prefix = name.replace("-", "_").upper()
                param.envvar = f"LINKKEEPER_{prefix}_{option}"
                param.show_envvar = True


_give_every_option_a_variable(cli)
