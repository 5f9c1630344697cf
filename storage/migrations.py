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
# reminders and complaints come first: they point at cases and at each other.
USER_TABLES = ("reminders", "complaints", "sessions", "cases", "inbox", "outbox")


@migrations()
def m001_initial(db: Database) -> None:
    db.table("users").create(
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
    db.table("users").create_index(["channel", "external_id"], unique=True)
    db.table("sessions").create(
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
    db.table("cases").create(
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
    db.table("cases").create_index(["user_id"])
    db.table("inbox").create(
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
    db.table("inbox").create_index(["channel", "message_id"], unique=True)
    db.table("inbox").create_index(["user_id"])
    db.table("inbox").create_index(["status"])


@migrations()
def m002_complaints_reminders(db: Database) -> None:
    """Complaints the user filed (where, when, ticket, answer due) and reminders as rows.

    A reminder is delivered by whichever process claims it first (status pending -> claimed,
    with a claim token and time), then marked sent; see bot/scheduler.py. Times are UTC ISO
    strings ("2026-12-01T01:00:00Z"), so text order is time order and indexes range-scan.
    case_id, parent_id and complaint_id are plain integers, not foreign keys, so deleting a
    user's rows (USER_TABLES, in any order) never trips a constraint.
    """
    db.execute(
        """CREATE TABLE complaints (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            case_id INTEGER,              -- the report it belongs to (cases.id), if any
            parent_id INTEGER,            -- the complaint this one escalates, if any
            body TEXT NOT NULL,           -- lender_service, nfra, local_bureau, nifa, police, ...
            body_name TEXT,               -- for body = other: the name the user typed
            lender TEXT,
            lender_kind TEXT,
            filed_on TEXT NOT NULL,       -- local date (YYYY-MM-DD) the user filed it
            ticket TEXT,
            stage TEXT NOT NULL,          -- answer, accept, conclude, review, stop, follow_up
            due_on TEXT,                  -- local date the answer is due (last day)
            status TEXT NOT NULL,         -- open, solved, unsolved, no_answer, closed
            history TEXT NOT NULL DEFAULT '[]',  -- JSON: [{"on": date, "answer": ...}]
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX complaints_user ON complaints(user_id, status)")
    db.execute(
        """CREATE TABLE reminders (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            channel TEXT NOT NULL,        -- the user's channel (users.channel), for the sender
            kind TEXT NOT NULL,           -- personal | complaint
            complaint_id INTEGER,         -- for kind = complaint
            text TEXT,                    -- for kind = personal: what to remind of
            due_at TEXT NOT NULL,         -- UTC
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'claimed', 'sent', 'cancelled')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,  -- UTC; = due_at until a send fails or is deferred
            claim_token TEXT,
            claimed_at TEXT,
            sent_at TEXT,
            sent_via TEXT,                -- push (scheduler) | reply (with the user's next message)
            last_error TEXT,              -- exception type only, never message text
            created_at TEXT NOT NULL
        )""")
    # The scheduler's per-tick claim range-scans this index: pending rows due by now, oldest
    # first; rows due later are never read, so a tick costs the same with 1k or 100k pending.
    db.execute("CREATE INDEX reminders_due ON reminders(status, due_at, next_attempt_at)")
    db.execute("CREATE INDEX reminders_user ON reminders(user_id, status, due_at)")
    db.execute("CREATE INDEX reminders_complaint ON reminders(complaint_id, status)")


@migrations()
def m003_session_paused(db: Database) -> None:
    """A dialog set aside by a crisis reply: kept, but the next typed message is not taken as
    its answer (the question is no longer on screen); the user resumes it with a button."""
    db.execute("ALTER TABLE sessions ADD COLUMN paused INTEGER NOT NULL DEFAULT 0")


@migrations()
def m004_inbox_delivery(db: Database) -> None:
    """Replies are kept for the whole dedup window, so any retry of a message id gets the same
    answer, after a restart too (issue 12). Status: received -> done (handled, delivery not
    confirmed) -> delivered (it used to be "done with replies NULL"); `sent` counts the replies
    that went out, so a channel delivering one at a time (Telegram) resumes after a crash at
    the first one not sent."""
    db.execute("ALTER TABLE inbox ADD COLUMN sent INTEGER NOT NULL DEFAULT 0")
    db.execute("UPDATE inbox SET status = 'delivered' WHERE status = 'done' AND replies IS NULL")
    db.execute("CREATE INDEX inbox_received ON inbox(received_at)")


@migrations()
def m005_shared_tokens_outbox(db: Database) -> None:
    """Issue 14. `api_tokens`: a platform's access token shared by every process (WeChat's:
    workers that each fetch one expire each other's and use up the daily quota), with its
    expiry and a refresh lease (one process refreshes; the others wait and read it). Times are
    Unix seconds. `outbox`: messages of an answer not delivered yet (WeChat: the rest of the
    letters after a per-user cap, or waiting for "more" without the customer-service API), in
    order, until they are sent or the user deletes their data."""
    db.execute(
        """CREATE TABLE api_tokens (
            name TEXT PRIMARY KEY,        -- e.g. wechat:<app id>
            token TEXT,
            expires_at REAL NOT NULL DEFAULT 0,
            lease TEXT,                   -- the refreshing process's claim
            lease_until REAL NOT NULL DEFAULT 0
        )""")
    db.execute(
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            channel TEXT NOT NULL,
            text TEXT NOT NULL,           -- one whole message
            part INTEGER NOT NULL,        -- its place in its answer (1-based) ...
            total INTEGER NOT NULL,       -- ... of this many messages ("part 2 of 5")
            created_at TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX outbox_user ON outbox(user_id, id)")
