"""Parsing one typed answer for a step: pure functions, no I/O.

Each parser returns Ok(value) or Bad(reason), where reason is a UI-string key suffix
(`flow.bad.<reason>`) so the user is told exactly what was wrong.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from bot.flow.dates import DateError, parse_date
from bot.flow.models import Step
from bot.knowledge.normalize import normalize


@dataclass(frozen=True)
class Ok:
    value: Any


@dataclass(frozen=True)
class Bad:
    reason: str
    values: tuple[tuple[str, Any], ...] = ()


YES = {"是", "是的", "对", "对的", "有", "有的", "好", "好的", "嗯", "同意", "可以", "yes", "y", "yeah",
       "yep", "ok", "okay", "sure", "true", "1"}
NO = {"否", "不", "不是", "不对", "没有", "没", "无", "不同意", "不可以", "no", "n", "nope", "not",
      "false", "0"}
_SPLIT = re.compile(r"[\s,，、;；/]+")
_NUMBER = re.compile(r"^(-?\d+(?:\.\d+)?)\s*(万|w|千|k|元|块|块钱|rmb|yuan|%|％)?$")


def parse_text(step: Step, text: str) -> Ok | Bad:
    value = text.strip()
    if len(value) < max(step.min_length, 1):
        return Bad("empty")
    if len(value) > step.max_length:
        return Bad("too_long", (("max", step.max_length), ("length", len(value))))
    return Ok(value)


def match_option(options: list[str], labels: dict[str, str], token: str) -> str | None:
    """An option id for a typed token: its number (1-based), its label or its id."""
    token = normalize(token).strip(" .。、")
    if token.isdigit():
        index = int(token) - 1
        return options[index] if 0 <= index < len(options) else None
    for opt in options:
        if token in (opt, normalize(labels.get(opt, ""))):
            return opt
    return None


def parse_choice(step: Step, text: str, labels: dict[str, str]) -> Ok | Bad:
    opt = match_option(step.options, labels, text)
    return Ok(opt) if opt else Bad("choice", (("n", len(step.options)),))


def parse_multi(step: Step, text: str, labels: dict[str, str]) -> Ok | Bad:
    """Several options typed at once: "1 3 4", "1,3", "1、3", or labels separated likewise."""
    whole = match_option(step.options, labels, text)
    if whole:
        return Ok([whole])
    chosen: list[str] = []
    for token in _SPLIT.split(text.strip()):
        if not token:
            continue
        opt = match_option(step.options, labels, token)
        if opt is None:
            return Bad("multi", (("n", len(step.options)),))
        if opt not in chosen:
            chosen.append(opt)
    if not chosen:
        return Bad("multi", (("n", len(step.options)),))
    if step.max_choices and len(chosen) > step.max_choices:
        return Bad("too_many", (("max", step.max_choices),))
    return Ok(chosen)


def parse_yesno(text: str) -> Ok | Bad:
    token = normalize(text).strip(" .。!！")
    if token in YES:
        return Ok(True)
    if token in NO:
        return Ok(False)
    return Bad("yesno")


def parse_number(step: Step, text: str) -> Ok | Bad:
    raw = normalize(text).replace(",", "").replace("，", "").replace(" ", "")
    m = _NUMBER.match(raw)
    if not m:  # a count ("how many calls a day") is not an amount of money: its own example
        return Bad("count" if step.integer else "number")
    value = float(m[1])
    unit = m[2]
    if unit in ("万", "w"):
        value *= 10_000
    elif unit in ("千", "k"):
        value *= 1_000
    if step.integer:
        if value != int(value):
            return Bad("integer")
        value = int(value)
    elif value == int(value) and abs(value) < 1e15:
        value = int(value)
    if step.min is not None and value < step.min:
        return Bad("too_small", (("min", _fmt(step.min)),))
    if step.max is not None and value > step.max:
        return Bad("too_big", (("max", _fmt(step.max)),))
    return Ok(value)


def parse_date_answer(step: Step, text: str, today: dt.date) -> Ok | Bad:
    try:
        value = parse_date(text, today)
    except DateError:
        return Bad("no_such_date")
    if value is None:
        return Bad("date")
    if step.past_only and value > today:
        return Bad("future_date")
    if step.future_only and value < today:
        return Bad("past_date")
    return Ok(value.isoformat())


def _fmt(number: float) -> str:
    return str(int(number)) if number == int(number) else str(number)
