"""Durability against a real server process: another process sharing the database file, SIGKILL,
restart; deleted data gone from the file and its WAL. (The long crash test is tests/test_crash.py.)"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from tests.server import Server, open_and_close, wal_exists


def inbox_ids(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        return {row[0] for row in conn.execute("SELECT message_id FROM inbox")}
    finally:
        conn.close()


def test_a_second_process_opening_the_file_loses_no_acknowledged_message(tmp_path: Path) -> None:
    """Item 1 of issue 12: a process closing a descriptor of the database drops all its POSIX
    locks, so the next process to open and close the file thought it was the last user,
    checkpointed and unlinked -wal, and the server went on committing into an unlinked file."""
    acknowledged: list[str] = []
    with Server(tmp_path) as srv:
        status, data = srv.chat(text="/start", id="c0")
        assert status == 200, data
        session = data["session"]
        acknowledged.append(f"{session}:c0")
        for round_ in range(3):
            open_and_close(srv.db)        # the sqlite3 shell, a backup, `chat` beside `serve`
            assert wal_exists(srv.db), "another process removed the server's WAL"
            for i in range(4):
                cid = f"c{round_}-{i}"
                status, data = srv.chat(session, text=f"question {round_} {i} 催收打我单位电话", id=cid)
                assert status == 200, data
                acknowledged.append(f"{session}:{cid}")
        srv.kill()
        conn = sqlite3.connect(srv.db)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
        assert set(acknowledged) <= inbox_ids(srv.db)  # (a restart is in tests/test_crash.py)


def test_deleted_means_deleted_from_the_file_and_its_wal(chat, engine) -> None:
    """Item 9: secure_delete zeroes the rows, and a TRUNCATE checkpoint after /delete leaves no
    old page in -wal. The user's unique strings are searched for in the raw bytes."""
    name, phone = "Zhuxiaoqiang", "13912345678"
    chat.say("/lang en")
    chat.say(f"/remind 30m call {name} back on {phone}")
    chat.say("/export")                                   # the export (with the strings) is kept for retries
    db = Path(engine.settings.bot_db_path)
    wal = Path(f"{db}-wal")
    raw = db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert name.encode() in raw and phone.encode() in raw  # the search can find them
    chat.say("/delete")
    chat.press("y:delete")
    raw = db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert name.encode() not in raw and phone.encode() not in raw
    assert not wal.exists() or wal.stat().st_size == 0
    assert engine.store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


async def test_telegram_resumes_at_the_first_reply_not_sent_after_a_crash(engine, settings, make_engine) -> None:
    """Item 3: delivery is recorded per reply. The process dies while sending the second reply
    of /start; after the restart only that reply goes out, not the whole batch again."""
    from tests.test_telegram_unit import FakeTelegram, Harness, message_update

    sends = []

    def latency(method: str, params: dict) -> float:
        if method == "sendMessage":
            sends.append(params)
            return 3600 if len(sends) == 2 else 0      # the second reply never comes back
        return 0

    fake = FakeTelegram(latency=latency)
    before = asyncio.all_tasks()
    h = await Harness(engine, settings, fake).start()
    assert await h.bot.feed_webhook(message_update(41, "/start", lang="en"))
    for _ in range(500):
        if len(sends) == 2:
            break
        await asyncio.sleep(0.01)
    assert len(sends) == 2 and len(fake.sent(41)) == 1
    for task in asyncio.all_tasks() - before - {asyncio.current_task()}:   # SIGKILL: everything stops
        task.cancel()
    await asyncio.sleep(0.05)
    engine.store.db.close()

    fake.latency = None
    again = await Harness(make_engine(), settings, fake).start()             # the restart recovers
    try:
        texts = [m["text"] for m in fake.sent(41)]
        assert len(texts) == 2 and texts[0] != texts[1]                      # the first reply was not resent
        status = again.engine.store.db.execute("SELECT status FROM inbox").fetchone()[0]
        assert status == "delivered"
    finally:
        await again.bot.stop()


def test_chat_jsonl_prints_one_line_per_input_also_after_a_crash(tmp_path: Path, make_engine, settings) -> None:
    """Item 11: replies a crash kept from being printed go into the first output line."""
    import json
    import subprocess
    import sys

    from bot.core.models import Inbound
    from tests.test_cli import env

    engine = make_engine()
    crashed = Inbound(channel="console", user="j", message_id="old-1", text="/start")
    recovered = engine.handle(crashed)                   # handled, then the process died before printing
    engine.store.db.close()
    lines = [json.dumps({"text": "/help"}), "not json", json.dumps({"text": "/cases"})]
    r = subprocess.run([sys.executable, "-m", "bot", "chat", "--jsonl", "--user", "j"], input="\n".join(lines) + "\n",
                       capture_output=True, text=True, cwd=tmp_path, env=env(tmp_path), timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(out) == len(lines)
    texts = [x["text"] for x in out[0]["replies"]]
    assert texts[:len(recovered)] == [x.text for x in recovered] and len(texts) > len(recovered)
    assert "error" in out[1]
    conn = sqlite3.connect(tmp_path / "bot.db")
    statuses = dict(conn.execute("SELECT message_id, status FROM inbox WHERE channel = 'console'").fetchall())
    conn.close()
    assert statuses["old-1"] == "delivered"                  # shown once: not recovered again next time


async def test_healthz_reports_the_reminder_loops_last_tick(engine, settings) -> None:
    """Item 7 (part): /healthz says how old the reminder loop's last tick is, and is unhealthy
    when it is stale."""
    import time

    from aiohttp.test_utils import TestClient, TestServer

    from bot.channels import http

    ctx = http.ServerContext(settings, engine)
    async with TestClient(TestServer(http.create_app(ctx, hooks=[]))) as client:
        body = await (await client.get("/healthz")).json()
        assert body["ok"] and "reminders_tick_age_s" not in body          # no loop in this process
        ctx.reminders = True
        ctx.ticked()
        r = await client.get("/healthz")
        body = await r.json()
        assert r.status == 200 and body["reminders_tick_age_s"] < 5
        ctx.last_tick = time.monotonic() - http.TICK_STALE - 1             # the loop is stuck
        r = await client.get("/healthz")
        assert r.status == 503 and (await r.json())["reminders"] == "stale"


def test_an_export_does_not_copy_earlier_exports_kept_for_retries(chat) -> None:
    """Replies are kept for retries, exports included; a new export must not nest the old ones."""
    sizes = []
    for _ in range(4):
        [reply] = [r for r in chat.say("/export") if r.files]
        sizes.append(len(reply.files[0].content or ""))
    assert sizes[3] < sizes[1] * 2 and sizes[3] < 3 * sizes[0] + 2000


async def test_healthz_answers_while_the_web_engine_waits(engine, settings) -> None:
    """Item 7: the web channel's engine runs off the event loop. Another process holds the
    database's write lock; a chat message waits for it in the worker thread while /healthz
    answers at once, and the message goes through when the lock is released."""
    import time

    from aiohttp.test_utils import TestClient, TestServer

    from bot.channels.http import ServerContext, create_app

    async with TestClient(TestServer(create_app(ServerContext(settings, engine)))) as client:
        session = (await (await client.post("/api/chat", json={"text": "/start"})).json())["session"]
        other = sqlite3.connect(settings.bot_db_path, timeout=10)
        other.execute("BEGIN IMMEDIATE")                     # a backup, the sqlite3 shell ...
        pending = asyncio.ensure_future(client.post("/api/chat", json={"session": session, "text": "/help"}))
        await asyncio.sleep(0.3)
        t0 = time.perf_counter()
        r = await client.get("/healthz")
        took = time.perf_counter() - t0
        assert r.status == 200 and took < 0.5
        assert not pending.done(), await pending.result().text()
        other.rollback()
        other.close()
        r = await asyncio.wait_for(pending, 15)
        assert r.status == 200 and (await r.json())["replies"]
