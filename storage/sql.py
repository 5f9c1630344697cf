"""The one place that runs SQL: a database connection, its transactions and its clock.

`Store` and `ReminderStore` hold one `Sql` each (a store's reminders share the store's), and
every statement the bot runs goes through it. Nothing above storage/ touches a connection.

Transactions
    `transaction()` is the one primitive, and it nests: the outermost block is
    BEGIN IMMEDIATE ... COMMIT (the write lock is taken before the first read, so a second
    process committing in between makes this one wait, busy_timeout, instead of failing with
    "database is locked"); a block inside an open transaction is a SAVEPOINT, released at its
    end or rolled back alone on an exception (the way sqlite-utils' `Database.atomic` does it).
    A single write statement (`run`, `returning`) outside any transaction is wrapped in one of
    its own; inside one it is simply part of it. Nothing here ever commits a caller's
    transaction: `commit()` is never called.

A second backend (PostgreSQL) is another implementation of this class (plus storage/db.py
and the migrations): its connection, transactions, parameter style (`?` and `:name` here),
`ping` and `scrub`. The statements in Store and ReminderStore stay as they are: standard
`INSERT ... ON CONFLICT DO NOTHING`, `RETURNING` and `UPDATE ... RETURNING`, never
`INSERT OR IGNORE`, `lastrowid` or index hints.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlite_utils import Database

from storage.db import checkpoint

log = logging.getLogger("storage")
Clock = Callable[[], dt.datetime]
Params = Sequence[Any] | Mapping[str, Any]

_savepoints = itertools.count(1)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def dumps(value: Any) -> str:
    """A value for a JSON column: compact, non-ASCII kept as is."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Sql:
    def __init__(self, db: Database, clock: Clock = utcnow):
        self.db = db
        self.clock = clock
        self._after_commit: list[Callable[[], None]] = []

    def ping(self) -> bool:
        """Does the database answer? (/healthz)"""
        try:
            self.value("SELECT 1")
        except sqlite3.Error as exc:
            log.error("database error %s", type(exc).__name__)
            return False
        return True

    def scrub(self) -> None:
        """After a deletion has committed: leave no copy of the deleted rows behind (SQLite:
        checkpoint and truncate the WAL, which still holds the pages as they were)."""
        checkpoint(self.db)

    def now(self) -> str:
        """The clock's time as stored in users, sessions, cases and inbox: UTC ISO to the second."""
        return self.clock().astimezone(dt.UTC).isoformat(timespec="seconds")

    # transactions -----------------------------------------------------------------------
    @property
    def in_transaction(self) -> bool:
        return self.db.conn.in_transaction

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit; nested blocks are savepoints (see the module docstring)."""
        conn = self.db.conn
        if conn.in_transaction:
            name = f"sp{next(_savepoints)}"
            conn.execute(f"SAVEPOINT {name}")
            try:
                yield
            except BaseException:
                if conn.in_transaction:  # an error may have ended the whole transaction already
                    conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                    conn.execute(f"RELEASE SAVEPOINT {name}")
                raise
            conn.execute(f"RELEASE SAVEPOINT {name}")
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._after_commit.clear()
            raise
        self._run_after_commit()

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run `fn` once the current transaction commits (at once when there is none)."""
        self._after_commit.append(fn)
        if not self.db.conn.in_transaction:
            self._run_after_commit()

    def _run_after_commit(self) -> None:
        while self._after_commit:
            self._after_commit.pop(0)()

    # statements -------------------------------------------------------------------------
    def rows(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        """A query's rows as dicts (column name -> value)."""
        cur = self.db.conn.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def one(self, sql: str, params: Params = ()) -> dict[str, Any] | None:
        """The first row, or None."""
        cur = self.db.conn.execute(sql, params)
        row = cur.fetchone()
        return None if row is None else dict(zip([d[0] for d in cur.description], row, strict=True))

    def value(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row, or None."""
        row = self.db.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def run(self, sql: str, params: Params = ()) -> int:
        """A write; the number of rows it changed."""
        if self.db.conn.in_transaction:
            return self.db.conn.execute(sql, params).rowcount
        with self.transaction():
            return self.db.conn.execute(sql, params).rowcount

    def returning(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        """A write with a RETURNING clause; the rows it returned."""
        if self.db.conn.in_transaction:
            return self.rows(sql, params)
        with self.transaction():
            return self.rows(sql, params)
