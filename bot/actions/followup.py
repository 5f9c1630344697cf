"""How a follow-up set now (a reminder, a complaint's deadline check) will reach the user, said
at the time it is set (issue 14, item 3).

Channels that cannot simply push later register a `Note` for their name (WeChat:
bot/channels/wechat/followup.py, which explains its 48-hour window and asks for consent to a
subscription notification): `NOTES[channel](ctx, reminder_id, at) -> text or None`. It runs in
the message's transaction with the action's store. Channels without a note need none: they
push (Telegram), or say once that reminders come with the next message (web, terminal).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from bot.actions.registry import ActionContext

Note = Callable[[ActionContext, int, dt.datetime], str | None]
NOTES: dict[str, Note] = {}


def delivery_note(ctx: ActionContext, reminder_id: int, at: dt.datetime) -> str | None:
    """The line saying how the reminder `reminder_id`, due `at`, will arrive; None: nothing to say."""
    user = ctx.store.user_by_id(ctx.user_id)
    note = NOTES.get(user["channel"]) if user else None
    return note(ctx, reminder_id, at) if note else None


def with_note(text: str, ctx: ActionContext, reminder_id: int, at: dt.datetime) -> str:
    note = delivery_note(ctx, reminder_id, at)
    return f"{text}\n{note}" if note else text
