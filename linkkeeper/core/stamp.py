"""A hash of some of linkkeeper's own source files: the key of a cache that holds what this
code concluded (a validated curriculum, validated record bytes), so another version or an
edited checkout never reuses it."""

from __future__ import annotations

import functools
import hashlib
from importlib import resources


@functools.cache
def source_stamp(prefix: str, names: tuple[str, ...]) -> str:
    """BLAKE2b (16 bytes, hex) of ``prefix`` and each named file of the package (paths
    relative to ``linkkeeper/``), name and bytes; read once a process."""
    package = resources.files("linkkeeper")
    digest = hashlib.blake2b(prefix.encode(), digest_size=16)
    for name in names:
        digest.update(name.encode() + b"\0" + package.joinpath(name).read_bytes() + b"\0")
    return digest.hexdigest()
