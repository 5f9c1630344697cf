"""Downloading what users send (photos, voice notes, videos, files) to keep as evidence.

Every channel that can fetch a file does the same: stream it into a temporary file (mode
0600) in the files directory beside the database, hash it with SHA-256 on the way, stop at
the per-file cap (BOT_MEDIA_MAX_FILE_MB), and hand the engine an Inbound whose `media` has the
path, hash and size, or a `problem`. The engine's media action then keeps it in the user's
case (bot/actions/media.py, storage/files.py). The platform's own call (Telegram's getFile,
WeChat's media/get) is the only part that differs; it lives with the channel.

Nothing here logs a file name; only sizes and outcomes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterable, Awaitable, Callable
from pathlib import Path

from bot.config import Settings
from bot.core.models import Inbound, Media
from storage.files import files_dir, remove, temp_file

log = logging.getLogger("bot.media")
CHUNK = 64 * 1024


class TooBig(Exception):
    """The file is over the per-file cap (known before or found while downloading)."""


def cap(settings: Settings) -> int:
    return int(settings.bot_media_max_file_mb * (1 << 20))


def directory(settings: Settings) -> Path:
    return files_dir(settings.bot_db_path)


async def save_stream(chunks: AsyncIterable[bytes], into: Path, max_bytes: int) -> tuple[Path, str, int]:
    """Write `chunks` to a new temporary file in `into`: (its path, SHA-256 hex, size).
    Over `max_bytes` the partial file is removed and TooBig raised; any other failure
    removes it too and re-raises."""
    path = temp_file(into)
    digest, size = hashlib.sha256(), 0
    try:
        with path.open("wb") as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise TooBig
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        remove([path])
        raise
    return path, digest.hexdigest(), size


def hash_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


async def fetched(inbound: Inbound, fetch: Callable[[Media], Awaitable[Media]]) -> Inbound:
    """`inbound` with its media downloaded by `fetch` (which fills path/sha256/size or sets a
    problem); unchanged when there is nothing to fetch. Never raises: a failure becomes
    `problem="failed"`, so the user hears that the file was not kept."""
    media = inbound.media
    if media is None or media.path is not None or media.problem is not None:
        return inbound
    try:
        done = await fetch(media)
    except TooBig:
        done = media.model_copy(update={"problem": "too_big"})
    except Exception as exc:  # the platform or the disk: the user is told, nothing else breaks
        log.warning("media download failed: %s", type(exc).__name__)
        done = media.model_copy(update={"problem": "failed"})
    return inbound.model_copy(update={"media": done})
