"""The evidence log through the real engine (issue 16, items 1-4, 6 and 8): /log in a few
taps, "they called again", a recorded stop request, pasted collector's messages checked and
added, /timeline with what the log shows, the letters citing the log, /export and /delete.

The clock is the engine's ManualClock (tests/conftest.py): 2026-11-29 10:00 in Asia/Shanghai,
moved by the tests, never slept on."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from bot.evidence.model import Event
from bot.evidence.rules import check
from bot.scheduler import ManualClock
from tests.conftest import Chat, Talk, shown, ui

TZ = ZoneInfo("Asia/Shanghai")
DAY = dt.date(2026, 11, 29)
THREE_MESSAGES = {
    "zh": [
        ("【速借金融】您的借款已逾期15天，今天再不还款，我们将联系您单位领导和通讯录所有人，并安排人员上门。",
         {"third_parties", "visits"}),
        ("【速借】尊敬的客户，您的账单已逾期，请于今日通过速借App还款，如有困难可联系客服协商。",
         set()),
        ("转发一条短信：您好，你的欠款已经移交法院立案，明天法院传票就会送到你单位，"
         "请立刻把钱转到我们经理的个人账户6222 0000 1111 2222。",
         {"personal_account"}),
    ],
    "en": [
        ("[Forwarded message] Your loan with Quick Cash is 20 days overdue. Pay today or we will call your boss, "
         "your colleagues and everyone in your contacts and tell them you are a thief who does not pay debts.",
         {"third_parties"}),
        ("Dear customer, your repayment of 1,200 yuan to Quick Cash is overdue. Please repay through the Quick Cash "
         "app today, or contact customer service if you need an instalment plan. Thank you.",
         set()),
        ("Forwarded: you ignored us again. Transfer the overdue amount to our manager's personal account "
         "6222 0000 1111 2222 today, or your loan file goes to your employer and your family tomorrow morning.",
         {"personal_account"}),
    ],
}


def logged(chat: Chat) -> list[dict]:
    """The user's events, oldest first, findings decoded."""
    return [{**r, "findings": json.loads(r["findings"])} for r in chat.table_rows("events")]


def case_of(chat: Chat) -> int:
    rows = [r for r in logged(chat) if r["case_id"] is not None]
    assert rows, "nothing logged"
    return int(rows[-1]["case_id"])


def log_event(chat: Chat, kind: str, who: str | None = None, details: str | None = None,
              when: str | None = None, lender: str | None = None) -> None:
    chat.say("/log")
    if lender is not None:
        assert shown("log.lender.q", chat.text, chat_lang(chat))
        chat.say(lender)
    assert f"o:{kind}" in chat.buttons, chat.text
    chat.press(f"o:{kind}")
    if who is not None:
        chat.press(f"o:{who}")
    if kind != "stop_sent":
        chat.say(details) if details else chat.press("c:skip")
    chat.say(when) if when else chat.press("c:skip")


def chat_lang(chat: Chat) -> str:
    return chat.engine.language(chat.channel, chat.user)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_five_kinds_of_event_and_what_the_log_shows(engine, clock: ManualClock, lang: str) -> None:
    chat = Talk(engine, user=f"log-{lang}", lang=lang)
    lender = "速借" if lang == "zh" else "Quick Cash"
    last_night = "昨晚11点半" if lang == "zh" else "last night at 11:30pm"
    # 1. a call answered last night at 23:30 (the first entry: the lender is asked once)
    log_event(chat, "call_answered", "me", when=last_night, lender=lender)
    assert shown("evidence.saved", chat.text, lang, lender=lender)
    assert ui("evidence.at_night", lang) in chat.text
    case = case_of(chat)
    # 2. three connected calls this morning and one more: "they called again" buttons
    for minutes in (0, 30, 60):
        clock.set(dt.datetime(2026, 11, 29, 10, 0, tzinfo=TZ) + dt.timedelta(minutes=minutes))
        chat.press(f"ev:again:{case}:answered")
        assert ui("evidence.over_cap", lang, n=4) not in chat.text
    clock.set(dt.datetime(2026, 11, 29, 11, 30, tzinfo=TZ))
    chat.say("他们又打来了" if lang == "zh" else "They called again!")        # typed, at any time
    assert shown("evidence.again_q", chat.text, lang, lender=lender)
    chat.press(f"ev:again:{case}:answered")
    assert ui("evidence.over_cap", lang, n=4) in chat.text
    # 3. a text message, with the number it came from
    log_event(chat, "message", "me", details="138 0013 8000 " + ("说今天必须还" if lang == "zh" else "said pay today"))
    # 4. the stop-contact request, sent at noon (the button under the report's letters does
    #    the same: ev:stop)
    clock.set(dt.datetime(2026, 11, 29, 12, 0, tzinfo=TZ))
    log_event(chat, "stop_sent")
    assert shown("evidence.stop_saved", chat.text, lang, lender=lender)
    # 5. at 13:00 they called my employer anyway
    clock.set(dt.datetime(2026, 11, 29, 13, 0, tzinfo=TZ))
    log_event(chat, "third_party_call", "employer")
    assert shown("evidence.after_stop", chat.text, lang)

    rows = logged(chat)
    assert [r["kind"] for r in rows] == ["call_answered", "call_answered", "call_answered", "call_answered",
                                         "call_answered", "message", "stop_sent", "third_party_call"]
    assert {r["case_id"] for r in rows} == {case}
    assert rows[0]["at"] == "2026-11-28T15:30:00Z"           # 23:30 in Shanghai
    assert rows[5]["number"] == "13800138000" and rows[7]["who"] == "employer"
    assert all(r["source"] == "user" and r["status"] == "logged" for r in rows)

    # the rules over time, on what was stored
    result = check([Event.from_row(r) for r in rows], TZ, clock())
    found = {f.id: f for f in result.findings}
    assert set(found) == {"night", "connected_calls", "third_party_reachable", "after_stop"}
    assert found["night"].count == 1 and found["night"].days == (dt.date(2026, 11, 28),)
    assert found["connected_calls"].per_day == ((DAY, 4),)
    assert found["after_stop"].count == 1 and found["after_stop"].since == DAY
    assert found["after_stop"].event_ids == (rows[7]["id"],)
    assert found["third_party_reachable"].event_ids == (rows[7]["id"],)
    assert result.trend.this_week == 7 and result.trend.last_week == 0

    # what the log shows, in the chat: each finding with its rules and its entries
    chat.press(f"ev:f:{case}")
    text = chat.text
    assert shown("evidence.findings.night", text, lang, count=1)
    assert shown("evidence.findings.connected_calls", text, lang, n_days=1)
    assert shown("evidence.findings.after_stop", text, lang, count=1)
    assert "GB/T 45251-2025" in text
    assert shown("evidence.findings.entries", text, lang, ids="#8")   # the employer call, 8th entry
    assert shown("evidence.findings.trend_up", text, lang, this=7, last=0)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_pasted_messages_are_checked_and_added_to_the_log(engine, lang: str) -> None:
    chat = Talk(engine, user=f"paste-{lang}", lang=lang)
    lender = "速借" if lang == "zh" else "Quick Cash"
    for i, (message, expected) in enumerate(THREE_MESSAGES[lang]):
        chat.say(message)
        assert ui("evidence.scan.pasted", lang) in chat.text, (message, chat.text)
        for finding in expected:
            assert ui(f"scan.finding.{finding}.name", lang) in chat.text, (finding, chat.text)
        if not expected:
            assert ui("scan.lawful", lang) in chat.text
        add = next(b for b in chat.buttons if b.startswith("ev:add:"))
        chat.press(add)
        if i == 0:  # no log yet: its lender, once
            assert shown("log.lender.q", chat.text, lang)
            chat.say(lender)
        assert shown("evidence.scan.added", chat.text, lang, lender=lender)
        chat.press(add)                                   # pressed twice: added once
        assert ui("evidence.scan.gone", lang) in chat.text
    rows = logged(chat)
    assert len(rows) == 3 and len({r["case_id"] for r in rows}) == 1
    assert all(r["source"] == "scan" and r["status"] == "logged" and r["kind"] == "message" for r in rows)
    assert [r["words"] for r in rows] == [m for m, _ in THREE_MESSAGES[lang]]
    for row, (_, expected) in zip(rows, THREE_MESSAGES[lang], strict=True):
        assert expected <= set(row["findings"])
    # the findings of the log name what the messages showed
    chat.press(f"ev:f:{rows[0]['case_id']}")
    assert shown("evidence.findings.scanned", chat.text, lang, name=ui("scan.finding.third_parties.name", lang))
    assert shown("evidence.findings.scanned", chat.text, lang, name=ui("scan.finding.personal_account.name", lang))


def test_check_a_message_and_what_is_not_taken_for_one(engine) -> None:
    chat = Talk(engine, user="check")
    # an ordinary question is answered as a question, not scanned
    chat.say("网贷打我公司电话合法吗")
    assert ui("evidence.scan.pasted") not in chat.text
    assert not logged(chat)
    # a short message chosen to be checked ("check a message") is scanned all the same
    chat.say("/check")
    assert ui("check.message.q") in chat.text
    chat.say("不还钱就去你单位闹")
    assert ui("scan.finding.third_parties.name") in chat.text or ui("scan.finding.visits.name") in chat.text
    assert [r["status"] for r in logged(chat)] == ["pending"]
    # a pasted message while a dialog asks a question is that question's answer
    chat.say("/log")
    chat.say("速借")
    chat.press("o:message")
    chat.press("o:me")
    pasted = THREE_MESSAGES["zh"][0][0]
    chat.say(pasted)
    assert ui("evidence.scan.pasted") not in chat.text
    assert shown("log.when.q", chat.text, "zh")
    chat.press("c:skip")
    assert logged(chat)[-1]["words"] == pasted and logged(chat)[-1]["source"] == "user"
    # a crisis message always comes first, even when it is long and about the debt
    chat.say("我欠了你们的钱还不上，你们天天打电话给我单位和家人，我真的不想活了，今晚就从楼上跳下去，"
             "你们再催也没有用了，逾期的钱我还不了")
    assert chat.last[0].kind == "crisis" and len(chat.last) == 1


def test_a_time_that_cannot_be_read_is_asked_again(engine, clock: ManualClock) -> None:
    chat = Talk(engine, user="when", lang="en")
    log_event(chat, "call_missed", "me", when="whenever it was", lender="Quick Cash")
    assert ui("evidence.when_bad", "en") in chat.text
    assert shown("log.when.q", chat.text, "en")
    assert not logged(chat)
    chat.say("10 minutes ago")
    [row] = logged(chat)
    assert row["kind"] == "call_missed" and row["at"] == "2026-11-29T01:50:00Z"


def test_timeline_by_day_with_see_all(engine, clock: ManualClock) -> None:
    chat = Talk(engine, user="tl")
    log_event(chat, "call_answered", "me", when="11月20日晚上11点", lender="速借")
    case = case_of(chat)
    for day in range(21, 30):
        clock.set(dt.datetime(2026, 11, day, 9, 0, tzinfo=TZ))
        chat.press(f"ev:again:{case}:missed")
    log_event(chat, "third_party_call", "family")
    chat.say("/timeline")
    timeline = chat.last[0].text
    assert shown("evidence.timeline.title", timeline, "zh", lender="速借", n=11)
    assert shown("evidence.timeline.day", timeline, "zh", n=2)                 # today: the call and the family
    assert ui("evidence.timeline.third", "zh", n=1) in timeline
    assert shown("evidence.timeline.more", timeline, "zh", n=3)                # 10 days, 7 shown
    assert "\n11月20日" not in timeline                                        # the 8th day back: hidden
    assert chat.last[0].buttons[0].id == f"ev:all:{case}"                      # "see all" first
    assert len(timeline) < 600                                                 # a phone screen
    chat.press(f"ev:all:{case}")
    every = "\n".join(r.text for r in chat.last)
    assert "\n11月20日" in every and "#1 23:00" in every and "🌙" in every
    assert every.count("\n  #") == 11


def test_letters_cite_the_log_and_the_escalation_counts_after_the_stop_request(engine, clock: ManualClock) -> None:
    chat = Talk(engine, user="letters")
    log_event(chat, "call_answered", "me", when="11月27日晚上11点半", lender="速借")
    case = case_of(chat)
    for hour in (9, 10, 11, 12):
        clock.set(dt.datetime(2026, 11, 28, hour, 0, tzinfo=TZ))
        chat.press(f"ev:again:{case}:answered")
    clock.set(dt.datetime(2026, 11, 29, 10, 0, tzinfo=TZ))
    chat.press(f"ev:stop:{case}")
    clock.set(dt.datetime(2026, 11, 29, 15, 0, tzinfo=TZ))
    log_event(chat, "third_party_call", "employer")

    report(chat, "速借")
    drafts = {r.draft_id: r.text for r in chat.last if r.kind == "draft"}
    for draft in ("lender_complaint", "regulator_complaint", "stop_contact"):
        text = drafts[draft]
        assert "共有6次催收联系" in text, (draft, text)
        assert "2026年11月27日" in text and "2026年11月29日" in text
        assert "1次在晚上10点到早上8点之间" in text and "1次联系我的单位或同事" in text
        assert "2026年11月28日一天接通的催收电话多达4个" in text
        assert "我在2026年11月29日书面要求停止联系第三人之后，他们仍然联系了我以外的人1次" in text
    assert "最多时一天接通的催收电话" not in drafts["lender_complaint"]      # the estimate gives way
    assert any(b.id.startswith("ev:stop:") for b in chat.last[-1].buttons)   # "I've sent the stop request"

    # the escalation after the stop request counts the contacts after it
    chat.say("/track")
    chat.press("o:stop_request")
    chat.say("速借")
    chat.press("o:microloan")
    chat.say("今天")
    chat.press("c:ok") if "c:ok" in chat.buttons else None
    rows = chat.table_rows("complaints")
    assert rows and rows[-1]["body"] == "stop_request"
    clock.set(dt.datetime(2026, 11, 30, 15, 0, tzinfo=TZ))
    log_event(chat, "third_party_call", "family")
    chat.press(f"cpl:a:{rows[-1]['id']}:continuing")
    letter = next(r.text for r in chat.last if r.kind == "draft")
    assert "自2026年11月29日以来共2次（据我的逐次记录）" in letter, letter   # the employer, then the family


def report(chat: Chat, lender: str) -> None:
    """A short report through the dialog (the employer story of test_report_dialog.py)."""
    chat.say("/report")
    chat.press("o:borrower")
    chat.say(lender)
    chat.press("o:microloan")
    chat.press("o:called_employer")
    chat.press("c:done")
    chat.say("1 2")
    chat.say("说我欠钱不还")
    chat.press("o:not_agreed")
    chat.say("是" if chat_lang(chat) == "zh" else "yes")
    chat.say("2026-11-20")
    chat.say("2026-11-28")
    chat.press("c:skip")
    chat.press("o:recordings")
    chat.press("c:done")
    chat.press("o:no")
    chat.say("1 2")
    chat.press("o:calls_workhours")
    chat.say("李明")
    chat.press("c:skip")
    for _ in range(5):
        if "c:ok" in chat.buttons:
            break
        chat.press("c:skip")
    chat.press("c:ok")
    assert any(r.kind == "draft" for r in chat.last), chat.text


def test_export_has_the_log_and_delete_erases_it(engine) -> None:
    chat = Talk(engine, user="privacy")
    log_event(chat, "call_answered", "me", details="13800138000 张经理", lender="速借")
    chat.say(THREE_MESSAGES["zh"][0][0])                 # checked, waiting to be added
    chat.say("/export")
    data = json.loads(chat.last[0].files[0].content or "{}")
    events = sorted(data["events"], key=lambda e: e["id"])
    assert [e["kind"] for e in events] == ["call_answered", "message"]
    assert events[0]["number"] == "13800138000" and isinstance(events[1]["findings"], list)
    assert events[1]["words"] == THREE_MESSAGES["zh"][0][0] and events[1]["status"] == "pending"
    user_id = chat.user_id
    chat.say("/delete")
    chat.press(next(b for b in chat.buttons if b.endswith(":delete")))
    assert not list(engine.store.db.query("SELECT id FROM events WHERE user_id = ?", [user_id]))
    assert not list(engine.store.db.query("SELECT id FROM cases WHERE user_id = ?", [user_id]))


def test_one_user_never_sees_another_s_log(engine) -> None:
    alice, bob = Talk(engine, user="alice"), Talk(engine, user="bob")
    log_event(alice, "call_answered", "me", details="13800138000", lender="速借")
    case = case_of(alice)
    for pressed in (f"ev:tl:{case}", f"ev:all:{case}", f"ev:f:{case}", f"ev:again:{case}:answered",
                    f"ev:stop:{case}"):
        bob.press(pressed)
        assert ui("evidence.not_found") in bob.text and "13800138000" not in bob.text
    event = logged(alice)[0]["id"]
    bob.press(f"ev:add:{event}")
    assert ui("evidence.scan.gone") in bob.text
    assert len(logged(alice)) == 1 and not logged(bob)


def test_a_checked_message_not_added_is_forgotten_after_a_day(engine, clock: ManualClock) -> None:
    chat = Talk(engine, user="pending")
    chat.say(THREE_MESSAGES["zh"][0][0])
    add = next(b for b in chat.buttons if b.startswith("ev:add:"))
    clock.advance(hours=23)
    assert engine.store.events.prune_pending() == 0          # the reminder loop's housekeeping
    clock.advance(hours=2)
    assert engine.store.events.prune_pending() == 1
    assert not logged(chat)
    chat.press(add)
    assert ui("evidence.scan.gone") in chat.text


def test_english_users_get_the_log_in_the_chinese_letter_and_its_translation(engine, clock: ManualClock) -> None:
    chat = Talk(engine, user="letters-en", lang="en")
    log_event(chat, "call_missed", "me", when="yesterday 23:30", lender="Quick Cash")
    log_event(chat, "third_party_call", "family")
    report(chat, "Quick Cash")
    replies = chat.last
    for i, r in enumerate(replies):
        if r.kind == "draft" and r.draft_id in ("lender_complaint", "regulator_complaint", "stop_contact"):
            assert "根据我逐次记录的催收记录" in r.text and "共有2次催收联系" in r.text
            translation = replies[i + 1].text
            assert translation.startswith(ui("letter.translation", "en"))
            assert "According to the log I kept of each contact" in translation
            assert "2 collection contacts" in translation
            assert "1 between 22:00 and 08:00" in translation


def test_two_lenders_each_with_its_own_log(engine) -> None:
    chat = Talk(engine, user="two")
    log_event(chat, "call_answered", "me", lender="速借")
    first = case_of(chat)
    chat.say("/log")                                       # one lender: straight to "what happened?"
    assert "o:call_answered" in chat.buttons
    chat.say("/cancel")
    chat.press("ev:lc")                                    # another lender
    chat.say("快贷 ")
    chat.press("o:message")
    chat.press("o:me")
    chat.press("c:skip")
    chat.press("c:skip")
    second = case_of(chat)
    assert second != first
    chat.say("/log")                                       # two lenders: which one?
    assert set(chat.buttons) >= {f"ev:lc:{first}", f"ev:lc:{second}", "ev:lc"}
    chat.press(f"ev:lc:{first}")
    for press in ("o:call_missed", "o:me", "c:skip", "c:skip"):
        chat.press(press)
    assert shown("evidence.saved", chat.text, "zh", lender="速借")
    chat.say("又打来了")                                    # the log used last
    assert shown("evidence.again_q", chat.text, "zh", lender="速借")
    assert [r["case_id"] for r in logged(chat)] == [first, second, first]
    chat.say("/timeline")
    assert set(chat.buttons) == {f"ev:tl:{first}", f"ev:tl:{second}"}
    chat.press(f"ev:tl:{second}")
    assert shown("evidence.timeline.title", chat.last[0].text, "zh", lender="快贷", n=1)


def test_a_stop_request_tracked_with_track_counts_too(engine, clock: ManualClock) -> None:
    chat = Talk(engine, user="tracked")
    log_event(chat, "call_answered", "me", lender="速借")
    chat.say("/track")
    chat.press("o:stop_request")
    chat.say("速借")
    chat.press("o:microloan")
    chat.say("今天")
    if "c:ok" in chat.buttons:
        chat.press("c:ok")
    clock.set(dt.datetime(2026, 11, 29, 20, 0, tzinfo=TZ))    # the same day: not counted (hour unknown)
    log_event(chat, "third_party_call", "family")
    assert not shown("evidence.after_stop", chat.text, "zh")
    clock.set(dt.datetime(2026, 11, 30, 9, 0, tzinfo=TZ))
    log_event(chat, "third_party_call", "employer")
    assert shown("evidence.after_stop", chat.text, "zh", date="2026年11月29日")
    chat.press(f"ev:f:{case_of(chat)}")
    assert shown("evidence.findings.after_stop", chat.text, "zh", count=1, since="2026年11月29日")


def test_log_in_the_middle_of_a_report_asks_before_dropping_it(engine) -> None:
    chat = Talk(engine, user="mid")
    chat.say("/report")
    chat.press("o:borrower")
    chat.say("速借")
    chat.say("/log")
    assert "r:resume" in chat.buttons and "n:log" in chat.buttons     # continue, or start over?
    chat.press("r:resume")
    assert "o:microloan" in chat.buttons                              # the report's next question


def test_an_sms_is_added_to_the_log_of_the_lender_it_names(engine) -> None:
    chat = Talk(engine, user="sender")
    log_event(chat, "call_answered", "me", lender="速借")
    case = case_of(chat)
    chat.say("【速借金融】您的借款已逾期，再不还款将通知您的单位和家人。")      # names this log's lender
    chat.press(next(b for b in chat.buttons if b.startswith("ev:add:")))
    assert shown("evidence.scan.added", chat.text, "zh", lender="速借")
    chat.say("【快贷】您的借款已逾期，再不还款将通知您的单位和家人。")          # names another: which log?
    add = next(b for b in chat.buttons if b.startswith("ev:add:"))
    chat.press(add)
    assert ui("evidence.pick_case") in chat.text
    assert f"{add}:{case}" in chat.buttons and f"{add}:new" in chat.buttons
    chat.press(f"{add}:new")
    chat.say("快贷")
    assert shown("evidence.scan.added", chat.text, "zh", lender="快贷")
    rows = logged(chat)
    assert rows[1]["case_id"] == case and rows[2]["case_id"] not in (case, None)
    chat.press(f"ev:add:{rows[0]['id']}:999999")                          # a forged case: nothing added
    assert ui("evidence.scan.gone") in chat.text or ui("evidence.not_found") in chat.text


def test_the_log_has_a_cap(engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.actions import evidence

    monkeypatch.setattr(evidence, "MAX_EVENTS", 2)
    chat = Talk(engine, user="cap")
    log_event(chat, "call_answered", "me", lender="速借")
    chat.say(THREE_MESSAGES["zh"][0][0])                     # checked: waits, counted
    chat.press(f"ev:again:{case_of(chat)}:answered")
    assert ui("evidence.full", "zh", max=2) in chat.text
    chat.say(THREE_MESSAGES["zh"][2][0])                     # still checked, not kept
    assert ui("evidence.scan.pasted") in chat.text and not any(b.startswith("ev:add:") for b in chat.buttons)
    assert len(logged(chat)) == 2


def test_a_checked_message_that_ends_in_a_question_is_still_the_message(engine) -> None:
    chat = Talk(engine, user="question")
    chat.say("/check")
    chat.say("催收打电话到单位合法吗？")        # what a collector might write, or a question: it is checked
    assert ui("evidence.scan.add_hint") in chat.text
    assert logged(chat)[-1]["words"] == "催收打电话到单位合法吗？"


@pytest.mark.parametrize(("lang", "typed"), [("zh", "记录一次催收"), ("en", "Log a call")])
def test_typed_words_start_the_log(engine, lang: str, typed: str) -> None:
    chat = Talk(engine, user=f"typed-{lang}", lang=lang)
    chat.say(typed)
    assert shown("log.lender.q", chat.text, lang)


def test_see_all_stays_a_few_messages_long(engine, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.actions import evidence

    monkeypatch.setattr(evidence, "MAX_ALL", 5)
    chat = Talk(engine, user="many")
    log_event(chat, "call_missed", "me", lender="速借")
    case = case_of(chat)
    for _ in range(8):
        clock.advance(minutes=1)
        chat.press(f"ev:again:{case}:missed")
    chat.press(f"ev:all:{case}")
    every = "\n".join(r.text for r in chat.last)
    assert every.count("\n  #") == 5 and "#9 " in every and "#4 " not in every
    assert ui("evidence.timeline.more_all", "zh", n=4) in every


def test_seven_missed_calls_from_one_number_pass_the_attempts_cap(engine, clock: ManualClock) -> None:
    chat = Talk(engine, user="attempts", lang="en")
    log_event(chat, "call_missed", "me", lender="Quick Cash")
    case = case_of(chat)
    for _ in range(5):
        clock.advance(minutes=5)
        chat.press(f"ev:again:{case}:missed")
    assert ui("evidence.over_attempts", "en", n=6) not in chat.text
    clock.advance(minutes=5)
    chat.press(f"ev:again:{case}:missed")
    assert ui("evidence.over_attempts", "en", n=7) in chat.text
    chat.press(f"ev:f:{case}")
    assert shown("evidence.findings.dial_attempts", chat.text, "en", n_days=1)
    assert "China Banking Association" in chat.text
