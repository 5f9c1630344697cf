"""Registry of dialog completion actions and of extra slash commands.

Feature modules register themselves with @action("name") / @command("name"); the engine
imports bot.actions.builtin, which imports every feature module, so registration happens
once at start-up. `python -m bot check` verifies every on_complete name is registered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.core.models import Reply

if TYPE_CHECKING:
    from bot.knowledge.loader import Knowledge
    from storage.store import Store


@dataclass
class ActionContext:
    lang: str
    slots: dict[str, Any]
    knowledge: Knowledge
    store: Store
    user_id: int
    now: dt.datetime                 # aware, in the user's time zone
    tz: ZoneInfo
    args: str = ""                   # for commands: the text after the command
    extra: dict[str, Any] = field(default_factory=dict)

    def t(self, key: str, **values: object) -> str:
        return self.knowledge.text(self.lang, key, **values)


Action = Callable[[ActionContext], list[Reply]]
ACTIONS: dict[str, Action] = {}
COMMANDS: dict[str, Action] = {}


def action(name: str) -> Callable[[Action], Action]:
    def register(fn: Action) -> Action:
        if name in ACTIONS and ACTIONS[name] is not fn:
            raise ValueError(f"action {name!r} registered twice")
        ACTIONS[name] = fn
        return fn
    return register


def command(name: str) -> Callable[[Action], Action]:
    """An extra slash command (/name args). Core commands live in bot.core.commands."""
    def register(fn: Action) -> Action:
        if name in COMMANDS and COMMANDS[name] is not fn:
            raise ValueError(f"command {name!r} registered twice")
        COMMANDS[name] = fn
        return fn
    return register


BUTTONS: dict[str, Action] = {}


def button(prefix: str) -> Callable[[Action], Action]:
    """A handler for buttons whose id is "<prefix>:<args>" (ctx.args gets <args>).

    Prefixes used by the core: o c e t m d (dialog options, controls, review edits,
    topics, "more", start a dialog), y (confirmations), l (language), u (topic list) and
    r (resume a dialog set aside by a crisis reply).
    """
    if prefix in {"o", "c", "e", "t", "m", "d", "y", "l", "u", "r", "n"}:
        raise ValueError(f"button prefix {prefix!r} is reserved by the core")

    def register(fn: Action) -> Action:
        if prefix in BUTTONS and BUTTONS[prefix] is not fn:
            raise ValueError(f"button prefix {prefix!r} registered twice")
        BUTTONS[prefix] = fn
        return fn
    return register
