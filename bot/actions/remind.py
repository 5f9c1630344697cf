"""Personal reminders (/remind, /reminders) and how any reminder reads when it arrives.

/remind 明天9点 交电费 — the time is read by bot/actions/when.py in the user's zone; a time
in the past or one that cannot be read gets a clear answer with examples. /reminders lists
what is still to come, each with cancel and snooze buttons (prefix "rem": rem:l list,
rem:x:<id> cancel, rem:s:<id> snooze menu, rem:z:<id>:<1h|1d|1w> snooze).

Reminders arrive two ways (bot/scheduler.py pushes them through the user's channel; a
channel that cannot push keeps them until the user writes again). `due_reminders` is the
second way: registered as an engine "before reply" provider, it puts the user's due
reminders in front of the answer to their next message, in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bot.actions import complaints, followup
from bot.actions.buttons import ReminderButton
from bot.actions.registry import ActionContext, before_reply, button, command
from bot.actions.when import WhenError, add_calendar, parse_when
from bot.core.models import Reply
from storage.reminders import ReminderStore, from_iso

if TYPE_CHECKING:
    from bot.knowledge.loader import Knowledge

MAX_TEXT = 300
MAX_UPCOMING = 50           # per user: enough for anyone, a bound for a runaway script
MAX_LISTED = 10
LATE_AFTER = dt.timedelta(minutes=15)   # later than this, the reminder says it is late
SNOOZES = {"1h": dt.timedelta(hours=1), "1d": dt.timedelta(days=1), "1w": dt.timedelta(days=7)}


def _rs(ctx: ActionContext) -> ReminderStore:
    return ctx.store.reminders


# --- /remind ------------------------------------------------------------------------------------

@command("remind")
def remind(ctx: ActionContext) -> list[Reply]:
    if not ctx.args.strip():
        return [Reply(text=ctx.t("remind.usage"))]
    try:
        when = parse_when(ctx.args, ctx.now)
    except WhenError as exc:
        values = {"at": complaints.fmt_when(exc.at, ctx.lang, ctx.knowledge)} if exc.at else {}
        return [Reply(text=ctx.t(f"remind.bad.{exc.reason}", **values) + "\n" + ctx.t("remind.examples"),
                      kind="notice")]
    text = when.rest or ctx.t("remind.no_text")
    if len(text) > MAX_TEXT:
        return [Reply(text=ctx.t("remind.bad.too_long", max=MAX_TEXT), kind="notice")]
    rs = _rs(ctx)
    if rs.count_upcoming(ctx.user_id) >= MAX_UPCOMING:
        return [Reply(text=ctx.t("remind.bad.too_many", max=MAX_UPCOMING), kind="notice")]
    user = ctx.store.user_by_id(ctx.user_id)
    assert user is not None
    rid = rs.add(ctx.user_id, user["channel"], "personal", when.at, text=text, now=ctx.now)
    done = followup.with_note(ctx.t("remind.set", when=_when(ctx, when.at), text=text), ctx, rid, when.at)
    return [Reply(text=done, buttons=(
        ReminderButton("x", rid).button(ctx.t("remind.button.cancel")),
        ReminderButton("l").button(ctx.t("remind.button.list"))))]


def _when(ctx: ActionContext, at: dt.datetime) -> str:
    """The time in the user's zone, naming the zone when it is not the bot's default."""
    local = at.astimezone(ctx.tz)
    text = complaints.fmt_when(local, ctx.lang, ctx.knowledge)
    if str(ctx.tz) != ctx.default_tz:
        text += f" ({ctx.tz})"
    return text


# --- /reminders ---------------------------------------------------------------------------------

@command("reminders")
def list_reminders(ctx: ActionContext) -> list[Reply]:
    rows = _rs(ctx).upcoming(ctx.user_id, MAX_UPCOMING)
    if not rows:
        return [Reply(text=ctx.t("remind.none"))]
    lines = [ctx.t("remind.list_title")]
    buttons = []
    for n, row in enumerate(rows[:MAX_LISTED], 1):
        lines.append(ctx.t("remind.item", n=n, when=_when(ctx, from_iso(row["due_at"])), what=_what(ctx, row)))
        if row["status"] == "pending":
            buttons += [ReminderButton("x", row['id']).button(ctx.t("remind.button.cancel_n", n=n)),
                        ReminderButton("s", row["id"]).button(ctx.t("remind.button.snooze_n", n=n))]
    if len(rows) > MAX_LISTED:
        lines.append(ctx.t("remind.more", shown=MAX_LISTED, total=len(rows)))
    return [Reply(text="\n".join(lines), buttons=tuple(buttons))]


def _what(ctx: ActionContext, row: Mapping[str, Any]) -> str:
    if row["kind"] == "complaint":
        c = _rs(ctx).complaint(ctx.user_id, row["complaint_id"]) if row["complaint_id"] else None
        if c is None:
            return ctx.t("remind.complaint_gone")
        return ctx.t("remind.complaint_item", id=c["id"], body=complaints.body_name(ctx.knowledge, ctx.lang, c))
    return row["text"] or ctx.t("remind.no_text")


@button(ReminderButton)
def reminder_button(ctx: ActionContext) -> list[Reply]:
    data = ctx.data
    assert isinstance(data, ReminderButton)
    if data.what == "l":
        return list_reminders(ctx)
    rs = _rs(ctx)
    row = rs.get(ctx.user_id, data.id) if data.id is not None else None
    if row is None:
        return [Reply(text=ctx.t("remind.not_found"), kind="notice")]
    if data.what == "x":
        if rs.cancel(ctx.user_id, row["id"]):
            return [Reply(text=ctx.t("remind.cancelled", what=_what(ctx, row)), kind="notice")]
        return [Reply(text=ctx.t(f"remind.cannot_cancel.{row['status']}"), kind="notice")]
    if data.what == "s":
        return [Reply(text=ctx.t("remind.snooze_q", what=_what(ctx, row)), buttons=tuple(
            ReminderButton("z", row["id"], key).button(ctx.t(f"remind.snooze.{key}")) for key in SNOOZES))]
    if data.what == "z" and data.option in SNOOZES:
        return _snooze(ctx, rs, row, data.option)
    return [Reply(text=ctx.t("remind.not_found"), kind="notice")]


def _snooze(ctx: ActionContext, rs: ReminderStore, row: Mapping[str, Any], option: str) -> list[Reply]:
    """A reminder still to come moves later by the chosen time; one that has arrived comes
    back that long from now. Days are calendar days (same clock time across DST)."""
    base = from_iso(row["due_at"]).astimezone(ctx.tz) if row["status"] == "pending" else ctx.now
    base = max(base, ctx.now)
    delta = SNOOZES[option]
    at = add_calendar(base, days=delta.days) if delta.days else (base.astimezone(dt.UTC) + delta).astimezone(ctx.tz)
    if not rs.reschedule(ctx.user_id, row["id"], at):
        return [Reply(text=ctx.t(f"remind.cannot_cancel.{row['status']}"), kind="notice")]
    return [Reply(text=ctx.t("remind.snoozed", when=_when(ctx, at), what=_what(ctx, row)), kind="notice")]


# --- how a reminder reads when it arrives -------------------------------------------------------

def reminder_replies(k: Knowledge, lang: str, tz: dt.tzinfo, row: Mapping[str, Any],
                     complaint: Mapping[str, Any] | None, now: dt.datetime) -> list[Reply]:
    """The message(s) for one due reminder. Empty when there is nothing left to say (its
    complaint was closed or deleted)."""
    due = from_iso(row["due_at"])
    late = ""
    if now - due > LATE_AFTER:
        late = k.text(lang, "remind.late", when=complaints.fmt_when(due.astimezone(tz), lang, k))
    if row["kind"] == "complaint":
        if complaint is None or complaint["status"] in ("closed", "solved", "draft"):
            return []
        return [complaints.check_reply(k, lang, complaint, late)]
    text = k.text(lang, "remind.arrived", text=row["text"] or k.text(lang, "remind.no_text"))
    if late:
        text = late + "\n" + text
    return [Reply(text=text, kind="reminder", buttons=(
        ReminderButton("z", row["id"], "1h").button(k.text(lang, "remind.again.1h")),
        ReminderButton("z", row["id"], "1d").button(k.text(lang, "remind.again.1d"))))]


@before_reply
def due_reminders(ctx: ActionContext) -> list[Reply]:
    """Engine "before reply" provider: the user's due reminders, marked sent in the message's
    transaction, so they go out with (and are stored like) the answer to that message."""
    rs = _rs(ctx)
    replies: list[Reply] = []
    for row in rs.take_due_for_user(ctx.user_id, ctx.now):
        c = rs.complaint(ctx.user_id, row["complaint_id"]) if row["complaint_id"] else None
        replies += reminder_replies(ctx.knowledge, ctx.lang, ctx.tz, row, c, ctx.now)
    return replies


