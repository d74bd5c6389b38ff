"""``list`` and ``import``: the curriculum stage's commands."""

from __future__ import annotations

from pathlib import Path

import click

from linkkeeper.cli import options as shared

# -- list, import (curriculum) --------------------------------------------------------------


@click.command("list")
@shared.ledger_options
@shared.format_option("table", "json")
@shared.option("--week", type=click.IntRange(min=1), own=True, help="Show only this week.")
def list_command(readings: Path, snapshots: Path, fmt: str, week: int | None) -> None:
    """Show the curriculum offline: weeks, readings and the kind of each link.

    \b
    JSON: {"title", "description", "weeks": [{"week", "title", "posted", "prompt",
    "comments", "readings": [...]}], "backlog": [{"group", "note", "comments", "readings"}]}.
    """
    from linkkeeper.check import titles_from_ledger
    from linkkeeper.curriculum import render
    from linkkeeper.ledger import Ledger

    curriculum = shared.load_curriculum(readings)
    if week is not None and curriculum.week(week) is None:
        numbers = ", ".join(str(w.number) for w in curriculum.weeks) or "none"
        shared.fail(f"week {week} is not in {readings} (weeks: {numbers})")
    ledger = Ledger(snapshots)
    render(curriculum, fmt=fmt, week=week, titles=titles_from_ledger(ledger))
    shared.exit_if_damaged(ledger, "their readings are listed without fetched titles")


@click.command("import")
@click.argument("page", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@shared.option(
    "--output",
    type=shared.FILE,
    own=True,
    help="The curriculum file to create or merge into (default: the configured readings).",
)
@shared.option("--write", is_flag=True, own=True, help="Apply the changes to an existing file.")
def import_command(page: Path, output: Path | None, write: bool) -> None:
    """Import a Markdown reading-list page into readings.yaml.

    A new file is written at once. An existing file is merged by URL (nothing you wrote is
    dropped); the diff is shown and the file is only changed with --write.
    """
    from linkkeeper.curriculum import CurriculumError, PageError, import_page

    ctx = click.get_current_context()
    output = output or Path(ctx.lookup_default("readings") or "readings.yaml")
    try:
        result = import_page(page, output, write=write)
    except (CurriculumError, PageError) as exc:
        shared.fail(f"cannot import into {output}:\n{exc}")
    for note in result.notes:
        click.secho(f"note: {note}", fg="yellow", err=True)
    if result.created:
        click.echo(f"Wrote {output} from {page}.")
        return
    if not result.changed:
        click.echo(f"{output}: no changes.")
        return
    for line in result.diff().splitlines():
        color = {"+": "green", "-": "red", "@": "cyan"}.get(line[:1])
        click.secho(line, fg=None if line[:3] in ("+++", "---") else color)
    for number, line in result.rewritten:
        note = f"note: {output}:{number} is not kept as written: {line.strip()!r}"
        click.secho(note, fg="yellow", err=True)
    if result.written:
        click.echo(f"Updated {output}.")
    else:
        click.echo(f"Not written: run again with --write to update {output}.")
