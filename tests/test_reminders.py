"""/remind and /reminders through the engine, the reminder rows, and delivery with the reply
to the user's next message (the engine's BEFORE_REPLY hook)."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from bot.actions.remind import MAX_UPCOMING
from bot.app import Loaded, build_engine
from bot.config import Settings
from bot.core.engine import Engine
from bot.core.models import Inbound
from bot.scheduler import ManualClock
from storage.migrations import USER_TABLES
from storage.reminders import due_query, from_iso, iso
from tests import conftest
from tests.conftest import shown, ui, ui_head

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 29, 10, 0, tzinfo=SH)






class Talk(conftest.Talk):
    def rows(self) -> list[dict]:
        return self.table_rows("reminders")

# --- /remind ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "due_local"), [
    ("明天9点 给监管部门打电话", "2026-11-30 09:00"),
    ("in 3 days ask about my complaint", "2026-12-02 10:00"),
    ("2026-12-01 09:00 交材料", "2026-12-01 09:00"),
    ("30m 回电话", "2026-11-29 10:30"),
    ("3天后 问进度", "2026-12-02 10:00"),
    ("下周一 开庭", "2026-11-30 09:00"),
])
def test_remind_saves_a_row_at_the_time_meant(engine: Engine, text: str, due_local: str) -> None:
    talk = Talk(engine)
    talk.say(f"/remind {text}")
    [row] = talk.rows()
    assert from_iso(row["due_at"]).astimezone(SH).strftime("%Y-%m-%d %H:%M") == due_local
    assert (row["status"], row["kind"], row["channel"], row["attempts"]) == ("pending", "personal", "test", 0)
    assert row["next_attempt_at"] == row["due_at"]
    assert shown("remind.set", talk.text, text=row["text"])
    assert talk.buttons == [f"rem:x:{row['id']}", "rem:l"]


@pytest.mark.parametrize(("text", "key", "names"), [
    ("/remind", "remind.usage", ""),
    ("/remind 昨天9点 x", "remind.bad.past", ""),
    ("/remind 2026-11-28 09:00 x", "remind.bad.past", "2026年11月28日"),       # names the past time it read
    ("/remind 交电费", "remind.bad.unparsed", ""),
    ("/remind 2026-02-30 x", "remind.bad.no_such_date", ""),
])
def test_bad_times_get_a_clear_reply_and_save_nothing(engine: Engine, text: str, key: str, names: str) -> None:
    talk = Talk(engine)
    talk.say(text)
    assert shown(key, talk.text) and names in talk.text
    assert talk.rows() == []


def test_bad_time_in_english(engine: Engine) -> None:
    talk = Talk(engine, lang="en")
    talk.say("/remind yesterday call")
    assert shown("remind.bad.past", talk.text, "en") and ui("remind.examples", "en") in talk.text


def test_reminders_are_read_in_the_users_own_zone(engine: Engine) -> None:
    talk = Talk(engine, lang="en")
    engine.store.update_user(talk.user_id, tz="Europe/Berlin")
    talk.say("/remind 9am x")   # 03:00 on 29 November in Berlin: 9am is still to come today there
    assert from_iso(talk.rows()[0]["due_at"]) == dt.datetime(2026, 11, 29, 8, 0, tzinfo=dt.UTC)
    assert "Sun 29 November 2026, 09:00 (Europe/Berlin)" in talk.text


def test_too_long_and_too_many(engine: Engine) -> None:
    talk = Talk(engine, lang="en")
    talk.say("/remind 30m " + "x" * 301)
    assert shown("remind.bad.too_long", talk.text, "en") and talk.rows() == []
    rs = engine.store.reminders
    for _ in range(MAX_UPCOMING):
        rs.add(talk.user_id, "test", "personal", NOW + dt.timedelta(days=1), text="x", now=NOW)
    talk.say("/remind 30m one more")
    assert shown("remind.bad.too_many", talk.text, "en", max=MAX_UPCOMING) and len(talk.rows()) == MAX_UPCOMING


# --- /reminders, cancel and snooze -----------------------------------------------------------------

def test_list_cancel_and_snooze(engine: Engine) -> None:
    talk = Talk(engine, lang="en")
    talk.say("/remind tomorrow 9am call the bank")
    talk.say("/remind 2026-12-05 10:00 send the letter")
    first, second = talk.rows()
    talk.say("/reminders")
    assert "1. Mon 30 November 2026, 09:00: call the bank" in talk.text
    assert "2. Sat 5 December 2026, 10:00: send the letter" in talk.text
    assert talk.buttons == [f"rem:x:{first['id']}", f"rem:s:{first['id']}",
                            f"rem:x:{second['id']}", f"rem:s:{second['id']}"]
    talk.say(choice=f"rem:x:{first['id']}")
    assert ui("remind.cancelled", "en", what="call the bank") in talk.text
    assert talk.rows()[0]["status"] == "cancelled"
    talk.say(choice=f"rem:x:{first['id']}")
    assert ui("remind.cannot_cancel.cancelled", "en") in talk.text
    talk.say(choice=f"rem:s:{second['id']}")
    assert talk.buttons == [f"rem:z:{second['id']}:1h", f"rem:z:{second['id']}:1d", f"rem:z:{second['id']}:1w"]
    talk.say(choice=f"rem:z:{second['id']}:1d")          # a reminder still to come moves later
    assert from_iso(talk.rows()[1]["due_at"]) == dt.datetime(2026, 12, 6, 10, 0, tzinfo=SH)
    assert "Sun 6 December 2026, 10:00" in talk.text
    talk.say("/reminders")
    assert "call the bank" not in talk.text and "send the letter" in talk.text


def test_snooze_after_it_arrived_brings_it_back_from_now(engine: Engine, clock: ManualClock) -> None:
    talk = Talk(engine, lang="en")
    talk.say("/remind 30m stretch")
    clock.advance(minutes=40)
    arrived = talk.say("hello")[0]
    assert arrived.kind == "reminder" and ui("remind.arrived", "en", text="stretch") in arrived.text
    assert [b.id for b in arrived.buttons] == [f"rem:z:{talk.rows()[0]['id']}:1h", f"rem:z:{talk.rows()[0]['id']}:1d"]
    talk.say(choice=arrived.buttons[0].id)
    row = talk.rows()[0]
    assert row["status"] == "pending" and from_iso(row["due_at"]) == clock() + dt.timedelta(hours=1)
    assert row["attempts"] == 0


def test_nobody_else_can_touch_a_reminder(engine: Engine) -> None:
    owner = Talk(engine, user="owner", lang="en")
    owner.say("/remind 30m mine")
    rid = owner.rows()[0]["id"]
    other = Talk(engine, user="other", lang="en")
    for button in (f"rem:x:{rid}", f"rem:s:{rid}", f"rem:z:{rid}:1h"):
        other.say(choice=button)
        assert ui("remind.not_found", "en") in other.text
    assert owner.rows()[0]["status"] == "pending"


# --- delivery with the next message ---------------------------------------------------------

def test_due_reminders_come_before_the_answer_once(engine: Engine, clock: ManualClock) -> None:
    talk = Talk(engine, lang="en")
    talk.say("/remind 30m first")
    talk.say("/remind 45m second")
    talk.say("/remind 2h later")
    clock.advance(minutes=50)
    replies = talk.say("hello")
    assert [r.kind for r in replies][:2] == ["reminder", "reminder"]
    assert "first" in replies[0].text and "second" in replies[1].text and ui_head("greeting", "en") in replies[2].text
    late = ui_head("remind.late", "en")
    assert late in replies[0].text and late not in replies[1].text   # 20 min vs 5 min after due
    assert [r["sent_via"] for r in talk.rows()] == ["reply", "reply", None]
    assert all(r.kind != "reminder" for r in talk.say("hello"))


def test_a_crisis_message_gets_care_first_and_alone(engine: Engine, clock: ManualClock) -> None:
    talk = Talk(engine)
    talk.say("/remind 30m 打电话")
    clock.advance(hours=1)
    replies = talk.say("我不想活了")
    assert replies[0].kind == "crisis" and all(r.kind != "reminder" for r in replies)
    assert talk.rows()[0]["status"] == "pending"
    assert talk.say("你好")[0].kind == "reminder"


def test_reminder_with_the_reply_survives_a_crash_before_delivery(engine: Engine, clock: ManualClock,
                                                                 settings: Settings, loaded: Loaded) -> None:
    talk = Talk(engine, lang="en")
    talk.say("/remind 30m stretch")
    clock.advance(hours=1)
    inbound = Inbound(channel="test", user="u1", message_id="crash-1", text="hello")
    engine.handle(inbound)                                     # handled, stored; never acknowledged
    engine.store.db.close()
    again = build_engine(settings, clock=clock, loaded=loaded)
    [(_, replies)] = again.recover("test")
    assert replies[0].kind == "reminder" and "stretch" in replies[0].text
    assert [r["status"] for r in again.store.db.query("SELECT status FROM reminders")] == ["sent"]


# --- storage ------------------------------------------------------------------------------------

def test_per_tick_claim_uses_the_due_index(engine: Engine) -> None:
    """The very selection claim_due runs (no index hint: the planner's own choice)."""
    def plan(channels: list[str] | None, user_id: int | None = None) -> str:
        due, params = due_query(NOW, 10, channels, user_id)
        rows = engine.store.db.execute(f"EXPLAIN QUERY PLAN SELECT id {due}", params).fetchall()
        return " ".join(str(row) for row in rows)

    for channels in (None, ["fake"], ["telegram", "wechat", "web"]):
        each = plan(channels)
        assert "reminders_due" in each and "status=? AND due_at<?" in each.replace("<=", "<")
        assert "TEMP B-TREE" not in each                      # ordered by the index itself
    assert "reminders_user" in plan(["console"], user_id=1)   # one user's rows: their own index
    columns = [r[2] for r in engine.store.db.execute("PRAGMA index_info(reminders_due)").fetchall()]
    assert columns[:2] == ["status", "due_at"]


def test_times_round_trip_as_utc() -> None:
    at = dt.datetime(2026, 3, 8, 9, 0, tzinfo=ZoneInfo("America/New_York"))
    assert iso(at) == "2026-03-08T13:00:00Z"
    assert from_iso(iso(at)) == at
    with pytest.raises(ValueError):
        iso(dt.datetime(2026, 1, 1))


def test_export_and_delete_cover_reminders_and_complaints(engine: Engine) -> None:
    assert {"reminders", "complaints"} <= set(USER_TABLES)
    talk = Talk(engine, lang="en")
    talk.say("/remind 30m secret text")
    engine.store.reminders.add_complaint(talk.user_id, NOW, body="police", filed_on="2026-11-20",
                                         stage="follow_up")
    exported = talk.say("/export")[0].files[0].content
    data = json.loads(exported)
    assert data["reminders"][0]["text"] == "secret text" and data["complaints"][0]["body"] == "police"
    talk.say("/delete")
    talk.say(choice="y:delete")
    assert list(engine.store.db.query("SELECT * FROM reminders")) == []
    assert list(engine.store.db.query("SELECT * FROM complaints")) == []
