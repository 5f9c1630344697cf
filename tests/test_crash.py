"""The crash test (issue 12): a real `serve` process, concurrent web clients sending scripted
messages with client ids, SIGKILL at random moments, restart, every message retried; then no
acknowledged message is lost, no step is applied twice, every retry gets the first answer, and
the database passes integrity_check.

Each message is `/remind 30m task <id>`: its effect is one reminder row naming its id, so
"applied once" is countable. The default run is short (72 messages, 1 kill); the long run
(BG_SLOW=1, or `pytest -m slow` with BG_SLOW=1) sends 500 messages through 8 kills.
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from tests.server import Server, open_and_close


def crash_run(tmp_path: Path, users: int, per_user: int, kills: int, seed: int) -> None:
    rng = random.Random(seed)
    srv = Server(tmp_path).start()
    sessions = [srv.chat(text="/start", id="hello")[1]["session"] for _ in range(users)]
    first_answer: dict[tuple[str, str], list] = {}       # acknowledged: (session, id) -> replies
    sent: set[tuple[str, str]] = set()
    lock = threading.Lock()
    done = threading.Event()

    def client(session: str) -> None:
        for n in range(per_user):
            cid = f"t{n}"
            with lock:
                sent.add((session, cid))
            try:
                status, data = srv.chat(session, text=f"/remind 30m task {session[:6]}-{cid}", id=cid, timeout=20)
            except OSError:                                # the server died under us: retried below
                time.sleep(0.3)
                continue
            if status == 200:
                assert data["session"] == session
                with lock:
                    first_answer[(session, cid)] = data["replies"]
            time.sleep(0.05 + rng.random() * 0.1)

    threads = [threading.Thread(target=client, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    try:
        for _ in range(kills):
            time.sleep(0.2 + rng.random())
            open_and_close(srv.db)                         # a backup or the sqlite3 shell, as well
            time.sleep(0.2 + rng.random() * 0.5)
            srv.kill()
            srv.start()
        for t in threads:
            t.join(300)
        done.set()
        # Every message is retried, as a page does after a network error.
        for session, cid in sorted(sent):
            status, data = srv.chat(session, text=f"/remind 30m task {session[:6]}-{cid}", id=cid)
            assert status == 200, data
            if (session, cid) in first_answer:
                assert data["replies"] == first_answer[(session, cid)], "a retry got another answer"
            else:
                first_answer[(session, cid)] = data["replies"]
                assert data["replies"], "a retry got no answer"
    finally:
        srv.kill()
    conn = sqlite3.connect(srv.db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        texts = [row[0] for row in conn.execute("SELECT text FROM reminders")]
    finally:
        conn.close()
    for session, cid in sent:                              # applied exactly once, none lost
        assert texts.count(f"task {session[:6]}-{cid}") == 1, (session, cid)
    assert len(texts) == len(sent)


def test_crash_short(tmp_path: Path) -> None:
    crash_run(tmp_path, users=6, per_user=12, kills=1, seed=12)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("BG_SLOW"), reason="long crash test: set BG_SLOW=1")
def test_crash_long(tmp_path: Path) -> None:
    crash_run(tmp_path, users=25, per_user=20, kills=8, seed=2026)
