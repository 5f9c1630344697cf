"""Shared fixtures. The conversation fixture types messages into the real engine.

    def test_something(chat):
        replies = chat.say("催收打我公司电话合法吗")   # -> list[Reply]
        chat.press("o:zh")                            # press a button by id
        chat.press_label("中文")                       # ... or by its label on the last screen
        chat.text                                      # all text of the last replies, joined
        chat.buttons                                   # ids of the buttons on the last screen
    def test_restart(chat, restart):
        chat.say("/start")
        chat2 = restart(chat)                          # a new engine on the same database file

Everything is real: content/ and dialogs/ from the repo, SQLite in a temporary file, a fixed
clock (2026-11-29 10:00 in Asia/Shanghai) unless a test passes its own.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import Loaded, build_engine, fixed_clock, load_content
from bot.config import Settings
from bot.core.engine import Engine
from bot.core.models import Inbound, Reply

NOW = dt.datetime(2026, 11, 29, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
_ids = itertools.count(1)


class Chat:
    def __init__(self, engine: Engine, user: str = "u1", channel: str = "test", lang: str | None = None):
        self.engine = engine
        self.user = user
        self.channel = channel
        self.lang_hint = lang
        self.last: list[Reply] = []
        self.history: list[list[Reply]] = []

    def send(self, text: str | None = None, choice: str | None = None, message_id: str | None = None,
             **extra: object) -> list[Reply]:
        inbound = Inbound(channel=self.channel, user=self.user, text=text, choice=choice,
                          message_id=message_id or f"m{next(_ids)}", lang_hint=self.lang_hint, **extra)
        self.last = self.engine.handle(inbound)
        self.engine.ack(inbound)
        self.history.append(self.last)
        return self.last

    def say(self, text: str) -> list[Reply]:
        return self.send(text=text)

    def press(self, button_id: str) -> list[Reply]:
        return self.send(choice=button_id)

    def press_label(self, label: str) -> list[Reply]:
        for reply in reversed(self.last):
            for b in reply.buttons:
                if b.label == label or b.label.lstrip("✓ ") == label:
                    return self.press(b.id)
        raise AssertionError(f"no button {label!r} on screen: {self.labels}")

    @property
    def text(self) -> str:
        return "\n\n".join(r.text for r in self.last)

    @property
    def buttons(self) -> list[str]:
        screen = next((r for r in reversed(self.last) if r.buttons), None)
        return [b.id for b in screen.buttons] if screen else []

    @property
    def labels(self) -> list[str]:
        screen = next((r for r in reversed(self.last) if r.buttons), None)
        return [b.label for b in screen.buttons] if screen else []


@pytest.fixture(scope="session")
def loaded() -> Loaded:
    return load_content(Settings(_env_file=None))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, bot_db_path=tmp_path / "bot.db")


@pytest.fixture
def make_engine(settings: Settings, loaded: Loaded) -> Callable[..., Engine]:
    def make(clock: dt.datetime = NOW) -> Engine:
        return build_engine(settings, clock=fixed_clock(clock), loaded=loaded)
    return make


@pytest.fixture
def engine(make_engine: Callable[..., Engine]) -> Engine:
    return make_engine()


@pytest.fixture
def chat(engine: Engine) -> Chat:
    return Chat(engine)


@pytest.fixture
def chat_en(engine: Engine) -> Chat:
    c = Chat(engine, user="u-en", lang="en")
    return c


@pytest.fixture
def restart(make_engine: Callable[..., Engine]) -> Callable[[Chat], Chat]:
    """Simulate a process restart: a fresh engine and connection on the same database file."""
    def again(old: Chat) -> Chat:
        old.engine.store.db.close()
        new = Chat(make_engine(), user=old.user, channel=old.channel, lang=old.lang_hint)
        return new
    return again
