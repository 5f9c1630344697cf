"""Photos, voice notes and files kept as evidence (issue 14 item 6): the engine's media
action over real files and SQLite, and Telegram end to end through the fake Bot API server
(getFile and the file download), with the real python-telegram-bot client."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.channels import media as channel_media
from bot.channels.telegram import TelegramBot
from bot.channels.telegram.adapter import file_url
from bot.core.engine import Engine
from bot.core.models import Inbound, Media
from storage.files import files_dir, sweep, temp_file
from tests.test_telegram_e2e import FakeBotAPIServer, handled, tg_settings, until
from tests.test_telegram_unit import TOKEN, FakeTelegram, message_update

PHOTO = b"\xff\xd8\xff\xe0" + os.urandom(3000)


def downloaded(engine: Engine, data: bytes) -> Media:
    """What a channel hands the engine after a download: a temp file in the files directory."""
    path = temp_file(files_dir(engine.settings.bot_db_path))
    path.write_bytes(data)
    return Media(kind="photo", name="shot.jpg", mime="image/jpeg", path=str(path),
                 sha256=hashlib.sha256(data).hexdigest(), size=len(data))


def send(engine: Engine, user: str, media: Media | None = None, text: str | None = None, mid: str = "m1") -> str:
    replies = engine.handle(Inbound(channel="console", user=user, message_id=mid, media=media, text=text,
                                    attachment=media.kind if media else None))
    return "\n".join(r.text for r in replies)


def uid(engine: Engine, user: str) -> int:
    return engine.store.user("console", user)["id"]


def test_a_photo_is_kept_with_its_hash_mode_0600_and_listed_in_export(engine: Engine):
    media = downloaded(engine, PHOTO)
    out = send(engine, "u1", media)
    sha = hashlib.sha256(PHOTO).hexdigest()
    assert sha[:16] in out
    [row] = engine.store.files.of_user(uid(engine, "u1"))
    assert row["sha256"] == sha and row["size"] == len(PHOTO) and row["name"] == "shot.jpg"
    kept = Path(row["path"])
    assert kept.read_bytes() == PHOTO and not Path(media.path or "").exists()   # moved, not copied
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700
    assert "shot" not in kept.name and "u1" not in kept.name                      # names say nothing
    exported = engine.store.export_user(uid(engine, "u1"))
    assert [f["sha256"] for f in exported["evidence_files"]] == [sha]


def test_a_file_goes_into_the_log_it_belongs_to_and_delete_removes_it_from_disk(engine: Engine):
    send(engine, "u2", text="/log", mid="a")
    user_id = uid(engine, "u2")
    case_id = engine.store.save_case(user_id, "log", "en", {"lender": "QuickCash"})
    engine.store.events.add(user_id, case_id, engine.clock(), "call_answered", "me")
    out = send(engine, "u2", downloaded(engine, PHOTO), mid="b")
    assert "QuickCash" in out
    [row] = engine.store.files.of_user(user_id)
    assert row["case_id"] == case_id
    assert [f["id"] for f in engine.store.events.files(user_id, case_id)] == [row["id"]]
    path = Path(row["path"])
    engine.store.delete_user(user_id)
    assert not path.exists()
    assert engine.store.files.count(user_id) == 0


def test_too_big_failed_and_over_quota_files_are_not_kept_and_the_user_is_told(engine: Engine):
    k = engine.k
    out = send(engine, "u3", Media(kind="video", problem="too_big"), mid="1")
    assert out.startswith(k.text("zh", "media.too_big", kind=k.text("zh", "media.kind.video")))
    out = send(engine, "u3", Media(kind="photo", problem="failed"), mid="2")
    assert out.startswith(k.text("zh", "media.failed", kind=k.text("zh", "media.kind.photo")))
    forged = Media(kind="photo", path="/etc/passwd", sha256="0" * 64, size=10)   # a path not in the files dir
    send(engine, "u3", forged, mid="3")
    assert Path("/etc/passwd").exists()
    engine.settings = engine.settings.model_copy(update={"bot_media_max_user_mb": 0.004})  # ~4 KB
    first = downloaded(engine, PHOTO)
    send(engine, "u3", first, mid="4")
    second = downloaded(engine, PHOTO)
    out = send(engine, "u3", second, mid="5")
    assert out.startswith(k.text("zh", "media.full", size="4 KB"))
    assert engine.store.files.count(uid(engine, "u3")) == 1
    assert not Path(second.path or "").exists()                                  # the refused file is gone


def test_a_replayed_message_keeps_the_file_once(engine: Engine):
    media = downloaded(engine, PHOTO)
    first = send(engine, "u4", media, mid="same")
    again = send(engine, "u4", media, mid="same")
    assert again in ("", first)
    assert engine.store.files.count(uid(engine, "u4")) == 1


def test_sweep_removes_strays_but_never_a_kept_file(engine: Engine, tmp_path: Path):
    send(engine, "u5", downloaded(engine, PHOTO))
    directory = files_dir(engine.settings.bot_db_path)
    stray = temp_file(directory)
    known = engine.store.files.known_paths()
    assert sweep(directory, known, max_age=0, now=stray.stat().st_mtime + 1) == 1
    assert not stray.exists() and all(Path(p).exists() for p in known)


def test_file_url_follows_the_api_base():
    assert file_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert file_url("http://127.0.0.1:8081/bot") == "http://127.0.0.1:8081/file/bot"


async def test_save_stream_caps_and_hashes(tmp_path: Path):
    async def chunks(n: int):
        for _ in range(n):
            yield b"x" * 1000

    path, sha, size = await channel_media.save_stream(chunks(3), tmp_path, 5000)
    assert size == 3000 and sha == hashlib.sha256(b"x" * 3000).hexdigest() and path.read_bytes() == b"x" * 3000
    try:
        await channel_media.save_stream(chunks(10), tmp_path, 5000)
        raise AssertionError("no TooBig")
    except channel_media.TooBig:
        pass
    assert [p for p in tmp_path.iterdir() if p != path] == []                     # the partial file is gone


# --- Telegram, end to end ------------------------------------------------------------------

class FilesTelegram(FakeTelegram):
    """The fake Bot API with getFile; the bytes are served by FileServer below."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, bytes] = {}

    def result(self, method: str, p: dict[str, Any]) -> Any:
        if method == "getFile":
            fid = p["file_id"]
            return {"file_id": fid, "file_unique_id": f"u-{fid}", "file_size": len(self.files[fid]),
                    "file_path": f"photos/{fid}.jpg"}
        return super().result(method, p)


class FileServer(FakeBotAPIServer):
    def __init__(self, fake: FilesTelegram):
        super().__init__(fake)
        self.downloads = 0
        self.app.router.add_get("/file/bot{token}/photos/{name}", self.file)

    async def file(self, request: web.Request) -> web.Response:
        assert request.match_info["token"] == TOKEN
        self.downloads += 1
        fid = request.match_info["name"].removesuffix(".jpg")
        return web.Response(body=self.fake.files[fid], content_type="image/jpeg")  # type: ignore[attr-defined]


def photo_update(user: int, file_id: str, size: int, caption: str | None = None) -> dict[str, Any]:
    sizes = [{"file_id": f"{file_id}-small", "file_unique_id": "s", "width": 90, "height": 90, "file_size": 100},
             {"file_id": file_id, "file_unique_id": "b", "width": 1280, "height": 960, "file_size": size}]
    extra: dict[str, Any] = {"photo": sizes}
    if caption:
        extra["caption"] = caption
    return message_update(user, None, lang="en", **extra)


async def test_telegram_photo_is_downloaded_kept_and_erased(make_engine, settings):
    fake = FilesTelegram()
    fake.files["big1"] = PHOTO
    fake.files["huge"] = b"0" * 2048
    api = await FileServer(fake).start()
    engine = make_engine()
    s = tg_settings(settings, api, bot_media_max_file_mb=0.001)   # ~1 KB per file for the "huge" one
    bot = TelegramBot(engine, s.model_copy(update={"bot_media_max_file_mb": 1.0}), pace=0, poll_timeout=1)
    await bot.start()
    try:
        update = api.push(photo_update(601, "big1", len(PHOTO)))
        await until(lambda: handled(engine, update, 601), what="photo handled")
        user_id = engine.store.user("telegram", "601")["id"]
        [row] = engine.store.files.of_user(user_id)
        assert row["sha256"] == hashlib.sha256(PHOTO).hexdigest() and Path(row["path"]).read_bytes() == PHOTO
        assert [p["file_id"] for p in fake.of("getFile")] == ["big1"]              # the largest size only
        reply = fake.texts(601)[-1]
        assert row["sha256"][:16] in reply
        # over the per-file cap: Telegram said its size, nothing is downloaded
        bot.settings = s
        update = api.push(photo_update(601, "huge", 2048))
        await until(lambda: handled(engine, update, 601), what="big photo handled")
        assert api.downloads == 1 and engine.store.files.count(user_id) == 1
        assert fake.texts(601)[-1].startswith(engine.k.text("en", "media.too_big",
                                                             kind=engine.k.text("en", "media.kind.photo")))
        path = Path(row["path"])
        engine.store.delete_user(user_id)
        assert not path.exists()
    finally:
        await bot.stop()
        await api.stop()
