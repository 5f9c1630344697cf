"""Shutdown is bounded (issue 12, item 10): `python -m bot run` in webhook mode exits within 10 s of
SIGTERM while the Bot API has stopped answering, and the reply it could not send stays in the
database for the next start."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.test_cli import env, read_until
from tests.test_telegram_unit import TOKEN, FakeTelegram, message_update


class HangingBotAPI:
    """The Bot API on 127.0.0.1 in a thread (FakeTelegram's answers); once `hang` is set,
    sendMessage never answers: a network that swallows requests."""

    def __init__(self) -> None:
        self.fake = FakeTelegram()
        self.hang = threading.Event()
        self.hung = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                method = self.path.rsplit("/", 1)[-1]
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8", "replace")
                params = {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}
                if method == "sendMessage" and api.hang.is_set():
                    api.hung.set()
                    time.sleep(60)
                    return
                status, body = api.fake.answer(method, params)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/bot"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_run_stops_within_10_s_of_sigterm_while_the_bot_api_hangs(tmp_path: Path) -> None:
    api = HangingBotAPI()
    secret = "shutdown-test-secret"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=env(tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=api.base_url, BOT_PORT="0",
                TELEGRAM_WEBHOOK_URL="https://bot.example.org/telegram", TELEGRAM_WEBHOOK_SECRET=secret))
    try:
        out = read_until(proc, "listening on http://", timeout=60)
        url = out.split("listening on ", 1)[1].split()[0]
        api.hang.set()
        update = json.dumps(message_update(77, "/start", lang="en")).encode()
        req = urllib.request.Request(f"{url}/telegram", data=update, method="POST", headers={
            "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200
        assert api.hung.wait(20), "the reply was never sent"
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        api.server.shutdown()
    assert took < 10, f"took {took:.1f} s to stop"
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    conn = sqlite3.connect(tmp_path / "bot.db")
    (status,) = conn.execute("SELECT status FROM inbox WHERE channel = 'telegram'").fetchone()
    conn.close()
    assert status == "done"                                   # handled, not delivered: sent at the next start
