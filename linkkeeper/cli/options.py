"""What several commands share: exits, loading the curriculum, and how options are declared
(one rule for their environment variables and defaults, and the groups several commands take)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

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


def health_policy(options: dict[str, Any]) -> Any:
    """Pop the two health options out of a command's keyword arguments as a HealthPolicy."""
    from linkkeeper.ledger import HealthPolicy

    return HealthPolicy(
        dead_after_failures=options.pop("dead_after_failures"),
        dead_after_hours=options.pop("dead_after_hours"),
    )


def load_curriculum(path: Path, cache_dir: Path | None = None) -> Any:
    """Load readings.yaml for any command; located errors on stderr and exit 2 when invalid.
    ``cache_dir`` (the snapshots folder): reuse the model of a load of the same bytes there."""
    from linkkeeper.curriculum import CurriculumError, load_cached

    try:
        curriculum = load_cached(path, cache_dir)
    except CurriculumError as exc:
        errors = len(exc.errors)
        fail(f"{path} cannot be used ({errors} error{'s' * (errors != 1)}):\n{exc}")
    for warning in curriculum.warnings:
        click.secho(str(warning), fg="yellow", err=True)
    return curriculum


def from_config(*names: str) -> dict[str, Any]:
    """What the config file gives a run besides option defaults, by the run's field name:
    ``hosts`` (per-host limits) and ``user_agent_contact``; empty without a config file."""
    config = click.get_current_context().meta.get("linkkeeper.config")
    given = {
        "hosts": config.hosts if config else {},
        "user_agent_contact": config.shared.get("user_agent_contact") if config else None,
    }
    return {name: given[name] for name in names}


def run_stage(
    readings: Path,
    stage: Callable[[Any], int],
    usage_error: type[Exception],
    cache_dir: Path | None = None,
) -> NoReturn:
    """Load the curriculum (``cache_dir``: as :func:`load_curriculum`), run a stage on it and
    exit with the stage's code; the stage's usage error (unknown ids, bad rules, a locked
    ledger) exits 2 like any bad input."""
    curriculum = load_curriculum(readings, cache_dir)
    try:
        code = stage(curriculum)
    except usage_error as exc:
        fail(str(exc))
    sys.exit(code)


# -- declaring options ------------------------------------------------------------------------
F = TypeVar("F", bound=Callable[..., Any])

FILE = click.Path(dir_okay=False, path_type=Path)
FOLDER = click.Path(file_okay=False, path_type=Path)


def variable(flags: Iterable[str], command: str = "") -> str:
    """``LINKKEEPER_<OPTION>`` from an option's longest flag, or with a command name
    ``LINKKEEPER_<COMMAND>_<OPTION>``: every option's variable is named by this one rule."""
    option = max(flags, key=len).lstrip("-").replace("-", "_").upper()
    prefix = command.replace("-", "_").upper() + "_" if command else ""
    return f"LINKKEEPER_{prefix}{option}"


def option(*decls: str, own: bool = False, **attrs: Any) -> Callable[[F], F]:
    """``click.option`` as every command declares it: it shows its environment variable and
    its default, if any (the README promises both). The variable is ``LINKKEEPER_<OPTION>``,
    the same for every command that takes the option; with ``own=True`` the group names it
    ``LINKKEEPER_<COMMAND>_<OPTION>`` when the command is registered (a name that means
    different things in different commands); an ``envvar`` given wins."""
    if not own:
        attrs.setdefault("envvar", variable(d for d in decls if d.startswith("-")))
    attrs.setdefault("show_envvar", True)
    if "default" in attrs:
        attrs.setdefault("show_default", True)
    return click.option(*decls, **attrs)


def stack(*decorators: Callable[[Any], Any]) -> Callable[[F], F]:
    """Several options (or arguments) as one decorator, shown in the order given: a group
    declared once and put on every command that takes it."""

    def decorate(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return decorate


class RemapRule(click.ParamType):
    """A 'PATTERN REPLACEMENT' rule; in LINKKEEPER_REMAP rules are separated by newlines."""

    name = "'PATTERN REPLACEMENT'"
    envvar_list_splitter = "\n"


def duration(ctx: click.Context, param: click.Parameter, text: Any) -> Any:
    """``--max-age`` as a timedelta; a bad value is a usage error (exit 2)."""
    from linkkeeper.check import parse_duration

    try:
        return parse_duration(str(text))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


# -- options several commands take -------------------------------------------------------------
# The curriculum and the ledger: every command that reads the ledger takes both.
ledger_options = stack(
    option("--readings", type=FILE, default="readings.yaml", help="The curriculum file."),
    option(
        "--snapshots",
        type=FOLDER,
        default="snapshots",
        help="The ledger folder (machine-written records).",
    ),
)


def selection_options(verb: str) -> Callable[[F], F]:
    """Which readings a run works on (IDs, a week) and where they are: check's and archive's."""
    week_help = f"{verb} this week's readings (added to any IDs given)."
    return stack(
        click.argument("ids", nargs=-1),
        option("--week", type=click.IntRange(min=1), help=week_help),
        ledger_options,
    )


def format_option(*choices: str, own: bool = True) -> Callable[[F], F]:
    """``--format``: a command's own variable where its choices are its own (list, show,
    week); ``own=False``, ``LINKKEEPER_FORMAT``, for the run reports (check, archive)."""
    choice = click.Choice(choices)
    return option(
        "--format", "fmt", type=choice, default=choices[0], own=own, help="Output format."
    )


def seconds_option(name: str, default: float, help: str) -> Callable[[F], F]:
    """A non-negative number of seconds."""
    return option(name, type=click.FloatRange(min=0), default=default, metavar="SECONDS", help=help)


def count_option(name: str, default: int, help: str, least: int = 1) -> Callable[[F], F]:
    """A whole number of at least ``least``."""
    return option(name, type=click.IntRange(min=least), default=default, help=help)


def duration_option(name: str, default: str, help: str) -> Callable[[F], F]:
    """A span of time written like 20h or 30d, read as a timedelta (:func:`duration`)."""
    return option(name, default=default, callback=duration, metavar="DURATION", help=help)


def reach_options(remap: str, private: str) -> Callable[[F], F]:
    """Where URLs are really fetched and whether a private address may answer: every command
    that reaches the network (check, archive, week --post) takes both, with its own help."""
    return stack(
        option("--remap", multiple=True, type=RemapRule(), help=remap),
        option("--allow-private", is_flag=True, help=private),
    )


def page_options(
    flag: str, page: str, markdown: str, markdown_default: str | None = None
) -> Callable[[F], F]:
    """Where the published page (a folder) and the Markdown list go: publish and nightly
    write both, each under its own flag, help and variables."""
    default = {"default": markdown_default} if markdown_default else {}  # none: not written
    return stack(
        option(flag, type=FOLDER, default="site", own=True, help=page),
        option("--markdown", type=FILE, own=True, help=markdown, **default),
    )


# When a failing link becomes dead: every command that writes health takes these.
health_policy_options = stack(
    count_option(
        "--dead-after-failures",
        3,
        "A link is dead after this many failed checks since its last success...",
    ),
    option(
        "--dead-after-hours",
        type=click.FloatRange(min=0),
        default=48.0,
        help="...spanning at least this many hours from the first failure to the latest.",
    ),
)

# The Discord channel: week --post and nightly post there.
discord_options = stack(
    option(
        "--discord-webhook",
        metavar="URL",
        envvar=["DISCORD_WEBHOOK_URL", "LINKKEEPER_DISCORD_WEBHOOK"],
        help="The Discord channel's webhook URL (a secret: prefer the environment variable).",
    ),
    option(
        "--discord-retries",
        type=click.IntRange(min=0, max=10),
        default=3,
        help="Retries of a Discord request answered 5xx or not at all (waits 1, 2, 4 s ...).",
    ),
)
