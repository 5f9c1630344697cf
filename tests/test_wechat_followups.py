"""Issue 14, items 2 to 5 on WeChat, end to end through the real app, engine and SQLite file,
the fake WeChat API of tests/test_wechat.py on 127.0.0.1 and a client that signs like WeChat:
the letters as one page (`/d/<token>`, .txt, expiry, /delete); follow-ups weeks later by
subscription notification (consent page, consent events, the notification through the fake
server 20 days later, what the user is told when setting it); the custom menu published from
YAML; QR scenes and Telegram `/start <payload>`; numbered choices that cannot be confused."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer

from bot import cli
from bot.channels import deeplinks
from bot.channels.base import plain_text
from bot.channels.http import ServerContext, create_app
from bot.channels.wechat import WECHAT
from bot.channels.wechat import followup as wx_followup
from bot.channels.wechat.menu import check_menu, check_menu_file, load_menu, menu_payload
from bot.config import Settings
from bot.core.engine import Engine
from bot.core.models import Button, Reply
from bot.scheduler import Channels, ManualClock, Scheduler
from tests.conftest import Chat, shown, ui
from tests.test_wechat import (
    ACCOUNT,
    APP_ID,
    OPENID,
    SECRET,
    FakeWeChatAPI,
    confirm_label,
    content_of,
    message,
    post,
    say,
    to_review,
    waiting,
    wechat_settings,
)

PUBLIC = "https://bg.example.org"
TEMPLATE = "TPL_follow_up_0001"


@pytest.fixture
async def wx_api() -> AsyncIterator[FakeWeChatAPI]:
    server = await FakeWeChatAPI().start()
    yield server
    await server.runner.cleanup()


async def client_with(engine: Engine, settings: Settings, wx_api: FakeWeChatAPI | None, **extra: Any) -> TestClient:
    api = {} if wx_api is None else {"wechat_app_id": APP_ID, "wechat_app_secret": SECRET,
                                      "wechat_api_base_url": wx_api.base_url}
    ctx = ServerContext(wechat_settings(settings, **api, **extra), engine)
    app = create_app(ctx)
    if WECHAT in app:
        app[WECHAT].push_delay = 0
    client = TestClient(TestServer(app))
    await client.start_server()
    client.ctx = ctx  # type: ignore[attr-defined]
    return client


@pytest.fixture
async def full(engine: Engine, settings: Settings, wx_api: FakeWeChatAPI) -> AsyncIterator[TestClient]:
    """WeChat with the API, a subscription template and a public address."""
    client = await client_with(engine, settings, wx_api, bot_public_url=PUBLIC,
                               wechat_subscribe_template_id=TEMPLATE)
    yield client
    await client.close()


def local(url: str) -> str:
    """A public URL as a path on the test server."""
    assert url.startswith(PUBLIC + "/")
    return url[len(PUBLIC):]


def urls(text: str) -> list[str]:
    return re.findall(re.escape(PUBLIC) + r"/[^\s）)]+", text)


# --- item 2: the letters as one page --------------------------------------------------------------

async def test_the_letters_come_as_a_page_with_copy_buttons_and_a_txt(full: TestClient, engine: Engine,
                                                                      wx_api: FakeWeChatAPI,
                                                                      clock: ManualClock) -> None:
    chat = to_review(engine)
    await say(full, confirm_label(chat))
    await full.app[WECHAT].drain()
    pushed = [s["text"] for s in wx_api.sent]
    [offer] = [t for t in pushed if PUBLIC in t]
    assert pushed.index(offer) == len(pushed) - 2                 # after the letters, before the closing list
    assert re.search(r"^\[1\] ", pushed[-1], re.M) and "[1]" not in offer
    [url] = urls(offer)
    token = url.rsplit("/", 1)[1]
    assert len(token) >= 32
    stored = engine.store.cases(chat.user_id, "report")[0]["data"]["drafts"]
    r = await full.get(local(url))
    page = await r.text()
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "https:" not in csp and "unsafe-inline" not in csp
    assert r.headers["Cache-Control"] == "no-store" and r.headers["Referrer-Policy"] == "no-referrer"
    assert "http://" not in page.replace(PUBLIC, "") and "https://" not in page   # no outside resource
    assert page.count('data-copy="') == len(stored) == 4
    for text in stored.values():
        assert text.strip().splitlines()[0].replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;") in page
    assert engine.k.text("zh", "doc.copy") in page and 'lang="zh-CN"' in page
    r = await full.get(local(url) + ".txt")
    txt = await r.text()
    assert r.status == 200 and "attachment" in r.headers["Content-Disposition"]
    assert all(text.strip() in txt for text in stored.values())
    # only the hash is stored
    rows = list(engine.store.db.query("SELECT * FROM links"))
    assert rows and not any(token in json.dumps(row) for row in rows)
    # guessed, malformed, expired and deleted links all get the same 404
    for bad in ("/d/" + "A" * 32, "/d/" + token[:-1] + ("A" if token[-1] != "A" else "B"), "/d/x.txt"):
        assert (await full.get(bad)).status == 404
    clock.advance(days=7, minutes=1)
    assert (await full.get(local(url))).status == 404 and (await full.get(local(url) + ".txt")).status == 404


async def test_the_letters_page_dies_with_delete_and_shows_english_headings(full: TestClient, engine: Engine,
                                                                             wx_api: FakeWeChatAPI) -> None:
    chat = to_review(engine)
    await say(full, confirm_label(chat))
    await full.app[WECHAT].drain()
    [url] = [u for s in wx_api.sent for u in urls(s["text"])]
    await say(full, "/lang en")
    page = await (await full.get(local(url))).text()
    assert 'lang="en"' in page and engine.k.text("en", "doc.copy") in page
    drafts = engine.store.cases(chat.user_id, "report")[0]["data"]["drafts"]
    assert all(engine.k.text("en", f"report.draft.{d}.title").replace("'", "&#x27;") in page for d in drafts)
    exported = engine.store.export_user(chat.user_id)
    assert exported["links"] and all("token_hash" in row for row in exported["links"])   # in /export
    await say(full, "/delete")
    await say(full, engine.k.text("en", "privacy.delete_yes"))
    assert (await full.get(local(url))).status == 404
    assert not list(engine.store.db.query("SELECT id FROM links"))


async def test_without_a_public_url_the_bot_says_there_is_no_page(engine: Engine, settings: Settings,
                                                                   wx_api: FakeWeChatAPI) -> None:
    client = await client_with(engine, settings, wx_api)
    try:
        chat = to_review(engine)
        await say(client, confirm_label(chat))
        await client.app[WECHAT].drain()
        texts = [s["text"] for s in wx_api.sent]
        assert engine.k.text("zh", "doc.no_public_url") in texts
        assert not any("/d/" in t for t in texts)
        assert not list(engine.store.db.query("SELECT id FROM links"))
    finally:
        await client.close()


# --- item 3: follow-ups weeks later --------------------------------------------------------------------

def record_complaint(engine: Engine, filed: str) -> Chat:
    """/track as the WeChat user: a complaint to the regulator (NFRA, 12378) filed `filed`."""
    chat = Chat(engine, user=OPENID, channel="wechat")
    chat.say("/lang zh")
    chat.say("/track")
    chat.press("o:nfra")
    chat.say("安达消费金融")
    chat.say(filed)
    chat.say("T-100")
    chat.press("c:ok")
    return chat


def popup_event(template: str, status: str = "accept", created: int = 1700000500) -> bytes:
    xml = (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{OPENID}]]></FromUserName>"
           f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
           "<Event><![CDATA[subscribe_msg_popup_event]]></Event><SubscribeMsgPopupEvent>"
           f"<List><TemplateId><![CDATA[{template}]]></TemplateId>"
           f"<SubscribeStatusString><![CDATA[{status}]]></SubscribeStatusString><PopupScene>1</PopupScene></List>"
           "<List><TemplateId><![CDATA[someone_elses]]></TemplateId>"
           "<SubscribeStatusString><![CDATA[accept]]></SubscribeStatusString><PopupScene>1</PopupScene></List>"
           "</SubscribeMsgPopupEvent></xml>")
    return xml.encode()


def senders(client: TestClient) -> Channels:
    channels = Channels()
    channels.register("wechat", client.ctx.senders["wechat"])  # type: ignore[attr-defined]
    return channels


async def test_a_complaint_due_in_20_days_arrives_by_subscription_notification(
        full: TestClient, engine: Engine, wx_api: FakeWeChatAPI, clock: ManualClock) -> None:
    today = clock().date().isoformat()
    chat = record_complaint(engine, today)
    [c] = engine.store.reminders.complaints(chat.user_id)
    [rem] = engine.store.reminders.upcoming(chat.user_id, 10)
    due = dt.datetime.fromisoformat(rem["due_at"].replace("Z", "+00:00"))
    assert dt.timedelta(days=14) < due - clock() < dt.timedelta(days=30) and c["due_on"] > today
    said = chat.text                                              # told now which way it will come
    [consent_url] = urls(said)
    assert "/wechat/subscribe/" in consent_url and "48" in said
    # the consent page: WeChat's subscribe button for the template, signed for the JS-SDK
    r = await full.get(local(consent_url))
    page = await r.text()
    assert r.status == 200 and f'template="{TEMPLATE}"' in page and "wx-open-subscribe" in page
    config = json.loads(re.search(r"wx\.config\((\{.*?\})\)", page).group(1))  # type: ignore[union-attr]
    assert config["appId"] == APP_ID and config["signature"] == wx_followup.jsapi_signature(
        "TICKET1", config["nonceStr"], config["timestamp"], PUBLIC + local(consent_url))
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'nonce-" in csp and "https://res.wx.qq.com" in csp and "unsafe" not in csp
    assert (await full.get("/wechat/subscribe/" + "x" * 32)).status == 404
    # the user taps "allow": WeChat tells the server with an event (a retry counts once)
    body = popup_event(TEMPLATE)
    reply = content_of(await post(full, body))
    assert reply == engine.k.text("zh", "followup.consented")
    assert content_of(await post(full, body)) == reply             # WeChat's retry
    assert engine.store.links.consents(chat.user_id, TEMPLATE) == 1
    wx_api.allowed[(OPENID, TEMPLATE)] = 1                         # WeChat's side of the same consent
    # 20 days later: outside the 48 hours; the subscription notification opens the conversation
    clock.set(due + dt.timedelta(minutes=1))
    result = await Scheduler(engine, senders(full), clock).tick()
    assert result.sent == 1 and wx_api.sent == []                  # no customer-service message tried
    [note] = wx_api.notified
    assert note["touser"] == OPENID and note["template_id"] == TEMPLATE
    assert set(note["data"]) == {"thing1", "time2"} and len(note["data"]["thing1"]["value"]) <= 20
    assert note["data"]["time2"]["value"].startswith(f"{due.astimezone(clock().tzinfo).year}年")
    assert engine.store.links.consents(chat.user_id, TEMPLATE) == 0
    [row] = list(engine.store.db.query("SELECT status FROM reminders"))
    assert row["status"] == "sent"
    kept = waiting(engine)
    assert kept and re.search(r"^\[1\] ", kept[-1], re.M)             # the check-in waits for the user
    # the user opens the chat and writes: the waiting check-in comes, with its buttons
    answer = await say(full, "你好")
    await full.app[WECHAT].drain()
    assert ui("wechat.left", n=len(kept)) in answer
    assert [s["text"] for s in wx_api.sent][:len(kept)] == kept and waiting(engine) == []
    assert re.search(r"^\[1\] ", wx_api.sent[len(kept) - 1]["text"], re.M)
    # the last list the user saw is the check-in's: "1" is its first answer (item 5)
    screen = engine.store.find_user("wechat", OPENID)["screen"]  # type: ignore[index]
    assert screen and screen[0]["id"].startswith("cpl:a:") and not screen[0].get("plain")
    await say(full, "1")
    [after] = engine.store.reminders.complaints(chat.user_id)
    assert after["history"] and after["history"][-1]["answer"] != "followed_up"


async def test_without_consent_a_late_reminder_waits_for_the_next_message(
        full: TestClient, engine: Engine, wx_api: FakeWeChatAPI, clock: ManualClock) -> None:
    await say(full, "/lang zh")
    set_reply = await say(full, "/remind 10d 给12378打电话")
    assert urls(set_reply) and "/wechat/subscribe/" in set_reply
    await post(full, popup_event(TEMPLATE, "reject"))
    clock.advance(days=10, minutes=1)
    result = await Scheduler(engine, senders(full), clock).tick()
    assert result.deferred == 1 and wx_api.notified == [] and wx_api.sent == []
    reply = await say(full, "你好")
    assert "给12378打电话" in reply.split("\n\n")[0]


async def test_a_notification_refused_by_wechat_keeps_the_consent(
        full: TestClient, engine: Engine, wx_api: FakeWeChatAPI, clock: ManualClock) -> None:
    await say(full, "/lang zh")
    await say(full, "/remind 5d 交材料")
    await post(full, popup_event(TEMPLATE))
    user_id = engine.store.find_user("wechat", OPENID)["id"]  # type: ignore[index]
    clock.advance(days=5, minutes=1)                               # WeChat holds no consent (43101)
    result = await Scheduler(engine, senders(full), clock).tick()
    assert result.deferred == 1 and engine.store.links.consents(user_id, TEMPLATE) == 1


async def test_what_the_user_is_told_when_setting_a_reminder(engine: Engine, settings: Settings,
                                                             wx_api: FakeWeChatAPI, full: TestClient) -> None:
    await say(full, "/lang zh")
    soon = await say(full, "/remind 30m 回电话")
    assert engine.k.text("zh", "followup.via_service") in soon and PUBLIC not in soon
    later = await say(full, "/remind 3d 回电话")
    assert engine.k.text("zh", "followup.ask_consent", url="X").split("\n")[0] in later and urls(later)
    await full.close()
    for extra, key in (({}, "followup.via_next"),                                  # no template
                       ({"wechat_subscribe_template_id": TEMPLATE}, "followup.via_next")):  # no public URL
        client = await client_with(engine, settings, wx_api, **extra)
        try:
            assert engine.k.text("zh", key) in await say(client, "/remind 3d 回电话")
        finally:
            await client.close()
    passive = await client_with(engine, settings, None)              # no API: passive replies only
    try:
        assert engine.k.text("zh", "followup.via_next_only") in await say(passive, "/remind 3d 回电话")
    finally:
        await passive.close()


def test_routes_are_pure_decisions() -> None:
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    r = wx_followup.route_when_set
    assert r(now, now + dt.timedelta(hours=2), True, True) == "service"
    assert r(now, now + dt.timedelta(days=20), True, True) == "subscribe"
    assert r(now, now + dt.timedelta(days=20), True, False) == "next"
    assert r(now, now + dt.timedelta(hours=2), False, True) == "passive"
    d = wx_followup.route_when_due
    assert d(now, now - dt.timedelta(hours=47), 0, True, True) == "service"
    assert d(now, now - dt.timedelta(hours=49), 1, True, True) == "subscribe"
    assert d(now, now - dt.timedelta(hours=49), 0, True, True) == "next"
    assert d(now, None, 0, True, True) == "service"
    twenty_two = "一二三四五六七八九十" * 2 + "一二"
    assert wx_followup.thing(twenty_two) == twenty_two[:19] + "…" and wx_followup.thing("短\n二行") == "短"
    # WeChat's JS-SDK documentation example (appendix 1)
    assert wx_followup.jsapi_signature(
        "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg",
        "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value#x") == \
        "0f9de62fce790f9a083d5c99e95740ceb90c27ed"


# --- item 4: the menu, QR scenes, Telegram deep links -------------------------------------------------

async def test_the_menu_is_published_from_yaml(settings: Settings, wx_api: FakeWeChatAPI) -> None:
    s = settings.model_copy(update={"wechat_app_id": APP_ID, "wechat_app_secret": SECRET,
                                    "wechat_api_base_url": wx_api.base_url, "bot_public_url": PUBLIC})
    assert await asyncio.to_thread(cli.wechat_menu, s) == 0          # its own event loop, as from the shell
    [menu] = wx_api.menus
    source = yaml.safe_load((settings.bot_content_dir / "wechat_menu.yaml").read_text(encoding="utf-8"))
    assert [b["name"] for b in menu["button"]] == [b["name"] for b in source["buttons"]]
    flat = {b["name"]: b for top in menu["button"] for b in top.get("sub_button", [top])}
    name = {b.get("command") or b.get("url"): b["name"]                 # the source's names, by what they do
            for top in source["buttons"] for b in top.get("sub", [top])}
    assert flat[name["/report"]] == {"type": "click", "name": name["/report"], "key": "/report"}
    assert flat[name["/complaints"]]["key"] == "/complaints" and flat[name["/apr"]]["key"] == "/apr"
    assert flat[name["/reminders"]]["key"] == "/reminders"
    page = name["{public_url}/"]
    assert flat[page] == {"type": "view", "name": page, "url": PUBLIC + "/"}
    # without BOT_PUBLIC_URL the link cannot be made, without the secret no token: nothing is published
    assert await asyncio.to_thread(cli.wechat_menu, s.model_copy(update={"bot_public_url": None})) == 1
    assert await asyncio.to_thread(cli.wechat_menu, s.model_copy(update={"wechat_app_secret": None})) == 2
    assert len(wx_api.menus) == 1


def test_the_menu_check_knows_wechats_limits(tmp_path: Path, settings: Settings) -> None:
    good = load_menu(settings.bot_content_dir)
    assert check_menu(good) == []
    too_many = {"buttons": [{"name": f"按钮{i}", "command": "/help"} for i in range(4)]}
    assert any("3" in m for _, m in check_menu(too_many))
    subs = {"buttons": [{"name": "菜单", "sub": [{"name": f"子{i}", "command": "/help"} for i in range(6)]}]}
    assert any("5" in m for _, m in check_menu(subs))
    long_name = {"buttons": [{"name": "我要投诉催收", "command": "/report"}]}
    assert [f for f, _ in check_menu(long_name)] == ["buttons[0].name"]
    both = {"buttons": [{"name": "问", "command": "/help", "url": "https://x.org"}]}
    assert check_menu(both)
    assert check_menu({"buttons": [{"name": "问", "url": "ftp://x"}]})
    (tmp_path / "wechat_menu.yaml").write_text("buttons: [{name: 我要投诉催收啊, command: /report}]", encoding="utf-8")
    [(file, field, _)] = check_menu_file(tmp_path)
    assert file.endswith("wechat_menu.yaml") and field == "buttons[0].name"
    with pytest.raises(ValueError):
        menu_payload(long_name, PUBLIC)


def test_bot_check_reports_a_bad_menu_and_unknown_commands(tmp_path: Path, settings: Settings,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    content = tmp_path / "content"
    shutil.copytree(settings.bot_content_dir, content)
    (content / "wechat_menu.yaml").write_text("buttons:\n  - {name: 投诉, command: /nosuch}\n", encoding="utf-8")
    (content / "deeplinks.yaml").write_text("scenes:\n  ok: /report\n  'bad key!': /report\n", encoding="utf-8")
    assert cli.check(settings.model_copy(update={"bot_content_dir": content})) == 1
    out = capsys.readouterr().out
    assert "deeplinks.yaml: scenes.bad key!" in out
    (content / "deeplinks.yaml").write_text("scenes:\n  ok: /report\n", encoding="utf-8")
    assert cli.check(settings.model_copy(update={"bot_content_dir": content})) == 1
    assert "buttons[0].command: unknown command '/nosuch'" in capsys.readouterr().out


async def test_a_qrscene_subscription_starts_the_matching_dialog(full: TestClient, engine: Engine) -> None:
    first = content_of(await post(full, message(None, None, kind="event", Event="subscribe",
                                                EventKey="qrscene_contacts", created=1700000700)))
    assert engine.k.text("zh", "report.role.q") in first and "[1] " in first
    session = engine.store.session(engine.store.find_user("wechat", OPENID)["id"])  # type: ignore[index]
    assert session is not None and session["dialog"] == "report"
    scan = content_of(await post(full, message(None, None, kind="event", Event="SCAN", EventKey="apr",
                                               created=1700000701)))
    assert engine.k.text("zh", "report.role.q") not in scan and scan
    assert engine.store.session(engine.store.find_user("wechat", OPENID)["id"])["dialog"] == "apr"  # type: ignore[index]
    other = "oUser_2"
    unknown = content_of(await post(full, message(None, None, user=other, kind="event", Event="subscribe",
                                                  EventKey="qrscene_nosuch", created=1700000702)))
    assert f"[2] {ui('lang.opt.en')}" in unknown                      # an unknown scene: the usual /start
    assert await post(full, message(None, None, kind="event", Event="SCAN", EventKey="nosuch",
                                    created=1700000703)) == "success"


def test_scene_payloads() -> None:
    scenes = {"report": "/report", "apr": "/apr"}
    assert deeplinks.command_for(scenes, "qrscene_report") == "/report" == deeplinks.command_for(scenes, "report")
    assert deeplinks.command_for(scenes, "qrscene_") is None and deeplinks.command_for(scenes, "x" * 200) is None
    assert deeplinks.start_command("/start apr", scenes) == "/apr"
    assert deeplinks.start_command("/start@GuardBot report", scenes) == "/report"
    assert deeplinks.start_command("/start nosuch", scenes) == "/start nosuch"
    assert deeplinks.start_command("/start", scenes) == "/start"
    assert deeplinks.start_command("/start apr please", scenes) == "/start apr please"


async def test_a_telegram_start_payload_starts_the_dialog(make_engine, settings: Settings) -> None:
    from bot.channels.telegram import TelegramBot
    from tests.test_telegram_e2e import FakeBotAPIServer, FakeTelegram, Player, tg_settings

    api = await FakeBotAPIServer(FakeTelegram()).start()
    engine = make_engine()
    bot = TelegramBot(engine, tg_settings(settings, api), pace=0, poll_timeout=1)
    await bot.start()
    try:
        p = Player(api, engine, 601, lang="zh-CN")
        out = await p.say("/start contacts")
        assert any(engine.k.text("zh", "report.role.q") in m.get("text", "") for m in out)
        assert p.step() == "role"
    finally:
        await bot.stop()
        await api.stop()


# --- item 5: one numbered list per message -------------------------------------------------------------

async def test_after_subscribing_a_question_does_not_repeat_the_language_question(full: TestClient) -> None:
    start = content_of(await post(full, message(None, None, kind="event", Event="subscribe", created=1700000800)))
    assert f"[2] {ui('lang.opt.en')}" in start
    answer = await say(full, "催收打我公司电话合法吗")
    assert shown("answer.footer", answer)
    assert ui("lang.opt.en") not in answer and ui("start.lang.q") not in answer


async def test_a_typed_number_means_the_list_on_screen_after_a_question_mid_dialog(full: TestClient,
                                                                                  engine: Engine) -> None:
    await say(full, "/lang zh")
    await say(full, "/report")
    mid = await say(full, "催收打我公司电话合法吗")
    numbered = re.findall(r"^\[(\d+)\] (.+)$", mid, re.M)
    assert numbered == [("1", engine.k.text("zh", "report.role.opt.borrower")),
                        ("2", engine.k.text("zh", "report.role.opt.contact"))]   # only the question's list
    assert re.search(r"^· ", mid, re.M)                               # the answer's buttons, by label
    await say(full, "1")
    session = engine.store.session(engine.store.find_user("wechat", OPENID)["id"])  # type: ignore[index]
    assert session is not None and session["slots"].get("role") == "borrower"


def test_plain_text_numbers_only_the_last_list() -> None:
    replies = [Reply(text="answer", buttons=(Button(id="a", label="Details"), Button(id="b", label="More"))),
               Reply(text="question?", buttons=(Button(id="c", label="Yes"), Button(id="d", label="No")))]
    text = plain_text(replies)
    assert re.findall(r"^\[\d+\] .+$", text, re.M) == ["[1] Yes", "[2] No"]
    assert "· Details" in text and "· More" in text
    assert plain_text(replies[:1]) == "answer\n[1] Details\n[2] More"


def test_the_engine_presses_earlier_buttons_by_label_only(engine: Engine) -> None:
    chat = Chat(engine, user="n1", channel="console")
    chat.say("/lang zh")
    chat.say("/report")
    chat.say("催收打我公司电话合法吗")
    screen = engine.store.user("console", "n1")["screen"]
    assert screen is not None
    numbered = [b for b in screen if not b.get("plain")]
    assert [b["id"] for b in numbered] == ["o:borrower", "o:contact"]
    more = next(b for b in screen if b.get("plain"))
    chat.say(more["label"])                                           # a label of the answer: pressed
    assert chat.last[0].kind == "answer" and chat.last[0].text != chat.history[-2][0].text
    chat.say("2")
    session = engine.store.session(chat.user_id)
    assert session is not None and session["slots"].get("role") == "contact"



def test_screen_at_finds_the_message_with_the_numbered_list() -> None:
    from bot.channels.wechat.channel import messages_of, screen_at

    replies = [Reply(text="answer", buttons=(Button(id="t:a", label="Details"),)),
               Reply(text="letter body", kind="draft"),
               Reply(text="question?", buttons=(Button(id="o:y", label="Yes"), Button(id="o:n", label="No")))]
    texts = [t for t, _ in messages_of(replies)]
    at, screen = screen_at(texts, replies)  # type: ignore[misc]
    assert texts[at].endswith("[1] Yes\n[2] No") and at == len(texts) - 1
    assert [b["id"] for b in screen] == ["o:y", "o:n", "t:a"] and screen[2]["plain"]
    assert screen_at(texts, [Reply(text="no buttons")]) is None
