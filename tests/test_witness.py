"""Witnesses add to the log (issue 16, item 7): /witness makes a code for the people collectors
call; whoever got a call records it on the page (the real aiohttp app on 127.0.0.1); the entry
arrives in that case of that user only, in the witness's words, marked as a witness's.
Expiry, withdrawal, rate limits, forged and unknown codes, /delete."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.http import ServerContext, create_app
from bot.channels.witness import read_when
from bot.config import Settings
from bot.core.engine import Engine
from bot.scheduler import ManualClock
from storage.witness import ALPHABET, CODE_LENGTH, MAX_ENTRIES, well_formed
from tests.conftest import Chat, ui

PUBLIC = "https://guard.example.org"
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, bot_db_path=tmp_path / "bot.db", bot_public_url=PUBLIC, bot_link_days=7)


@pytest.fixture
async def client(engine: Engine, settings: Settings) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(ServerContext(settings, engine), hooks=[]))) as c:
        yield c


def new_code(chat: Chat, case_id: int, who: str = "employer") -> str:
    chat.say("/witness")
    chat.press("wit:c")
    if f"wit:c:{case_id}" in chat.buttons:
        chat.press(f"wit:c:{case_id}")
    chat.press(f"wit:new:{case_id}:{who}")
    m = re.search(r"/w/([A-Z0-9]{10})", chat.text)
    assert m, chat.text
    return m.group(1)


def user_with_cases(engine: Engine, user: str, *lenders: str) -> tuple[Chat, list[int]]:
    chat = Chat(engine, user=user, channel="web")
    chat.say("/start")
    ids = [engine.store.save_case(chat.user_id, "log", "zh", {"lender": lender}) for lender in lenders]
    for case_id in ids:
        engine.store.events.add(chat.user_id, case_id, dt.datetime(2026, 11, 28, 9, tzinfo=TZ), "call_answered", "me",
                                number="13800001111", words=f"only-in-{case_id}")
    return chat, ids


def events(engine: Engine, chat: Chat) -> list[dict]:
    return chat.table_rows("events")


async def post(client: TestClient, code: str, status: int = 303, headers: dict | None = None, **form: str):
    resp = await client.post(f"/w/{code}", data=form, allow_redirects=False, headers=headers or {})
    assert resp.status == status, (resp.status, await resp.text())
    return resp


async def test_an_entry_arrives_in_the_right_case_of_the_right_user_and_nowhere_else(engine: Engine,
                                                                                      client: TestClient) -> None:
    a, (a1, a2) = user_with_cases(engine, "a", "速借", "快贷")
    b, (b1,) = user_with_cases(engine, "b", "速借")
    code = new_code(a, a2, "employer")
    assert ui("witness.made", who=ui("witness.who.employer"), code=f"{code[:5]}-{code[5:]}", url=f"{PUBLIC}/w/{code}",
              home=f"{PUBLIC}/w", expires="2026年12月6日") in a.text
    before_b = events(engine, b)

    page = await client.get(f"/w/{code}")
    assert page.status == 200
    body = await page.text()
    for secret in ("快贷", "速借", "13800001111", "only-in-"):
        assert secret not in body                                   # nothing of the case shows
    code_b = new_code(b, b1, "contact")                             # every code's page is the same page
    page_b = await (await client.get(f"/w/{code_b}")).text()
    assert re.sub(r'nonce="[^"]+"', "", page_b) == re.sub(r'nonce="[^"]+"', "", body)
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'none'" in csp and "form-action 'self'" in csp and "default-src 'none'" in csp
    assert not re.search(r'(src|href|action)="(https?:)?//', body)
    assert ui("witness.page.when") in body and ui("witness.page.when", "en") in body   # zh with en

    resp = await post(client, code, when="2026-11-28 21:30", number=" 171 0000 3333 ", words="说要去他单位闹\n还骂人")
    assert resp.headers["Location"].endswith(f"{code}?ok=1")
    done = await client.get(f"/w/{code}?ok=1")
    assert ui("witness.page.done") in await done.text()
    assert "说要去他单位闹" not in await done.text()                # never echoed

    rows = [r for r in events(engine, a) if r["source"] == "witness"]
    assert len(rows) == 1
    [row] = rows
    assert row["case_id"] == a2 and row["kind"] == "third_party_call" and row["who"] == "employer"
    assert row["words"] == "说要去他单位闹\n还骂人" and row["number"] == "171 0000 3333"
    assert dt.datetime.fromisoformat(row["at"]) == dt.datetime(2026, 11, 28, 21, 30, tzinfo=TZ)
    assert events(engine, b) == before_b                            # the other user: untouched
    assert all(r["source"] != "witness" for r in events(engine, a) if r["case_id"] == a1)

    # the borrower's timeline marks it as a witness's; b's bundle shows nothing of it
    a.press(f"ev:all:{a2}")
    assert ui("evidence.timeline.source_witness") in a.text
    b.say("/bundle")
    b.press(f"bdl:to:{b1}:general")
    assert all("171 0000 3333" not in (f.content or "") and "说要去他单位闹" not in (f.content or "")
               for r in b.last for f in r.files)
    a.say("/bundle")
    a.press(f"bdl:c:{a2}")
    a.press(f"bdl:to:{a2}:general")
    html = next(f.content for r in a.last for f in r.files if f.name.endswith(".html")) or ""
    assert "说要去他单位闹" in html and ui("bundle.source.witness") in html
    assert engine.store.witness.live(a.user_id)[0].entries == 1


async def test_the_code_typed_from_paper_finds_the_form(engine: Engine, client: TestClient) -> None:
    a, (case_id,) = user_with_cases(engine, "a", "速借")
    code = new_code(a, case_id)
    home = await client.get("/w")
    assert home.status == 200 and 'name="code"' in await home.text()
    typed = f" {code[:5].lower()}-{code[5:]} "
    resp = await client.post("/w", data={"code": typed}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == f"w/{code}"
    resp = await client.post("/w", data={"code": "ABCDE-FGHJK"}, allow_redirects=False)
    assert resp.status == 404 and ui("witness.page.unknown") in await resp.text()


async def test_forged_unknown_and_malformed_codes_and_bad_input(engine: Engine, client: TestClient) -> None:
    a, (case_id,) = user_with_cases(engine, "a", "速借")
    code = new_code(a, case_id)
    other = "".join(ALPHABET[(ALPHABET.index(c) + 1) % len(ALPHABET)] for c in code)
    unknown = await client.get(f"/w/{other}")
    known_text = ui("witness.page.unknown")
    assert unknown.status == 404 and known_text in await unknown.text()
    for bad in ("x", "0" * 10, "a" * 40, "ABCDE-FGHJK-LMNOP"):
        resp = await client.get(f"/w/{bad}")
        assert resp.status == 404
    await post(client, other, 404, words="x")
    await post(client, "a" * 40, 404, words="x")
    # the real code with bad input: a short answer, nothing stored
    await post(client, code, 400)                                           # nothing filled in
    await post(client, code, 400, number="1" * 41)
    await post(client, code, 400, words="字" * 2001)
    await post(client, code, 400, words="x", when="明年")
    await post(client, code, 400, words="x", when="2026-12-25 10:00")      # in the future
    resp = await client.post(f"/w/{code}", data=b"\xff\xfe\x00binary", allow_redirects=False,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status == 400
    resp = await client.post(f"/w/{code}", data="words=" + "x" * 20000, allow_redirects=False,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status == 400
    assert [r for r in events(engine, a) if r["source"] == "witness"] == []
    # what was typed is kept in the form after an error, escaped
    resp = await client.post(f"/w/{code}", data={"number": "<b>1</b>", "words": "", "when": "明年"},
                             allow_redirects=False)
    assert "&lt;b&gt;1&lt;/b&gt;" in await resp.text() and "<b>1</b>" not in await resp.text()


async def test_expiry(engine: Engine, client: TestClient, clock: ManualClock) -> None:
    a, (case_id,) = user_with_cases(engine, "a", "速借")
    code = new_code(a, case_id)
    clock.advance(days=6, hours=23)
    await post(client, code, words="还有效")
    clock.advance(hours=2)
    assert (await client.get(f"/w/{code}")).status == 404
    await post(client, code, 404, words="过期了")
    assert [r["words"] for r in events(engine, a) if r["source"] == "witness"] == ["还有效"]
    a.say("/witness")
    assert ui("witness.none") in a.text


async def test_withdrawal_stops_the_code_and_keeps_its_entries(engine: Engine, client: TestClient) -> None:
    a, (case_id,) = user_with_cases(engine, "a", "速借")
    code = new_code(a, case_id, "contact")
    keep = new_code(a, case_id, "family")
    await post(client, code, words="第一条")
    a.say("/witness")
    live = engine.store.witness.live(a.user_id)
    assert [c.who for c in live] == ["family", "contact"]
    assert f"wit:x:{live[1].id}" in a.buttons
    a.press(f"wit:x:{live[1].id}")
    assert ui("witness.revoked") in a.text
    assert (await client.get(f"/w/{code}")).status == 404
    await post(client, code, 404, words="第二条")
    assert (await client.get(f"/w/{keep}")).status == 200              # the other code still works
    assert [r["words"] for r in events(engine, a) if r["source"] == "witness"] == ["第一条"]
    b, _ = user_with_cases(engine, "b", "别家")
    b.press(f"wit:x:{live[0].id}")                                      # someone else's code: not theirs
    assert ui("witness.gone") in b.text
    assert (await client.get(f"/w/{keep}")).status == 200


async def test_rate_limits_per_code_and_per_address(engine: Engine, client: TestClient) -> None:
    a, (case_id,) = user_with_cases(engine, "a", "速借")
    code = new_code(a, case_id)
    for i in range(6):
        await post(client, code, words=f"第{i}条")
    resp = await post(client, code, 429, words="第7条")
    assert int(resp.headers["Retry-After"]) >= 1 and ui("witness.page.too_many") in await resp.text()
    assert len([r for r in events(engine, a) if r["source"] == "witness"]) == 6
    # guessing from one address: every request naming a code counts, known or not
    far = {"X-Forwarded-For": "203.0.113.9"}
    statuses = [(await client.get(f"/w/{'ABCDEFGHJK'}", headers=far)).status for _ in range(31)]
    assert statuses[:30] == [404] * 30 and statuses[30] == 429
    assert (await client.get(f"/w/{code}", headers=far)).status == 429
    assert (await client.get(f"/w/{code}", headers={"X-Forwarded-For": "203.0.113.10"})).status == 200


async def test_delete_erases_codes_and_entries(engine: Engine, client: TestClient) -> None:
    a, (case_id,) = user_with_cases(engine, "a", "速借")
    b, (b1,) = user_with_cases(engine, "b", "速借")
    code = new_code(a, case_id)
    code_b = new_code(b, b1)
    await post(client, code, words="a的")
    await post(client, code_b, words="b的")
    uid = a.user_id
    a.say("/delete")
    a.press("y:delete")
    db = engine.store.db
    assert db.execute("SELECT count(*) FROM witness_codes WHERE user_id = ?", [uid]).fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM events WHERE words = 'a的'").fetchone()[0] == 0
    assert (await client.get(f"/w/{code}")).status == 404
    await post(client, code, 404, words="又来")
    assert [r["words"] for r in events(engine, b) if r["source"] == "witness"] == ["b的"]
    assert db.execute("SELECT count(*) FROM witness_codes").fetchone()[0] == 1


async def test_logs_hold_no_words_and_no_numbers(engine: Engine, client: TestClient,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    a, (case_id,) = user_with_cases(engine, "a", "速借")
    code = new_code(a, case_id)
    with caplog.at_level(logging.DEBUG):
        await post(client, code, number="17100009999", words="秘密的话")
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("bot"))  # the server runs
    assert "witness entry recorded" in ours                                  # with access_log=None
    assert "17100009999" not in ours and "秘密的话" not in ours and code not in ours


def test_the_letter_carries_the_code_and_no_public_url_makes_none(engine: Engine, settings: Settings) -> None:
    chat = Chat(engine, user="r", channel="web")
    chat.say("/start")
    case_id = engine.store.save_case(chat.user_id, "report", "zh", {"answers": {
        "lender_name": "速借", "role": "borrower", "behaviours": ["called_employer"]}})
    code = new_code(chat, case_id, "employer")
    letter = next(r for r in chat.last if r.kind == "draft")
    assert letter.draft_id == "employer_notice"
    assert f"{PUBLIC}/w/{code}" in letter.text and f"{code[:5]}-{code[5:]}" in letter.text
    assert "速借" not in letter.text                                     # the notice names no lender
    code2 = new_code(chat, case_id, "contact")
    letter = next(r for r in chat.last if r.kind == "draft")
    assert letter.draft_id == "contacts_message" and f"/w/{code2}" in letter.text

    engine.settings = settings.model_copy(update={"bot_public_url": None})
    chat.press(f"wit:new:{case_id}:employer")
    assert ui("witness.no_public_url") in chat.text
    assert len(engine.store.witness.live(chat.user_id)) == 2


def test_codes_and_times() -> None:
    assert well_formed("abcde-fghjk") and not well_formed("ABCDE-FGHJ0") and not well_formed("ABCDEFGHJ")
    assert CODE_LENGTH == 10 and MAX_ENTRIES >= 20
    now = dt.datetime(2026, 11, 29, 10, 0, tzinfo=TZ)
    assert read_when("2026-11-28T21:30", now) == dt.datetime(2026, 11, 28, 21, 30, tzinfo=TZ)
    assert read_when("昨晚11点", now) == dt.datetime(2026, 11, 28, 23, 0, tzinfo=TZ)
    assert read_when("10 minutes ago", now) == now - dt.timedelta(minutes=10)
    assert read_when("2026-11-29 10:05", now) == now                  # a few minutes ahead: now
    assert read_when("2027-01-01 10:00", now) is None
    assert read_when("2025-01-01 10:00", now) is None
    assert read_when("2026-13-01 10:00", now) is None


async def test_the_borrower_is_told_of_new_entries_once(engine: Engine, client: TestClient) -> None:
    a, (case_id,) = user_with_cases(engine, "a", "速借")
    b, _ = user_with_cases(engine, "b", "速借")
    code = new_code(a, case_id)
    await post(client, code, words="一")
    await post(client, code, words="二")
    a.say("/help")
    assert a.last[0].text == ui("witness.news", n=2)
    a.say("/help")
    assert ui("witness.news", n=2) not in a.text                     # once
    b.say("/help")
    assert ui("witness.news", n=2) not in b.text
    await post(client, code, words="三")
    a.say("/help")
    assert a.last[0].text == ui("witness.news", n=1)
