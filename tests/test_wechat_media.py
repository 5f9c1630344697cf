"""Photos and voice notes sent to the Official Account are kept as evidence (issue 14 item 6):
the fake WeChat server on 127.0.0.1 serves `media/get` like WeChat (the file, or a JSON
error), the real channel downloads, hashes and keeps it, /delete removes it from disk."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.http import ServerContext, create_app
from bot.channels.wechat import WECHAT
from bot.config import Settings
from bot.core.engine import Engine
from tests.test_wechat import (
    APP_ID,
    OPENID,
    SECRET,
    FakeWeChatAPI,
    content_of,
    message,
    post,
    say,
    wechat_settings,
)

PHOTO = b"\x89PNG\r\n\x1a\n" + os.urandom(5000)
VOICE = b"#!AMR\n" + os.urandom(1200)


class MediaWeChatAPI(FakeWeChatAPI):
    def __init__(self) -> None:
        super().__init__()
        self.media: dict[str, tuple[bytes, str]] = {}
        self.downloads: list[str] = []
        self.app.router.add_get("/cgi-bin/media/get", self.media_get)

    async def media_get(self, request: web.Request) -> web.Response:
        if request.query.get("access_token", "") not in self.valid:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        media_id = request.query.get("media_id", "")
        self.downloads.append(media_id)
        if media_id not in self.media:
            return web.Response(text='{"errcode":40007,"errmsg":"invalid media_id"}', content_type="text/plain")
        body, ctype = self.media[media_id]
        return web.Response(body=body, content_type=ctype)


@pytest.fixture
async def media_api() -> AsyncIterator[MediaWeChatAPI]:
    server = MediaWeChatAPI()
    await server.start()
    yield server
    await server.runner.cleanup()


@pytest.fixture
async def media_client(engine: Engine, settings: Settings, media_api: MediaWeChatAPI) -> AsyncIterator[TestClient]:
    ctx = ServerContext(wechat_settings(settings, wechat_app_id=APP_ID, wechat_app_secret=SECRET,
                                        wechat_api_base_url=media_api.base_url), engine)
    app = create_app(ctx)
    app[WECHAT].push_delay = 0
    async with TestClient(TestServer(app)) as c:
        c.ctx = ctx  # type: ignore[attr-defined]
        yield c


def user_id(engine: Engine) -> int:
    return engine.store.user("wechat", OPENID)["id"]


async def test_a_photo_and_a_voice_note_are_kept_with_their_hash_and_erased(
        media_client: TestClient, engine: Engine, media_api: MediaWeChatAPI) -> None:
    media_api.media["P1"] = (PHOTO, "image/png")
    media_api.media["V1"] = (VOICE, "audio/amr")
    reply = content_of(await post(media_client, message(None, 70001, kind="image", MediaId="P1",
                                                        PicUrl="http://mmbiz.example/p1")))
    sha = hashlib.sha256(PHOTO).hexdigest()
    assert sha[:16] in reply
    voice = content_of(await post(media_client, message(None, 70002, kind="voice", MediaId="V1", Format="amr")))
    assert hashlib.sha256(VOICE).hexdigest()[:16] in voice
    rows = engine.store.files.of_user(user_id(engine))
    assert [(r["sha256"], r["mime"]) for r in rows] == [(sha, "image/png"),
                                                         (hashlib.sha256(VOICE).hexdigest(), "audio/amr")]
    assert [Path(r["path"]).read_bytes() for r in rows] == [PHOTO, VOICE]
    # WeChat retries the same MsgId: one download, one file
    again = content_of(await post(media_client, message(None, 70001, kind="image", MediaId="P1")))
    assert again == reply and media_api.downloads == ["P1", "V1"]
    assert len(engine.store.files.of_user(user_id(engine))) == 2
    paths = [Path(r["path"]) for r in rows]
    await say(media_client, "/delete")
    done = await say(media_client, engine.k.text("zh", "privacy.delete_yes"))   # the confirm button, typed
    assert done == engine.k.text("zh", "privacy.deleted")
    assert not any(p.exists() for p in paths)


async def test_an_unknown_media_id_and_a_file_over_the_cap_are_not_kept(
        media_client: TestClient, engine: Engine, media_api: MediaWeChatAPI) -> None:
    k = engine.k
    gone = content_of(await post(media_client, message(None, 71001, kind="image", MediaId="nope")))
    assert gone.startswith(k.text("zh", "media.failed", kind=k.text("zh", "media.kind.photo")))
    media_api.media["BIG"] = (b"0" * 3000, "video/mp4")
    channel = media_client.app[WECHAT]
    channel.settings = channel.settings.model_copy(update={"bot_media_max_file_mb": 0.001})
    big = content_of(await post(media_client, message(None, 71002, kind="video", MediaId="BIG")))
    assert big.startswith(k.text("zh", "media.too_big", kind=k.text("zh", "media.kind.video")))
    assert engine.store.files.count(user_id(engine)) == 0
    files = engine.settings.bot_db_path.parent / "files"
    assert not [p for p in files.iterdir()] if files.exists() else True     # no partial file left


async def test_without_the_api_the_user_is_told_it_cannot_be_kept(engine: Engine, settings: Settings) -> None:
    async with TestClient(TestServer(create_app(ServerContext(wechat_settings(settings), engine)))) as client:
        reply = content_of(await post(client, message(None, 72001, kind="image", MediaId="P1")))
    assert reply.startswith(engine.k.text("zh", "media.unavailable", kind=engine.k.text("zh", "media.kind.photo")))
    assert engine.store.files.count(user_id(engine)) == 0
