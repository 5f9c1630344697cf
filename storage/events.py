"""Queries for the evidence log (tables from migration m007_evidence_log): events and the
files attached to them.

An event is one contact by a collector (a call, a message, a visit, a call to someone else)
or one step the user took that the rules count from (the stop-contact request sent), in one
case (cases.id: the lender). `at` is when it happened, a UTC string like the reminders'
(storage.reminders.iso), so text order is time order. Events of a case come out in time
order with every column, for the timeline, the rule checks and the evidence bundle.

A scanned message waiting for "add to my log" is an event with status "pending" (no case
yet); it is shown nowhere and counted only against the cap until it is added, and dropped after a day
(`drop_pending` for one user, `prune_pending` for all, from the reminder loop). Everything
here is the user's: in /export, erased by /delete (USER_TABLES).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, cast

from storage.reminders import iso
from storage.rows import EventRow, EvidenceFileRow
from storage.sql import Sql, dumps

EVENT_SOURCES = ("user", "scan", "witness")


def _event(row: dict[str, Any]) -> EventRow:
    if isinstance(row.get("findings"), str):
        row["findings"] = json.loads(row["findings"])
    return cast(EventRow, row)


class EventStore:
    def __init__(self, sql: Sql):
        self.sql = sql

    def add(self, user_id: int, case_id: int | None, at: dt.datetime, kind: str, who: str, *,
            number: str | None = None, words: str | None = None, findings: Sequence[str] = (),
            source: str = "user", status: str = "logged", witness: str | None = None) -> int:
        if source not in EVENT_SOURCES:
            raise ValueError(f"unknown source {source!r}")
        [row] = self.sql.returning(
            "INSERT INTO events (user_id, case_id, at, kind, who, number, words, findings, source, status,"
            " witness, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [user_id, case_id, iso(at), kind, who, number, words, dumps(list(findings)), source, status, witness,
             self.sql.now()])
        return int(row["id"])

    def get(self, user_id: int, event_id: int) -> EventRow | None:
        row = self.sql.one("SELECT * FROM events WHERE user_id = ? AND id = ?", [user_id, event_id])
        return None if row is None else _event(row)

    def of_cases(self, user_id: int, case_ids: Sequence[int]) -> list[EventRow]:
        """The logged events of these cases of the user, in time order (then as logged)."""
        if not case_ids:
            return []
        marks = ", ".join("?" for _ in case_ids)
        return [_event(row) for row in self.sql.rows(
            f"SELECT * FROM events WHERE user_id = ? AND status = 'logged' AND case_id IN ({marks})"
            " ORDER BY at, id", [user_id, *case_ids])]

    def count(self, user_id: int) -> int:
        """Every row of the user, checked messages waiting to be added too (for the cap)."""
        return int(self.sql.value("SELECT count(*) FROM events WHERE user_id = ?", [user_id]))

    def last_case(self, user_id: int) -> int | None:
        """The case the user logged to last, if any."""
        value = self.sql.value("SELECT case_id FROM events WHERE user_id = ? AND status = 'logged'"
                               " AND case_id IS NOT NULL ORDER BY id DESC LIMIT 1", [user_id])
        return None if value is None else int(value)

    def keep(self, user_id: int, event_id: int, case_id: int) -> bool:
        """A pending (scanned) event added to the log of `case_id`; False if there is none."""
        return self.sql.run("UPDATE events SET status = 'logged', case_id = ? WHERE user_id = ? AND id = ?"
                            " AND status = 'pending'", [case_id, user_id, event_id]) > 0

    def drop_pending(self, user_id: int, older_than: dt.datetime) -> int:
        """Forget scanned messages never added to the log, created before `older_than`."""
        return self.sql.run("DELETE FROM events WHERE user_id = ? AND status = 'pending' AND created_at < ?",
                            [user_id, older_than.astimezone(dt.UTC).isoformat(timespec="seconds")])

    def prune_pending(self, older_than: dt.timedelta = dt.timedelta(days=1)) -> int:
        """Every user's checked messages never added to a log, older than `older_than` (the
        reminder loop's housekeeping)."""
        cutoff = (self.sql.clock().astimezone(dt.UTC) - older_than).isoformat(timespec="seconds")
        return self.sql.run("DELETE FROM events WHERE status = 'pending' AND created_at < ?", [cutoff])

    # files (written by storage/files.py; read by the bundle) ---------------------------
    def files(self, user_id: int, case_id: int) -> list[EvidenceFileRow]:
        return cast(list[EvidenceFileRow], self.sql.rows(
            "SELECT * FROM evidence_files WHERE user_id = ? AND (case_id = ? OR case_id IS NULL)"
            " ORDER BY received_at, id",
            [user_id, case_id]))
