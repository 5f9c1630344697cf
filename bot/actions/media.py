"""Photos, voice notes, videos and files the user sends are kept as evidence (issue 14 item 6).

The channel has already downloaded the file (bot/channels/media.py) into the files directory
beside the database, computing its SHA-256 on the way, and capped it per file. Here it is
given its final name and recorded in the user's current case (the lender logged to last,
else the newest one: bot/actions/evidence.py `current_case`), or in no case when the user has
none yet (every case's bundle then lists it), with the time it arrived. The reply says what
was kept, its fingerprint, and that /export lists it and /delete removes it; past the
per-user quota the file is dropped and the reply says so.

Nothing here logs a file name or content; the rows and files are the user's (/export, /delete).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bot import locale
from bot.actions.evidence import case_lender, current_case
from bot.actions.registry import ActionContext, on_media
from bot.core.models import Media, Reply
from storage.files import TMP_PREFIX, remove

#: shown to the user: enough of the SHA-256 to compare with a copy, the whole is in /export
FINGERPRINT = 16


def _drop(media: Media) -> None:
    if media.path:
        remove([Path(media.path)])


def _downloaded(ctx: ActionContext, media: Media) -> bool:
    """A temporary download of a channel's, in the files directory: never any other path (a
    path in an Inbound comes from a channel, but a wrong one must not move a file in)."""
    if not media.path or not media.sha256 or ctx.files_dir is None:
        return False
    path = Path(media.path)
    if path.parent.resolve() != ctx.files_dir.resolve() or not path.name.startswith(TMP_PREFIX):
        return False
    return path.is_file()


def size_text(size: int) -> str:
    """A file size for people: 812 KB, 3.4 MB."""
    if size < 1 << 20:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / (1 << 20):.1f} MB"


@on_media
def keep_media(ctx: ActionContext, media: Media) -> list[Reply]:
    kind = ctx.t(f"media.kind.{media.kind}")
    if media.problem == "unavailable":
        return [Reply(text=ctx.t("media.unavailable", kind=kind), kind="notice")]
    if media.problem == "too_big":
        return [Reply(text=ctx.t("media.too_big", kind=kind), kind="notice")]
    if media.problem is not None or not _downloaded(ctx, media) or media.path is None or media.sha256 is None:
        return [Reply(text=ctx.t("media.failed", kind=kind), kind="notice")]
    if ctx.store.files.total_bytes(ctx.user_id) + media.size > ctx.media_quota:
        _drop(media)
        return [Reply(text=ctx.t("media.full", size=size_text(ctx.media_quota)), kind="notice")]
    case = current_case(ctx)
    received = ctx.now.astimezone(dt.UTC)
    ctx.store.files.keep(ctx.user_id, case["id"] if case else None, Path(media.path),
                         name=media.name or f"{media.kind}-{ctx.now:%Y%m%d-%H%M%S}", mime=media.mime,
                         size=media.size, sha256=media.sha256, received_at=received)
    when = f"{locale.fmt_date(ctx.now.date(), ctx.lang)} {ctx.now:%H:%M}"
    where = (ctx.t("media.in_case", lender=case_lender(case)) if case is not None
             else ctx.t("media.no_case"))
    return [Reply(text=ctx.t("media.saved", kind=kind, when=when, size=size_text(media.size),
                             sha=media.sha256[:FINGERPRINT], where=where), kind="notice")]
