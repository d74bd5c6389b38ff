"""The ledger (snapshots/): one record per reading, its health state machine, the journal, the
freshness cache, and which link a reading is offered."""

from linkkeeper._face import lazy

# The stage's public face: name -> the module that holds it (imported on first
# use, so importing the stage stays cheap). Other stages import only these.
_FACE = {
    "annotate_row": "links",
    "BAD": "links",
    "Check": "record",
    "choose": "links",
    "damage_report": "record",
    "DamagedRecord": "record",
    "explain": "links",
    "failure_mark": "links",
    "find_reading": "links",
    "format_day": "health",
    "format_time": "health",
    "FreshnessCache": "freshness",
    "GOOD": "links",
    "HealthPolicy": "health",
    "json_document": "jsonfile",
    "is_good": "links",
    "Ledger": "store",
    "LedgerError": "record",
    "LinkChoice": "links",
    "mark_timestamp": "links",
    "needs_check": "health",
    "NO_GOOD_COPY": "links",
    "parse_time": "health",
    "pick_capture": "links",
    "Record": "record",
    "Repeat": "store",
    "rejected": "links",
    "rejected_captures": "links",
    "to_timestamp": "health",
    "TS_FORMAT": "health",
    "UnknownReading": "links",
    "UNREADABLE": "links",
    "WriteBehind": "writebehind",
}
__getattr__ = lazy(__name__, _FACE)
