"""Every query the bot makes, in one place. Plain dicts in and out; no business logic."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlite_utils import Database

from storage.db import checkpoint
from storage.migrations import USER_TABLES

log = logging.getLogger("storage")
DEDUP_WINDOW = dt.timedelta(days=7)  # how long a message id is remembered, with its replies
IDLE_USER = dt.timedelta(days=1)  # a user who left nothing behind is forgotten after this


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _decoded(rows: Iterable[dict]) -> list[dict]:
    """Case rows with their JSON `data` decoded."""
    out = list(rows)
    for row in out:
        row["data"] = json.loads(row["data"])
    return out


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Store:
    def __init__(self, db: Database):
        self.db = db
        # Called with (channel, external id) after a user's deletion is committed: channels
        # drop what they hold in memory for that user (file links, paged answers).
        self.on_delete: list[Callable[[str, str], None]] = []
        self._after_commit: list[Callable[[], None]] = []

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit: a dialog step and its inbox record commit together or not at all.

        BEGIN IMMEDIATE takes the write lock up front: with a plain BEGIN, a second process
        (the terminal chat beside `run`) committing between this transaction's first read and
        first write makes SQLite fail it at once with "database is locked", busy timeout or not.
        """
        if self.db.conn.in_transaction:
            with self.db.atomic():  # nested: a savepoint
                yield
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.conn.execute("ROLLBACK")
            self._after_commit.clear()
            raise
        self.db.conn.execute("COMMIT")
        self._run_after_commit()

    def _after(self, fn: Callable[[], None]) -> None:
        """Run `fn` once the current transaction commits (at once when there is none)."""
        self._after_commit.append(fn)
        if not self.db.conn.in_transaction:
            self._run_after_commit()

    def _run_after_commit(self) -> None:
        while self._after_commit:
            self._after_commit.pop(0)()

    # users -------------------------------------------------------------------------------
    def user(self, channel: str, external_id: str) -> dict:
        """The user row for a channel id, created on first contact."""
        row = self.find_user(channel, external_id)
        if row is None:
            now = _now()
            self.db.execute(
                "INSERT OR IGNORE INTO users (channel, external_id, created_at, last_seen) "
                "VALUES (?, ?, ?, ?)",
                [channel, external_id, now, now],
            )
            self.db.conn.commit()
            row = self.find_user(channel, external_id)
            assert row is not None
        return row

    def find_user(self, channel: str, external_id: str) -> dict | None:
        """The user row, or None (never creates one)."""
        rows = list(self.db.query(
            "SELECT * FROM users WHERE channel = ? AND external_id = ?", [channel, external_id]))
        return rows[0] if rows else None

    def user_by_id(self, user_id: int) -> dict | None:
        rows = list(self.db.query("SELECT * FROM users WHERE id = ?", [user_id]))
        return rows[0] if rows else None

    _USER_FIELDS = frozenset({"lang", "lang_source", "tz", "screen", "last_seen"})

    def update_user(self, user_id: int, **fields: Any) -> None:
        # Plain SQL on the per-message path: Table.update() introspects the schema every call.
        if "screen" in fields and not isinstance(fields["screen"], str | None):
            fields["screen"] = _dumps(fields["screen"])
        unknown = set(fields) - self._USER_FIELDS
        if unknown:
            raise ValueError(f"not user fields: {sorted(unknown)}")
        assignments = ", ".join(f"{name} = ?" for name in fields)
        self.db.execute(f"UPDATE users SET {assignments} WHERE id = ?", [*fields.values(), user_id])

    # sessions (the active dialog of a user) ---------------------------------------------
    def session(self, user_id: int) -> dict | None:
        rows = list(self.db.query("SELECT * FROM sessions WHERE user_id = ?", [user_id]))
        if not rows:
            return None
        row = rows[0]
        row["slots"] = json.loads(row["slots"])
        row["history"] = json.loads(row["history"] or "[]")
        row["editing"] = bool(row["editing"])
        row["paused"] = bool(row.get("paused"))
        return row

    def save_session(self, user_id: int, dialog: str, step: str, slots: dict, history: list[str],
                     invalid: int = 0, editing: bool = False) -> None:
        self.db.execute(
            "INSERT INTO sessions (user_id, dialog, step, slots, history, invalid, editing, paused, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?) ON CONFLICT(user_id) DO UPDATE SET dialog = excluded.dialog, "
            "step = excluded.step, slots = excluded.slots, history = excluded.history, "
            "invalid = excluded.invalid, editing = excluded.editing, paused = 0, updated_at = excluded.updated_at",
            [user_id, dialog, step, _dumps(slots), _dumps(history), invalid, int(editing), _now()])

    def pause_session(self, user_id: int, paused: bool = True) -> None:
        """Set the dialog aside (a crisis reply) or take it up again, keeping every answer."""
        self.db.execute("UPDATE sessions SET paused = ? WHERE user_id = ?", [int(paused), user_id])

    def clear_session(self, user_id: int) -> None:
        self.db.execute("DELETE FROM sessions WHERE user_id = ?", [user_id])

    # inbox: dedup, retries and crash recovery --------------------------------------------
    def receive(self, channel: str, message_id: str, user_id: int, payload: dict) -> tuple[int, str]:
        """Record an inbound message before it is handled (committed at once).

        Returns (inbox id, state): "new"; "pending" (seen but never finished: a crash,
        handle it now); "undelivered" (handled, delivery not yet confirmed); "done" (handled
        and delivered; its replies are kept for retries until pruned); "foreign" (the id
        belongs to another user's message: never dedup against it, never show its replies).
        """
        cur = self.db.execute(
            "INSERT OR IGNORE INTO inbox (channel, message_id, user_id, payload, status, received_at)"
            " VALUES (?, ?, ?, ?, 'received', ?)",
            [channel, message_id, user_id, _dumps(payload), _now()],
        )
        self.db.conn.commit()
        if cur.rowcount == 1:
            return int(cur.lastrowid), "new"
        row = self.db.execute("SELECT id, status, user_id FROM inbox WHERE channel = ? AND message_id = ?",
                              [channel, message_id]).fetchone()
        inbox_id, status, owner = row
        if owner != user_id:
            return inbox_id, "foreign"
        return inbox_id, {"received": "pending", "done": "undelivered"}.get(status, "done")

    def finish(self, inbox_id: int, replies: list[dict]) -> None:
        """Mark handled (inside the step's transaction): drop the text, keep the replies."""
        self.db.execute(
            "UPDATE inbox SET status = 'done', payload = NULL, replies = ?, sent = 0 WHERE id = ?",
            [_dumps(replies), inbox_id])

    def stored_replies(self, inbox_id: int, unsent: bool = False) -> list[dict]:
        """The replies of a handled message; with `unsent`, only those not yet sent."""
        row = self.db.execute("SELECT replies, sent FROM inbox WHERE id = ?", [inbox_id]).fetchone()
        replies = json.loads(row[0] or "[]") if row else []
        return replies[row[1] or 0:] if row and unsent else replies

    _OWN = "channel = ? AND message_id = ? AND user_id IN (SELECT id FROM users WHERE channel = ? AND external_id = ?)"

    def progress(self, channel: str, message_id: str, external_id: str) -> None:
        """One more of the message's replies has gone out (committed at once)."""
        self.db.execute(f"UPDATE inbox SET sent = sent + 1 WHERE status = 'done' AND {self._OWN}",
                        [channel, message_id, channel, external_id])
        self.db.conn.commit()

    def delivered(self, channel: str, message_id: str, external_id: str) -> None:
        """The channel confirmed delivery. The replies stay for retries of the same id."""
        self.db.execute(f"UPDATE inbox SET status = 'delivered' WHERE status = 'done' AND {self._OWN}",
                        [channel, message_id, channel, external_id])
        self.db.conn.commit()

    def unfinished(self, channel: str | None = None) -> list[dict]:
        """Inbox rows not handled or not delivered (after a crash), oldest first."""
        sql = ("SELECT inbox.*, users.external_id FROM inbox JOIN users ON users.id = inbox.user_id "
               "WHERE inbox.status IN ('received', 'done')")
        params: list[Any] = []
        if channel:
            sql += " AND inbox.channel = ?"
            params.append(channel)
        return list(self.db.query(sql + " ORDER BY inbox.id", params))

    def prune_inbox(self, older_than: dt.timedelta = DEDUP_WINDOW) -> int:
        """Forget delivered messages older than the dedup window, with their replies. A channel
        retries a message for minutes or hours, never for a week; keeping the ids longer only
        keeps metadata about users that no feature needs."""
        now = dt.datetime.now(dt.UTC)
        cutoff = (now - older_than).isoformat(timespec="seconds")
        # Replies never confirmed delivered (a crash between handling and the channel's ack, a
        # chat that kept failing) are given twice as long, then forgotten too; a message never
        # handled ("received") is kept until it is: it is what the user typed.
        stale = (now - 2 * older_than).isoformat(timespec="seconds")
        cur = self.db.execute(
            "DELETE FROM inbox WHERE (received_at < ? AND status = 'delivered')"
            " OR (received_at < ? AND status = 'done')",
            [cutoff, stale])
        self.db.conn.commit()
        return cur.rowcount

    # cases -------------------------------------------------------------------------------
    def save_case(self, user_id: int, kind: str, lang: str, data: dict) -> int:
        cur = self.db.execute(
            "INSERT INTO cases (user_id, kind, lang, data, created_at) VALUES (?, ?, ?, ?, ?)",
            [user_id, kind, lang, _dumps(data), _now()])
        return int(cur.lastrowid)

    def cases(self, user_id: int, kind: str | None = None, limit: int | None = None) -> list[dict]:
        """The user's cases, newest first (at most `limit`); the cost depends on this user's
        rows only (index on user_id)."""
        sql, params = "SELECT * FROM cases WHERE user_id = ?", [user_id]
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return _decoded(self.db.query(sql, params))

    def count_cases(self, user_id: int, kind: str | None = None) -> int:
        sql, params = "SELECT count(*) FROM cases WHERE user_id = ?", [user_id]
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        return int(self.db.execute(sql, params).fetchone()[0])

    def case(self, user_id: int, case_id: int) -> dict | None:
        rows = _decoded(self.db.query("SELECT * FROM cases WHERE user_id = ? AND id = ?", [user_id, case_id]))
        return rows[0] if rows else None

    def prune_idle_users(self, older_than: dt.timedelta = IDLE_USER) -> int:
        """Forget users who left nothing behind: no session, case, complaint, reminder or
        pending message, no language or time zone they chose, not seen for `older_than`
        (a page opened once, a request without a session). They come back as new users."""
        cutoff = (dt.datetime.now(dt.UTC) - older_than).isoformat(timespec="seconds")
        owned = " AND ".join(f"NOT EXISTS (SELECT 1 FROM {t} WHERE {t}.user_id = users.id)" for t in USER_TABLES)
        cur = self.db.execute(
            "DELETE FROM users WHERE created_at < ? AND coalesce(last_seen, created_at) < ? "
            "AND coalesce(lang_source, '') != 'chosen' AND tz IS NULL AND " + owned, [cutoff, cutoff])
        self.db.conn.commit()
        return cur.rowcount

    # privacy -----------------------------------------------------------------------------
    def export_user(self, user_id: int) -> dict:
        """Everything stored about one user, as plain data."""
        out: dict[str, Any] = {"user": self.user_by_id(user_id)}
        for table in USER_TABLES:
            out[table] = list(self.db.query(f"SELECT * FROM {table} WHERE user_id = ?", [user_id]))
        return out

    def delete_user(self, user_id: int) -> None:
        """Erase every row that belongs to the user, the user row last, in one transaction.

        secure_delete (storage.db) zeroes the rows in the file; once the transaction commits,
        the WAL, which still holds the pages as they were, is checkpointed and truncated, and
        the channels are told (`on_delete`) to drop what they keep in memory."""
        user = self.user_by_id(user_id)
        with self.db.atomic():
            for table in USER_TABLES:
                self.db.execute(f"DELETE FROM {table} WHERE user_id = ?", [user_id])
            self.db.execute("DELETE FROM users WHERE id = ?", [user_id])
        if user is not None:
            self._after(lambda: self._deleted(user["channel"], user["external_id"]))

    def _deleted(self, channel: str, external_id: str) -> None:
        checkpoint(self.db)
        for listener in self.on_delete:
            try:
                listener(channel, external_id)
            except Exception as exc:  # a channel's clean-up must not undo the reply
                log.error("on_delete listener failed: %s", type(exc).__name__)
