"""Telegram: the whole bot through python-telegram-bot 22, by long polling or a webhook.

The adapter stays thin: a Telegram update becomes an `Inbound`, `Engine.handle` decides
everything, and each `Reply` becomes Bot API calls. What is Telegram-specific lives in
this package, one concern per module (each module's docstring explains its part):

    render.py     text and keyboards (pure): UTF-16 length, splitting into parts of at most
                  4096 units at paragraph/line/sentence boundaries, HTML escaping, inline
                  keyboards from Reply buttons, the "✓ answer" marker of answered questions
    inbound.py    which updates the engine handles, as Inbounds (private chats only)
    processor.py  durability and order: the journalling update queue and the per-chat
                  ordered, cross-chat concurrent update processor
    pacing.py     flood control: about one message a second per chat, RetryAfter
    inline.py     draft sharing: the share button, draft lookup by fingerprint, inline
                  query answers
    webhook.py    the webhook: its secret token and the `POST /telegram` route
    adapter.py    TelegramBot: the Application, handlers, delivery (pacing, RetryAfter,
                  retries), the command menu, start-up recovery, lifecycle; all Bot API I/O;
                  the channel contract (bot/channels/base.py)

`configure(engine, settings)` makes the channel when TELEGRAM_BOT_TOKEN is set.

Logs carry update ids, chat ids, method names and error types, never message text.
"""

from bot.channels.telegram.adapter import (
    ALLOWED_UPDATES,
    MAX_ATTEMPTS,
    ChatGone,
    NotSent,
    TelegramBot,
    quiet_library_loggers,
)
from bot.channels.telegram.inbound import CHANNEL, attachment_kind, inbox_id, lang_of, to_inbound
from bot.channels.telegram.inline import LONG_DRAFT, draft_digest, find_drafts, user_row
from bot.channels.telegram.pacing import Pacer, retry_seconds
from bot.channels.telegram.processor import ChatOrderedProcessor, JournalQueue, chat_key
from bot.channels.telegram.render import (
    MAX_CAPTION,
    MAX_UNITS,
    NO_PREVIEW,
    NOOP,
    button_label,
    keyboard,
    keyboard_ids,
    split_text,
    to_html,
    utf16_len,
)
from bot.channels.telegram.webhook import SECRET_HEADER, webhook_secret
from bot.config import Settings
from bot.core.engine import Engine

__all__ = [
    "ALLOWED_UPDATES", "CHANNEL", "LONG_DRAFT", "MAX_ATTEMPTS", "MAX_CAPTION", "MAX_UNITS",
    "NOOP", "NO_PREVIEW", "SECRET_HEADER",
    "ChatGone", "ChatOrderedProcessor", "JournalQueue", "NotSent", "Pacer", "TelegramBot",
    "attachment_kind", "button_label", "chat_key", "configure", "draft_digest", "find_drafts", "inbox_id", "keyboard",
    "keyboard_ids", "lang_of", "quiet_library_loggers", "retry_seconds", "split_text", "to_html", "to_inbound",
    "user_row", "utf16_len", "webhook_secret",
]


def configure(engine: Engine, settings: Settings) -> TelegramBot | None:
    """The channel when TELEGRAM_BOT_TOKEN is set (polling, or a webhook with
    TELEGRAM_WEBHOOK_URL); None otherwise."""
    return TelegramBot(engine, settings) if settings.telegram_bot_token else None
