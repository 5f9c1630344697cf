"""Registry of what features add: dialog completion actions, slash commands, button
handlers and before-reply hooks.

Feature modules register themselves with @action("name"), @command("name"),
@button(TheirButton) and @before_reply; the engine imports bot.actions.builtin, which
imports every feature module, so registration happens once at start-up. `python -m bot
check` verifies every on_complete name is registered. Features get an ActionContext with
the capabilities they need (start a dialog, the dialogs, the bot's time zone), never the
engine: layers point down (engine -> actions -> storage).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from bot.core.callbacks import CallbackData
from bot.core.models import Reply

if TYPE_CHECKING:
    from bot.flow.models import Dialog
    from bot.knowledge.loader import Knowledge
    from storage.store import Store


class DialogStarter(Protocol):
    def __call__(self, dialog_id: str, step: str | None = None, slots: dict[str, Any] | None = None,
                 history: tuple[str, ...] = ()) -> list[Reply]: ...


@dataclass
class ActionContext:
    """What an action, a command, a button handler or a before-reply hook gets: the message's
    facts and the few capabilities features need, never the engine itself."""

    lang: str
    slots: dict[str, Any]
    knowledge: Knowledge
    store: Store
    user_id: int
    now: dt.datetime                 # aware, in the user's time zone
    tz: ZoneInfo
    args: str = ""                   # for commands: the text after the command
    data: CallbackData | None = None  # for buttons: the pressed button, typed
    default_tz: str = "Asia/Shanghai"  # the bot's time zone (BOT_TIMEZONE)
    dialogs: Mapping[str, Dialog] = field(default_factory=dict)
    #: start a dialog (at `step`, with answers already known); the session is saved in the
    #: message's transaction, like every dialog step
    start_dialog: DialogStarter | None = None

    def t(self, key: str, **values: object) -> str:
        return self.knowledge.text(self.lang, key, **values)


Action = Callable[[ActionContext], list[Reply]]
ACTIONS: dict[str, Action] = {}
COMMANDS: dict[str, Action] = {}


@dataclass(frozen=True)
class Reads:
    """The answers a completion action reads, declared next to it and checked against every
    dialog that completes with it when the bot starts (`python -m bot check`): a slot renamed
    in a dialog file, or an option added, renamed or dropped, is a start-up error, never a
    letter that quietly leaves the lender's name out."""

    slots: tuple[str, ...]
    #: slots whose values are option ids: the ids the action knows, which must be exactly the
    #: step's options
    options: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: read only from older saved answers (no step saves them now)
    legacy: tuple[str, ...] = ()


READS: dict[str, Reads] = {}


def action(name: str, reads: Reads | None = None) -> Callable[[Action], Action]:
    def register(fn: Action) -> Action:
        if name in ACTIONS and ACTIONS[name] is not fn:
            raise ValueError(f"action {name!r} registered twice")
        ACTIONS[name] = fn
        if reads is not None:
            READS[name] = reads
        return fn
    return register


def check_reads(dialogs: Mapping[str, Dialog]) -> list[tuple[str, str, str]]:
    """(file, field, problem) for every declared answer a dialog does not provide as declared."""
    problems = []
    for dialog in dialogs.values():
        where = f"dialogs/{dialog.id}.yaml"
        by_slot = {dialog.slot(sid): step for sid, step in dialog.steps.items()}
        for name in dialog.on_complete:
            reads = READS.get(name)
            if reads is None:
                continue
            for slot in reads.slots:
                if slot not in by_slot and slot not in reads.legacy:
                    problems.append((where, "steps", f"{name} reads the answer {slot!r}, which no step saves"))
            for slot, known in reads.options.items():
                step = by_slot.get(slot)
                if step is None:
                    continue
                if set(step.options) != set(known):
                    extra, missing = sorted(set(step.options) - set(known)), sorted(set(known) - set(step.options))
                    problems.append((where, f"steps.{slot}.options", f"{name} knows {sorted(known)}"
                                     + (f"; unknown to it: {extra}" if extra else "")
                                     + (f"; not offered: {missing}" if missing else "")))
    return problems


def command(name: str) -> Callable[[Action], Action]:
    """An extra slash command (/name args). Core commands live in bot.core.commands."""
    def register(fn: Action) -> Action:
        if name in COMMANDS and COMMANDS[name] is not fn:
            raise ValueError(f"command {name!r} registered twice")
        COMMANDS[name] = fn
        return fn
    return register


BUTTONS: dict[str, tuple[type[CallbackData], Action]] = {}
#: Called with every message's context after it is handled, inside its transaction; what
#: they return goes before the answer (reminders that fell due for a user whose channel could
#: not push them). Register with @before_reply.
BEFORE_REPLY: list[Action] = []


def button(kind: type[CallbackData]) -> Callable[[Action], Action]:
    """The handler of one kind of button (a CallbackData class with its own prefix; the
    core's prefixes are in bot/core/callbacks.py). The handler reads `ctx.data`, typed."""
    if kind.__module__ == "bot.core.callbacks":
        raise ValueError(f"button prefix {kind.prefix!r} is handled by the core")

    def register(fn: Action) -> Action:
        if kind.prefix in BUTTONS and BUTTONS[kind.prefix][1] is not fn:
            raise ValueError(f"button prefix {kind.prefix!r} registered twice")
        BUTTONS[kind.prefix] = (kind, fn)
        return fn
    return register


def before_reply(fn: Action) -> Action:
    if fn not in BEFORE_REPLY:
        BEFORE_REPLY.append(fn)
    return fn
