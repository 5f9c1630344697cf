"""The evidence bundle (issue 16, item 5): /bundle and its button, the printable HTML (parsed:
every event row, the hashes of the attached files), the CSV (round trip), delivery per
channel, and the short-lived page rebuilt from the log whenever it is opened, served by the
real aiohttp app on 127.0.0.1."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.http import ServerContext, create_app
from bot.config import Settings
from bot.core.engine import Engine
from bot.evidence.bundle import BOM, COLUMNS, Row, read_csv, render_csv
from storage.files import files_dir, temp_file
from tests.conftest import Chat, ui

TZ = ZoneInfo("Asia/Shanghai")
PUBLIC = "https://guard.example.org"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, bot_db_path=tmp_path / "bot.db", bot_public_url=PUBLIC)


@pytest.fixture
async def client(engine: Engine, settings: Settings) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(ServerContext(settings, engine), hooks=[]))) as c:
        yield c


class Tables(HTMLParser):
    """Every table of a page: id -> rows of cell texts (the header row first); data-n of rows."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.row_ns: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None
        self.scripts = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("id") or f"t{len(self.tables)}"
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
            if a.get("data-n") and self._table == "events":
                self.row_ns.append(a["data-n"] or "")
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []
        elif tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse(page: str) -> Tables:
    p = Tables()
    p.feed(page)
    return p


def local(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=TZ)


def keep_file(engine: Engine, uid: int, case_id: int, event_id: int | None, data: bytes, name: str) -> Path:
    """A real file into evidence_files through the store, as a channel keeps a download."""
    tmp = temp_file(files_dir(engine.settings.bot_db_path))
    tmp.write_bytes(data)
    engine.store.files.keep(uid, case_id, tmp, name=name, mime="image/png", size=len(data),
                            sha256=hashlib.sha256(data).hexdigest(), received_at=local(27, 9, 15), event_id=event_id)
    [row] = [r for r in engine.store.files.of_user(uid) if r["name"] == name]
    return Path(row["path"])


SCANNED = ("【速借金融】你已严重逾期，我司已将你的资料提交律师事务所，三日内不还款将联系你单位领导和通讯录所有人，"
           "并上门走访你的家人。请立即还款到指定账户，否则后果自负。" * 4)


def seed(chat: Chat, lender: str = "速借") -> tuple[int, dict[str, int]]:
    """A log with every kind of entry: calls (one at 23:30), a message, a call to the employer
    after the stop request, a scanned message, a witness's entry, a formula-looking text."""
    chat.say("/start")
    uid = chat.user_id
    store = chat.engine.store
    case_id = store.save_case(uid, "log", "zh", {"lender": lender})
    add = store.events.add
    ids = {
        "night": add(uid, case_id, local(25, 23, 30), "call_answered", "me", number="13800001111", words="还钱"),
        "c1": add(uid, case_id, local(26, 9), "call_answered", "me", number="13800001111"),
        "c2": add(uid, case_id, local(26, 10), "call_answered", "me", number="13800001111"),
        "c3": add(uid, case_id, local(26, 11), "call_answered", "me", number="13800001111"),
        "c4": add(uid, case_id, local(26, 12), "call_answered", "me", number="13800002222",
                  words="<script>alert(1)</script> & 你等着"),
        "stop": add(uid, case_id, local(26, 13), "stop_sent", "me"),
        "boss": add(uid, case_id, local(27, 9), "third_party_call", "employer", number="95xxxx",
                    words="=HYPERLINK(\"http://evil\")"),
        "scan": add(uid, case_id, local(27, 10), "message", "me", words=SCANNED,
                    findings=["threats", "third_parties"], source="scan"),
        "witness": add(uid, case_id, local(28, 15, 5), "third_party_call", "contact", number="17100003333",
                       words="说要来找他", source="witness"),
    }
    return case_id, ids


def bundle_replies(chat: Chat, case_id: int, to: str = "police") -> list:
    chat.say("/bundle")
    assert f"bdl:to:{case_id}:{to}" in chat.buttons
    return chat.press(f"bdl:to:{case_id}:{to}")


def token_of(text: str) -> str:
    m = re.search(r"/d/([A-Za-z0-9_-]{16,64})", text)
    assert m, text
    return m.group(1)


def test_the_html_has_every_event_row_the_findings_and_correct_file_hashes(engine: Engine) -> None:
    chat = Chat(engine, channel="web")
    case_id, ids = seed(chat)
    uid = chat.user_id
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    path = keep_file(engine, uid, case_id, ids["boss"], png, "老板的截图.png")
    other = keep_file(engine, uid, case_id, None, b"voice" * 1000, "录音.m4a")
    replies = bundle_replies(chat, case_id)
    [reply] = replies
    names = [f.name for f in reply.files]
    assert any(n.endswith("-zh.html") for n in names) and any(n.endswith(".csv") for n in names)
    assert len(names) == 2                                  # a zh user: one HTML, zh already
    html_file = next(f for f in reply.files if f.name.endswith(".html"))
    assert html_file.mime == "text/html" and html_file.content

    page = parse(html_file.content)
    events = page.tables["events"]
    header, rows = events[0], events[1:]
    assert header == [ui(f"bundle.doc.col_{c}") for c in COLUMNS]
    assert len(rows) == len(ids) and page.row_ns == [str(n) for n in range(1, len(ids) + 1)]
    by_n = {int(r[0]): dict(zip(COLUMNS, r, strict=True)) for r in rows}
    assert by_n[1]["date"] == "2026-11-25" and by_n[1]["time"] == "23:30" and by_n[1]["number"] == "13800001111"
    assert ui("bundle.mark.night") in by_n[1]["marks"]
    assert by_n[5]["words"] == "<script>alert(1)</script> & 你等着"   # text, escaped: no markup
    assert page.scripts == 0                                # the downloaded file carries no script
    assert ui("bundle.mark.after_stop") in by_n[7]["marks"] and "老板的截图.png" in by_n[7]["evidence"]
    assert by_n[6]["kind"] == ui("bundle.mark.stop_sent")
    assert by_n[9]["source"] == ui("bundle.source.witness") and by_n[9]["words"] == "说要来找他"
    assert by_n[8]["source"] == ui("bundle.source.scan")
    full_text = "".join(page.text)
    assert SCANNED in full_text                             # quoted in full
    assert "<script>alert" not in html_file.content         # escaped in the source

    files = {r[0]: r for r in page.tables["file-list"][1:]}
    kept = hashlib.sha256(path.read_bytes()).hexdigest()
    assert files["老板的截图.png"][4] == hashlib.sha256(png).hexdigest() == kept
    assert files["老板的截图.png"][1] == "#7" and files["老板的截图.png"][5] == ui("bundle.file.ok")
    assert files["录音.m4a"][4] == hashlib.sha256(b"voice" * 1000).hexdigest()
    assert files["老板的截图.png"][3] == "2026-11-27 09:15:00"

    # findings with their rules (instrument names from content/facts.yaml)
    assert ui("bundle.doc.findings") in full_text
    assert engine.k.facts.instruments["gbt45251"].name.get("zh") in full_text
    assert ui("bundle.letter.stop_sent") in full_text       # the stop request, as a letter sent

    # a file changed on disk after it arrived, and one gone: said so, with the hash it had
    path.write_bytes(png + b"x")
    other.unlink()
    page = parse(next(f for f in bundle_replies(chat, case_id)[0].files if f.name.endswith(".html")).content or "")
    files = {r[0]: r for r in page.tables["file-list"][1:]}
    assert files["老板的截图.png"][5] == ui("bundle.file.changed")
    assert files["老板的截图.png"][4] == hashlib.sha256(png).hexdigest()
    assert files["录音.m4a"][5] == ui("bundle.file.missing")


def test_the_csv_round_trips_with_a_bom_and_no_formulas(engine: Engine) -> None:
    chat = Chat(engine, channel="web")
    case_id, ids = seed(chat)
    [reply] = bundle_replies(chat, case_id)
    text = next(f for f in reply.files if f.name.endswith(".csv")).content or ""
    assert text.startswith(BOM)
    raw = list(csv.reader(io.StringIO(text.removeprefix(BOM))))
    assert len(raw) == len(ids) + 1
    assert raw[7][COLUMNS.index("words")] == "'=HYPERLINK(\"http://evil\")"   # no formula for Excel
    back = read_csv(text)
    assert back[7][COLUMNS.index("words")] == "=HYPERLINK(\"http://evil\")"
    assert back[1][:3] == ["1", "2026-11-25", "23:30"]
    assert back[8][COLUMNS.index("words")] == SCANNED[:300] + "… " + ui("bundle.mark.quoted", n=8)
    # and the pure round trip, for any text
    rows = [Row(n=1, date="2026-11-01", time="08:00", kind="k", who="w", number="-1", words='多行\n"引号", 逗号',
                evidence="@a", source="+s", marks="")]
    labels = {f"col_{c}": c for c in COLUMNS}
    assert read_csv(render_csv(rows, labels)) == [list(COLUMNS), rows[0].cells()]


def test_english_user_gets_english_and_chinese_and_findings_in_each(engine: Engine) -> None:
    chat = Chat(engine, channel="telegram", lang="en")
    case_id, ids = seed(chat, "Quick Cash")
    [reply] = bundle_replies(chat, case_id, "nfra")
    names = sorted(f.name for f in reply.files)
    assert sum(n.endswith("-en.html") for n in names) == sum(n.endswith("-zh.html") for n in names) == 1
    assert len(names) == 3
    en = next(f.content for f in reply.files if f.name.endswith("-en.html")) or ""
    zh = next(f.content for f in reply.files if f.name.endswith("-zh.html")) or ""
    assert ui("bundle.doc.findings", "en") in en and ui("bundle.doc.findings") in zh
    assert engine.k.facts.hotlines["nfra"].number in en          # the addressee, from the facts
    assert len(parse(en).tables["events"]) == len(parse(zh).tables["events"]) == len(ids) + 1


def test_wechat_gets_only_the_link_and_nothing_logged_gets_a_hint(engine: Engine) -> None:
    chat = Chat(engine, channel="wechat")
    chat.say("/start")
    chat.say("/bundle")
    assert ui("bundle.none") in chat.text
    case_id, _ = seed(chat)
    [reply] = bundle_replies(chat, case_id)
    assert reply.files == ()
    assert f"{PUBLIC}/d/" in reply.text


def test_the_timeline_offers_the_bundle(engine: Engine) -> None:
    chat = Chat(engine, channel="web")
    case_id, _ = seed(chat)
    chat.say("/timeline")
    assert f"bdl:c:{case_id}" in [b.id for r in chat.last for b in r.buttons]
    chat.press(f"bdl:c:{case_id}")
    assert chat.buttons == [f"bdl:to:{case_id}:{to}" for to in ("police", "nfra", "local_bureau", "court", "general")]


def test_a_forged_case_in_a_button_shows_nothing(engine: Engine) -> None:
    a, b = Chat(engine, user="a", channel="web"), Chat(engine, user="b", channel="web")
    case_a, _ = seed(a)
    seed(b, "别家")
    b.press(f"bdl:to:{case_a}:police")
    assert ui("evidence.not_found") in b.text and not any(r.files for r in b.last)


async def test_the_link_is_rebuilt_from_the_log_each_time_and_dies_with_delete(engine: Engine,
                                                                               client: TestClient) -> None:
    chat = Chat(engine, channel="web")
    case_id, ids = seed(chat)
    [reply] = bundle_replies(chat, case_id)
    token = token_of(reply.text)
    assert reply.text.count(PUBLIC + "/d/" + token) == 1

    resp = await client.get(f"/d/{token}")
    assert resp.status == 200
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'nonce-" in csp
    assert resp.headers["Cache-Control"] == "no-store"
    page = await resp.text()
    parsed = parse(page)
    assert len(parsed.tables["events"]) == len(ids) + 1
    assert f'href="{token}/en"' in page and f'href="{token}/events.csv"' in page
    assert not re.search(r'(src|href)="(https?:)?//', page)          # nothing from outside

    engine.store.events.add(chat.user_id, case_id, local(29, 8), "visit", "family", words="上门了")
    parsed = parse(await (await client.get(f"/d/{token}")).text())
    assert len(parsed.tables["events"]) == len(ids) + 2              # never a stale snapshot

    en = await client.get(f"/d/{token}/en")
    assert en.status == 200 and ui("bundle.doc.findings", "en") in await en.text()
    assert (await client.get(f"/d/{token}/xx")).status == 404
    got = await client.get(f"/d/{token}/events.csv")
    assert got.status == 200 and got.headers["Content-Type"].startswith("text/csv")
    body = (await got.read()).decode("utf-8")
    assert body.startswith(BOM) and len(read_csv(body)) == len(ids) + 2
    txt = await client.get(f"/d/{token}.txt")
    assert txt.status == 200 and "13800001111" in await txt.text()

    # another user's link kind cannot be read as a bundle, an unknown token neither
    assert (await client.get("/d/" + "A" * 32 + "/zh")).status == 404
    assert (await client.get("/d/" + "A" * 32 + "/events.csv")).status == 404

    chat.say("/delete")
    chat.press("y:delete")
    for path in (f"/d/{token}", f"/d/{token}/zh", f"/d/{token}/events.csv", f"/d/{token}.txt"):
        assert (await client.get(path)).status == 404, path


async def test_without_a_public_url_files_still_come_and_no_link(engine: Engine, settings: Settings) -> None:
    engine.settings = settings.model_copy(update={"bot_public_url": None})
    chat = Chat(engine, channel="web")
    case_id, _ = seed(chat)
    [reply] = bundle_replies(chat, case_id)
    assert "/d/" not in reply.text and reply.files
    assert engine.store.links.live(chat.user_id, "bundle") == []


async def test_the_web_page_gets_the_files_as_download_links(engine: Engine, settings: Settings) -> None:
    """Through the real web channel (POST /api/chat): the files come as {"name", "url"} links,
    the HTML downloaded as an attachment (never rendered on the app's origin)."""
    async with TestClient(TestServer(create_app(ServerContext(settings, engine)))) as web:
        first = await (await web.post("/api/chat", json={"session": "", "text": "/start"})).json()
        session = first["session"]
        uid = engine.store.find_user("web", session)["id"]
        case_id = engine.store.save_case(uid, "log", "zh", {"lender": "速借"})
        engine.store.events.add(uid, case_id, local(28, 23, 10), "call_answered", "me", number="13800001111")
        await web.post("/api/chat", json={"session": session, "text": "/bundle"})
        pressed = {"session": session, "choice": f"bdl:to:{case_id}:court"}
        data = await (await web.post("/api/chat", json=pressed)).json()
        [reply] = [r for r in data["replies"] if r["files"]]
        names = {f["name"]: f["url"] for f in reply["files"]}
        html_url = next(u for n, u in names.items() if n.endswith(".html"))
        got = await web.get(html_url)
        assert got.status == 200 and got.headers["Content-Disposition"].startswith("attachment;")
        assert got.content_type != "text/html"
        page = parse((await got.read()).decode("utf-8"))
        assert [r[0] for r in page.tables["events"][1:]] == ["1"]
        assert ui("bundle.ask.court") in "".join(page.text)
        csv_url = next(u for n, u in names.items() if n.endswith(".csv"))
        body = (await (await web.get(csv_url)).read()).decode("utf-8")
        assert body.startswith(BOM) and read_csv(body)[1][:3] == ["1", "2026-11-28", "23:10"]


def test_files_kept_before_a_lender_was_known_count_only_where_they_belong(engine: Engine) -> None:
    chat = Chat(engine, channel="web")
    case_a, ids = seed(chat, "速借")
    uid = chat.user_id
    keep_file(engine, uid, None, None, b"loose", "无主截图.png")            # no case: the only lender's
    html = next(f.content for f in bundle_replies(chat, case_a)[0].files if f.name.endswith(".html")) or ""
    assert "无主截图.png" in html
    case_b = engine.store.save_case(uid, "log", "zh", {"lender": "快贷"})
    engine.store.events.add(uid, case_b, local(28, 8), "call_missed", "me")
    chat.say("/bundle")
    chat.press(f"bdl:c:{case_b}")
    chat.press(f"bdl:to:{case_b}:general")
    html_b = next(f.content for r in chat.last for f in r.files if f.name.endswith(".html")) or ""
    assert "无主截图.png" not in html_b and "速借" not in html_b           # two lenders: not guessed
    keep_file(engine, uid, None, ids["boss"], b"attached", "单位来电.png")  # no case, but on an entry of 速借
    chat.say("/bundle")
    chat.press(f"bdl:c:{case_a}")
    chat.press(f"bdl:to:{case_a}:general")
    html_a = next(f.content for r in chat.last for f in r.files if f.name.endswith(".html")) or ""
    assert "单位来电.png" in html_a and "无主截图.png" not in html_a
