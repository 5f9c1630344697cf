"""Bad input never gives a 5xx and never ends a process (issue 12, item 6): hypothesis throws
hostile input at each entry point of real processes (`serve` for /api/chat and /wechat in plain
and safe mode, `chat --jsonl`) and of the Telegram webhook, then checks the process is alive,
healthy, and logged no traceback. More examples with FUZZ_EXAMPLES=1000."""

from __future__ import annotations

import asyncio
import json
import os
import string
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bot.channels.wechat import Box, signature
from bot.channels.wechat.messages import cdata
from tests.server import Server
from tests.test_cli import env

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50"))
FUZZ = hsettings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Any code point, lone surrogates included (JSON's "\ud800" escapes decode to them).
anychar = st.characters(codec=None) | st.characters(categories=["Cs"])
texts = st.text(anychar, max_size=80) | st.sampled_from(
    ["\ud800", "a\udfffb", "/tz " + "x" * 300, "/tz Asia/" + "y" * 300, "rem:²", "\x00", "/start", "/delete",
     "/export", "/report", "1", "🙂" * 50])
choices = st.text(anychar, max_size=70) | st.sampled_from(
    ["rem:²", "rem:-1", "rem:99999999999999999999999", "o:", "y:delete", "t:nope", "cpl:x:y", "\ud800", "k:" * 40])
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4), max_leaves=12)


def deep(n: int) -> bytes:
    return b'{"text": ' + b"[" * n + b"]" * n + b"}"


def chat_bodies() -> st.SearchStrategy[bytes]:
    fields = st.fixed_dictionaries({}, optional={
        "session": texts | json_values, "text": texts | json_values, "choice": choices | json_values,
        "id": texts | st.integers() | json_values})
    shaped = st.one_of(st.fixed_dictionaries({"text": texts}, optional={"id": texts}),
                       st.fixed_dictionaries({"choice": choices}, optional={"id": texts}))
    as_json = (shaped | shaped | fields).map(lambda d: json.dumps(d).encode())
    return as_json | json_values.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=200) | \
        st.integers(1000, 200_000).map(deep)


def no_traceback(log: Path) -> None:
    text = log.read_text(errors="replace")
    assert "Traceback" not in text and "handling failed" not in text, text[-3000:]


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("fuzzweb")
    with Server(path, WECHAT_TOKEN="fuzztoken") as srv:
        yield srv


def test_api_chat_never_fails(web_server: Server) -> None:
    srv = web_server
    session = srv.chat(text="/start", id="s")[1]["session"]

    @FUZZ
    @given(body=chat_bodies(), keep_session=st.booleans())
    @example(body=b'{"text": "\\ud800"}', keep_session=True)          # the issue's own examples
    @example(body=b'{"choice": "\\ud800x", "id": "\\udfff"}', keep_session=True)
    @example(body=b'{"choice": "rem:\xc2\xb2"}', keep_session=True)
    @example(body=b'{"text": "/tz ' + b"x" * 300 + b'"}', keep_session=True)
    @example(body=deep(100_000), keep_session=False)
    def one(body: bytes, keep_session: bool) -> None:
        if keep_session and body.startswith(b"{") and b'"session"' not in body[:20]:
            body = b'{"session": "' + session.encode() + b'", ' + body[1:] if body != b"{}" else body
        status, reply = srv.request("/api/chat", body)
        assert status < 500, (body[:200], reply)
        assert status in (200, 400, 413, 429), status
        assert "error" in reply if status != 200 else "replies" in reply

    one()
    assert srv.proc.poll() is None
    assert srv.request("/healthz")[0] == 200
    no_traceback(srv.tmp_path / "server.log")


WX_TOKEN = "fuzztoken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wxfuzz0000000001"


def wx_params(token: str = WX_TOKEN, **extra: str) -> str:
    ts, nonce = str(int(time.time())), os.urandom(6).hex()
    return urlencode({"timestamp": ts, "nonce": nonce, "signature": signature(token, ts, nonce), **extra})


openids = st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=70) | texts
xml_fields = st.fixed_dictionaries(
    {"ToUserName": st.just("gh_fuzz"), "FromUserName": openids,
     "MsgType": st.sampled_from(["text", "event", "voice", "image", "link", "weird", ""]) | texts},
    optional={"Content": texts, "MsgId": st.integers(-5, 2**70).map(str) | texts, "CreateTime": texts,
              "Event": st.sampled_from(["subscribe", "CLICK", "unsubscribe"]) | texts, "EventKey": texts,
              "Recognition": texts})


def xml_of(fields: dict[str, str]) -> bytes:
    return ("<xml>" + "".join(f"<{k}>{cdata(v)}</{k}>" for k, v in fields.items()) + "</xml>").encode("utf-8",
                                                                                                     "surrogatepass")


wx_bodies = xml_fields.map(xml_of) | st.binary(max_size=300) | st.integers(100, 5000).map(
    lambda n: b"<xml>" + b"<a>" * n + b"</a>" * n + b"</xml>") | st.just(
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><Content>&a;</Content></xml>')


def test_wechat_plain_mode_never_fails(web_server: Server) -> None:
    srv = web_server

    @FUZZ
    @given(body=wx_bodies, signed=st.booleans())
    def one(body: bytes, signed: bool) -> None:
        status, _ = srv.request(f"/wechat?{wx_params() if signed else wx_params('wrong')}", body)
        assert status in ((200, 400, 413) if signed else (403,)), status

    one()
    assert srv.proc.poll() is None and srv.request("/healthz")[0] == 200
    no_traceback(srv.tmp_path / "server.log")


def test_wechat_safe_mode_never_fails(tmp_path: Path) -> None:
    box = Box(AES_KEY, APP_ID)
    with Server(tmp_path, WECHAT_TOKEN=WX_TOKEN, WECHAT_ENCODING_AES_KEY=AES_KEY, WECHAT_APP_ID=APP_ID) as srv:

        @FUZZ
        @given(inner=wx_bodies, garble=st.booleans())
        def one(inner: bytes, garble: bool) -> None:
            payload = box.encrypt(inner)
            if garble:
                payload = payload[:-8] + "A" * 8
            ts, nonce = str(int(time.time())), os.urandom(6).hex()
            query = urlencode({"timestamp": ts, "nonce": nonce, "signature": signature(WX_TOKEN, ts, nonce),
                               "encrypt_type": "aes", "msg_signature": signature(WX_TOKEN, ts, nonce, payload)})
            body = f"<xml><ToUserName>{cdata('gh')}</ToUserName><Encrypt>{cdata(payload)}</Encrypt></xml>".encode()
            status, _ = srv.request(f"/wechat?{query}", body)
            assert status in (200, 400, 403, 413), status

        one()
        assert srv.proc.poll() is None and srv.request("/healthz")[0] == 200
    no_traceback(tmp_path / "server.log")


jsonl_lines = (json_values.map(json.dumps) | chat_bodies().map(lambda b: b.decode("utf-8", "replace"))
               | st.fixed_dictionaries({}, optional={"text": texts, "choice": choices}).map(json.dumps))


@hsettings(FUZZ, max_examples=max(1, EXAMPLES // 50))     # a process per example: few examples, many lines
@given(lines=st.lists(jsonl_lines.map(lambda s: s.replace("\n", " ").replace("\r", " ")), min_size=20, max_size=50))
def test_chat_jsonl_one_line_out_per_line_in_whatever_comes(tmp_path_factory, lines: list[str]) -> None:
    tmp = tmp_path_factory.mktemp("jsonl")
    data = ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")
    r = subprocess.run([sys.executable, "-m", "bot", "chat", "--jsonl", "--user", "f"], input=data,
                       capture_output=True, cwd=tmp, env=env(tmp), timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    out = r.stdout.decode("utf-8").splitlines()
    assert len(out) == len(lines), (lines, out)
    assert all("replies" in json.loads(o) for o in out)
    assert b"Traceback" not in r.stderr, r.stderr[-2000:]


def test_telegram_webhook_never_fails(engine, settings) -> None:
    """POST /telegram with the right secret and hostile bodies: never a 5xx."""
    from aiohttp.test_utils import TestClient, TestServer

    from bot.channels.base import Channels
    from bot.channels.http import ServerContext, create_app
    from bot.channels.telegram import SECRET_HEADER
    from tests.test_telegram_unit import FakeTelegram, Harness

    updates = st.fixed_dictionaries(
        {"update_id": st.integers(-5, 2**40) | json_values},
        optional={"message": st.fixed_dictionaries(
            {"message_id": st.integers(1, 10**6) | json_values, "date": st.integers(0, 2**31) | json_values,
             "chat": st.fixed_dictionaries({"id": st.integers(-10**12, 10**12), "type": st.sampled_from(
                 ["private", "group"]) | texts}),
             "from": st.fixed_dictionaries({"id": st.integers(1, 10**12), "is_bot": st.booleans(),
                                            "first_name": texts})},
            optional={"text": texts, "caption": texts}) | json_values,
            "callback_query": json_values})
    bodies = updates.map(lambda u: json.dumps(u).encode()) | st.binary(max_size=100) | st.integers(
        1000, 100_000).map(deep)

    async def main() -> None:
        fake = FakeTelegram()
        h = await Harness(engine, settings, fake).start()
        ctx = ServerContext(settings, engine, channels=Channels([h.bot]))
        async with TestClient(TestServer(create_app(ctx, hooks=[]))) as client:
            loop = asyncio.get_running_loop()
            statuses: list[int] = []

            @FUZZ
            @given(body=bodies)
            def one(body: bytes) -> None:
                fut = asyncio.run_coroutine_threadsafe(
                    client.post("/telegram", data=body, headers={SECRET_HEADER: h.bot.secret}), loop)
                r = fut.result(30)
                statuses.append(r.status)
                assert r.status in (200, 400), r.status

            await loop.run_in_executor(None, one)
            await h.bot.application.update_queue.join()
            assert 200 in statuses and 400 in statuses
        await h.bot.stop()

    asyncio.run(main())
