"""The channel contract: what a channel is, the channels a process runs, and what every
channel does the same way. A platform's module adds only its translation: its messages in,
`Inbound` out; `Reply` in, its messages out.

    class Channel(Protocol):          # what the services, the HTTP server and the reminder loop use
        name: str                     # Inbound.channel, and the users' channel in the database
        can_push: bool                # push() can reach a user who did not just write
        async def start(self) -> None
        async def stop(self) -> None
        async def push(self, user, replies) -> bool   # True: delivered; False: not now
    optional:
        def routes(self, app)         # an HTTP channel mounts its endpoints (bot/channels/http.py)
        def health(self) -> str | None    # its state in /healthz (None: not reported)
        def announce(self) -> str | None  # the line printed once it started

    Channels                          # the channels of one process, by name (a registry)
    configure(engine, settings, names)    # the configured ones of bot.channels.MODULES

What every channel does, once, here:

- `ChannelBase.answer(inbound)`: the engine in the channel's worker thread
  (bot/channels/worker.py), dedup through the engine's inbox (a retried message id is never
  a second step: with `replay` it gets the stored replies again, without it only those not
  yet delivered), the ack, and the last-resort error: anything that escapes the engine is
  logged by type only (never the text) and raised as `HandlingFailed`, which the platform
  turns into its own error answer. `handle()` is the same for a channel without a worker
  (the terminal).
- `ChannelBase.once(key, user, make)`: for a platform that retries a request while it is
  still being answered and wants the very same response (WeChat: three tries in 15 s): the
  retry waits for the first answer, and within `retry_window` gets it from memory, so the
  step and its side effects (a pushed rest of a long answer) happen once; later retries are
  answered by the inbox (`replay`).
- `ChannelBase.forget(user)`: what the channel keeps in memory goes when a user deletes
  their data (/delete), on the event loop.
- `plain_text(replies)`: replies for a platform without buttons (WeChat, the terminal):
  buttons as `[N] label` lines (the user types the number or the label; the engine reads
  both), files inline. Splitting long text is bot/channels/textsplit.py, one JSON shape is
  `Reply.to_json()`.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, runtime_checkable

from bot.channels.expiring import Expiring
from bot.channels.worker import EngineWorker
from bot.core.models import Inbound, Reply

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.core.engine import Engine

T = TypeVar("T")
Send = Callable[[str, list[Reply]], Awaitable[bool]]

MAX_RECENT = 5000  # answers a channel keeps for its platform's retries (ChannelBase.once)


@runtime_checkable
class Channel(Protocol):
    """A channel as the services, the HTTP server and the reminder loop see it."""

    name: str
    can_push: bool

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def push(self, user: str, replies: list[Reply]) -> bool:
        """Replies nobody asked for just now (a due reminder) to the channel's user id `user`.
        True: delivered. False: cannot reach the user now (the reminder waits for their next
        message). Raises on a transient failure (the reminder loop retries)."""
        ...


class StartFailed(Exception):
    """A channel could not start; the message says what to check (printed, exit 1)."""


class BadInput(ValueError):
    """Input the engine cannot take; the message names the field, never its value."""


class HandlingFailed(Exception):
    """The last resort: answering failed outside the engine's own error handling (storage
    gone, a bug in a channel). Already logged; the platform answers with its error."""


# --- the registry ----------------------------------------------------------------------------

class Pusher:
    """A bare sender as a channel that can push (tests, benchmarks, embedders)."""

    def __init__(self, name: str, send: Send):
        self.name, self.send, self.can_push = name, send, True

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def push(self, user: str, replies: list[Reply]) -> bool:
        return await self.send(user, replies)


class Channels:
    """The channels of one process, by name, in the order they were added."""

    def __init__(self, channels: Iterable[Channel] = ()):
        self._by_name: dict[str, Channel] = {}
        for channel in channels:
            self.add(channel)

    def add(self, channel: Channel) -> Channel:
        if channel.name in self._by_name:
            raise ValueError(f"two channels named {channel.name!r}")
        self._by_name[channel.name] = channel
        return channel

    def register(self, name: str, send: Send) -> None:
        """A bare `send(user, replies) -> bool` as the channel `name` (replacing one)."""
        self._by_name[name] = Pusher(name, send)

    def unregister(self, name: str) -> None:
        self._by_name.pop(name, None)

    def get(self, name: str) -> Channel | None:
        return self._by_name.get(name)

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def pushers(self) -> list[str]:
        """The names of the channels that can push (the reminder loop sends through these)."""
        return sorted(n for n, c in self._by_name.items() if c.can_push)

    def __iter__(self) -> Iterator[Channel]:
        return iter(list(self._by_name.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __len__(self) -> int:
        return len(self._by_name)


def configure(engine: Engine, settings: Settings, names: Iterable[str]) -> list[Channel]:
    """The channels of bot.channels.MODULES named in `names` whose settings are set."""
    from bot.channels import MODULES

    out = []
    for name in names:
        channel = importlib.import_module(MODULES[name]).configure(engine, settings)
        if channel is not None:
            out.append(channel)
    return out


# --- what every channel does ---------------------------------------------------------------------

def numbered_reply(replies: Sequence[Reply]) -> int | None:
    """The index of the one reply whose buttons are numbered: the last one with buttons (the
    question on screen; the engine's typed numbers refer to it). None: no buttons at all."""
    return next((i for i in range(len(replies) - 1, -1, -1) if replies[i].buttons), None)


def plain_reply(reply: Reply, numbered: bool = True) -> str:
    """One reply as text: its buttons as `[N] label` lines when `numbered`, otherwise as
    `· label` lines (typing the label still presses it); files inline."""
    lines = [reply.text]
    if numbered:
        lines += [f"[{i}] {b.label}" for i, b in enumerate(reply.buttons, 1)]
    else:
        lines += [f"· {b.label}" for b in reply.buttons]
    for f in reply.files:
        lines.append(f"--- {f.name} ---")
        lines.append(f.content if f.content is not None else (f.url or ""))
        lines.append("--- end ---")
    return "\n".join(lines)


def plain_text(replies: Reply | Sequence[Reply]) -> str:
    """Replies for a platform without buttons: each reply's text, its files inline between
    `--- name ---` and `--- end ---`, replies separated by a blank line. At most one numbered
    list: the buttons of the last reply that has any are `[N] label` lines (a typed number
    always means that list, the one the user saw last: issue 14, item 5); buttons of earlier
    replies (an answer given in the middle of a question) are `· label` lines, pressed by
    typing the label."""
    if isinstance(replies, Reply):
        replies = [replies]
    last = numbered_reply(replies)
    return "\n\n".join(plain_reply(r, i == last) for i, r in enumerate(replies))


def failed(channel: str, exc: BaseException) -> HandlingFailed:
    """Log a failure outside the engine by its type and place, never the message, and give
    the HandlingFailed for the platform's error answer."""
    logging.getLogger(f"bot.{channel}").error("%s: handling failed: %s\n%s", channel, type(exc).__name__,
                                              "".join(traceback.format_tb(exc.__traceback__)))
    return HandlingFailed(channel)


def handle(engine: Engine, inbound: Inbound, *, replay: bool = False, ack: bool = True) -> list[Reply]:
    """The engine's replies to `inbound`, acknowledged unless `ack` is False (the channel then
    acks once the platform has them: `engine.ack`). A duplicate message id is never a second
    step: with `replay` it gets the stored replies again, without only those not yet
    delivered ([] once delivered). HandlingFailed when it fails (logged)."""
    try:
        replies = engine.handle(inbound, replay=replay)
        if ack:
            engine.ack(inbound)
    except Exception as exc:
        raise failed(inbound.channel, exc) from None
    return replies


class ChannelBase:
    """What every channel does, for a platform's channel to subclass: the engine in a worker
    thread of the channel's own (`self.worker`, on a connection of its own; `self.engine` is
    the engine given, for the small reads the event loop does itself), `answer`, `ack`,
    `once`, `forget`, and the contract's defaults (nothing to start; cannot push).

    Class attributes: `name`; `replay` (True: a retry of a message id gets the stored
    replies again, for platforms that retry a request: web, WeChat; False: a duplicate gets
    only the replies not yet delivered, for platforms that deliver asynchronously: Telegram).
    `retry_window` (seconds, or None): keep answers in memory for `once`.
    """

    name: str = ""
    replay: ClassVar[bool] = False
    can_push: bool = False

    def __init__(self, engine: Engine, *, retry_window: float | None = None,
                 clock: Callable[[], float] = time.monotonic):
        # The engine runs in one worker thread on a connection of its own, off the event loop:
        # /healthz and the other channels stay responsive under load, and one thread keeps each
        # user's messages in arrival order.
        self.engine = engine
        self.worker = EngineWorker(engine, self.name)
        self.worker.on_delete(self._deleted)
        # message key -> (user, the platform's answer): a retry within the window gets it again
        self.recent: Expiring | None = (Expiring(retry_window, MAX_RECENT, None, clock)
                                        if retry_window else None)
        self.inflight: dict[str, asyncio.Future[Any]] = {}  # message key -> its answer, while it is made

    # the contract's defaults -------------------------------------------------------------------
    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        """No new work; what is queued stays in the inbox for the next start."""
        self.worker.close()

    async def push(self, user: str, replies: list[Reply]) -> bool:
        return False

    def health(self) -> str | None:
        return None

    def announce(self) -> str | None:
        return None

    # messages ---------------------------------------------------------------------------------
    async def answer(self, inbound: Inbound | Callable[[Engine], Inbound], *,
                     ack: bool = True) -> tuple[Inbound, list[Reply]]:
        """(the inbound, the engine's replies), in the worker thread. `inbound` may be a
        function making it there, when making it reads the database (the web's session);
        BadInput from it goes to the caller as it is. With `ack` False the channel calls
        `ack` once the platform has the replies. HandlingFailed when anything else fails."""
        def work(engine: Engine) -> tuple[Inbound, list[Reply]]:
            message = inbound(engine) if callable(inbound) else inbound
            return message, handle(engine, message, replay=self.replay, ack=ack)

        try:
            return await self.worker.run(work)
        except (BadInput, HandlingFailed):
            raise
        except Exception as exc:
            raise failed(self.name, exc) from None

    async def ack(self, inbound: Inbound) -> None:
        """The platform has the replies to `inbound` (they stay stored for retries)."""
        await self.worker.run(lambda engine: engine.ack(inbound))

    async def once(self, key: str, user: str, make: Callable[[], Awaitable[T]]) -> T:
        """The platform's answer to the message `key` of `user`, made once by `make()`: a
        retry while it is being made waits for it (shielded: a request the platform gave up
        on still finishes, for its retry to find), and one within `retry_window` gets it
        from memory. HandlingFailed when making it failed (logged)."""
        if self.recent is not None:
            kept = self.recent.get(key)
            if kept is not None:
                return kept[1]
        task = self.inflight.get(key)
        if task is None:
            async def run() -> T:
                value = await make()
                if self.recent is not None:
                    self.recent.put(key, (user, value))
                return value

            task = self.inflight[key] = asyncio.ensure_future(run())
            task.add_done_callback(lambda _t: self.inflight.pop(key, None))
        try:
            return await asyncio.shield(task)
        except HandlingFailed:
            raise
        except Exception as exc:
            raise failed(self.name, exc) from None

    # privacy ----------------------------------------------------------------------------------
    def forget(self, user: str) -> None:
        """A user deleted their data: drop what the channel keeps about them in memory (a
        channel that keeps more extends this). Runs on the event loop."""
        if self.recent is not None:
            self.recent.drop_where(lambda item: item[0] == user)

    def _deleted(self, channel: str, user: str) -> None:
        if channel == self.name:
            self.forget(user)
