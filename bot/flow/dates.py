"""Days as people type them, one grammar for the whole project: the dialogs' past dates
(when did it start, when did you file the complaint) and the reminders' future times
(bot/actions/when.py reads its days with `read_day`).

Forms: 2026-11-20, 2026年11月3日, 11月20日, 十一月一号, 11/20, Nov 20, 20 November 2026,
今天/昨天/前天/大前天/明天/后天 (and today, yesterday, tomorrow, tonight), 周三, 上周三, 下周一,
这周五, "last Tuesday", "next friday", 5号, 上个月5号, 3天前, "2 days ago", and for a past date
a part of the day or a time after it (前天晚上, 昨天下午3点, "last Tuesday night").

Where a day is named loosely, `direction` decides: "past" takes the most recent such day
(incidents have happened), "future" the next one (reminders are ahead).

What is not one day is never silently made one (issue 19): a bare number ("7") raises
`BareDay` with the day it most likely means, so the dialog can ask "do you mean 7 November?";
a month alone ("11月", "last month") raises `WholeMonth`, so it can ask which day; a part of a
month (11月初 / 中 / 底, "early November", "end of November") is kept as an approximation
(`PastDay.approx`) and shown as the person said it. Impossible dates raise DateError.

dateparser reads what this grammar does not (English phrasing such as "the 3rd of last
month"), only for text that names a month or says "ago"/"last"/"week".
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from bot import locale

Direction = Literal["past", "future"]
MonthPart = Literal["early", "mid", "late"]
#: the day that stands for a part of a month (the first day of each third: 上旬, 中旬, 下旬)
PART_DAY = {"early": 1, "mid": 11, "late": 21}

_CN_NUM = "零〇一二两三四五六七八九十"
_N = rf"\d{{1,2}}|[{_CN_NUM}]{{1,3}}"
_DAY_WORDS = [  # (word, offset, part of day); longest first
    ("day before yesterday", -2, None), ("day after tomorrow", 2, None), ("大后天", 3, None), ("后天", 2, None),
    ("明天", 1, None), ("明日", 1, None), ("明早", 1, "morning"), ("明晚", 1, "evening"), ("今天", 0, None),
    ("今日", 0, None), ("今晚", 0, "evening"), ("今早", 0, "morning"), ("tomorrow", 1, None), ("today", 0, None),
    ("tonight", 0, "evening"), ("this morning", 0, "morning"), ("this afternoon", 0, "afternoon"),
    ("this evening", 0, "evening"), ("last night", -1, "night"), ("大前天", -3, None), ("前天", -2, None),
    ("昨天", -1, None), ("昨日", -1, None), ("昨晚", -1, "evening"), ("昨夜", -1, "night"), ("yesterday", -1, None),
]
_WEEKDAYS_CN = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5,
                "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}
_WEEKDAY_CN = re.compile(r"(?P<which>上上个?|上个?|下下个?|下个?|这个?|本)?\s*(?:周|星期|礼拜)"
                         r"(?P<d>[一二三四五六日天末1-7])")
_WEEKDAYS_EN = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_WEEKDAY_EN = re.compile(r"(?:on\s+)?(?P<which>next\s+|this\s+|coming\s+|last\s+|past\s+)?(?P<d>mon(?:day)?|"
                         r"tue(?:s|sday)?|wed(?:nesday)?|thu(?:r|rs|rsday)?|fri(?:day)?|sat(?:urday)?|"
                         r"sun(?:day)?)\.?(?![a-z])")
_MONTH_EN = (r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
             r"sep(?:t|tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?")
_MONTHS_EN = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}

_YMD = re.compile(r"(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*[日号號]?")
_YM_PART = re.compile(rf"(?:(?P<y>\d{{4}})\s*年\s*)?(?P<m>{_N})\s*月\s*(?:份\s*)?"
                      r"(?P<part>初|上旬|头|中旬|中|下旬|底|末|尾)")
_MD_CN = re.compile(rf"(?:(?P<y>\d{{4}})\s*年\s*)?(?P<m>{_N})\s*月\s*(?:份\s*)?(?P<d>{_N})\s*[日号號]?")
_MD_NUM = re.compile(r"(?P<m>\d{1,2})\s*[/.-]\s*(?P<d>\d{1,2})(?![\d:])")
_MD_EN = re.compile(rf"(?:on\s+)?(?:the\s+)?(?:(?P<m1>{_MONTH_EN})\.?\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?"
                    rf"|(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m2>{_MONTH_EN})\.?)"
                    r"(?![a-z])(?:,?\s+(?P<y>\d{4}))?")
_PART_EN = re.compile(rf"(?:in\s+)?(?:the\s+)?(?P<part>early|beginning\s+of|start\s+of|mid|middle\s+of|late|"
                      rf"end\s+of)\s*-?\s*(?P<m>{_MONTH_EN})\.?(?![a-z])(?:,?\s+(?P<y>\d{{4}}))?")
_THIS_MONTH_DAY = re.compile(rf"(?P<which>上上个?月|上个?月|这个?月|本月|下个?月)\s*(?P<d>{_N})\s*[日号號]")
_DAY_OF_MONTH = re.compile(rf"(?P<d>{_N})\s*[号日號](?!\s*[后以之])")
_AGO = re.compile(rf"(?P<n>\d{{1,3}}|[{_CN_NUM}]{{1,3}}|a|an|one|two|three|four|five|six|seven)\s*"
                  r"(?P<unit>天|日|个?星期|个?礼拜|周|days?|weeks?)\s*(?:前|以前|之前|ago)")
_MONTH_ONLY = re.compile(rf"^(?:(?:\d{{4}})\s*年\s*)?(?:{_N})\s*月份?$|^(?:上上个?|上个?|这个?|本|下个?)月$|"
                         rf"^(?:last|this|next)\s+month$|^(?:in\s+)?(?:{_MONTH_EN})\.?(?:\s+\d{{4}})?$")
_BARE = re.compile(rf"^(?:{_N})$")
_LEAD = re.compile(r"^(?:大概是|大概|大约是|大约|应该是|应该|差不多是|差不多|可能是|好像是|是|约|on|around|about|"
                   r"probably|maybe|it was|since|从|自从|自)\s*")
# what may follow a past day: a part of the day and a time (前天晚上11点, "last tuesday night")
_TAIL = re.compile(r"^[\s,，的]*(?:(?:早上|早晨|上午|中午|下午|傍晚|晚上|夜里|夜间|半夜|深夜|凌晨|左右|开始|起|以来|"
                   r"那天|那会儿|的时候|时候|morning|afternoon|evening|night|at night|in the|around|about|at|"
                   r"am|pm|a\.m\.|p\.m\.|o'?clock|[\d:：点時时分半刻])\s*)*$")
_EN_SMALL = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}


class DateError(ValueError):
    """The text looks like a date but is not a real one (e.g. 2026-02-30)."""


class BareDay(ValueError):
    """A bare number ("7"): maybe a day of the month, never taken as one without asking."""

    def __init__(self, day: dt.date):
        super().__init__(day.isoformat())
        self.day = day


class WholeMonth(ValueError):
    """A month without a day ("11月", "last month"): ask which day."""

    def __init__(self, year: int, month: int):
        super().__init__(f"{year}-{month:02d}")
        self.year, self.month = year, month


@dataclass(frozen=True)
class DayMatch:
    day: dt.date
    end: int                       # where the day expression ends in the text
    period: str | None = None      # a part of the day it named (明晚: evening)
    roll: int = 0                  # future: days to move on if that day's time has passed
    approx: MonthPart | None = None


@dataclass(frozen=True)
class PastDay:
    """A day answered to a dialog's question: exact, or a part of a month (11月初)."""

    day: dt.date
    approx: MonthPart | None = None

    def slot(self) -> str | dict[str, str]:
        return self.day.isoformat() if self.approx is None else {"d": self.day.isoformat(), "approx": self.approx}

    @classmethod
    def from_slot(cls, value: object) -> PastDay | None:
        try:
            if isinstance(value, str):
                return cls(dt.date.fromisoformat(value))
            if isinstance(value, dt.date):
                return cls(value)
            if isinstance(value, dict) and value.get("approx") in PART_DAY and isinstance(value.get("d"), str):
                return cls(dt.date.fromisoformat(value["d"]), value["approx"])
        except ValueError:
            return None
        return None

    def text(self, lang: str) -> str:
        """2026年11月3日 / 2026年11月初; 3 November 2026 / early November 2026 (the formats
        of content/<lang>/locale.yaml)."""
        if self.approx is None:
            return locale.fmt_date(self.day, lang)
        return locale.fmt_month_part(self.day.year, self.day.month, self.approx, lang)


def clean(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).strip().lower())


# --- one day at a position (both directions) ----------------------------------------------------

def read_day(s: str, pos: int, today: dt.date, direction: Direction) -> DayMatch | None:
    """The day named at `pos` of `s` (cleaned: NFKC, lower case). Raises DateError for
    impossible dates."""
    for word, offset, period in _DAY_WORDS:
        if s.startswith(word, pos) and not _letter_at(s, pos + len(word)):
            return DayMatch(today + dt.timedelta(days=offset), pos + len(word), period)
    if direction == "past":
        m = _AGO.match(s, pos)
        if m:
            n = _small(m["n"])
            if n is None:
                return None
            weeks = any(w in m["unit"] for w in ("周", "星期", "礼拜", "week"))
            return DayMatch(today - dt.timedelta(days=n * (7 if weeks else 1)), m.end())
    m = _WEEKDAY_CN.match(s, pos)
    if m:
        return _weekday_cn(m, today, direction)
    m = _WEEKDAY_EN.match(s, pos)
    if m:
        return _weekday_en(m, today, direction)
    m = _YMD.match(s, pos)
    if m:
        return DayMatch(_make(int(m["y"]), int(m["m"]), int(m["d"])), m.end())
    m = _YM_PART.match(s, pos)
    if m:
        month = _small(m["m"])
        part: MonthPart = {"初": "early", "上旬": "early", "头": "early", "中旬": "mid", "中": "mid"}.get(
            m["part"], "late")  # type: ignore[assignment]
        return _month_part(month, part, m["y"], today, direction, m.end())
    m = _PART_EN.match(s, pos)
    if m:
        word = m["part"].split()[0]
        part = "early" if word in ("early", "beginning", "start") else "mid" if word in ("mid", "middle") else "late"
        return _month_part(_MONTHS_EN[m["m"][:3]], part, m["y"], today, direction, m.end())
    m = _MD_CN.match(s, pos)
    if m:
        month, day = _small(m["m"]), _small(m["d"])
        if month is None or day is None:
            return None
        if m["y"]:
            return DayMatch(_make(int(m["y"]), month, day), m.end())
        return DayMatch(_month_day(today, month, day, direction), m.end())
    m = _MD_EN.match(s, pos)
    if m:
        month = _MONTHS_EN[(m["m1"] or m["m2"])[:3]]
        day = int(m["d1"] or m["d2"])
        if m["y"]:
            return DayMatch(_make(int(m["y"]), month, day), m.end())
        return DayMatch(_month_day(today, month, day, direction), m.end())
    m = _MD_NUM.match(s, pos)
    if m:
        return DayMatch(_month_day(today, int(m["m"]), int(m["d"]), direction), m.end())
    m = _THIS_MONTH_DAY.match(s, pos)
    if m:
        day = _small(m["d"])
        if day is None:
            return None
        which = m["which"].rstrip("月").rstrip("个")
        shift = {"上上": -2, "上": -1, "这": 0, "本": 0, "下": 1}[which]
        year, month = _add_months(today.year, today.month, shift)
        return DayMatch(_make(year, month, day), m.end())
    m = _DAY_OF_MONTH.match(s, pos)
    if m:
        day = _small(m["d"])
        if day is None or not 1 <= day <= 31:
            return None
        return DayMatch(_day_of_month(today, day, direction), m.end())
    return None


# --- a past date typed as a dialog's answer ----------------------------------------------------

def parse_day(text: str, today: dt.date, direction: Direction = "past") -> PastDay | None:
    """The day meant by a dialog's answer (about something that happened, by default);
    None when it is no date.

    Raises DateError (impossible date), BareDay (a bare number: ask), WholeMonth (a month
    without a day: ask which). May return a future day: the caller refuses it."""
    s = clean(text).rstrip("。.!！")
    if not s or len(s) > 40:
        return None
    s = _LEAD.sub("", s, count=1).strip() or s
    if _BARE.match(s):
        day = _small(s)
        if day is None or not 1 <= day <= 31:
            return None
        try:
            return _raise_bare(_day_of_month(today, day, direction))
        except DateError:
            return None
    if _MONTH_ONLY.match(s):
        raise _whole_month(s, today)
    found = read_day(s, 0, today, direction)
    if found is not None and _TAIL.match(s[found.end:]):
        return PastDay(found.day, found.approx)
    if found is None:
        fallback = _dateparser(s, today, direction)
        return PastDay(fallback) if fallback else None
    return None


def parse_date(text: str, today: dt.date) -> dt.date | None:
    """The exact day meant by `text` (past direction), None when it is not one exact day."""
    try:
        found = parse_day(text, today)
    except (BareDay, WholeMonth):
        return None
    return found.day if found and found.approx is None else None


def _raise_bare(day: dt.date) -> PastDay:
    raise BareDay(day)


def _whole_month(s: str, today: dt.date) -> WholeMonth:
    rel = re.match(r"^(上上个?|上个?|这个?|本|下个?)月$|^(last|this|next) month$", s)
    if rel:
        word = rel[1] or rel[2]
        shift = -2 if word.startswith("上上") else -1 if word[0] in "上l" else 1 if word[0] in "下n" else 0
        return WholeMonth(*_add_months(today.year, today.month, shift))
    year_m = re.match(r"^(\d{4})\s*年", s)
    m = re.search(rf"({_N})\s*月", s)
    month = _small(m[1]) if m else None
    if month is None:
        en = re.search(_MONTH_EN, s)
        month = _MONTHS_EN[en[0][:3]] if en else today.month
    if not 1 <= month <= 12:
        raise DateError(s)
    year = int(year_m[1]) if year_m else (today.year if month <= today.month else today.year - 1)
    return WholeMonth(year, month)


# --- helpers ------------------------------------------------------------------------------------

def _weekday_cn(m: re.Match, today: dt.date, direction: Direction) -> DayMatch:
    target = _WEEKDAYS_CN[m["d"]]
    which = (m["which"] or "").rstrip("个")
    monday = today - dt.timedelta(days=today.weekday())
    weeks = {"上上": -2, "上": -1, "下下": 2, "下": 1, "这": 0, "本": 0}.get(which)
    if weeks is not None:
        return DayMatch(monday + dt.timedelta(days=7 * weeks + target), m.end())
    if direction == "past":  # 周三: the most recent Wednesday, today included
        return DayMatch(today - dt.timedelta(days=(today.weekday() - target) % 7), m.end())
    return DayMatch(today + dt.timedelta(days=(target - today.weekday()) % 7), m.end(), roll=7)


def _weekday_en(m: re.Match, today: dt.date, direction: Direction) -> DayMatch:
    which = (m["which"] or "").strip()
    target = _WEEKDAYS_EN[m["d"][:3]]
    if which in ("last", "past"):  # the most recent one before today
        back = (today.weekday() - target) % 7 or 7
        return DayMatch(today - dt.timedelta(days=back), m.end())
    if direction == "past" and which != "next":
        return DayMatch(today - dt.timedelta(days=(today.weekday() - target) % 7), m.end())
    ahead = today + dt.timedelta(days=(target - today.weekday()) % 7)
    if which == "next":
        return DayMatch(ahead if ahead != today else ahead + dt.timedelta(days=7), m.end())
    return DayMatch(ahead, m.end(), roll=7)  # "friday", "this friday": the coming one


def _month_part(month: int | None, part: MonthPart, year: str | None, today: dt.date,
                direction: Direction, end: int) -> DayMatch | None:
    if month is None or not 1 <= month <= 12:
        return None
    if year:
        return DayMatch(_make(int(year), month, PART_DAY[part]), end, approx=part)
    day = dt.date(today.year, month, PART_DAY[part])
    if direction == "past" and dt.date(today.year, month, 1) > today:
        day = dt.date(today.year - 1, month, PART_DAY[part])
    elif direction == "future" and day < today and dt.date(today.year, month, 28) < today:
        day = dt.date(today.year + 1, month, PART_DAY[part])
    return DayMatch(day, end, approx=part)


def _month_day(today: dt.date, month: int, day: int, direction: Direction) -> dt.date:
    """A month-day without a year: the most recent one (past) or the next one (future).
    Feb 29 can be years away; a day no month has raises DateError."""
    if not 1 <= month <= 12 or not 1 <= day <= 31 or day > (29 if month == 2 else calendar.monthrange(2000, month)[1]):
        raise DateError(f"{month}-{day}")
    step = -1 if direction == "past" else 1
    for k in range(9):
        candidate = _try_make(today.year + step * k, month, day)
        if candidate is not None and (candidate <= today if direction == "past" else candidate >= today):
            return candidate
    raise DateError(f"{month}-{day}")


def _day_of_month(today: dt.date, day: int, direction: Direction) -> dt.date:
    """5号: this month's 5th, else the month before (past) or after (future) that has one."""
    year, month = today.year, today.month
    step = -1 if direction == "past" else 1
    for _ in range(13):
        candidate = _try_make(year, month, day)
        if candidate is not None and (candidate <= today if direction == "past" else candidate >= today):
            return candidate
        year, month = _add_months(year, month, step)
    raise DateError(str(day))


def _add_months(year: int, month: int, shift: int) -> tuple[int, int]:
    month0 = month - 1 + shift
    return year + month0 // 12, month0 % 12 + 1


def _make(year: int, month: int, day: int) -> dt.date:
    made = _try_make(year, month, day)
    if made is None:
        raise DateError(f"{year}-{month:02d}-{day:02d} is not a calendar date")
    return made


def _try_make(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _small(text: str | None) -> int | None:
    """1-99 as digits, Chinese numerals (十一, 二十三, 两) or a few English words."""
    if text is None:
        return None
    text = text.strip()
    if text.isdigit():
        return int(text)
    if text in _EN_SMALL:
        return _EN_SMALL[text]
    digits = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
    if not text or len(text) > 3 or any(c not in digits and c != "十" for c in text):
        return None
    if "十" in text:
        tens, _, ones = text.partition("十")
        if "十" in ones or len(tens) > 1 or len(ones) > 1:
            return None
        return (digits[tens] if tens else 1) * 10 + (digits[ones] if ones else 0)
    return digits[text] if len(text) == 1 else None


def _letter_at(s: str, pos: int) -> bool:
    return pos < len(s) and s[pos].isascii() and s[pos].isalpha()


@lru_cache(maxsize=1)
def _parser():
    import dateparser  # slow to import; only on first free-form date

    return dateparser


_FALLBACK_WORTH = re.compile(rf"(?:{_MONTH_EN})|\bago\b|\blast\b|\bweek")


def _dateparser(s: str, today: dt.date, direction: Direction) -> dt.date | None:
    if not _FALLBACK_WORTH.search(s):
        return None
    base = dt.datetime.combine(today, dt.time(12, 0))
    try:
        result = _parser().parse(s, languages=["en", "zh"], settings={
            "RELATIVE_BASE": base, "PREFER_DATES_FROM": direction, "STRICT_PARSING": False,
            "RETURN_AS_TIMEZONE_AWARE": False})
    except (ValueError, OverflowError):
        return None
    return result.date() if result else None
