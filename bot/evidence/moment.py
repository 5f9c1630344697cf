"""When something happened, as people type it: 刚才, 10分钟前, 昨晚11点, 前天下午3点, 23:30,
"just now", "10 minutes ago", "last night at 11", "yesterday 23:30".

The day is read by the project's one day grammar (bot/flow/dates.py, looking back) and the
time of day as the reminders read it (bot/actions/when.py); what is new here is only the
looking back ("ago", 前) and the rule that a time without a day that has not come yet today
was yesterday's (23:30 typed at 9 in the morning is last night).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from bot.actions.when import _number, _time, local
from bot.flow.dates import DateError, read_day

_NOW = re.compile(r"^(?:刚才|刚刚|现在|刚|就刚才|just\s+now|now|right\s+now|a\s+moment\s+ago)$")
_AGO = re.compile(r"^(?P<n>\d+(?:\.\d+)?|[零〇一二两三四五六七八九十半]+|an?|one|two|three|four|five|six|"
                  r"seven|eight|nine|ten|fifteen|twenty|thirty|forty|fifty)\s*(?P<unit>分钟|分|个?小时|个?钟头|天|minutes?|mins?|m|"
                  r"hours?|hrs?|h|days?)\s*(?:前|以前|之前|ago)$")
_EN = {"fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50}
_SEPARATORS = " ,，.。的"
MAX_BACK = dt.timedelta(days=366)


def parse_moment(text: str, now: dt.datetime) -> dt.datetime | None:
    """The moment `text` names, at or before `now` (aware, in the user's zone); None when it
    names none, or one in the future or more than a year back."""
    s = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).strip().lower()).rstrip("。.!！")
    if not s or len(s) > 40:
        return None
    if _NOW.match(s):
        return now
    m = _AGO.match(s)
    if m:
        n = _EN.get(m["n"]) or (0.5 if m["n"] == "半" else _number(m["n"]))
        if n is None:
            return None
        unit = m["unit"]
        seconds = 86400 if unit.startswith(("天", "day", "d")) else 3600 if unit[0] in "个小钟h" else 60
        at = now - dt.timedelta(seconds=n * seconds)
        return at if now - at <= MAX_BACK else None
    return _day_and_time(s, now)


_PARTS_EN = {"last night": ("yesterday", "evening"), "tonight": ("today", "evening"),
             "this evening": ("today", "evening"), "this morning": ("today", "morning"),
             "this afternoon": ("today", "afternoon")}


def _day_and_time(s: str, now: dt.datetime) -> dt.datetime | None:
    for phrase, (day_word, part) in _PARTS_EN.items():
        if s.startswith(phrase):
            rest = s[len(phrase):].strip(_SEPARATORS)
            on = now.date() - dt.timedelta(days=1 if day_word == "yesterday" else 0)
            timed = _time(rest, 0, part) if rest else None
            if rest and (timed is None or rest[timed[1]:].strip(" .")):
                return None
            hour, minute = (timed[0][0], timed[0][1]) if timed else ({"evening": 21, "morning": 9}.get(part, 15), 0)
            if part == "evening" and hour < 12:
                hour += 12
            tz = now.tzinfo
            assert tz is not None
            at = local(on, dt.time(hour, minute), tz)
            return at if at <= now + dt.timedelta(minutes=1) else None
    try:
        found = read_day(s, 0, now.date(), "past")
    except DateError:
        return None
    pos, period = 0, None
    day: dt.date | None = None
    if found is not None:
        day, period, pos = found.day, found.period, found.end
    while pos < len(s) and s[pos] in _SEPARATORS:
        pos += 1
    if s.startswith("at ", pos):
        pos += 3
    timed = _time(s, pos, period) if pos < len(s) else None
    if timed is None:
        if pos < len(s) or day is None:  # words left over, or nothing at all
            return None
        hour, minute = (20, 0) if period in ("evening", "night") else (now.hour, now.minute) \
            if day == now.date() else (12, 0)
    else:
        (hour, minute, _), end = timed
        if s[end:].strip(" .。"):
            return None
    tz = now.tzinfo
    assert tz is not None
    if day is None:  # a time alone: today's, or yesterday's when today's has not come yet
        at = local(now.date(), dt.time(hour, minute), tz)
        if at > now:
            at = local(now.date() - dt.timedelta(days=1), dt.time(hour, minute), tz)
    else:
        if period in ("evening", "night") and hour < 12 and timed is not None and timed[0][2] is None:
            hour += 12  # 昨晚11点: the evening's 11
        at = local(day, dt.time(hour, minute), tz)
    if at > now + dt.timedelta(minutes=1) or now - at > MAX_BACK:
        return None
    return at
