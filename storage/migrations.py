"""Schema, created and upgraded by sqlite-utils' built-in migrations.

Add a new function at the end for every change; never edit one that has shipped.
Every user-owned table has a `user_id` column, so export and delete are complete by
construction (see Store.export_user / Store.delete_user, which iterate USER_TABLES).
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("borrower_guard")

# Tables whose rows belong to one user; export and delete walk this list.
USER_TABLES = ("sessions", "cases", "inbox")


@migrations()
def m001_initial(db: Database) -> None:
    db["users"].create(
        {
            "id": int,
            "channel": str,
            "external_id": str,
            "lang": str,
            "lang_source": str,   # hint (platform), text (followed what they typed), chosen
            "tz": str,
            "screen": str,        # JSON: the buttons of the last screen shown (for typed answers)
            "created_at": str,
            "last_seen": str,
        },
        pk="id",
        not_null={"channel", "external_id", "created_at"},
    )
    db["users"].create_index(["channel", "external_id"], unique=True)
    db["sessions"].create(
        {
            "user_id": int,
            "dialog": str,
            "step": str,
            "slots": str,         # JSON
            "history": str,       # JSON list of step ids, for /back
            "invalid": int,
            "editing": int,
            "updated_at": str,
        },
        pk="user_id",
        foreign_keys=[("user_id", "users", "id")],
        not_null={"dialog", "step", "slots"},
    )
    db["cases"].create(
        {
            "id": int,
            "user_id": int,
            "kind": str,
            "lang": str,
            "data": str,          # JSON: answers, findings, drafts
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("user_id", "users", "id")],
        not_null={"user_id", "kind", "data", "created_at"},
    )
    db["cases"].create_index(["user_id"])
    db["inbox"].create(
        {
            "id": int,
            "channel": str,
            "message_id": str,
            "user_id": int,
            "payload": str,       # JSON of the inbound message, kept only until it is handled
            "status": str,        # received -> done
            "replies": str,       # JSON, kept only until the channel confirms delivery
            "received_at": str,
        },
        pk="id",
        foreign_keys=[("user_id", "users", "id")],
        not_null={"channel", "message_id", "user_id", "status", "received_at"},
    )
    db["inbox"].create_index(["channel", "message_id"], unique=True)
    db["inbox"].create_index(["user_id"])
    db["inbox"].create_index(["status"])
