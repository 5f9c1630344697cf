"""The Telegram adapter offline: a fake BaseRequest records every Bot API call and answers with
canned results (including 429 with retry_after, 403 and 502), updates come from
Update.de_json, the engine, content and SQLite are the real ones.

`FakeTelegram` is the fake Bot API's state and answers; `FakeRequest` plugs it into PTB in
process; tests/test_telegram_e2e.py serves the same fake over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from telegram import Update
from telegram.error import NetworkError
from telegram.request import BaseRequest, RequestData

from bot.channels.telegram import (
    CHANNEL,
    MAX_UNITS,
    NOOP,
    TelegramBot,
    draft_digest,
    keyboard,
    split_text,
    to_html,
    to_inbound,
    utf16_len,
    webhook_secret,
)
from bot.config import Settings
from bot.core.engine import Engine
from bot.core.models import Button, Reply

TOKEN = "123456:TEST-token"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "Borrower Guard", "username": "guard_test_bot",
            "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": True}


# --- the fake Bot API ---------------------------------------------------------------------------

class FakeTelegram:
    """Bot API state and canned answers. `fail(method, status, **body)` queues one failure."""

    def __init__(self, inline: bool = True, latency: Callable[[str, dict], float] | None = None):
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.failures: dict[str, list[tuple[int, dict[str, Any], Callable[[dict], bool] | None]]] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.ids = itertools.count(1000)
        self.me = dict(BOT_USER, supports_inline_queries=inline)
        self.latency = latency
        self.pending_updates: list[dict[str, Any]] = []
        self.update_ids = itertools.count(1)
        self.new_updates = asyncio.Event()

    def fail(self, method: str, status: int, when: Callable[[dict], bool] | None = None, **body: Any) -> None:
        self.failures.setdefault(method, []).append((status, body, when))

    def answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.calls.append((method, params))
        for i, (status, body, when) in enumerate(self.failures.get(method, [])):
            if when is None or when(params):
                del self.failures[method][i]
                return status, {"ok": False, "error_code": status, **body}
        return 200, {"ok": True, "result": self.result(method, params)}

    def result(self, method: str, p: dict[str, Any]) -> Any:
        now = int(time.time())
        if method == "getMe":
            return self.me
        if method in ("sendMessage", "sendDocument"):
            chat = int(p["chat_id"])
            msg: dict[str, Any] = {"message_id": next(self.ids), "date": now, "from": self.me,
                                   "chat": {"id": chat, "type": "private" if chat > 0 else "group"}}
            if method == "sendMessage":
                msg["text"] = p["text"]
            else:
                msg["document"] = {"file_id": f"f{msg['message_id']}", "file_unique_id": f"u{msg['message_id']}",
                                   "file_name": p.get("_filename", "file.txt")}
            if p.get("reply_markup"):
                msg["reply_markup"] = p["reply_markup"]
            self.messages[(chat, msg["message_id"])] = msg
            return msg
        if method in ("editMessageText", "editMessageReplyMarkup"):
            key = (int(p["chat_id"]), int(p["message_id"]))
            msg = dict(self.messages.get(key) or {"message_id": key[1], "date": now, "chat": {"id": key[0],
                                                                                                 "type": "private"}})
            if "text" in p:
                msg["text"] = p["text"]
            if p.get("reply_markup"):
                msg["reply_markup"] = p["reply_markup"]
            else:
                msg.pop("reply_markup", None)
            self.messages[key] = msg
            return msg
        if method == "getUpdates":
            offset = int(p.get("offset") or 0)
            self.pending_updates = [u for u in self.pending_updates if u["update_id"] >= offset]
            return list(self.pending_updates)
        return True  # answerCallbackQuery, setMyCommands, setWebhook, answerInlineQuery, ...

    # views on the recorded calls ------------------------------------------------------------
    def of(self, *methods: str) -> list[dict[str, Any]]:
        return [p for m, p in self.calls if m in methods]

    def sent(self, chat: int | None = None) -> list[dict[str, Any]]:
        return [p for p in self.of("sendMessage") if chat is None or int(p["chat_id"]) == chat]

    def texts(self, chat: int | None = None) -> list[str]:
        return [p["text"] for p in self.sent(chat)]

    def reset(self) -> None:
        self.calls.clear()


class FakeRequest(BaseRequest):
    """PTB's network layer replaced by FakeTelegram (no sockets)."""

    def __init__(self, fake: FakeTelegram):
        self.fake = fake

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float:
        return 1.0

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = None, write_timeout: Any = None, connect_timeout: Any = None,
                         pool_timeout: Any = None) -> tuple[int, bytes]:
        api = url.rsplit("/", 1)[-1]
        params: dict[str, Any] = dict(request_data.parameters) if request_data else {}
        if request_data and request_data.contains_files:
            for _name, value in request_data.multipart_data.items():
                params["_filename"], params["_content"] = value[0], value[1].decode("utf-8", "replace")
        if self.fake.latency:
            await asyncio.sleep(self.fake.latency(api, params))
        status, body = self.fake.answer(api, params)
        if status >= 500:
            raise NetworkError(f"fake {status}")
        return status, json.dumps(body).encode()


# --- updates as Telegram sends them --------------------------------------------------------------

_update_ids = itertools.count(1)


def user_dict(user: int, lang: str | None = "en") -> dict[str, Any]:
    return {"id": user, "is_bot": False, "first_name": "Test", **({"language_code": lang} if lang else {})}


def message_update(user: int, text: str | None = None, lang: str | None = "en", chat: int | None = None,
                   update_id: int | None = None, **extra: Any) -> dict[str, Any]:
    chat_id = chat if chat is not None else user
    msg: dict[str, Any] = {"message_id": next(_update_ids), "date": int(time.time()), "from": user_dict(user, lang),
                           "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"}, **extra}
    if text is not None:
        msg["text"] = text
        if text.startswith("/"):
            msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": update_id or next(_update_ids), "message": msg}


def press_update(fake: FakeTelegram, user: int, data: str, message: dict[str, Any] | None = None,
                 lang: str | None = "en", update_id: int | None = None) -> dict[str, Any]:
    """A button press on `message` (default: the last message sent to `user` that has a keyboard
    with this button), as Telegram sends it: with the message and its current keyboard."""
    if message is None:
        message = last_with_button(fake, user, data)
    return {"update_id": update_id or next(_update_ids),
            "callback_query": {"id": f"cq{next(_update_ids)}", "from": user_dict(user, lang),
                               "chat_instance": "ci", "data": data, "message": message}}


def last_with_button(fake: FakeTelegram, chat: int, data: str) -> dict[str, Any]:
    for (c, _mid), msg in sorted(fake.messages.items(), key=lambda kv: -kv[0][1]):
        if c == chat and data in buttons_of(msg):
            return msg
    raise AssertionError(f"no message to {chat} with button {data!r}")


def buttons_of(msg: dict[str, Any]) -> list[str]:
    markup = msg.get("reply_markup") or {}
    if isinstance(markup, str):
        markup = json.loads(markup)
    return [b.get("callback_data") for row in markup.get("inline_keyboard", []) for b in row if b.get("callback_data")]


def inline_update(user: int, query: str, lang: str | None = "en") -> dict[str, Any]:
    return {"update_id": next(_update_ids),
            "inline_query": {"id": f"iq{next(_update_ids)}", "from": user_dict(user, lang), "query": query,
                             "offset": ""}}


# --- fixtures -----------------------------------------------------------------------------------

def telegram_settings(settings: Settings, **extra: Any) -> Settings:
    return settings.model_copy(update={"telegram_bot_token": TOKEN, **extra})


class Harness:
    """A started TelegramBot on the fake, fed through its webhook entry (the JournalQueue)."""

    def __init__(self, engine: Engine, settings: Settings, fake: FakeTelegram, pace: float = 0.0):
        self.engine = engine
        self.fake = fake
        self.bot = TelegramBot(engine, telegram_settings(settings), request=FakeRequest(fake),
                               get_updates_request=FakeRequest(fake), pace=pace, webhook=True)

    async def start(self) -> Harness:
        await self.bot.start()
        return self

    async def feed(self, *updates: dict[str, Any]) -> None:
        for u in updates:
            assert await self.bot.feed_webhook(u)
        await self.bot.application.update_queue.join()

    async def say(self, user: int, text: str, lang: str | None = "en") -> list[str]:
        before = len(self.fake.sent(user))
        await self.feed(message_update(user, text, lang=lang))
        return self.fake.texts(user)[before:]

    async def press(self, user: int, data: str, lang: str | None = "en") -> list[str]:
        before = len(self.fake.sent(user))
        await self.feed(press_update(self.fake, user, data, lang=lang))
        return self.fake.texts(user)[before:]


@pytest.fixture
def fake() -> FakeTelegram:
    return FakeTelegram()


@pytest.fixture
async def tg(engine: Engine, settings: Settings, fake: FakeTelegram):
    h = await Harness(engine, settings, fake).start()
    yield h
    await h.bot.stop()


def inbox(engine: Engine) -> list[dict[str, Any]]:
    return list(engine.store.db.query("SELECT * FROM inbox WHERE channel = ? ORDER BY id", [CHANNEL]))


# --- pure parts -----------------------------------------------------------------------------------

def test_short_text_is_one_part():
    assert split_text("你好\n\nhello") == ["你好\n\nhello"]
    assert split_text("   \n") == []


def test_long_text_splits_at_paragraphs_within_utf16_limit():
    para = "催收打到单位了。" * 100            # 800 units
    text = "\n\n".join([para] * 12)            # ~9.6k units
    parts = split_text(text)
    assert len(parts) == 3
    assert all(utf16_len(p) <= MAX_UNITS for p in parts)
    assert all(p.startswith("催收") and p.endswith("。") for p in parts)  # whole paragraphs
    assert "\n\n".join(parts) == text


def test_emoji_count_as_two_units_and_are_never_cut_in_half():
    text = "😀" * 5000                           # 10,000 UTF-16 units, one "sentence"
    parts = split_text(text)
    assert all(utf16_len(p) <= MAX_UNITS for p in parts)
    assert "".join(parts) == text
    assert utf16_len(parts[0]) == MAX_UNITS


@hsettings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list("ab 。.\n😀<&_*借")), max_size=120), max_size=30),
       st.integers(min_value=8, max_value=200))
def test_split_property_parts_fit_and_nothing_but_separators_is_lost(paragraphs, limit):
    text = "\n\n".join(paragraphs)
    parts = split_text(text, limit)
    assert all(utf16_len(p) <= limit and p.strip() for p in parts)
    squash = lambda s: "".join(s.split())  # noqa: E731
    assert squash("".join(parts)) == squash(text)


def test_html_is_escaped_and_titles_bold():
    assert to_html("A <b>Loans</b> & _Co_ *x*") == "A &lt;b&gt;Loans&lt;/b&gt; &amp; _Co_ *x*"
    assert to_html("T<1>\nbody & more", bold_first_line=True) == "<b>T&lt;1&gt;</b>\nbody &amp; more"


def test_keyboard_layout_and_callback_data():
    buttons = [Button(id="o:a", label="中文"), Button(id="o:b", label="English"),
               Button(id="o:c", label="A much longer label that needs its own row"),
               Button(id="c:skip", label="Skip"), Button(id="c:back", label="Back")]
    rows = keyboard(buttons).inline_keyboard
    assert [[b.callback_data for b in r] for r in rows] == [["o:a", "o:b"], ["o:c"], ["c:skip", "c:back"]]
    assert keyboard([]) is None
    assert keyboard([Button(id="x" * 64, label="ok")]) is not None


def test_updates_become_inbound_messages():
    bot = None
    text = Update.de_json(message_update(7, "催收打我单位", lang="zh-hans"), bot)
    inbound = to_inbound(text)
    assert (inbound.channel, inbound.user, inbound.text, inbound.lang_hint) == ("telegram", "7", "催收打我单位",
                                                                                 "zh-hans")
    assert inbound.message_id == f"{text.update_id}:7"
    photo = Update.de_json(message_update(7, None, photo=[{"file_id": "p", "file_unique_id": "p", "width": 1,
                                                           "height": 1}], caption="this came today"), bot)
    assert (to_inbound(photo).attachment, to_inbound(photo).text) == ("photo", "this came today")
    voice = Update.de_json(message_update(7, None, voice={"file_id": "v", "file_unique_id": "v", "duration": 3}), bot)
    assert (to_inbound(voice).attachment, to_inbound(voice).text) == ("voice", None)
    group = Update.de_json(message_update(7, "/start", chat=-100), bot)
    assert to_inbound(group) is None
    service = Update.de_json(message_update(7, None, new_chat_title="x"), bot)
    assert to_inbound(service) is None
    msg = {"message_id": 5, "date": 0, "chat": {"id": 7, "type": "private"}, "text": "q"}
    press = Update.de_json({"update_id": 99, "callback_query": {"id": "1", "from": user_dict(7), "chat_instance": "c",
                                                                "data": "o:zh", "message": msg}}, bot)
    assert (to_inbound(press).choice, to_inbound(press).message_id) == ("o:zh", "99:7")
    marker = Update.de_json({"update_id": 98, "callback_query": {"id": "2", "from": user_dict(7),
                                                                 "chat_instance": "c", "data": NOOP, "message": msg}},
                            bot)
    assert to_inbound(marker) is None


def test_webhook_secret_is_never_empty(settings):
    derived = webhook_secret(telegram_settings(settings))
    assert len(derived) == 64 and derived == webhook_secret(telegram_settings(settings))
    assert webhook_secret(telegram_settings(settings, telegram_webhook_secret="s3cret_-X")) == "s3cret_-X"
    with pytest.raises(ValueError):
        webhook_secret(telegram_settings(settings, telegram_webhook_secret="has space"))


# --- with the Application -----------------------------------------------------------------------

async def test_start_registers_commands_in_both_languages(tg, fake):
    calls = fake.of("setMyCommands")
    by_lang = {c.get("language_code"): [x["command"] for x in c["commands"]] for c in calls}
    assert set(by_lang) == {"zh", "en", None}
    for names in by_lang.values():
        for needed in ("start", "help", "report", "cases", "lang", "cancel", "delete", "export"):
            assert needed in names
        assert names[:4] == ["start", "help", "report", "cases"]
    zh = {c["command"]: c["description"] for c in calls[0]["commands"]}
    assert zh["delete"] == tg.engine.k.text("zh", "commands.delete")
    assert fake.of("setWebhook")[0]["secret_token"] == tg.bot.secret


async def test_first_contact_language_from_language_code_and_buttons(tg, fake):
    texts = await tg.say(7, "/start", lang="zh-hans")
    assert texts, "no reply"
    last = fake.sent(7)[-1]
    assert last["parse_mode"] == "HTML"
    assert buttons_of(last) == ["o:zh", "o:en"]
    assert tg.engine.language("telegram", "7") == "zh"
    en = await tg.say(8, "hello", lang="en-GB")
    assert en and tg.engine.language("telegram", "8") == "en"


async def test_button_press_answers_query_marks_keyboard_and_moves_on(tg, fake):
    await tg.say(7, "/start")
    question = last_with_button(fake, 7, "o:en")
    fake.reset()
    texts = await tg.press(7, "o:en")
    methods = [m for m, _ in fake.calls]
    assert methods[0] == "answerCallbackQuery"
    mark = fake.of("editMessageReplyMarkup")[0]
    assert int(mark["message_id"]) == question["message_id"]
    assert [[b["text"], b["callback_data"]] for row in mark["reply_markup"]["inline_keyboard"] for b in row] == \
        [["✓ English", NOOP]]
    assert texts and "o:employer" in buttons_of(fake.sent(7)[-1])
    # the old button again: the engine refuses it, nothing breaks, the query is still answered
    fake.reset()
    await tg.feed(press_update(fake, 7, "o:en", message=question))
    assert fake.of("answerCallbackQuery")
    assert tg.engine.store.session(tg.engine.store.user("telegram", "7")["id"])["step"] == "need"
    # the inert marker button: answered, nothing else
    fake.reset()
    await tg.feed(press_update(fake, 7, NOOP, message=question))
    assert [m for m, _ in fake.calls] == ["answerCallbackQuery"]


async def test_multi_choice_toggle_edits_the_question_in_place(tg, fake):
    await tg.say(7, "/report")
    await tg.press(7, "o:borrower")
    await tg.say(7, "Flash Loan")
    await tg.press(7, "o:microloan")
    behaviours = last_with_button(fake, 7, "o:threats")
    fake.reset()
    await tg.press(7, "o:threats")
    assert not fake.sent(7)                          # no new message
    edit = fake.of("editMessageText")[0]
    assert int(edit["message_id"]) == behaviours["message_id"]
    labels = [b["text"] for row in edit["reply_markup"]["inline_keyboard"] for b in row]
    assert any(label.startswith("✓ ") for label in labels)
    fake.reset()
    await tg.press(7, "c:done")
    assert fake.sent(7) and fake.of("editMessageReplyMarkup")  # next question, the multi screen marked


async def test_typed_answer_removes_the_previous_question_keyboard(tg, fake):
    await tg.say(7, "/report")
    await tg.press(7, "o:borrower")
    lender_q = fake.sent(7)[-1]
    lender_msg = max(mid for (c, mid) in fake.messages if c == 7)
    fake.reset()
    await tg.say(7, "Flash Loan")  # the lender question has Back (a keyboard); answered by typing
    removed = [p for p in fake.of("editMessageReplyMarkup") if int(p["message_id"]) == lender_msg]
    assert buttons_of(lender_q) and removed and not removed[0].get("reply_markup")


async def test_duplicate_update_is_answered_once(tg, fake):
    update = message_update(7, "/help")
    await tg.feed(update)
    n = len(fake.sent(7))
    assert n >= 1
    await tg.feed(update)                     # Telegram delivers the same update again
    assert len(fake.sent(7)) == n
    rows = inbox(tg.engine)
    assert len(rows) == 1 and rows[0]["status"] == "delivered"


async def test_user_typed_markup_is_escaped(tg, fake):
    await tg.bot.deliver(7, [Reply(text="Lender: <Quick&Easy> _Loans_ *Co*")])
    assert fake.sent(7)[-1]["text"] == "Lender: &lt;Quick&amp;Easy&gt; _Loans_ *Co*"


async def test_long_reply_is_split_with_buttons_on_the_last_part(tg, fake):
    body = "\n\n".join(f"第{i}段：" + "催收不能骚扰第三人。" * 100 for i in range(12))
    await tg.bot.deliver(7, [Reply(text=body, buttons=(Button(id="t:employer_contact", label="x"),),
                                   kind="answer")])
    sent = fake.sent(7)
    assert len(sent) == 3
    assert all(utf16_len(p["text"]) <= MAX_UNITS + 7 for p in sent)   # + the <b></b> of the title
    assert [bool(p.get("reply_markup")) for p in sent] == [False, False, True]
    assert sent[0]["text"].startswith("<b>第0段")


async def test_draft_is_alone_plain_with_share_button_and_inline_answer(tg, fake):
    draft = "致 <快贷> 客服：\n\n你们的催收人员多次打我单位电话。_请_ *停止*。"
    await tg.bot.deliver(7, [Reply(text="这是给贷款方客服的投诉。"),
                             Reply(text=draft, kind="draft", draft_id="lender_complaint")], lang="zh")
    how, msg = fake.sent(7)
    assert how["text"] == "这是给贷款方客服的投诉。"
    assert "parse_mode" not in msg and msg["text"] == draft      # exactly the text, nothing else
    (share,), = msg["reply_markup"]["inline_keyboard"]
    chosen = share["switch_inline_query_chosen_chat"]
    assert chosen["query"] == f"lender_complaint {draft_digest(draft)}"
    assert chosen["allow_user_chats"] and chosen["allow_group_chats"] and not chosen.get("allow_bot_chats")
    assert share["text"] == tg.engine.k.text("zh", "telegram.share")
    assert not fake.of("sendDocument")                               # short: no .txt
    await tg.feed(inline_update(7, chosen["query"]))
    answer = fake.of("answerInlineQuery")[-1]
    (result,) = answer["results"]
    assert result["input_message_content"]["message_text"] == draft
    assert answer["is_personal"] and answer["cache_time"] == 0
    await tg.feed(inline_update(8, chosen["query"]))                # someone else: nothing
    other = fake.of("answerInlineQuery")[-1]
    assert other["results"] == [] and other["button"]["start_parameter"] == "drafts"


async def test_long_draft_also_comes_as_txt(tg, fake):
    draft = "尊敬的客服：\n\n" + "\n\n".join("催收人员在晚上十点以后打电话。" * 20 for _ in range(20))
    await tg.bot.deliver(7, [Reply(text=draft, kind="draft", draft_id="regulator_complaint")], lang="zh")
    parts = fake.sent(7)
    assert len(parts) == 2 and "\n\n".join(p["text"] for p in parts) == draft
    assert not parts[0].get("reply_markup") and parts[1]["reply_markup"]
    (doc,) = fake.of("sendDocument")
    assert doc["_filename"].endswith(".txt") and doc["_content"] == draft
    await tg.feed(inline_update(7, parts[1]["reply_markup"]["inline_keyboard"][0][0]
                                ["switch_inline_query_chosen_chat"]["query"]))
    results = fake.of("answerInlineQuery")[-1]["results"]
    assert [r["input_message_content"]["message_text"] for r in results] == [p["text"] for p in parts]


async def test_inline_query_finds_stored_case_drafts_after_restart(engine, settings, fake):
    user = engine.store.user("telegram", "7")
    text = "Dear Flash Loan customer service, ..."
    engine.store.save_case(user["id"], "report", "en", {"answers": {}, "drafts": {"stop_contact": text}})
    h = await Harness(engine, settings, fake).start()       # nothing in memory
    try:
        await h.feed(inline_update(7, f"stop_contact {draft_digest(text)}"))
        assert [r["input_message_content"]["message_text"] for r in fake.of("answerInlineQuery")[-1]["results"]] \
            == [text]
        await h.feed(inline_update(7, "stop_contact 000000000000"))   # unknown digest: no other text
        assert fake.of("answerInlineQuery")[-1]["results"] == []
        await h.feed(inline_update(7, ""))                             # empty: the latest case's drafts
        assert len(fake.of("answerInlineQuery")[-1]["results"]) == 1
    finally:
        await h.bot.stop()


async def test_no_share_button_without_inline_mode(engine, settings):
    fake = FakeTelegram(inline=False)
    h = await Harness(engine, settings, fake).start()
    try:
        await h.bot.deliver(7, [Reply(text="draft", kind="draft", draft_id="stop_contact")])
        assert not fake.sent(7)[-1].get("reply_markup")
    finally:
        await h.bot.stop()


async def test_retry_after_is_honoured(tg, fake):
    fake.fail("sendMessage", 429, description="Too Many Requests: retry after 1", parameters={"retry_after": 1})
    t0 = time.monotonic()
    await tg.bot.deliver(7, [Reply(text="one")])
    assert time.monotonic() - t0 >= 1.0
    assert [p["text"] for p in fake.sent(7)] == ["one", "one"]   # refused once, sent after the wait


async def test_failure_for_one_user_never_stops_the_others(tg, fake):
    blocked, flaky, fine = 11, 12, 13
    tg.bot.backoff = 0.01
    fake.fail("sendMessage", 403, when=lambda p: int(p["chat_id"]) == blocked, description="Forbidden: bot was "
              "blocked by the user")
    for _ in range(5):
        fake.fail("sendMessage", 502, when=lambda p: int(p["chat_id"]) == flaky)
    await tg.feed(message_update(blocked, "/help"), message_update(flaky, "/help"), message_update(fine, "/help"))
    assert fake.sent(fine)
    rows = {r["user_id"]: r for r in inbox(tg.engine)}
    uid = {u: tg.engine.store.user("telegram", str(u))["id"] for u in (blocked, flaky, fine)}
    assert rows[uid[blocked]]["status"] == "delivered"      # unreachable: given up, not retried forever
    assert rows[uid[fine]]["status"] == "delivered"
    assert rows[uid[flaky]]["status"] == "done"             # network: kept for the next start
    fake.reset()
    await tg.bot.recover()                                  # what start-up does
    assert fake.sent(flaky) and not fake.sent(fine)
    assert inbox(tg.engine)[1]["status"] == "delivered"


async def test_order_kept_per_chat_while_chats_run_concurrently(engine, settings):
    fake = FakeTelegram(latency=lambda method, p: 0.03 if method == "sendMessage" else 0)
    h = await Harness(engine, settings, fake).start()
    try:
        chats, per_chat = (21, 22, 23, 24), 4
        updates = [message_update(c, f"/zz{i}") for i in range(per_chat) for c in chats]  # interleaved
        t0 = time.monotonic()
        await h.feed(*updates)
        elapsed = time.monotonic() - t0
        for c in chats:
            seen = [int(t.split("/zz")[1].split(None, 1)[0].rstrip(".。")) for t in fake.texts(c) if "/zz" in t]
            assert seen == list(range(per_chat)), seen
        messages = len(fake.sent())
        assert elapsed < messages * 0.03 * 0.6, (elapsed, messages)   # chats overlapped
    finally:
        await h.bot.stop()


async def test_about_one_message_a_second_per_chat(engine, settings, fake):
    h = await Harness(engine, settings, fake, pace=1.0).start()
    clock = [100.0]
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds

    h.bot.pacer.clock = lambda: clock[0]
    h.bot.pacer.sleep = fake_sleep
    try:
        await h.bot.deliver(7, [Reply(text="a"), Reply(text="b"), Reply(text="c")])
        await h.bot.deliver(8, [Reply(text="x")])          # another chat does not wait for chat 7
        assert sleeps == [pytest.approx(1.0), pytest.approx(1.0)]
    finally:
        await h.bot.stop()


async def test_photo_voice_and_file_get_a_helpful_reply(tg, fake):
    """This fake Bot API has no files (getFile answers 400): each is said to be not kept, by
    kind (tests/test_media.py downloads and keeps them through a fake server that has them).
    A sticker is no evidence: the general notice."""
    k = tg.engine.k
    fake.fail("getFile", 400, description="Bad Request: file not found")
    fake.fail("getFile", 400, description="Bad Request: file not found")
    fake.fail("getFile", 400, description="Bad Request: file not found")
    await tg.feed(message_update(7, None, photo=[{"file_id": "p", "file_unique_id": "p", "width": 9, "height": 9}]))
    await tg.feed(message_update(7, None, voice={"file_id": "v", "file_unique_id": "v", "duration": 2}))
    await tg.feed(message_update(7, None, document={"file_id": "d", "file_unique_id": "d", "file_name": "a.pdf"}))
    await tg.feed(message_update(7, None, sticker={"file_id": "s", "file_unique_id": "s", "width": 9, "height": 9,
                                                   "is_animated": False, "is_video": False, "type": "regular"}))
    expected = [to_html(k.text("en", "media.failed", kind=k.text("en", f"media.kind.{kind}")))
                for kind in ("photo", "voice", "file")] + [to_html(k.text("en", "input.attachment"))]
    assert fake.texts(7) == expected
    assert tg.engine.store.files.count(tg.engine.store.user("telegram", "7")["id"]) == 0


async def test_edits_groups_and_strangers_are_handled_politely(tg, fake):
    upd = message_update(7, "hello")
    upd["edited_message"] = dict(upd.pop("message"), edit_date=int(time.time()))
    await tg.feed(upd)
    assert fake.texts(7) == [to_html(tg.engine.k.text("en", "telegram.edited"))]
    await tg.feed(message_update(7, "/start", chat=-1001))
    group = fake.sent(-1001)[-1]
    assert group["text"] == to_html(tg.engine.k.text("en", "telegram.private_only"))
    assert group["reply_markup"]["inline_keyboard"][0][0]["url"] == "https://t.me/guard_test_bot"
    await tg.feed(message_update(7, "just chatting", chat=-1001))      # not a command: ignored
    assert len(fake.sent(-1001)) == 1
    assert inbox(tg.engine) == []                                      # nothing of this journalled


async def test_lang_switch_sets_this_chats_command_menu(tg, fake):
    await tg.say(7, "/help", lang="en")
    fake.reset()
    await tg.say(7, "/lang zh")
    (menu,) = fake.of("setMyCommands")
    assert menu["scope"] == {"type": "chat", "chat_id": 7}
    assert {c["command"]: c["description"] for c in menu["commands"]}["help"] == \
        tg.engine.k.text("zh", "commands.help")
    fake.reset()
    await tg.say(7, "/delete")
    await tg.press(7, "y:delete")
    assert fake.of("deleteMyCommands")[0]["scope"] == {"type": "chat", "chat_id": 7}
    assert tg.engine.store.db.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 0  # not re-created


async def test_journalled_update_is_handled_after_a_crash(engine, settings, make_engine, fake):
    h = Harness(engine, settings, fake)
    update = Update.de_json(message_update(31, "/help"), None)
    h.bot.journal(update)                     # received and journalled, then the process died
    assert inbox(engine)[0]["status"] == "received"
    engine.store.db.close()
    again = Harness(make_engine(), settings, fake)
    await again.start()
    try:
        assert fake.sent(31)                 # recovered at start-up, before any new update
        assert inbox(again.engine)[0]["status"] == "delivered"
        await again.feed(Update.de_json(message_update(31, "/help", update_id=update.update_id), None).to_dict())
        assert len(fake.sent(31)) == len(fake.of("sendMessage"))   # the redelivered update: no second answer
        n = len(fake.sent(31))
        await again.feed(message_update(31, "/help", update_id=update.update_id))
        assert len(fake.sent(31)) == n
    finally:
        await again.bot.stop()


async def test_logs_never_contain_message_text(tg, fake, caplog):
    secret = "张三 13912345678 欠了 Flash<Loan>"
    with caplog.at_level(logging.DEBUG):
        await tg.say(7, "/report")
        await tg.press(7, "o:borrower")
        await tg.say(7, secret)
        fake.fail("sendMessage", 400, description="Bad Request: can't parse entities")
        await tg.say(7, secret)
        await tg.feed(inline_update(7, secret))
    logged = "\n".join(r.getMessage() + str(r.exc_info or "") for r in caplog.records)
    for fragment in ("张三", "13912345678", "Flash", TOKEN):
        assert fragment not in logged


async def test_a_crashing_handler_is_contained(tg, fake, monkeypatch):
    def boom(inbound):
        raise RuntimeError("boom")

    monkeypatch.setattr(tg.engine, "handle", boom)
    await tg.feed(message_update(7, "/help"), message_update(8, "/help"))
    monkeypatch.undo()
    await tg.feed(message_update(8, "/help"))
    assert fake.sent(8)



# --- the HTTP server ---------------------------------------------------------------------------------

async def test_healthz_and_route_hooks(engine, settings):
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from bot.channels.http import ServerContext, create_app, optional_hooks

    def hook(app: web.Application, ctx: ServerContext) -> None:
        async def page(request: web.Request) -> web.Response:
            return web.Response(text=f"page for {ctx.settings.bot_default_lang}")
        app.router.add_get("/", page)

    assert optional_hooks(["bot.channels.no_such_channel"]) == []
    client = TestClient(TestServer(create_app(ServerContext(settings, engine), hooks=[hook])))
    await client.start_server()
    try:
        r = await client.get("/healthz")
        assert r.status == 200
        body = await r.json()
        assert body["ok"] is True and body["db"] == "ok" and body["telegram"] == "off"
        assert (await (await client.get("/")).text()) == "page for zh"
        assert (await client.post("/telegram", json={"update_id": 1})).status == 404   # no Telegram here
        engine.store.db.close()                                                       # the database is gone
        r = await client.get("/healthz")
        assert r.status == 503 and (await r.json())["ok"] is False
    finally:
        await client.close()


async def test_button_press_is_answered_at_once_even_while_the_chat_is_busy(engine, settings, fake):
    h = await Harness(engine, settings, fake, pace=0.3).start()
    try:
        await h.say(7, "/start")
        press = press_update(fake, 7, "o:en")
        fake.reset()
        await h.bot.feed_webhook(message_update(7, "/zz"))     # two messages: the second waits 0.3 s
        await h.bot.feed_webhook(press)                        # queued behind it in this chat
        await h.bot.application.update_queue.join()
        methods = [m for m, _ in fake.calls]
        assert methods.count("sendMessage") >= 3
        assert methods.index("answerCallbackQuery") < 2        # answered before the paced second message
        assert methods.count("answerCallbackQuery") == 1
    finally:
        await h.bot.stop()
