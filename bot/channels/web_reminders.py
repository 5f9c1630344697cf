"""Reminders for the web page, which the scheduler cannot push to (`can_push` is False):
`due_now` takes a user's due reminders for the open page that polls for them, and
`calendar_file` gives the ones still to come as an .ics file (RFC 5545, built with
`icalendar`), the fallback that reaches them with the page closed. One VEVENT per reminder,
at its due time, with an alarm then; the summary is the reminder's own text (personal) or
the UI's name for a complaint follow-up."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event

from bot.actions.remind import reminder_replies
from bot.core.models import Reply
from storage.reminders import from_iso
from storage.rows import UserRow

if TYPE_CHECKING:
    from bot.core.engine import Engine

PRODID = "-//Borrower Guard//web//EN"
DURATION = dt.timedelta(minutes=15)


def _lang(engine: Engine, user: UserRow) -> str:
    lang = user["lang"]
    return lang if lang is not None and lang in engine.k.locales else engine.settings.bot_default_lang


def due_now(engine: Engine, user: UserRow) -> list[Reply]:
    """The user's due reminders as replies, marked sent (call inside the caller's transaction,
    with whatever else records them). Their buttons become the screen a typed "1" presses,
    as for a pushed reminder (bot/scheduler.py)."""
    tz = ZoneInfo(user["tz"] or engine.settings.bot_timezone)
    now = engine.clock().astimezone(tz)
    rs = engine.store.reminders
    replies: list[Reply] = []
    for row in rs.take_due_for_user(user["id"], now):
        complaint = rs.complaint(user["id"], row["complaint_id"]) if row["complaint_id"] else None
        replies += reminder_replies(engine.k, _lang(engine, user), tz, row, complaint, now)
    last = next((r for r in reversed(replies) if r.buttons), None)
    if last is not None:
        rs.offer_screen(user["id"], [b.model_dump() for b in last.buttons])
    return replies


def calendar_file(engine: Engine, user: UserRow, only: int | None = None) -> bytes:
    """An .ics file of the user's reminders still to come (or of the one `only`)."""
    lang = _lang(engine, user)
    rows = [r for r in engine.store.reminders.upcoming(user["id"]) if only is None or r["id"] == only]
    items = [(r["id"], from_iso(r["due_at"]),
              engine.k.text(lang, "web.ics.personal", text=r["text"]) if r["kind"] == "personal" and r["text"]
              else engine.k.text(lang, "web.ics.follow_up")) for r in rows]
    return calendar(items, engine.clock())


def calendar(items: Iterable[tuple[int, dt.datetime, str]], now: dt.datetime, domain: str = "borrower-guard") -> bytes:
    """An .ics file with one event per (reminder id, due time (aware), summary)."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    for rid, due, summary in items:
        start = due.astimezone(dt.UTC)
        event = Event()
        event.add("uid", f"reminder-{rid}@{domain}")
        event.add("dtstamp", now.astimezone(dt.UTC))
        event.add("dtstart", start)
        event.add("dtend", start + DURATION)
        event.add("summary", summary[:200])
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", summary[:200])
        alarm.add("trigger", dt.timedelta(0))
        event.add_component(alarm)
        cal.add_component(event)
    return cal.to_ical()
