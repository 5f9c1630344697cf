"""The webhook: its secret token and the `POST /telegram` route (mounted by TelegramBot.routes
on the HTTP server, bot/channels/http.py, in every mode: it answers 404 unless in webhook mode)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from typing import TYPE_CHECKING

from aiohttp import web

from bot.config import Settings

if TYPE_CHECKING:
    from bot.channels.telegram.adapter import TelegramBot

log = logging.getLogger("bot.http")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
PATH = "/telegram"


def webhook_secret(settings: Settings) -> str:
    """TELEGRAM_WEBHOOK_SECRET, or one derived from the token: a webhook is never left without
    a secret, since a forged update could act as any user (for example confirm /delete)."""
    if settings.telegram_webhook_secret:
        secret = settings.telegram_webhook_secret
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ValueError("TELEGRAM_WEBHOOK_SECRET: 1-256 characters of A-Z a-z 0-9 _ -")
        return secret
    token = (settings.telegram_bot_token or "").encode()
    return hmac.new(token, b"borrower-guard telegram webhook", hashlib.sha256).hexdigest()


async def receive(tg: TelegramBot, request: web.Request) -> web.Response:
    """Telegram posts one update per request. The secret header is compared in constant time
    (403 on mismatch); the update is journalled and queued, then 200 at once: the reply is
    sent by the Application through the Bot API, not in this response."""
    if not tg.webhook_mode:
        raise web.HTTPNotFound()
    if not tg.started:
        raise web.HTTPServiceUnavailable()  # Telegram retries later
    given = request.headers.get(SECRET_HEADER, "")
    if not hmac.compare_digest(given.encode(), tg.secret.encode()):
        log.warning("telegram webhook: wrong or missing secret token")
        raise web.HTTPForbidden()
    try:
        data = await request.json()
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deep
        return web.json_response({"error": "body must be a JSON object"}, status=400)
    if not isinstance(data, dict):
        return web.json_response({"error": "body must be a JSON object"}, status=400)
    await tg.feed_webhook(data)
    return web.Response(status=200)
