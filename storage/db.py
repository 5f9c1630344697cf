"""Opening the database: file mode 0600, WAL, busy timeout, secure delete, migrations."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from sqlite_utils import Database

from storage.migrations import migrations


def create_private(path: Path) -> None:
    """Create `path` empty with mode 0600 if it does not exist; tighten the mode if it does.

    An existing database file is never opened with os.open: closing any descriptor of a file
    drops *all* of this process's POSIX locks on it, including those SQLite holds through
    connections already open. Another process (the sqlite3 shell, a backup, `chat` beside
    `serve`) would then believe it was the last user, checkpoint and unlink the -wal file, and
    this process would go on committing into the unlinked file: gone at the next crash.
    O_EXCL creates the file only when it is new, and then no connection can have it open.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        if os.stat(path).st_mode & 0o077:
            os.chmod(path, 0o600)  # by path: no descriptor, no lock lost
        return
    os.close(fd)


def open_db(path: Path | str) -> Database:
    """Open (creating if needed) the SQLite file at `path` and bring its schema up to date.

    The file is created with mode 0600 before SQLite touches it, so borrowers' data is never
    readable by other local users; SQLite gives the -wal and -shm files the same mode.
    synchronous=NORMAL in WAL mode survives a killed process without losing a committed
    step (only a power cut can lose the last transactions), at a fraction of FULL's cost.
    secure_delete=ON overwrites deleted rows with zeros, so /delete leaves no copy in the file
    (Store.delete_user then checkpoints the WAL, which held the old pages).
    """
    if str(path) == ":memory:":
        db = Database(memory=True)
    else:
        path = Path(path)
        create_private(path)
        db = Database(sqlite3.connect(str(path), timeout=10, check_same_thread=False))
        db.enable_wal()
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA busy_timeout=10000")
    db.execute("PRAGMA secure_delete=ON")
    migrations.apply(db)
    return db


def checkpoint(db: Database) -> bool:
    """Copy the WAL into the database and truncate it to zero bytes (after a /delete, so the
    deleted rows' old pages do not linger in -wal). False when a reader kept it from finishing
    (it is retried at the next delete, and SQLite's own checkpoints overwrite the WAL too)."""
    with contextlib.suppress(sqlite3.Error):
        busy, _, _ = db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return busy == 0
    return False
