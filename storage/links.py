"""Short-lived links to pages of this server, and consents to be notified (tables from migration
m008_links_consents). `Store.links`, on the store's connection and in its transactions.

Links. A link shows one user something of theirs at `GET /d/<token>` without a login: the
letters of a report today ("letters"); later an evidence bundle ("bundle") or a witness page
("witness"). A row is generic: `kind` says what the page is, `payload` (JSON) says what it
shows (for "letters": {"case": <cases.id>}); the renderer for each kind lives with the page
(bot/channels/documents.py). The token itself is never stored, only its SHA-256, so a copy of
the database gives no working link; tokens are `secrets.token_urlsafe(24)` (192 bits). A link
works until `expires_at` (UTC) and dies with the user's rows on /delete (links is in
USER_TABLES).

Consents. A platform's permission to send one notification later (WeChat's 订阅通知, a
one-time subscription: one "accept" allows one message for that template). `granted` rows
are used oldest first, each once (`take_consent`), and a user turning the notifications off
removes what is left (`revoke_consents`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from typing import Any, NamedTuple

from storage.sql import Sql, dumps

MAX_LINKS_PER_USER = 200        # live links a user may hold; the oldest go first
MAX_CONSENTS = 20               # granted consents kept per user and template


class LinkRow(NamedTuple):
    id: int
    user_id: int
    kind: str
    payload: dict[str, Any]
    created_at: str
    expires_at: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="seconds")


class LinkStore:
    def __init__(self, sql: Sql):
        self.sql = sql

    # links -----------------------------------------------------------------------------------
    def create(self, user_id: int, kind: str, payload: dict[str, Any], ttl: dt.timedelta) -> str:
        """A new link for `user_id`; returns the token (shown once, never stored)."""
        token = secrets.token_urlsafe(24)
        now = self.sql.clock()
        with self.sql.transaction():
            self.sql.run("DELETE FROM links WHERE user_id = ? AND expires_at <= ?", [user_id, _iso(now)])
            self.sql.run("DELETE FROM links WHERE user_id = ? AND id NOT IN (SELECT id FROM links WHERE user_id = ?"
                         " ORDER BY id DESC LIMIT ?)", [user_id, user_id, MAX_LINKS_PER_USER - 1])
            self.sql.run("INSERT INTO links (user_id, kind, token_hash, payload, created_at, expires_at)"
                         " VALUES (?, ?, ?, ?, ?, ?)",
                         [user_id, kind, token_hash(token), dumps(payload), _iso(now), _iso(now + ttl)])
        return token

    def find(self, token: str) -> LinkRow | None:
        """The live link of `token`, or None (unknown, expired, or its user deleted)."""
        if not token or len(token) > 128:
            return None
        row = self.sql.one("SELECT id, user_id, kind, payload, created_at, expires_at FROM links"
                           " WHERE token_hash = ? AND expires_at > ?", [token_hash(token), self.sql.now()])
        if row is None:
            return None
        return LinkRow(row["id"], row["user_id"], row["kind"], json.loads(row["payload"] or "{}"),
                       row["created_at"], row["expires_at"])

    def live(self, user_id: int, kind: str) -> list[LinkRow]:
        """The user's live links of one kind, newest first."""
        rows = self.sql.rows("SELECT id, user_id, kind, payload, created_at, expires_at FROM links"
                             " WHERE user_id = ? AND kind = ? AND expires_at > ? ORDER BY id DESC",
                             [user_id, kind, self.sql.now()])
        return [LinkRow(r["id"], r["user_id"], r["kind"], json.loads(r["payload"] or "{}"), r["created_at"],
                        r["expires_at"]) for r in rows]

    def prune(self) -> int:
        """Forget expired links."""
        return self.sql.run("DELETE FROM links WHERE expires_at <= ?", [self.sql.now()])

    # consents --------------------------------------------------------------------------------
    def grant_consent(self, user_id: int, channel: str, template_id: str, scene: str = "") -> int:
        """One more notification allowed (one "accept"). Kept to MAX_CONSENTS per template."""
        with self.sql.transaction():
            held = int(self.sql.value("SELECT count(*) FROM consents WHERE user_id = ? AND template_id = ?"
                                      " AND status = 'granted'", [user_id, template_id]))
            if held >= MAX_CONSENTS:
                return held
            self.sql.run("INSERT INTO consents (user_id, channel, template_id, scene, status, created_at)"
                         " VALUES (?, ?, ?, ?, 'granted', ?)", [user_id, channel, template_id, scene[:32],
                                                                self.sql.now()])
            return held + 1

    def consents(self, user_id: int, template_id: str) -> int:
        """How many notifications the user still allows for the template."""
        return int(self.sql.value("SELECT count(*) FROM consents WHERE user_id = ? AND template_id = ?"
                                  " AND status = 'granted'", [user_id, template_id]))

    def take_consent(self, user_id: int, template_id: str) -> int | None:
        """Use one consent (the oldest); its id, or None when there is none."""
        rows = self.sql.returning(
            "UPDATE consents SET status = 'used', used_at = ? WHERE id = (SELECT id FROM consents"
            " WHERE user_id = ? AND template_id = ? AND status = 'granted' ORDER BY id LIMIT 1) RETURNING id",
            [self.sql.now(), user_id, template_id])
        return int(rows[0]["id"]) if rows else None

    def give_back_consent(self, consent_id: int) -> None:
        """The send failed before WeChat took it: the consent is still unused."""
        self.sql.run("UPDATE consents SET status = 'granted', used_at = NULL WHERE id = ? AND status = 'used'",
                     [consent_id])

    def revoke_consents(self, user_id: int, template_id: str) -> int:
        """The user turned these notifications off: what was granted is gone."""
        return self.sql.run("DELETE FROM consents WHERE user_id = ? AND template_id = ? AND status = 'granted'",
                            [user_id, template_id])
