"""``linkkeeper show ID``: everything known about one reading, in one place.

The curriculum entry, the fetched metadata with the source of each field, health and the
recent checks, the Wayback captures and archive state, content drift, and the link a member
would be given. Offline: it only reads ``readings.yaml`` and the reading's ledger record.
"""

from __future__ import annotations

import json
from typing import Any

from linkkeeper.core import Reading, textsafe
from linkkeeper.ledger import Record

VALUE_WIDTH = 78  # long values (abstracts) are cut in the text view; JSON has them whole
META_ORDER = (
    "title", "authors", "published", "updated", "site", "abstract", "doi", "journal_ref",
    "primary_category", "latest_version", "content_type", "pages", "words", "size",
    "final_url", "last_modified", "channel_url",
)  # fmt: skip


def _reading_dict(reading: Reading) -> dict[str, Any]:
    return {
        "id": reading.id,
        "title": reading.title,
        "url": reading.url,
        "kind": reading.kind,
        "note": reading.note,
        "week": reading.week,
        "week_title": reading.week_title,
        "assigned": reading.assigned.isoformat() if reading.assigned else None,
        "line": reading.line,
    }


def _section(record: Record | None, name: str) -> dict[str, Any] | None:
    value = record.data.get(name) if record else None
    return value if isinstance(value, dict) else None


def gather(reading: Reading | None, record: Record | None) -> dict[str, Any]:
    """The JSON document of ``show``: curriculum entry (``None`` for an orphaned record) and
    every section of the ledger record, as stored."""
    from linkkeeper.ledger import choose

    link = choose(reading, record) if reading is not None else None
    return {
        "id": reading.id if reading else record.id if record else None,
        "reading": _reading_dict(reading) if reading else None,
        "orphaned": bool(record.orphaned) if record else False,
        "recorded": record is not None,
        "best_link": link.best if link else None,
        "archived_copy": _offered(link),
        "health": record.health.to_dict() if record else None,
        "checks": list(record.data.get("checks", [])) if record else [],
        "metadata": _section(record, "metadata") or {},
        "captures": _section(record, "captures"),
        "archive": _section(record, "archive"),
        "drift": _section(record, "drift"),
    }


def _offered(link: Any) -> dict[str, Any] | None:
    """The archived copy members are offered (:func:`linkkeeper.ledger.links.pick_capture`), or why
    none is, when the original is broken."""
    if link is None or link.original is None:
        return None
    capture = link.capture
    if capture is None:
        from linkkeeper.ledger import NO_GOOD_COPY

        return {"url": None, "note": NO_GOOD_COPY} if link.original_broken else None
    return {
        "url": capture.url,
        "timestamp": capture.timestamp,
        "kind": link.capture_kind,
        "label": link.capture_label,
    }


def render_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


# -- text --------------------------------------------------------------------------------------
def _cut(text: str, width: int = VALUE_WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _value(name: str, value: Any) -> str:
    if isinstance(value, list):
        names = [str(v) for v in value]
        shown = ", ".join(names[:4]) + (f" … ({len(names)} in all)" if len(names) > 4 else "")
        return _cut(shown)
    if name == "size" and isinstance(value, int):
        return f"{value:,} bytes"
    return _cut(str(value))


def _metadata_lines(section: dict[str, Any]) -> list[str]:
    fields = {k: v for k, v in section.items() if isinstance(v, dict) and "value" in v}
    if not fields:
        return ["Metadata: none yet (run `linkkeeper check`)"]
    stamp = section.get("fetched_at")
    lines = [f"Metadata{f' (as of {stamp})' if stamp else ''}:"]
    names = sorted(fields, key=lambda n: (META_ORDER.index(n) if n in META_ORDER else 99, n))
    for name in names:
        item = fields[name]
        source = f"{item.get('source')}" + (", low" if item.get("confidence") == "low" else "")
        lines.append(f"  {name:<17} {_value(name, item['value'])}  [{source}]")
    return lines


def _check_lines(checks: list[Any], limit: int) -> list[str]:
    if not checks:
        return ["Checks: none yet"]
    shown = [c for c in checks if isinstance(c, dict)][-limit:][::-1]
    lines = [f"Recent checks (newest first, {len(shown)} of {len(checks)}):"]
    for check in shown:
        status = check.get("http_status") or "-"
        lines.append(
            f"  {check.get('at')}  {check.get('verdict', '?'):<9} {status!s:>4}  "
            f"{_cut(str(check.get('reason') or ''), 60)}"
        )
    return lines


def _capture_lines(captures: dict[str, Any] | None, archive: dict[str, Any] | None) -> list[str]:
    lines = []
    if captures:
        lines.append("Captures:")
        for key in ("assigned", "latest"):
            entry = captures.get(key)
            if isinstance(entry, dict):
                lines.append(f"  {key:<9} {entry.get('timestamp')}  {entry.get('url')}")
            else:
                lines.append(f"  {key:<9} none")
        ours = captures.get("ours") if isinstance(captures.get("ours"), list) else []
        lines.append(f"  ours      {len(ours)} made by linkkeeper")
        if captures.get("excluded"):
            lines.append(f"  excluded  {captures['excluded']}")
        verdicts = captures.get("verdicts") if isinstance(captures.get("verdicts"), dict) else {}
        for timestamp, verdict in sorted(verdicts.items(), reverse=True):
            if isinstance(verdict, dict):
                what = str(verdict.get("verdict") or "?")
                lines.append(
                    f"  {what:<9} {timestamp}  {_cut(str(verdict.get('reason') or ''), 60)}"
                )
    else:
        lines.append("Captures: not looked up yet (run `linkkeeper archive`)")
    if archive and archive.get("state"):
        reason = f" ({archive['reason']})" if archive.get("reason") else ""
        lines.append(f"Archive: {archive['state']}{reason}")
    return lines


def _drift_lines(section: dict[str, Any] | None) -> list[str]:
    if not section or not isinstance(section.get("baseline"), dict):
        return ["Drift: not measured yet (needs one successful check of a text page)"]
    base = section["baseline"]
    source = f" from the {base['source']} copy" if base.get("source") == "capture" else ""
    since = f"baseline{source} {base.get('at')}, {base.get('words')} words"
    score = section.get("similarity")
    if not isinstance(score, int | float):
        return [f"Drift: not compared yet ({since}; the next check compares)"]
    score_text = f"similarity {score:.2f}"
    if section.get("changed"):
        return [
            f"Drift: CHANGED ({score_text}; {since})",
            f"  {section.get('description') or 'the text differs from the baseline'}",
        ]
    return [f"Drift: unchanged ({score_text}; {since}; checked {section.get('checked_at')})"]


def _night_lines(raw: list[Any]) -> list[str]:
    """The recent nights as Unicode blocks (coloured on a terminal; the shapes differ too)."""
    from linkkeeper.ledger import Check
    from linkkeeper.outputs.nights import LEGEND, blocks, recent_nights, summary

    checks = []
    for item in raw:
        try:
            checks.append(Check.from_dict(item))
        except ValueError:
            continue
    marks = recent_nights(checks)
    if not marks:
        return []
    first, last = marks[0].day, marks[-1].day
    return [
        f"Recent nights ({summary(marks)}; {first} to {last}):",
        f"  {blocks(marks, color=True)}",
        f"  {LEGEND}",
    ]


def render_text(document: dict[str, Any], checks: int = 10) -> str:
    document = textsafe.plain_tree(document, None)  # for a terminal: no escape sequences
    reading = document["reading"]
    health = document["health"] or {}
    lines = []
    if reading:
        lines.append(f"{reading['id']}  {reading['title'] or '(no title in the curriculum)'}")
        where = f"week {reading['week']}" if reading["week"] else "backlog"
        if reading["week_title"]:
            where += f" · {reading['week_title']}"
        if reading["line"]:
            where += f" · readings.yaml line {reading['line']}"
        if reading["kind"]:
            where += f" · kind {reading['kind']}"
        lines.append(f"  {where}")
        lines.append(f"  url   {reading['url'] or '(no link: a task)'}")
        if reading["note"]:
            lines.append(f"  note  {_cut(reading['note'])}")
    else:
        lines.append(f"{document['id']}  (not in the curriculum: an orphaned ledger record)")
    if not document["recorded"] and document.get("damaged"):
        lines += ["", "Its ledger record cannot be used (see the error below): nothing from it."]
        return "\n".join(lines) + "\n"
    if not document["recorded"]:
        lines += ["", "Not in the ledger yet: run `linkkeeper check` to fetch it."]
        return "\n".join(lines) + "\n"
    lines.append("")
    lines += _metadata_lines(document["metadata"])
    lines.append("")
    state = health.get("state", "unknown")
    summary = health.get("summary")
    recorded = [c for c in document["checks"] if isinstance(c, dict)]
    if state == "unknown" and recorded:  # "not checked yet" above a list of checks misleads
        latest = recorded[-1]
        summary = (
            f"no verdict yet: {len(recorded)} check(s) recorded, none judged the link "
            f"(latest {latest.get('at')}: {latest.get('verdict')}, "
            f"{_cut(str(latest.get('reason') or ''), 60)})"
        )
    lines.append(f"Health: {state}" + (f" — {summary}" if summary else ""))
    lines += _night_lines(document["checks"])
    lines += _check_lines(document["checks"], checks)
    lines.append("")
    lines += _capture_lines(document["captures"], document["archive"])
    offered = document.get("archived_copy")
    if offered and offered.get("url"):
        lines.append(f"Archived copy offered: {offered['url']} ({offered['label']})")
    elif offered:
        lines.append(f"Archived copy offered: none ({offered['note']})")
    lines += _drift_lines(document["drift"])
    if document["best_link"] and reading and document["best_link"] != reading["url"]:
        lines.append(f"Best link now: {document['best_link']}")
    return "\n".join(lines) + "\n"
