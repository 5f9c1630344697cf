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


def test_transactions_nest_as_savepoints(tmp_path):
    store = Store(open_db(tmp_path / "bot.db"))
    uid = store.user("test", "a")["id"]
    with store.transaction():
        store.save_session(uid, "outer", "s", {}, [])
        try:
            with store.transaction():                   # a savepoint: undone alone
                store.save_case(uid, "report", "zh", {})
                store.delete_user(uid)                  # nests once more, inside the savepoint
                raise RuntimeError("inner step failed")
        except RuntimeError:
            pass
        assert store.user_by_id(uid) is not None and store.cases(uid) == []
        with store.transaction():                       # released into the outer one
            store.save_case(uid, "report", "zh", {"kept": True})
    assert store.session(uid)["dialog"] == "outer"
    assert [c["data"] for c in store.cases(uid)] == [{"kept": True}]
    assert not store.db.conn.in_transaction


def test_no_method_commits_a_callers_transaction(tmp_path):
    """Every write, the ones that commit at once when called alone included, is part of an
    open transaction and rolled back with it."""
    path = tmp_path / "bot.db"
    store = Store(open_db(path))
    uid = store.user("test", "a")["id"]
    store.receive("test", "done", uid, {})
    with store.transaction():
        store.finish(1, [{"text": "r"}])
    try:
        with store.transaction():
            store.user("test", "b")
            store.receive("test", "2", uid, {"text": "x"})
            store.progress("test", "done", "a")
            store.delivered("test", "done", "a")
            store.update_user(uid, lang="en")
            store.remember_screen(uid, [{"id": "o:x", "label": "x"}])
            store.save_case(uid, "report", "zh", {})
            store.prune_inbox(dt.timedelta(0))
            rs = store.reminders
            now = dt.datetime.now(dt.UTC)
            rid = rs.add(uid, "test", "personal", now, text="t", now=now)
            rs.claim_due(now, "tok", 10)
            rs.mark_sent(rid, "tok", now)
            rs.add_complaint(uid, now, body="police", filed_on="2026-11-20", stage="answer")
            other = Store(open_db(path))                # another connection sees none of it yet
            assert other.find_user("test", "b") is None
            raise RuntimeError("crash before the step commits")
    except RuntimeError:
        pass
    assert store.find_user("test", "b") is None and store.user_by_id(uid)["lang"] is None
    assert store.receive("test", "2", uid, {}).state == "new"
    assert store.stored_replies(1, unsent=True) == [{"text": "r"}]
    assert store.unfinished("test")[0]["status"] == "done"
    assert store.cases(uid) == [] and store.reminders.upcoming(uid) == [] and store.reminders.complaints(uid) == []


def test_rows_come_decoded_and_ids_from_returning(tmp_path):
    store = Store(open_db(tmp_path / "bot.db"))
    uid = store.user("test", "a")["id"]
    store.remember_screen(uid, [{"id": "o:x", "label": "甲"}])
    assert store.find_user("test", "a")["screen"] == [{"id": "o:x", "label": "甲"}]
    assert store.receive("test", "m1", uid, {"text": "hi"}) == (1, "new")
    assert store.unfinished()[0]["payload"] == {"text": "hi"}
    assert [store.save_case(uid, "report", "zh", {"n": n}) for n in (1, 2)] == [1, 2]
    now = dt.datetime.now(dt.UTC)
    cid = store.reminders.add_complaint(uid, now, body="police", filed_on="2026-11-20", stage="answer",
                                        history=[{"on": "2026-11-21", "answer": "none"}])
    exported = store.export_user(uid)
    assert exported["user"]["screen"] == [{"id": "o:x", "label": "甲"}]
    assert exported["inbox"][0]["payload"] == {"text": "hi"}
    assert exported["cases"][0]["data"] == {"n": 1}
    assert exported["complaints"][0]["id"] == cid
    assert exported["complaints"][0]["history"] == [{"on": "2026-11-21", "answer": "none"}]


def test_timestamps_follow_the_injected_clock(tmp_path):
    at = dt.datetime(2030, 1, 2, 11, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    store = Store(open_db(tmp_path / "bot.db"), clock=lambda: at)
    uid = store.user("test", "a")["id"]
    store.receive("test", "m1", uid, {})
    store.save_case(uid, "report", "zh", {})
    store.save_session(uid, "d", "s", {}, [])
    store.remember_screen(uid, None)
    stamp = "2030-01-02T03:30:00+00:00"
    user = store.user_by_id(uid)
    assert user["created_at"] == user["last_seen"] == stamp
    assert store.cases(uid)[0]["created_at"] == stamp == store.session(uid)["updated_at"]
    assert store.unfinished()[0]["received_at"] == stamp


def test_the_engine_and_its_twins_share_the_engines_clock(make_engine, clock):
    engine = make_engine()
    assert engine.store.clock is clock and engine.twin().store.clock is clock
    from bot.scheduler import own_store
    assert own_store(engine).sql.clock is clock


def test_a_message_journalled_on_arrival_is_handled_once(engine):
    """Engine.journal (what Telegram's update queue calls) is the first step of Engine.handle."""
    from bot.core.models import Inbound
    inbound = Inbound(channel="test", user="j", message_id="q1", text="hello")
    engine.journal(inbound)
    engine.journal(inbound)
    engine.journal(Inbound(channel="test", user="j", text="no id: never journalled"))
    assert [(r["message_id"], r["status"], r["payload"]["text"]) for r in engine.store.unfinished("test")] == [
        ("q1", "received", "hello")]
    replies = engine.handle(inbound)
    assert replies and [r["status"] for r in engine.store.unfinished("test")] == ["done"]
    assert engine.handle(inbound) == replies                 # not acknowledged: the same replies again
    assert engine.store.db.execute("SELECT count(*) FROM inbox").fetchone()[0] == 1
