"""Storage: file mode, WAL, migrations, inbox states, export and delete."""

from __future__ import annotations

import datetime as dt
import os
import stat

from storage import Store, open_db
from storage.migrations import USER_TABLES, migrations


def test_file_is_private_wal_and_migrated(tmp_path):
    path = tmp_path / "sub" / "bot.db"
    db = open_db(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"users", "sessions", "cases", "inbox"} <= set(db.table_names())
    assert [m.name for m in migrations.applied(db)] == [m.name for m in migrations._migrations]
    db.close()
    again = open_db(path)  # re-opening applies nothing twice
    assert len(migrations.pending(again)) == 0


def test_existing_file_with_loose_mode_is_tightened(tmp_path):
    path = tmp_path / "bot.db"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    open_db(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_inbox_states(tmp_path):
    store = Store(open_db(tmp_path / "bot.db"))
    uid = store.user("test", "a")["id"]
    assert store.receive("test", "1", uid, {"text": "hi"}) == (1, "new")
    assert store.receive("test", "1", uid, {"text": "hi"}) == (1, "pending")
    with store.transaction():
        store.finish(1, [{"text": "reply"}, {"text": "second"}])
    assert store.receive("test", "1", uid, {}) == (1, "undelivered")
    assert store.stored_replies(1) == [{"text": "reply"}, {"text": "second"}]
    store.progress("test", "1", "a")                    # the first reply went out
    assert store.stored_replies(1, unsent=True) == [{"text": "second"}]
    assert [r["message_id"] for r in store.unfinished("test")] == ["1"]
    store.delivered("test", "1", "a")
    assert store.receive("test", "1", uid, {}) == (1, "done")
    assert store.unfinished("test") == []
    row = next(store.db.query("SELECT * FROM inbox"))
    assert row["payload"] is None                      # the text the user typed is not kept
    assert store.stored_replies(1) == [{"text": "reply"}, {"text": "second"}]  # kept for retries
    assert store.receive("other", "1", uid, {})[1] == "new"  # ids are per channel
    b = store.user("test", "b")["id"]
    assert store.receive("test", "1", b, {})[1] == "foreign"  # someone else's id: not theirs
    store.delivered("test", "1", "b")                   # and b cannot acknowledge a's message
    store.progress("test", "1", "b")
    assert store.db.execute("SELECT sent FROM inbox WHERE id = 1").fetchone()[0] == 1


def test_transaction_rolls_back_together(tmp_path):
    store = Store(open_db(tmp_path / "bot.db"))
    uid = store.user("test", "a")["id"]
    inbox_id, _ = store.receive("test", "1", uid, {"text": "x"})
    try:
        with store.transaction():
            store.save_session(uid, "d", "s", {"a": 1}, [])
            store.finish(inbox_id, [])
            raise RuntimeError("crash mid-step")
    except RuntimeError:
        pass
    assert store.session(uid) is None
    assert store.receive("test", "1", uid, {})[1] == "pending"


def test_export_and_delete_cover_every_user_table(tmp_path):
    store = Store(open_db(tmp_path / "bot.db"))
    a = store.user("test", "a")["id"]
    b = store.user("test", "b")["id"]
    for uid in (a, b):
        store.save_session(uid, "d", "s", {"k": uid}, [])
        store.save_case(uid, "report", "zh", {"lender": f"L{uid}"})
        store.receive("test", f"m{uid}", uid, {"text": "x"})
    exported = store.export_user(a)
    assert set(exported) == {"user", *USER_TABLES}
    assert all(len(exported[t]) == 1 for t in ("sessions", "cases", "inbox"))
    store.delete_user(a)
    for table in (*USER_TABLES, "users"):
        col = "id" if table == "users" else "user_id"
        assert store.db.execute(f"SELECT COUNT(*) FROM {table} WHERE {col} = ?", [a]).fetchone()[0] == 0
    assert store.cases(b)[0]["data"] == {"lender": f"L{b}"}  # others untouched


def test_every_table_with_user_id_is_covered(tmp_path):
    db = open_db(tmp_path / "bot.db")
    with_user = {t for t in db.table_names() if "user_id" in db[t].columns_dict}
    assert with_user == set(USER_TABLES)


def test_prune_inbox_forgets_old_delivered_and_stale_undelivered_messages(tmp_path):
    store = Store(open_db(tmp_path / "bot.db"))
    uid = store.user("test", "a")["id"]
    for mid in ("old-done", "old-undelivered", "old-pending", "new-done", "week-undelivered"):
        store.receive("test", mid, uid, {"text": "x"})
    with store.transaction():
        for mid in ("old-done", "old-undelivered", "new-done", "week-undelivered"):
            row = next(store.db.query("SELECT id FROM inbox WHERE message_id = ?", [mid]))
            store.finish(row["id"], [{"text": "r"}])
    store.delivered("test", "old-done", "a")
    store.delivered("test", "new-done", "a")
    store.db.execute("UPDATE inbox SET received_at = '2020-01-01T00:00:00+00:00' WHERE message_id LIKE 'old-%'")
    ten_days = (dt.datetime.now(dt.UTC) - dt.timedelta(days=10)).isoformat(timespec="seconds")
    store.db.execute("UPDATE inbox SET received_at = ? WHERE message_id = 'week-undelivered'", [ten_days])
    assert store.prune_inbox() == 2
    left = {r["message_id"] for r in store.db.query("SELECT message_id FROM inbox")}
    # never handled: kept; undelivered: kept twice the window (10 days < 14), then forgotten
    assert left == {"old-pending", "new-done", "week-undelivered"}
