"""Load on a real server: N concurrent web clients playing the incident report for a fixed time.

Starts `python -m bot serve --port 0` on a fresh database, then N clients (aiohttp) each play
the /report dialog of bench/engine.py over POST /api/chat with client message ids, one message
after the other, again and again, while one more client polls /healthz every 50 ms.

    python bench/load.py [--clients 200] [--seconds 30]

Prints throughput, p50/p99 of /api/chat and of /healthz during the load, errors (non-200s and
failed connections) and the server's peak RSS (psutil).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.engine import REPORT  # noqa: E402


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def start_server(db: Path) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_", "WECHAT_"))}
    env.update(BOT_DB_PATH=str(db), PYTHONUNBUFFERED="1")
    for key in ("BOT_CONTENT_DIR", "BOT_DIALOGS_DIR"):
        if key in os.environ:
            env[key] = os.environ[key]
    proc = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--port", "0"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        m = re.search(r"listening on (http://\S+)", line)
        if m:
            return proc, m.group(1)
    raise SystemExit("the server did not start")


async def client(http: aiohttp.ClientSession, url: str, until: float, lat: list[float], errors: list[str]) -> int:
    session, n, sent = "", 0, 0
    while time.monotonic() < until:
        kind, value = REPORT[n % len(REPORT)]
        n += 1
        t0 = time.perf_counter()
        try:
            async with http.post(f"{url}/api/chat", json={"session": session, kind: value, "id": f"c{n}"}) as r:
                data = await r.json(content_type=None)
                if r.status != 200:
                    errors.append(f"HTTP {r.status}")
                    continue
        except (aiohttp.ClientError, TimeoutError) as exc:
            errors.append(type(exc).__name__)
            continue
        lat.append((time.perf_counter() - t0) * 1000)
        session = data.get("session", session)
        sent += 1
    return sent


async def health(http: aiohttp.ClientSession, url: str, until: float, lat: list[float], errors: list[str]) -> None:
    while time.monotonic() < until:
        t0 = time.perf_counter()
        try:
            async with http.get(f"{url}/healthz") as r:
                await r.read()
                if r.status != 200:
                    errors.append(f"healthz HTTP {r.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            errors.append(f"healthz {type(exc).__name__}")
        lat.append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(0.05)


async def run(url: str, clients: int, seconds: float, proc: psutil.Process) -> None:
    chat_lat: list[float] = []
    health_lat: list[float] = []
    errors: list[str] = []
    rss = [0]

    async def watch(until: float) -> None:
        while time.monotonic() < until:
            rss[0] = max(rss[0], proc.memory_info().rss)
            await asyncio.sleep(0.5)

    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=clients + 10)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
        until = time.monotonic() + seconds
        t0 = time.monotonic()
        counts = await asyncio.gather(*(client(http, url, until, chat_lat, errors) for _ in range(clients)),
                                      health(http, url, until, health_lat, errors), watch(until))
        wall = time.monotonic() - t0
    done = sum(c for c in counts if isinstance(c, int))
    print(f"{clients} clients, {seconds:.0f} s: {done} messages, {done / wall:,.0f} msg/s, {len(errors)} errors"
          + (f" ({', '.join(sorted(set(errors))[:5])})" if errors else ""))
    print(f"/api/chat  p50 {pct(chat_lat, 0.5):7.1f} ms   p99 {pct(chat_lat, 0.99):7.1f} ms")
    print(f"/healthz   p50 {pct(health_lat, 0.5):7.1f} ms   p99 {pct(health_lat, 0.99):7.1f} ms   "
          f"max {max(health_lat, default=float('nan')):.1f} ms ({len(health_lat)} probes)")
    print(f"server peak RSS {rss[0] / 2**20:.0f} MiB; mean /api/chat {statistics.fmean(chat_lat or [0]):.1f} ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=30)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(Path(tmp) / "bot.db")
        try:
            asyncio.run(run(url, args.clients, args.seconds, psutil.Process(proc.pid)))
        finally:
            proc.terminate()
            proc.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
