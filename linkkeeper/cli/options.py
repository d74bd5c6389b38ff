"""What several commands share: exits, their common options, loading the curriculum."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

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


class RemapRule(click.ParamType):
    """A 'PATTERN REPLACEMENT' rule; in LINKKEEPER_REMAP rules are separated by newlines."""

    name = "'PATTERN REPLACEMENT'"
    envvar_list_splitter = "\n"


def shared_envvar(param_name: str, envvar: str) -> Any:
    """Give an option declared by a shared helper its own environment variable."""

    def decorate(func: Any) -> Any:
        for param in getattr(func, "__click_params__", []):
            if param.name == param_name:
                param.envvar, param.show_envvar = envvar, True
        return func

    return decorate


def duration(ctx: click.Context, param: click.Parameter, text: Any) -> Any:
    """``--max-age`` as a timedelta; a bad value is a usage error (exit 2)."""
    from linkkeeper.check import parse_duration

    try:
        return parse_duration(str(text))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


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
