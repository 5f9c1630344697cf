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
USER_TABLES = ("reminders", "complaints", "sessions", "cases", "inbox", "outbox", "web_history",
               "events", "evidence_files", "links", "consents", "witness_codes")


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


@migrations()
def m006_web_history(db: Database) -> None:
    """Issue 15: the web page's recent messages (storage/history.py), so a reload redraws the
    conversation and the pending question. `key`: the page's message id (a retry is recorded
    once); `data`: JSON."""
    db.execute(
        """CREATE TABLE web_history (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            key TEXT,                     -- the page's message id, for "in" rows
            role TEXT NOT NULL,           -- in, out
            data TEXT NOT NULL,           -- JSON
            at TEXT NOT NULL
        )""")
    db.execute("CREATE UNIQUE INDEX web_history_key ON web_history(user_id, key)")
    db.execute("CREATE INDEX web_history_user ON web_history(user_id, id)")
    db.execute("CREATE INDEX web_history_at ON web_history(at)")


@migrations()
def m007_evidence_log(db: Database) -> None:
    """Issue 16: the evidence log. `events`: one contact by a collector, or one step the user
    took (the stop-contact request sent), in a case (cases.id, the lender; a plain integer, as
    in complaints), with when it happened (`at`, UTC), the channel and who was contacted, the
    number used, the user's words or the scanned message with its findings, and where it came
    from (user, scan, witness). `evidence_files`: files attached to a case or an event
    (screenshots, recordings), with their hash and when they arrived (storage/files.py)."""
    db.execute(
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            case_id INTEGER,              -- cases.id; NULL while a scanned message waits to be added
            at TEXT NOT NULL,             -- when it happened, UTC
            kind TEXT NOT NULL,           -- call_answered, call_missed, message, ..., stop_sent
            who TEXT NOT NULL,            -- me, employer, contact, family, school
            number TEXT,                  -- the number or name used
            words TEXT,                   -- what was said, or the scanned message
            findings TEXT NOT NULL DEFAULT '[]',  -- JSON: the scanner's finding ids
            source TEXT NOT NULL DEFAULT 'user' CHECK (source IN ('user', 'scan', 'witness')),
            status TEXT NOT NULL DEFAULT 'logged' CHECK (status IN ('logged', 'pending')),
            witness TEXT,                 -- item 7: the witness's own wording of who they are
            file_id INTEGER,              -- evidence_files.id
            created_at TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX events_case ON events(user_id, case_id, at)")
    db.execute("CREATE INDEX events_pending ON events(status, created_at)")  # the day-old checked messages
    db.execute(
        """CREATE TABLE evidence_files (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            case_id INTEGER,              -- cases.id; NULL: sent before the user had a case
            event_id INTEGER,
            name TEXT NOT NULL,
            mime TEXT NOT NULL,
            size INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            path TEXT NOT NULL,
            received_at TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX evidence_files_case ON evidence_files(user_id, case_id)")


@migrations()
def m008_links_consents(db: Database) -> None:
    """Issue 14. `links`: short-lived pages of this server for one user (`GET /d/<token>`),
    generic by `kind` ("letters" now; "bundle", "witness" later) with what they show in
    `payload` (JSON); only the token's SHA-256 is stored. `consents`: permissions to send one
    notification later (WeChat's one-time 订阅通知), used once each (storage/links.py).
    `outbox.screen`: the buttons (JSON) of the numbered list a waiting message shows."""
    db.execute(
        """CREATE TABLE links (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            kind TEXT NOT NULL,           -- letters, bundle, witness, subscribe ...
            token_hash TEXT NOT NULL,     -- sha256 hex of the token; the token is never stored
            payload TEXT NOT NULL DEFAULT '{}',  -- JSON: what the page shows, e.g. {"case": 3}
            created_at TEXT NOT NULL,     -- UTC
            expires_at TEXT NOT NULL      -- UTC; dead after this
        )""")
    db.execute("CREATE UNIQUE INDEX links_token ON links(token_hash)")
    db.execute("CREATE INDEX links_user ON links(user_id, kind, expires_at)")
    db.execute(
        """CREATE TABLE consents (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            channel TEXT NOT NULL,
            template_id TEXT NOT NULL,    -- the notification template the user accepted
            scene TEXT,                   -- where it was accepted (WeChat's PopupScene)
            status TEXT NOT NULL CHECK (status IN ('granted', 'used')),
            created_at TEXT NOT NULL,
            used_at TEXT
        )""")
    db.execute("CREATE INDEX consents_user ON consents(user_id, template_id, status)")
    # item 5: a waiting message that holds the numbered list carries its buttons, so that once
    # it is delivered a typed number means that list (users.screen)
    db.execute("ALTER TABLE outbox ADD COLUMN screen TEXT")


@migrations()
def m009_witness(db: Database) -> None:
    """Issue 16, item 7. `witness_codes`: a short code the borrower gives the people collectors
    call (in the employer notice, the contacts message), so they can record a call on a page of
    this server; one case and who the witness is (employer, contact, family), only the code's
    SHA-256, an expiry, how many entries it brought and how many of them the borrower has been
    told of (storage/witness.py)."""
    db.execute(
        """CREATE TABLE witness_codes (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            case_id INTEGER NOT NULL,     -- cases.id: the log the entries go to
            who TEXT NOT NULL,            -- employer, contact, family
            code_hash TEXT NOT NULL,      -- sha256 hex of the code; the code is never stored
            created_at TEXT NOT NULL,     -- UTC
            expires_at TEXT NOT NULL,     -- UTC; dead after this
            entries INTEGER NOT NULL DEFAULT 0,
            seen INTEGER NOT NULL DEFAULT 0  -- entries the borrower has been told of
        )""")
    db.execute("CREATE UNIQUE INDEX witness_codes_hash ON witness_codes(code_hash)")
    db.execute("CREATE INDEX witness_codes_user ON witness_codes(user_id, expires_at)")
