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

Everything is real: content/ and dialogs/ from the repo, SQLite in a temporary file, and a
`clock` fixture (a ManualClock at 2026-11-29 10:00 in Asia/Shanghai) that tests can move.

Tests look UI texts up by key (content/<lang>/ui/*.yaml), so a copy edit breaks no test of behaviour:

    from tests.conftest import shown, ui, ui_head
    assert ui("cancel.nothing") in chat.text                      # the whole text, rendered
    assert ui("lang.set", "en") in chat.text                       # ... in another language
    assert chat.last[-1].text.startswith(ui("start.need.q"))
    assert shown("input.too_long", chat.text, max=4000)            # a template, placeholders = any text
    assert chat.text.startswith(ui_head("flow.review.title"))      # the text before the first {placeholder}

Literals stay where the wording itself is what a test checks: legal statements that must (not)
appear, facts and numbers, the user's own words in a letter, interface formats.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import itertools
import re
import string
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import Loaded, build_engine, fixed_clock, load_content
from bot.config import Settings
from bot.core.engine import Engine
from bot.core.models import Inbound, Reply
from bot.knowledge.loader import Knowledge
from bot.knowledge.matcher import Matcher
from bot.scheduler import ManualClock

NOW = dt.datetime(2026, 11, 29, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
# Tests that start processes (the bot's CLI or server, a browser) or whole files of them:
# marked `processes`, so `make test-fast` (pytest -m "not processes") is a quick loop;
# `make test` runs everything.
PROCESS_FILES = {"test_cli.py", "test_crash.py", "test_durability.py", "test_fuzz.py", "test_shutdown.py",
                 "test_web_page.py"}
_STARTS_PROCESS = re.compile(r"subprocess\.(?:run|Popen|check_output)|create_subprocess_exec|start_process\(|"
                             r"web_server|\bServer\(|chromium")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fn = getattr(item, "function", None)
        try:
            source = inspect.getsource(fn) if fn else ""
        except (OSError, TypeError):
            source = ""
        if item.path.name in PROCESS_FILES or _STARTS_PROCESS.search(source):
            item.add_marker(pytest.mark.processes)


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
    def user_id(self) -> int:
        return self.engine.store.user(self.channel, self.user)["id"]

    def table_rows(self, table: str) -> list[dict]:
        """This user's rows of a user-owned table, oldest first."""
        return list(self.engine.store.db.query(f"SELECT * FROM {table} WHERE user_id = ? ORDER BY id",
                                               [self.user_id]))

    @property
    def labels(self) -> list[str]:
        screen = next((r for r in reversed(self.last) if r.buttons), None)
        return [b.label for b in screen.buttons] if screen else []


class Talk(Chat):
    """A user who chose a language with /lang first; `buttons` spans all the last replies."""

    def __init__(self, engine: Engine, user: str = "u1", lang: str | None = "zh", channel: str = "test"):
        super().__init__(engine, user=user, channel=channel)
        if lang:
            self.say(f"/lang {lang}")

    def say(self, text: str | None = None, choice: str | None = None) -> list[Reply]:  # type: ignore[override]
        return self.send(text=text, choice=choice)

    @property
    def buttons(self) -> list[str]:
        return [b.id for r in self.last for b in r.buttons]


_PLACEHOLDER = re.compile(r"(?<!\{)\{[^{}]*\}")       # a {field}, not a {{literal brace}}


@functools.cache
def shipped() -> Loaded:
    """The shipped content and dialogs, loaded once per test process."""
    return load_content(Settings(_env_file=None))


def ui(key: str, lang: str = "zh", /, **values: object) -> str:
    """The UI text `key` in `lang` as the bot shows it: placeholders filled from `values`, ends stripped.

    A template with {placeholders} needs all their values: for a part of it use `shown` or `ui_head`."""
    template = shipped().knowledge.ui[lang][key]
    missing = {name for _, name, _, _ in string.Formatter().parse(template) if name} - set(values)
    if missing:
        raise AssertionError(f"ui text {key!r} ({lang}) needs values for {sorted(missing)}: "
                             "pass them, or use shown() / ui_head()")
    return shipped().knowledge.text(lang, key, **values).strip()


def ui_head(key: str, lang: str = "zh") -> str:
    """The fixed start of the text `key`: everything before its first {placeholder} (or all of it)."""
    head = _PLACEHOLDER.split(shipped().knowledge.ui[lang][key], maxsplit=1)[0].strip()
    if not head:
        raise AssertionError(f"ui text {key!r} ({lang}) starts with a placeholder: use shown()")
    return head


def ui_re(key: str, lang: str = "zh", /, **values: object) -> re.Pattern[str]:
    """A regex for the text `key`: fixed parts literally, each {placeholder} its value if given
    (formatted with the template's format spec), any text otherwise."""
    template = shipped().knowledge.ui[lang][key].strip()
    parts: list[str] = []
    for literal, name, spec, _conv in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if name is None:
            continue
        if name in values:
            parts.append(re.escape(format(values[name], spec or "")))
        else:
            parts.append(r"(?s:.+?)")
    return re.compile("".join(parts))


def shown(key: str, text: str, lang: str = "zh", /, **values: object) -> bool:
    """Whether `text` contains the UI text `key` (placeholders filled from `values`, any text else)."""
    return ui_re(key, lang, **values).search(text) is not None


@pytest.fixture(scope="session")
def loaded() -> Loaded:
    return shipped()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, bot_db_path=tmp_path / "bot.db")


@pytest.fixture
def clock() -> ManualClock:
    """The engine's clock: stands at NOW until a test moves it (no sleeps anywhere)."""
    return ManualClock(NOW)


@pytest.fixture
def make_engine(settings: Settings, loaded: Loaded, clock: ManualClock) -> Callable[..., Engine]:
    def make(at: dt.datetime | None = None) -> Engine:
        return build_engine(settings, clock=fixed_clock(at) if at else clock, loaded=loaded)
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


@pytest.fixture(scope="session")
def knowledge(loaded: Loaded) -> Knowledge:
    """The shipped content (the same object as loaded.knowledge)."""
    return loaded.knowledge


@pytest.fixture(scope="session")
def matcher(loaded: Loaded) -> Matcher:
    """The matcher over the shipped content, built once and shared with the engines."""
    return loaded.matcher
