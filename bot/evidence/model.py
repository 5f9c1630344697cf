"""What one entry of the evidence log is (storage/events.py keeps it)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: What happened: contacts by a collector. The order is the /log question's.
CONTACT_KINDS = ("call_answered", "call_missed", "message", "third_party_call", "visit", "group_post", "other")
#: What the user did that the rules count from (not a contact).
STOP_SENT = "stop_sent"
KINDS = (*CONTACT_KINDS, STOP_SENT)
CALLS = ("call_answered", "call_missed")
#: Who was contacted: the borrower, or someone else (a third party).
WHO = ("me", "employer", "contact", "family", "school")
THIRD_PARTIES = WHO[1:]
#: Kinds that reach other people whatever `who` says.
ALWAYS_THIRD = ("third_party_call", "group_post")
SOURCES = ("user", "scan", "witness")


@dataclass(frozen=True)
class Event:
    id: int
    at: dt.datetime                      # aware
    kind: str
    who: str = "me"
    number: str | None = None
    words: str | None = None
    findings: tuple[str, ...] = ()
    source: str = "user"

    @property
    def contact(self) -> bool:
        """A contact by a collector (every kind but the user's own stop request)."""
        return self.kind in CONTACT_KINDS

    @property
    def third_party(self) -> bool:
        return self.contact and (self.who in THIRD_PARTIES or self.kind in ALWAYS_THIRD)

    @property
    def timed(self) -> bool:
        """Is `at` when it happened? A checked message's is when it was added to the log (it
        may have arrived long before), so no rule about the hour counts it."""
        return self.source != "scan"

    def local(self, tz: dt.tzinfo) -> dt.datetime:
        return self.at.astimezone(tz)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Event:
        at = dt.datetime.fromisoformat(str(row["at"]).replace("Z", "+00:00"))
        if at.tzinfo is None:
            at = at.replace(tzinfo=dt.UTC)
        findings = row.get("findings") or ()
        if isinstance(findings, str):  # a raw row, its JSON not decoded
            findings = json.loads(findings)
        return cls(id=int(row["id"]), at=at, kind=str(row["kind"]), who=str(row.get("who") or "me"),
                   number=row.get("number"), words=row.get("words"),
                   findings=tuple(str(f) for f in findings), source=str(row.get("source") or "user"))
