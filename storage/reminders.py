"""Queries for complaints and reminders (tables from migration m002_complaints_reminders).

Plain SQL on indexed columns; typed dicts out (storage.rows). Times are stored as UTC ISO
strings with a "Z" (see `iso`), so comparing strings compares times and the indexes
range-scan. A store's reminders are `Store.reminders`: the same connection, the same
transactions (storage.sql); no method commits a caller's transaction.

Claiming is what makes delivery safe with several scheduler loops or processes: one UPDATE
moves due rows from pending to claimed with a fresh token and returns them; a row is only
ever returned to one claimer, and only the holder of the token can mark it sent or put it
back. A claim that is never finished (the process died) expires after a lease and the row
becomes pending again (bot/scheduler.py explains the resulting at-least-once delivery).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, cast

from sqlite_utils import Database

from storage.rows import ComplaintRow, Recipient, ReminderRow
from storage.sql import Sql, dumps

REMINDER_KINDS = ("personal", "complaint")
COMPLAINT_FIELDS = frozenset({"case_id", "parent_id", "body", "body_name", "lender", "lender_kind",
                              "filed_on", "ticket", "stage", "due_on", "status", "history"})


def iso(when: dt.datetime) -> str:
    """An aware datetime as the stored UTC string, to the second."""
    if when.tzinfo is None:
        raise ValueError("naive datetime: reminders need an aware time")
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_iso(text: str) -> dt.datetime:
    """A stored UTC string back to an aware datetime (UTC)."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)


def due_query(now: dt.datetime, limit: int, channels: Sequence[str] | None = None,
              user_id: int | None = None) -> tuple[str, dict[str, Any]]:
    """The claim's row selection: "FROM ... WHERE ... ORDER BY ... LIMIT" and its parameters.
    Pending rows due by `now`, oldest first. The planner range-scans the index on
    (status, due_at) for it, or the user's own (user_id, status, due_at) when one user's rows
    are asked for (tests/test_reminders.py checks both plans), so no index hint is needed."""
    at = iso(now)
    where = "status = 'pending' AND due_at <= :now AND next_attempt_at <= :now"
    params: dict[str, Any] = {"now": at, "limit": limit}
    if channels is not None:
        names = [f":c{i}" for i in range(len(channels))]
        where += f" AND channel IN ({', '.join(names)})"
        params.update({f"c{i}": c for i, c in enumerate(channels)})
    if user_id is not None:
        where += " AND user_id = :user"
        params["user"] = user_id
    return f"FROM reminders WHERE {where} ORDER BY due_at LIMIT :limit", params


def _by_due(rows: list[dict[str, Any]]) -> list[ReminderRow]:
    return cast(list[ReminderRow], sorted(rows, key=lambda r: (r["due_at"], r["id"])))


def _complaint(row: dict[str, Any]) -> ComplaintRow:
    row["history"] = json.loads(row["history"] or "[]")
    return cast(ComplaintRow, row)


class ReminderStore:
    def __init__(self, sql: Sql | Database):
        """Usually `Store(db).reminders`; a bare Database (tests) gets a connection wrapper of
        its own, whose transactions still nest with any other on the same connection."""
        self.sql = sql if isinstance(sql, Sql) else Sql(sql)

    # reminders: creating, listing, changing ------------------------------------------------
    def add(self, user_id: int, channel: str, kind: str, due_at: dt.datetime, *, text: str | None = None,
            complaint_id: int | None = None, now: dt.datetime) -> int:
        if kind not in REMINDER_KINDS:
            raise ValueError(f"unknown reminder kind {kind!r}")
        due = iso(due_at)
        [row] = self.sql.returning(
            "INSERT INTO reminders (user_id, channel, kind, complaint_id, text, due_at, status, attempts,"
            " next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?) RETURNING id",
            [user_id, channel, kind, complaint_id, text, due, due, iso(now)])
        return int(row["id"])

    def get(self, user_id: int, reminder_id: int) -> ReminderRow | None:
        row = self.sql.one("SELECT * FROM reminders WHERE id = ? AND user_id = ?", [reminder_id, user_id])
        return cast(ReminderRow | None, row)

    def upcoming(self, user_id: int, limit: int = 50) -> list[ReminderRow]:
        """The user's reminders not yet delivered, soonest first."""
        return cast(list[ReminderRow], self.sql.rows(
            "SELECT * FROM reminders WHERE user_id = ? AND status IN ('pending', 'claimed')"
            " ORDER BY due_at, id LIMIT ?", [user_id, limit]))

    def count_upcoming(self, user_id: int) -> int:
        return int(self.sql.value(
            "SELECT count(*) FROM reminders WHERE user_id = ? AND status IN ('pending', 'claimed')", [user_id]))

    def cancel(self, user_id: int, reminder_id: int) -> bool:
        """Cancel a reminder that has not gone out yet. False if it is sent, being sent or gone."""
        return self.sql.run(
            "UPDATE reminders SET status = 'cancelled' WHERE id = ? AND user_id = ? AND status = 'pending'",
            [reminder_id, user_id]) == 1

    def cancel_for_complaint(self, complaint_id: int) -> int:
        return self.sql.run(
            "UPDATE reminders SET status = 'cancelled' WHERE complaint_id = ? AND status = 'pending'",
            [complaint_id])

    def reschedule(self, user_id: int, reminder_id: int, due_at: dt.datetime) -> bool:
        """Move a reminder (pending, or already sent: "remind me again") to a new time."""
        due = iso(due_at)
        return self.sql.run(
            "UPDATE reminders SET status = 'pending', due_at = ?, next_attempt_at = ?, attempts = 0,"
            " claim_token = NULL, claimed_at = NULL, sent_at = NULL, sent_via = NULL, last_error = NULL"
            " WHERE id = ? AND user_id = ? AND status IN ('pending', 'sent')",
            [due, due, reminder_id, user_id]) == 1

    # delivery ------------------------------------------------------------------------------
    def claim_due(self, now: dt.datetime, token: str, limit: int, channels: Sequence[str] | None = None,
                  user_id: int | None = None) -> list[ReminderRow]:
        """Atomically claim up to `limit` due reminders (oldest first) for the given channels.

        One UPDATE ... RETURNING: a row moves from pending to claimed exactly once, so two
        loops (threads, processes) never both get it. Uses the index on (status, due_at).
        """
        if channels is not None and not channels:
            return []
        due, params = due_query(now, limit, channels, user_id)
        # Look before taking the write lock: on almost every tick nothing is due.
        if self.sql.value(f"SELECT 1 {due}", params) is None:
            return []
        params["token"] = token
        return _by_due(self.sql.returning(
            "UPDATE reminders SET status = 'claimed', claim_token = :token, claimed_at = :now,"
            f" attempts = attempts + 1 WHERE id IN (SELECT id {due}) RETURNING *", params))

    def renew_claims(self, token: str, now: dt.datetime) -> set[int]:
        """Still working on this claim: restart its lease. Returns the ids still held (a row
        whose lease ran out and was put back is no longer ours)."""
        rows = self.sql.returning(
            "UPDATE reminders SET claimed_at = ? WHERE status = 'claimed' AND claim_token = ? RETURNING id",
            [iso(now), token])
        return {r["id"] for r in rows}

    def mark_sent(self, reminder_id: int, token: str, now: dt.datetime) -> bool:
        """Delivered. False if the claim was lost (expired and taken by another loop)."""
        return self.sql.run(
            "UPDATE reminders SET status = 'sent', sent_at = ?, sent_via = 'push', claim_token = NULL,"
            " last_error = NULL WHERE id = ? AND claim_token = ? AND status = 'claimed'",
            [iso(now), reminder_id, token]) == 1

    def retry_later(self, reminder_id: int, token: str, at: dt.datetime, error: str | None) -> bool:
        """Not delivered this time: back to pending, not tried again before `at`."""
        return self.sql.run(
            "UPDATE reminders SET status = 'pending', next_attempt_at = ?, claim_token = NULL,"
            " claimed_at = NULL, last_error = ? WHERE id = ? AND claim_token = ? AND status = 'claimed'",
            [iso(at), error, reminder_id, token]) == 1

    def drop_claimed(self, reminder_id: int, token: str) -> None:
        """Claimed but nothing to send (its complaint is gone): close it quietly."""
        self.sql.run("UPDATE reminders SET status = 'cancelled', claim_token = NULL WHERE id = ? AND claim_token = ?",
                     [reminder_id, token])

    def release_stale(self, now: dt.datetime, lease: dt.timedelta) -> int:
        """Claims older than the lease belong to a loop that died: make them pending again."""
        where = "status = 'claimed' AND claimed_at < ?"
        params = [iso(now - lease)]
        if self.sql.value(f"SELECT 1 FROM reminders WHERE {where} LIMIT 1", params) is None:
            return 0
        return self.sql.run(
            f"UPDATE reminders SET status = 'pending', claim_token = NULL, claimed_at = NULL WHERE {where}", params)

    def take_due_for_user(self, user_id: int, now: dt.datetime) -> list[ReminderRow]:
        """The user's due reminders, marked sent as part of the caller's transaction.

        For replies: the engine stores its replies in the inbox in the same transaction and
        keeps them until the channel confirms delivery, so these are neither lost nor doubled.
        Backoff (next_attempt_at) is ignored: the user is here now.
        """
        return _by_due(self.sql.returning(
            "UPDATE reminders SET status = 'sent', sent_at = :now, sent_via = 'reply',"
            " attempts = attempts + 1, claim_token = NULL WHERE user_id = :user AND status = 'pending'"
            " AND due_at <= :now RETURNING *", {"now": iso(now), "user": user_id}))

    def next_due(self) -> dt.datetime | None:
        at = self.sql.value("SELECT min(due_at) FROM reminders WHERE status = 'pending'")
        return from_iso(at) if at else None

    def recipient(self, user_id: int) -> Recipient | None:
        """Where a pushed reminder goes: the user's channel id, language and time zone; None
        once the user is gone."""
        row = self.sql.one("SELECT external_id, lang, tz FROM users WHERE id = ?", [user_id])
        return None if row is None else Recipient(row["external_id"], row["lang"], row["tz"])

    def offer_screen(self, user_id: int, screen: list[dict[str, Any]]) -> None:
        """A pushed reminder's buttons become the screen a typed "1" presses, unless the user
        is in the middle of a dialog, whose own buttons keep priority."""
        self.sql.run("UPDATE users SET screen = ? WHERE id = ? AND NOT EXISTS (SELECT 1 FROM sessions"
                     " WHERE user_id = ?)", [dumps(screen), user_id, user_id])

    # complaints ----------------------------------------------------------------------------
    def add_complaint(self, user_id: int, now: dt.datetime, **fields: Any) -> int:
        unknown = set(fields) - COMPLAINT_FIELDS
        if unknown:
            raise ValueError(f"not complaint fields: {sorted(unknown)}")
        fields.setdefault("status", "open")
        fields["history"] = dumps(fields.get("history") or [])
        names = ["user_id", *fields, "created_at", "updated_at"]
        values = [user_id, *fields.values(), iso(now), iso(now)]
        [row] = self.sql.returning(
            f"INSERT INTO complaints ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) RETURNING id",
            values)
        return int(row["id"])

    def delete_drafts(self, user_id: int) -> None:
        """Drop unfinished links (status draft) left by a linked run that was cancelled."""
        self.sql.run("DELETE FROM complaints WHERE user_id = ? AND status = 'draft'", [user_id])

    def complaint(self, user_id: int, complaint_id: int) -> ComplaintRow | None:
        row = self.sql.one("SELECT * FROM complaints WHERE id = ? AND user_id = ?", [complaint_id, user_id])
        return _complaint(row) if row else None

    def count_complaints(self, user_id: int) -> int:
        """Complaints the user tracks (draft rows of linked runs not counted)."""
        return int(self.sql.value("SELECT count(*) FROM complaints WHERE user_id = ? AND status != 'draft'",
                                  [user_id]))

    def complaints(self, user_id: int, limit: int = 50) -> list[ComplaintRow]:
        """The user's complaints, open ones first, newest first."""
        rows = self.sql.rows(
            "SELECT * FROM complaints WHERE user_id = ? ORDER BY status != 'open', filed_on DESC, id DESC"
            " LIMIT ?", [user_id, limit])
        return [_complaint(r) for r in rows]

    def update_complaint(self, complaint_id: int, now: dt.datetime, **fields: Any) -> None:
        unknown = set(fields) - COMPLAINT_FIELDS
        if unknown:
            raise ValueError(f"not complaint fields: {sorted(unknown)}")
        if "history" in fields:
            fields["history"] = dumps(fields["history"])
        assignments = ", ".join(f"{name} = ?" for name in fields)
        self.sql.run(f"UPDATE complaints SET {assignments}, updated_at = ? WHERE id = ?",
                     [*fields.values(), iso(now), complaint_id])
