"""The members' view: the curriculum plus the ledger, rendered as a page, Markdown or a post.

``build`` turns ``readings.yaml`` and ``snapshots/`` into a plain view model (which link to lead
with comes from :mod:`linkkeeper.ledger.links`); the Jinja2 templates in ``templates/`` only lay it
out.
Output is deterministic: the only date on the page is the newest check time in the ledger (or
``now`` when given), so re-publishing unchanged data rewrites nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2

from linkkeeper.core import Health, Reading, atomic_write_text, textsafe
from linkkeeper.curriculum import Comment, Curriculum, Group, Week
from linkkeeper.ledger import Ledger, LinkChoice, Record, choose, format_time, parse_time
from linkkeeper.outputs import nights
from linkkeeper.outputs.mentions import neutralize, neutralize_url
from linkkeeper.outputs.nights import NightMark, recent_nights

DISCORD_LIMIT = 2000
STATE_ORDER = [Health.ALIVE, Health.FAILING, Health.DEAD, Health.BLOCKED, Health.UNKNOWN]
STATE_HELP = {
    Health.ALIVE: "the original worked at the last check",
    Health.FAILING: "the original failed recently; the archived copy is linked first",
    Health.DEAD: "the original is gone; the archived copy is linked first",
    Health.BLOCKED: "the site blocks automated checks; it usually opens in a browser",
    Health.UNKNOWN: "not checked yet",
}
URL_IN_TEXT = re.compile(r"https?://")
MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


# -- the view model ----------------------------------------------------------------------------
@dataclass
class ReadingView:
    """One reading as members see it."""

    id: str
    title: str
    title_from: str  # "curriculum" | "page" (fetched metadata) | "url"
    url: str | None
    kind: str | None
    note: str | None
    byline: str | None  # authors, else the site's name, else the host
    published: str | None
    link: LinkChoice
    changed: bool = False
    drift: str | None = None
    last_checked: datetime | None = None
    nights: list[NightMark] = field(default_factory=list)  # recent nights, oldest first

    @property
    def state(self) -> str:
        return self.link.state.value

    @property
    def state_help(self) -> str:
        return STATE_HELP[self.link.state]

    @property
    def why(self) -> str | None:
        """Why the original is not trusted, in the health module's words plus the last reason."""
        state, health, reason = self.link.state, self.link.health, self.link.last_reason
        if self.url is None or state in (Health.ALIVE, Health.UNKNOWN):
            return None
        summary = health.summary.removeprefix(f"{state.value}: ")
        if state == Health.FAILING:  # the policy arithmetic means nothing to a member
            since = health.first_failure or health.since
            summary = f"failing since {human_date(since)}" if since else "failing"
        if reason:
            from linkkeeper.judges import for_members

            reason = for_members(reason)  # no "(+1.0)" signal weights on a members' page
        return f"{reason}; {summary}" if reason and reason not in summary else summary

    def to_dict(self) -> dict[str, Any]:
        link = self.link
        capture = link.capture
        return {
            "id": self.id,
            "title": self.title,
            "title_from": self.title_from,
            "url": self.url,
            "kind": self.kind,
            "note": self.note,
            "byline": self.byline,
            "published": self.published,
            "state": self.state,
            "why": self.why,
            "changed": self.changed,
            "drift": self.drift,
            "last_checked": format_time(self.last_checked),
            "best": link.best,
            "archive_first": link.archive_first,
            "capture": None
            if capture is None
            else {
                "url": capture.url,
                "timestamp": capture.timestamp,
                "date": capture.day.isoformat() if capture.day else None,
                "kind": link.capture_kind,
            },
            "moved_to": link.moved_to,
            "live_elsewhere": link.live_elsewhere,
            "warning": link.warning,
        }


@dataclass
class SectionView:
    """A week, or a backlog group (``number`` None); ungrouped backlog readings have no name."""

    number: int | None
    name: str | None
    anchor: str
    posted: date | None = None
    prompt: str | None = None
    comments: list[Comment] = field(default_factory=list)
    readings: list[ReadingView] = field(default_factory=list)

    @property
    def heading(self) -> str:
        if self.number is None:
            return self.name or "More readings"
        return f"Week {self.number}" + (f": {self.name}" if self.name else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "week": self.number,
            "title": self.name,
            "posted": self.posted.isoformat() if self.posted else None,
            "prompt": self.prompt,
            "comments": [{"author": c.author, "text": c.text} for c in self.comments],
            "readings": [r.to_dict() for r in self.readings],
        }


@dataclass
class SiteView:
    title: str
    description: str | None
    weeks: list[SectionView]
    backlog: list[SectionView]
    updated: datetime | None  # newest check in the ledger, or the --now given
    # The newest change the record files hold (not the machine-local "seen again" times):
    # READINGS.md is committed, so it is dated by this and a quiet night leaves it as it is.
    recorded: datetime | None = None

    def readings(self) -> Iterable[ReadingView]:
        for section in [*self.weeks, *self.backlog]:
            yield from section.readings

    @property
    def counts(self) -> list[tuple[str, int]]:
        """(state, number) of linked readings, in a fixed order, zeros left out."""
        found = Counter(r.link.state for r in self.readings() if r.url)
        return [(s.value, found[s]) for s in STATE_ORDER if found[s]]

    @property
    def changed_count(self) -> int:
        return sum(1 for r in self.readings() if r.changed)


# -- building ----------------------------------------------------------------------------------
def _field(record: Record | None, section: str, name: str) -> Any:
    """``record[section][name]["value"]`` (or the plain value), tolerant of any missing part."""
    data = record.data.get(section) if record else None
    value = data.get(name) if isinstance(data, dict) else None
    return value.get("value") if isinstance(value, dict) else value


def _byline(record: Record | None, url: str | None) -> str | None:
    authors = _field(record, "metadata", "authors")
    if isinstance(authors, str):
        authors = [authors]
    if isinstance(authors, list) and (names := [textsafe.title(a) for a in authors if a]):
        if len(names) > 3:
            return f"{names[0]} et al."
        return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    site = _field(record, "metadata", "site")
    if isinstance(site, str) and (site := textsafe.title(site)):
        return site
    return _host(url) if url else None


def _host(url: str) -> str:
    host = urlsplit(url).hostname or url
    return host.removeprefix("www.")


def _title(reading: Reading, record: Record | None) -> tuple[str, str]:
    if reading.title:
        return reading.title, "curriculum"
    fetched = _field(record, "metadata", "title")
    if isinstance(fetched, str) and (fetched := textsafe.title(fetched)):
        return fetched, "page"
    if reading.url:
        parts = urlsplit(reading.url)
        return _host(reading.url) + parts.path.rstrip("/"), "url"
    return reading.id, "url"


def build_reading(reading: Reading, record: Record | None, end: date | None = None) -> ReadingView:
    """One reading's view; ``end`` (the page's date) also gives it its row of recent nights."""
    link = choose(reading, record)
    if link.stale:
        record = None  # fetched for an older URL: none of it describes this one
    title, title_from = _title(reading, record)
    drift = record.data.get("drift") if record else None
    drift = drift if isinstance(drift, dict) else {}
    published = _field(record, "metadata", "published")
    return ReadingView(
        id=reading.id,
        title=title,
        title_from=title_from,
        url=reading.url,
        kind=reading.kind,
        note=reading.note,
        byline=_byline(record, reading.url),
        published=str(published)[:10] if published else None,
        link=link,
        changed=bool(drift.get("changed")) and reading.url is not None,
        drift=str(drift["description"]) if drift.get("description") else None,
        last_checked=link.health.last_checked,
        nights=recent_nights(record.current_checks, end) if record and reading.url else [],
    )


def _latest_time(records: Iterable[Record | None]) -> datetime | None:
    times: list[datetime] = []
    for record in records:
        if record is None:
            continue
        if record.health.last_checked:
            times.append(record.health.last_checked)
        captures = record.data.get("captures")
        if isinstance(captures, dict):
            try:
                if at := parse_time(captures.get("checked_at")):
                    times.append(at)
            except ValueError:
                pass
    return max(times, default=None)


def _latest_recorded(records: Iterable[Record | None]) -> datetime | None:
    """The newest time written in the records themselves (checks, capture lookups)."""
    times: list[datetime] = []
    for record in records:
        if record is None:
            continue
        try:
            times += [check.at for check in record.current_checks]
            captures = record.data.get("captures")
            if isinstance(captures, dict) and (at := parse_time(captures.get("checked_at"))):
                times.append(at)
        except (ValueError, TypeError, KeyError):
            continue
    return max(times, default=None)


def build(curriculum: Curriculum, ledger: Ledger, now: datetime | None = None) -> SiteView:
    """The whole view model; a damaged record shows as never checked (it is remembered in
    ``ledger.damaged`` for the command to report)."""
    records = {r.id: ledger.find(r.id) for r in curriculum.readings()}

    updated = now or _latest_time(records.values())
    end = updated.astimezone(UTC).date() if updated else None

    def views(readings: list[Reading]) -> list[ReadingView]:
        return [build_reading(r, records[r.id], end) for r in readings]

    weeks = [_week(w, views(w.readings)) for w in curriculum.weeks]
    backlog: list[SectionView] = []
    for item in curriculum.backlog:
        if isinstance(item, Group):
            anchor = f"backlog-{len(backlog) + 1}"
            group = SectionView(None, item.name, anchor, prompt=item.note, comments=item.comments)
            group.readings = views(item.readings)
            backlog.append(group)
        elif backlog and backlog[-1].name is None:
            backlog[-1].readings.extend(views([item]))
        else:
            anchor = f"backlog-{len(backlog) + 1}"
            backlog.append(SectionView(None, None, anchor, readings=views([item])))
    return SiteView(
        title=curriculum.title or "Reading list",
        description=curriculum.description,
        weeks=weeks,
        backlog=backlog,
        updated=updated.astimezone(UTC) if updated else None,
        recorded=(now or _latest_recorded(records.values()) or updated),
    )


def _week(week: Week, readings: list[ReadingView]) -> SectionView:
    anchor = f"week-{week.number}"
    return SectionView(
        week.number, week.title, anchor, week.posted, week.prompt, week.comments, readings
    )


# -- rendering ---------------------------------------------------------------------------------
def md_escape(text: Any) -> str:
    """Text safe inside Markdown (GFM and Discord): specials escaped, one line, and no
    Discord mention (:func:`linkkeeper.outputs.mentions.neutralize`), no GitHub mention or issue
    reference, no control character (:mod:`linkkeeper.core.textsafe`)."""
    return neutralize(textsafe.no_mentions(MD_SPECIAL.sub(r"\\\1", textsafe.plain(text, None))))


def md_url(url: str) -> str:
    """A URL safe inside ``[text](url)`` and ``<url>`` (and pinging nobody on Discord)."""
    return neutralize_url(quote(url, safe=":/?#@!$&'*+,;=%~-._[]"))


def human_date(value: date | datetime | None) -> str:
    if value is None:
        return "never"
    return f"{value.day} {value:%b %Y}"


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("linkkeeper.outputs", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",)),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(md=md_escape, mdurl=md_url, human_date=human_date)
    env.globals.update(
        STATE_HELP={s.value: h for s, h in STATE_HELP.items()},
        nights_svg=nights.svg,
        nights_summary=nights.summary,
        nights_legend=nights.legend,
    )
    return env


def _tidy(text: str) -> str:
    """Markdown templates are easier to write loosely: drop trailing spaces and blank runs."""
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def render_html(site: SiteView) -> str:
    return environment().get_template("site.html.j2").render(site=site)


def render_markdown(site: SiteView) -> str:
    return _tidy(environment().get_template("readings.md.j2").render(site=site))


def render_week(section: SectionView, flavor: str = "discord") -> str:
    """The Tuesday post (``discord``) or the week as GFM (``markdown``), as one text."""
    template = environment().get_template("week.md.j2")
    text = _tidy(template.render(week=section, flavor=flavor, suppress=False))
    if flavor == "discord" and len(URL_IN_TEXT.findall(text)) > 1:  # one embed is welcome, more
        text = _tidy(template.render(week=section, flavor=flavor, suppress=True))  # are noise
    return neutralize(text) if flavor == "discord" else text


def split_messages(text: str, limit: int = DISCORD_LIMIT) -> list[str]:
    """Cut a post into messages of at most ``limit`` characters, at blank lines when possible,
    else at line ends, else at spaces; numbered ``(1/2)`` when there is more than one."""
    if len(text.strip()) <= limit:
        return [text.strip()]
    room = limit - len("\n(99/99)")
    pieces: list[str] = []
    for block in text.strip().split("\n\n"):
        pieces.extend(_cut(block, room, "\n") if len(block) > room else [block])
    messages: list[str] = []
    for piece in pieces:
        if messages and len(messages[-1]) + 2 + len(piece) <= room:
            messages[-1] += "\n\n" + piece
        else:
            messages.append(piece)
    total = len(messages)
    return [f"{m}\n({i}/{total})" for i, m in enumerate(messages, 1)]


def _cut(text: str, room: int, sep: str) -> list[str]:
    """Pack ``sep``-separated parts of ``text`` into chunks of at most ``room`` characters."""
    chunks: list[str] = []
    for part in text.split(sep):
        if len(part) <= room:
            parts = [part]
        elif sep != " ":
            parts = _cut(part, room, " ")
        else:  # one word longer than a message: hard cut
            parts = [part[i : i + room] for i in range(0, len(part), room)]
        for piece in parts:
            if chunks and len(chunks[-1]) + len(sep) + len(piece) <= room:
                chunks[-1] += sep + piece
            else:
                chunks.append(piece)
    return chunks


# -- writing -----------------------------------------------------------------------------------
@dataclass
class Written:
    path: Path
    changed: bool


def write_if_changed(path: Path, text: str) -> Written:
    """Atomic write, skipped when the file already holds exactly this text."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return Written(path, False)
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    atomic_write_text(path, text)
    return Written(path, True)


def publish(site: SiteView, output: Path | None, markdown: Path | None = None) -> list[Written]:
    """Write ``output/index.html`` (and the Markdown list when asked)."""
    written = []
    if output is not None:
        written.append(write_if_changed(output / "index.html", render_html(site)))
    if markdown is not None:
        written.append(write_if_changed(markdown, render_markdown(site)))
    return written


def parse_now(value: str) -> datetime:
    """``--now``: an ISO date or date-time (UTC when no zone is given)."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def week_output(section: SectionView, fmt: str) -> tuple[str, list[str]]:
    """(text for stdout, notes for stderr) of ``linkkeeper week N --format fmt``."""
    if fmt == "markdown":
        return render_week(section, "markdown"), []
    messages = split_messages(render_week(section, "discord"))
    if fmt == "json":
        import json

        data = {**section.to_dict(), "discord_messages": messages}
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n", []
    notes = []
    if len(messages) > 1:
        notes.append(
            f"note: the post is longer than Discord's {DISCORD_LIMIT:,}-character limit; "
            f"split into {len(messages)} messages: paste them one at a time, without the "
            "'✂' lines"
        )
    cut = "\n\n" + "✂ " + "-" * 20 + " next message " + "-" * 20 + "\n\n"
    return cut.join(messages) + "\n", notes
