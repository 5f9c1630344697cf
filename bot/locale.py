"""Languages as content, and the one place where text is put together from parts.

A language is available when `content/<code>/locale.yaml` exists (the code is the folder's
name: zh, en, zh-hant). The file says how the language writes what the bot assembles: lists,
a label and its value, dates, money, estimates, legal citations. Code never branches on a
language to format text; it calls these functions with the language code:

    join(["人事", "领导"], "zh")             -> "人事、领导"
    label_value("Other", "group chat", "en") -> "Other: group chat"
    fmt_date(date(2026, 11, 3), "en")        -> "3 November 2026"
    fmt_money(5000, "zh")                    -> "5,000元"
    approx("over", "30", "en")               -> "more than 30"

The content loader validates every locale file (`load_locales`, reported by
`python -m bot check` with file, line and field) and registers the locales here
(`register`); code that formats before any content is loaded (unit tests of the date
grammar) gets the shipped content/'s locales.
"""

from __future__ import annotations

import builtins
import datetime as dt
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from bot.contentfiles import ContentError, Problem, read_yaml, validate

#: A language code: the name of its folder in content/ (lower case, BCP 47 style).
CODE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
LOCALE_FILE = "locale.yaml"
DEFAULT_CONTENT = Path(__file__).resolve().parent.parent / "content"

Script = Literal["han", "latin"]


def _placeholders(template: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ValueError(f"{template!r}: {exc}") from None


def _template(template: str, required: Iterable[str], optional: Iterable[str] = ()) -> str:
    """`template` must use every `required` {placeholder} and no others but `optional`."""
    names = _placeholders(template)
    allowed = {*required, *optional}
    if names - allowed:
        raise ValueError(f"{template!r}: unknown placeholder(s) {sorted(names - allowed)}; "
                         f"use {sorted(allowed)}")
    if set(required) - names:
        raise ValueError(f"{template!r}: needs {sorted(set(required) - names)}")
    return template


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ListStyle(_Strict):
    sep: str                 # between items: 人事、领导 / HR, boss
    last: str                # before the last item of a list read as "a, b and c"
    clauses: str             # between clauses or citations: 刑法；民法典 / Criminal Law; Civil Code
    sentences: str           # between sentences run into one paragraph ("" / " ")


class DateStyle(_Strict):
    day: str                 # {year} {month} {day} {month_name}: 2026年11月3日 / 3 November 2026
    month: str               # a whole month: 2026年11月 / November 2026
    part: str                # a part of a month, {part} from `parts`: 2026年11月初 / early November 2026
    parts: dict[Literal["early", "mid", "late"], str]
    month_names: list[str] = []   # January ... December, where a format uses {month_name}

    @field_validator("day", "month", "part")
    @classmethod
    def _format(cls, value: str, info: ValidationInfo) -> str:
        return _template(value, {"day": ("day",), "month": (), "part": ("part",)}[info.field_name or ""],
                         ("year", "month", "month_name"))

    @model_validator(mode="after")
    def _complete(self) -> DateStyle:
        if set(self.parts) != {"early", "mid", "late"}:
            raise ValueError("parts needs early, mid and late")
        uses_names = any("month_name" in _placeholders(t) for t in (self.day, self.month, self.part))
        if uses_names and len(self.month_names) != 12:
            raise ValueError("month_names must list the 12 months (a format uses {month_name})")
        return self


class NumberStyle(_Strict):
    group: str = ","         # thousands: 5,000
    decimal: str = "."       # 2,009.21


class MoneyStyle(_Strict):
    text: str                # {amount} in a sentence or a letter: 5,000元 / 5,000 yuan
    figure: str              # {amount} set apart in a calculation (/apr): 5,000 元 / 5,000 yuan

    @field_validator("text", "figure")
    @classmethod
    def _amount(cls, value: str) -> str:
        return _template(value, ("amount",))


class ApproxStyle(_Strict):
    """A number as the person estimated it ({n}, and {high} for a range)."""

    about: str               # 约30 / about 30
    over: str                # 30多 / more than 30
    range: str               # 30至40 / 30 to 40

    @field_validator("about", "over", "range")
    @classmethod
    def _format(cls, value: str, info: ValidationInfo) -> str:
        return _template(value, ("n", "high") if info.field_name == "range" else ("n",))


class LawStyle(_Strict):
    """How legal citations are written: 刑法 第293条之一 / Criminal Law, Art. 293-1."""

    article: str             # one article number {n}: 第{n}条 / {n}
    inserted: str | None = None   # an inserted article such as 293-1: 第{n}条之{sub}
    numerals: list[str] = []      # {sub} for inserted articles -1, -2 ...: 一, 二 ...
    one: str                 # {articles} when there is one: {articles} / Art. {articles}
    many: str                # {articles} when there are more: {articles} / Arts. {articles}
    renumbered: str          # a renumbered law's new numbering: 新法{articles} / new {articles}
    cite: str                # {name} and {articles} in a list of sources: 刑法 第313条 / Criminal Law, Art. 313
    letter: str              # {name} and {articles} in a letter or finding: 刑法第313条
    binds: str               # {name} and whom it {binds}: 刑法（适用于：所有人）

    @field_validator("article", "inserted", "one", "many", "renumbered", "cite", "letter", "binds")
    @classmethod
    def _format(cls, value: str | None, info: ValidationInfo) -> str | None:
        needs = {"article": ("n",), "inserted": ("n", "sub"), "cite": ("name", "articles"),
                 "letter": ("name", "articles"), "binds": ("name", "binds")}
        return None if value is None else _template(value, needs.get(info.field_name or "", ("articles",)))

    @model_validator(mode="after")
    def _numerals(self) -> LawStyle:
        if self.inserted is not None and not self.numerals:
            raise ValueError("inserted needs numerals for {sub}")
        return self


class Locale(_Strict):
    """content/<code>/locale.yaml."""

    name: str = Field(min_length=1)   # the language's own name, on the language buttons
    order: int = 100                  # where it is listed among the languages, lower first
    script: Script                    # what its users type: han (Chinese characters) or latin
    tags: list[str] = []              # other language tags that choose it (browser, Telegram)
    fallback: str | None = None       # a language whose texts stand in for the ones missing here
    list: ListStyle
    colon: str                        # between a label and its value: 其他：拉群 / Other: group chat
    quotes: tuple[str, str]           # around quoted words: “” / ""
    date: DateStyle
    number: NumberStyle = NumberStyle()
    money: MoneyStyle
    approx: ApproxStyle
    law: LawStyle

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: builtins.list[str]) -> builtins.list[str]:  # `list` is a field here
        for tag in value:
            if not CODE.match(tag):
                raise ValueError(f"tag {tag!r}: lower case, like zh-tw or en-gb")
        return value


# --- loading and the registry ----------------------------------------------------------------

def locale_dirs(root: Path) -> list[Path]:
    """The language folders of a content directory: those with a locale file."""
    return sorted(p.parent for p in root.glob(f"*/{LOCALE_FILE}"))


def load_locales(root: Path) -> dict[str, Locale]:
    """Every content/<code>/locale.yaml, validated, in language order. Raises ContentError."""
    problems: list[Problem] = []
    found: dict[str, Locale] = {}
    for folder in locale_dirs(root):
        code = folder.name
        name = f"{root.name}/{code}/{LOCALE_FILE}"
        if not CODE.match(code):
            problems.append(Problem(name, "", f"folder name {code!r} is not a language code "
                                    "(lower case, like zh, en or zh-hant)"))
            continue
        try:
            found[code] = validate(Locale, read_yaml(folder / LOCALE_FILE, root), root)
        except ContentError as exc:
            problems += exc.problems
    if not found and not problems:
        problems.append(Problem(f"{root.name}/", "", f"no language: add <code>/{LOCALE_FILE}"))
    found = dict(sorted(found.items(), key=lambda kv: (kv[1].order, kv[0])))
    for code, loc in found.items():
        where = f"{root.name}/{code}/{LOCALE_FILE}"
        if loc.fallback is not None:
            if loc.fallback not in found:
                problems.append(Problem(where, "fallback", f"no language {loc.fallback!r} "
                                        f"(languages: {', '.join(found)})"))
            elif found[loc.fallback].fallback is not None:
                problems.append(Problem(where, "fallback", f"{loc.fallback!r} has a fallback itself; "
                                        "fall back to a complete language"))
        for tag in loc.tags:
            if tag in found and tag != code:
                problems.append(Problem(where, "tags", f"{tag!r} is a language of its own"))
    if problems:
        raise ContentError(problems)
    return found


def available(root: Path) -> list[str]:
    """The language codes of a content directory, in language order (for the command line
    and the settings; when a locale file is broken, the folders, and `bot check` says why)."""
    try:
        return list(load_locales(root))
    except ContentError:
        return [p.name for p in locale_dirs(root)]


_REGISTRY: dict[str, Locale] = {}


def register(locales: Mapping[str, Locale]) -> None:
    """Make the locales of loaded content the ones formatting uses (by code)."""
    _REGISTRY.update(locales)
    ordered = sorted(_REGISTRY.items(), key=lambda kv: (kv[1].order, kv[0]))
    _REGISTRY.clear()
    _REGISTRY.update(ordered)


def get(lang: str) -> Locale:
    """The locale of `lang`. KeyError for a language no loaded content defines."""
    loc = _REGISTRY.get(lang)
    if loc is None:
        _defaults()
        loc = _REGISTRY.get(lang)
    if loc is None:
        raise KeyError(f"no locale for language {lang!r}")
    return loc


def codes() -> list[str]:
    """The registered languages, in order (the shipped content's when none is loaded)."""
    if not _REGISTRY:
        _defaults()
    return list(_REGISTRY)


def _defaults() -> None:
    """Register the shipped content's locales (once), under those of content loaded already."""
    global _DEFAULTS_LOADED
    if not _DEFAULTS_LOADED:
        _DEFAULTS_LOADED = True
        register({c: v for c, v in load_locales(DEFAULT_CONTENT).items() if c not in _REGISTRY})


_DEFAULTS_LOADED = False


def for_script(script: Script, languages: Sequence[str] | None = None) -> str | None:
    """The first language (in order) whose users type in `script`."""
    langs = list(languages) if languages is not None else codes()
    return next((c for c in langs if get(c).script == script), langs[0] if langs else None)


def from_tag(tag: str | None, languages: Sequence[str] | None = None) -> str | None:
    """The language a platform's language tag chooses (zh-CN -> zh, en-US -> en, a locale's
    own `tags`), None when none of `languages` fits."""
    tag = (tag or "").strip().lower().replace("_", "-")
    if not tag:
        return None
    langs = list(languages) if languages is not None else codes()
    if tag in langs:
        return tag
    for code in langs:
        if tag in get(code).tags:
            return code
    primary = tag.split("-", 1)[0]
    return primary if primary in langs else None


# --- formatting -------------------------------------------------------------------------------

def join(items: Iterable[str], lang: str) -> str:
    """人事、领导 / HR, boss."""
    return get(lang).list.sep.join(items)


def join_and(items: Sequence[str], lang: str) -> str:
    """A list read as "a, b and c" (第1条、第2条 / 1, 2 and 3)."""
    style = get(lang).list
    if len(items) < 2:
        return style.sep.join(items)
    return style.sep.join(items[:-1]) + style.last + items[-1]


def clauses(items: Iterable[str], lang: str) -> str:
    """Clauses or citations in one line: 刑法；民法典 / Criminal Law; Civil Code."""
    return get(lang).list.clauses.join(items)


def sentences(items: Iterable[str], lang: str) -> str:
    """Sentences run into one paragraph."""
    return get(lang).list.sentences.join(items)


def label_value(label: str, value: str, lang: str) -> str:
    """其他：拉群 / Other: group chat."""
    return f"{label}{get(lang).colon}{value}"


def quote(text: str, lang: str) -> str:
    """“拉群” / "group chat"."""
    left, right = get(lang).quotes
    return f"{left}{text}{right}"


def fmt_number(value: int | float, lang: str, decimals: int | None = None) -> str:
    """5,000 / 2,009.21: whole numbers without decimals unless `decimals` is given."""
    if decimals is None:
        text = f"{value:,.2f}" if isinstance(value, float) and not value.is_integer() else f"{int(value):,}"
    else:
        text = f"{value:,.{decimals}f}"
    style = get(lang).number
    if (style.group, style.decimal) == (",", "."):
        return text
    return "".join(style.group if c == "," else style.decimal if c == "." else c for c in text)


def money(amount: str, lang: str, style: Literal["text", "figure"] = "text") -> str:
    """An amount already written as a number (5,000; 约5,000) as money: 5,000元 / 5,000 yuan."""
    return getattr(get(lang).money, style).format(amount=amount)


def fmt_money(amount: int | float, lang: str) -> str:
    return money(fmt_number(amount, lang), lang)


def _date_values(year: int, month: int, loc: Locale) -> dict[str, object]:
    names = loc.date.month_names
    return {"year": year, "month": month, "month_name": names[month - 1] if names else month}


def fmt_date(day: dt.date, lang: str) -> str:
    """2026年11月3日 / 3 November 2026."""
    loc = get(lang)
    return loc.date.day.format(day=day.day, **_date_values(day.year, day.month, loc))


def fmt_month(year: int, month: int, lang: str) -> str:
    """2026年11月 / November 2026."""
    loc = get(lang)
    return loc.date.month.format(**_date_values(year, month, loc))


def fmt_month_part(year: int, month: int, part: Literal["early", "mid", "late"], lang: str) -> str:
    """2026年11月初 / early November 2026."""
    loc = get(lang)
    return loc.date.part.format(part=loc.date.parts[part], **_date_values(year, month, loc))


def approx(kind: Literal["about", "over", "range"], n: str, lang: str, high: str = "") -> str:
    """约30 / about 30; 30多 / more than 30; 30至40 / 30 to 40."""
    template = getattr(get(lang).approx, kind)
    return template.format(n=n, high=high) if kind == "range" else template.format(n=n)


def article(number: str, lang: str) -> str:
    """One article: "293-1" -> 第293条之一 (how Chinese law numbers inserted articles), "47" ->
    第47条; in English the number as it is."""
    law = get(lang).law
    base, dash, sub = number.partition("-")
    if (law.inserted and dash and sub.isdigit() and str(int(sub)) == sub
            and 1 <= int(sub) <= len(law.numerals) and len(sub) < len(base)):
        return law.inserted.format(n=base, sub=law.numerals[int(sub) - 1])
    return law.article.format(n=number)


def articles(numbers: Sequence[str], lang: str, final_and: bool = False, renumbered: bool = False) -> str:
    """第313条、第279条 / Arts. 313, 279 (or "313 and 279" with `final_and`)."""
    law = get(lang).law
    each = [article(n, lang) for n in numbers]
    text = (law.one if len(each) == 1 else law.many).format(
        articles=join_and(each, lang) if final_and else join(each, lang))
    return law.renumbered.format(articles=text) if renumbered else text


def cite(name: str, numbers: Sequence[str], lang: str) -> str:
    """An instrument and its articles in a list of sources: 刑法 第313条 / Criminal Law, Art. 313."""
    return get(lang).law.cite.format(name=name, articles=articles(numbers, lang)) if numbers else name


def cite_in_text(name: str, numbers: Sequence[str], lang: str, renumbered: bool = False) -> str:
    """An instrument and its articles in a letter or a finding: 刑法第313条 / Criminal Law, Art. 313."""
    if not numbers:
        return name
    return get(lang).law.letter.format(name=name, articles=articles(numbers, lang, True, renumbered))


def binds(name: str, whom: str, lang: str) -> str:
    """刑法（适用于：所有人） / Criminal Law (binds: everyone)."""
    return get(lang).law.binds.format(name=name, binds=whom)
