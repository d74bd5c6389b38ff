"""An answer before Tuesday: how long ``linkkeeper check`` takes on 21 links of which five
servers answer 5xx (one a 503 with ``Retry-After: 3600``), with every default patience setting.

    python bench/bench_patience.py [--retry-after-cap SECONDS] [extra check options ...]

It starts the sandbox web, writes the 21 readings of ``tests/test_patience.py`` to a temporary
folder, runs the real command through Click (remapped to loopback) and prints the wall time,
the verdict counts and the reason given for the maintenance host. Before the bounds (issue 17)
the same check took 4 min 15 s; the goal is under a minute.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from click.testing import CliRunner

from linkkeeper.cli import cli
from linkkeeper.sandbox import start_sandbox

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from test_patience import TUESDAY, tuesday_readings


def main(extra: list[str]) -> int:
    box = start_sandbox()
    try:
        with tempfile.TemporaryDirectory() as folder:
            readings = tuesday_readings(Path(folder))
            remaps = [part for rule in box.remap_rules() for part in ("--remap", rule)]
            argv = ["check", "--readings", str(readings), "--snapshots", f"{folder}/snapshots",
                    "--allow-private", "--format", "json", "--fail-on", "never",
                    *remaps, *extra]  # fmt: skip
            started = time.monotonic()
            result = CliRunner().invoke(cli, argv, catch_exceptions=False)
            took = time.monotonic() - started
    finally:
        box.stop()
    rows = {row["url"]: row for row in json.loads(result.stdout)["results"]}
    verdicts = {url: row["verdict"] for url, row in rows.items()}
    print(f"21 links, five 5xx servers: {took:.1f} s (goal: under 60 s; before: 255 s)")
    print("verdicts:", dict(Counter(verdicts.values())))
    print("as expected:", verdicts == TUESDAY)
    print("maintenance.example:", rows["https://maintenance.example/article/42"]["reason"])
    return 0 if verdicts == TUESDAY and took < 60 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
