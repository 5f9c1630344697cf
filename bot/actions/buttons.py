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


@dataclass(frozen=True)
class EvidenceButton(CallbackData, prefix="ev"):
    """The evidence log (bot/actions/evidence.py): ev:log[:<case>] (log a contact),
    ev:lc:<case> (log for this lender; no case: another lender), ev:again:<case>[:<answered|missed>]
    (they called again, just now), ev:tl:<case> (timeline), ev:all:<case> (every entry),
    ev:f:<case> (what the log shows), ev:add:<event>[:<case>] (add a checked message to the log),
    ev:stop:<case> (the stop-contact request was sent today), ev:check (check a message)."""

    what: str
    id: int | None = None
    arg: str | None = None


@dataclass(frozen=True)
class BundleButton(CallbackData, prefix="bdl"):
    """The evidence bundle (bot/actions/bundle.py): bdl:c:<case> (which addressee?),
    bdl:to:<case>:<police|nfra|local_bureau|court|general> (make it)."""

    what: str
    case: int | None = None
    to: str | None = None


@dataclass(frozen=True)
class WitnessButton(CallbackData, prefix="wit"):
    """Witness codes (bot/actions/witness.py): wit:l (the list), wit:c:<case> (for whom?),
    wit:new:<case>:<employer|contact|family> (a new code), wit:x:<id> (revoke it)."""

    what: str
    id: int | None = None
    who: str | None = None
