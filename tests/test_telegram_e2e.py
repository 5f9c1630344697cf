"""Telegram end to end: a fake Bot API HTTP server on 127.0.0.1 (aiohttp), the real
Application with PTB's real HTTP client pointed at it through TELEGRAM_API_BASE_URL, the real
engine, content and SQLite file. Polling and webhook mode, a whole /report conversation with
button presses, the drafts and their share button, a restart in the middle, and the real
`python -m bot telegram | run | serve` processes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.channels.base import Channels
from bot.channels.http import ServerContext, create_app
from bot.channels.telegram import NOOP, SECRET_HEADER, TelegramBot, draft_digest
from bot.config import Settings
from bot.core.engine import Engine
from tests.test_telegram_unit import (
    TOKEN,
    FakeTelegram,
    buttons_of,
    inline_update,
    message_update,
    press_update,
)

ROOT = Path(__file__).resolve().parent.parent
JSON_PARAMS = {"reply_markup", "results", "commands", "scope", "link_preview_options", "allowed_updates", "button",
               "entities", "is_personal", "cache_time", "offset", "timeout", "limit", "message_id"}


class FakeBotAPIServer:
    """The Bot API over HTTP: POST /bot<token>/<method>, form or multipart, as PTB sends it.
    getUpdates long-polls (up to 1 s) for updates pushed with `push`."""

    def __init__(self, fake: FakeTelegram):
        self.fake = fake
        self.app = web.Application()
        self.app.router.add_route("*", "/bot{token}/{method}", self.handle)
        self.runner = web.AppRunner(self.app, access_log=None)
        self.tokens: set[str] = set()
        self.base_url = ""
        self.closing = False

    async def start(self) -> FakeBotAPIServer:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/bot"
        return self

    async def stop(self) -> None:
        self.closing = True
        self.fake.new_updates.set()          # end a long poll in flight at once
        await self.runner.cleanup()

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        self.fake.pending_updates.append(update)
        self.fake.new_updates.set()
        return update

    async def handle(self, request: web.Request) -> web.Response:
        self.tokens.add(request.match_info["token"])
        method = request.match_info["method"]
        params: dict[str, Any] = {}
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                params["_filename"], params["_content"] = value.filename, value.file.read().decode("utf-8", "replace")
            elif key in JSON_PARAMS:
                params[key] = json.loads(value)
            else:
                params[key] = value
        if method == "getUpdates":
            offset = int(params.get("offset") or 0)
            deadline = time.monotonic() + min(float(params.get("timeout") or 0), 1.0)
            while not any(u["update_id"] >= offset for u in self.fake.pending_updates):
                left = deadline - time.monotonic()
                if left <= 0 or self.closing:
                    break
                self.fake.new_updates.clear()
                try:
                    await asyncio.wait_for(self.fake.new_updates.wait(), left)
                except TimeoutError:
                    break
        status, body = self.fake.answer(method, params)
        return web.json_response(body, status=status)


async def until(cond: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def handled(engine: Engine, update: dict[str, Any], user: int) -> bool:
    """The update was handled and its replies delivered (acknowledged)."""
    rows = list(engine.store.db.query("SELECT status, replies FROM inbox WHERE channel = 'telegram' AND message_id = ?",
                                      [f"{update['update_id']}:{user}"]))
    return bool(rows) and rows[0]["status"] == "delivered"


@pytest.fixture
async def api():
    server = await FakeBotAPIServer(FakeTelegram()).start()
    yield server
    await server.stop()


def tg_settings(settings: Settings, api: FakeBotAPIServer, **extra: Any) -> Settings:
    return settings.model_copy(update={"telegram_bot_token": TOKEN, "telegram_api_base_url": api.base_url, **extra})


class Player:
    """Plays a user against the running bot through the fake server (polling)."""

    def __init__(self, api: FakeBotAPIServer, engine: Engine, user: int, lang: str = "en"):
        self.api, self.engine, self.user, self.lang = api, engine, user, lang
        self.presses = 0

    async def say(self, text: str) -> list[dict[str, Any]]:
        return await self._send(message_update(self.user, text, lang=self.lang))

    async def press(self, data: str) -> list[dict[str, Any]]:
        self.presses += 1
        return await self._send(press_update(self.api.fake, self.user, data, lang=self.lang))

    async def _send(self, update: dict[str, Any]) -> list[dict[str, Any]]:
        before = len(self.api.fake.sent(self.user))
        self.api.push(update)
        await until(lambda: handled(self.engine, update, self.user), what=f"update {update['update_id']}")
        return self.api.fake.sent(self.user)[before:]

    def step(self) -> str | None:
        row = self.engine.store.user("telegram", str(self.user))
        session = self.engine.store.session(row["id"])
        return session["step"] if session else None


# How the test user answers each /report step; steps not named here get a default by input type.
REPORT_ANSWERS: dict[str, tuple[str, Any]] = {
    "role": ("press", "o:borrower"),
    "lender": ("say", "Quick<Cash> & _Co_ *"),
    "lender_kind": ("press", "o:microloan"),
    "behaviours": ("multi", ["o:called_employer", "o:threats"]),
    "work_who": ("multi", ["o:boss"]),
    "consent": ("press", "o:not_agreed"),
    "reachable": ("press", "o:yes"),
    "threat_words": ("say", "they said they would come to my home"),
    "started": ("say", "2026-11-01"),
    "latest": ("say", "2026-11-20"),
    "evidence": ("multi", ["o:screenshots"]),
    "loan_known": ("press", "o:no"),
    "wants": ("multi", ["o:stop_contact", "o:complain"]),
    "contact_by": ("press", "o:messages_only"),
}


async def play_report(p: Player, stop_after: str | None = None) -> list[dict[str, Any]]:
    """/report to the end (or until the step `stop_after` is answered); returns the messages
    sent after the review was confirmed."""
    dialog = p.engine.dialogs["report"]
    await p.say("/report")
    for _ in range(80):
        step = p.step()
        if step is None:
            raise AssertionError("the dialog ended before the review")
        if step == "_review":
            review = p.api.fake.sent(p.user)[-1]
            assert "Quick&lt;Cash&gt; &amp; _Co_ *" in review["text"]          # typed name, escaped once
            return await p.press("c:ok")
        kind, value = REPORT_ANSWERS.get(step) or _default(dialog.steps[step])
        if kind == "press":
            await p.press(value)
        elif kind == "say":
            await p.say(value)
        else:
            for option in value:
                await p.press(option)
            await p.press("c:done")
        if step == stop_after:
            return []
    raise AssertionError("the report dialog did not finish")


def _default(step: Any) -> tuple[str, Any]:
    if step.optional:
        return ("press", "c:skip")
    if step.input in ("choice", "yesno"):
        return ("press", "o:yes" if step.input == "yesno" else f"o:{step.options[0]}")
    if step.input == "multi":
        return ("multi", [f"o:{step.options[0]}"])
    return ("say", {"date": "2026-11-10", "number": "1000"}.get(step.input, "x"))


async def test_polling_plays_a_whole_report_with_drafts_and_share_button(api, make_engine, settings):
    engine = make_engine()
    bot = TelegramBot(engine, tg_settings(settings, api), pace=0, poll_timeout=1)
    await bot.start()
    try:
        fake = api.fake
        assert api.tokens == {TOKEN}
        assert fake.of("deleteWebhook") and not fake.of("setWebhook")       # polling
        assert {c.get("language_code") for c in fake.of("setMyCommands")} == {"zh", "en", None}
        p = Player(api, engine, 501)
        out = await play_report(p)
        # every question answered by a button was marked, none left with live option buttons
        marks = [m for m in fake.of("editMessageReplyMarkup") if m.get("reply_markup")]
        assert marks and all(buttons_of(m) == [NOOP] for m in marks)
        assert len(fake.of("answerCallbackQuery")) == p.presses > 10          # every press answered, once
        drafts = [m for m in out if "parse_mode" not in m]
        assert len(drafts) >= 3, [m["text"][:40] for m in out]
        stored = engine.store.cases(engine.store.user("telegram", "501")["id"], "report")[0]["data"]["drafts"]
        assert [d["text"] for d in drafts] == list(stored.values())             # each draft alone, as stored
        for d in drafts:
            i = out.index(d)
            assert out[i - 1].get("parse_mode") == "HTML" and len(out[i - 1]["text"]) < 400  # "who it is for"
            share = d["reply_markup"]["inline_keyboard"][0][0]
            assert share["text"] == engine.k.text("en", "telegram.share")
            draft_id, digest = share["switch_inline_query_chosen_chat"]["query"].split()
            assert draft_id in stored and digest == draft_digest(d["text"])
        assert "Quick<Cash> & _Co_ *" in drafts[0]["text"]                       # the lender, as typed
        assert buttons_of(out[-1])                                                # closing line with buttons
        # the chat picker asks for the first draft: the inline answer is that draft, sent as the user
        query = drafts[0]["reply_markup"]["inline_keyboard"][0][0]["switch_inline_query_chosen_chat"]["query"]
        api.push(inline_update(501, query))
        answer = await until(lambda: fake.of("answerInlineQuery"), what="answerInlineQuery")
        assert [r["input_message_content"]["message_text"] for r in answer[-1]["results"]] == [drafts[0]["text"]]
        api.push(inline_update(999, query))                                     # another user: nothing
        await until(lambda: len(fake.of("answerInlineQuery")) == 2, what="second answerInlineQuery")
        assert fake.of("answerInlineQuery")[-1]["results"] == []
    finally:
        await bot.stop()


async def test_restart_in_the_middle_continues_where_the_user_was(api, make_engine, settings):
    first = make_engine()
    bot = TelegramBot(first, tg_settings(settings, api), pace=0, poll_timeout=1)
    await bot.start()
    p = Player(api, first, 502)
    await play_report(p, stop_after="lender")
    assert p.step() == "lender_kind"
    await bot.stop()
    first.store.db.close()

    second = make_engine()                                  # a new process on the same database file
    bot = TelegramBot(second, tg_settings(settings, api), pace=0, poll_timeout=1)
    await bot.start()
    try:
        p = Player(api, second, 502)
        sent = await p.press("o:microloan")                 # the button of the question before the restart
        assert "o:threats" in buttons_of(sent[-1])          # the next question: behaviours
        assert p.step() == "behaviours"
        sent = await p.say("/back")
        assert "o:microloan" in buttons_of(sent[-1])
    finally:
        await bot.stop()


async def test_webhook_mode_checks_the_secret_and_answers(api, make_engine, settings):
    engine = make_engine()
    s = tg_settings(settings, api, telegram_webhook_url="https://bot.example.org/telegram",
                    telegram_webhook_secret="s3cret-token")
    bot = TelegramBot(engine, s, pace=0)
    await bot.start()
    ctx = ServerContext(s, engine, channels=Channels([bot]))
    runner = web.AppRunner(create_app(ctx, hooks=[]), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    fake = api.fake
    try:
        (hook,) = fake.of("setWebhook")
        assert hook["url"] == "https://bot.example.org/telegram" and hook["secret_token"] == "s3cret-token"
        assert not fake.of("getUpdates")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/healthz") as r:
                assert r.status == 200 and (await r.json())["ok"] is True
                assert (await r.json())["telegram"] == "webhook"
            start = message_update(503, "/start", lang="zh-CN")
            for headers in ({}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: "s3cret-tokeN"}):
                async with http.post(f"{base}/telegram", json=start, headers=headers) as r:
                    assert r.status == 403
            assert not fake.sent(503)
            assert not list(engine.store.db.query("SELECT id FROM inbox"))     # a forged update leaves no trace
            async with http.post(f"{base}/telegram", data=b"{not json", headers={SECRET_HEADER: "s3cret-token"}) as r:
                assert r.status == 400
            t0 = time.monotonic()
            async with http.post(f"{base}/telegram", json=start, headers={SECRET_HEADER: "s3cret-token"}) as r:
                assert r.status == 200
                # stored before the 200: a crash from here on loses nothing
                assert handled(engine, start, 503) or list(engine.store.db.query(
                    "SELECT id FROM inbox WHERE message_id = ?", [f"{start['update_id']}:503"]))
            assert time.monotonic() - t0 < 1.0
            await until(lambda: handled(engine, start, 503), what="/start via webhook")
            assert buttons_of(fake.sent(503)[-1]) == ["o:zh", "o:en"]
            press = press_update(fake, 503, "o:zh", lang="zh-CN")
            async with http.post(f"{base}/telegram", json=press, headers={SECRET_HEADER: "s3cret-token"}) as r:
                assert r.status == 200
            await until(lambda: handled(engine, press, 503), what="button via webhook")
            assert fake.of("answerCallbackQuery")
            assert "o:employer" in buttons_of(fake.sent(503)[-1])
            async with http.post(f"{base}/telegram", json=press, headers={SECRET_HEADER: "s3cret-token"}) as r:
                assert r.status == 200                                            # Telegram retries: no repeat
            n = len(fake.sent(503))
            await asyncio.sleep(0.2)
            assert len(fake.sent(503)) == n
    finally:
        await runner.cleanup()
        await bot.stop()


# --- the real processes ---------------------------------------------------------------------------

def process_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_", "WECHAT_"))}
    env.update({"BOT_DB_PATH": str(tmp_path / "bot.db"), "PYTHONUNBUFFERED": "1", "BOT_PORT": "0"})
    for key in ("BOT_CONTENT_DIR", "BOT_DIALOGS_DIR"):
        if key in os.environ:
            env[key] = os.environ[key]
    env.update(extra)
    return env


async def start_process(tmp_path: Path, *args: str, **env: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", *args, cwd=tmp_path,
                                                env=process_env(tmp_path, **env), stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)


async def read_until(proc: asyncio.subprocess.Process, needle: str, timeout: float = 30) -> str:
    seen = ""
    async def read() -> str:
        nonlocal seen
        while needle not in seen:
            line = await proc.stdout.readline()
            if not line:
                err = (await proc.stderr.read()).decode(errors="replace")
                raise AssertionError(f"process ended before {needle!r}: {seen!r} {err[-2000:]}")
            seen += line.decode()
        return seen
    return await asyncio.wait_for(read(), timeout)


async def stop_process(proc: asyncio.subprocess.Process, sig: int = signal.SIGTERM) -> tuple[int, str]:
    proc.send_signal(sig)
    _out, err = await asyncio.wait_for(proc.communicate(), 20)
    return proc.returncode, err.decode(errors="replace")


async def test_python_m_bot_telegram_polls_and_stops_cleanly(api, tmp_path):
    proc = await start_process(tmp_path, "telegram", TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=api.base_url)
    try:
        await read_until(proc, "Telegram: long polling")
        api.push(message_update(601, "/start", lang="en"))
        await until(lambda: len(api.fake.sent(601)) >= 2, timeout=20, what="the /start replies")
        assert buttons_of(api.fake.sent(601)[-1]) == ["o:zh", "o:en"]
    finally:
        code, err = await stop_process(proc)
    assert code == 0, err[-2000:]
    assert "/start" not in err and TOKEN not in err                               # logs: ids and types only


async def test_python_m_bot_run_serves_http_and_telegram(api, tmp_path):
    proc = await start_process(tmp_path, "run", TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=api.base_url)
    try:
        out = await read_until(proc, "listening on http://")
        assert "Telegram: long polling" in out
        url = out.split("listening on ", 1)[1].split()[0]
        async with aiohttp.ClientSession() as http, http.get(f"{url}/healthz") as r:
            assert r.status == 200 and (await r.json())["telegram"] == "polling"
    finally:
        code, err = await stop_process(proc, signal.SIGINT)
    assert code == 0, err[-2000:]


async def test_python_m_bot_serve_is_http_only(tmp_path):
    proc = await start_process(tmp_path, "serve", "--port", "0", TELEGRAM_BOT_TOKEN=TOKEN,
                               TELEGRAM_API_BASE_URL="http://127.0.0.1:9/bot")
    try:
        out = await read_until(proc, "listening on http://")
        url = out.split("listening on ", 1)[1].split()[0]
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/healthz") as r:
                body = await r.json()
                assert r.status == 200 and body["ok"] is True and body["telegram"] == "off"
            async with http.post(f"{url}/telegram", json={"update_id": 1}) as r:
                assert r.status == 404
    finally:
        code, err = await stop_process(proc)
    assert code == 0, err[-2000:]


async def test_unreachable_bot_api_fails_cleanly(tmp_path):
    proc = await start_process(tmp_path, "telegram", TELEGRAM_BOT_TOKEN=TOKEN,
                               TELEGRAM_API_BASE_URL="http://127.0.0.1:9/bot")
    _out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1
    assert "Telegram could not start: NetworkError" in err.decode() and "Traceback" not in err.decode()


async def test_python_m_bot_telegram_needs_a_token(tmp_path):
    proc = await start_process(tmp_path, "telegram")
    _out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2 and "TELEGRAM_BOT_TOKEN" in err.decode()


async def test_due_reminder_goes_out_through_telegram(api, tmp_path):
    reminders = pytest.importorskip("storage.reminders")
    from storage import Store, open_db

    db = open_db(tmp_path / "bot.db")
    user = Store(db).user("telegram", "701")
    now = dt.datetime.now(dt.UTC)
    reminders.ReminderStore(db).add(user["id"], "telegram", "personal", now - dt.timedelta(minutes=1),
                                    text="call the regulator back", now=now)
    db.close()
    proc = await start_process(tmp_path, "telegram", TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=api.base_url)
    try:
        await read_until(proc, "Telegram: long polling")
        await until(lambda: api.fake.sent(701), timeout=20, what="the reminder")
        assert "call the regulator back" in api.fake.sent(701)[0]["text"]
    finally:
        code, err = await stop_process(proc)
    assert code == 0, err[-2000:]
    assert "regulator" not in err
