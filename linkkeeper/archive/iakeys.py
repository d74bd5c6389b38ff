"""Internet Archive S3 keys: found where the ``ia`` tool keeps them, never shown to anyone.

Save Page Now 2 wants ``Authorization: LOW <access>:<secret>``. The keys come from
``IA_ACCESS_KEY``/``IA_SECRET_KEY``, else from the ``internetarchive`` tool's ``ia.ini`` (so a
member who ran ``ia configure`` once needs nothing else). :class:`Keys` hides both halves in
``repr``/``str`` and builds the header only when a request is sent.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

KEYS_PAGE = "https://archive.org/account/s3.php"
KEYS_HELP = (
    "New Wayback captures need Internet Archive keys: log in to an archive.org account, open "
    f"{KEYS_PAGE}, then either export IA_ACCESS_KEY and IA_SECRET_KEY or run `ia configure` "
    "(it writes ~/.config/internetarchive/ia.ini). Finding existing captures works without keys."
)
MASK = "***"


class KeysError(Exception):
    """The keys are configured but unusable; the message names the file or variable and the fix."""


@dataclass(frozen=True, repr=False)
class Keys:
    """An access/secret pair; neither half ever appears in ``repr``, ``str`` or f-strings."""

    access: str
    secret: str
    source: str = field(default="", compare=False)  # "environment" or the ia.ini path

    def __repr__(self) -> str:
        return f"Keys(access={MASK!r}, secret={MASK!r})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def authorization(self) -> str:
        """The SPN2 header value; call it only while building the request being sent."""
        return f"LOW {self.access}:{self.secret}"

    def scrub(self, text: str) -> str:
        """``text`` with both halves masked: for any error text that might echo a request."""
        for value in (self.secret, self.access):
            if value:
                text = text.replace(value, MASK)
        return text


def config_candidates(environ: Mapping[str, str], home: Path) -> list[Path]:
    """Where ``ia`` looks for its config, in its own order (``internetarchive.config``)."""
    candidates = []
    if environ.get("IA_CONFIG_FILE"):
        candidates.append(Path(environ["IA_CONFIG_FILE"]).expanduser())
    xdg = environ.get("XDG_CONFIG_HOME", "")
    config_home = Path(xdg) if xdg and os.path.isabs(xdg) else home / ".config"
    candidates += [
        config_home / "internetarchive" / "ia.ini",
        home / ".config" / "ia.ini",
        home / ".ia",
    ]
    return candidates


def load_keys(environ: Mapping[str, str] | None = None, home: Path | None = None) -> Keys | None:
    """The keys from the environment, else the first ``ia.ini`` found; ``None`` if neither.

    Raises :class:`KeysError` for half-configured keys (one variable set, a file without
    ``[s3]`` keys), since silently running anonymous would only fail later with a 401.
    """
    env = os.environ if environ is None else environ
    access, secret = env.get("IA_ACCESS_KEY", "").strip(), env.get("IA_SECRET_KEY", "").strip()
    if access and secret:
        return Keys(access, secret, source="environment")
    if access or secret:
        missing = "IA_SECRET_KEY" if access else "IA_ACCESS_KEY"
        raise KeysError(
            f"IA_ACCESS_KEY and IA_SECRET_KEY must be set together; {missing} is "
            f"empty. Set both (from {KEYS_PAGE}) or unset both."
        )
    for path in config_candidates(env, Path.home() if home is None else home):
        if path.is_file():
            return _keys_from_ini(path)
    return None


def _keys_from_ini(path: Path) -> Keys | None:
    parser = configparser.RawConfigParser()  # raw: a secret may contain '%'
    try:
        parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    except OSError as exc:
        raise KeysError(f"{path}: cannot read Internet Archive config ({exc.strerror})") from None
    except configparser.Error as exc:
        errors = getattr(exc, "errors", None)  # ParsingError: [(lineno, line), ...]
        line = getattr(exc, "lineno", None) or (errors[0][0] if errors else None)
        where = f"{path}:{line}" if line else str(path)
        # The parser's own message may quote a line of the file, i.e. possibly a secret.
        raise KeysError(
            f"{where}: not a valid ia.ini ({type(exc).__name__}); fix the file "
            "or run `ia configure` again."
        ) from None
    if not parser.has_section("s3"):
        return None  # e.g. only [cookies]: logged in for uploads, no S3 keys
    access = parser.get("s3", "access", fallback="").strip()
    secret = parser.get("s3", "secret", fallback="").strip()
    if access and secret:
        return Keys(access, secret, source=str(path))
    if access or secret:
        missing = "secret" if access else "access"
        raise KeysError(
            f"{path}: section [s3] has no '{missing}' key; add it (from "
            f"{KEYS_PAGE}) or run `ia configure` again."
        )
    return None
