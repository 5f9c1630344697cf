"""Telegram stack benchmark: updates/s and latency through the whole stack, ours side by side
with a peer written the idiomatic python-telegram-bot way, on the same fake Bot API.

    python bench/telegram.py [--users 20] [--runs 5] [--latency-ms 0,5] [--latency-users 8]

Ours: Application + ChatOrderedProcessor + JournalQueue + Engine + SQLite file (WAL), as in
production (bot/channels/telegram/). Peer: Application + ConversationHandler +
PicklePersistence (bench/peers/telegram_ptb.py), PTB's default sequential processing. Both
play the same /report dialog (same questions, buttons, branches, findings and drafts) through
an injected BaseRequest that answers every Bot API call in process, after `--latency-ms`
(0: the cost of the stack itself; 5: a Bot API server close by). Each simulated user sends
its next update when the previous one has been handled (like a person waiting for the
reply); all users play at once. Latency: from putting the update in the queue to the end of
its handling (all its Bot API calls). Both stacks run without AIORateLimiter and ours
without the 1 message/s per-chat pacing: those are deliberate waits, not costs.

Durability is measured too: at the end of a run, before any clean shutdown (as if the
process were killed), how many users' progress is on disk. Ours commits every step; the peer
flushes PicklePersistence every update_interval (60 s by default), so a crash loses up to a
minute of every user's progress.

Prints one table; medians over --runs runs (alternating stacks), ratios ours/peer.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import itertools
import json
import pickle
import sqlite3
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# This file is named telegram.py: keep its folder off sys.path so `import telegram` is PTB.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

from telegram import Update  # noqa: E402
from telegram.ext import Application, TypeHandler  # noqa: E402
from telegram.request import BaseRequest, RequestData  # noqa: E402
from telegram.warnings import PTBUserWarning  # noqa: E402

from bench.peers.telegram_ptb import build_peer  # noqa: E402
from bot.app import build_engine, fixed_clock, load_content  # noqa: E402
from bot.channels.telegram import TelegramBot  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.flow.models import Dialog  # noqa: E402

NOW = dt.datetime(2026, 11, 29, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
TOKEN = "1:BENCH"
ME = {"id": 1, "is_bot": True, "first_name": "Bench", "username": "bench_bot", "supports_inline_queries": True}
# The answers every simulated user gives (None: skip). The path through the dialog follows.
ANSWERS: dict[str, Any] = {
    "role": "borrower", "lender": "Quick<Cash> & Co", "lender_kind": "microloan",
    "behaviours": ["called_employer", "threats"], "work_who": ["boss"], "consent": "not_agreed",
    "reachable": True, "threat_words": "they said they would come to my home", "started": "2026-11-01",
    "latest": "2026-11-20", "evidence": ["screenshots"], "loan_known": False,
    "wants": ["stop_contact", "complain"], "contact_by": "messages_only",
}


class BenchRequest(BaseRequest):
    """Answers Bot API calls in process after `latency` seconds; remembers, per chat, the
    keyboards it was sent, so a simulated press refers to the real message."""

    def __init__(self, latency: float = 0.0):
        self.latency = latency
        self.ids = itertools.count(1)
        self.calls = 0
        self.keyboards: dict[int, dict[str, dict[str, Any]]] = {}   # chat -> callback data -> message

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float:
        return 5.0

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = None, write_timeout: Any = None, connect_timeout: Any = None,
                         pool_timeout: Any = None) -> tuple[int, bytes]:
        self.calls += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        api = url.rsplit("/", 1)[-1]
        p = request_data.parameters if request_data else {}
        result: Any = True
        if api == "getMe":
            result = ME
        elif api in ("sendMessage", "sendDocument", "editMessageText", "editMessageReplyMarkup"):
            chat = int(p["chat_id"])
            mid = int(p["message_id"]) if "message_id" in p else next(self.ids)
            result = {"message_id": mid, "date": 0, "chat": {"id": chat, "type": "private"}, "text": p.get("text", "")}
            markup = p.get("reply_markup")
            if markup:
                result["reply_markup"] = markup
                for row in markup.get("inline_keyboard", []):
                    for b in row:
                        if b.get("callback_data"):
                            self.keyboards.setdefault(chat, {})[b["callback_data"]] = result
        return 200, json.dumps({"ok": True, "result": result}).encode()


def actions(dialog: Dialog) -> list[tuple[str, str]]:
    """The updates one user sends: ("say", text) or ("press", callback data)."""
    out = [("say", "/report")]
    slots = {dialog.slot(s): v for s, v in ANSWERS.items() if s in dialog.steps}
    for sid in dialog.path(slots):
        step = dialog.steps[sid]
        value = ANSWERS.get(sid)
        if value is None:
            out.append(("press", "c:skip") if step.optional else ("say", "x"))
        elif step.input == "choice":
            out.append(("press", f"o:{value}"))
        elif step.input == "yesno":
            out.append(("press", "o:yes" if value else "o:no"))
        elif step.input == "multi":
            out += [("press", f"o:{v}") for v in value] + [("press", "c:done")]
        else:
            out.append(("say", str(value)))
    out.append(("press", "c:ok"))
    return out


class Stack:
    """One Application under test plus what the simulated users need."""

    def __init__(self, name: str, app: Application, request: BenchRequest, stop: Callable[[], Any],
                 durable: Callable[[int], int]):
        self.name, self.app, self.request, self.stop_fn, self.durable = name, app, request, stop, durable
        self.waiters: dict[int, asyncio.Future] = {}
        app.add_handler(TypeHandler(Update, self._done), group=99)

    async def _done(self, update: Update, context: Any) -> None:
        fut = self.waiters.pop(update.update_id, None)
        if fut is not None and not fut.done():
            fut.set_result(time.perf_counter())


_uids = itertools.count(1)


def update_for(stack: Stack, user: int, kind: str, value: str) -> dict[str, Any]:
    who = {"id": user, "is_bot": False, "first_name": "U", "language_code": "en"}
    if kind == "say":
        msg: dict[str, Any] = {"message_id": next(_uids), "date": 0, "from": who,
                               "chat": {"id": user, "type": "private"}, "text": value}
        if value.startswith("/"):
            msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(value)}]
        return {"update_id": next(_uids), "message": msg}
    message = stack.request.keyboards[user][value]
    return {"update_id": next(_uids), "callback_query": {"id": str(next(_uids)), "from": who, "chat_instance": "c",
                                                         "data": value, "message": message}}


async def play(stack: Stack, user: int, script: list[tuple[str, str]], latencies: list[float]) -> None:
    loop = asyncio.get_running_loop()
    for kind, value in script:
        data = update_for(stack, user, kind, value)
        update = Update.de_json(data, stack.app.bot)
        fut = loop.create_future()
        stack.waiters[update.update_id] = fut
        t0 = time.perf_counter()
        await stack.app.update_queue.put(update)
        done = await asyncio.wait_for(fut, 60)
        latencies.append(done - t0)


async def make_ours(tmp: Path, latency: float, loaded: Any) -> Stack:
    settings = Settings(_env_file=None, bot_db_path=tmp / "bot.db", telegram_bot_token=TOKEN)
    engine = build_engine(settings, clock=fixed_clock(NOW), loaded=loaded)
    request = BenchRequest(latency)
    bot = TelegramBot(engine, settings, request=request, get_updates_request=request, pace=0, rate_limiter=False,
                      webhook=True)

    def durable(users: int) -> int:
        with sqlite3.connect(tmp / "bot.db") as db:   # a second connection: what is on disk now
            return db.execute("SELECT COUNT(DISTINCT user_id) FROM cases").fetchone()[0]

    stack = Stack("ours", bot.application, request, bot.stop, durable)
    await bot.start()
    return stack


async def make_peer(tmp: Path, latency: float, loaded: Any) -> Stack:
    request = BenchRequest(latency)
    app = build_peer(TOKEN, request, loaded.knowledge, loaded.dialogs["report"], NOW.date(), tmp / "peer.pickle")

    async def stop() -> None:
        await app.stop()
        await app.shutdown()

    def durable(users: int) -> int:
        path = tmp / "peer.pickle"
        if not path.exists():
            return 0
        data = pickle.loads(path.read_bytes())
        return sum(1 for ud in (data.get("user_data") or {}).values() if ud.get("cases"))

    stack = Stack("peer", app, request, stop, durable)
    await app.initialize()
    await app.start()
    return stack


async def run_once(kind: str, users: int, latency: float, loaded: Any, script: list[tuple[str, str]]) -> dict:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        stack = await (make_ours if kind == "ours" else make_peer)(tmp, latency, loaded)
        latencies: list[float] = []
        gc.collect()
        t0 = time.perf_counter()
        await asyncio.gather(*(play(stack, 10_000 + u, script, latencies) for u in range(users)))
        wall = time.perf_counter() - t0
        on_disk = stack.durable(users)             # "crash" here: before any shutdown flush
        await stack.stop_fn()
    latencies.sort()
    return {"ups": len(latencies) / wall, "p50": latencies[len(latencies) // 2] * 1000,
            "p99": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000,
            "updates": len(latencies), "durable": on_disk, "calls": stack.request.calls}


def fmt_row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=20, help="simultaneous users at 0 ms API latency")
    ap.add_argument("--latency-users", type=int, default=8, help="simultaneous users when the API has latency")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--latency-ms", default="0,5", help="Bot API latency scenarios, comma-separated")
    args = ap.parse_args()
    # ConversationHandler's per_message advice: the peer uses PTB's defaults, as its examples do.
    warnings.filterwarnings("ignore", category=PTBUserWarning)
    loaded = load_content(Settings(_env_file=None))
    script = actions(loaded.dialogs["report"])
    for kind in ("ours", "peer"):                            # warm-up: templates, imports, caches
        await run_once(kind, 1, 0.0, loaded, script)
    print(f"Telegram stack, /report dialog: {len(script)} updates per user, closed loop, "
          f"medians of {args.runs} runs")
    widths = [24, 10, 9, 9, 10, 16]
    print(fmt_row(["scenario / stack", "updates/s", "p50 ms", "p99 ms", "API calls", "on disk at crash"], widths))
    t_start = time.perf_counter()
    for latency_ms in (float(x) for x in args.latency_ms.split(",")):
        users = args.users if latency_ms == 0 else args.latency_users
        results: dict[str, list[dict]] = {"ours": [], "peer": []}
        for i in range(args.runs):
            for kind in (("ours", "peer") if i % 2 == 0 else ("peer", "ours")):
                results[kind].append(await run_once(kind, users, latency_ms / 1000, loaded, script))
        med = {k: {m: statistics.median(r[m] for r in rs) for m in ("ups", "p50", "p99", "calls", "durable")}
               for k, rs in results.items()}
        for kind in ("ours", "peer"):
            m = med[kind]
            print(fmt_row([f"{latency_ms:g} ms API, {users} users: {kind}", f"{m['ups']:.0f}", f"{m['p50']:.1f}",
                           f"{m['p99']:.1f}", f"{m['calls'] / (users * len(script)):.1f}/upd",
                           f"{m['durable']:.0f} of {users}"], widths))
        print(fmt_row(["  ratio ours/peer", f"{med['ours']['ups'] / med['peer']['ups']:.2f}x", "",
                       f"{med['ours']['p99'] / med['peer']['p99']:.2f}x", "", ""], widths))
    print(f"(peer: PicklePersistence update_interval=60 s, so a crash loses up to 60 s of every user's progress; "
          f"ours commits each step before replying and loses none. {time.perf_counter() - t_start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
