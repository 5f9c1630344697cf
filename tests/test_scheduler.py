"""The reminder loop: right time in the user's zone, exactly one delivery with two loops,
late delivery after downtime, retries with backoff, crash recovery (at-least-once), channels
that cannot push, and the terminal chat. Time only moves when a test moves it."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import threading
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest

from bot.channels.console import run_chat
from bot.core.engine import Engine
from bot.core.models import Reply
from bot.scheduler import (
    LEASE,
    SEND_TIMEOUT,
    Channels,
    CrashAfterSend,
    FakeChannel,
    ManualClock,
    Scheduler,
    backoff,
    console_hook,
    run_scheduler,
)
from storage.reminders import from_iso, iso
from tests import conftest
from tests.conftest import ui

SH = ZoneInfo("Asia/Shanghai")
START = dt.datetime(2026, 11, 29, 10, 0, tzinfo=SH)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)




class Talk(conftest.Talk):
    """A user of the "fake" channel talking to the engine."""

    def __init__(self, engine: Engine, user: str = "u1", channel: str = "fake"):
        super().__init__(engine, user=user, lang=None, channel=channel)

def fake(engine: Engine, clock: ManualClock, channel: FakeChannel, name: str = "fake") -> Scheduler:
    channels = Channels()
    channels.register(name, channel)
    return Scheduler(engine, channels, clock)


def rows(engine: Engine) -> list[dict]:
    return list(engine.store.db.query("SELECT * FROM reminders ORDER BY id"))


def texts(channel: FakeChannel) -> list[str]:
    return [r.text for _, replies in channel.sent for r in replies]


# --- the right time --------------------------------------------------------------------------

async def test_fires_at_the_right_time_in_shanghai(engine: Engine, clock: ManualClock) -> None:
    Talk(engine).say("/remind 明天9点 给客服打电话")
    out = FakeChannel()
    s = fake(engine, clock, out)
    clock.set(dt.datetime(2026, 11, 30, 8, 59, 59, tzinfo=SH))
    assert (await s.tick()).sent == 0
    clock.set(dt.datetime(2026, 11, 30, 9, 0, tzinfo=SH))
    result = await s.tick()
    assert (result.sent, result.late) == (1, 0)
    assert out.sent[0][0] == "u1"
    assert "给客服打电话" in texts(out)[0]
    clock.advance(minutes=5)
    assert (await s.tick()).claimed == 0
    assert len(out.sent) == 1
    assert rows(engine)[0]["status"] == "sent" and rows(engine)[0]["sent_via"] == "push"


@pytest.mark.parametrize(("zone", "now", "due_utc"), [
    # New York, the day before clocks go forward: 09:00 EDT is 13:00 UTC, not 14:00
    ("America/New_York", dt.datetime(2026, 3, 7, 10, 0), dt.datetime(2026, 3, 8, 13, 0)),
    # Berlin, the day before clocks go back: 09:00 CET is 08:00 UTC, not 07:00
    ("Europe/Berlin", dt.datetime(2026, 10, 24, 10, 0), dt.datetime(2026, 10, 25, 8, 0)),
])
async def test_fires_at_the_users_own_wall_clock_across_dst(engine: Engine, clock: ManualClock, zone: str,
                                                           now: dt.datetime, due_utc: dt.datetime) -> None:
    tz = ZoneInfo(zone)
    clock.set(now.replace(tzinfo=tz))
    talk = Talk(engine)
    talk.say("hello")
    engine.store.update_user(talk.user_id, tz=zone)
    reply = talk.say("/remind tomorrow 9am take the papers")
    assert "09:00" in reply[0].text and zone in reply[0].text  # a zone other than the default is named
    due = due_utc.replace(tzinfo=dt.UTC)
    assert from_iso(rows(engine)[0]["due_at"]) == due
    out = FakeChannel()
    s = fake(engine, clock, out)
    clock.set(due - dt.timedelta(seconds=1))
    assert (await s.tick()).sent == 0
    clock.set(due)
    assert (await s.tick()).sent == 1
    assert due.astimezone(tz).hour == 9


# --- exactly once ------------------------------------------------------------------------------

def _many_due(engine: Engine, clock: ManualClock, users: int, each: int) -> list[int]:
    rs = engine.store.reminders
    ids = []
    for u in range(users):
        uid = engine.store.user("fake", f"u{u}")["id"]
        for i in range(each):
            ids.append(rs.add(uid, "fake", "personal", START + dt.timedelta(minutes=i), text=f"r{i}", now=START))
    clock.set(START + dt.timedelta(hours=1))
    return ids


def test_two_loops_in_two_threads_deliver_each_reminder_once(engine: Engine, clock: ManualClock) -> None:
    ids = _many_due(engine, clock, users=40, each=5)
    out = FakeChannel()
    lock = threading.Lock()
    delivered: list[int] = []

    async def send(user: str, replies: list[Reply]) -> bool:
        with lock:
            delivered.append(int(replies[-1].buttons[0].id.split(":")[2]))  # rem:z:<id>:1h
        await asyncio.sleep(0)  # let the other loop run in between
        return await out(user, replies)

    def loop() -> None:
        channels = Channels()
        channels.register("fake", send)
        s = Scheduler(engine, channels, clock, batch=7)  # its own connection to the same file
        for _ in range(5):
            asyncio.run(s.tick())

    threads = [threading.Thread(target=loop) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(delivered) == sorted(ids)  # every one, none twice
    assert {r["status"] for r in rows(engine)} == {"sent"}


async def test_two_loops_in_one_event_loop_deliver_each_reminder_once(engine: Engine, clock: ManualClock) -> None:
    ids = _many_due(engine, clock, users=10, each=3)
    out = FakeChannel()
    a, b = fake(engine, clock, out), fake(engine, clock, out)
    results = await asyncio.gather(a.tick(), b.tick(), a.tick(), b.tick())
    assert sum(r.sent for r in results) == len(ids) == len(out.sent)


# --- downtime, retries, crashes ----------------------------------------------------------------

async def test_after_downtime_what_fell_due_goes_out_saying_it_is_late(engine: Engine, clock: ManualClock) -> None:
    talk = Talk(engine)
    talk.say("/lang en")
    talk.say("/remind 2026-11-30 09:00 call the bank")
    talk.say("/remind 2026-11-30 09:05 send the letter")
    clock.set(dt.datetime(2026, 11, 30, 12, 0, tzinfo=SH))  # the bot was down from before 09:00 until now
    out = FakeChannel()
    result = await fake(engine, clock, out).tick()
    assert (result.sent, result.late) == (2, 2)
    first, second = texts(out)
    assert "late" in first and "30 November 2026, 09:00" in first and "call the bank" in first
    assert "09:05" in second


async def test_failed_send_is_retried_with_backoff(engine: Engine, clock: ManualClock) -> None:
    Talk(engine).say("/remind 30m call back")
    clock.advance(minutes=30)
    out = FakeChannel(fail=2)
    s = fake(engine, clock, out)
    assert (await s.tick()).retried == 1
    row = rows(engine)[0]
    assert row["status"] == "pending" and row["last_error"] == "ConnectionError"
    assert from_iso(row["next_attempt_at"]) == clock() + backoff(1)
    clock.advance(seconds=backoff(1).total_seconds() - 1)
    assert (await s.tick()).claimed == 0          # not before its time
    clock.advance(seconds=1)
    assert (await s.tick()).retried == 1          # second failure: waits twice as long
    assert from_iso(rows(engine)[0]["next_attempt_at"]) == clock() + backoff(2)
    assert backoff(2) == 2 * backoff(1)
    clock.advance(seconds=backoff(2).total_seconds())
    assert (await s.tick()).sent == 1
    assert rows(engine)[0]["attempts"] == 3 and len(out.sent) == 1
    assert backoff(50) == backoff(20)             # capped


async def test_crash_between_claim_and_send_is_retried_after_the_lease(engine: Engine, clock: ManualClock) -> None:
    Talk(engine).say("/remind 30m call back")
    clock.advance(minutes=30)
    rs = engine.store.reminders
    claimed = rs.claim_due(clock(), "dead-loop", 10, ["fake"])  # ... and the process dies here
    assert len(claimed) == 1
    out = FakeChannel()
    s = fake(engine, clock, out)
    assert (await s.tick()).claimed == 0          # another loop leaves a live claim alone
    clock.advance(seconds=LEASE.total_seconds() + 1)
    result = await s.tick()
    assert (result.released, result.sent) == (1, 1)
    assert len(out.sent) == 1


async def test_crash_after_send_before_marking_sends_again_at_least_once(engine: Engine, clock: ManualClock) -> None:
    """Documented choice: a reminder may come twice, it is never lost (bot/scheduler.py)."""
    Talk(engine).say("/remind 30m call back")
    clock.advance(minutes=30)
    out = FakeChannel(crash_after_send=True)
    with pytest.raises(CrashAfterSend):
        await fake(engine, clock, out).tick()
    assert rows(engine)[0]["status"] == "claimed"
    out.crash_after_send = False
    clock.advance(seconds=LEASE.total_seconds() + 1)  # the restarted process
    assert (await fake(engine, clock, out).tick()).sent == 1
    assert len(out.sent) == 2
    assert rows(engine)[0]["status"] == "sent"


async def test_slow_batch_renews_its_claims_so_another_loop_does_not_resend(engine: Engine,
                                                                             clock: ManualClock) -> None:
    talk = Talk(engine)
    for minutes in range(30, 40):
        talk.say(f"/remind {minutes}m r{minutes}")
    clock.advance(minutes=45)
    sent: list[str] = []
    other_out = FakeChannel()
    other = fake(engine, clock, other_out)

    async def slow(user: str, replies: list[Reply]) -> bool:
        sent.append(replies[-1].buttons[0].id)
        clock.advance(seconds=SEND_TIMEOUT)      # every send takes as long as a send may
        await other.tick()                       # meanwhile another loop looks for abandoned claims
        return True

    channels = Channels()
    channels.register("fake", slow)
    result = await Scheduler(engine, channels, clock).tick()
    assert clock() - START > dt.timedelta(minutes=45) + LEASE   # the batch took longer than a lease
    assert result.sent == 10 and len(set(sent)) == 10
    assert other_out.sent == []
    assert {r["status"] for r in rows(engine)} == {"sent"}


# --- channels that cannot push -----------------------------------------------------------------

async def test_channel_that_cannot_push_keeps_it_for_the_next_message(engine: Engine, clock: ManualClock) -> None:
    talk = Talk(engine)
    talk.say("/remind 30m call back")
    clock.advance(minutes=31)
    out = FakeChannel(refuse=5)
    s = fake(engine, clock, out)
    assert (await s.tick()).deferred == 1
    assert rows(engine)[0]["status"] == "pending"
    replies = talk.say("hello")
    assert replies[0].kind == "reminder" and "call back" in replies[0].text
    assert rows(engine)[0]["status"] == "sent" and rows(engine)[0]["sent_via"] == "reply"
    clock.advance(hours=2)
    assert (await s.tick()).claimed == 0
    assert all(r.kind != "reminder" for r in talk.say("hello again"))


async def test_only_channels_this_process_can_send_to_are_claimed(engine: Engine, clock: ManualClock) -> None:
    Talk(engine, channel="telegram").say("/remind 30m call back")
    clock.advance(minutes=31)
    out = FakeChannel()
    assert (await fake(engine, clock, out).tick()).claimed == 0
    assert rows(engine)[0]["status"] == "pending"
    assert (await fake(engine, clock, out, name="telegram").tick()).sent == 1


async def test_pushed_check_can_be_answered_by_typing_its_number(engine: Engine, clock: ManualClock) -> None:
    talk = Talk(engine)
    talk.say("/lang en")
    for step in ("/track", "1", "Quick Cash", "3", "2026-11-25", "A-1"):
        talk.say(step)
    talk.say(choice="c:ok")
    clock.set(dt.datetime(2026, 12, 11, 10, 0, tzinfo=SH))  # the morning after the last day
    out = FakeChannel()
    assert (await fake(engine, clock, out).tick()).sent == 1
    check = out.sent[0][1][0]
    assert check.kind == "reminder" and "Did Quick Cash" in check.text
    replies = talk.say("3")                                   # "No answer yet"
    assert any(r.kind == "draft" and r.draft_id == "escalate_regulator" for r in replies)


# --- the loop and the terminal chat ---------------------------------------------------------

async def test_run_scheduler_ticks_until_stopped(engine: Engine, clock: ManualClock) -> None:
    Talk(engine).say("/remind 30m call back")
    clock.advance(hours=1)
    stop = asyncio.Event()
    out = FakeChannel()

    async def send(user: str, replies: list[Reply]) -> bool:
        stop.set()
        return await out(user, replies)

    channels = Channels()
    channels.register("fake", send)
    await asyncio.wait_for(run_scheduler(engine, channels, clock, stop, interval=3600), timeout=10)
    assert len(out.sent) == 1 and rows(engine)[0]["status"] == "sent"


def _chat(engine: Engine, lines: list[str], jsonl: bool = False,
          clock: Callable[[], dt.datetime] | None = None) -> str:
    out = io.StringIO()
    run_chat(engine, "local", "en", jsonl, stdin=io.StringIO("".join(x + "\n" for x in lines)), stdout=out,
             between=console_hook(engine, clock))
    return out.getvalue()


def test_terminal_chat_prints_due_reminders_at_start_and_between_messages(engine: Engine,
                                                                          clock: ManualClock) -> None:
    _chat(engine, ["/remind 30m stretch", "/remind 2h drink water"])
    clock.advance(minutes=45)
    printed = _chat(engine, ["/reminders"])
    title = ui("remind.list_title", "en")
    assert printed.index(ui("remind.arrived", "en", text="stretch")) < printed.index(title)
    assert "drink water" in printed.split(title)[1]

    class Later:
        """The scheduler's clock moves on while the user types the second line (ticks: at
        start, before line 1, before line 2)."""

        def __init__(self) -> None:
            self.calls = 0

        def __call__(self) -> dt.datetime:
            self.calls += 1
            return clock() + (dt.timedelta(hours=2) if self.calls > 2 else dt.timedelta())

    printed = _chat(engine, ["hello", "hello"], clock=Later())
    assert printed.count("Reminder: drink water") == 1
    assert printed.index("Reminder: drink water") > printed.index("Hi!")


def test_terminal_chat_jsonl_puts_reminders_inside_the_one_reply_line(engine: Engine, clock: ManualClock) -> None:
    _chat(engine, ["/remind 30m stretch"])
    clock.advance(minutes=45)
    lines = _chat(engine, [json.dumps({"text": "hello"})], jsonl=True).splitlines()
    assert len(lines) == 1
    replies = json.loads(lines[0])["replies"]
    assert replies[0]["kind"] == "reminder" and "stretch" in replies[0]["text"]


def test_times_are_stored_in_utc(engine: Engine, clock: ManualClock) -> None:
    Talk(engine).say("/remind 明天9点 x")
    assert rows(engine)[0]["due_at"] == iso(dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)) == "2026-11-30T01:00:00Z"
