"""Witness codes (issue 16, item 7; table from migration m009_witness): a short code the
borrower puts in the note to their employer or the message to their contacts, so whoever got
a collector's call can record it on a web page (bot/channels/witness.py) without an account.

A code belongs to one case of one user and says who the witness is to the borrower (employer,
contact, family). Only its SHA-256 is stored: the code is shown once, when it is made, and a
copy of the database gives no working code. It works until `expires_at`, until the borrower
withdraws it (the row goes; entries already made stay in the log), and dies with /delete
(witness_codes is in USER_TABLES). Each entry becomes an event of the case, source "witness",
in the witness's own words; `entries` counts them, capped per code.

Codes are 10 characters from an alphabet without look-alikes (no 0/O, 1/I/L): about 49 bits,
with the page's rate limits far beyond guessing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from typing import NamedTuple

from storage.events import EventStore
from storage.sql import Sql

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10
MAX_LIVE_CODES = 20          # per user; the oldest go first
MAX_ENTRIES = 50             # per code: a witness notes a few calls, not a flood


class WitnessCode(NamedTuple):
    id: int
    user_id: int
    case_id: int
    who: str
    created_at: str
    expires_at: str
    entries: int


def normalize_code(text: str) -> str:
    """What a person typed, as the code: letters upper-cased, spaces and dashes dropped."""
    return re.sub(r"[\s\-_.]", "", text or "").upper()


def code_hash(code: str) -> str:
    return hashlib.sha256(normalize_code(code).encode("utf-8", "surrogatepass")).hexdigest()


def shown(code: str) -> str:
    """ABCDE-FGHJK: easier to read out and type."""
    return f"{code[:5]}-{code[5:]}"


def well_formed(code: str) -> bool:
    c = normalize_code(code)
    return len(c) == CODE_LENGTH and all(ch in ALPHABET for ch in c)


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="seconds")


_COLUMNS = "id, user_id, case_id, who, created_at, expires_at, entries"


class WitnessStore:
    def __init__(self, sql: Sql, events: EventStore):
        self.sql = sql
        self.events = events

    def create(self, user_id: int, case_id: int, who: str, ttl: dt.timedelta) -> tuple[int, str]:
        """A new code; returns (its id, the code), the code shown once and never stored."""
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        now = self.sql.clock()
        with self.sql.transaction():
            self.sql.run("DELETE FROM witness_codes WHERE user_id = ? AND expires_at <= ?", [user_id, _iso(now)])
            self.sql.run("DELETE FROM witness_codes WHERE user_id = ? AND id NOT IN (SELECT id FROM witness_codes"
                         " WHERE user_id = ? ORDER BY id DESC LIMIT ?)", [user_id, user_id, MAX_LIVE_CODES - 1])
            [row] = self.sql.returning(
                "INSERT INTO witness_codes (user_id, case_id, who, code_hash, created_at, expires_at, entries)"
                " VALUES (?, ?, ?, ?, ?, ?, 0) RETURNING id",
                [user_id, case_id, who, code_hash(code), _iso(now), _iso(now + ttl)])
        return int(row["id"]), code

    def find(self, code: str) -> WitnessCode | None:
        """The live code, or None (malformed, unknown, expired, withdrawn, or its user deleted)."""
        if not well_formed(code):
            return None
        row = self.sql.one(f"SELECT {_COLUMNS} FROM witness_codes WHERE code_hash = ? AND expires_at > ?",
                           [code_hash(code), self.sql.now()])
        return None if row is None else WitnessCode(**row)

    def live(self, user_id: int) -> list[WitnessCode]:
        """The user's working codes, newest first."""
        return [WitnessCode(**r) for r in self.sql.rows(
            f"SELECT {_COLUMNS} FROM witness_codes WHERE user_id = ? AND expires_at > ? ORDER BY id DESC",
            [user_id, self.sql.now()])]

    def revoke(self, user_id: int, code_id: int) -> bool:
        """Withdraw a code: it stops working at once. The entries it brought stay in the log."""
        return self.sql.run("DELETE FROM witness_codes WHERE user_id = ? AND id = ?", [user_id, code_id]) > 0

    def record(self, code: WitnessCode, at: dt.datetime, number: str | None, words: str | None) -> int | None:
        """One witness entry into the code's case: a call to a third party, in the witness's
        words. None when the code reached MAX_ENTRIES or is no longer live."""
        with self.sql.transaction():
            taken = self.sql.run("UPDATE witness_codes SET entries = entries + 1 WHERE id = ? AND entries < ?"
                                 " AND expires_at > ?", [code.id, MAX_ENTRIES, self.sql.now()])
            if not taken:
                return None
            return self.events.add(code.user_id, code.case_id, at, "third_party_call", code.who,
                                   number=number, words=words, source="witness")

    def take_unseen(self, user_id: int) -> int:
        """How many witness entries arrived since the borrower was last told; now told."""
        with self.sql.transaction():
            new = int(self.sql.value("SELECT coalesce(sum(entries - seen), 0) FROM witness_codes"
                                     " WHERE user_id = ? AND entries > seen", [user_id]))
            if new:
                self.sql.run("UPDATE witness_codes SET seen = entries WHERE user_id = ? AND entries > seen", [user_id])
        return new

    def prune(self) -> int:
        return self.sql.run("DELETE FROM witness_codes WHERE expires_at <= ?", [self.sql.now()])
