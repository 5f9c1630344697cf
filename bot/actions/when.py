"""Times as people type them for a reminder: 明天9点, 3天后, 下周一, in 3 days, 30m, 2026-12-01 09:00.

`parse_when(text, now)` finds the time expression at the start of `text` and returns the
moment it names, in the user's own zone (the zone of `now`), and the rest of the text (what
to remind of).

dateparser reads many English phrases ("next friday 5pm", "noon tomorrow") but not Chinese
day-and-hour forms ("明天9点", "下周一上午10点", "晚上8点"), and it gives midnight for a
date without an hour. The common forms in both languages are therefore read here first,
with dateparser as the fallback for the rest.

Calendar arithmetic ("in 3 days", "明天9点") is done on the wall clock, so 9:00 stays 9:00
across a daylight-saving change; "in 2 hours" and "30m" are exact elapsed time. A local time
that does not exist (skipped by a DST change) moves forward to the time that does.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from bot.flow.dates import DateError, read_day

DEFAULT_HOUR = 9            # a day without an hour means that morning
MAX_AHEAD = dt.timedelta(days=5 * 366)
_UNIT_DAYS = {"day": 1, "week": 7, "month": 31}  # upper bounds, for the too-far check only

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}
_EN_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
               "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
_NUM = r"\d+(?:\.\d+)?|[零〇一二两三四五六七八九十]+|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"

_UNIT_SECONDS = {"minute": 60, "hour": 3600}
_UNITS = [
    (r"minutes?|mins?|m|分钟|分", "minute"),
    (r"hours?|hrs?|h|小时|个小时|个钟头|钟头", "hour"),
    (r"days?|d|天", "day"),
    (r"weeks?|wks?|w|周|个星期|星期|个礼拜|礼拜", "week"),
    (r"months?|个月", "month"),
]
_REL = re.compile(
    rf"(?:in\s+|after\s+)?(?P<n>{_NUM}|半)\s*(?P<unit>{'|'.join(u for u, _ in _UNITS)})"
    rf"(?![a-z])\s*(?P<after>后|以后|之后|later|from\s+now)?")
_REL_HALF = re.compile(r"(?:in\s+)?(?:half\s+an\s+hour|半个?小时|半个钟头)\s*(?:后|以后|之后|later)?")
_REL_DAY_UNIT = re.compile(r"(?P<n>\d+|[零〇一二两三四五六七八九十]+)\s*日\s*(?:后|以后|之后)")

_PERIODS = {"早上": "morning", "早晨": "morning", "上午": "morning", "清晨": "morning", "中午": "noon",
            "下午": "afternoon", "傍晚": "evening", "晚上": "evening", "夜里": "night", "夜间": "night",
            "凌晨": "early"}
_PERIOD = re.compile("|".join(_PERIODS))
_PERIOD_HOURS = {"morning": DEFAULT_HOUR, "noon": 12, "afternoon": 15, "evening": 20, "night": 21, "early": 6}
_CLOCK = re.compile(r"(?:at\s+)?(?P<h>\d{1,2})\s*[:：]\s*(?P<min>\d{2})(?:\s*(?P<ampm>am|pm|a\.m\.|p\.m\.))?")
_CLOCK_CN = re.compile(r"(?P<h>\d{1,2}|[零一二两三四五六七八九十]+)\s*(?:点|點|时)\s*"
                       r"(?:(?P<half>半)|(?P<q1>一刻)|(?P<q3>三刻)|(?P<min>\d{1,2}|[零一二三四五六七八九十]+)\s*分?)?")
_CLOCK_EN = re.compile(r"(?:at\s+)?(?P<h>\d{1,2})(?:\s*(?P<ampm>am|pm|a\.m\.|p\.m\.)|\s*o'?clock)(?![a-z])")
_AT_HOUR = re.compile(r"at\s+(?P<h>\d{1,2})(?![\d:a-z])")
_NOON = re.compile(r"(?:at\s+)?(?P<w>noon|midday|midnight)(?![a-z])")

_SEPARATORS = " \t,，.。:：;；、-—~的"
_LEAD_WORDS = re.compile(r"^(?:提醒我|提醒一下|提醒|叫我|记得|remind\s+me\s+(?:to|about)|remind\s+me|to|that)\s*",
                         re.IGNORECASE)


class WhenError(ValueError):
    """Why a time could not be used: `reason` is unparsed, past, no_such_date or too_far."""

    def __init__(self, reason: str, at: dt.datetime | None = None):
        super().__init__(reason)
        self.reason = reason
        self.at = at


@dataclass(frozen=True)
class When:
    at: dt.datetime          # aware, in the user's zone
    rest: str                # the text after the time expression


def parse_when(text: str, now: dt.datetime) -> When:
    """The moment named at the start of `text`, after `now` (aware; its zone is the user's)."""
    if now.tzinfo is None:
        raise ValueError("now must be aware")
    raw = unicodedata.normalize("NFKC", text).strip()
    low = raw.lower()
    found = _grammar(low, now) or _fallback(low, now)
    if found is None:
        raise WhenError("unparsed")
    at, end = found
    if at <= now:
        raise WhenError("past", at)
    if at - now > MAX_AHEAD:
        raise WhenError("too_far", at)
    rest = _LEAD_WORDS.sub("", raw[end:].strip(_SEPARATORS)).strip(_SEPARATORS)
    return When(at=at, rest=rest)


def local(day: dt.date, time: dt.time, tz: dt.tzinfo) -> dt.datetime:
    """A wall-clock time in `tz`; a time skipped by a DST change moves forward past the gap."""
    naive = dt.datetime.combine(day, time)
    aware = naive.replace(tzinfo=tz)
    return aware.astimezone(dt.UTC).astimezone(tz)


def add_calendar(now: dt.datetime, days: int = 0, months: int = 0) -> dt.datetime:
    """`now` moved by whole days/months on the wall clock (same local time of day)."""
    day = now.date()
    if months:
        month0 = day.month - 1 + months
        year, month = day.year + month0 // 12, month0 % 12 + 1
        day = dt.date(year, month, min(day.day, _month_days(year, month)))
    day += dt.timedelta(days=days)
    return local(day, now.time().replace(second=0, microsecond=0), now.tzinfo)  # type: ignore[arg-type]


# --- the grammar ------------------------------------------------------------------------------

def _grammar(s: str, now: dt.datetime) -> tuple[dt.datetime, int] | None:
    """Relative durations, or [date][time] / [time][date] in either language."""
    pos = _skip(s, 0)
    m = _REL_HALF.match(s, pos)
    if m:
        return now.astimezone(dt.UTC).__add__(dt.timedelta(minutes=30)).astimezone(now.tzinfo), m.end()
    m = _REL_DAY_UNIT.match(s, pos) or _REL.match(s, pos)
    if m and _relative_ok(m):
        n = _number(m["n"])
        unit = "day" if "unit" not in m.groupdict() else _unit(m["unit"])
        if n is None or n <= 0:
            return None
        if n * _UNIT_DAYS.get(unit, _UNIT_SECONDS.get(unit, 0) / 86400) > MAX_AHEAD.days + 31:
            raise WhenError("too_far")  # before any date arithmetic, which overflows past year 9999
        if unit in _UNIT_SECONDS:
            delta = dt.timedelta(seconds=n * _UNIT_SECONDS[unit])
            return (now.astimezone(dt.UTC) + delta).astimezone(now.tzinfo), m.end()
        if n != int(n):
            return None
        if unit == "month":
            at = add_calendar(now, months=int(n))
        else:
            at = add_calendar(now, days=int(n) * (7 if unit == "week" else 1))
        end = m.end()
        clock = _time(s, _skip(s, end))
        if clock:
            (hour, minute, _period), end = clock
            at = local(at.date(), dt.time(hour, minute), now.tzinfo)  # type: ignore[arg-type]
        return at, end

    day, period, end, roll = _date(s, pos, now)
    clock = _time(s, _skip(s, end), period)
    if day is None and clock is not None:  # "9am tomorrow", "下午3点"
        (hour, minute, period), tend = clock
        day2, _, dend, roll2 = _date(s, _skip(s, tend), now)
        if day2 is not None:
            return _rolled(_at(day2, hour, minute, now), roll2, now), dend
        # a bare hour: today's, or tomorrow's when today's has passed
        return _rolled(_at(now.date(), hour, minute, now), 1, now), tend
    if day is None:
        return None
    if clock is not None:
        (hour, minute, _), end = clock
        return _rolled(_at(day, hour, minute, now), roll, now), end
    return _rolled(_at(day, _PERIOD_HOURS.get(period or "", DEFAULT_HOUR), 0, now), roll, now), end


def _rolled(at: dt.datetime, roll_days: int, now: dt.datetime) -> dt.datetime:
    """A day named loosely ("9点", "周五") means the next one when today's has passed."""
    if at <= now and roll_days:
        return local(at.date() + dt.timedelta(days=roll_days), at.time(), now.tzinfo)  # type: ignore[arg-type]
    return at


def _relative_ok(m: re.Match) -> bool:
    """"3天" alone is a duration; "3月" / "5日" without 后 are dates, handled elsewhere."""
    groups = m.groupdict()
    if "unit" not in groups:
        return True
    unit = groups["unit"]
    text = m.group(0)
    if unit in ("m", "d", "h", "w") and not re.match(r"\d", groups["n"]):
        return False  # "a m..." is a word, not "1 minute"
    if unit == "分" and not groups.get("after"):
        return False  # "30分" alone is a clock minute
    return bool(groups.get("after")) or text.startswith(("in ", "after ")) or unit not in ("周", "星期", "礼拜")


def _at(day: dt.date, hour: int, minute: int, now: dt.datetime) -> dt.datetime:
    return local(day, dt.time(hour, minute), now.tzinfo)  # type: ignore[arg-type]


def _date(s: str, pos: int, now: dt.datetime) -> tuple[dt.date | None, str | None, int, int]:
    """A day at `pos`, read by the project's one day grammar (bot/flow/dates.py) looking
    ahead: (date, period hint, end, days to roll forward if that day's time has passed).
    Raises WhenError for impossible dates."""
    try:
        found = read_day(s, pos, now.date(), "future")
    except DateError:
        raise WhenError("no_such_date") from None
    if found is None:
        return None, None, pos, 0
    return found.day, found.period, found.end, found.roll


def _time(s: str, pos: int, period: str | None = None) -> tuple[tuple[int, int, str | None], int] | None:
    """A time of day at `pos`: ((hour, minute, period), end)."""
    period_end = None
    m = _PERIOD.match(s, pos)
    if m:
        period, period_end = _PERIODS[m.group(0)], m.end()
        pos = _skip(s, m.end())
    m = _NOON.match(s, pos)
    if m:
        return ((0 if m["w"] == "midnight" else 12), 0, period), m.end()
    hour = minute = None
    ampm = None
    m = _CLOCK.match(s, pos)
    if m:
        hour, minute, ampm = int(m["h"]), int(m["min"]), m["ampm"]
    else:
        m = _CLOCK_CN.match(s, pos)
        if m:
            h = _number(m["h"])
            hour = int(h) if h is not None else None
            minute = 30 if m["half"] else 15 if m["q1"] else 45 if m["q3"] else int(_number(m["min"]) or 0)
        else:
            m = _CLOCK_EN.match(s, pos) or _AT_HOUR.match(s, pos)
            if m:
                hour, minute, ampm = int(m["h"]), 0, m.groupdict().get("ampm")
    if m is None:
        if period_end is not None:  # "下午" alone: that part of the day
            return (_PERIOD_HOURS[period], 0, period), period_end  # type: ignore[index]
        return None
    assert hour is not None and minute is not None
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm.startswith("p") else 0)
    elif (period in ("afternoon", "evening", "night") and hour < 12) or (period == "noon" and hour < 3):
        hour += 12
    elif period == "early" and hour == 12:
        hour = 0
    if hour == 24 and minute == 0:
        hour = 0  # "24点" is midnight; kept on the same date for simplicity of wording
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return (hour, minute, period), m.end()


def _month_days(year: int, month: int) -> int:
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return (nxt - dt.timedelta(days=1)).day


def _unit(text: str) -> str:
    for pattern, unit in _UNITS:
        if re.fullmatch(pattern, text):
            return unit
    raise ValueError(text)


def _number(text: str | None) -> float | None:
    """3, 2.5, 三, 十五, 二十, 两, 半, a/an/one..twelve."""
    if text is None:
        return None
    if text == "半":
        return 0.5
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    if text in _EN_NUMBERS:
        return float(_EN_NUMBERS[text])
    if not all(c in _CN_DIGITS or c == "十" for c in text) or len(text) > 3:
        return None
    if "十" in text:
        tens, _, ones = text.partition("十")
        t = _CN_DIGITS.get(tens) if tens else 1
        o = _CN_DIGITS.get(ones) if ones else 0
        return None if t is None or o is None else float(t * 10 + o)
    if len(text) == 1:
        return float(_CN_DIGITS[text])
    return None


def _skip(s: str, pos: int) -> int:
    while pos < len(s) and s[pos] in " \t,，的":
        pos += 1
    if s.startswith("at ", pos) and not _CLOCK.match(s, pos) and not _CLOCK_EN.match(s, pos) \
            and not _AT_HOUR.match(s, pos) and not _NOON.match(s, pos):
        pos += 3
    if s.startswith("on ", pos):
        pos += 3
    return pos


# --- dateparser for what the grammar does not read -------------------------------------------

@lru_cache(maxsize=1)
def _dateparser():
    import dateparser  # slow to import; only on first use

    return dateparser


_HAS_TIME = re.compile(r"\d\s*(?:am|pm|:|点|时)|noon|midnight|hour|minute|min\b|小时|分钟")
_LOOKS_LIKE_TIME = re.compile(r"tomorrow|today|tonight|next|monday|tuesday|wednesday|thursday|friday|"
                              r"saturday|sunday|week|month|hour|minute|noon|midnight|"
                              r"january|february|march|april|june|july|august|september|october|"
                              r"november|december")


def _fallback(s: str, now: dt.datetime) -> tuple[dt.datetime, int] | None:
    """The longest run of leading words (at most 6) that dateparser reads as a future time."""
    words = list(re.finditer(r"\S+", s))[:6]
    base = now.replace(tzinfo=None, second=0, microsecond=0)
    for n in range(len(words), 0, -1):
        end = words[n - 1].end()
        phrase = s[:end]
        if not _LOOKS_LIKE_TIME.search(phrase):
            continue
        try:
            result = _dateparser().parse(phrase, languages=["en", "zh"], settings={
                "RELATIVE_BASE": base, "PREFER_DATES_FROM": "future", "RETURN_AS_TIMEZONE_AWARE": False})
        except (ValueError, OverflowError):
            result = None
        if result is None:
            continue
        time = result.time()
        if not _HAS_TIME.search(phrase) and time == dt.time(0, 0):
            time = dt.time(DEFAULT_HOUR, 0)
        return local(result.date(), time, now.tzinfo), end  # type: ignore[arg-type]
    return None
