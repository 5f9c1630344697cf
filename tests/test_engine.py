"""Scripted conversations through the real engine (content, dialogs, SQLite), zh and en."""

from __future__ import annotations

import json

import pytest

from bot.core.models import Inbound
from tests.conftest import Chat, shown, ui, ui_head


def test_main_question_answered_in_chinese_with_source_and_date(chat: Chat):
    chat.say("网贷催收打电话到我单位合法吗")
    answer = chat.last[0]
    assert answer.kind == "answer"
    topic = chat.engine.k.answer("employer_contact", "zh")
    assert answer.text.startswith(topic.title)
    assert "GB/T 45251-2025" in answer.text and shown("answer.footer", answer.text, checked=topic.checked)
    assert "m:employer_contact" in chat.buttons


def test_main_question_answered_in_english(chat: Chat):
    chat.say("is it legal for the lender to call my employer?")
    topic = chat.engine.k.answer("employer_contact", "en")
    assert chat.last[0].text.startswith(topic.title)
    assert shown("answer.footer", chat.text, "en", checked=topic.checked)
    chat.press("m:employer_contact")
    assert ui("answer.sources_title", "en", checked=topic.checked) in chat.text and "binds:" in chat.text


def test_start_dialog_switches_language_at_once_and_answers_the_need(chat: Chat):
    chat.say("/start")
    assert ui("start.lang.q") in chat.text
    assert chat.buttons == ["o:zh", "o:en"]
    chat.press("o:en")
    assert chat.last[-1].text.startswith(ui("start.need.q", "en"))  # asked in English now
    chat.say("1")  # typed number = the first button
    assert chat.last[0].text.startswith(chat.engine.k.answer("employer_contact", "en").title)
    assert chat.engine.store.session(chat.engine.store.user("test", "u1")["id"]) is None
    chat.say("催收爆通讯录怎么办")  # the user chose English: answers stay in English
    assert chat.last[0].kind == "answer" and "contact" in chat.last[0].text.lower()


def test_typed_label_works_like_a_button(chat: Chat):
    chat.say("/start")
    chat.say(ui("lang.opt.zh"))
    assert chat.last[-1].text.startswith(ui("start.need.q"))
    chat.say(ui("start.need.opt.complain"))
    assert "12378" in chat.text


def test_crisis_comes_first_outside_and_inside_dialogs(chat: Chat):
    chat.say("我欠了好多网贷，真的不想活了")
    assert chat.last[0].kind == "crisis"
    assert "12356" in chat.last[0].text and "120" in chat.last[0].text
    chat.say("/start")
    chat.press("o:zh")
    chat.say("i want to kill myself")
    assert [r.kind for r in chat.last] == ["crisis"]     # alone: the pending question is not re-asked
    session = chat.engine.store.session(chat.engine.store.user("test", "u1")["id"])
    assert session["step"] == "need" and session["paused"]  # ...but kept for later


@pytest.mark.parametrize("text", ["吓死我了，催收打了一天电话", "笑死，这个催收真离谱"])
def test_idioms_with_death_words_are_not_crises(chat: Chat, text: str):
    chat.say(text)
    assert chat.last[0].kind != "crisis"


def test_digression_mid_dialog_answers_then_reasks(chat: Chat):
    chat.say("/start")
    chat.press("o:zh")
    chat.say("催收打我公司电话合法吗")
    assert chat.last[0].kind == "answer"
    assert chat.last[0].text.startswith(chat.engine.k.answer("employer_contact", "zh").title)
    assert chat.last[-1].text.startswith(ui("start.need.q"))
    chat.press("o:threats")
    assert "110" in chat.text


def test_low_confidence_offers_topics_and_out_of_scope_says_what_it_can_do(chat_en: Chat):
    chat_en.say("what's the weather in beijing tomorrow")
    assert ui_head("unknown.text", "en") in chat_en.text
    assert chat_en.buttons and all(b.startswith("t:") for b in chat_en.buttons)
    chat_en.say("2")  # a number picks one of the offered topics
    assert chat_en.last[0].kind == "answer"


@pytest.mark.parametrize("text", ["", "   ", "\x00\x01\x02", "\u200b\u200b"])
def test_empty_and_invisible_messages(chat: Chat, text: str):
    chat.say(text)
    assert len(chat.last) == 1 and ui("input.empty") in chat.text


def test_huge_message_is_refused_and_dialog_stays(chat: Chat):
    chat.say("/start")
    chat.say("啊" * 10_000)
    assert shown("input.too_long", chat.last[0].text, length=10_000) and chat.buttons == ["o:zh", "o:en"]
    chat.press("o:zh")
    assert chat.last[-1].text.startswith(ui("start.need.q"))


@pytest.mark.parametrize("text", ["🙂🙂🙂", "催收 calls 我的 boss 怎么办 ok?", "ｈｅｌｌｏ　世界", "\x1b[31mred\x1b[0m",
                                  "<script>alert(1)</script>", "{{ facts }}", "' OR 1=1 --"])
def test_odd_text_gets_a_reply_not_a_crash(chat: Chat, text: str):
    replies = chat.say(text)
    assert replies and all(r.text for r in replies)
    assert ui("input.error") not in chat.text and ui("input.error", "en") not in chat.text


def test_unknown_command_and_stale_button(chat: Chat):
    chat.say("/frobnicate")
    assert "/frobnicate" in chat.last[0].text and "/help" in chat.text
    chat.say("/start")
    chat.press("o:threats")  # an option of the next step, not this one
    assert ui("flow.stale") in chat.text and chat.buttons == ["o:zh", "o:en"]
    chat.press("zz:nothing")
    assert ui("input.stale_button") in chat.text
    chat.press("o:zh")
    assert chat.last[-1].text.startswith(ui("start.need.q"))


def test_controls_without_dialog(chat: Chat):
    for command in ("/cancel", "/back", "/skip"):
        chat.say(command)
        assert ui("cancel.nothing") in chat.text


def test_cancel_back_in_dialog(chat: Chat):
    chat.say("/start")
    chat.press("o:en")
    chat.say("/back")
    assert chat.buttons == ["o:zh", "o:en"]
    chat.say("/cancel")
    assert ui("flow.cancelled", "en") in chat.text
    assert chat.engine.store.session(chat.engine.store.user("test", "u1")["id"]) is None


def test_duplicate_message_id_is_handled_once(chat: Chat):
    first = chat.send(text="/start", message_id="same")
    again = chat.send(text="/start", message_id="same")
    assert first and again == []
    store = chat.engine.store
    assert store.db.execute("SELECT COUNT(*) FROM inbox").fetchone()[0] == 1


def test_unacknowledged_replies_are_redelivered_not_recomputed(engine):
    inbound = Inbound(channel="test", user="x", message_id="m1", text="/start")
    first = engine.handle(inbound)
    again = engine.handle(inbound)  # e.g. a webhook retry before the first send was confirmed
    assert again == first
    engine.ack(inbound)
    assert engine.handle(inbound) == []


def test_crash_before_handling_is_recovered(engine, make_engine):
    store = engine.store
    uid = store.user("test", "x")["id"]
    payload = Inbound(channel="test", user="x", message_id="m9", text="催收爆通讯录").model_dump(mode="json")
    store.receive("test", "m9", uid, payload)  # journalled, then the process died
    fresh = make_engine()
    recovered = fresh.recover("test")
    assert len(recovered) == 1 and recovered[0][1][0].kind == "answer"
    assert [r for _, r in fresh.recover("test")] == [recovered[0][1]]  # not acked: offered again
    fresh.ack(recovered[0][0])
    assert fresh.recover("test") == []


def test_restart_mid_dialog_continues_at_same_step(chat: Chat, restart):
    chat.say("/start")
    chat.press("o:en")
    chat2 = restart(chat)
    chat2.press("o:calls")
    assert "22:00" in chat2.text


def test_lang_command(chat: Chat):
    chat.say("/lang")
    assert chat.buttons == ["l:zh", "l:en"]
    chat.press("l:en")
    assert ui("lang.set", "en") in chat.text
    chat.say("/lang xx")
    assert ui("lang.unknown", "en") in chat.text
    chat.say("/lang zh")
    assert ui("lang.set") in chat.text


def test_export_then_delete_everything(chat: Chat):
    chat.say("/start")
    chat.press("o:zh")
    chat.say("/export")
    exported = json.loads(chat.last[0].files[0].content)
    assert exported["user"]["external_id"] == "u1"
    assert exported["sessions"][0]["dialog"] == "start"
    chat.say("/delete")
    assert chat.buttons == ["y:delete", "y:keep"]
    chat.press("y:delete")
    assert ui("privacy.deleted") in chat.text
    db = chat.engine.store.db
    for table in ("users", "sessions", "cases", "inbox"):
        assert db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0


def test_delete_can_be_declined(chat: Chat):
    chat.say("/delete")
    chat.press("y:keep")
    assert ui("privacy.kept") in chat.text
    assert chat.engine.store.db.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 1


def test_message_text_is_not_kept_after_answering(chat: Chat):
    chat.say("我叫张三，电话13800000000，催收打我公司")
    rows = list(chat.engine.store.db.query("SELECT payload, replies, status FROM inbox"))
    assert len(rows) == 1 and rows[0]["payload"] is None and rows[0]["status"] == "delivered"
    assert "张三" not in rows[0]["replies"] and "13800000000" not in rows[0]["replies"]  # replies kept for retries


def test_attachment_gets_a_helpful_reply(chat: Chat):
    chat.send(attachment="photo")
    assert ui("input.attachment") in chat.text


def test_language_follows_text_until_chosen(engine):
    zh = Chat(engine, user="a")
    zh.say("hello there, collectors call my boss every day")
    assert zh.last[0].text.startswith("Collectors")
    zh.say("催收打我公司电话")
    assert zh.last[0].text.startswith("催收")
    hinted = Chat(engine, user="b", lang="en-US")
    hinted.say("/help")
    assert ui_head("help", "en") in hinted.text


def test_logs_never_contain_message_text_names_or_numbers(chat: Chat, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    secret = ["张三丰", "13912345678", "催收打我单位电话好几次"]
    chat.say("/report")
    chat.press("o:borrower")
    chat.say(secret[0])
    chat.say(secret[2] + "？")
    chat.say(secret[1])
    chat.engine.matcher.match(secret[2])
    text = caplog.text
    assert not any(s in text for s in secret)


def test_impossible_date_mid_dialog_is_explained_and_nothing_is_lost(chat: Chat, restart):
    chat.say("/track")
    chat.press("o:nfra")
    chat.say("快借")                    # the lender
    chat.say("2026-02-30")
    assert ui("flow.bad.no_such_date") in chat.text
    chat2 = restart(chat)               # a restart does not lose the answers so far
    chat2.say("2026-11-20")
    session = chat2.engine.store.session(chat2.user_id)
    assert session["slots"]["lender_name"] == "快借" and session["slots"]["filed_on"] == "2026-11-20"


def test_time_zone_command(chat_en: Chat):
    chat_en.say("/tz")
    assert "Asia/Shanghai" in chat_en.text
    chat_en.say("/tz Europe/Berlin")
    assert "Europe/Berlin" in chat_en.text
    assert chat_en.engine.store.user_by_id(chat_en.user_id)["tz"] == "Europe/Berlin"
    chat_en.say("/tz")
    assert "Europe/Berlin" in chat_en.text
    for bad in ("Mars/Olympus", "../../etc/passwd", "x" * 300):
        chat_en.say(f"/tz {bad}")
        assert shown("tz.unknown", chat_en.text, "en")
    assert chat_en.engine.store.user_by_id(chat_en.user_id)["tz"] == "Europe/Berlin"


@pytest.mark.parametrize("text", ["help", "Help!", "帮助", "菜单", "?", "？"])
def test_a_lone_help_word_shows_the_help_screen(chat: Chat, loaded, text: str):
    """The help screen (in whichever language the word suggests), not the legal-aid answer."""
    chat.say(text)
    screen = chat.last[0].text
    assert "/report" in screen and "/apr" in screen and "/help" in screen
    for lang in ("zh", "en"):
        assert loaded.knowledge.answer("legal_aid", lang).title not in screen


def test_help_inside_a_sentence_is_still_a_question(chat_en: Chat, loaded):
    chat_en.say("where can i get free legal help")
    assert loaded.knowledge.answer("legal_aid", "en").title in chat_en.last[0].text
