"""Settings: one config source in the repo (``[tool.linkkeeper]`` in ``pyproject.toml``).

Precedence, highest first: command-line flags, ``LINKKEEPER_*`` environment variables, the
config file, built-in defaults. Click does the layering: the file becomes its ``default_map``
and every option names its environment variable.

Layout::

    [tool.linkkeeper]                 # keys shared by every command
    readings = "readings.yaml"
    snapshots = "snapshots"

    [tool.linkkeeper.check]           # keys for one command (option names, underscores)
    max_concurrency = 64

    [tool.linkkeeper.hosts."arxiv.org"]   # per-host politeness overrides
    concurrency = 1
    interval = 3.0
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

CONFIG_FILE = "pyproject.toml"
COMMAND_SECTIONS_EXCLUDED = {"hosts"}
SHARED_ONLY_KEYS = {"user_agent_contact"}  # read by the code, not an option of any command


class ConfigError(Exception):
    """The config file cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class HostOverride:
    """Per-host politeness settings from ``[tool.linkkeeper.hosts."HOST"]``."""

    concurrency: int | None = None
    interval: float | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Config:
    """The parsed ``[tool.linkkeeper]`` table."""

    path: Path | None
    shared: dict[str, Any]
    commands: dict[str, dict[str, Any]]
    hosts: dict[str, HostOverride]

    def default_map(self, command_names: list[str]) -> dict[str, dict[str, Any]]:
        """Click ``default_map``: shared keys, then each command's own section on top."""
        return {name: {**self.shared, **self.commands.get(name, {})} for name in command_names}

    def checked(self, options: Mapping[str, Mapping[str, str]]) -> Config:
        """This config with every key known, keyed by parameter name (``format`` -> ``fmt``);
        :class:`ConfigError` lists each unknown key, where it is and what was meant.

        ``options``: command -> {config key (the option's name or its parameter's name,
        underscores) -> the parameter it sets}. A shared key may belong to any command."""
        problems: list[str] = []
        every = {key: name for keys in options.values() for key, name in keys.items()}
        every |= {key: key for key in SHARED_ONLY_KEYS}
        shared = {}
        for key, value in self.shared.items():
            if key in every:
                shared[every[key]] = value
            else:
                problems.append(self._unknown(key, "[tool.linkkeeper]", every))
        commands: dict[str, dict[str, Any]] = {}
        for command, section in self.commands.items():
            if command not in options:
                sections = [*options, *COMMAND_SECTIONS_EXCLUDED]
                problems.append(self._unknown(command, "[tool.linkkeeper]", sections, "table"))
                continue
            known = options[command]
            commands[command] = {}
            for key, value in section.items():
                if key in known:
                    commands[command][known[key]] = value
                else:
                    where = f"[tool.linkkeeper.{command}]"
                    problems.append(self._unknown(key, where, known))
        if problems:
            raise ConfigError("\n".join(problems))
        return replace(self, shared=shared, commands=commands)

    def _unknown(self, key: str, where: str, known: Any, kind: str = "key") -> str:
        near = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
        hint = f"did you mean {near[0]!r}? " if near else ""
        line = _line_of(self.path, key)
        at = f"{self.path}:{line}" if line else str(self.path)
        rule = (
            "tables are named after commands, or hosts"
            if kind == "table"
            else "keys are the options' names with underscores (`linkkeeper COMMAND --help`)"
        )
        return f"{at}: unknown {kind} {key!r} in {where}; {hint}{rule}; fix or remove it"


def _line_of(path: Path | None, key: str) -> int | None:
    """Best effort: the line of ``key =`` (or ``[....key]``) in the file."""
    try:
        text = path.read_text(encoding="utf-8") if path else ""
    except OSError:
        return None
    spelled = re.escape(key).replace("_", "[-_]")
    pattern = rf'^[ \t]*(?:"?{spelled}"?[ \t]*=|\[tool\.linkkeeper\.{spelled}\])'
    match = re.search(pattern, text, re.MULTILINE)
    return text.count("\n", 0, match.start()) + 1 if match else None


def find_config(start: Path | None = None) -> Path | None:
    """The nearest ``pyproject.toml`` with a ``[tool.linkkeeper]`` table, from ``start`` up."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            try:
                data = tomllib.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError):
                return candidate  # let load_config report it properly
            if "linkkeeper" in data.get("tool", {}):
                return candidate
    return None


def load_config(path: Path | None) -> Config:
    """Parse the config file; ``None`` gives the built-in defaults."""
    if path is None:
        return Config(path=None, shared={}, commands={}, hosts={})
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}. Fix the syntax or remove it.") from exc
    table = data.get("tool", {}).get("linkkeeper", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.linkkeeper] must be a table")
    shared: dict[str, Any] = {}
    commands: dict[str, dict[str, Any]] = {}
    for key, value in table.items():
        if key in COMMAND_SECTIONS_EXCLUDED:
            continue
        if isinstance(value, dict):
            commands[key] = {k.replace("-", "_"): v for k, v in value.items()}
        else:
            shared[key.replace("-", "_")] = value
    hosts: dict[str, HostOverride] = {}
    for host, spec in table.get("hosts", {}).items():
        if not isinstance(spec, dict):
            raise ConfigError(f'{path}: [tool.linkkeeper.hosts."{host}"] must be a table')
        unknown = set(spec) - {"concurrency", "interval", "headers"}
        if unknown:
            raise ConfigError(
                f'{path}: [tool.linkkeeper.hosts."{host}"] has unknown keys {sorted(unknown)}; '
                "allowed: concurrency, interval, headers"
            )
        headers = spec.get("headers", {})
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and (k + v).isascii() and v.isprintable()
            for k, v in headers.items()
        ):
            raise ConfigError(
                f'{path}: [tool.linkkeeper.hosts."{host}"] headers must be names and values '
                "of printable ASCII text (HTTP sends headers as ASCII), e.g. "
                'headers = {"Accept-Language" = "en"}'
            )
        hosts[host.lower()] = HostOverride(
            concurrency=spec.get("concurrency"),
            interval=spec.get("interval"),
            headers=tuple(sorted(headers.items())),
        )
    return Config(path=path, shared=shared, commands=commands, hosts=hosts)
