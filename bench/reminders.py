"""Reminder loop cost: one tick with 1,000 vs 100,000 pending reminders, the delivery lag for
1,000 reminders due at the same moment, and the size of the database.

    python bench/reminders.py [--pending 100000] [--burst 1000] [--ticks 200] [--db PATH]

Real SQLite file (WAL), the real Scheduler and storage queries, a fake channel that delivers
at once (so the figures are the bot's own cost, not a network's). Time is a ManualClock: the
pending reminders are all in the future, so a tick finds nothing due, as on almost every tick
in production; the claim must range-scan the (status, due_at) index and not grow with the
number pending. Prints a Markdown table. Takes well under a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import build_engine
from bot.config import Settings
from bot.core.models import Reply
from bot.scheduler import Channels, ManualClock, Scheduler
from storage.reminders import iso

NOW = dt.datetime(2026, 11, 29, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def fill(engine, start: int, count: int) -> None:
    """`count` pending reminders due between 1 hour and 90 days from NOW, for count/10 users."""
    db = engine.store.db
    created = iso(NOW)
    users = max(1, count // 10)
    with db.atomic():
        db.conn.executemany(
            "INSERT OR IGNORE INTO users (channel, external_id, created_at, last_seen) VALUES ('fake', ?, ?, ?)",
            [(f"b{start // 10 + u}", created, created) for u in range(users)])
        ids = {r[0]: r[1] for r in db.conn.execute("SELECT external_id, id FROM users WHERE channel = 'fake'")}
        rows = []
        for i in range(start, start + count):
            due = iso(NOW + dt.timedelta(hours=1, seconds=(i * 7919) % (90 * 86400)))
            rows.append((ids[f"b{i // 10}"], "fake", "personal", f"reminder {i}", due, due, created))
        db.conn.executemany(
            "INSERT INTO reminders (user_id, channel, kind, text, due_at, status, attempts, next_attempt_at,"
            " created_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)", rows)


def tick_cost(scheduler: Scheduler, ticks: int) -> tuple[float, float]:
    """Median and p99 of one tick with nothing due, in milliseconds."""
    times = []
    for _ in range(ticks):
        t0 = time.perf_counter()
        result = asyncio.run(scheduler.tick())
        times.append((time.perf_counter() - t0) * 1000)
        assert result.claimed == 0
    return statistics.median(times), percentile(times, 0.99)


CLAIM_SQL = ("SELECT id FROM reminders {hint} WHERE status = 'pending' AND due_at <= ? AND next_attempt_at <= ?"
             " AND channel IN ('fake') ORDER BY due_at LIMIT 200")


def query_cost(engine, hint: str, runs: int) -> float:
    """Median milliseconds of the claim's row selection alone: as claim_due runs it (hint "",
    the planner's choice of index) or as a full scan (hint "NOT INDEXED")."""
    conn = engine.store.db.conn
    at = iso(NOW)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        rows = conn.execute(CLAIM_SQL.format(hint=hint), [at, at]).fetchall()
        times.append((time.perf_counter() - t0) * 1000)
        assert rows == []
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--burst", type=int, default=1_000)
    parser.add_argument("--ticks", type=int, default=200)
    parser.add_argument("--db", type=Path)
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "reminders.db"
        clock = ManualClock(NOW)
        engine = build_engine(Settings(_env_file=None, bot_db_path=db), clock=clock)
        delivered: list[tuple[float, int]] = []

        async def fake_send(user: str, replies: list[Reply]) -> bool:
            delivered.append((time.perf_counter(), len(replies)))
            return True

        channels = Channels()
        channels.register("fake", fake_send)
        scheduler = Scheduler(engine, channels, clock)
        small = 1_000
        fill(engine, 0, small)
        cost_small = tick_cost(scheduler, args.ticks)
        query_small = query_cost(engine, "", args.ticks)
        t0 = time.perf_counter()
        fill(engine, small, args.pending - small)
        fill_s = time.perf_counter() - t0
        cost_big = tick_cost(scheduler, args.ticks)
        query_big = query_cost(engine, "", args.ticks)
        query_scan = query_cost(engine, "NOT INDEXED", 20)
        plan = engine.store.db.conn.execute("EXPLAIN QUERY PLAN " + CLAIM_SQL.format(hint=""), ["x", "x"]).fetchall()

        engine.store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = os.path.getsize(db)

        # 1,000 reminders due at the same moment (on top of the 100,000 pending)
        burst_at = NOW + dt.timedelta(minutes=30)
        db_ = engine.store.db
        uid = {r[0]: r[1] for r in db_.conn.execute("SELECT external_id, id FROM users WHERE channel = 'fake'")}
        with db_.atomic():
            db_.conn.executemany(
                "INSERT INTO reminders (user_id, channel, kind, text, due_at, status, attempts, next_attempt_at,"
                " created_at) VALUES (?, 'fake', 'personal', 'burst', ?, 'pending', 0, ?, ?)",
                [(uid[f"b{i % (args.pending // 10)}"], iso(burst_at), iso(burst_at), iso(NOW))
                 for i in range(args.burst)])
        clock.set(burst_at)
        delivered.clear()
        t0 = time.perf_counter()
        result = asyncio.run(scheduler.tick())
        total = time.perf_counter() - t0
        lags = [(t - t0) * 1000 for t, _ in delivered]
        assert result.sent == args.burst == len(delivered), result
        sent = db_.conn.execute("SELECT count(*) FROM reminders WHERE status = 'sent'").fetchone()[0]
        assert sent == args.burst

    print(f"Reminder loop (python bench/reminders.py --pending {args.pending} --burst {args.burst}); "
          f"SQLite {db_.conn.execute('select sqlite_version()').fetchone()[0]}, WAL, one process\n")
    print("| measure | value |")
    print("|---|---|")
    print(f"| tick, nothing due, 1,000 pending: median / p99 | {cost_small[0]:.3f} ms / {cost_small[1]:.3f} ms |")
    print(f"| tick, nothing due, {args.pending:,} pending: median / p99 | "
          f"{cost_big[0]:.3f} ms / {cost_big[1]:.3f} ms |")
    print(f"| its claim query alone, 1,000 / {args.pending:,} pending: median | "
          f"{query_small:.3f} ms / {query_big:.3f} ms |")
    print(f"| the same query without the index (full scan), {args.pending:,} pending | {query_scan:.1f} ms |")
    print(f"| {args.burst:,} due at once, one tick (claim, render, send, mark sent) | {total * 1000:.0f} ms "
          f"({args.burst / total:,.0f} reminders/s) |")
    print(f"| delivery lag after the tick starts: p50 / p99 / max | {percentile(lags, 0.5):.0f} ms / "
          f"{percentile(lags, 0.99):.0f} ms / {max(lags):.0f} ms |")
    print(f"| database with {args.pending:,} pending reminders ({args.pending // 10:,} users) | "
          f"{size / 1e6:.1f} MB ({size / args.pending:.0f} bytes per reminder, indexes included) |")
    print(f"| inserting {args.pending - small:,} reminders in one transaction | {fill_s:.2f} s |")
    print("\nQuery plan of the claim: " + "; ".join(str(r[-1]) for r in plan))
    print(f"A reminder due at time T goes out within the loop interval (5 s) plus the lag above. "
          f"Whole run: {time.perf_counter() - started:.1f} s.")


if __name__ == "__main__":
    main()
