"""``linkkeeper list | head -1``: the reader leaving early is not an error."""

from __future__ import annotations

import os
import sys
from typing import NoReturn


def reader_gone() -> NoReturn:
    """Stop quietly with exit 0 once stdout's reader has closed the pipe. Python (and rich)
    would report the broken pipe and exit 1 (or 120 when flushing at exit); stdout is
    pointed at /dev/null first so that final flush has nowhere to fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (a test's captured stdout)
        pass
    finally:
        os.close(devnull)
    raise SystemExit(0)
