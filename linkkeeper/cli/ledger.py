"""``show`` and ``prune``: one reading's record, and the only command that deletes."""

from __future__ import annotations

from pathlib import Path

import click

from linkkeeper.cli import options as shared


# -- show (one reading, everything known) ------------------------------------------------------
@click.command("show")
@click.argument("reading_id", metavar="ID")
@shared.ledger_options
@shared.format_option("text", "json")
@shared.option(
    "--checks",
    "history",
    type=click.IntRange(min=1),
    default=10,
    own=True,
    help="Recent checks to list in the text view (JSON lists all kept).",
)
def show_command(reading_id: str, readings: Path, snapshots: Path, fmt: str, history: int) -> None:
    """Show everything known about reading ID: curriculum entry, fetched metadata (with the
    source of each field), health and recent checks, captures, archive state and drift.

    \b
    Exit codes: 0 shown, 2 unknown id (with suggestions), bad input or a damaged record (its
    curriculum entry is shown, then the damage is named).
    """
    from linkkeeper.ledger import Ledger, LedgerError, UnknownReading, find_reading
    from linkkeeper.outputs import gather, render_json, render_text

    curriculum = shared.load_curriculum(readings)
    ledger = Ledger(snapshots)
    try:
        try:
            reading = find_reading(curriculum.readings(), reading_id)
        except UnknownReading as exc:
            orphan = ledger.find(reading_id) if reading_id in ledger.ids() else None
            if orphan is None:
                shared.exit_if_damaged(ledger)  # an orphan's damaged record: named, exit 2
                shared.fail(str(exc))
            reading = None
        record = ledger.find(reading.id) if reading else orphan
    except LedgerError as exc:
        shared.fail(str(exc))
    document = gather(reading, record)
    if ledger.damaged:  # the record exists but cannot be used: not "not checked yet"
        document["damaged"] = True
    click.echo(render_json(document) if fmt == "json" else render_text(document, history), nl=False)
    shared.exit_if_damaged(ledger, "shown without its recorded checks, captures or metadata")


# -- prune (the only command that deletes ledger records) ------------------------------------
@click.command("prune")
@shared.ledger_options
@shared.option(
    "--yes", is_flag=True, own=True, help="Really delete; without it, only list what would go."
)
def prune_command(readings: Path, snapshots: Path, yes: bool) -> None:
    """Delete the ledger records of readings that left readings.yaml (orphans).

    Nothing else ever deletes a record: check marks them `orphaned` and keeps their history.
    Without --yes this only lists them.

    \b
    Exit codes: 0 done (or nothing to do), 2 bad input, a locked ledger or a damaged record
    (named and left as it is; the other orphans are still listed or deleted).
    """
    from linkkeeper.ledger import Ledger, LedgerError

    curriculum = shared.load_curriculum(readings)
    ledger = Ledger(snapshots)
    try:
        with ledger:
            ledger.sync(curriculum.readings())
            orphans = sorted(r.id for r in ledger.records() if r.orphaned)
            removed = ledger.prune_orphans() if yes and orphans else []
    except LedgerError as exc:
        shared.fail(str(exc))
    if not orphans:
        click.echo(f"No orphaned records in {snapshots}/.")
    elif not yes:
        click.echo(f"{len(orphans)} orphaned record(s) in {snapshots}/ would be deleted:")
        for reading_id in orphans:
            click.echo(f"  {reading_id}")
        click.echo("Run again with --yes to delete them (git keeps their history).")
    else:
        click.echo(f"Deleted {len(removed)} orphaned record(s): {', '.join(removed)}")
    shared.exit_if_damaged(ledger, "they were not pruned, whatever their reading")
