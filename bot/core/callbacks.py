"""Typed button data: what a button does, packed into its id and read back, in one place.

A button's id travels through every channel (Telegram callback data, the web page's JSON,
WeChat's numbered lines, the terminal) and comes back when it is pressed. Each kind of button
is a small frozen dataclass with a prefix; `pack()` makes its id (`"<prefix>:<field>:<field>"`,
trailing empty fields left out, at most 64 bytes: Telegram's limit) and `parse()` reads any
id back into its class, fields typed (an int field that is not a number is a stale or forged
button: None). This is aiogram's CallbackData, without aiogram.

Prefixes are registered when a class is defined (`class CaseButton(CallbackData,
prefix="k")`), and a prefix defined twice fails at import, i.e. at start-up. The flags tell
channels what a button is without parsing its id:

- `answers`: pressing it answers the question on screen (channels mark the pressed keyboard
  as answered: Telegram replaces it with "✓ label");
- `control`: a dialog control (Done, Skip, Back, Cancel), shown on its own row;
- `toggles`: it may give back the same question with new ticks (a multi-choice option), so a
  channel may edit the message in place.

The ids are stored with replies and screens in the database, so the packed form of a class
never changes: old buttons in a chat keep working after an upgrade.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from bot.core.models import Button

MAX_BYTES = 64
SEP = ":"
_REGISTRY: dict[str, type[CallbackData]] = {}
T = TypeVar("T", bound="CallbackData")


@dataclass(frozen=True)
class CallbackData:
    prefix: ClassVar[str] = ""
    answers: ClassVar[bool] = False
    control: ClassVar[bool] = False
    toggles: ClassVar[bool] = False

    def __init_subclass__(cls, prefix: str = "", answers: bool = False, control: bool = False,
                          toggles: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not prefix or SEP in prefix:
            raise ValueError(f"{cls.__name__}: a button prefix is a word without {SEP!r}")
        if prefix in _REGISTRY and _REGISTRY[prefix].__qualname__ != cls.__qualname__:
            raise ValueError(f"button prefix {prefix!r} is used by {_REGISTRY[prefix].__name__} and {cls.__name__}")
        cls.prefix, cls.answers, cls.control, cls.toggles = prefix, answers, control, toggles
        _REGISTRY[prefix] = cls

    def pack(self) -> str:
        values = [getattr(self, f.name) for f in dataclasses.fields(self)]
        while values and values[-1] is None:
            values.pop()
        parts = [self.prefix]
        for value in values:
            text = "" if value is None else str(value)
            if SEP in text:
                raise ValueError(f"{type(self).__name__}: a field holds {SEP!r}: {text!r}")
            parts.append(text)
        packed = SEP.join(parts)
        if len(packed.encode()) > MAX_BYTES:
            raise ValueError(f"button id longer than {MAX_BYTES} bytes: {packed[:80]!r}")
        return packed

    def button(self, label: str) -> Button:
        return Button(id=self.pack(), label=label)

    @classmethod
    def unpack(cls: type[T], data: str) -> T | None:
        """`data` read as this class; None when it is not one (wrong prefix, bad fields)."""
        prefix, _, rest = data.partition(SEP)
        if prefix != cls.prefix:
            return None
        fields = dataclasses.fields(cls)
        raw = rest.split(SEP) if rest else []
        if len(raw) > len(fields):
            return None
        values: dict[str, Any] = {}
        for f, text in zip(fields, raw + [None] * (len(fields) - len(raw)), strict=True):
            kind = _types(cls)[f.name]
            if text is None or text == "":
                if f.default is dataclasses.MISSING and not _optional(kind):
                    return None
                values[f.name] = f.default if f.default is not dataclasses.MISSING else None
            elif int in _args(kind):
                if not text.isdigit() or len(text) > 18:
                    return None
                values[f.name] = int(text)
            else:
                values[f.name] = text
        return cls(**values)


def parse(data: str | None) -> CallbackData | None:
    """Any button id read back into its class; None for an unknown or malformed one."""
    if not data:
        return None
    cls = _REGISTRY.get(data.partition(SEP)[0])
    return cls.unpack(data) if cls else None


def answers_question(data: str) -> bool:
    found = parse(data)
    return bool(found and found.answers)


def is_control(data: str) -> bool:
    found = parse(data)
    return bool(found and found.control)


def prefixes() -> dict[str, str]:
    """Every registered prefix and the class that owns it (for `bot check` and tests)."""
    return {p: c.__name__ for p, c in sorted(_REGISTRY.items())}


_HINTS: dict[type, dict[str, Any]] = {}


def _types(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _args(kind: Any) -> tuple[Any, ...]:
    return typing.get_args(kind) or (kind,)


def _optional(kind: Any) -> bool:
    return type(None) in _args(kind)


# --- the core's buttons ---------------------------------------------------------------------

@dataclass(frozen=True)
class Option(CallbackData, prefix="o", answers=True, toggles=True):
    """An option of the dialog question on screen ("o:boss"; yes/no are "o:yes", "o:no")."""

    value: str


@dataclass(frozen=True)
class Control(CallbackData, prefix="c", answers=True, control=True):
    """A dialog control: cancel, back, skip, done, ok (review), confirm / deny ("do you mean")."""

    name: str


@dataclass(frozen=True)
class Edit(CallbackData, prefix="e", answers=True):
    """Correct one answer from the review screen."""

    step: str


@dataclass(frozen=True)
class Topic(CallbackData, prefix="t"):
    topic: str


@dataclass(frozen=True)
class More(CallbackData, prefix="m"):
    """An answer's "details and sources"."""

    topic: str


@dataclass(frozen=True)
class StartDialog(CallbackData, prefix="d"):
    dialog: str


@dataclass(frozen=True)
class StartOver(CallbackData, prefix="n", answers=True):
    """Start `dialog`, dropping the unfinished one ("continue, or start over?")."""

    dialog: str


@dataclass(frozen=True)
class Resume(CallbackData, prefix="r", answers=True):
    """Take up the dialog set aside (after a crisis reply, or "continue, or start over?")."""

    what: str = "resume"


@dataclass(frozen=True)
class Language(CallbackData, prefix="l", answers=True):
    lang: str


@dataclass(frozen=True)
class Confirm(CallbackData, prefix="y", answers=True):
    """An answer to a yes/no outside dialogs (/delete: "delete" or "keep")."""

    what: str


@dataclass(frozen=True)
class TopicList(CallbackData, prefix="u"):
    """"None of these": the list of topics."""

    what: str = "list"
