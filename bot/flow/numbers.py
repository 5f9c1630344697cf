"""Numbers as people type them: 30, 1.2万, 三千五, 一万二, 两千, 大概30, 30多, 三十来, 三四十,
"about 40", "40ish", "30-40". Pure functions, no I/O.

Chinese numerals (and mixed forms such as 1万5) are read by cn2an; this module only finds
the number in the answer and the words around it that say how exact it is. An approximate
answer keeps its approximation: it is stored with the number and shown as the person said
it ("约30", "30多", "30至40"; "about 30", "more than 30", "30 to 40"), in the review screen
and in the letters, so a letter never states as exact what was a guess. Comparisons (a
daily cap) use the lower bound, which is what the person is sure of.

"几十", "dozens", "很多" name no number: the caller asks for a closer one.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from bot import locale

Approx = Literal["about", "over", "range"]

_CN_DIGIT = "零〇一二两三四五六七八九"
_CN_CHARS = _CN_DIGIT + "十百千万亿点"
_NUM = rf"(?:\d+(?:\.\d+)?(?:[万千百kw]|万\d|千\d)?|[\d{_CN_CHARS}]+)"
_ABOUT_BEFORE = ("大概有", "大概是", "大概", "大约有", "大约是", "大约", "约莫", "约摸", "差不多有", "差不多", "估计有",
                 "估计", "大致", "将近", "接近", "近", "约", "about", "around", "roughly", "approximately",
                 "approx.", "approx", "nearly", "almost", "maybe", "perhaps", "like", "some", "~", "≈", "ca.")
_OVER_BEFORE = ("至少有", "至少", "起码有", "起码", "少说也有", "少说", "超过", "不止", "不下", "上", "more than",
                "over", "at least", "upwards of", "above")
_ABOUT_AFTER = ("左右", "上下", "来", "ish", "or so", "-ish", "give or take")
_OVER_AFTER = ("多", "余", "几", "以上", "+", "plus", "or more", "and more", "odd")
_UNITS = ("次", "个", "條", "条", "通", "回", "遍", "下", "元", "块钱", "块", "人民币", "rmb", "yuan", "cny", "times",
          "time", "calls", "call", "texts", "text", "messages", "message", "sms")
_PER_DAY = re.compile(r"^(?:一天|每天|每日|一日|天天|/天|/日)|(?:一天|每天|每日|/天|/日|a day|per day|daily|"
                      r"each day|every day|/day)$")
_VAGUE = {"几十", "好几十", "几百", "好几百", "几千", "很多", "好多", "无数", "数不清", "不计其数", "无数次",
          "很多很多", "非常多", "特别多", "太多", "多得数不清", "记不清",
          "dozens", "many", "lots", "a lot", "loads", "tons",
          "hundreds", "countless", "too many", "so many", "a few", "several", "numerous", "dozens of times",
          "lots of times", "many times"}
_ZERO = {"没有", "没", "无", "一次也没有", "none", "no", "zero", "nil", "never", "0次"}
_EN_WORDS = {w: i for i, w in enumerate((
    "zero", "one", "two", "three", "four", "five", "six", "seven",
    "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen",
    "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
))}
_EN_TENS = {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_RANGE = re.compile(rf"^({_NUM})\s*(?:-|~|～|—|到|至|or|to)\s*({_NUM})$")
_RANGE_EN = re.compile(rf"^between\s+({_NUM})\s+and\s+({_NUM})$")
# 三四十, 十七八, 一两百: two neighbouring digits, then an optional unit
_INNER = re.compile(rf"^({_NUM}?)(多|余|几|来)([十百千万])$")
_MULTIPLIER = {"十": 10, "百": 100, "千": 1000, "万": 10_000}
_CN_PAIR = re.compile(r"^(十?)([一二两三四五六七八九])([二两三四五六七八九])([十百千万]?)$")


@dataclass(frozen=True)
class Quantity:
    """A typed number and how exact it was: `value` is the number (the lower end of a range)."""

    value: int | float
    approx: Approx | None = None
    high: int | float | None = None   # the upper end of a range

    def slot(self) -> int | float | dict[str, Any]:
        """How it is stored: an exact number as itself (as before), an approximation as a dict."""
        if self.approx is None:
            return self.value
        out: dict[str, Any] = {"n": self.value, "approx": self.approx}
        if self.high is not None:
            out["hi"] = self.high
        return out

    @classmethod
    def from_slot(cls, value: Any) -> Quantity | None:
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            return cls(value)
        if isinstance(value, dict) and isinstance(value.get("n"), int | float) \
                and value.get("approx") in ("about", "over", "range"):
            hi = value.get("hi")
            return cls(value["n"], value["approx"], hi if isinstance(hi, int | float) else None)
        return None

    def text(self, lang: str, fmt=None) -> str:
        """As the person said it: 约30 / 30多 / 30至40; about 30 / more than 30 / 30 to 40."""
        show = fmt or _plain
        n = show(self.value)
        if self.approx in ("about", "over"):
            return locale.approx(self.approx, n, lang)  # content/<lang>/locale.yaml, approx
        if self.approx == "range" and self.high is not None:
            return locale.approx("range", n, lang, high=show(self.high))
        return n


class Vague(ValueError):
    """The answer names no number ("几十", "dozens"): ask for a closer one."""


def value_of(slot: Any) -> int | float | None:
    """The number in a stored answer (exact or approximate), None when there is none."""
    q = Quantity.from_slot(slot)
    return q.value if q else None


def describe(slot: Any, lang: str, fmt=None) -> str:
    q = Quantity.from_slot(slot)
    return q.text(lang, fmt) if q else str(slot)


def parse_quantity(text: str) -> Quantity | None:
    """The number in `text` with its approximation; None when there is no number.
    Raises Vague for answers that only say "many"."""
    s = _clean(text)
    if not s:
        return None
    if s in _VAGUE:
        raise Vague(s)
    if s in _ZERO:
        return Quantity(0)
    if s[0] in "-−" or s.startswith("负"):  # a negative number: read, so the step can say "at least"
        rest = _one(_strip_units(s.lstrip("-−负").strip()))
        return Quantity(-rest) if rest is not None else None
    approx: Approx | None = None
    s, before = _strip_words(s, _ABOUT_BEFORE + _OVER_BEFORE, at_start=True)
    if before:
        approx = "over" if before in _OVER_BEFORE else "about"
    s = _strip_units(s)
    s, after = _strip_words(s, _ABOUT_AFTER + _OVER_AFTER, at_start=False)
    if after:
        approx = approx or ("over" if after in _OVER_AFTER else "about")
    s = _strip_units(s)
    if not s:
        return None
    if s in _VAGUE or re.fullmatch(r"(?:好)?几[十百千万]+", s):
        raise Vague(s)
    inner = _INNER.match(s)  # 30多万, 三千来块: the approximation before the unit
    if inner:
        base = _one(inner[1])
        if base is not None:
            return Quantity(_whole(base * _MULTIPLIER[inner[3]]), "over" if inner[2] in "多余几" else "about")
    pair = _CN_PAIR.match(s)
    if pair:
        low, high = (_cn(pair[1] + d + pair[4]) for d in (pair[2], pair[3]))
        if low is not None and high is not None and high > low:
            return Quantity(low, "range", high)
    m = _RANGE.match(s) or _RANGE_EN.match(s)
    if m:
        low, high = _one(m[1]), _one(m[2])
        if low is None or high is None:
            return None
        if high < low:
            low, high = high, low
        return Quantity(low, "range", high) if high > low else Quantity(low, approx)
    value = _one(s)
    if value is None:
        return None
    return Quantity(value, approx)


def _clean(text: str) -> str:
    s = unicodedata.normalize("NFKC", text).strip().lower()
    s = re.sub(r"(?<=\d)[,，](?=\d{3}\b)", "", s)
    s = re.sub(r"(?<=\d)[,，](?=\d{3}(?!\d))", "", s)
    s = s.strip(" 。.!！,，").rstrip("~～")
    s = re.sub(r"\s+", " ", s)
    s = _PER_DAY.sub("", s).strip()
    s = _PER_DAY.sub("", s).strip()
    return s


def _strip_words(s: str, words: tuple[str, ...], at_start: bool) -> tuple[str, str | None]:
    for w in sorted(words, key=len, reverse=True):
        if at_start and s.startswith(w):
            rest = s[len(w):].strip()
            if w.isalpha() and w.isascii() and rest and rest[0].isalpha() and not _one(rest.split()[0]):
                continue  # "about" must be followed by the number, not another word
            if rest:
                return rest, w
        if not at_start and s.endswith(w) and len(s) > len(w):
            return s[: -len(w)].strip(), w
    return s, None


def _strip_units(s: str) -> str:
    for unit in sorted(_UNITS, key=len, reverse=True):
        if s.endswith(unit) and len(s) > len(unit):
            return s[: -len(unit)].strip()
    return s


def _one(s: str) -> int | float | None:
    """One number: digits (1.2万, 3k), Chinese numerals (三千五), mixed (1万5), English words."""
    s = s.strip().replace(" ", "")
    if not s:
        return None
    if s in _EN_WORDS:
        return _EN_WORDS[s]
    m = re.fullmatch(r"(thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:-?(one|two|three|four|five|six|seven|"
                     r"eight|nine))?", s)
    if m:
        return _EN_TENS[m[1]] + (_EN_WORDS[m[2]] if m[2] else 0)
    if s in ("a hundred", "ahundred", "hundred", "one hundred", "onehundred"):
        return 100
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(k|w)", s)
    if m:
        return _whole(float(m[1]) * (1000 if m[2] == "k" else 10_000))
    if re.fullmatch(r"\d+", s):
        return int(s)
    if re.fullmatch(r"\d+\.\d+", s):
        return _whole(float(s))
    if s[0] in "十百千万":  # 百 = 一百 (十 alone cn2an reads)
        s = ("" if s[0] == "十" else "一") + s
    if re.fullmatch(rf"[\d.{_CN_CHARS}]+", s):
        return _cn(s)
    return None


def _cn(s: str) -> int | float | None:
    if not s or s in ("点",) or s.startswith("点") or s.endswith("点"):
        return None
    try:
        value = _cn2an()(s, "smart")
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    if not isinstance(value, int | float) or value < 0:
        return None
    return _whole(value)


@lru_cache(maxsize=1)
def _cn2an():
    import cn2an  # ~0.1 s; only when a Chinese numeral is typed

    return cn2an.cn2an


def _whole(value: float) -> int | float:
    return int(value) if float(value).is_integer() and abs(value) < 1e15 else value


def _plain(value: int | float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
