"""The rules checked over a case's log (legal-facts.md, section 1): pure functions of the
events and the user's time zone.

- `night`: contacts between 22:00 and 08:00 local time (GB/T 45251-2025, NIFA guideline 2024,
  CBA guideline 2026, each binding its own lenders); not checked messages, whose time is when
  they were added, not when they arrived.
- `connected_calls`: days with more than 3 answered calls to the borrower (GB/T 45251-2025:
  at most 3 connected notice-type calls a day; online consumer lenders).
- `dial_attempts`: days with more than 6 unanswered calls to one number (CBA guideline 2026:
  at most 6 unanswered attempts a day to one number; banks' credit cards and consumer loans).
  Calls logged without a number count as one number, as the user most often logs their own.
- `third_party_reachable`: contacts of other people while the borrower was reachable, i.e.
  within 3 days after the borrower answered a collector's call (GB/T 45251-2025 and the CBA
  guideline allow contacting others only when the debtor cannot be reached).
- `after_stop`: contacts of the employer or anyone else after the user's stop-contact request
  (the first `stop_sent` event): the contact must stop when refused (same instruments).
- `scanned`: what the message scanner found in messages added to the log, one finding each.
- `trend`: contacts in the 7 days up to now against the 7 days before.

Each finding carries its count, the local days concerned and the ids of its events, so what
is shown, and what the letters and the bundle cite, points back to entries of the log.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.evidence.model import STOP_SENT, Event

NIGHT_START, NIGHT_END = 22, 8
CONNECTED_CAP = 3
UNANSWERED_CAP = 6
REACHABLE_FOR = dt.timedelta(days=3)
WEEK = dt.timedelta(days=7)

#: The instruments each finding cites (ids of content/facts.yaml), as legal-facts.md says.
RULES: dict[str, tuple[str, ...]] = {
    "night": ("gbt45251", "nifa_2024", "cba_2026"),
    "connected_calls": ("gbt45251",),
    "dial_attempts": ("cba_2026",),
    "third_party_reachable": ("gbt45251", "cba_2026"),
    "after_stop": ("gbt45251", "cba_2026", "civil_code"),
    "scanned": (),
}
ORDER = tuple(RULES)


@dataclass(frozen=True)
class Finding:
    id: str                                   # a key of RULES
    count: int                                # events concerned
    event_ids: tuple[int, ...]
    days: tuple[dt.date, ...]                 # local days concerned, in order
    #: for the daily caps: (day, that day's count) of each day above the cap
    per_day: tuple[tuple[dt.date, int], ...] = ()
    detail: str = ""                          # scanned: the scanner's finding id
    since: dt.date | None = None              # after_stop: the day of the request


@dataclass(frozen=True)
class Trend:
    this_week: int
    last_week: int

    @property
    def direction(self) -> str:
        return "up" if self.this_week > self.last_week else "down" if self.this_week < self.last_week else "same"


@dataclass(frozen=True)
class Check:
    findings: tuple[Finding, ...]
    trend: Trend
    stop_day: dt.date | None = None
    totals: dict[str, int] = field(default_factory=dict)


def is_night(at: dt.datetime, tz: dt.tzinfo) -> bool:
    hour = at.astimezone(tz).hour
    return hour >= NIGHT_START or hour < NIGHT_END


def stop_moment(events: Iterable[Event]) -> dt.datetime | None:
    """When the stop-contact request was sent: the first one logged."""
    return min((e.at for e in events if e.kind == STOP_SENT), default=None)


def check(events: Sequence[Event], tz: dt.tzinfo, now: dt.datetime, stop: dt.datetime | None = None) -> Check:
    """The findings of a case's log. `stop`: when the stop-contact request was sent, known
    from elsewhere (a tracked stop-request complaint); the earlier of it and the logged one
    counts."""
    events = sorted(events, key=lambda e: (e.at, e.id))
    contacts = [e for e in events if e.contact]
    logged = stop_moment(events)
    stop = min((m for m in (logged, stop) if m is not None), default=None)
    found: list[Finding] = []

    def add(fid: str, chosen: Sequence[Event], **extra: Any) -> None:
        if chosen:
            days = tuple(sorted({e.local(tz).date() for e in chosen}))
            found.append(Finding(fid, len(chosen), tuple(e.id for e in chosen), days, **extra))

    add("night", [e for e in contacts if e.timed and is_night(e.at, tz)])

    answered = [e for e in contacts if e.kind == "call_answered" and e.who == "me"]
    over = _over_cap(answered, tz, CONNECTED_CAP, key=lambda e: "")
    add("connected_calls", [e for e in answered if (e.local(tz).date(), "") in over],
        per_day=tuple(sorted((d, n) for (d, _), n in over.items())))

    missed = [e for e in contacts if e.kind == "call_missed" and e.who == "me"]
    over = _over_cap(missed, tz, UNANSWERED_CAP, key=lambda e: (e.number or "").strip())
    add("dial_attempts", [e for e in missed if (e.local(tz).date(), (e.number or "").strip()) in over],
        per_day=tuple(sorted((d, n) for (d, _), n in over.items())))

    reached = [e.at for e in answered]
    add("third_party_reachable", [e for e in contacts if e.third_party and _reachable(e.at, reached)])

    if stop is not None:
        add("after_stop", [e for e in contacts if e.third_party and e.at > stop],
            since=stop.astimezone(tz).date())

    by_finding: dict[str, list[Event]] = defaultdict(list)
    for e in contacts:
        for f in e.findings:
            by_finding[f].append(e)
    for f, chosen in by_finding.items():
        add("scanned", chosen, detail=f)

    this = sum(1 for e in contacts if now - WEEK < e.at <= now)
    last = sum(1 for e in contacts if now - 2 * WEEK < e.at <= now - WEEK)
    totals = Counter(e.kind for e in contacts)
    totals["all"] = len(contacts)
    totals["third_party"] = sum(1 for e in contacts if e.third_party)
    return Check(tuple(found), Trend(this, last), stop.astimezone(tz).date() if stop else None, dict(totals))


def per_day(events: Iterable[Event], tz: dt.tzinfo) -> dict[dt.date, int]:
    """Contacts per local day."""
    return dict(sorted(Counter(e.local(tz).date() for e in events if e.contact).items()))


def _over_cap(events: Sequence[Event], tz: dt.tzinfo, cap: int,
              key: Callable[[Event], str]) -> dict[tuple[dt.date, str], int]:
    counts = Counter((e.local(tz).date(), key(e)) for e in events)
    return {k: n for k, n in counts.items() if n > cap}


def _reachable(at: dt.datetime, answered: Sequence[dt.datetime]) -> bool:
    """Had the borrower answered a collector's call in the 3 days before `at`?"""
    return any(dt.timedelta(0) <= at - a <= REACHABLE_FOR for a in answered)
