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
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from bot.core.callbacks import CallbackData
from bot.core.models import Media, Reply

if TYPE_CHECKING:
    from bot.flow.models import Dialog
    from bot.knowledge.loader import Knowledge
    from storage.events import EventStore
    from storage.files import FileStore
    from storage.links import LinkStore
    from storage.reminders import ReminderStore
    from storage.rows import CaseRow, UserRow
    from storage.witness import WitnessStore


class ActionStore(Protocol):
    """The part of storage.Store that features may use: their own user's settings, cases and
    reminders. Typed as this Protocol so an action cannot reach the inbox, the sessions or
    another table without it showing up here (mypy checks every use); the engine passes the
    real Store, whose calls join the message's transaction."""

    @property
    def reminders(self) -> ReminderStore: ...

    @property
    def links(self) -> LinkStore: ...

    @property
    def events(self) -> EventStore: ...

    @property
    def witness(self) -> WitnessStore: ...

    @property
    def files(self) -> FileStore: ...

    def user_by_id(self, user_id: int) -> UserRow | None: ...

    def save_case(self, user_id: int, kind: str, lang: str, data: dict) -> int: ...

    def cases(self, user_id: int, kind: str | None = None, limit: int | None = None) -> list[CaseRow]: ...

    def count_cases(self, user_id: int, kind: str | None = None) -> int: ...

    def case(self, user_id: int, case_id: int) -> CaseRow | None: ...


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
    store: ActionStore
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
    #: where trained models are kept (BOT_CACHE_DIR): the message scanner's, for the chat
    cache_dir: Path | None = None
    #: bytes of evidence files one user may keep (BOT_MEDIA_MAX_USER_MB)
    media_quota: int = 200 << 20
    #: where evidence files live (beside the database); a media path elsewhere is refused
    files_dir: Path | None = None
    #: this server as users reach it (BOT_PUBLIC_URL; None: no links) and how many days a link
    #: to one of its pages works (BOT_LINK_DAYS): the evidence bundle, witness codes
    public_url: str | None = None
    link_days: float = 7.0

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


#: Called, in order, with a free-text message that is no command, no button, no answer to a
#: dialog's question and no greeting (the text in `ctx.args`), before the dialog triggers and
#: the question matcher; the first that returns replies answers it, [] passes it on. The
#: crisis check has already run. Register with @free_text.
FREE_TEXT: list[Action] = []


def free_text(fn: Action) -> Action:
    if fn not in FREE_TEXT:
        FREE_TEXT.append(fn)
    return fn


def before_reply(fn: Action) -> Action:
    if fn not in BEFORE_REPLY:
        BEFORE_REPLY.append(fn)
    return fn


#: Keeps a photo, voice note or file the user sent (bot/actions/media.py registers it with
#: @on_media): one handler, called with the downloaded file before anything else but the
#: crisis check of its caption.
MediaAction = Callable[[ActionContext, Media], list[Reply]]
MEDIA: list[MediaAction] = []


def on_media(fn: MediaAction) -> MediaAction:
    if MEDIA:
        raise ValueError("one media handler only")
    MEDIA.append(fn)
    return fn
