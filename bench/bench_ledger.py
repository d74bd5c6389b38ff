"""CPU per record of the ledger's write path, as a check run drives it (run by hand).

    /work/venv/bin/python bench/bench_ledger.py [N] [--nights 2] [--repeat 3] [--profile FILE]

Night 1 fills a fresh ``snapshots/`` with N records; night 2 checks the same readings a day
later (most repeat their outcome and are not rewritten; one in ten keeps failing and grows).
Each night is timed in parts, in CPU time of the whole process (``getrusage``: the writer
thread included), as user + kernel µs per record, the best of ``--repeat`` runs:

- plan: ``Ledger.sync`` and the ``get`` per reading that decides what needs a fetch;
- record: ``stage_check`` on the event loop with the write-behind queue, as ``check.py`` does;
- close: the freshness cache and the folder's last fsync.

The kernel part is mostly creating files (each atomic write makes a new temp file): on some
virtual machines that alone costs ~0.6 ms per file, so compare user time across versions.
``--profile`` sees the event loop's thread only (not the writer) and, being deterministic,
inflates small built-in calls (the JSON walk in ``_jsonfile`` most of all).
The fold stands in for the metadata/drift harvest with a realistic section of fixed content,
so its own cost is a dict literal. No network: the results are made up.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import pstats
import resource
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from linkkeeper.core.models import CheckResult, Reading, Verdict
from linkkeeper.ledger.record import Record
from linkkeeper.ledger.store import Ledger
from linkkeeper.ledger.writebehind import WriteBehind

START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
MINHASH = "00104527efc6808a6f68bbe855120d2ca1aac48127ea1ddd64f11302222aee4991" * 8


def readings(n: int) -> list[Reading]:
    return [
        Reading(f"r{i}", f"Notes r{i} — “attention”", f"https://h{i % 20}.example/article/{i}")
        for i in range(n)
    ]


def result(reading: Reading, at: datetime) -> CheckResult:
    """Mostly successes; every tenth reading fails every night."""
    i = int(reading.id[1:])
    verdict, status, reason = (
        (Verdict.BROKEN, 404, "HTTP 404 Not Found") if i % 10 == 3 else (Verdict.OK, 200, "OK")
    )
    return CheckResult(
        reading.id, reading.url, verdict, reason, final_url=reading.url, kind="web",
        http_status=status, checked_at=at,
    )  # fmt: skip


def fold(record: Record) -> None:
    """What the metadata and drift stages add: about 2.5 KB of sections, the same each night."""
    url = record.url
    field = {"confidence": "high", "source": "meta"}
    record.data["metadata"] = {
        "abstract": {**field, "value": f"Part {record.id} of our notes on attention."},
        "authors": {**field, "value": ["Ada Reader", "Zoë Écrivain"]},
        "content_type": {**field, "source": "http", "value": "text/html"},
        "fetched_at": "2026-03-02T02:00:00Z",
        "final_url": {**field, "source": "http", "value": url},
        "site": {"confidence": "low", "source": "url", "value": "h1.example"},
        "size": {**field, "source": "http", "value": 4724},
        "title": {**field, "source": "og", "value": f"Notes on attention, part {record.id}"},
        "url": url,
        "words": {**field, "source": "text", "value": 701},
    }
    record.data["drift"] = {
        "baseline": {
            "at": "2026-03-02T02:00:00Z",
            "minhash": MINHASH,
            "simhash": "b38495e29e659",
            "source": "live",
            "title": f"Notes on attention, part {record.id}",
            "words": 701,
        },
        "changed": False,
        "checked_at": "2026-03-02T02:00:00Z",
        "description": None,
        "latest": None,
        "similarity": 1.0,
        "url": url,
    }


def plan(ledger: Ledger, items: list[Reading]) -> None:
    ledger.sync(items)
    for reading in items:
        record = ledger.get(reading.id)
        if record is not None:
            record.current_checks  # noqa: B018 - needs_check reads the history


async def record_all(ledger: Ledger, items: list[Reading], night: int) -> int:
    writer, written = WriteBehind(ledger), []
    for n, reading in enumerate(items):
        at = START + timedelta(days=night, seconds=n // 50)
        _, write = ledger.stage_check(reading, result(reading, at), fold=fold)
        if write is not None:
            writer.submit(write, lambda: written.append(1))
            await writer.room()
    await writer.flush()
    return len(written)


def cpu() -> tuple[float, float]:
    """(user, system) CPU seconds of the process so far, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def night(folder: Path, items: list[Reading], number: int) -> list[float]:
    """µs per record, user and system CPU of plan, record and close; files written."""
    ledger = Ledger(folder, clock=lambda: START + timedelta(days=number))
    ledger.open()
    marks = [cpu()]
    plan(ledger, items)
    marks.append(cpu())
    written = asyncio.run(record_all(ledger, items, number))
    marks.append(cpu())
    ledger.close()
    marks.append(cpu())
    per = 1e6 / len(items)
    row = []
    for before, after in itertools.pairwise(marks):
        row += [(after[0] - before[0]) * per, (after[1] - before[1]) * per]
    return [*row, written]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, nargs="?", default=2000, help="records")
    parser.add_argument("--nights", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best of each is kept")
    parser.add_argument("--profile", type=Path, help="write cProfile stats of all nights here")
    args = parser.parse_args()
    items = readings(args.n)
    profiler = cProfile.Profile() if args.profile else None
    best: list[list[float]] = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="lk-ledger-") as tmp:
            for number in range(1, args.nights + 1):
                if profiler is not None:
                    profiler.enable()
                row = night(Path(tmp), items, number)
                if profiler is not None:
                    profiler.disable()
                if len(best) < number:
                    best.append(row)
                else:
                    best[number - 1] = [
                        min(a, b) for a, b in zip(best[number - 1], row, strict=True)
                    ]
    print(f"{args.n} records, best of {args.repeat}; µs CPU per record, user + system (kernel)")
    print(f"{'night':>5} {'plan':>15} {'record':>15} {'close':>13} {'total':>15}  written")
    for number, row in enumerate(best, start=1):
        *times, written = row
        user, system = sum(times[0::2]), sum(times[1::2])
        cells = [(times[i], times[i + 1]) for i in (0, 2, 4)] + [(user, system)]
        text = " ".join(f"{u:7.1f} +{s:6.1f}" for u, s in cells)
        print(f"{number:>5} {text}  {written:.0f}")
    if profiler is not None:
        profiler.dump_stats(args.profile)
        pstats.Stats(str(args.profile)).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
