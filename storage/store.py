"""Users, sessions, inbox, cases and privacy: every query the bot makes about them, in one place.

Rows come out as typed dicts with their JSON columns decoded (storage.rows); values go in as
plain Python. No business logic. Every statement runs through `Sql` (storage.sql), whose
`transaction()` nests; no method here commits by itself: outside a transaction a write is
its own, inside one it is part of the caller's. Reminders and complaints: `Store.reminders`,
on the same connection and in the same transactions.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from sqlite_utils import Database

from storage.events import EventStore
from storage.files import FileStore, remove
from storage.history import HistoryStore
from storage.links import LinkStore
from storage.migrations import USER_TABLES
from storage.reminders import ReminderStore
from storage.rows import CaseRow, InboxState, Journalled, Received, SessionRow, UnfinishedMessage, UserRow
from storage.shared import SharedStore
from storage.sql import Clock, Sql, dumps, utcnow
from storage.witness import WitnessStore

log = logging.getLogger("storage")
DEDUP_WINDOW = dt.timedelta(days=7)  # how long a message id is remembered, with its replies
IDLE_USER = dt.timedelta(days=1)  # a user who left nothing behind is forgotten after this

#: the columns that hold JSON, per table: decoded on the way out, export included
JSON_COLUMNS: dict[str, tuple[str, ...]] = {
    "users": ("screen",),
    "sessions": ("slots", "history"),
    "cases": ("data",),
    "inbox": ("payload", "replies"),
    "complaints": ("history",),
    "web_history": ("data",),
    "events": ("findings",),
    "links": ("payload",),
    "outbox": ("screen",),
}


def _decode(table: str, row: dict[str, Any]) -> dict[str, Any]:
    for key in JSON_COLUMNS.get(table, ()):
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return row


def _user(row: dict[str, Any] | None) -> UserRow | None:
    return None if row is None else cast(UserRow, _decode("users", row))


def _case(row: dict[str, Any]) -> CaseRow:
    return cast(CaseRow, _decode("cases", row))


class Store:
    def __init__(self, db: Database, clock: Clock = utcnow):
        self.sql = Sql(db, clock)
        #: the connection, for tests and benchmarks that look at rows directly (never bot/)
        self.db = db
        #: reminders and complaints, on this connection and in its transactions
        self.reminders = ReminderStore(self.sql)
        #: what channels share between processes: access tokens, outboxes (storage.shared)
        self.shared = SharedStore(self.sql)
        #: the web page's recent messages, redrawn after a reload (storage.history)
        self.history = HistoryStore(self.sql)
        #: the evidence log: events and attached files (storage.events)
        self.events = EventStore(self.sql)
        #: files kept as evidence (photos, voice notes, documents), on disk beside the database
        self.files = FileStore(self.sql)
        #: short-lived links to pages of this server, and notification consents (storage.links)
        self.links = LinkStore(self.sql)
        #: witness codes: people called by collectors add to the borrower's log (storage.witness)
        self.witness = WitnessStore(self.sql, self.events)
        # Called with (channel, external id) after a user's deletion is committed: channels
        # drop what they hold in memory for that user (file links, paged answers).
        self.on_delete: list[Callable[[str, str], None]] = []

    @property
    def clock(self) -> Clock:
        return self.sql.clock

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit: a dialog step and its inbox record commit together or not at all.
        Nested: a savepoint inside the open transaction (storage.sql explains both)."""
        with self.sql.transaction():
            yield

    def ping(self) -> bool:
        """Does the database answer? (/healthz)"""
        return self.sql.ping()

    # users -------------------------------------------------------------------------------
    def user(self, channel: str, external_id: str) -> UserRow:
        """The user row for a channel id, created on first contact."""
        row = self.find_user(channel, external_id)
        if row is None:
            now = self.sql.now()
            created = self.sql.returning(
                "INSERT INTO users (channel, external_id, created_at, last_seen) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (channel, external_id) DO NOTHING RETURNING *",
                [channel, external_id, now, now])
            row = _user(created[0]) if created else self.find_user(channel, external_id)
            assert row is not None
        return row

    def find_user(self, channel: str, external_id: str) -> UserRow | None:
        """The user row, or None (never creates one)."""
        return _user(self.sql.one("SELECT * FROM users WHERE channel = ? AND external_id = ?",
                                  [channel, external_id]))

    def user_by_id(self, user_id: int) -> UserRow | None:
        return _user(self.sql.one("SELECT * FROM users WHERE id = ?", [user_id]))

    _USER_FIELDS = frozenset({"lang", "lang_source", "tz", "screen", "last_seen"})

    def update_user(self, user_id: int, **fields: Any) -> None:
        if "screen" in fields and not isinstance(fields["screen"], str | None):
            fields["screen"] = dumps(fields["screen"])
        unknown = set(fields) - self._USER_FIELDS
        if unknown:
            raise ValueError(f"not user fields: {sorted(unknown)}")
        assignments = ", ".join(f"{name} = ?" for name in fields)
        self.sql.run(f"UPDATE users SET {assignments} WHERE id = ?", [*fields.values(), user_id])

    def remember_screen(self, user_id: int, screen: list[dict[str, Any]] | None) -> None:
        """The user was just answered: keep the last screen's buttons (so a typed number or
        label can press one) and the time (last_seen, by the store's clock)."""
        self.sql.run("UPDATE users SET screen = ?, last_seen = ? WHERE id = ?",
                     [None if screen is None else dumps(screen), self.sql.now(), user_id])

    # sessions (the active dialog of a user) ---------------------------------------------
    def session(self, user_id: int) -> SessionRow | None:
        row = self.sql.one("SELECT * FROM sessions WHERE user_id = ?", [user_id])
        if row is None:
            return None
        row["slots"] = json.loads(row["slots"])
        row["history"] = json.loads(row["history"] or "[]")
        row["editing"] = bool(row["editing"])
        row["paused"] = bool(row.get("paused"))
        return cast(SessionRow, row)

    def save_session(self, user_id: int, dialog: str, step: str, slots: dict, history: list[str],
                     invalid: int = 0, editing: bool = False) -> None:
        self.sql.run(
            "INSERT INTO sessions (user_id, dialog, step, slots, history, invalid, editing, paused, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?) ON CONFLICT (user_id) DO UPDATE SET dialog = excluded.dialog, "
            "step = excluded.step, slots = excluded.slots, history = excluded.history, "
            "invalid = excluded.invalid, editing = excluded.editing, paused = 0, updated_at = excluded.updated_at",
            [user_id, dialog, step, dumps(slots), dumps(history), invalid, int(editing), self.sql.now()])

    def pause_session(self, user_id: int, paused: bool = True) -> None:
        """Set the dialog aside (a crisis reply) or take it up again, keeping every answer."""
        self.sql.run("UPDATE sessions SET paused = ? WHERE user_id = ?", [int(paused), user_id])

    def clear_session(self, user_id: int) -> None:
        self.sql.run("DELETE FROM sessions WHERE user_id = ?", [user_id])

    # inbox: dedup, retries and crash recovery --------------------------------------------
    def journal(self, channel: str, message_id: str, external_id: str, payload: dict) -> Journalled:
        """The first step for every inbound message: the sender's user row (created on first
        contact) and the message recorded in the inbox (`receive`)."""
        user = self.user(channel, external_id)
        inbox_id, state = self.receive(channel, message_id, user["id"], payload)
        return Journalled(user, inbox_id, state)

    def receive(self, channel: str, message_id: str, user_id: int, payload: dict) -> Received:
        """Record an inbound message before it is handled (committed at once, outside a
        transaction).

        Returns (inbox id, state): "new"; "pending" (seen but never finished: a crash,
        handle it now); "undelivered" (handled, delivery not yet confirmed); "done" (handled
        and delivered; its replies are kept for retries until pruned); "foreign" (the id
        belongs to another user's message: never dedup against it, never show its replies).
        """
        new = self.sql.returning(
            "INSERT INTO inbox (channel, message_id, user_id, payload, status, received_at)"
            " VALUES (?, ?, ?, ?, 'received', ?) ON CONFLICT (channel, message_id) DO NOTHING RETURNING id",
            [channel, message_id, user_id, dumps(payload), self.sql.now()])
        if new:
            return Received(int(new[0]["id"]), "new")
        row = self.sql.one("SELECT id, status, user_id FROM inbox WHERE channel = ? AND message_id = ?",
                           [channel, message_id])
        assert row is not None
        if row["user_id"] != user_id:
            return Received(row["id"], "foreign")
        states: dict[str, InboxState] = {"received": "pending", "done": "undelivered"}
        return Received(row["id"], states.get(row["status"], "done"))

    def finish(self, inbox_id: int, replies: list[dict]) -> None:
        """Mark handled (inside the step's transaction): drop the text, keep the replies."""
        self.sql.run("UPDATE inbox SET status = 'done', payload = NULL, replies = ?, sent = 0 WHERE id = ?",
                     [dumps(replies), inbox_id])

    def stored_replies(self, inbox_id: int, unsent: bool = False) -> list[dict]:
        """The replies of a handled message; with `unsent`, only those not yet sent."""
        row = self.sql.one("SELECT replies, sent FROM inbox WHERE id = ?", [inbox_id])
        replies = json.loads(row["replies"] or "[]") if row else []
        return replies[row["sent"] or 0:] if row and unsent else replies

    _OWN = "channel = ? AND message_id = ? AND user_id IN (SELECT id FROM users WHERE channel = ? AND external_id = ?)"

    def progress(self, channel: str, message_id: str, external_id: str) -> None:
        """One more of the message's replies has gone out (committed at once, outside a transaction)."""
        self.sql.run(f"UPDATE inbox SET sent = sent + 1 WHERE status = 'done' AND {self._OWN}",
                     [channel, message_id, channel, external_id])

    def delivered(self, channel: str, message_id: str, external_id: str) -> None:
        """The channel confirmed delivery. The replies stay for retries of the same id."""
        self.sql.run(f"UPDATE inbox SET status = 'delivered' WHERE status = 'done' AND {self._OWN}",
                     [channel, message_id, channel, external_id])

    def unfinished(self, channel: str | None = None) -> list[UnfinishedMessage]:
        """Inbox rows not handled or not delivered (after a crash), oldest first."""
        sql = ("SELECT inbox.*, users.external_id FROM inbox JOIN users ON users.id = inbox.user_id "
               "WHERE inbox.status IN ('received', 'done')")
        params: list[Any] = []
        if channel:
            sql += " AND inbox.channel = ?"
            params.append(channel)
        return [cast(UnfinishedMessage, _decode("inbox", row)) for row in self.sql.rows(sql + " ORDER BY inbox.id",
                                                                                         params)]

    def prune_inbox(self, older_than: dt.timedelta = DEDUP_WINDOW) -> int:
        """Forget delivered messages older than the dedup window, with their replies. A channel
        retries a message for minutes or hours, never for a week; keeping the ids longer only
        keeps metadata about users that no feature needs."""
        now = self.sql.clock().astimezone(dt.UTC)
        cutoff = (now - older_than).isoformat(timespec="seconds")
        # Replies never confirmed delivered (a crash between handling and the channel's ack, a
        # chat that kept failing) are given twice as long, then forgotten too; a message never
        # handled ("received") is kept until it is: it is what the user typed.
        stale = (now - 2 * older_than).isoformat(timespec="seconds")
        return self.sql.run(
            "DELETE FROM inbox WHERE (received_at < ? AND status = 'delivered')"
            " OR (received_at < ? AND status = 'done')",
            [cutoff, stale])

    # cases -------------------------------------------------------------------------------
    def save_case(self, user_id: int, kind: str, lang: str, data: dict) -> int:
        [row] = self.sql.returning(
            "INSERT INTO cases (user_id, kind, lang, data, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
            [user_id, kind, lang, dumps(data), self.sql.now()])
        return int(row["id"])

    def cases(self, user_id: int, kind: str | None = None, limit: int | None = None) -> list[CaseRow]:
        """The user's cases, newest first (at most `limit`); the cost depends on this user's
        rows only (index on user_id)."""
        sql, params = "SELECT * FROM cases WHERE user_id = ?", list[object]([user_id])
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_case(row) for row in self.sql.rows(sql, params)]

    def count_cases(self, user_id: int, kind: str | None = None) -> int:
        sql, params = "SELECT count(*) FROM cases WHERE user_id = ?", list[object]([user_id])
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        return int(self.sql.value(sql, params))

    def case(self, user_id: int, case_id: int) -> CaseRow | None:
        row = self.sql.one("SELECT * FROM cases WHERE user_id = ? AND id = ?", [user_id, case_id])
        return None if row is None else _case(row)

    def prune_idle_users(self, older_than: dt.timedelta = IDLE_USER) -> int:
        """Forget users who left nothing behind: no session, case, complaint, reminder or
        pending message, no language or time zone they chose, not seen for `older_than`
        (a page opened once, a request without a session). They come back as new users."""
        cutoff = (self.sql.clock().astimezone(dt.UTC) - older_than).isoformat(timespec="seconds")
        owned = " AND ".join(f"NOT EXISTS (SELECT 1 FROM {t} WHERE {t}.user_id = users.id)" for t in USER_TABLES)
        return self.sql.run(
            "DELETE FROM users WHERE created_at < ? AND coalesce(last_seen, created_at) < ? "
            "AND coalesce(lang_source, '') != 'chosen' AND tz IS NULL AND " + owned, [cutoff, cutoff])

    # privacy -----------------------------------------------------------------------------
    def export_user(self, user_id: int) -> dict[str, Any]:
        """Everything stored about one user, as plain data (JSON columns decoded)."""
        out: dict[str, Any] = {"user": self.user_by_id(user_id)}
        for table in USER_TABLES:
            out[table] = [_decode(table, row)
                          for row in self.sql.rows(f"SELECT * FROM {table} WHERE user_id = ?", [user_id])]
        return out

    def delete_user(self, user_id: int) -> None:
        """Erase every row that belongs to the user, the user row last, in one transaction.

        secure_delete (storage.db) zeroes the rows in the file; once the transaction commits,
        the WAL, which still holds the pages as they were, is checkpointed and truncated, and
        the channels are told (`on_delete`) to drop what they keep in memory."""
        user = self.user_by_id(user_id)
        files = self.files.paths(user_id)
        with self.sql.transaction():
            for table in USER_TABLES:
                self.sql.run(f"DELETE FROM {table} WHERE user_id = ?", [user_id])
            self.sql.run("DELETE FROM users WHERE id = ?", [user_id])
        if user is not None:
            channel, external_id = user["channel"], user["external_id"]
            self.sql.after_commit(lambda: self._deleted(channel, external_id))
        if files:  # the evidence files on disk go once their rows are gone
            self.sql.after_commit(lambda: remove(files))

    def _deleted(self, channel: str, external_id: str) -> None:
        self.sql.scrub()
        for listener in self.on_delete:
            try:
                listener(channel, external_id)
            except Exception as exc:  # a channel's clean-up must not undo the reply
                log.error("on_delete listener failed: %s", type(exc).__name__)
