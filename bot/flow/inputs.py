"""Parsing one typed answer for a step: pure functions, no I/O.

Each parser returns Ok(value) or Bad(reason), where reason is a UI-string key suffix
(`flow.bad.<reason>`) so the user is told exactly what was wrong.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, Protocol

from bot import locale
from bot.flow.dates import BareDay, DateError, Direction, PastDay, WholeMonth, parse_day
from bot.flow.models import Step
from bot.flow.numbers import Vague, parse_quantity
from bot.knowledge.normalize import normalize


@dataclass(frozen=True)
class Ok:
    value: Any
    echo: bool = False  # read from free words (人事和我的主管): say on screen what was chosen


@dataclass(frozen=True)
class Bad:
    reason: str
    values: tuple[tuple[str, Any], ...] = ()


class YesNo(Protocol):
    """The words that answer a yes / no question (content/<lang>/lexicon.yaml, all languages)."""

    @property
    def yes_words(self) -> AbstractSet[str]: ...

    @property
    def no_words(self) -> AbstractSet[str]: ...


_SPLIT = re.compile(r"[\s,，、;；/]+")


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


# A negation outside the option words makes free words unsafe to read as a choice (an
# option's own words may hold one: 不是我借的, "never agreed"); the person is asked instead.
_NEGATION = re.compile(r"[不没未别无]|\b(?:no|not|never|didn't|did not|don't|haven't|hasn't|wasn't|nobody|none)\b|n't")
_TERM_SPLIT = re.compile(r"\s*(?:[/／、,，;；()（）]|\bor\b|或者|或)\s*")


def mentioned(options: list[str], labels: dict[str, str], words: dict[str, str], text: str) -> list[str]:
    """The options a free answer names ("人事和我的主管" -> hr, boss): each option's label parts
    ("领导 / 老板") and its words from content (`<ask>.words.<option>`: 主管, 上司, manager),
    as whole words in English, as substrings of two characters or more in Chinese. A word
    inside a longer word of another option counts only as the longer one ("不是我借的" is
    not "我借的"; "threatened to come" is not "threatened")."""
    norm = normalize(text)
    hits: dict[str, list[str]] = {}
    for opt in options:
        terms = _TERM_SPLIT.split(labels.get(opt, "")) + _TERM_SPLIT.split(words.get(opt, ""))
        for term in terms:
            t = normalize(term).strip(" .。")
            if len(t) < 2:
                continue
            hit = re.search(rf"(?<![a-z0-9]){re.escape(t)}(?![a-z0-9])", norm) if t.isascii() else t in norm
            if hit:
                hits.setdefault(opt, []).append(t)

    def inside_another(opt: str, term: str) -> bool:
        return any(term != u and term in u for other, found in hits.items() if other != opt for u in found)

    rest = norm
    for term in sorted((t for found in hits.values() for t in found), key=len, reverse=True):
        rest = rest.replace(term, " ")
    if _NEGATION.search(rest):  # "they never came to my home": a misread here would reach a letter
        return []
    return [o for o, found in hits.items() if not all(inside_another(o, t) for t in found)]


def parse_choice(step: Step, text: str, labels: dict[str, str], words: dict[str, str] | None = None) -> Ok | Bad:
    opt = match_option(step.options, labels, text)
    if opt:
        return Ok(opt)
    named = mentioned(step.options, labels, words or {}, text)
    if len(named) == 1:
        return Ok(named[0], echo=True)
    return Bad("choice", (("n", len(step.options)),))


def parse_multi(step: Step, text: str, labels: dict[str, str], words: dict[str, str] | None = None) -> Ok | Bad:
    """Several options typed at once: "1 3 4", "1,3", "1、3", labels separated likewise, or
    free words that name them ("人事和我的主管")."""
    whole = match_option(step.options, labels, text)
    if whole:
        return Ok([whole])
    chosen: list[str] = []
    echo = False
    for token in _SPLIT.split(text.strip()):
        if not token:
            continue
        opt = match_option(step.options, labels, token)
        if opt is None:
            chosen = [o for o in step.options if o in mentioned(step.options, labels, words or {}, text)]
            echo = True
            break
        if opt not in chosen:
            chosen.append(opt)
    if not chosen:
        return Bad("multi", (("n", len(step.options)),))
    if step.max_choices and len(chosen) > step.max_choices:
        return Bad("too_many", (("max", step.max_choices),))
    return Ok(chosen, echo=echo)


def parse_yesno(text: str, words: YesNo) -> Ok | Bad:
    token = normalize(text).strip(" .。!！")
    if token in words.yes_words:
        return Ok(True)
    if token in words.no_words:
        return Ok(False)
    return Bad("yesno")


def parse_number(step: Step, text: str) -> Ok | Bad:
    """A number as typed (digits, 1.2万, 三千五, "about 40", 30多, 三四十). An approximate answer
    is kept as one (numbers.Quantity) where the step allows it (`approx: true`, counts the
    person estimates); elsewhere (a contract amount) the exact figure is asked for."""
    try:
        q = parse_quantity(text)
    except Vague:
        return Bad("vague_count" if step.integer else "vague_number")
    if q is None:  # a count ("how many calls a day") is not an amount of money: its own example
        return Bad("count" if step.integer else "number")
    if q.approx and not step.approx:
        return Bad("exact")
    for value in (q.value, q.high):
        if value is None:
            continue
        if step.integer and value != int(value):
            return Bad("integer")
        if step.min is not None and value < step.min:
            return Bad("too_small", (("min", _fmt(step.min)),))
        if step.max is not None and value > step.max:
            return Bad("too_big", (("max", _fmt(step.max)),))
    return Ok(q.slot())


@dataclass(frozen=True)
class Confirm:
    """Not read without asking: `value` is the likely answer; the question is
    `flow.confirm.<reason>` with `values`, and the buttons say yes (save it) or no."""

    value: Any
    reason: str
    values: tuple[tuple[str, Any], ...] = ()


def parse_date_answer(step: Step, text: str, today: dt.date, lang: str = "zh") -> Ok | Bad | Confirm:
    direction: Direction = "future" if step.future_only else "past"
    try:
        found = parse_day(text, today, direction)
    except DateError:
        return Bad("no_such_date")
    except BareDay as bare:  # "7" is never silently a date: ask "do you mean 7 November?"
        if _out_of_range(step, bare.day, today):
            return Bad("date")
        return Confirm(bare.day.isoformat(), "bare_day", (("date", PastDay(bare.day).text(lang)),))
    except WholeMonth as month:
        return Bad("date_month", (("month", _month_name(month.year, month.month, lang)),))
    if found is None:
        return Bad("date")
    if found.approx and not step.approx:  # a deadline is counted from this day: it must be exact
        return Bad("exact_day")
    if step.past_only and found.day > today:
        return Bad("future_date")
    if step.future_only and found.day < today:
        return Bad("past_date")
    return Ok(found.slot())


def _out_of_range(step: Step, day: dt.date, today: dt.date) -> bool:
    return (step.past_only and day > today) or (step.future_only and day < today)


def _month_name(year: int, month: int, lang: str) -> str:
    return locale.fmt_month(year, month, lang)


def _fmt(number: float) -> str:
    return str(int(number)) if number == int(number) else str(number)
