"""Files kept as evidence: photos, voice notes, videos and documents a user sent (issue 14
item 6), in the `evidence_files` table (migration m007_evidence_log) with their files on
disk. `Store.files`, on the store's connection and in its transactions.

On disk. A channel downloads into the files directory next to the database (`files_dir`),
as a temporary file created with mode 0600 in a directory of mode 0700; `keep` gives it its
final random name (`os.replace`, atomic within the directory) and records it in the same
transaction as the reply. The name on disk says nothing of the user or the content; the
user's own file name, its type, size, SHA-256 and the time it arrived are in the row. On
/delete, Store.delete_user removes the files after the rows are gone (`paths` first). A
temporary file whose message never finished (a crash mid-download) is removed by `sweep`.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import time
from pathlib import Path
from typing import cast

from storage.rows import EvidenceFileRow
from storage.sql import Sql

TMP_PREFIX = "tmp-"
TMP_MAX_AGE = 24 * 3600.0  # seconds a temporary download may stay before `sweep` removes it


def files_dir(db_path: Path) -> Path:
    """Where the evidence files of the database at `db_path` live: `files/` beside it."""
    return db_path.resolve().parent / "files"


def temp_file(directory: Path) -> Path:
    """A new, empty temporary file in `directory` (created 0700 if missing), mode 0600."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / f"{TMP_PREFIX}{secrets.token_hex(16)}"
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return path


def sweep(directory: Path, known: set[str], max_age: float = TMP_MAX_AGE, now: float | None = None) -> int:
    """Remove what no row points at and is older than `max_age` seconds: temporary downloads
    whose message failed or whose process died, and kept files whose transaction rolled back.
    `known`: the paths the database holds (FileStore.known_paths). Returns how many went."""
    if not directory.is_dir():
        return 0
    cutoff = (time.time() if now is None else now) - max_age
    removed = 0
    for path in directory.iterdir():
        if str(path) in known or not path.is_file():
            continue
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


class FileStore:
    def __init__(self, sql: Sql):
        self.sql = sql

    def keep(self, user_id: int, case_id: int | None, temp: Path, *, name: str, mime: str, size: int,
             sha256: str, received_at: dt.datetime, event_id: int | None = None) -> int:
        """Give the downloaded `temp` its final name and record it; returns the row's id. The
        file is moved first: if the transaction then rolls back, the file is an orphan that no
        row points at (removed by `sweep`), never a
        row without its file."""
        final = temp.with_name(secrets.token_hex(16))
        os.replace(temp, final)
        [row] = self.sql.returning(
            "INSERT INTO evidence_files (user_id, case_id, event_id, name, mime, size, sha256, path, received_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [user_id, case_id, event_id, name, mime, size, sha256, str(final),
             received_at.astimezone(dt.UTC).isoformat(timespec="seconds")])
        return int(row["id"])

    def of_user(self, user_id: int) -> list[EvidenceFileRow]:
        return cast(list[EvidenceFileRow], self.sql.rows(
            "SELECT * FROM evidence_files WHERE user_id = ? ORDER BY received_at, id", [user_id]))

    def total_bytes(self, user_id: int) -> int:
        return int(self.sql.value("SELECT coalesce(sum(size), 0) FROM evidence_files WHERE user_id = ?",
                                  [user_id]))

    def count(self, user_id: int) -> int:
        return int(self.sql.value("SELECT count(*) FROM evidence_files WHERE user_id = ?", [user_id]))

    def paths(self, user_id: int) -> list[Path]:
        return [Path(r["path"]) for r in self.sql.rows("SELECT path FROM evidence_files WHERE user_id = ?",
                                                        [user_id])]

    def known_paths(self) -> set[str]:
        return {str(r["path"]) for r in self.sql.rows("SELECT path FROM evidence_files", [])}


def remove(paths: list[Path]) -> None:
    """Delete files (a missing one is fine: deleted already)."""
    for path in paths:
        path.unlink(missing_ok=True)
