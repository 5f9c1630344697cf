"""Settings from the environment and a `.env` file (names fixed by shared/spec/interfaces.md)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

from limits import parse_many
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.locale import LOCALE_FILE, available

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_db_path: Path = Path("data/bot.db")
    bot_default_lang: str = "zh"         # a language of content/ (a folder with a locale.yaml)
    bot_timezone: str = "Asia/Shanghai"
    bot_host: str = "127.0.0.1"
    bot_port: int = Field(8080, ge=0, le=65535)
    bot_content_dir: Path = ROOT / "content"
    bot_dialogs_dir: Path = ROOT / "dialogs"
    #: trained models kept between starts (plain arrays, keyed by what they were trained on)
    bot_cache_dir: Path = ROOT / "data" / "cache"

    #: HTTP API rate limits (`limits` notation; "" turns one off). Per web session; per client
    #: address (a loopback peer is a local reverse proxy: its X-Forwarded-For counts, and
    #: without one there is no address limit); and new sessions per address.
    bot_rate_session: str = "60/10 seconds"
    bot_rate_address: str = "600/minute"
    bot_rate_new_session: str = "60/minute;1000/hour"

    telegram_bot_token: str | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = None

    wechat_token: str | None = None
    wechat_app_id: str | None = None
    wechat_app_secret: str | None = None
    wechat_encoding_aes_key: str | None = None
    wechat_api_base_url: str = "https://api.weixin.qq.com"
    #: WeChat 订阅通知 (one-time subscription notification) template, for follow-ups weeks later
    wechat_subscribe_template_id: str | None = None
    #: the template's two keys: what the notification is about (a `thing`, 20 characters at
    #: most) and when it is due (a `time`), as the template in the WeChat admin names them
    wechat_subscribe_fields: str = "thing1,time2"

    #: this server as its users reach it (https://example.org), for links to its pages
    #: (a report's letters, the consent page); unset: no links are offered, and the bot says so
    bot_public_url: str | None = None
    #: days a link to a page of this server (`/d/<token>`) works
    bot_link_days: float = Field(7.0, gt=0, le=90)
    #: evidence files (photos, voice notes, documents sent in WeChat or Telegram): the largest
    #: file kept, and what one user may keep in all, in MB
    bot_media_max_file_mb: float = Field(20.0, gt=0, le=1024)
    bot_media_max_user_mb: float = Field(200.0, gt=0, le=100_000)

    @field_validator("bot_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)  # raises for an unknown zone, so a typo fails at start-up
        return value

    @field_validator("bot_rate_session", "bot_rate_address", "bot_rate_new_session")
    @classmethod
    def _rate(cls, value: str) -> str:
        if value.strip():
            parse_many(value)  # raises ValueError for a typo, at start-up
        return value

    @field_validator("bot_public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("https://", "http://")) or any(c in value for c in " \t\n\"'<>"):
            raise ValueError("BOT_PUBLIC_URL must be an http(s) URL such as https://example.org")
        return value

    @field_validator("wechat_subscribe_fields")
    @classmethod
    def _subscribe_fields(cls, value: str) -> str:
        keys = [k.strip() for k in value.split(",")]
        if len(keys) != 2 or not all(k.replace("_", "").isalnum() for k in keys):
            raise ValueError("WECHAT_SUBSCRIBE_FIELDS must be two template keys, e.g. thing1,time2")
        return ",".join(keys)

    @model_validator(mode="after")
    def _known_language(self) -> Settings:
        """BOT_DEFAULT_LANG must be a language of the content (content/<lang>/locale.yaml)."""
        if not (self.bot_content_dir / self.bot_default_lang / LOCALE_FILE).is_file():
            langs = ", ".join(available(self.bot_content_dir)) or "none"
            raise ValueError(f"BOT_DEFAULT_LANG {self.bot_default_lang!r} is not a language of "
                             f"{self.bot_content_dir} (there: {langs})")
        return self

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.bot_timezone)
