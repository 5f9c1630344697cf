"""Photos, voice notes and videos sent to the Official Account, kept as evidence (issue 14
item 6): downloaded from WeChat's temporary-media API (`GET /cgi-bin/media/get?access_token=
…&media_id=…`, which keeps a user's media for 3 days) into the files directory, hashed on the
way and capped per file (bot/channels/media.py); the engine's media action keeps them.

The answer is the file itself, or a JSON error ({"errcode": 40007} for an unknown media id;
40001/42001 for a token WeChat no longer accepts, fetched anew once). Without the API
credentials (passive replies only) nothing can be downloaded, and the user is told.
"""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp

from bot.channels.media import CHUNK, TooBig, save_stream
from bot.channels.wechat.api import TOKEN_ERRORS, WeChatAPI, WeChatAPIError, _errcode
from bot.core.models import Media

#: a video of the per-file cap takes a while on a slow link (the API's own calls: 10 s)
DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=180, sock_read=30)

#: MsgType -> the kind of evidence, and a file name and type when WeChat gives none
KINDS: dict[str, tuple[str, str, str]] = {
    "image": ("photo", "photo.jpg", "image/jpeg"),
    "voice": ("voice", "voice.amr", "audio/amr"),
    "video": ("video", "video.mp4", "video/mp4"),
    "shortvideo": ("video", "video.mp4", "video/mp4"),
}


def media_of(fields: dict[str, str]) -> Media | None:
    """The evidence in a WeChat message (its MediaId), or None for other kinds."""
    kind = KINDS.get(fields.get("MsgType", ""))
    media_id = fields.get("MediaId", "").strip()
    if kind is None or not media_id or len(media_id) > 256:
        return None
    what, name, mime = kind
    fmt = fields.get("Format", "").strip().lower()
    if what == "voice" and fmt.isalnum() and len(fmt) <= 8:
        name, mime = f"voice.{fmt}", f"audio/{fmt}"
    return Media(kind=what, ref=media_id, name=name, mime=mime)


async def download(api: WeChatAPI, item: Media, into: Path, max_bytes: int) -> Media:
    """`item` with the downloaded file (path, SHA-256, size). TooBig past `max_bytes`;
    WeChatAPIError when WeChat answers with an error."""
    if item.ref is None:
        return item.model_copy(update={"problem": "unavailable"})
    token = await api.access_token()
    for attempt in (1, 2):
        async with api._http().get(f"{api.base_url}/cgi-bin/media/get",
                                   params={"access_token": token, "media_id": item.ref},
                                   timeout=DOWNLOAD_TIMEOUT) as r:
            if r.status != 200:
                raise WeChatAPIError(f"media download HTTP {r.status}")
            ctype = r.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if ctype in ("application/json", "text/plain"):
                try:
                    code = _errcode(json.loads(await r.content.read(64 * 1024)))
                except ValueError:
                    code = None
                if code in TOKEN_ERRORS and attempt == 1:
                    token = await api.access_token(stale=token)
                    continue
                raise WeChatAPIError("media download refused", code)
            if r.content_length is not None and r.content_length > max_bytes:
                raise TooBig
            path, sha, size = await save_stream(r.content.iter_chunked(CHUNK), into, max_bytes)
            mime = ctype if "/" in ctype and len(ctype) <= 100 else item.mime
            return item.model_copy(update={"path": str(path), "sha256": sha, "size": size, "mime": mime})
    raise WeChatAPIError("access token refused twice")  # pragma: no cover - the loop returns or raises
