"""Storage: the only package that speaks SQL (SQLite through sqlite-utils today).

`Store` (users, sessions, inbox, cases, privacy) and its `reminders` (reminders, complaints)
are the facade; `Store.transaction()` is the one transaction primitive and it nests
(storage.sql). Rows come out typed (storage.rows). A second backend implements these
classes; nothing above storage/ sees a connection, a cursor or SQL.
"""

from storage.db import open_db
from storage.reminders import ReminderStore
from storage.store import Store

__all__ = ["ReminderStore", "Store", "open_db"]
