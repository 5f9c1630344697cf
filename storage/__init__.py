"""SQLite storage through sqlite-utils: schema migrations and the queries the bot needs."""

from storage.db import open_db
from storage.store import Store

__all__ = ["Store", "open_db"]
