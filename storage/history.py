"""The web page's conversation history: what was shown, so a reload (WeChat's browser reloads
after switching apps) redraws the conversation and the question still waiting for an answer.

One row per message on the screen: `role` "in" (what the user sent, as shown: their text or
the label of the button they tapped) or "out" (one reply, as the page draws it: the JSON of
`Reply.to_json` without file links, which are short-lived). Bounded per user (MAX_MESSAGES,
MAX_AGE), in USER_TABLES: /export shows it and /delete erases it with everything else.

`key` is the page's message id: a retried POST (same id) replays the same replies, and is
recorded once.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, cast

from storage.rows import HistoryRow
from storage.sql import Sql, dumps

MAX_MESSAGES = 200              # rows kept per user (the oldest go first)
MAX_AGE = dt.timedelta(days=30)  # rows older than this go


class HistoryStore:
    def __init__(self, sql: Sql):
        self.sql = sql

    def record(self, user_id: int, key: str | None, shown: dict[str, Any] | None,
               replies: list[dict[str, Any]], replace_last: bool = False) -> bool:
        """Add what the user sent (`shown`, None for nothing shown: an automatic /start, a
        reminder) and the replies, in one transaction; with `replace_last`, the one reply
        takes the place of the user's last one instead (a multi-select ticked in place).
        False, recording nothing, when `key` was recorded already (a retry)."""
        now = self.sql.now()
        with self.sql.transaction():
            if key is not None:
                first = self.sql.returning(
                    "INSERT INTO web_history (user_id, key, role, data, at) VALUES (?, ?, 'in', ?, ?)"
                    " ON CONFLICT (user_id, key) DO NOTHING RETURNING id",
                    [user_id, key, dumps(shown or {"hidden": True}), now])
                if not first:
                    return False
            elif shown is not None:
                self.sql.run("INSERT INTO web_history (user_id, role, data, at) VALUES (?, 'in', ?, ?)",
                             [user_id, dumps(shown), now])
            if replace_last and len(replies) == 1:
                self.sql.run("UPDATE web_history SET data = ? WHERE id = (SELECT max(id) FROM web_history"
                             " WHERE user_id = ? AND role = 'out')", [dumps(replies[0]), user_id])
                return True
            for reply in replies:
                self.sql.run("INSERT INTO web_history (user_id, role, data, at) VALUES (?, 'out', ?, ?)",
                             [user_id, dumps(reply), now])
            self._bound(user_id)
        return True

    def recent(self, channel: str, external_id: str, limit: int = MAX_MESSAGES) -> list[HistoryRow]:
        """The user's rows, oldest first (at most `limit`, the newest ones)."""
        rows = self.sql.rows(
            "SELECT h.id, h.role, h.data, h.at FROM web_history h JOIN users u ON u.id = h.user_id"
            " WHERE u.channel = ? AND u.external_id = ? ORDER BY h.id DESC LIMIT ?", [channel, external_id, limit])
        for row in rows:
            row["data"] = json.loads(row["data"])
        return cast(list[HistoryRow], rows[::-1])

    def _bound(self, user_id: int) -> None:
        self.sql.run("DELETE FROM web_history WHERE user_id = ? AND id <= (SELECT id FROM web_history"
                     " WHERE user_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)", [user_id, user_id, MAX_MESSAGES])

    def prune(self, older_than: dt.timedelta = MAX_AGE) -> int:
        """Forget every user's rows older than `older_than`."""
        cutoff = (self.sql.clock().astimezone(dt.UTC) - older_than).isoformat(timespec="seconds")
        return self.sql.run("DELETE FROM web_history WHERE at < ?", [cutoff])
