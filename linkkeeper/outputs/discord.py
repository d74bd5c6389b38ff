"""Discord: post the Tuesday message through a webhook, heal it in place, alert on deaths.

The group reads its list in a Discord channel, so that is where a dead link must be fixed.
``linkkeeper week N --post`` executes the webhook (``?wait=true``, so Discord returns the
message and its id) and records the ids in ``snapshots/_discord.json``; each night
:func:`heal_and_alert` re-renders every posted week and edits its messages in place when a
reading died, came back or moved (nothing is sent when nothing changed), and posts one short
alert for readings that newly became dead. Shapes and limits of the API:
``docs/discord-api.md``.

Safety: every message goes out with ``allowed_mentions: {"parse": []}`` (nobody is pinged,
whatever a title says) and ``SUPPRESS_EMBEDS`` (no preview cards). Talking to Discord (the
secret webhook URL, the guarded network stack, rate limits, bounded retries, scrubbed errors)
is :mod:`linkkeeper.outputs.webhook`; when Discord stays down the work is owed, recorded here,
and done by the next night.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from linkkeeper.core import Health, atomic_write_text
from linkkeeper.outputs.webhook import ClientSettings, DiscordError, Sleep, Webhook, WebhookClient

if TYPE_CHECKING:
    from linkkeeper.outputs.pages import ReadingView, SectionView, SiteView
    from linkkeeper.web import Remapper

STATE_FILE = "_discord.json"  # not a record: record ids never start with "_"
STATE_VERSION = 1


# -- what was posted: snapshots/_discord.json -------------------------------------------------
def _now_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class PostLedger:
    """``snapshots/_discord.json``: the messages of each posted week and the alerts already sent.

    Shape (version 1; keys may be added)::

        {"version": 1,
         "weeks": {"3": {"webhook": "<webhook id>", "messages": ["<message id>", ...],
                         "sent": ["<sha256 of each message's content, 16 hex>", ...],
                         "shown": {"<reading id>": "ok" | "dead <link>" | "moved <url>"},
                         "posted_at": "...Z", "updated_at": "...Z" | null,
                         "owed": null | "<why the last edit is still owed>"}},
         "alerted": {"<reading id>": "<health since of the death already announced>"}}

    The webhook URL (its token) is never stored, only the webhook's id. Written atomically,
    after every message that Discord accepted, so nothing posted is ever forgotten."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {"version": STATE_VERSION, "weeks": {}, "alerted": {}}
        if path.exists():
            self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DiscordError(
                f"{self.path}: cannot be read ({exc}); restore it from git (it holds the ids of "
                "the posted Discord messages) or delete it to forget them"
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("weeks", {}), dict):
            raise DiscordError(f"{self.path}: not a linkkeeper Discord record; restore it from git")
        data.setdefault("weeks", {})
        if not isinstance(data.get("alerted"), dict):
            data["alerted"] = {}
        self.data = data

    @property
    def weeks(self) -> dict[str, dict[str, Any]]:
        return self.data["weeks"]  # type: ignore[no-any-return]

    @property
    def alerted(self) -> dict[str, str]:
        return self.data["alerted"]  # type: ignore[no-any-return]

    def save(self) -> None:
        text = json.dumps(self.data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        try:
            if self.path.read_text(encoding="utf-8") == text:
                return
        except (OSError, UnicodeDecodeError):
            pass
        atomic_write_text(self.path, text)


# -- rendering --------------------------------------------------------------------------------
def shown_key(reading: ReadingView) -> str:
    """What the post says about a reading, as far as healing cares: its original is fine, it
    is dead (and which link replaces it), or it moved (and where). A failing night is not
    news: only death, a return, or a move edits a posted message."""
    link = reading.link
    if link.state == Health.DEAD:
        return " ".join(x for x in ("dead", link.best, link.live_elsewhere) if x)
    if link.moved_to:
        return f"moved {link.moved_to}"
    return "ok"


def shown(section: SectionView) -> dict[str, str]:
    return {r.id: shown_key(r) for r in section.readings if r.url}


def _short(title: str, limit: int = 48) -> str:
    from linkkeeper.outputs.pages import md_escape

    title = " ".join(title.split())
    return md_escape(title if len(title) <= limit else title[: limit - 1] + "…")


def change_words(section: SectionView, before: dict[str, str]) -> list[str]:
    """``["Attention is all you need died (archived copy linked)", ...]`` for the update line."""
    words = []
    for reading in section.readings:
        if not reading.url:
            continue
        old, new = before.get(reading.id), shown_key(reading)
        if old == new:
            continue
        title = _short(reading.title)
        if new.startswith("dead"):
            if old and old.startswith("dead"):
                words.append(f"{title}: new link")
            elif reading.link.archive_first:
                words.append(f"{title} died (archived copy linked)")
            else:
                words.append(f"{title} died")
        elif new.startswith("moved"):
            words.append(f"{title} moved (new address linked)")
        elif old is None:
            words.append(f"{title} added")
        else:
            words.append(f"{title} is back")
    return words


def week_messages(section: SectionView, update_line: str | None = None) -> list[str]:
    """The week's post as Discord messages (split as ``linkkeeper week N`` splits it)."""
    from linkkeeper.outputs.mentions import neutralize
    from linkkeeper.outputs.pages import render_week, split_messages

    text = render_week(section, "discord").rstrip()
    if update_line:
        text += "\n\n" + neutralize(update_line)
    return split_messages(text + "\n")


def update_line(day: date, words: list[str]) -> str:
    from linkkeeper.outputs.pages import human_date

    what = "; ".join(words)
    if len(what) > 300:
        what = what[:299] + "…"
    return f"-# ✏️ updated {human_date(day)}" + (f": {what}" if what else "")


def weeks_words(numbers: list[int]) -> str:
    """``week 2``, ``weeks 2 and 3``, ``weeks 1, 2 and 5``."""
    words = [str(n) for n in numbers]
    if len(words) == 1:
        return f"week {words[0]}"
    return f"weeks {', '.join(words[:-1])} and {words[-1]}"


def _weeks_of(site: SiteView) -> dict[str, list[str]]:
    where: dict[str, list[str]] = {}
    for section in site.weeks:
        for reading in section.readings:
            where.setdefault(reading.id, []).append(f"week {section.number}")
    for section in site.backlog:
        for reading in section.readings:
            where.setdefault(reading.id, []).append("the backlog")
    return where


def alert_text(news: list[ReadingView], site: SiteView, day: date, healed: Iterable[int]) -> str:
    """One short message: which readings died, where they were assigned, what to use now."""
    from linkkeeper.outputs.mentions import neutralize
    from linkkeeper.outputs.pages import human_date, md_escape, md_url

    where = _weeks_of(site)
    count = f"{len(news)} reading{'s' if len(news) != 1 else ''}"
    lines = [f"🔴 **{count} died** ({human_date(day)})"]
    for reading in news:
        link = reading.link
        parts = [f"- **{md_escape(reading.title)}** ({', '.join(where.get(reading.id, []))})"]
        if link.capture is not None:
            parts.append(f"archived copy: <{md_url(link.capture.url)}>")
        else:
            from linkkeeper.ledger import NO_GOOD_COPY

            parts.append(NO_GOOD_COPY)
        if replacement := (link.live_elsewhere or link.moved_to):
            parts.append(f"suggested replacement: <{md_url(replacement)}>")
        if reading.url:
            parts.append(f"was <{md_url(reading.url)}>")
        lines.append(" · ".join(parts))
    weeks = sorted(set(healed))
    if weeks:
        verb = "now link" if len(weeks) > 1 else "now links"
        lines.append(f"-# The Tuesday post of {weeks_words(weeks)} {verb} the archived copies.")
    return neutralize("\n".join(lines))


# -- posting a week ---------------------------------------------------------------------------
@dataclass
class PostResult:
    action: str  # posted, updated, unchanged
    messages: list[str]
    message: str


async def _sync_week(
    client: WebhookClient,
    ledger: PostLedger,
    section: SectionView,
    messages: list[str],
    now: datetime,
) -> int:
    """Make the week's messages in Discord read ``messages``: edit those that differ, post the
    ones missing, delete surplus ones. Saves after each accepted call. Returns calls made."""
    key = str(section.number)
    entry = ledger.weeks.setdefault(
        key,
        {
            "webhook": client.webhook.id,
            "messages": [],
            "sent": [],
            "posted_at": _now_text(now),
            "updated_at": None,
            "shown": {},
            "owed": None,
        },
    )
    ids: list[str] = entry["messages"]
    sent: list[str] = entry["sent"]
    calls = 0
    for index, content in enumerate(messages):
        if index < len(ids):
            if sent[index] == _digest(content):
                continue
            await client.edit(ids[index], content)
        else:  # more messages than before: the new ones come at the channel's end
            posted = await client.execute(content)
            ids.append(str(posted["id"]))
            sent.append("")
        sent[index] = _digest(content)
        calls += 1
        ledger.save()
    while len(ids) > len(messages):
        try:
            await client.delete(ids[-1])
        except DiscordError as exc:
            if exc.code != 10008:  # already deleted in Discord: nothing left to do
                raise
        ids.pop()
        sent.pop()
        calls += 1
        ledger.save()
    return calls


async def post_week(
    section: SectionView,
    webhook: Webhook,
    snapshots: Path,
    *,
    settings: ClientSettings | None = None,
    remap: Remapper | None = None,
    now: datetime | None = None,
    sleep: Sleep = asyncio.sleep,
) -> PostResult:
    """``week N --post``: post the week, or bring an already posted week's messages up to date
    (never a second copy in the channel)."""
    now = now or datetime.now(UTC)
    ledger = PostLedger(snapshots / STATE_FILE)
    key = str(section.number)
    old = ledger.weeks.get(key)
    if old is not None and old.get("webhook") != webhook.id:
        ledger.weeks.pop(key)  # posted through another webhook: cannot edit those messages
        old = None
    messages = week_messages(section)
    async with WebhookClient(webhook, settings, remap=remap, sleep=sleep) as client:
        calls = await _sync_week(client, ledger, section, messages, now)
    entry = ledger.weeks[key]
    entry["shown"] = shown(section)
    entry["owed"] = None
    if old is not None and calls:
        entry["updated_at"] = _now_text(now)
    ledger.save()
    ids = list(entry["messages"])
    count = f"{len(ids)} message{'s' if len(ids) != 1 else ''}"
    if old is None:
        return PostResult("posted", ids, f"posted week {key} to Discord ({count})")
    if calls:
        return PostResult(
            "updated", ids, f"week {key} was already posted: updated it in place ({count})"
        )
    return PostResult("unchanged", ids, f"week {key} was already posted and is up to date")


# -- the nightly stage ------------------------------------------------------------------------
@dataclass
class NightReport:
    """What tonight did in Discord, for the summary line."""

    status: str  # ran, deferred (Discord down: owed to the next night), failed (needs a person)
    message: str
    edited: list[int] = field(default_factory=list)  # weeks whose post was healed
    alerted: list[str] = field(default_factory=list)  # readings announced dead
    owed: list[str] = field(default_factory=list)


async def heal_and_alert(
    site: SiteView,
    webhook: Webhook,
    snapshots: Path,
    *,
    today: date,
    settings: ClientSettings | None = None,
    remap: Remapper | None = None,
    now: datetime | None = None,
    sleep: Sleep = asyncio.sleep,
) -> NightReport:
    """Heal the posted weeks that need it, then announce new deaths once. Never raises for
    Discord's sake: what could not be done is recorded as owed and retried next night."""
    now = now or datetime.now(UTC)
    ledger = PostLedger(snapshots / STATE_FILE)
    report = NightReport("ran", "")
    problems: list[DiscordError] = []
    sections = {str(s.number): s for s in site.weeks}
    async with WebhookClient(webhook, settings, remap=remap, sleep=sleep) as client:
        for key, entry in sorted(ledger.weeks.items(), key=lambda kv: int(kv[0])):
            section = sections.get(key)
            if section is None or entry.get("webhook") != webhook.id or entry.get("gone"):
                continue
            before = entry.get("shown") or {}
            if shown(section) == before:
                continue  # nothing died, came back or moved: the post stays as it is
            line = update_line(today, change_words(section, before))
            try:
                if client.gone:
                    raise DiscordError("the webhook is unusable (see above)", later=False)
                await _sync_week(client, ledger, section, week_messages(section, line), now)
            except DiscordError as exc:
                if exc.code == 10008:  # deleted by a moderator: stop healing that week
                    entry["gone"] = f"a message was deleted in Discord ({_now_text(now)})"
                else:
                    entry["owed"] = str(exc)
                    report.owed.append(f"week {key}")
                ledger.save()
                problems.append(exc)
                continue
            entry.update(shown=shown(section), updated_at=_now_text(now), owed=None)
            ledger.save()
            report.edited.append(int(key))

        dead = {r.id: r for r in site.readings() if r.url and r.link.state == Health.DEAD}
        for reading_id in [i for i in ledger.alerted if i not in dead]:
            ledger.alerted.pop(reading_id)  # came back: a later death is news again
        since = {
            i: (_now_text(r.link.health.since) if r.link.health.since else "dead")
            for i, r in dead.items()
        }
        news = [r for i, r in dead.items() if ledger.alerted.get(i) != since[i]]
        if news:
            healed = [
                n for n in report.edited if any(r.id in dead for r in sections[str(n)].readings)
            ]
            text = alert_text(news, site, today, healed)
            try:
                if client.gone:
                    raise DiscordError("the webhook is unusable (see above)", later=False)
                from linkkeeper.outputs.pages import split_messages

                for part in split_messages(text):
                    await client.execute(part)
            except DiscordError as exc:
                problems.append(exc)
                report.owed.append("the alert")
            else:
                ledger.alerted.update({r.id: since[r.id] for r in news})
                report.alerted = [r.id for r in news]
        ledger.save()
    done = []
    if report.edited:
        done.append(f"healed the post of {weeks_words(report.edited)}")
    if report.alerted:
        done.append(f"alerted {len(report.alerted)} newly dead")
    if not done and not problems:
        done.append("posted weeks up to date; no new deaths")
    if problems:
        first = problems[0]
        owed = f"; owed to the next night: {', '.join(report.owed)}" if report.owed else ""
        done.append(f"{first}{owed}")
        report.status = "deferred" if all(p.later for p in problems) else "failed"
    report.message = "; ".join(done)
    return report


def run(coro: Awaitable[Any]) -> Any:
    """Run one Discord coroutine from synchronous code (the CLI, the nightly job)."""
    return asyncio.run(coro)  # type: ignore[arg-type]


# -- merging two nights' records (the nightly workflow's commit-back) -------------------------
def merge_records(
    base: dict[str, Any], ours: dict[str, Any], theirs: dict[str, Any]
) -> dict[str, Any]:
    """Both sides of ``_discord.json`` kept: tonight's healing (``ours``) and an organizer's
    ``week N --post`` pushed meanwhile (``theirs``). A week only one side changed takes that
    side; a week both changed keeps tonight's unless the organizer's points at other messages
    (a new post: its ids are the ones in the channel). Alerts already sent are never
    forgotten (a union), so nobody gets the same news twice."""
    merged = dict(ours)
    weeks: dict[str, Any] = {}
    old = base.get("weeks") or {}
    mine, yours = ours.get("weeks") or {}, theirs.get("weeks") or {}
    for key in sorted(set(mine) | set(yours)):
        a, b, o = mine.get(key), yours.get(key), old.get(key)
        if a is None or (a == o and b is not None):
            weeks[key] = b
        elif b is None or b == o:
            weeks[key] = a
        else:
            same = (a.get("messages"), a.get("webhook")) == (b.get("messages"), b.get("webhook"))
            weeks[key] = a if same else b
    merged["weeks"] = {k: v for k, v in weeks.items() if v is not None}
    merged["alerted"] = {**(theirs.get("alerted") or {}), **(ours.get("alerted") or {})}
    return merged


def _merge_driver(base: str, ours: str, theirs: str) -> int:
    """``git merge`` driver: ``python -m linkkeeper.outputs.discord merge %O %A %B`` (writes %A)."""

    def read(path: str) -> dict[str, Any]:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    mine, yours = read(ours), read(theirs)
    if not mine or not yours:
        return 1  # not ours to judge: git reports the conflict
    merged = merge_records(read(base), mine, yours)
    text = json.dumps(merged, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    Path(ours).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 5 and sys.argv[1] == "merge":
        sys.exit(_merge_driver(*sys.argv[2:]))
    sys.exit("usage: python -m linkkeeper.outputs.discord merge BASE OURS THEIRS")
