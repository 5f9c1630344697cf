"""What the letters cite from a case's log (issue 16, item 6): counts and dates, measured,
instead of the user's estimate. Pure; drafts.py formats the dates in the letter's language."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from bot.evidence.model import CALLS, Event
from bot.evidence.rules import check, is_night


@dataclass(frozen=True)
class LogSummary:
    contacts: int                       # every contact logged
    first: dt.date
    last: dt.date
    calls: int                          # answered and unanswered calls to the borrower
    messages: int
    visits: int
    night: int
    employer: int                       # contacts of the employer or colleagues
    third_party: int                    # contacts of anyone else (employer included)
    busiest_connected: tuple[dt.date, int] | None   # the day with most answered calls, and how many
    busiest_missed: tuple[dt.date, int] | None
    stop_day: dt.date | None            # the stop-contact request
    after_stop: int                     # contacts of other people after it
    after_stop_first: dt.date | None
    after_stop_last: dt.date | None


def summarize(events: Sequence[Event], tz: dt.tzinfo, now: dt.datetime,
              stop: dt.datetime | None = None) -> LogSummary | None:
    """None when the log has no contact yet (the letters then keep the user's estimate).
    `stop` as for rules.check."""
    contacts = [e for e in events if e.contact]
    if not contacts:
        return None
    result = check(events, tz, now, stop)
    local = [e.local(tz).date() for e in contacts]

    def busiest(kind: str) -> tuple[dt.date, int] | None:
        counts = Counter(e.local(tz).date() for e in contacts if e.kind == kind and e.who == "me")
        return max(counts.items(), key=lambda kv: (kv[1], kv[0])) if counts else None

    after = next((f for f in result.findings if f.id == "after_stop"), None)
    return LogSummary(
        contacts=len(contacts), first=min(local), last=max(local),
        calls=sum(1 for e in contacts if e.kind in CALLS and e.who == "me"),
        messages=sum(1 for e in contacts if e.kind == "message"),
        visits=sum(1 for e in contacts if e.kind == "visit"),
        night=sum(1 for e in contacts if e.timed and is_night(e.at, tz)),
        employer=sum(1 for e in contacts if e.who == "employer"),
        third_party=sum(1 for e in contacts if e.third_party),
        busiest_connected=busiest("call_answered"), busiest_missed=busiest("call_missed"),
        stop_day=result.stop_day, after_stop=after.count if after else 0,
        after_stop_first=after.days[0] if after else None, after_stop_last=after.days[-1] if after else None)
