"""Opening the database: file mode 0600, WAL, busy timeout, migrations."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlite_utils import Database

from storage.migrations import migrations


def open_db(path: Path | str) -> Database:
    """Open (creating if needed) the SQLite file at `path` and bring its schema up to date.

    The file is created with mode 0600 before SQLite touches it, so borrowers' data is never
    readable by other local users; SQLite gives the -wal and -shm files the same mode.
    synchronous=NORMAL in WAL mode survives a killed process without losing a committed
    step (only a power cut can lose the last transactions), at a fraction of FULL's cost.
    """
    if str(path) == ":memory:":
        db = Database(memory=True)
    else:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)
        os.chmod(path, 0o600)
        db = Database(sqlite3.connect(str(path), timeout=10, check_same_thread=False))
        db.enable_wal()
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA busy_timeout=10000")
    migrations.apply(db)
    return db
