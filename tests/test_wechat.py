"""The WeChat Official Account channel end to end: the real app (create_app picks up
bot.channels.wechat), the real engine, content and SQLite file, through aiohttp's test
client, and a fake WeChat API server on 127.0.0.1 for the customer-service message API.
Signatures, a conversation in plain mode, safe mode with known vectors, WeChat's retries,
bad bodies, events and attachments, long replies (pushed, or paged with "more"), and
reminders through the sender."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import logging
import os
import re
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml.ElementTree import fromstring

from bot.channels.base import plain_text
from bot.channels.http import ServerContext, create_app
from bot.channels.wechat import WECHAT, Box, CryptoError, WeChatAPI, WeChatAPIError, signature, split_text
from bot.channels.wechat import channel as wechat_channel
from bot.channels.wechat.messages import XMLError, cdata, parse
from bot.config import Settings
from bot.core.engine import Engine
from bot.core.models import Button, Inbound, Reply
from bot.scheduler import Channels, ManualClock, Scheduler
from tests.conftest import Chat, shipped, shown, ui, ui_re

TOKEN = "borrowerguard"
APP_ID = "wx5823bf96d3bd56c7"
SECRET = "s3cret"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
ACCOUNT = "gh_test"
OPENID = "oUser_1"
TS, NONCE = "1700000000", "n0nce"


# --- helpers ---------------------------------------------------------------------------------------

_nonces = itertools.count()


def signed(token: str = TOKEN, ts: str | None = None, nonce: str | None = None, **extra: str) -> dict[str, str]:
    """Query parameters signed now, with a fresh nonce (as WeChat signs each request)."""
    ts = ts or str(int(time.time()))
    nonce = nonce or f"n{next(_nonces)}"
    return {"timestamp": ts, "nonce": nonce, "signature": signature(token, ts, nonce), **extra}


def message(content: str | None = None, msg_id: int | None = None, user: str = OPENID, kind: str = "text",
            created: int = 1700000000, **fields: str) -> bytes:
    parts = [f"<ToUserName>{cdata(ACCOUNT)}</ToUserName>", f"<FromUserName>{cdata(user)}</FromUserName>",
             f"<CreateTime>{created}</CreateTime>", f"<MsgType>{cdata(kind)}</MsgType>"]
    if content is not None:
        parts.append(f"<Content>{cdata(content)}</Content>")
    parts += [f"<{k}>{cdata(v)}</{k}>" for k, v in fields.items()]
    if msg_id is not None:
        parts.append(f"<MsgId>{msg_id}</MsgId>")
    return ("<xml>" + "".join(parts) + "</xml>").encode("utf-8")


_ids = iter(range(10_000, 10**9))


async def post(client: TestClient, body: bytes, status: int = 200, params: dict | None = None) -> str:
    r = await client.post("/wechat", data=body, params=params or signed())
    text = await r.text()
    assert r.status == status, text
    return text


async def say(client: TestClient, text: str, user: str = OPENID, msg_id: int | None = None) -> str:
    """The text of the passive reply ("" for `success`)."""
    xml = await post(client, message(text, next(_ids) if msg_id is None else msg_id, user=user))
    return content_of(xml)


def content_of(xml: str) -> str:
    if xml == "success":
        return ""
    root = fromstring(xml.encode("utf-8"))
    assert root.findtext("MsgType") == "text"
    assert len(xml.encode("utf-8")) < 2048 + 300           # within WeChat's passive limit, with the envelope
    assert len((root.findtext("Content") or "").encode("utf-8")) <= 2048
    return root.findtext("Content") or ""


def wechat_settings(settings: Settings, **extra: Any) -> Settings:
    return settings.model_copy(update={"wechat_token": TOKEN, **extra})


@pytest.fixture
async def client(engine: Engine, settings: Settings) -> AsyncIterator[TestClient]:
    app = create_app(ServerContext(wechat_settings(settings), engine))
    async with TestClient(TestServer(app)) as c:
        yield c


class FakeWeChatAPI:
    """GET /cgi-bin/token and POST /cgi-bin/message/custom/send, like WeChat's, on 127.0.0.1.
    `send_errors` are errcodes (or HTTP statuses as ("http", n)) answered to the next sends."""

    def __init__(self) -> None:
        self.app = web.Application()
        self.app.router.add_get("/cgi-bin/token", self.token)
        self.app.router.add_post("/cgi-bin/message/custom/send", self.send)
        self.app.router.add_post("/cgi-bin/message/subscribe/bizsend", self.bizsend)
        self.app.router.add_post("/cgi-bin/menu/create", self.menu_create)
        self.app.router.add_get("/cgi-bin/ticket/getticket", self.ticket)
        self.runner = web.AppRunner(self.app, access_log=None)
        self.notified: list[dict] = []      # subscription notifications accepted
        self.allowed: dict[tuple[str, str], int] = {}   # (openid, template) -> consents WeChat holds
        self.menus: list[dict] = []
        self.issued: list[str] = []
        self.valid: set[str] = set()
        self.sent: list[dict] = []
        self.send_errors: list[Any] = []
        self.cap_left: int | None = None    # messages the user may still get before 45047 (None: no cap)
        self.expires_in = 7200
        self.base_url = ""

    async def start(self) -> FakeWeChatAPI:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        return self

    async def token(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("grant_type") != "client_credential" or q.get("appid") != APP_ID or q.get("secret") != SECRET:
            return web.json_response({"errcode": 40125, "errmsg": "invalid appsecret"})
        token = f"T{len(self.issued) + 1}"
        self.issued.append(token)
        self.valid.add(token)
        return web.json_response({"access_token": token, "expires_in": self.expires_in})

    async def send(self, request: web.Request) -> web.Response:
        token = request.query.get("access_token", "")
        if token not in self.valid:
            return web.json_response({"errcode": 42001 if token in self.issued else 40001, "errmsg": "token"})
        if self.send_errors:
            error = self.send_errors.pop(0)
            if isinstance(error, tuple):
                return web.Response(status=error[1])
            return web.json_response({"errcode": error, "errmsg": "refused"})
        if self.cap_left is not None:
            if self.cap_left <= 0:
                return web.json_response({"errcode": 45047, "errmsg": "out of response count limit"})
            self.cap_left -= 1
        raw = await request.read()
        assert b"\\u" not in raw                               # UTF-8, not \u escapes
        data = await request.json()
        assert data["msgtype"] == "text" and len(data["text"]["content"].encode("utf-8")) <= 2048
        self.sent.append({"to": data["touser"], "text": data["text"]["content"], "token": token})
        return web.json_response({"errcode": 0, "errmsg": "ok"})


    def _valid(self, request: web.Request) -> web.Response | None:
        token = request.query.get("access_token", "")
        if token not in self.valid:
            return web.json_response({"errcode": 42001 if token in self.issued else 40001, "errmsg": "token"})
        return None

    async def bizsend(self, request: web.Request) -> web.Response:
        """订阅通知 (POST /cgi-bin/message/subscribe/bizsend): one consent per notification;
        values checked like WeChat's (thing at most 20 characters)."""
        if (refused := self._valid(request)) is not None:
            return refused
        data = await request.json()
        key = (data.get("touser", ""), data.get("template_id", ""))
        assert isinstance(data.get("data"), dict) and all(set(v) == {"value"} for v in data["data"].values())
        if any(k.startswith("thing") and len(v["value"]) > 20 for k, v in data["data"].items()):
            return web.json_response({"errcode": 47003, "errmsg": "argument invalid! data.thing1.value invalid"})
        if self.allowed.get(key, 0) <= 0:
            return web.json_response({"errcode": 43101, "errmsg": "user refuse to accept the msg"})
        self.allowed[key] -= 1
        self.notified.append(data)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def menu_create(self, request: web.Request) -> web.Response:
        """POST /cgi-bin/menu/create with WeChat's own limits (40016: button count, 40018: name)."""
        if (refused := self._valid(request)) is not None:
            return refused
        raw = await request.read()
        assert b"\\u" not in raw
        menu = json.loads(raw)
        buttons = menu.get("button", [])
        if not 1 <= len(buttons) <= 3 or any(len(b.get("sub_button", [])) > 5 for b in buttons):
            return web.json_response({"errcode": 40016, "errmsg": "invalid button size"})
        if any(len(b["name"].encode()) > 16 for b in buttons):
            return web.json_response({"errcode": 40018, "errmsg": "invalid button name size"})
        self.menus.append(menu)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def ticket(self, request: web.Request) -> web.Response:
        if (refused := self._valid(request)) is not None:
            return refused
        assert request.query.get("type") == "jsapi"
        return web.json_response({"errcode": 0, "errmsg": "ok", "ticket": "TICKET1", "expires_in": 7200})


@pytest.fixture
async def wx_api() -> AsyncIterator[FakeWeChatAPI]:
    server = await FakeWeChatAPI().start()
    yield server
    await server.runner.cleanup()


@pytest.fixture
async def api_client(engine: Engine, settings: Settings, wx_api: FakeWeChatAPI) -> AsyncIterator[TestClient]:
    ctx = ServerContext(wechat_settings(settings, wechat_app_id=APP_ID, wechat_app_secret=SECRET,
                                        wechat_api_base_url=wx_api.base_url), engine)
    app = create_app(ctx)
    app[WECHAT].push_delay = 0
    async with TestClient(TestServer(app)) as c:
        c.ctx = ctx  # type: ignore[attr-defined]
        yield c


def waiting(engine: Engine, user: str = OPENID) -> list[str]:
    """The user's outbox: the messages of an answer not delivered yet, in order."""
    return [r["text"] for r in engine.store.db.query(
        "SELECT text FROM outbox WHERE user_id = (SELECT id FROM users WHERE channel = 'wechat'"
        " AND external_id = ?) ORDER BY id", [user])]


def first_page_total(text: str, key: str = "wechat.more") -> int:
    """How many parts a long answer has, from the paging line `key` ("part 1 of N") on its first part."""
    totals = [total for total in range(2, 200) if ui(key, n=1, total=total) in text]
    assert totals, text
    return totals[0]


def is_letter_intro(text: str) -> bool:
    """The line before a letter: one of the report's "next is the letter to ..." texts."""
    return any(shown(key, text) for key in shipped().knowledge.ui["zh"]
               if key.startswith("report.draft.") and key.endswith(".how"))


def make_long(engine: Engine, user: str = OPENID) -> None:
    """Give the user enough data that /export is several messages long."""
    for i in range(12):
        inbound = Inbound(channel="wechat", user=user, message_id=f"long{i}",
                          text=f"/remind {i + 1}d 给银行打电话问第{i}笔")
        engine.handle(inbound)
        engine.ack(inbound)


# --- verification and signatures -------------------------------------------------------------------

async def test_verification_echoes_with_the_right_signature_only(client: TestClient) -> None:
    r = await client.get("/wechat", params=signed(echostr="12345abc"))
    assert r.status == 200 and await r.text() == "12345abc"
    for params in (signed("wrong-token", echostr="x"), {"timestamp": TS, "nonce": NONCE, "echostr": "x"},
                   {**signed(echostr="x"), "nonce": "other"}, {**signed(echostr="x"), "signature": "0" * 40}):
        r = await client.get("/wechat", params=params)
        assert r.status == 403 and "x" not in await r.text()


async def test_old_timestamps_and_replayed_urls_are_refused(client: TestClient, engine: Engine) -> None:
    """Item 4: plain mode's signature covers only the token, timestamp and nonce, so a signed URL
    (even one signed with timestamp 1) could carry any body. Now a timestamp must be within
    5 minutes, and a (timestamp, nonce) is good for one body only."""
    now = int(time.time())
    for ts in ("1", str(now - 301), str(now + 301), "not-a-number"):
        await post(client, message("/start", next(_ids)), 403, params=signed(ts=ts))
        assert (await client.get("/wechat", params=signed(ts=ts, echostr="x"))).status == 403
    assert engine.store.db.execute("SELECT COUNT(*) FROM inbox").fetchone()[0] == 0
    params = signed(ts=str(now - 200))
    body = message("/start", next(_ids))
    first = await post(client, body, params=params)
    assert content_of(first) and await post(client, body, params=params) == first   # WeChat's own retry
    await post(client, message("/delete", next(_ids)), 403, params=params)          # same URL, other body
    assert engine.store.db.execute("SELECT COUNT(*) FROM inbox").fetchone()[0] == 1


async def test_another_users_msgid_never_gets_their_reply(client: TestClient, engine: Engine) -> None:
    """Item 4: dedup and the reply cache are keyed by (openid, MsgId)."""
    victim = content_of(await post(client, message("/remind 30m 给王小明打电话 13800001111", 777, user="oVictim")))
    assert "王小明" in victim or "13800001111" in victim or victim
    forged = content_of(await post(client, message("/help", 777, user="oAttacker")))
    assert forged and forged != victim and "王小明" not in forged and "13800001111" not in forged
    again = content_of(await post(client, message("/remind 30m 给王小明打电话 13800001111", 777, user="oVictim")))
    assert again == victim                                                         # the victim's retry still works


async def test_a_retry_after_a_restart_gets_the_same_reply(client: TestClient, engine: Engine, make_engine,
                                                           settings: Settings) -> None:
    """Item 2: the replies are in the database for the dedup window, not only in memory."""
    first = content_of(await post(client, message("/remind 30m 回电话", 4242)))
    app = create_app(ServerContext(wechat_settings(settings), make_engine()))     # nothing in memory
    async with TestClient(TestServer(app)) as c2:
        assert content_of(await post(c2, message("/remind 30m 回电话", 4242))) == first
    assert engine.store.db.execute("SELECT COUNT(*) FROM reminders").fetchone()[0] == 1


async def test_the_endpoint_is_off_without_a_token(engine: Engine, settings: Settings) -> None:
    ctx = ServerContext(settings, engine)
    async with TestClient(TestServer(create_app(ctx))) as c:
        assert (await c.get("/wechat", params=signed(echostr="1"))).status == 404
        assert (await c.post("/wechat", data=message("hi", 1), params=signed())).status in (404, 405)
    assert "wechat" not in ctx.senders


async def test_a_forged_post_is_refused_and_never_handled(client: TestClient, engine: Engine) -> None:
    await post(client, message("/remind 30m 回电话", 1), 403, params=signed("forged"))
    await post(client, message("/remind 30m 回电话", 1), 403, params={"timestamp": TS, "nonce": NONCE})
    assert not list(engine.store.db.query("SELECT id FROM inbox"))


# --- plain mode conversation --------------------------------------------------------------------------

async def test_a_conversation_through_start_and_a_question(client: TestClient) -> None:
    xml = await post(client, message(None, None, kind="event", Event="subscribe"))
    root = fromstring(xml.encode())
    assert root.findtext("ToUserName") == OPENID and root.findtext("FromUserName") == ACCOUNT
    start = content_of(xml)
    assert ui("welcome") in start
    assert f"[1] {ui('lang.opt.zh')}" in start and f"[2] {ui('lang.opt.en')}" in start
    menu = await say(client, "1")                                    # the number of a button
    assert ui("start.need.q") in menu and re.search(r"^\[\d+\] ", menu, re.M)
    answer = await say(client, "催收打我公司电话合法吗")
    assert shown("answer.footer", answer) and "[1] " in answer


async def test_english_by_label_and_answers(client: TestClient) -> None:
    await post(client, message(None, None, kind="event", Event="subscribe"))
    assert ui("start.need.q", "en") in await say(client, ui("lang.opt.en"))   # a button's label, typed
    answer = await say(client, "can they call my employer?")
    assert shown("answer.footer", answer, "en")


async def test_a_retried_msgid_gets_the_same_reply_not_a_second_step(client: TestClient, engine: Engine) -> None:
    await say(client, "/lang zh")
    first = await say(client, "/remind 30m 回电话", msg_id=777)
    again = await say(client, "/remind 30m 回电话", msg_id=777)
    assert first == again and shown("remind.set", first, text="回电话")
    assert len(list(engine.store.db.query("SELECT id FROM reminders"))) == 1
    client.app[WECHAT].recent = wechat_channel.Expiring(60, 10)      # a restart: the cache is gone
    assert await say(client, "/remind 30m 回电话", msg_id=777) == first  # from the database, still one reminder
    assert len(list(engine.store.db.query("SELECT id FROM reminders"))) == 1
    await say(client, "/remind 30m 回电话", msg_id=778)
    assert len(list(engine.store.db.query("SELECT id FROM reminders"))) == 2


async def test_a_retried_subscribe_event_is_one_start(client: TestClient, engine: Engine) -> None:
    body = message(None, None, kind="event", Event="subscribe", created=1700000123)
    first, again = await post(client, body), await post(client, body)
    assert content_of(first) == content_of(again)
    rows = list(engine.store.db.query("SELECT message_id FROM inbox WHERE channel = 'wechat'"))
    assert [r["message_id"] for r in rows] == [f"e:{OPENID}:1700000123:subscribe"]


# --- events, attachments, other types --------------------------------------------------------------

async def test_events(client: TestClient, engine: Engine) -> None:
    for event in ("unsubscribe", "LOCATION", "VIEW", "SCAN"):
        assert await post(client, message(None, None, kind="event", Event=event, EventKey="x")) == "success"
    assert not list(engine.store.db.query("SELECT id FROM inbox"))
    help_text = content_of(await post(client, message(None, None, kind="event", Event="CLICK", EventKey="/help")))
    assert "/report" in help_text
    assert await post(client, message(None, None, kind="event", Event="CLICK", EventKey="menu_1",
                                      created=1700000001)) == "success"


async def test_attachments_and_unknown_types(client: TestClient, engine: Engine) -> None:
    await say(client, "/lang zh")
    k = engine.k
    notice = k.text("zh", "input.attachment")
    # photos, voice notes and videos are evidence; without the API they cannot be downloaded
    # (tests/test_wechat_media.py keeps them through the fake API)
    for n, (kind, what) in enumerate((("image", "photo"), ("voice", "voice"), ("video", "video"),
                                      ("shortvideo", "video"))):
        reply = content_of(await post(client, message(None, 500 + n, kind=kind, MediaId="m1")))
        assert reply.startswith(k.text("zh", "media.unavailable", kind=k.text("zh", f"media.kind.{what}"))), kind
    for n, kind in enumerate(("file", "location", "link"), 4):
        reply = content_of(await post(client, message(None, 500 + n, kind=kind, MediaId="m1")))
        assert notice in reply, kind
    heard = content_of(await post(client, message(None, 600, kind="voice", MediaId="m",
                                                  Recognition="催收打我公司电话合法吗")))
    assert shown("answer.footer", heard)                             # speech recognition: answered as text
    odd = content_of(await post(client, message(None, 601, kind="miniprogrampage")))
    assert odd == engine.k.text("zh", "wechat.unsupported")


# --- bad bodies ----------------------------------------------------------------------------------------

async def test_malformed_huge_and_hostile_bodies(client: TestClient, engine: Engine,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
            b"<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><Content>&lol2;</Content></xml>")
    external = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                b"<xml><FromUserName>b</FromUserName><Content>&e;</Content></xml>")
    for body in (b"", b"not xml", b"<xml><unclosed></xml>", b"<other><a>1</a></other>", bomb, external,
                 "<xml>\udcff</xml>".encode("utf-8", "surrogatepass"), b"\xff\xfe<xml/>",
                 message("hi", 1, user="not an openid!"), message("hi", 2, user=""),
                 b"<xml><FromUserName>oX</FromUserName><MsgType>text</MsgType></xml>"):
        await post(client, body, 400)
    await post(client, b"<xml>" + b"a" * (70 * 1024) + b"</xml>", 413)

    async def chunks() -> AsyncIterator[bytes]:                # no Content-Length: counted as it arrives
        for _ in range(80):
            yield b"x" * 1024
    r = await client.post("/wechat", data=chunks(), params=signed())
    assert r.status == 413
    assert "Traceback" not in caplog.text
    assert not list(engine.store.db.query("SELECT id FROM inbox"))


def test_parse_keeps_content_whitespace_and_rejects_oversized_fields() -> None:
    assert parse(message("  两个空格 ", 1))["Content"] == "  两个空格 "
    with pytest.raises(XMLError):
        parse(message("x" * 20_000, 1))


def test_reply_xml_survives_cdata_ends_and_control_characters() -> None:
    from bot.channels.wechat.messages import text_reply
    xml = text_reply(OPENID, ACCOUNT, "a]]>b\x00c\x1bd 中文", 1)
    assert fromstring(xml.encode()).findtext("Content") == "a]]>bcd 中文"


# --- safe mode -------------------------------------------------------------------------------------------

def reference_encrypt(key_text: str, app_id: str, message_bytes: bytes, random: bytes) -> str:
    """Safe-mode encryption written out with the `cryptography` primitives, independent of Box."""
    key = base64.b64decode(key_text + "=")
    plain = random + struct.pack(">I", len(message_bytes)) + message_bytes + app_id.encode()
    n = 32 - len(plain) % 32
    plain += bytes([n]) * n
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode()


def reference_decrypt(key_text: str, encrypted: str) -> tuple[bytes, bytes]:
    key = base64.b64decode(key_text + "=")
    dec = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = dec.update(base64.b64decode(encrypted)) + dec.finalize()
    plain = plain[:-plain[-1]]
    (length,) = struct.unpack(">I", plain[16:20])
    return plain[20:20 + length], plain[20 + length:]


# Produced once with wechatpy 1.8.18 (WeChatCrypto(TOKEN, AES_KEY, APP_ID).encrypt_message(MSG,
# "wpnonce", "1700000000")): a vector from another implementation, random bytes and all.
WECHATPY_MSG = ("<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[oUser_1]]></FromUserName>"
                "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
                "<Content><![CDATA[催收打我公司电话合法吗]]></Content><MsgId>900001</MsgId></xml>")
WECHATPY_ENCRYPT = (
    "YR+YuXD+2X/GetmV7jjM5dLPZkG4H5vkWfhBINdtrS9KYhWxBLGoAElFtMObmzmpbef4iqPfsbztlIYk4fCta11VFC/8bSaUFfR8uypwrQz"
    "fFP171C6qpU9wU7OBD+CGmFYUpkvU6ep6aCEjXOdrEyCzhryvhRODp5UsyzovHb5BKY/416WihAa5ikyT+rtcG2HFty0Piz0m3OmGLjGifp1"
    "WVn+VxrxDtiZjRNVfJ08Xx+jv5oiTQ629ss3URIR1hoCuxvyoiwAqLlLGquoY4LZr6i9RGjwZs5yn6iJDjA2meleBgwOrjgIloUp+cNxL2RI"
    "bD/fZ0w9HkVh3ApfV99uINgOddbGj77g/kVEdoQTuISHs8FH6CI1/q8mDymA9FRrQTr+Y1qYrlif6usG1onmi8TVwUh2IRP+LZFW6HMw=")
WECHATPY_SIGNATURE = "2103d7704f6c44aecb2a7f06e03f71770fa7a31d"


def test_box_matches_the_reference_and_round_trips() -> None:
    box = Box(AES_KEY, APP_ID)
    random = bytes(range(16))
    for msg in (b"", b"x", "<xml>中文</xml>".encode(), os.urandom(31), os.urandom(32), os.urandom(1000)):
        mine = box.encrypt(msg, random=random)
        assert mine == reference_encrypt(AES_KEY, APP_ID, msg, random)
        assert box.decrypt(mine) == msg
        assert reference_decrypt(AES_KEY, box.encrypt(msg)) == (msg, APP_ID.encode())
    assert box.encrypt(b"same") != box.encrypt(b"same")               # random prefix


def test_box_decrypts_the_wechatpy_vector() -> None:
    assert Box(AES_KEY, APP_ID).decrypt(WECHATPY_ENCRYPT).decode() == WECHATPY_MSG
    assert signature(TOKEN, "1700000000", "wpnonce", WECHATPY_ENCRYPT) == WECHATPY_SIGNATURE


def test_box_refuses_bad_payloads_and_keys() -> None:
    box = Box(AES_KEY, APP_ID)
    with pytest.raises(CryptoError, match="app id mismatch"):
        Box(AES_KEY, "wxOTHER").decrypt(WECHATPY_ENCRYPT)
    key = base64.b64decode(AES_KEY + "=")
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    bad_padding = base64.b64encode(enc.update(b"\x00" * 63 + b"\x21") + enc.finalize()).decode()
    for payload in ("", "!!!", base64.b64encode(b"short").decode(), bad_padding, "A" * 70_000):
        with pytest.raises(CryptoError):
            box.decrypt(payload)
    for key_text in ("short", AES_KEY[:-1] + "!", "A" * 44):
        with pytest.raises(ValueError):
            Box(key_text, APP_ID)


@pytest.fixture
async def safe_client(engine: Engine, settings: Settings) -> AsyncIterator[TestClient]:
    s = wechat_settings(settings, wechat_encoding_aes_key=AES_KEY, wechat_app_id=APP_ID)
    async with TestClient(TestServer(create_app(ServerContext(s, engine)))) as c:
        yield c


def encrypted_body(payload: str) -> bytes:
    return f"<xml><ToUserName>{cdata(ACCOUNT)}</ToUserName><Encrypt>{cdata(payload)}</Encrypt></xml>".encode()


def safe_params(payload: str, ts: str | None = None, nonce: str | None = None, **extra: str) -> dict[str, str]:
    ts = ts or str(int(time.time()))
    nonce = nonce or f"wp{next(_nonces)}"
    return {"timestamp": ts, "nonce": nonce, "signature": signature(TOKEN, ts, nonce), "encrypt_type": "aes",
            "msg_signature": signature(TOKEN, ts, nonce, payload), **extra}


def open_reply(xml: str) -> str:
    root = fromstring(xml.encode())
    payload = root.findtext("Encrypt")
    assert root.findtext("MsgSignature") == signature(TOKEN, root.findtext("TimeStamp"), root.findtext("Nonce"),
                                                      payload)
    inner, app_id = reference_decrypt(AES_KEY, payload)
    assert app_id == APP_ID.encode()
    return content_of(inner.decode())


async def test_safe_mode_round_trip(safe_client: TestClient) -> None:
    reply = await post(safe_client, encrypted_body(WECHATPY_ENCRYPT), params=safe_params(WECHATPY_ENCRYPT))
    assert "<Content>" not in reply and shown("answer.footer", open_reply(reply))
    own = Box(AES_KEY, APP_ID).encrypt(message(None, None, kind="event", Event="subscribe"))
    started = open_reply(await post(safe_client, encrypted_body(own), params=safe_params(own)))
    assert f"[1] {ui('lang.opt.zh')}" in started


async def test_safe_mode_refusals(safe_client: TestClient, engine: Engine) -> None:
    p = safe_params(WECHATPY_ENCRYPT)
    await post(safe_client, encrypted_body(WECHATPY_ENCRYPT), 403, params={**p, "msg_signature": "0" * 40})
    await post(safe_client, encrypted_body(WECHATPY_ENCRYPT), 403, params={k: v for k, v in p.items()
                                                                            if k != "msg_signature"})
    await post(safe_client, message("hi", 1), 403)                                   # plain text in safe mode
    other = Box(AES_KEY, "wxOTHERAPP").encrypt(message("hi", 2))
    await post(safe_client, encrypted_body(other), 403, params=safe_params(other))   # another app's message
    garbage = base64.b64encode(os.urandom(64)).decode()
    await post(safe_client, encrypted_body(garbage), 400, params=safe_params(garbage))
    not_xml = Box(AES_KEY, APP_ID).encrypt(b"not xml")
    await post(safe_client, encrypted_body(not_xml), 400, params=safe_params(not_xml))
    assert not list(engine.store.db.query("SELECT id FROM inbox"))


async def test_encrypted_messages_without_a_key_and_bad_configuration(client: TestClient, engine: Engine,
                                                                      settings: Settings) -> None:
    await post(client, encrypted_body(WECHATPY_ENCRYPT), 400, params=safe_params(WECHATPY_ENCRYPT))
    with pytest.raises(ValueError, match="43"):
        create_app(ServerContext(wechat_settings(settings, wechat_encoding_aes_key="nope", wechat_app_id=APP_ID),
                                 engine))
    with pytest.raises(ValueError, match="WECHAT_APP_ID"):
        create_app(ServerContext(wechat_settings(settings, wechat_encoding_aes_key=AES_KEY), engine))


# --- long replies --------------------------------------------------------------------------------------

def test_split_text_respects_the_byte_limit_and_keeps_everything() -> None:
    text = "\n\n".join(f"第{i}段：" + "催收" * (i * 7) for i in range(60)) + "\n" + "长" * 3000
    parts = split_text(text, 500)
    assert all(len(p.encode()) <= 500 for p in parts) and len(parts) > 5
    assert re.sub(r"\s", "", "".join(parts)) == re.sub(r"\s", "", text)
    assert split_text("short") == ["short"] and split_text("") == []


async def test_a_long_answer_is_paged_with_more_without_the_api(client: TestClient, engine: Engine) -> None:
    await say(client, "/lang zh")
    make_long(engine)
    first = await say(client, "/export")
    total = first_page_total(first)
    pages = [first]
    for n in range(2, total + 1):
        pages.append(await say(client, "更多"))
        assert (ui("wechat.more", n=n, total=total) in pages[-1]) == (n < total)
    joined = "".join(ui_re("wechat.more").sub("", p) for p in pages)
    assert '"reminders"' in joined and joined.count("给银行打电话问第") >= 12
    assert waiting(engine) == []
    after = await say(client, "更多")                                 # nothing left: the engine answers it
    assert after and not shown("wechat.more", after)


async def test_a_long_answer_is_pushed_through_the_customer_service_api(api_client: TestClient, engine: Engine,
                                                                       wx_api: FakeWeChatAPI) -> None:
    channel = api_client.app[WECHAT]
    await say(api_client, "/lang zh")
    make_long(engine)
    first = await say(api_client, "/export")
    total = first_page_total(first, "wechat.continued")
    await channel.drain()
    assert len(wx_api.sent) == total - 1 and {s["to"] for s in wx_api.sent} == {OPENID}
    assert wx_api.issued == ["T1"] and {s["token"] for s in wx_api.sent} == {"T1"}
    assert "给银行打电话问第11笔" in "".join(s["text"] for s in wx_api.sent)
    # A second long answer: the cached token. Then WeChat expires it early: one refresh, resent.
    await say(api_client, "/export")
    await channel.drain()
    assert wx_api.issued == ["T1"]
    wx_api.valid.clear()
    before = len(wx_api.sent)
    await say(api_client, "/export")
    await channel.drain()
    assert wx_api.issued == ["T1", "T2"] and len(wx_api.sent) > before
    assert {s["token"] for s in wx_api.sent[before:]} == {"T2"}


async def test_the_token_is_refreshed_when_it_expires(wx_api: FakeWeChatAPI) -> None:
    now = [0.0]
    api = WeChatAPI(wx_api.base_url, APP_ID, SECRET, clock=lambda: now[0])
    try:
        assert await api.send_text(OPENID, "一") and await api.send_text(OPENID, "二")
        assert wx_api.issued == ["T1"]
        now[0] = 7200 - 299                                           # near the end: replaced early
        assert await api.send_text(OPENID, "三")
        assert wx_api.issued == ["T1", "T2"] and wx_api.sent[-1]["token"] == "T2"
        wx_api.send_errors = [45015]
        assert await api.send_text(OPENID, "四") is False
        wx_api.send_errors = [-1]
        with pytest.raises(WeChatAPIError):
            await api.send_text(OPENID, "五")
        wx_api.send_errors = [("http", 502)]
        with pytest.raises(WeChatAPIError):
            await api.send_text(OPENID, "六")
        bad = WeChatAPI(wx_api.base_url, APP_ID, "wrong secret")
        with pytest.raises(WeChatAPIError):
            await bad.send_text(OPENID, "七")
        await bad.close()
    finally:
        await api.close()


async def test_a_refused_push_waits_for_more(api_client: TestClient, engine: Engine, wx_api: FakeWeChatAPI) -> None:
    channel = api_client.app[WECHAT]
    await say(api_client, "/lang zh")
    make_long(engine)
    wx_api.send_errors = [45047]
    first = await say(api_client, "/export")
    total = first_page_total(first, "wechat.continued")
    await channel.drain()
    assert wx_api.sent == []
    assert len(waiting(engine)) == total - 1                           # kept in the database
    second = await say(api_client, "更多")                             # the user writes: the cap is reset
    assert ui("wechat.left", n=total - 1) in second
    await channel.drain()
    assert len(wx_api.sent) == total - 1 and waiting(engine) == []


# --- reminders ---------------------------------------------------------------------------------------

async def test_a_due_reminder_is_pushed_through_the_sender(api_client: TestClient, engine: Engine,
                                                           wx_api: FakeWeChatAPI, clock: ManualClock) -> None:
    ctx = api_client.ctx  # type: ignore[attr-defined]
    assert "wechat" in ctx.senders
    channels = Channels()
    for name, send in ctx.senders.items():
        channels.register(name, send)
    await say(api_client, "/lang zh")
    await say(api_client, "/remind 30m 给12378打电话")
    clock.advance(minutes=31)
    result = await Scheduler(engine, channels, clock).tick()
    assert result.sent == 1
    [pushed] = wx_api.sent
    assert pushed["to"] == OPENID and "给12378打电话" in pushed["text"] and re.search(r"^\[1\] ", pushed["text"], re.M)
    [row] = list(engine.store.db.query("SELECT status, channel FROM reminders"))
    assert row == {"status": "sent", "channel": "wechat"}


async def test_outside_the_window_a_reminder_waits_for_the_next_message(
        api_client: TestClient, engine: Engine, wx_api: FakeWeChatAPI, clock: ManualClock) -> None:
    ctx = api_client.ctx  # type: ignore[attr-defined]
    channels = Channels()
    channels.register("wechat", ctx.senders["wechat"])
    await say(api_client, "/lang zh")
    await say(api_client, "/remind 3d 交材料")
    clock.advance(days=3, minutes=1)
    wx_api.send_errors = [45015]
    result = await Scheduler(engine, channels, clock).tick()
    assert result.deferred == 1 and result.sent == 0
    assert wx_api.send_errors == [45015]           # past the 48 hours the API is not even asked (issue 14)
    [row] = list(engine.store.db.query("SELECT status FROM reminders"))
    assert row["status"] == "pending"
    wx_api.send_errors = []
    reply = await say(api_client, "你好")                              # the user writes: it comes first
    assert "交材料" in reply.split("\n\n")[0]
    assert wx_api.sent == []
    [row] = list(engine.store.db.query("SELECT status FROM reminders"))
    assert row["status"] != "pending"


async def test_the_sender_splits_long_reminders(api_client: TestClient, wx_api: FakeWeChatAPI) -> None:
    send = api_client.ctx.senders["wechat"]  # type: ignore[attr-defined]
    long = Reply(text="提醒\n\n" + "\n".join("很长的一行文字" * 10 for _ in range(40)),
                 buttons=(Button(id="a", label="好"),), kind="reminder")
    assert await send(OPENID, [long])
    assert len(wx_api.sent) >= 2 and wx_api.sent[-1]["text"].endswith("[1] 好")
    wx_api.send_errors = [45015]
    assert await send(OPENID, [long]) is False


# --- privacy -------------------------------------------------------------------------------------------

async def test_logs_never_hold_text_or_openids(api_client: TestClient, engine: Engine, wx_api: FakeWeChatAPI,
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret_user = "oSECRETopenid42"
    await say(api_client, "我叫陈秘密，电话13712345678", user=secret_user)
    make_long(engine, secret_user)
    await say(api_client, "/export", user=secret_user)
    await api_client.app[WECHAT].drain()
    await post(api_client, b"<xml>broken", 400)
    await post(api_client, message("陈秘密", 5, user=secret_user), 403, params=signed("x"))
    assert wx_api.sent
    for secret in ("陈秘密", "13712345678", secret_user, SECRET, "T1", hashlib.sha1(b"x").hexdigest()):
        assert secret not in caplog.text


async def test_a_reply_handled_but_never_acknowledged_goes_to_the_retry(client: TestClient, engine: Engine) -> None:
    crashed = Inbound(channel="wechat", user=OPENID, message_id="m:4242", text="/help")
    handled = engine.handle(crashed)                                   # ... and the process died here
    assert await say(client, "/help", msg_id=4242) == "\n\n".join(r.text for r in handled)


async def test_a_retry_while_the_first_is_being_answered_waits_for_it(api_client: TestClient, engine: Engine,
                                                                      wx_api: FakeWeChatAPI) -> None:
    """WeChat retries after 5 s even when the first request is still being answered (the engine
    runs in a worker thread): the retry gets the same reply, the step happens once and the rest
    of a long answer is pushed once."""
    channel = api_client.app[WECHAT]
    await say(api_client, "/lang zh")
    make_long(engine)
    body = message("/export", 4242)
    first, again = await asyncio.gather(post(api_client, body), post(api_client, body))
    assert first == again
    total = first_page_total(content_of(first), "wechat.continued")
    await channel.drain()
    assert len(wx_api.sent) == total - 1                               # pushed once, not twice
    rows = list(engine.store.db.query("SELECT id FROM inbox WHERE message_id LIKE '%4242%'"))
    assert len(rows) == 1


# --- one access token for many workers (issue 14, item 7) ------------------------------------------------

async def test_workers_share_one_access_token(make_engine, settings: Settings, wx_api: FakeWeChatAPI) -> None:
    """Two processes (two engines, each with its own Store, on one database file): one token
    fetch between them, even when both need it at once; a token WeChat refuses is replaced
    once, and the other worker picks up the replacement instead of fetching its own."""
    s = wechat_settings(settings, wechat_app_id=APP_ID, wechat_app_secret=SECRET,
                        wechat_api_base_url=wx_api.base_url)
    apps = [create_app(ServerContext(s, make_engine())) for _ in range(2)]
    one, two = (app[WECHAT] for app in apps)
    assert one.engine.store is not two.engine.store and one.api is not two.api
    try:
        assert all(await asyncio.gather(one.api.send_text(OPENID, "一"), two.api.send_text(OPENID, "二")))
        assert wx_api.issued == ["T1"] and {s["token"] for s in wx_api.sent} == {"T1"}
        assert one.api.token_fetches + two.api.token_fetches == 1
        assert await two.api.send_text(OPENID, "三") and wx_api.issued == ["T1"]
        wx_api.valid.clear()                                           # WeChat expires it early (42001)
        assert await one.api.send_text(OPENID, "四")
        assert wx_api.issued == ["T1", "T2"] and wx_api.sent[-1]["token"] == "T2"
        assert await two.api.send_text(OPENID, "五")                  # reads T2 from the row, no fetch
        assert wx_api.issued == ["T1", "T2"] and wx_api.sent[-1]["token"] == "T2"
        row = one.engine.store.shared.token(f"wechat:{APP_ID}")
        assert row is not None and row.token == "T2" and row.expires_at > time.time() + 6000
    finally:
        for channel in (one, two):
            await channel.api.close()
            channel.worker.close()


# --- every letter is its own message, whole (issue 14, item 1) -------------------------------------------

def to_review(engine: Engine, user: str = OPENID) -> Chat:
    """The employer story of tests/test_report_dialog.py, in Chinese, up to the review screen
    (driven through the engine as the WeChat user; the last step goes through WeChat)."""
    chat = Chat(engine, user=user, channel="wechat")
    chat.say("/lang zh")
    chat.say("/report")
    chat.press_label(ui("report.role.opt.borrower"))
    chat.say("安达消费金融")
    chat.press("o:consumer_finance")
    for b in ("called_employer", "disclosed_debt", "pressed_others"):
        chat.press(f"o:{b}")
    chat.press("c:done")
    chat.say("1 2")
    chat.say("说我欠钱不还，让公司扣我工资")
    chat.press_label(ui("report.consent.opt.not_agreed"))
    chat.say("是")
    chat.say("2026-10-08")
    chat.say("11月25日")
    chat.press("c:skip")
    chat.press("o:recordings")
    chat.press("c:done")
    chat.press("o:no")
    chat.say("1 2")
    chat.press("o:calls_workhours")
    chat.say("李明")
    chat.press("c:skip")
    assert "c:ok" in chat.buttons, chat.text
    return chat


def confirm_label(chat: Chat) -> str:
    screen = next(r for r in reversed(chat.last) if r.buttons)
    return next(b.label for b in screen.buttons if b.id == "c:ok")


def expected_messages(engine: Engine) -> list[tuple[str, str]]:
    """(kind, text as WeChat shows it) of the replies to the last message, as stored, with
    the letters' page line WeChat adds before the closing question (issue 14, item 2: here
    without BOT_PUBLIC_URL, so the line saying there is no page)."""
    [row] = engine.store.db.execute("SELECT replies FROM inbox ORDER BY id DESC LIMIT 1").fetchall()
    out = [(r["kind"], plain_text(Reply.model_validate(r))) for r in json.loads(row[0])]
    if any(kind == "draft" for kind, _ in out):
        out.insert(len(out) - 1, ("notice", engine.k.text("zh", "doc.no_public_url")))
    return out


async def test_a_whole_report_arrives_letter_by_letter(api_client: TestClient, engine: Engine,
                                                       wx_api: FakeWeChatAPI) -> None:
    chat = to_review(engine)
    passive = await say(api_client, confirm_label(chat))
    await api_client.app[WECHAT].drain()
    replies = expected_messages(engine)
    letters = [text for kind, text in replies if kind == "draft"]
    assert len(letters) == 4
    assert passive.startswith(replies[0][1]) and shown("wechat.continued", passive)
    pushed = [s["text"] for s in wx_api.sent]
    assert pushed == expected_pushed(replies[1:])                     # one message each, in order
    for letter in letters:                                            # whole and alone, after its line
        parts = wechat_channel.letter_parts(letter, 2048)
        i = pushed.index(parts[0])
        assert is_letter_intro(pushed[i - 1]) and pushed[i:i + len(parts)] == parts
        assert len(parts) == 1 or "\n\n".join(p.split("\n", 1)[1] for p in parts) == letter
    assert any(len(wechat_channel.letter_parts(t, 2048)) == 1 for t in letters)
    assert waiting(engine) == []


def expected_pushed(replies: list[tuple[str, str]], letter_limit: int = 2048) -> list[str]:
    out = []
    for kind, text in replies:
        out += wechat_channel.letter_parts(text, letter_limit) if kind == "draft" else [text]
    return out


def test_a_long_letter_is_cut_at_paragraphs_and_marked() -> None:
    paragraphs = [f"第{i}段。" + "催收人员多次打电话到我的单位。" * 12 for i in range(5)]
    letter = "\n\n".join(paragraphs)
    assert len(letter.encode()) > wechat_channel.CHUNK
    messages = wechat_channel.messages_of([Reply(text="下一条是给贷款公司的信："),
                                           Reply(text=letter, kind="draft"), Reply(text="好了", kind="text")])
    assert messages[0] == ("下一条是给贷款公司的信：", False) and messages[-1] == ("好了", False)
    parts = [text for text, is_letter in messages if is_letter]
    assert len(parts) == 2 == len(messages) - 2
    assert parts[0].startswith("(1/2)\n") and parts[1].startswith("(2/2)\n")
    bodies = [p.split("\n", 1)[1] for p in parts]
    assert all(len(p.encode()) <= wechat_channel.CHUNK for p in parts)
    assert "\n\n".join(bodies) == letter                               # cut between paragraphs only
    assert all(b.split("\n\n")[0] in paragraphs and b.split("\n\n")[-1] in paragraphs for b in bodies)


async def test_a_cap_mid_report_sends_the_rest_with_the_next_message(api_client: TestClient, engine: Engine,
                                                                     wx_api: FakeWeChatAPI) -> None:
    chat = to_review(engine)
    channel = api_client.app[WECHAT]
    wx_api.cap_left = 3                                                # WeChat's per-user cap, after 3
    await say(api_client, confirm_label(chat))
    await channel.drain()
    replies = expected_messages(engine)
    rest = expected_pushed(replies[1:])
    assert [s["text"] for s in wx_api.sent] == rest[:3]
    assert waiting(engine) == rest[3:] and len(rest) > 4
    wx_api.cap_left = 20                                               # the user writes again: reset
    reply = await say(api_client, "更多")
    assert ui("wechat.left", n=len(rest) - 3) in reply
    await channel.drain()
    assert [s["text"] for s in wx_api.sent] == rest and waiting(engine) == []


async def test_without_the_api_more_gives_one_whole_letter_also_after_a_restart(
        client: TestClient, engine: Engine, make_engine, settings: Settings) -> None:
    chat = to_review(engine)
    first = await say(client, confirm_label(chat))
    replies = expected_messages(engine)
    messages = expected_pushed(replies, wechat_channel.CHUNK)          # room for the "more" line
    total = len(messages)
    assert total > len(replies)                                        # some letters come in marked parts
    got = [first]
    for _ in range(3):
        got.append(await say(client, "更多"))
    app = create_app(ServerContext(wechat_settings(settings), make_engine()))     # a restart
    async with TestClient(TestServer(app)) as c2:
        while len(got) < total:
            got.append(await say(c2, "更多"))
        assert waiting(engine) == []
        assert not shown("wechat.more", await say(c2, "更多"))                   # nothing left: the engine answers it
    for n, (text, page) in enumerate(zip(messages, got, strict=True), 1):
        if n < total:                                                  # whole, never cut, then the line
            assert page == text + "\n\n" + ui("wechat.more", n=n, total=total)
        else:
            assert page == text
    letters = [text for kind, text in replies if kind == "draft"]
    for letter in letters:
        parts = wechat_channel.letter_parts(letter, wechat_channel.CHUNK)
        i = messages.index(parts[0])
        assert messages[i:i + len(parts)] == parts and is_letter_intro(messages[i - 1])


async def test_delete_erases_the_waiting_messages(api_client: TestClient, engine: Engine,
                                                  wx_api: FakeWeChatAPI) -> None:
    chat = to_review(engine)
    wx_api.cap_left = 0                                                # nothing can be pushed now
    await say(api_client, confirm_label(chat))
    await api_client.app[WECHAT].drain()
    assert len(waiting(engine)) > 5
    before = len(waiting(engine))
    asked = await say(api_client, "/delete")
    await api_client.app[WECHAT].drain()
    assert ui("wechat.left", n=before) in asked and len(waiting(engine)) == before   # still waiting
    done = await say(api_client, engine.k.text("zh", "privacy.delete_yes"))      # the confirm button, typed
    assert done == engine.k.text("zh", "privacy.deleted")
    assert not list(engine.store.db.query("SELECT id FROM outbox")) and wx_api.sent == []
    assert engine.store.find_user("wechat", OPENID) is None
