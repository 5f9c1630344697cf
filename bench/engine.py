"""Engine throughput and latency: many simulated users stepping through dialogs.

Every message goes through Engine.handle with a real SQLite file (WAL), so each step is
journalled, handled and committed exactly as in production. One process, one core.

    python bench/engine.py [--users 200] [--rounds 3] [--db PATH]

Prints messages/s, p50/p99 latency per message and peak RSS, for the whole mix and per
kind of message (dialog step, question answered by the matcher).
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import build_engine, fixed_clock
from bot.config import Settings
from bot.core.models import Inbound

QUESTIONS = ["催收打电话到我单位合法吗", "they keep calling my contacts", "半夜打电话合法吗",
             "where can i complain about a collector", "催收威胁要上门怎么办"]


REPORT = [("text", "/report"), ("choice", "o:borrower"), ("text", "安达消费金融"),
          ("choice", "o:consumer_finance"), ("choice", "o:called_employer"), ("choice", "o:disclosed_debt"),
          ("choice", "c:done"), ("text", "1 2"), ("text", "说我欠钱不还，让公司扣我工资"), ("text", "1"),
          ("text", "是"), ("text", "2026-10-08"), ("text", "11月25日"), ("choice", "c:skip"),
          ("choice", "o:recordings"), ("choice", "c:done"), ("choice", "o:no"), ("text", "1 2"),
          ("choice", "o:calls_workhours"), ("text", "李明"), ("choice", "c:skip"), ("choice", "c:ok")]


def script(i: int) -> list[tuple[str, str]]:
    """One user's conversation, ("text"|"choice", value) pairs: the whole incident report
    (22 steps ending in the assessment and seven drafts), a question typed mid-dialog, the
    /start dialog with an invalid answer, and a question outside any dialog."""
    lang = "o:zh" if i % 2 == 0 else "o:en"
    return [*REPORT[:5], ("text", QUESTIONS[i % len(QUESTIONS)] + "？"), *REPORT[5:],
            ("text", "/start"), ("choice", lang), ("text", "9"), ("choice", "o:calls"),
            ("text", QUESTIONS[(i + 1) % len(QUESTIONS)])]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(users: int, rounds: int, db: Path) -> dict:
    settings = Settings(_env_file=None, bot_db_path=db)
    engine = build_engine(settings, clock=fixed_clock(dt.datetime(2026, 11, 29, 10, tzinfo=ZoneInfo("Asia/Shanghai"))))
    latencies: dict[str, list[float]] = {"dialog": [], "question": [], "report outcome": []}
    total = 0
    start = time.perf_counter()
    for r in range(rounds):
        scripts = [script(i) for i in range(users)]
        for step in range(len(scripts[0])):          # users interleave, as in real traffic
            for i, steps in enumerate(scripts):
                kind, value = steps[step]
                inbound = Inbound(channel="bench", user=f"u{i}", message_id=f"{r}-{i}-{step}",
                                  **{kind: value})
                t0 = time.perf_counter()
                replies = engine.handle(inbound)
                engine.ack(inbound)
                elapsed = time.perf_counter() - t0
                category = ("report outcome" if value == "c:ok" else "question"
                            if (kind == "text" and value in QUESTIONS) or value.endswith("？") else "dialog")
                latencies[category].append(elapsed)
                total += 1
                if value == "c:ok":  # the report must really have been produced
                    assert sum(r.kind == "draft" for r in replies) >= 3, [r.text[:60] for r in replies]
    wall = time.perf_counter() - start
    everything = [x for values in latencies.values() for x in values]
    return {"messages": total, "wall": wall, "all": everything, **latencies}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--db", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "bench.db"
        result = run(args.users, args.rounds, db)
        size = db.stat().st_size + sum(p.stat().st_size for p in db.parent.glob(db.name + "-*"))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"engine: {args.users} users x {args.rounds} rounds, every step committed to SQLite (WAL)")
    print(f"{'messages':>10} {'msg/s':>8} {'p50 ms':>8} {'p99 ms':>8}  kind")
    for name in ("all", "dialog", "question", "report outcome"):
        values = result[name]
        rate = len(values) / sum(values)
        print(f"{len(values):>10} {rate:>8.0f} {statistics.median(values) * 1000:>8.2f} "
              f"{percentile(values, 0.99) * 1000:>8.2f}  {name}")
    print(f"wall-clock rate {result['messages'] / result['wall']:.0f} msg/s; peak RSS {rss:.0f} MiB; "
          f"database {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
