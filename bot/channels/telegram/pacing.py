"""Flood control helpers: per-chat pacing and reading a RetryAfter.

Flood control
    AIORateLimiter is the backstop for the bot-wide limit (30 messages/s, 20/min per
    group). On top, `Pacer` keeps about one message a second to the same chat when a reply
    takes several messages. A RetryAfter (429) is honoured per chat by `TelegramBot._call`
    (adapter.py): that chat's delivery sleeps for retry_after and tries again, while other
    chats carry on. Any failure to reach one user is logged (ids and types only) and never
    stops the others.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import warnings
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from telegram.error import RetryAfter


def retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


class Pacer:
    """About one message a second to the same chat: the Bot API FAQ's limit for one chat.

    The first message to an idle chat goes at once; each further one waits until `interval`
    has passed since the previous one. `clock` and `sleep` are injectable for tests.
    """

    def __init__(self, interval: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep):
        self.interval = interval
        self.clock = clock
        self.sleep = sleep
        self._last: OrderedDict[int, float] = OrderedDict()

    async def wait(self, chat_id: int) -> None:
        if self.interval <= 0:
            return
        last = self._last.get(chat_id)
        if last is not None:
            delay = last + self.interval - self.clock()
            if delay > 0:
                await self.sleep(delay)
        self._last[chat_id] = self.clock()
        self._last.move_to_end(chat_id)
        while len(self._last) > 10_000:
            self._last.popitem(last=False)
