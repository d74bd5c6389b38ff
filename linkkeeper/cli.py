"""The command line: thin wrappers that parse options and call the pipeline modules.

Heavy modules (httpx, aiohttp, jsonschema, rich ...) are imported inside the commands so that
``linkkeeper --help`` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from linkkeeper import __version__

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
COMMANDS = ["list", "import", "check", "archive", "show", "publish", "week", "open", "nightly",
            "demo", "sandbox"]


def fail(message: str) -> NoReturn:
    """Print an input/usage error and exit 2 (the documented code for bad input)."""
    click.secho(f"Error: {message}", fg="red", err=True)
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


# -- the group ------------------------------------------------------------------------------
class LazyGroup(click.Group):
    """Reads the config file once, before any command, into Click's ``default_map``."""

    def make_context(self, info_name: Any, args: list[str], parent: Any = None, **extra: Any) -> Any:
        from linkkeeper.config import ConfigError, find_config, load_config

        config_path = _config_path_from_args(args)
        try:
            config = load_config(config_path if config_path else find_config())
        except ConfigError as exc:
            fail(str(exc))
        extra.setdefault("default_map", config.default_map(COMMANDS))
        ctx = super().make_context(info_name, args, parent=parent, **extra)
        ctx.meta["linkkeeper.config"] = config
        return ctx


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
