"""The features' kinds of buttons (bot/core/callbacks.py has the core's), in one module so
features that offer each other's buttons (a complaint's "my reminders") need not import each
other. Each id keeps the form it had as a hand-built string, so buttons in old chats work."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.callbacks import CallbackData


@dataclass(frozen=True)
class CaseButton(CallbackData, prefix="k"):
    """A saved report: k:l (the list), k:v:<case> (view), k:d:<case>:<draft> (one letter),
    k:a:<case> (every letter), k:e:<case>[:<draft>] (the letters in English)."""

    what: str
    case: int | None = None
    draft: str | None = None


@dataclass(frozen=True)
class ComplaintButton(CallbackData, prefix="cpl"):
    """A tracked complaint: cpl:l (list), cpl:new, cpl:track:<case>, cpl:v:<id>, cpl:x:<id>
    (stop tracking), cpl:f:<id> (followed up), cpl:a:<id>:<answer> (the check-in's answers),
    cpl:s:<id>:<body>:<stage> (the next complaint was sent)."""

    what: str
    id: int | None = None
    arg: str | None = None
    stage: str | None = None


@dataclass(frozen=True)
class ReminderButton(CallbackData, prefix="rem", answers=True):
    """A reminder: rem:l (list), rem:x:<id> (cancel), rem:s:<id> (snooze: when?),
    rem:z:<id>:<option> (snooze by that much)."""

    what: str
    id: int | None = None
    option: str | None = None
