"""Per-user limits (issue 12, item 8): HTTP rate limits with 429 + Retry-After, caps on what
one user can store, idle users forgotten, and /cases that reads only the user's own rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.actions import complaints, report
from bot.actions.registry import ACTIONS
from bot.app import Loaded, build_engine
from bot.channels.http import ServerContext, create_app
from bot.channels.ratelimit import RateLimits, client_address, retry_after
from bot.config import Settings
from bot.core.engine import Engine
from bot.core.models import Inbound
from bot.scheduler import ManualClock
from tests.conftest import shown
from tests.test_complaints import REPORT, Talk, record

API = "/api/chat"


# --- the decisions ---------------------------------------------------------------------------

@pytest.mark.parametrize(("peer", "forwarded", "expected"), [
    ("203.0.113.7", None, "203.0.113.7"),                 # a direct client
    ("203.0.113.7", "198.51.100.1", "203.0.113.7"),       # a forged header from outside is ignored
    ("127.0.0.1", "198.51.100.1", "198.51.100.1"),        # a local reverse proxy names the client
    ("127.0.0.1", "10.0.0.1, 198.51.100.1", "198.51.100.1"),  # the hop the proxy itself wrote
    ("::1", "2001:db8::1", "2001:db8::1"),
    ("127.0.0.1", None, None),                            # local tools: no address limit
    ("127.0.0.1", "not-an-address", None),
    (None, None, None),
])
def test_which_address_counts(peer: str | None, forwarded: str | None, expected: str | None) -> None:
    assert client_address(peer, forwarded) == expected


def test_a_refused_request_counts_against_nothing() -> None:
    limits = RateLimits.parse("2/minute", "3/minute", "")
    assert limits.check(session="s1", address="a", new_session=False) == 0
    assert limits.check(session="s1", address="a", new_session=False) == 0
    wait = limits.check(session="s1", address="a", new_session=False)
    assert 1 <= wait <= 60 and retry_after(wait) in {str(n) for n in range(1, 61)}
    # the refused third did not use the address's room: another session still gets one more
    assert limits.check(session="s2", address="a", new_session=False) == 0
    assert limits.check(session="s3", address="a", new_session=False) > 0


def test_new_sessions_per_address_and_empty_limits() -> None:
    limits = RateLimits.parse("", "", "2/minute")
    assert [limits.check(session=None, address="a", new_session=True) == 0 for _ in range(3)] == [True, True, False]
    assert limits.check(session=None, address="b", new_session=True) == 0      # per address
    assert limits.check(session="known", address="a", new_session=False) == 0  # known sessions are not new
    assert limits.check(session=None, address=None, new_session=True) == 0     # no address: no limit


def test_bad_limit_settings_fail_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Settings(_env_file=None, bot_db_path=tmp_path / "x.db", bot_rate_session="lots")


# --- over HTTP -------------------------------------------------------------------------------

@pytest.fixture
async def limited(tmp_path: Path, loaded: Loaded, clock: ManualClock) -> AsyncIterator[tuple[TestClient, Engine]]:
    settings = Settings(_env_file=None, bot_db_path=tmp_path / "limited.db", bot_rate_session="3/minute",
                        bot_rate_address="5/minute", bot_rate_new_session="2/minute")
    engine = build_engine(settings, clock=clock, loaded=loaded)
    async with TestClient(TestServer(create_app(ServerContext(settings, engine)))) as client:
        yield client, engine


async def test_a_session_over_its_limit_gets_429_and_nothing_is_handled(limited) -> None:
    client, engine = limited
    r = await client.post(API, json={"session": "", "text": "/start", "id": "1"})
    session = (await r.json())["session"]
    for n in (2, 3, 4):
        r = await client.post(API, json={"session": session, "text": f"question {n}", "id": str(n)})
        assert r.status == 200
    r = await client.post(API, json={"session": session, "text": "催收打我单位电话合法吗", "id": "5"})
    body = await r.json()
    assert r.status == 429 and 1 <= int(r.headers["Retry-After"]) <= 60
    assert body["retry_after"] == int(r.headers["Retry-After"]) and "error" in body
    ids = [row["message_id"] for row in engine.store.db.query("SELECT message_id FROM inbox")]
    assert f"{session}:5" not in ids and len(ids) == 4  # refused before the engine saw it


async def test_per_address_limits_follow_a_local_proxys_header(limited) -> None:
    client, _ = limited
    proxy = {"X-Forwarded-For": "198.51.100.9"}
    statuses = []
    for n in range(3):  # new sessions from one address: 2 a minute
        r = await client.post(API, json={"session": "", "text": "你好", "id": str(n)}, headers=proxy)
        statuses.append(r.status)
    assert statuses == [200, 200, 429]
    # another address behind the same proxy is not affected; a local request without the header has no
    # address limit at all (only its session's)
    r = await client.post(API, json={"session": "", "text": "你好"}, headers={"X-Forwarded-For": "198.51.100.10"})
    assert r.status == 200
    for _ in range(4):
        r = await client.post(API, json={"session": "", "text": "你好"})
        assert r.status == 200


async def test_file_links_are_limited_per_address(limited) -> None:
    client, _ = limited
    proxy = {"X-Forwarded-For": "198.51.100.20"}
    statuses = [(await client.get("/api/file/nosuchtoken", headers=proxy)).status for _ in range(6)]
    assert statuses == [404] * 5 + [429]


# --- caps on what one user stores ------------------------------------------------------------

def _outcome(engine: Engine, talk: Talk) -> list:
    ctx = engine._action_ctx(engine._context(engine.store.user_by_id(talk.user_id), Inbound(
        channel="test", user=talk.user, text="x")), dict(REPORT))
    return ACTIONS["report_outcome"](ctx)


def test_reports_over_the_cap_still_give_the_letters_but_are_not_stored(engine: Engine, monkeypatch) -> None:
    monkeypatch.setattr(report, "MAX_CASES", 2)
    talk = Talk(engine, lang="en")
    for _ in range(2):
        _outcome(engine, talk)
    replies = _outcome(engine, talk)
    assert engine.store.count_cases(talk.user_id) == 2
    assert any(r.kind == "draft" for r in replies)                  # the letters all the same
    assert shown("report.out.not_saved", replies[-1].text, "en", max=2) and "/export" in replies[-1].text
    assert "lawyer" in replies[-1].text


def test_complaints_over_the_cap_get_a_clear_message(engine: Engine, monkeypatch) -> None:
    monkeypatch.setattr(complaints, "MAX_COMPLAINTS", 2)
    talk = Talk(engine, lang="en")
    record(talk, "lender_service", ticket="A-1")
    record(talk, "lender_service", ticket="A-2")
    talk.say("/track")
    talk.press("o:lender_service")
    talk.say("Quick Cash")
    talk.press("o:microloan")
    talk.say("2026-11-20")
    talk.say("A-3")
    talk.press("c:ok")
    assert shown("complaints.too_many_complaints", talk.text, "en", max=2)
    assert [c["ticket"] for c in talk.complaints()] == ["A-2", "A-1"]


def test_cases_reads_only_its_own_rows_through_the_index(engine: Engine) -> None:
    sql = "EXPLAIN QUERY PLAN SELECT * FROM cases WHERE user_id = ? AND kind = ? ORDER BY id DESC LIMIT 10"
    plan = " ".join(str(row) for row in engine.store.db.execute(sql, [1, "report"]))
    assert "USING INDEX" in plan and "SCAN cases" not in plan.replace("USING INDEX", "")
    talk = Talk(engine, lang="en")
    other = Talk(engine, user="u2", lang="en")
    for _ in range(12):
        engine.store.save_case(other.user_id, "report", "en", {"answers": REPORT})
    mine = [engine.store.save_case(talk.user_id, "report", "en", {"answers": REPORT}) for _ in range(11)]
    talk.say("/cases")
    assert "latest 10 of 11" in talk.text
    assert engine.store.case(talk.user_id, mine[0])["id"] == mine[0]
    assert engine.store.case(talk.user_id, mine[0] - 1) is None     # another user's case is not found


# --- idle users are forgotten ----------------------------------------------------------------

def test_users_who_left_nothing_are_pruned_after_a_day(engine: Engine) -> None:
    store = engine.store
    idle = store.user("web", "idle-session")["id"]
    chose = store.user("web", "chose-english")["id"]
    store.update_user(chose, lang="en", lang_source="chosen")
    zone = store.user("web", "set-zone")["id"]
    store.update_user(zone, tz="Europe/Berlin")
    has_case = store.user("web", "has-case")["id"]
    store.save_case(has_case, "report", "zh", {"answers": {}})
    has_session = store.user("web", "mid-dialog")["id"]
    store.save_session(has_session, "report", "role", {}, [], 0, False)
    recent = store.user("web", "recent")["id"]
    old = (engine.clock() - dt.timedelta(days=2)).astimezone(dt.UTC).isoformat(timespec="seconds")  # store's clock
    for uid in (idle, chose, zone, has_case, has_session):
        store.db.execute("UPDATE users SET created_at = ?, last_seen = ? WHERE id = ?", [old, old, uid])
    store.db.conn.commit()
    assert store.prune_idle_users() == 1
    assert store.user_by_id(idle) is None
    assert all(store.user_by_id(u) for u in (chose, zone, has_case, has_session, recent))
