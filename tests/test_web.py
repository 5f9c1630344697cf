"""The web chat end to end: the real app (bot.channels.http.create_app, which picks up
bot.channels.web), the real engine, content and SQLite file, through aiohttp's test client.
Sessions, a /start conversation by text and buttons, answers with sources, retries, bad
input, reminders with the next message, the page itself, file links, and (when Debian's
chromium is installed) a real browser loading the page on a phone-sized screen."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.channels import web as webchat
from bot.channels.http import ServerContext, create_app
from bot.config import Settings
from bot.core.engine import Engine
from bot.core.models import Inbound
from bot.scheduler import Channels, ManualClock, Scheduler
from tests.conftest import shown, ui

API = "/api/chat"


@pytest.fixture
async def client(engine: Engine, settings: Settings) -> AsyncIterator[TestClient]:
    app = create_app(ServerContext(settings, engine))   # hooks=None: the optional channel modules
    async with TestClient(TestServer(app)) as c:
        yield c


async def chat(client: TestClient, session: str = "", status: int = 200, headers: dict | None = None,
               **body: Any) -> dict:
    r = await client.post(API, json={"session": session, **body}, headers=headers)
    data = await r.json()
    assert r.status == status, data
    return data


def texts(data: dict) -> str:
    return "\n\n".join(r["text"] for r in data["replies"])


def button_ids(data: dict) -> list[str]:
    return [b["id"] for r in data["replies"] for b in r["buttons"]]


def web_users(engine: Engine) -> list[dict]:
    return list(engine.store.db.query("SELECT * FROM users WHERE channel = 'web'"))


# --- sessions and conversations -----------------------------------------------------------------

async def test_a_new_session_is_created_and_reused(client: TestClient, engine: Engine) -> None:
    first = await chat(client, text="/start")
    session = first["session"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", session)
    again = await chat(client, session, choice="o:zh")
    assert again["session"] == session
    assert [u["external_id"] for u in web_users(engine)] == [session]
    other = await chat(client, text="/start")
    assert other["session"] != session and len(web_users(engine)) == 2


async def test_a_whole_start_conversation_by_text_and_buttons(client: TestClient, engine: Engine) -> None:
    data = await chat(client, text="/start")
    session = data["session"]
    assert [r["kind"] for r in data["replies"]] == ["text", "question"]
    assert ui("welcome") in texts(data)
    assert data["replies"][-1]["buttons"] == [{"id": "o:zh", "label": ui("lang.opt.zh")},
                                              {"id": "o:en", "label": ui("lang.opt.en")}]
    for reply in data["replies"]:
        assert set(reply) >= {"text", "buttons", "files"}
    data = await chat(client, session, choice="o:zh")
    assert ui("start.need.q") in texts(data) and "o:employer" in button_ids(data)
    data = await chat(client, session, text="单位")                   # a button's label, typed
    assert data["replies"][0]["kind"] == "answer"
    assert texts(data).startswith(engine.k.answer("employer_contact", "zh").title)


async def test_a_question_is_answered_with_its_sources(client: TestClient) -> None:
    data = await chat(client, text="催收打我公司电话合法吗")
    answer = next(r for r in data["replies"] if r["kind"] == "answer")
    assert shown("answer.footer", answer["text"])
    assert answer["buttons"] and all(b["id"] and b["label"] for b in answer["buttons"])


async def test_english_from_accept_language_on_the_first_message_only(client: TestClient, engine: Engine) -> None:
    data = await chat(client, text="/start", headers={"Accept-Language": "fr-FR, en-US;q=0.8, zh;q=0.5"})
    assert ui("welcome", "en") in texts(data)
    session = data["session"]
    assert (await chat(client, text="/start", headers={"Accept-Language": "zh-CN,zh;q=0.9"}))["replies"][0][
        "text"].startswith(ui("welcome"))
    data = await chat(client, session, text="/start", headers={"Accept-Language": "zh-CN"})
    assert ui("welcome", "en") in texts(data)                   # later headers change nothing


async def test_a_crisis_message_is_marked(client: TestClient) -> None:
    data = await chat(client, text="我不想活了")
    assert data["replies"][0]["kind"] == "crisis"


async def test_forged_and_malformed_sessions_are_just_new_users(client: TestClient, engine: Engine) -> None:
    for forged in ("forged-session-aaaaaaaaaaaaaaaaaaaa", "../../etc/passwd", "x" * 500, "' OR 1=1 --"):
        data = await chat(client, forged, text="你好")
        assert data["session"] != forged and re.fullmatch(r"[A-Za-z0-9_-]{32}", data["session"])
        assert data["replies"]
    assert not [u for u in web_users(engine) if not re.fullmatch(r"[A-Za-z0-9_-]{32}", u["external_id"])]
    session = (await chat(client, text="/start"))["session"]
    assert "y:delete" in button_ids(await chat(client, session, text="/delete"))
    assert (await chat(client, session, choice="y:delete"))["session"] == session
    assert (await chat(client, session, text="你好"))["session"] != session   # deleted: a new user


# --- retries --------------------------------------------------------------------------------------

async def test_a_retried_message_id_gets_the_same_replies_not_a_second_step(client: TestClient, engine: Engine,
                                                                            make_engine, settings) -> None:
    session = (await chat(client, text="/start", id="m1"))["session"]
    first = await chat(client, session, text="/remind 30m 回电话", id="m2")
    again = await chat(client, session, text="/remind 30m 回电话", id="m2")
    assert again == first and shown("remind.set", texts(first), text="回电话")
    assert len(list(engine.store.db.query("SELECT id FROM reminders"))) == 1
    for i in range(30):                                                # many other messages in between
        await chat(client, session, text=f"/help {i}", id=f"x{i}")
    restarted = create_app(ServerContext(settings, make_engine()))    # a restart: nothing in memory
    async with TestClient(TestServer(restarted)) as c2:
        late = await chat(c2, session, text="/remind 30m 回电话", id="m2")
        assert late == first                                           # the same answer, from the database
        first_start = await chat(c2, session, text="/start", id="m1")
        assert first_start["replies"] and first_start["replies"][-1]["buttons"]  # the page gets its question
    assert len(list(engine.store.db.query("SELECT id FROM reminders"))) == 1
    assert (await chat(client, session, text="/remind 30m 回电话", id=3))["replies"]   # numbers are ids too
    assert len(list(engine.store.db.query("SELECT id FROM reminders"))) == 2
    assert (await chat(client, session, text="/remind 30m 回电话"))["replies"]          # no id: always new
    assert len(list(engine.store.db.query("SELECT id FROM reminders"))) == 3


async def test_replies_handled_but_never_acknowledged_go_to_the_retry(client: TestClient, engine: Engine) -> None:
    session = (await chat(client, text="/start"))["session"]
    crashed = Inbound(channel="web", user=session, message_id=f"{session}:z", choice="o:en")
    handled = engine.handle(crashed)                                   # ... and the process died here
    data = await chat(client, session, choice="o:en", id="z")
    assert texts(data) == "\n\n".join(r.text for r in handled) and data["replies"]


# --- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "says"), [
    (b"{not json", "JSON"),
    (b"\xff\xfe", "JSON"),
    (b"", "JSON"),
    (b"[1, 2]", "object"),
    (b'"text"', "object"),
    (b'{"session": "", "text": 5}', "text must be a string"),
    (b'{"session": "", "choice": 5}', "choice must be"),
    (b'{"session": "", "choice": ""}', "choice must be"),
    (b'{"session": "", "text": "hi", "choice": "o:zh"}', "exactly one"),
    (b'{"session": ""}', "exactly one"),
    (b'{"session": "", "text": null, "choice": null}', "exactly one"),
    (b'{"session": 5, "text": "hi"}', "session must be a string"),
    (b'{"session": ["a"], "text": "hi"}', "session must be a string"),
    (b'{"session": "", "text": "hi", "id": {"a": 1}}', "id must be"),
    (b'{"session": "", "text": "hi", "id": true}', "id must be"),
    (b'{"session": "", "text": "hi", "id": ""}', "id must be"),
    ('{"session": "", "text": "hi", "id": "%s"}' % ("i" * 65), "id must be"),
    ('{"session": "", "choice": "%s"}' % ("c" * 65), "choice too long"),
    (b"[" * 100000 + b"]" * 100000, "too large"),
], ids=lambda v: str(v)[:30])
async def test_bad_input_gets_a_short_json_error(client: TestClient, engine: Engine, body: bytes | str,
                                                 says: str) -> None:
    r = await client.post(API, data=body if isinstance(body, bytes) else body.encode(),
                          headers={"Content-Type": "application/json"})
    data = await r.json()
    assert r.status == (413 if says == "too large" else 400)
    assert set(data) == {"error"} and says in data["error"] and len(data["error"]) < 80
    assert not list(engine.store.db.query("SELECT id FROM inbox"))


async def test_deep_json_is_an_error_not_a_crash(client: TestClient) -> None:
    r = await client.post(API, data=b"[" * 30000 + b"]" * 30000)
    assert r.status == 400 and "error" in await r.json()


async def test_a_body_over_64_kib_is_refused_even_without_a_length(client: TestClient) -> None:
    r = await client.post(API, json={"session": "", "text": "好" * 30000})
    assert r.status == 413 and "too large" in (await r.json())["error"]

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"session": "", "text": "'
        for _ in range(200):
            yield b"a" * 8192
        yield b'"}'

    r = await client.post(API, data=chunks(), headers={"Content-Type": "application/json"})
    assert r.status == 413 and "too large" in (await r.json())["error"]


async def test_long_text_is_answered_by_the_engine(client: TestClient) -> None:
    data = await chat(client, text="好" * 4001)
    assert data["replies"][0]["kind"] == "notice" and shown("input.too_long", data["replies"][0]["text"], length=4001)
    data = await chat(client, data["session"], text="")
    assert ui("input.empty") in texts(data)


async def test_logs_never_hold_the_message_text(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    session = (await chat(client, text="我叫陈秘密，电话13712345678"))["session"]
    await chat(client, session, text="/remind 30m 陈秘密的事")
    await client.post(API, data=b'{"session": "", "text": 13712345678}')
    assert "陈秘密" not in caplog.text and "13712345678" not in caplog.text and session not in caplog.text


# --- reminders --------------------------------------------------------------------------------------

async def test_a_due_reminder_comes_with_the_next_message(client: TestClient, engine: Engine,
                                                          clock: ManualClock) -> None:
    session = (await chat(client, text="/lang zh"))["session"]
    await chat(client, session, text="/remind 30m 给12378打电话")
    clock.advance(minutes=45)
    channels = Channels()                                 # what `serve` registers: no web sender
    await Scheduler(engine, channels, clock).tick()
    [row] = list(engine.store.db.query("SELECT status, channel FROM reminders"))
    assert row == {"status": "pending", "channel": "web"}
    data = await chat(client, session, text="你好")
    assert data["replies"][0]["kind"] == "reminder" and "给12378打电话" in data["replies"][0]["text"]
    assert data["replies"][-1]["kind"] != "reminder"
    data = await chat(client, session, text="你好")
    assert all(r["kind"] != "reminder" for r in data["replies"])


async def test_the_web_channel_registers_no_sender(engine: Engine, settings: Settings) -> None:
    ctx = ServerContext(settings, engine)
    create_app(ctx)
    assert "web" not in ctx.senders


# --- the page and files -----------------------------------------------------------------------------

async def test_the_page_is_served_small_and_self_contained(client: TestClient) -> None:
    r = await client.get("/")
    assert r.status == 200 and r.content_type == "text/html" and r.charset == "utf-8"
    page = await r.text()
    assert len(page.encode()) < 40 * 1024                 # the whole app, its labels in every language included
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", page, re.I)   # no external URL
    assert not re.search(r"<(script|img|iframe)[^>]*src=", page, re.I)          # one inline script, nothing loaded
    assert re.findall(r"<link[^>]*href=\"([^\"]*)\"", page) == ["/icon.svg", "/manifest.webmanifest"]  # own files
    assert "innerHTML" not in page and "textContent" in page
    assert "/api/chat" in page and "localStorage" in page and '"/start"' in page and ui("web.copy") in page
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"


async def test_export_files_are_links_that_work_and_expire(client: TestClient) -> None:
    now = [1000.0]
    files = client.app[webchat.WEB].files
    files.clock = lambda: now[0]
    session = (await chat(client, text="/start"))["session"]
    data = await chat(client, session, text="/export")
    [reply] = [r for r in data["replies"] if r["files"]]
    [f] = reply["files"]
    assert set(f) == {"name", "url"} and f["name"].endswith(".json")
    assert re.fullmatch(r"/api/file/[A-Za-z0-9_-]{32}", f["url"])
    r = await client.get(f["url"])
    assert r.status == 200 and r.content_type == "application/json"
    assert r.headers["Content-Disposition"].startswith("attachment;") and f["name"] in r.headers["Content-Disposition"]
    assert r.headers["Cache-Control"] == "no-store"
    exported = json.loads(await r.text())
    assert exported["user"]["external_id"] == session
    now[0] += webchat.REUSE_GRACE - 1
    assert (await client.get(f["url"])).status == 200                  # a download manager's second fetch
    now[0] += 2
    assert (await client.get(f["url"])).status == 404                  # ... but it is one download's link
    unused = (await chat(client, session, text="/export", id="e2"))["replies"][0]["files"][0]["url"]
    now[0] += webchat.FILE_TTL + 1
    r = await client.get(unused)
    assert r.status == 404 and "expired" in (await r.json())["error"]
    assert (await client.get("/api/file/not-a-token")).status == 404


async def test_delete_kills_the_export_links_and_a_retry_gets_a_fresh_one(client: TestClient) -> None:
    session = (await chat(client, text="/start"))["session"]
    other = (await chat(client, text="/start"))["session"]
    mine = (await chat(client, session, text="/export", id="e1"))["replies"][0]["files"][0]["url"]
    theirs = (await chat(client, other, text="/export"))["replies"][0]["files"][0]["url"]
    retried = (await chat(client, session, text="/export", id="e1"))["replies"][0]["files"][0]["url"]
    assert retried != mine and (await client.get(retried)).status == 200   # a retry: a new link, same file
    await chat(client, session, text="/delete")
    await chat(client, session, choice="y:delete")
    assert (await client.get(mine)).status == 404                      # made before /delete: dead at once
    assert (await client.get(theirs)).status == 200                    # another user's link is untouched


def test_the_file_store_is_bounded() -> None:
    now = [0.0]
    store = webchat.Expiring(ttl=60, max_items=3, max_bytes=100, clock=lambda: now[0])
    for i in range(5):
        store.put(f"k{i}", i, size=10)
    assert len(store) == 3 and store.get("k0") is None and store.get("k4") == 4
    store.put("big", "x", size=95)
    assert store.get("k4") is None and store.get("big") == "x"
    now[0] = 61
    assert len(store) == 0


def test_accept_language() -> None:
    al = webchat._accept_language
    assert al("zh-CN,zh;q=0.9,en;q=0.8") == "zh"
    assert al("en-GB,en;q=0.9") == "en"
    assert al("fr;q=1, en;q=0.5, zh;q=0.7") == "zh"
    assert al("de, fr") is None and al("") is None and al("en;q=abc, zh;q=0.1") == "zh"


# --- a real browser ------------------------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
async def test_chromium_loads_the_page_and_starts_the_conversation(engine: Engine, settings: Settings,
                                                                   tmp_path: Path) -> None:
    runner = web.AppRunner(create_app(ServerContext(settings, engine)), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    shot = tmp_path / "shot.png"
    try:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as r:
            assert r.status == 200
        proc = await asyncio.create_subprocess_exec(
            "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'ud'}",
            f"--screenshot={shot}", "--window-size=390,844", "--virtual-time-budget=5000",
            f"http://127.0.0.1:{port}/",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            await asyncio.wait_for(proc.wait(), 60)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
    finally:
        await runner.cleanup()
    assert shot.exists() and shot.stat().st_size > 5000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    [user] = web_users(engine)                                        # the page sent /start by itself
    assert list(engine.store.db.query("SELECT status FROM inbox WHERE user_id = ?", [user["id"]])) == [
        {"status": "delivered"}]
