"""The command line: thin wrappers that parse options and call the pipeline modules.

Heavy modules (httpx, aiohttp, jsonschema, rich ...) are imported inside the commands so that
``linkkeeper --help`` stays fast.

One module per command group (``cli/check.py`` ...) holds each command's options and
wiring; ``cli/options.py`` the options several share."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import click

from linkkeeper import __version__
from linkkeeper.cli import options as shared
from linkkeeper.cli.archive import archive_command
from linkkeeper.cli.check import check_command
from linkkeeper.cli.curriculum import import_command, list_command
from linkkeeper.cli.ledger import prune_command, show_command
from linkkeeper.cli.members import open_command, publish_command, week_command
from linkkeeper.cli.nightly import demo_command, nightly_command, sandbox_command
from linkkeeper.cli.options import EXIT_USAGE, fail

__all__ = ["EXIT_USAGE", "cli", "main"]


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
@shared.option(
    "--config",
    type=shared.FILE,
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


# Each command's options and wiring live in its module (cli/check.py ...).
# The commands, in the order they were always registered. No two share an option object
# (groups such as check's run options are declared anew on each), so the variables
# given below do not depend on this order.
for _command in (
    list_command,
    import_command,
    check_command,
    publish_command,
    week_command,
    open_command,
    nightly_command,
    demo_command,
    sandbox_command,
    archive_command,
    show_command,
    prune_command,
):
    cli.add_command(_command)


def _give_every_option_a_variable(group: click.Group) -> None:
    """Every option can come from the environment (the README promises it): options without a
    shared ``LINKKEEPER_<OPTION>`` variable (``shared.option(..., own=True)``) get
    ``LINKKEEPER_<COMMAND>_<OPTION>``, so that a variable meant for one command
    (``LINKKEEPER_FORMAT=github`` for check) never reaches another whose choices differ."""
    for name, command in group.commands.items():
        for param in command.params:
            if isinstance(param, click.Option) and param.envvar is None and param.opts:
                param.envvar = shared.variable(param.opts, name)
                param.show_envvar = True


_give_every_option_a_variable(cli)
