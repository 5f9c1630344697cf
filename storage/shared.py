"""Queries for state a channel shares between processes (tables from migration
m005_shared_tokens_outbox): access tokens with a refresh lease, and each user's outbox of
messages not delivered yet. `Store.shared`, on the store's connection and transactions.

The token lease works like the reminders' claim: one UPDATE takes it only when nobody holds
it or the holder's lease ran out, so of several processes exactly one refreshes the token;
the others read the row it writes.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from storage.sql import Sql, dumps


class SharedToken(NamedTuple):
    token: str | None
    expires_at: float          # Unix seconds


class OutboxRow(NamedTuple):
    id: int
    text: str
    part: int          # its place in its answer, 1-based ...
    total: int         # ... of this many messages
    screen: list[dict[str, Any]] | None = None   # the buttons of the numbered list it shows


class SharedStore:
    def __init__(self, sql: Sql):
        self.sql = sql

    # access tokens ---------------------------------------------------------------------------
    def token(self, name: str) -> SharedToken | None:
        row = self.sql.one("SELECT token, expires_at FROM api_tokens WHERE name = ?", [name])
        return None if row is None else SharedToken(row["token"], float(row["expires_at"]))

    def claim_token_refresh(self, name: str, lease: str, now: float, seconds: float) -> bool:
        """Take the right to refresh `name` for `seconds` (True), unless another holds it."""
        with self.sql.transaction():
            self.sql.run("INSERT INTO api_tokens (name) VALUES (?) ON CONFLICT (name) DO NOTHING", [name])
            return self.sql.run("UPDATE api_tokens SET lease = ?, lease_until = ? WHERE name = ?"
                                " AND (lease IS NULL OR lease_until <= ?)",
                                [lease, now + seconds, name, now]) == 1

    def put_token(self, name: str, lease: str, token: str, expires_at: float) -> bool:
        """Store the new token and end the lease (only its holder can)."""
        return self.sql.run("UPDATE api_tokens SET token = ?, expires_at = ?, lease = NULL, lease_until = 0"
                            " WHERE name = ? AND lease = ?", [token, expires_at, name, lease]) == 1

    def release_token_refresh(self, name: str, lease: str) -> None:
        self.sql.run("UPDATE api_tokens SET lease = NULL, lease_until = 0 WHERE name = ? AND lease = ?",
                     [name, lease])

    # outbox ----------------------------------------------------------------------------------
    def outbox_add(self, user_id: int, channel: str, texts: list[tuple[str, int, int]],
                   replace: bool = False, screens: dict[int, list[dict[str, Any]]] | None = None) -> None:
        """Messages (text, part, total) to deliver after what is waiting (or instead of it);
        `screens`: index in `texts` -> the buttons of the numbered list that message shows."""
        now = self.sql.now()
        screens = screens or {}
        with self.sql.transaction():
            if replace:
                self.outbox_clear(user_id)
            for i, (text, part, total) in enumerate(texts):
                screen = dumps(screens[i]) if i in screens else None
                self.sql.run("INSERT INTO outbox (user_id, channel, text, part, total, created_at, screen)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?)", [user_id, channel, text, part, total, now, screen])

    def outbox(self, user_id: int, limit: int = 100) -> list[OutboxRow]:
        """The user's waiting messages, oldest first."""
        return [OutboxRow(r["id"], r["text"], r["part"], r["total"],
                          json.loads(r["screen"]) if r["screen"] else None) for r in
                self.sql.rows("SELECT id, text, part, total, screen FROM outbox WHERE user_id = ? ORDER BY id"
                              " LIMIT ?", [user_id, limit])]

    def outbox_count(self, user_id: int) -> int:
        return int(self.sql.value("SELECT count(*) FROM outbox WHERE user_id = ?", [user_id]))

    def outbox_take(self, user_id: int, row_id: int) -> bool:
        """Remove one waiting message (it was delivered). False: already gone."""
        return self.sql.run("DELETE FROM outbox WHERE id = ? AND user_id = ?", [row_id, user_id]) == 1

    def outbox_clear(self, user_id: int) -> int:
        return self.sql.run("DELETE FROM outbox WHERE user_id = ?", [user_id])
