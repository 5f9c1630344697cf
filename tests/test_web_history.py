"""Issue 15, the server side of the web page as a phone app, through the real app and
aiohttp's test client: the conversation kept for a reload (`GET /api/history`, bounded, in
/export, erased by /delete), multi-select toggles kept as one message, tappable spans
(`links`), due reminders for an open page (`GET /api/updates`), calendar files
(`GET /api/calendar`), the page's own labels and static files."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from icalendar import Calendar

from bot.channels.http import ServerContext, create_app
from bot.channels.web_links import Linker
from bot.config import Settings
from bot.core.engine import Engine
from bot.scheduler import ManualClock
from storage import history as history_module
from tests.conftest import ui

API = "/api/chat"


@pytest.fixture
async def client(engine: Engine, settings: Settings) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(ServerContext(settings, engine)))) as c:
        yield c


async def chat(client: TestClient, session: str = "", status: int = 200, **body: Any) -> dict:
    r = await client.post(API, json={"session": session, **body})
    data = await r.json()
    assert r.status == status, data
    return data


async def get(client: TestClient, path: str, status: int = 200) -> Any:
    path, _, session = path.partition("#")   # "/api/history#<session>": the session goes in X-Session
    r = await client.get(path, headers={"X-Session": session} if session else None)
    assert r.status == status, await r.text()
    return await r.json() if r.content_type == "application/json" else await r.read()


def rows(engine: Engine, table: str = "web_history") -> list[dict]:
    return list(engine.store.db.query(f"SELECT * FROM {table}"))


# --- history --------------------------------------------------------------------------------------

async def test_history_redraws_the_conversation_and_the_pending_question(client: TestClient, engine: Engine) -> None:
    first = await chat(client, text="/start", auto=True, id="a1")
    session = first["session"]
    await chat(client, session, choice="o:zh", id="a2")
    await chat(client, session, text="/report", id="a3")
    asked = await chat(client, session, choice="o:borrower", id="a4")
    again = await chat(client, session, choice="o:borrower", id="a4")        # a retry: same replies, recorded once
    assert again["replies"] == asked["replies"]
    h = await get(client, f"/api/history#{session}")
    assert h["lang"] == "zh" and h["session"] == session
    shown = [(m["role"], m.get("text") or m["reply"]["text"][:8]) for m in h["messages"]]
    assert shown[0][0] == "out"                                 # the automatic /start is not shown as sent
    sent = [ui("lang.opt.zh"), "/report", ui("report.role.opt.borrower")]
    assert [t for r, t in shown if r == "in"] == sent           # labels, not button ids
    assert len([m for m in rows(engine) if m["role"] == "in"]) == 4
    last = h["messages"][-1]["reply"]
    assert last["kind"] == "question" and ui("report.lender.q") in last["text"]
    [pending] = h["pending"]                                    # the question still waiting, as the engine asks it
    assert pending["text"] == last["text"] and pending["buttons"] == last["buttons"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", m["at"]) for m in h["messages"])


async def test_history_of_unknown_malformed_and_deleted_sessions(client: TestClient, engine: Engine) -> None:
    await get(client, "/api/history#" + "x" * 32, 404)
    await get(client, "/api/history#bad!", 400)
    await get(client, "/api/history", 400)
    await get(client, "/api/history?session=" + "x" * 32, 400)              # never in the URL
    session = (await chat(client, text="/start"))["session"]
    await chat(client, session, text="欠网贷会坐牢吗")
    data = await chat(client, session, text="/export")
    export = json.loads((await (await client.get(data["replies"][0]["files"][0]["url"])).read()).decode())
    kept = sorted(export["web_history"], key=lambda m: m["id"])                   # in /export
    assert [m["role"] for m in kept][:2] == ["in", "out"] and kept[0]["data"] == {"text": "/start"}
    await chat(client, session, text="/delete")
    gone = await chat(client, session, choice="y:delete")
    assert gone["deleted"] is True and gone["lang"] is None                       # the page wipes itself
    assert rows(engine) == []                                                     # erased with the user
    await get(client, f"/api/history#{session}", 404)


async def test_a_multi_select_stays_one_message(client: TestClient, engine: Engine) -> None:
    session = (await chat(client, text="/lang zh"))["session"]
    for i, (kind, value) in enumerate([("text", "/report"), ("choice", "o:borrower"), ("text", "K-55"),
                                       ("choice", "o:bank")]):
        await chat(client, session, id=f"m{i}", **{kind: value})
    before = len(rows(engine))
    for i, option in enumerate(["o:called_employer", "o:insults", "o:other", "o:insults"]):
        data = await chat(client, session, choice=option, id=f"t{i}")
        assert [r["kind"] for r in data["replies"]] == ["question"]
    h = await get(client, f"/api/history#{session}")
    question = h["messages"][-1]["reply"]
    ticked = [b["id"] for b in question["buttons"] if b["label"].startswith("✓ ")]
    assert ticked == ["o:called_employer", "o:other"]                            # the latest state, in place
    assert len(rows(engine)) == before + 4                                       # four hidden taps, no new replies
    assert sum(1 for m in h["messages"] if m["role"] == "out" and m["reply"]["text"] == question["text"]) == 1
    assert h["pending"][0]["buttons"] == question["buttons"]


async def test_history_is_bounded_in_count_and_age(engine: Engine, clock: ManualClock) -> None:
    store = engine.store
    uid = store.user("web", "s" * 32)["id"]
    for i in range(history_module.MAX_MESSAGES + 30):
        assert store.history.record(uid, f"k{i}", {"text": str(i)}, [{"text": f"re {i}"}])
    kept = store.history.recent("web", "s" * 32)
    assert len(kept) == history_module.MAX_MESSAGES and kept[-1]["data"] == {"text": "re 229"}
    assert not store.history.record(uid, "k229", {"text": "again"}, [])   # an id already kept
    clock.advance(days=31)
    assert store.history.prune() == history_module.MAX_MESSAGES
    assert store.history.recent("web", "s" * 32) == []


# --- tappable spans -----------------------------------------------------------------------------------

async def test_hotlines_and_addresses_are_marked_for_the_page_only(client: TestClient, engine: Engine) -> None:
    data = await chat(client, text="我攒了一瓶安眠药，今晚就吃了")
    [crisis] = data["replies"]
    text, hrefs = crisis["text"], {k["href"] for k in crisis["links"]}
    assert {"tel:12356", "tel:120", "tel:110"} <= hrefs
    for k in crisis["links"]:                                        # the spans are exactly the numbers
        assert "tel:" + text[k["start"]:k["end"]] == k["href"]
    assert "<" not in text and "](" not in text                      # the text itself stays clean


def test_the_linker_skips_articles_amounts_and_dates(engine: Engine) -> None:
    linker = Linker.from_facts(engine.k.facts)
    text = "第110条规定；借了12000元、1200元；2026-11-20；打12378；看 www.12321.cn 或 https://www.nfra.gov.cn/x。"
    found = [(text[k["start"]:k["end"]], k["href"]) for k in linker.spans(text)]
    assert found == [("12378", "tel:12378"), ("www.12321.cn", "https://www.12321.cn"),
                     ("https://www.nfra.gov.cn/x", "https://www.nfra.gov.cn/x")]
    [k] = linker.spans("😀 call 12356")                               # offsets count UTF-16 units
    assert (k["start"], k["end"]) == (8, 13)


# --- reminders for an open page -------------------------------------------------------------------

async def test_a_due_reminder_reaches_the_open_page_and_a_calendar_file(client: TestClient, engine: Engine,
                                                                        clock: ManualClock) -> None:
    session = (await chat(client, text="/lang zh"))["session"]
    set_ = await chat(client, session, text="/remind 30m 给12378打电话")
    rid = next(b["id"] for b in set_["replies"][0]["buttons"] if b["id"].startswith("rem:x:")).split(":")[2]
    assert (await get(client, f"/api/updates#{session}"))["replies"] == []    # not yet
    ics = Calendar.from_ical(await get(client, f"/api/calendar?id={rid}#{session}"))
    [event] = ics.walk("VEVENT")
    assert event.decoded("dtstart") == (clock() + dt.timedelta(minutes=30)).astimezone(dt.UTC)
    assert "给12378打电话" in str(event.get("summary")) and ics.walk("VALARM")
    assert len(Calendar.from_ical(await get(client, f"/api/calendar#{session}")).walk("VEVENT")) == 1
    await get(client, f"/api/calendar?id=x1#{session}", 400)
    clock.advance(minutes=31)
    data = await get(client, f"/api/updates#{session}")
    [reminder] = data["replies"]
    assert reminder["kind"] == "reminder" and "给12378打电话" in reminder["text"]
    assert {"href": "tel:12378"}.items() <= reminder["links"][0].items()
    assert [r["status"] for r in rows(engine, "reminders")] == ["sent"]
    assert (await get(client, f"/api/updates#{session}"))["replies"] == []    # once
    nxt = await chat(client, session, text="你好")
    assert all(r["kind"] != "reminder" for r in nxt["replies"])
    h = await get(client, f"/api/history#{session}")
    assert sum(1 for m in h["messages"] if m["role"] == "out" and m["reply"]["kind"] == "reminder") == 1
    assert len(Calendar.from_ical(await get(client, f"/api/calendar#{session}")).walk("VEVENT")) == 0
    await get(client, "/api/updates#" + "y" * 32, 404)


# --- the page and its files -----------------------------------------------------------------------

async def test_the_page_carries_its_labels_and_its_files_are_served(client: TestClient) -> None:
    r = await client.get("/")
    page = await r.text()
    labels = json.loads(re.search(r'<script id="labels" type="application/json">(.*?)</script>', page, re.S)[1])
    assert labels["zh"]["send"] == ui("web.send") and labels["en"]["send"] == ui("web.send", "en")
    assert set(labels["zh"]) == set(labels["en"])
    assert "manifest-src 'self'" in r.headers["Content-Security-Policy"]
    manifest = json.loads(await get(client, "/manifest.webmanifest"))
    assert manifest["start_url"] == "/" and manifest["icons"][0]["src"] == "/icon.svg"
    for path in ("/icon.svg", "/favicon.ico"):
        icon = await client.get(path)
        assert icon.status == 200 and icon.content_type == "image/svg+xml"
    sw = await client.get("/sw.js")
    assert sw.status == 200 and "notificationclick" in await sw.text() and "fetch" not in await sw.text()
    assert "worker-src 'self'" in r.headers["Content-Security-Policy"]
    leave = await client.get("/leave")
    body = await leave.text()
    assert leave.status == 200 and "催收" not in body and "Borrower" not in body
    assert leave.headers["Content-Security-Policy"].startswith("default-src 'none'")


async def test_the_reply_names_the_users_language(client: TestClient) -> None:
    session = (await chat(client, text="/start"))["session"]
    assert (await chat(client, session, text="/lang en"))["lang"] == "en"
    assert (await chat(client, session, text="/lang zh"))["lang"] == "zh"
