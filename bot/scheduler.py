"""The reminder loop: due reminders (rows in the database) out through the user's channel.

One loop per process (`run_scheduler`); any number of processes may run one against the same
database. Each `tick`:

1. puts back claims older than LEASE (a loop that died between claiming and finishing);
2. claims due rows for the channels this process can send to, in one
   UPDATE ... WHERE status = 'pending' AND due_at <= now ... RETURNING (index on
   (status, due_at)), so a row is claimed by exactly one loop;
3. pushes each through the user's channel, then marks it sent (only with its claim token);
4. a push that raises or times out: the row goes back to pending, retried after a growing
   backoff (RETRY_FIRST doubling up to RETRY_MAX); a push that returns False (the channel
   cannot reach this user now: WeChat outside its window, another terminal): pending too,
   retried the same way, and in any case delivered with the reply to the user's next
   message (bot/actions/remind.py, the engine's BEFORE_REPLY hook).

Reminders that fell due while no loop ran are sent on the first tick, each saying it is late.

Delivery is at-least-once. A crash after the channel accepted a message but before the row
is marked sent leaves the claim to expire, and the reminder is sent again: for a reminder
about a legal deadline a duplicate is a small cost, a lost one is not. Marking first and
sending after would be at-most-once and could silently lose it. The window is the time
between the send returning and one UPDATE committing.

Channels: the loop delivers through the channel contract (bot/channels/base.py) and knows
no channel by name. It claims rows only for the channels in its `Channels` that can push
(`can_push`) and calls their `push(external_user_id, replies) -> bool` (True: delivered);
the reminders of a channel that cannot push (the web page) stay pending and come with the
user's next message. `run_services` (bot/channels/http.py) gives it the channels the
process runs; `console_hook` ticks it for a channel without an event loop (the terminal);
`Channels.register(name, send)` takes a bare sender, such as `FakeChannel` (tests, the
benchmark).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from bot.actions.remind import LATE_AFTER, reminder_replies
from bot.channels.base import Channel, Channels
from bot.core.models import Reply
from storage import Store, open_db
from storage.files import files_dir, sweep
from storage.reminders import ReminderStore, from_iso
from storage.rows import ReminderRow

if TYPE_CHECKING:
    from bot.core.engine import Engine

log = logging.getLogger("bot.scheduler")

Clock = Callable[[], dt.datetime]

PRUNE_EVERY = 3600.0  # seconds between clean-ups (Store.prune_inbox, Store.prune_idle_users, events.prune_pending)
INTERVAL = 5.0                              # seconds between ticks of run_scheduler
BATCH = 200                                 # rows claimed at a time
ROUNDS = 25                                 # batches per tick at most
LEASE = dt.timedelta(minutes=5)             # a claim older than this belongs to a dead loop
SEND_TIMEOUT = 60.0                         # seconds for one send; longer counts as failed
RETRY_FIRST = dt.timedelta(seconds=30)
RETRY_MAX = dt.timedelta(hours=1)
CONCURRENCY = 16                            # users sent to at the same time


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ManualClock:
    """A clock that moves only when told (tests, the benchmark): clock() -> aware now."""

    def __init__(self, start: dt.datetime):
        if start.tzinfo is None:
            raise ValueError("start must be aware")
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, when: dt.datetime) -> None:
        self.now = when

    def advance(self, **delta: float) -> dt.datetime:
        self.now = self.now + dt.timedelta(**delta)
        return self.now


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next try after `attempts` tries: 30 s, 1 min, 2 min, ... at most 1 h."""
    return min(RETRY_FIRST * (2 ** min(max(attempts - 1, 0), 20)), RETRY_MAX)


@dataclass
class FakeChannel:
    """A sender for tests and the benchmark: records what it delivered.

    `fail` sends raise (then succeed); `refuse` sends return False (cannot push now);
    `crash_after_send` delivers and then raises SystemExit-like CrashAfterSend, to simulate a
    process dying before the row is marked sent.
    """

    fail: int = 0
    refuse: int = 0
    crash_after_send: bool = False
    sent: list[tuple[str, list[Reply]]] = field(default_factory=list)
    calls: int = 0

    async def __call__(self, user: str, replies: list[Reply]) -> bool:
        self.calls += 1
        if self.fail > 0:
            self.fail -= 1
            raise ConnectionError("fake channel down")
        if self.refuse > 0:
            self.refuse -= 1
            return False
        self.sent.append((user, replies))
        if self.crash_after_send:
            raise CrashAfterSend()
        return True


class CrashAfterSend(BaseException):
    """Simulates the process dying right after a send (not caught like an ordinary error)."""


@dataclass
class _Claim:
    """One batch claimed by a tick: its token, when its lease was last renewed, and (after a
    renewal) which of its rows are still held."""

    token: str
    renewed: dt.datetime
    held: set[int] | None = None


@dataclass
class TickResult:
    released: int = 0
    claimed: int = 0
    sent: int = 0
    late: int = 0
    retried: int = 0
    deferred: int = 0
    dropped: int = 0


class Scheduler:
    """Claims due reminders and sends them. `clock` is injectable: tests move time by hand."""

    def __init__(self, engine: Engine, channels: Channels, clock: Clock | None = None,
                 store: ReminderStore | None = None, batch: int = BATCH):
        self.engine = engine
        self.channels = channels
        self.clock = clock or engine.clock
        self.store = store or own_store(engine)
        self.batch = batch

    async def tick(self, user_id: int | None = None) -> TickResult:
        """Send everything due now (optionally only one user's). Returns what happened."""
        result = TickResult()
        now = self.clock()
        result.released = self.store.release_stale(now, LEASE)
        names = self.channels.pushers()
        limit = asyncio.Semaphore(CONCURRENCY)
        while True:
            token = uuid.uuid4().hex
            rows = self.store.claim_due(now, token, self.batch, names, user_id)
            if not rows:
                break
            result.claimed += len(rows)
            by_user: dict[int, list[ReminderRow]] = {}
            for row in rows:
                by_user.setdefault(row["user_id"], []).append(row)
            claim = _Claim(token, now)
            await asyncio.gather(*(self._deliver_user(r, claim, now, result, limit) for r in by_user.values()))
            if len(rows) < self.batch or result.claimed >= self.batch * ROUNDS:
                break  # all done, or enough for one tick (the next tick goes on)
        if result.claimed:
            log.info("tick: %s", result)
        return result

    async def _deliver_user(self, rows: list[ReminderRow], claim: _Claim, now: dt.datetime, result: TickResult,
                            limit: asyncio.Semaphore) -> None:
        """One user's reminders in order; different users at the same time (up to a limit)."""
        async with limit:
            for row in rows:
                await self._deliver(row, claim, now, result)

    async def _deliver(self, row: ReminderRow, claim: _Claim, now: dt.datetime, result: TickResult) -> None:
        # In a slow batch, renew the lease of the rows still waiting (every LEASE/4; one send
        # takes at most SEND_TIMEOUT), so no other loop takes them as abandoned. A row that
        # was taken all the same is left to the loop that has it.
        current = self.clock()
        if current - claim.renewed > LEASE / 4:
            claim.held = self.store.renew_claims(claim.token, current)
            claim.renewed = current
        if claim.held is not None and row["id"] not in claim.held:
            return
        token = claim.token
        user = self.store.recipient(row["user_id"])
        complaint = self.store.complaint(row["user_id"], row["complaint_id"]) if row["complaint_id"] else None
        if user is None:
            self.store.drop_claimed(row["id"], token)
            result.dropped += 1
            return
        external_id, lang, tz_name = user
        lang = lang or self.engine.settings.bot_default_lang
        tz = ZoneInfo(tz_name or self.engine.settings.bot_timezone)
        replies = reminder_replies(self.engine.k, lang, tz, row, complaint, now)
        if not replies:
            self.store.drop_claimed(row["id"], token)
            result.dropped += 1
            return
        channel = self.channels.get(row["channel"])
        assert channel is not None and channel.can_push  # claimed only for channels that can push
        try:
            delivered = await asyncio.wait_for(channel.push(external_id, replies), SEND_TIMEOUT)
        except Exception as exc:  # the channel failed: try again later
            at = now + backoff(row["attempts"])
            self.store.retry_later(row["id"], token, at, type(exc).__name__)
            result.retried += 1
            log.warning("reminder %s: send failed (%s), attempt %s, next at %s",
                        row["id"], type(exc).__name__, row["attempts"], at.isoformat(timespec="seconds"))
            return
        if not delivered:  # the channel cannot push now: keep it for the user's next message
            self.store.retry_later(row["id"], token, now + backoff(row["attempts"]), None)
            result.deferred += 1
            return
        if self.store.mark_sent(row["id"], token, now):
            result.sent += 1
            if now - from_iso(row["due_at"]) > LATE_AFTER:
                result.late += 1
                log.debug("reminder %s delivered late by %s", row["id"], now - from_iso(row["due_at"]))
        else:
            log.warning("reminder %s: claim lost before marking sent (sent twice at most)", row["id"])
        self._remember_screen(row["user_id"], replies)

    def _remember_screen(self, user_id: int, replies: list[Reply]) -> None:
        """Typed "1" should press the pushed reminder's first button, unless the user is in
        the middle of a dialog, whose own buttons keep priority."""
        last = next((r for r in reversed(replies) if r.buttons), None)
        if last is None:
            return
        self.store.offer_screen(user_id, [b.model_dump() for b in last.buttons])



def own_store(engine: Engine) -> ReminderStore:
    """A connection of the scheduler's own, so its short transactions never mix with a
    message's transaction on the engine's connection (whatever thread runs either)."""
    path = engine.settings.bot_db_path
    if str(path) == ":memory:":
        return engine.store.reminders
    return Store(open_db(path), clock=engine.clock).reminders


async def run_scheduler(engine: Engine, channels: Channels, clock: Clock | None = None,
                        stop_event: asyncio.Event | None = None, interval: float = INTERVAL,
                        on_tick: Callable[[], None] | None = None) -> None:
    """The loop for `run`, `telegram` and `serve`: a tick every `interval` seconds until
    `stop_event` is set. The first tick runs at once, so what fell due while the bot was down
    goes out on start-up. A failing tick is logged and the loop goes on. `on_tick` is called
    after every tick (/healthz reports the age of the last one)."""
    scheduler = Scheduler(engine, channels, clock)
    stop = stop_event or asyncio.Event()
    log.info("reminder loop started for channels: %s", ", ".join(channels.pushers()) or "(none)")
    pruned_at = 0.0
    while not stop.is_set():
        try:
            await scheduler.tick()
            if time.monotonic() - pruned_at > PRUNE_EVERY:  # housekeeping rides on the same loop
                engine.store.prune_inbox()
                engine.store.prune_idle_users()
                engine.store.links.prune()   # expired page links (storage/links.py)
                engine.store.witness.prune()  # expired witness codes (storage/witness.py)
                engine.store.events.prune_pending()  # checked messages never added to a log
                # downloads whose message never finished (a crash mid-download), files of a
                # rolled-back transaction: what no evidence_files row points at
                sweep(files_dir(engine.settings.bot_db_path), engine.store.files.known_paths())
                pruned_at = time.monotonic()
        except Exception as exc:
            log.error("reminder tick failed: %s", type(exc).__name__)
        if on_tick is not None:
            on_tick()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
    log.info("reminder loop stopped")


# --- a channel without an event loop (the terminal chat) -------------------------------------------

class OneUserChannel(Channel, Protocol):
    """A channel that serves one user in the foreground (the terminal chat): `user`."""

    user: str


def console_hook(engine: Engine, clock: Clock | None = None) -> Callable[[OneUserChannel], None]:
    """For bot.channels.console.run_chat(between=...): at start and between messages, a tick
    for the channel's one user, delivering their due reminders through its `push`."""
    scheduler: Scheduler | None = None

    def between(channel: OneUserChannel) -> None:
        nonlocal scheduler
        if scheduler is None:
            scheduler = Scheduler(engine, Channels([channel]), clock)
        user = engine.store.user(channel.name, channel.user)
        asyncio.run(scheduler.tick(user_id=user["id"]))

    return between
