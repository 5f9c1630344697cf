"""Dates as people type them: 2026-11-20, 11月20日, 11/20, 昨天, yesterday, today, 3天前.

dateparser does the heavy lifting (relative words in both languages). It does not read a
Chinese month-day without a year ("11月20日") and it silently accepts some impossible
dates, so those forms are handled here first and checked with the calendar.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from functools import lru_cache

_YMD = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号號]?$")
_MD = re.compile(r"^(\d{1,2})\s*[月/.-]\s*(\d{1,2})\s*[日号號]?$")
_WORDS = {
    "今天": 0, "今日": 0, "today": 0, "昨天": -1, "昨日": -1, "yesterday": -1,
    "前天": -2, "明天": 1, "tomorrow": 1, "后天": 2,
}


class DateError(ValueError):
    """The text looks like a date but is not a real one (e.g. 2026-02-30)."""


def parse_date(text: str, today: dt.date) -> dt.date | None:
    """The date meant by `text`, relative to `today`; None when it is not a date.

    Raises DateError for impossible calendar dates, so the user can be told exactly that.
    A month-day without a year is taken as the most recent such day (incidents are past).
    """
    raw = unicodedata.normalize("NFKC", text).strip().lower().rstrip("。.!！")
    if not raw or len(raw) > 40:
        return None
    if raw in _WORDS:
        return today + dt.timedelta(days=_WORDS[raw])
    m = _YMD.match(raw)
    if m:
        return _make(int(m[1]), int(m[2]), int(m[3]))
    m = _MD.match(raw)
    if m:
        month, day = int(m[1]), int(m[2])
        if (month, day) == (2, 29):  # most recent leap day on or before today
            year = today.year if dt.date(today.year, 3, 1) <= today else today.year - 1
            while not calendar.isleap(year):
                year -= 1
            return dt.date(year, 2, 29)
        candidate = _make(today.year, month, day)
        return candidate if candidate <= today else _make(today.year - 1, month, day)
    return _dateparser(raw, today)


def _make(year: int, month: int, day: int) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise DateError(f"{year}-{month:02d}-{day:02d} is not a calendar date") from None


@lru_cache(maxsize=1)
def _parser():
    import dateparser  # slow to import; only on first free-form date

    return dateparser


def _dateparser(raw: str, today: dt.date) -> dt.date | None:
    if not re.search(r"\d|[天日月周年前后]|day|week|month|ago|last|yesterday|today", raw):
        return None
    base = dt.datetime.combine(today, dt.time(12, 0))
    result = _parser().parse(raw, languages=["zh", "en"], settings={
        "RELATIVE_BASE": base, "PREFER_DATES_FROM": "past", "STRICT_PARSING": False,
        "RETURN_AS_TIMEZONE_AWARE": False})
    return result.date() if result else None
