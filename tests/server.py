"""A real `python -m bot serve` process for durability and crash tests (not a test module).

    with Server(tmp_path) as srv:          # started, listening on a free port
        srv.chat(session, text="/start", id="c1")   # POST /api/chat, -> (status, json)
        srv.kill()                         # SIGKILL
        srv.start()                        # again, on the same database
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.test_cli import env, read_until


class Server:
    def __init__(self, tmp_path: Path, **settings: str):
        self.tmp_path = tmp_path
        self.db = tmp_path / "bot.db"
        self.settings = settings
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> Server:
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--port", "0"], cwd=self.tmp_path,
                                     env=env(self.tmp_path, **self.settings), stdout=subprocess.PIPE,
                                     stderr=open(self.tmp_path / "server.log", "ab"))  # noqa: SIM115
        try:
            seen = read_until(self.proc, "listening on http://", timeout=60)
            if "\n" not in seen.split("listening on http://", 1)[1]:
                seen += read_until(self.proc, "\n", timeout=10)
        except BaseException:
            self.kill()
            raise
        port = re.search(r"listening on http://[^:]+:(\d+)", seen)
        assert port, seen
        self.url = f"http://127.0.0.1:{port.group(1)}"
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc.stdout.close()  # type: ignore[union-attr]

    def stop(self, timeout: float = 15) -> float:
        """SIGTERM; seconds until the process exited."""
        assert self.proc is not None
        t = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout)
        self.proc.stdout.close()  # type: ignore[union-attr]
        return time.monotonic() - t

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()

    def request(self, path: str, body: bytes | None = None, timeout: float = 30) -> tuple[int, Any]:
        req = urllib.request.Request(self.url + path, data=body, method="POST" if body is not None else "GET",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                raw, status = r.read(), r.status
        except urllib.error.HTTPError as e:
            raw, status = e.read(), e.code
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw

    def chat(self, session: str = "", timeout: float = 30, **body: Any) -> tuple[int, Any]:
        return self.request("/api/chat", json.dumps({"session": session, **body}).encode(), timeout=timeout)


def open_and_close(path: Path) -> None:
    """What the sqlite3 shell, a backup or `python -m bot chat` beside `serve` does: another
    process opens the database, reads, and closes it."""
    code = ("import sqlite3,sys; c = sqlite3.connect(sys.argv[1]); "
            "c.execute('SELECT COUNT(*) FROM inbox').fetchone(); c.close()")
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=30)


def wal_exists(path: Path) -> bool:
    return os.path.exists(f"{path}-wal")
