"""Every query the bot makes, in one place. Plain dicts in and out; no business logic."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlite_utils import Database

from storage.migrations import USER_TABLES


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Store:
    def __init__(self, db: Database):
        self.db = db

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
            raise
        self.db.conn.execute("COMMIT")

    # users -------------------------------------------------------------------------------
    def user(self, channel: str, external_id: str) -> dict:
        """The user row for a channel id, created on first contact."""
        row = self._user_row(channel, external_id)
        if row is None:
            now = _now()
            self.db.execute(
                "INSERT OR IGNORE INTO users (channel, external_id, created_at, last_seen) "
                "VALUES (?, ?, ?, ?)",
                [channel, external_id, now, now],
            )
            self.db.conn.commit()
            row = self._user_row(channel, external_id)
            assert row is not None
        return row

    def _user_row(self, channel: str, external_id: str) -> dict | None:
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
        return row

    def save_session(self, user_id: int, dialog: str, step: str, slots: dict, history: list[str],
                     invalid: int = 0, editing: bool = False) -> None:
        self.db.execute(
            "INSERT INTO sessions (user_id, dialog, step, slots, history, invalid, editing, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(user_id) DO UPDATE SET dialog = excluded.dialog, "
            "step = excluded.step, slots = excluded.slots, history = excluded.history, "
            "invalid = excluded.invalid, editing = excluded.editing, updated_at = excluded.updated_at",
            [user_id, dialog, step, _dumps(slots), _dumps(history), invalid, int(editing), _now()])

    def clear_session(self, user_id: int) -> None:
        self.db.execute("DELETE FROM sessions WHERE user_id = ?", [user_id])

    # inbox: dedup and crash recovery ---------------------------------------------------
    def receive(self, channel: str, message_id: str, user_id: int, payload: dict) -> tuple[int, str]:
        """Record an inbound message before it is handled (committed at once).

        Returns (inbox id, state): "new"; "pending" (seen but never finished: a crash,
        handle it now); "undelivered" (handled, replies not yet confirmed sent); "done".
        """
        cur = self.db.execute(
            "INSERT OR IGNORE INTO inbox (channel, message_id, user_id, payload, status, received_at)"
            " VALUES (?, ?, ?, ?, 'received', ?)",
            [channel, message_id, user_id, _dumps(payload), _now()],
        )
        self.db.conn.commit()
        if cur.rowcount == 1:
            return int(cur.lastrowid), "new"
        row = next(self.db.query(
            "SELECT id, status, replies FROM inbox WHERE channel = ? AND message_id = ?",
            [channel, message_id]))
        if row["status"] == "received":
            return row["id"], "pending"
        return row["id"], "undelivered" if row["replies"] is not None else "done"

    def finish(self, inbox_id: int, replies: list[dict]) -> None:
        """Mark handled (inside the step's transaction): drop the text, keep the replies."""
        self.db.execute(
            "UPDATE inbox SET status = 'done', payload = NULL, replies = ? WHERE id = ?",
            [_dumps(replies), inbox_id])

    def stored_replies(self, inbox_id: int) -> list[dict]:
        row = next(self.db.query("SELECT replies FROM inbox WHERE id = ?", [inbox_id]))
        return json.loads(row["replies"] or "[]")

    def delivered(self, channel: str, message_id: str) -> None:
        self.db.execute(
            "UPDATE inbox SET replies = NULL WHERE channel = ? AND message_id = ?",
            [channel, message_id])
        self.db.conn.commit()

    def unfinished(self, channel: str | None = None) -> list[dict]:
        """Inbox rows not handled or not delivered (after a crash), oldest first."""
        sql = ("SELECT inbox.*, users.external_id FROM inbox JOIN users ON users.id = inbox.user_id "
               "WHERE (inbox.status = 'received' OR inbox.replies IS NOT NULL)")
        params: list[Any] = []
        if channel:
            sql += " AND inbox.channel = ?"
            params.append(channel)
        return list(self.db.query(sql + " ORDER BY inbox.id", params))

    def prune_inbox(self, older_than: dt.timedelta = dt.timedelta(days=7)) -> int:
        """Forget handled, delivered messages older than the dedup window. A channel retries
        a message for minutes or hours, never for a week; keeping the ids longer only keeps
        metadata about users that no feature needs."""
        cutoff = (dt.datetime.now(dt.UTC) - older_than).isoformat(timespec="seconds")
        cur = self.db.execute(
            "DELETE FROM inbox WHERE status = 'done' AND replies IS NULL AND received_at < ?", [cutoff])
        self.db.conn.commit()
        return cur.rowcount

    # cases -------------------------------------------------------------------------------
    def save_case(self, user_id: int, kind: str, lang: str, data: dict) -> int:
        cur = self.db.execute(
            "INSERT INTO cases (user_id, kind, lang, data, created_at) VALUES (?, ?, ?, ?, ?)",
            [user_id, kind, lang, _dumps(data), _now()])
        return int(cur.lastrowid)

    def cases(self, user_id: int, kind: str | None = None) -> list[dict]:
        sql, params = "SELECT * FROM cases WHERE user_id = ?", [user_id]
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        rows = list(self.db.query(sql + " ORDER BY id DESC", params))
        for row in rows:
            row["data"] = json.loads(row["data"])
        return rows

    def case(self, user_id: int, case_id: int) -> dict | None:
        rows = [r for r in self.cases(user_id) if r["id"] == case_id]
        return rows[0] if rows else None

    # privacy -----------------------------------------------------------------------------
    def export_user(self, user_id: int) -> dict:
        """Everything stored about one user, as plain data."""
        out: dict[str, Any] = {"user": self.user_by_id(user_id)}
        for table in USER_TABLES:
            out[table] = list(self.db.query(f"SELECT * FROM {table} WHERE user_id = ?", [user_id]))
        return out

    def delete_user(self, user_id: int) -> None:
        """Erase every row that belongs to the user, the user row last, in one transaction."""
        with self.db.atomic():
            for table in USER_TABLES:
                self.db.execute(f"DELETE FROM {table} WHERE user_id = ?", [user_id])
            self.db.execute("DELETE FROM users WHERE id = ?", [user_id])
