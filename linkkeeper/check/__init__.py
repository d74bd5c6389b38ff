"""The check engine: fetch, judge, record; metadata and content drift read the same answers; the
check report."""

from linkkeeper._face import lazy

# The stage's public face: name -> the module that holds it (imported on first
# use, so importing the stage stays cheap). Other stages import only these.
_FACE = {
    "CheckOptions": "command",
    "CheckRun": "engine",
    "CheckUsageError": "command",
    "drift": "drift",
    "EXIT_DAMAGED": "engine",
    "has_findings": "report",
    "html_metadata": "metadata",
    "interrupted": "command",
    "main": "command",
    "Outcome": "report",
    "parse_duration": "engine",
    "print_rich": "report",
    "render": "report",
    "render_markdown": "report",
    "render_text": "report",
    "report_damage": "command",
    "Row": "report",
    "ROW_ANNOTATORS": "engine",
    "run_with_options": "command",
    "select": "engine",
    "Selection": "command",
    "SelectionError": "engine",
    "summary_line": "report",
    "titles_from_ledger": "metadata",
}
__getattr__ = lazy(__name__, _FACE)
