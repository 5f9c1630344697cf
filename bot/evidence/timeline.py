"""The timeline of a case, laid out for a phone: one line per day (newest first), each with
its count, how many at night and how many to other people; "see all" gives every event. The
words come from the caller (content/<lang>/ui/evidence.yaml), so this module only arranges."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.evidence.model import Event
from bot.evidence.rules import is_night

SHORT_DAYS = 7          # days shown before "see all"


@dataclass(frozen=True)
class Day:
    day: dt.date
    events: tuple[Event, ...]
    night: int
    third: int

    @property
    def contacts(self) -> int:
        return sum(1 for e in self.events if e.contact)


def days(events: Sequence[Event], tz: dt.tzinfo) -> list[Day]:
    """The events grouped by local day, newest day first, each day's events in time order."""
    grouped: dict[dt.date, list[Event]] = defaultdict(list)
    for e in sorted(events, key=lambda e: (e.at, e.id)):
        grouped[e.local(tz).date()].append(e)
    return [Day(d, tuple(es), sum(1 for e in es if e.contact and e.timed and is_night(e.at, tz)),
                sum(1 for e in es if e.third_party))
            for d, es in sorted(grouped.items(), reverse=True)]


def layout(events: Sequence[Event], tz: dt.tzinfo, day_line: Callable[[Day], str],
           event_line: Callable[[Event], str] | None = None, limit: int | None = SHORT_DAYS) -> tuple[list[str], int]:
    """The lines to show and how many days were left out. With `event_line`, each day's
    events follow its line, indented."""
    all_days = days(events, tz)
    shown = all_days if limit is None else all_days[:limit]
    lines = []
    for d in shown:
        lines.append(day_line(d))
        if event_line is not None:
            lines += ["  " + event_line(e) for e in d.events]
    return lines, len(all_days) - len(shown)
