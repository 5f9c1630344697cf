"""The channel contract (bot/channels/base.py): one JSON shape, one text-only rendering, and a
made-up platform ("LINE"-like, written here in ~40 lines of translation only) that gets
dedup, retries, ack, the last-resort error, /delete, /healthz, the HTTP mounting and
reminder pushes from the shared plumbing, without a line of it copied. Also: the reminder
loop and the HTTP server name no concrete channel."""

from __future__ import annotations

import ast
import asyncio
import io
import json
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import bot.channels
from bot.channels import base
from bot.channels.base import Channel, ChannelBase, Channels, HandlingFailed, Pusher, plain_text
from bot.channels.console import Console
from bot.channels.http import ServerContext, create_app, run_services
from bot.channels.wechat import join_replies
from bot.config import Settings
from bot.core.engine import Engine
from bot.core.models import Button, FileOut, Inbound, Reply
from bot.scheduler import ManualClock, Scheduler
from tests.conftest import ui, ui_head

ROOT = Path(__file__).resolve().parent.parent


# --- a new platform: only its translation ------------------------------------------------------------

class Line(ChannelBase):
    """A made-up messenger: it POSTs `{"user", "id", "text"}` to /line and shows the JSON
    answer's "text"; it retries a request that is slow to answer; it has a push API (recorded
    in `pushed`) and no buttons."""

    name = "line"
    replay = True          # a retried id gets the first answer again

    def __init__(self, engine: Engine, can_push: bool = True):
        super().__init__(engine, retry_window=600)
        self.can_push = can_push
        self.pushed: list[tuple[str, str]] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/line", self.receive)

    def health(self) -> str:
        return "ok"

    async def receive(self, request: web.Request) -> web.Response:
        data = await request.json()
        inbound = Inbound(channel=self.name, user=data["user"], message_id=f"{data['user']}:{data['id']}",
                          text=data["text"])
        try:
            text = await self.once(inbound.message_id or "", inbound.user, lambda: self._reply(inbound))
        except HandlingFailed:
            return web.json_response({"error": "sorry, try again"}, status=500)
        return web.json_response({"text": text})

    async def _reply(self, inbound: Inbound) -> str:
        _, replies = await self.answer(inbound, ack=False)
        await self.ack(inbound)               # the platform has it
        return plain_text(replies)

    async def push(self, user: str, replies: list[Reply]) -> bool:
        if not self.can_push:
            return False
        self.pushed.append((user, plain_text(replies)))
        return True


LAST: list[Line] = []  # the channels configure() made


def configure(engine: Engine, settings: Settings) -> Line:
    """The one function a channel's module adds (bot.channels.MODULES names the module)."""
    LAST.insert(0, Line(engine))
    return LAST[0]


@pytest.fixture
async def line(engine: Engine, settings: Settings) -> AsyncIterator[tuple[Line, TestClient, ServerContext]]:
    channel = Line(engine)
    ctx = ServerContext(settings, engine, channels=Channels([channel]))
    async with TestClient(TestServer(create_app(ctx, hooks=[]))) as client:
        yield channel, client, ctx
    await channel.stop()


async def say(client: TestClient, text: str, msg_id: str, user: str = "U1", status: int = 200) -> str:
    r = await client.post("/line", json={"user": user, "id": msg_id, "text": text})
    data = await r.json()
    assert r.status == status, data
    return data.get("text", data.get("error"))


def inbox(engine: Engine, channel: str = "line") -> list[dict]:
    return list(engine.store.db.query("SELECT message_id, status FROM inbox WHERE channel = ? ORDER BY id",
                                      [channel]))


def reminders(engine: Engine) -> list[dict]:
    return list(engine.store.db.query("SELECT status, channel FROM reminders ORDER BY id"))


async def test_a_new_channel_talks_with_numbered_buttons(line) -> None:
    _, client, _ = line
    start = await say(client, "/start", "1")
    assert f"[1] {ui('lang.opt.zh')}" in start and f"[2] {ui('lang.opt.en')}" in start
    assert ui("start.need.q", "en") in await say(client, "2", "2")     # the number of a button, typed
    assert inbox(line[0].engine) == [{"message_id": "U1:1", "status": "delivered"},
                                     {"message_id": "U1:2", "status": "delivered"}]   # acknowledged


async def test_a_new_channel_gets_retries_once_and_after_a_restart(line, engine: Engine, make_engine,
                                                                   settings: Settings) -> None:
    _, client, _ = line
    await say(client, "/lang zh", "a")
    first, again = await asyncio.gather(say(client, "/remind 30m 回电话", "b"), say(client, "/remind 30m 回电话", "b"))
    assert first == again and ui_head("remind.set") in first          # concurrent retry: waited for the first
    assert await say(client, "/remind 30m 回电话", "b") == first      # later retry: from memory
    assert len(reminders(engine)) == 1 and len(inbox(engine)) == 2
    restarted = Line(make_engine())                                  # a restart: nothing in memory
    ctx = ServerContext(settings, restarted.engine, channels=Channels([restarted]))
    async with TestClient(TestServer(create_app(ctx, hooks=[]))) as c2:
        assert await say(c2, "/remind 30m 回电话", "b") == first     # from the inbox (replay)
    await restarted.stop()
    assert len(reminders(engine)) == 1
    await say(client, "/remind 30m 回电话", "c")
    assert len(reminders(engine)) == 2                               # a new id is a new message


async def test_a_new_channel_gets_the_last_resort_error(line, monkeypatch, caplog) -> None:
    channel, client, _ = line
    caplog.set_level(logging.DEBUG)

    def boom(inbound: Inbound, replay: bool = False) -> list[Reply]:
        raise RuntimeError("storage gone")

    monkeypatch.setattr(channel.worker.engine, "handle", boom)
    assert await say(client, "我叫陈秘密", "x", status=500) == "sorry, try again"
    monkeypatch.undo()
    assert "line: handling failed: RuntimeError" in caplog.text and "陈秘密" not in caplog.text
    assert await say(client, "/help", "y")                            # the channel goes on
    assert await say(client, "我叫陈秘密", "x")                        # and the failed message can be sent again


async def test_a_new_channel_forgets_a_deleted_user(line, engine: Engine) -> None:
    channel, client, _ = line
    await say(client, "/start", "1")
    assert channel.recent is not None and len(channel.recent) == 1
    await say(client, "/delete", "2")
    await say(client, "1", "3")                                        # "yes, delete"
    await asyncio.sleep(0.05)                                          # the listener runs on the loop
    assert not [k for k in ("U1:1", "U1:2") if channel.recent.get(k) is not None]


async def test_a_new_channel_is_mounted_and_reported_in_healthz(line) -> None:
    _, client, ctx = line
    body = await (await client.get("/healthz")).json()
    assert body["line"] == "ok" and body["telegram"] == "off" and body["ok"] is True
    assert list(ctx.senders) == ["line"]
    assert (await client.get("/")).status == 404                       # hooks=[]: no web chat here


async def test_reminders_are_pushed_through_a_new_channel(line, engine: Engine, clock: ManualClock) -> None:
    channel, client, ctx = line
    await say(client, "/lang zh", "1")
    await say(client, "/remind 30m 给12378打电话", "2")
    clock.advance(minutes=31)
    result = await Scheduler(engine, ctx.channels, clock).tick()
    assert result.sent == 1 and reminders(engine) == [{"status": "sent", "channel": "line"}]
    [(user, text)] = channel.pushed
    assert user == "U1" and "给12378打电话" in text and re.search(r"^\[1\] ", text, re.M)
    assert (await say(client, "1", "3"))                                # typed "1" presses the pushed button


async def test_a_channel_that_cannot_push_gets_reminders_with_the_next_message(
        engine: Engine, settings: Settings, clock: ManualClock) -> None:
    channel = Line(engine, can_push=False)
    ctx = ServerContext(settings, engine, channels=Channels([channel]))
    assert ctx.senders == {}
    async with TestClient(TestServer(create_app(ctx, hooks=[]))) as client:
        await say(client, "/lang zh", "1")
        await say(client, "/remind 30m 交材料", "2")
        clock.advance(minutes=31)
        result = await Scheduler(engine, ctx.channels, clock).tick()
        assert result.claimed == 0 and reminders(engine)[0]["status"] == "pending"
        assert "交材料" in (await say(client, "你好", "3")).split("\n\n")[0]
    await channel.stop()
    assert channel.pushed == []


async def test_run_services_runs_a_new_channel_named_in_modules(engine: Engine, settings: Settings,
                                                                clock: ManualClock, monkeypatch) -> None:
    """Adding a channel: its module and one line in bot.channels.MODULES. `run` configures it,
    mounts its route, and the reminder loop pushes through it."""
    monkeypatch.setitem(bot.channels.MODULES, "line", __name__)
    LAST.clear()
    engine.handle(Inbound(channel="line", user="U9", message_id="U9:1", text="/remind 30m 喝水"))
    clock.advance(minutes=31)                                         # due before the start
    out, stop = io.StringIO(), asyncio.Event()
    task = asyncio.create_task(run_services(settings, engine, channels=("web", "line"), port=0, out=out, stop=stop))
    try:
        for _ in range(200):
            if "listening on" in out.getvalue() and LAST and LAST[0].pushed:
                break
            await asyncio.sleep(0.05)
        url = out.getvalue().split("listening on ", 1)[1].split()[0]
        channel = LAST[0]
        assert [user for user, _ in channel.pushed] == ["U9"] and "喝水" in channel.pushed[0][1]
        import aiohttp

        async with aiohttp.ClientSession() as http:
            async with http.post(f"{url}/line", json={"user": "U9", "id": "2", "text": "/help"}) as r:
                assert r.status == 200 and "/report" in (await r.json())["text"]
            async with http.get(f"{url}/healthz") as r:
                assert (await r.json())["line"] == "ok"
            async with http.get(f"{url}/") as r:
                assert r.status == 200                                # the web chat beside it
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 15) == 0


# --- the one JSON shape and the one text rendering ------------------------------------------------

REPLY = Reply(text="你好", buttons=(Button(id="o:zh", label="中文"), Button(id="c:cancel", label="取消")),
              files=(FileOut(name="export.json", content='{"a": 1}', mime="application/json"),
                     FileOut(name="guide.pdf", url="https://example.org/g.pdf")), kind="question")


def test_reply_to_json_is_the_api_shape() -> None:
    assert REPLY.to_json() == {
        "text": "你好", "buttons": [{"id": "o:zh", "label": "中文"}, {"id": "c:cancel", "label": "取消"}],
        "files": [{"name": "export.json", "url": "", "content": '{"a": 1}'},
                  {"name": "guide.pdf", "url": "https://example.org/g.pdf"}],
        "kind": "question"}
    linked = REPLY.to_json(link=lambda f: f"/api/file/{f.name}")
    assert linked["files"] == [{"name": "export.json", "url": "/api/file/export.json"},
                               {"name": "guide.pdf", "url": "https://example.org/g.pdf"}]
    assert json.loads(json.dumps(REPLY.to_json(), ensure_ascii=False)) == REPLY.to_json()


async def test_web_and_jsonl_give_the_same_shape(engine: Engine, settings: Settings) -> None:
    async with TestClient(TestServer(create_app(ServerContext(settings, engine)))) as client:
        web_reply = (await (await client.post("/api/chat", json={"text": "/start"})).json())["replies"]
    out = io.StringIO()
    console = Console(engine, "local", out, jsonl=True)
    console.line(json.dumps({"text": "/start"}))
    jsonl_reply = json.loads(out.getvalue())["replies"]
    links = [r.pop("links") for r in web_reply]       # the web page's tappable spans: an added field
    assert all(isinstance(spans, list) for spans in links)
    assert web_reply == jsonl_reply
    assert [set(r) for r in web_reply] == [{"text", "buttons", "files", "kind"}] * len(web_reply)


def test_text_only_platforms_number_buttons_the_same_way(engine: Engine) -> None:
    text = plain_text([REPLY, Reply(text="第二条", buttons=(Button(id="t:x", label="详情"),))])
    # one numbered list per message (issue 14, item 5): the last; earlier buttons by label
    assert text == ('你好\n· 中文\n· 取消\n--- export.json ---\n{"a": 1}\n--- end ---\n'
                    '--- guide.pdf ---\nhttps://example.org/g.pdf\n--- end ---\n\n第二条\n[1] 详情')
    assert join_replies([REPLY]) == plain_text(REPLY)                  # WeChat's passive reply
    out = io.StringIO()
    Console(engine, "local", out).show([REPLY])                         # the terminal, piped
    assert out.getvalue() == plain_text(REPLY) + "\n\n"


# --- every channel keeps the contract ----------------------------------------------------------------

async def test_every_channel_is_a_channel(engine: Engine, settings: Settings) -> None:
    s = settings.model_copy(update={"wechat_token": "t", "telegram_bot_token": "123:abc"})
    made = base.configure(engine, s, bot.channels.MODULES)
    assert [c.name for c in made] == ["web", "wechat", "telegram"]
    assert [c.can_push for c in made] == [False, False, True]          # WeChat pushes with an app id only
    plain = base.configure(engine, settings, bot.channels.MODULES)      # no tokens: the web chat only
    assert [c.name for c in plain] == ["web"]
    made += plain
    for channel in [*made, Console(engine, "u", io.StringIO()), Pusher("x", lambda u, r: asyncio.sleep(0, True))]:
        assert isinstance(channel, Channel), channel
    for channel in made:                               # what /delete calls: no platform attribute in the way
        assert isinstance(channel, ChannelBase)
        channel.forget("someone")
    for channel in made:
        await channel.stop()


def test_two_channels_of_one_name_are_refused(engine: Engine) -> None:
    channels = Channels([Line(engine)])
    with pytest.raises(ValueError):
        channels.add(Line(engine))
    channels.register("line", lambda u, r: asyncio.sleep(0, True))    # a bare sender replaces it
    assert channels.pushers() == ["line"]


CONCRETE = re.compile(r"^bot\.channels\.(web|wechat|telegram|console)\b")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return found


@pytest.mark.parametrize("path", ["bot/scheduler.py", "bot/channels/http.py", "bot/channels/base.py"])
def test_the_reminder_loop_and_the_server_name_no_channel(path: str) -> None:
    assert [m for m in _imports(ROOT / path) if CONCRETE.match(m)] == []
    assert "telegram" not in {m.split(".")[0] for m in _imports(ROOT / path)}   # nor python-telegram-bot
