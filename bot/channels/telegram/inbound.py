"""Telegram updates as the engine's Inbound: which updates the engine handles, and how."""

from __future__ import annotations

from telegram import Message, Update

from bot import locale
from bot.channels.telegram.render import NOOP
from bot.core.models import Inbound, Media

CHANNEL = "telegram"


def lang_of(code: str | None, languages: list[str] | None = None) -> str | None:
    """The content's language that Telegram's language_code (zh-hans, en) chooses, or None."""
    return locale.from_tag(code, languages)


def attachment_kind(message: Message) -> str | None:
    """What the user sent besides text, in the Inbound's words; None for service messages."""
    if message.photo:
        return "photo"
    if message.voice or message.audio:
        return "voice"
    if message.video or message.video_note or message.animation:
        return "video"
    if message.document:
        return "file"
    if message.sticker:
        return "sticker"
    if message.location or message.venue:
        return "location"
    if message.effective_attachment is not None:
        return "other"
    return None


def media_of(message: Message) -> Media | None:
    """A photo (its largest size), voice note, audio, video or document to keep as evidence,
    by Telegram's file_id; downloaded later by the adapter (getFile). None for the rest."""
    if message.photo:
        p = message.photo[-1]
        return Media(kind="photo", ref=p.file_id, name="photo.jpg", mime="image/jpeg", size=p.file_size or 0)
    for kind, item in (("voice", message.voice), ("voice", message.audio), ("video", message.video),
                       ("video", message.video_note), ("file", message.document)):
        if item is not None:
            name = str(getattr(item, "file_name", None) or "")[:200]
            mime = str(getattr(item, "mime_type", None) or "application/octet-stream")[:100]
            return Media(kind=kind, ref=item.file_id, name=name, mime=mime,
                         size=item.file_size or 0)
    return None


def inbox_id(update: Update, user: str) -> str:
    """The inbox dedup key: the update_id, qualified by the user. Telegram restarts update ids
    at a random value after a week without updates; the user id keeps such a restart from
    colliding with an old id of someone else."""
    return f"{update.update_id}:{user}"


def to_inbound(update: Update) -> Inbound | None:
    """A private chat's message or button press as the engine's Inbound; None for anything
    the engine does not handle (groups, inline queries, edits, service messages, the inert
    marker button)."""
    query = update.callback_query
    if query is not None:
        data = query.data
        if not isinstance(data, str) or not data or data == NOOP or len(data) > 64:
            return None
        if query.message is None or query.message.chat.type != "private":
            return None  # our buttons live on private chat messages only
        user = str(query.from_user.id)
        return Inbound(channel=CHANNEL, user=user, message_id=inbox_id(update, user), choice=data,
                       lang_hint=query.from_user.language_code)
    message = update.message
    if message is None or message.chat.type != "private" or message.from_user is None:
        return None
    text = message.text if message.text is not None else message.caption
    kind = None if message.text is not None else attachment_kind(message)
    if text is None and kind is None:
        return None
    user = str(message.from_user.id)
    return Inbound(channel=CHANNEL, user=user, message_id=inbox_id(update, user), text=text,
                   attachment=kind, media=None if message.text is not None else media_of(message),
                   lang_hint=message.from_user.language_code)
