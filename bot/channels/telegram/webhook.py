"""The webhook's secret token (the HTTP side is bot/channels/http.py)."""

from __future__ import annotations

import hashlib
import hmac
import re

from bot.config import Settings

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


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
