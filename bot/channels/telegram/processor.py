"""The update pipeline: journalling as updates enter the queue, then per-chat ordering.

Durability (nothing the user sent is lost, nothing is answered twice)
    Every update that carries a user message or a button press is journalled in the
    engine's inbox (status "received", with the Inbound as payload) *as it enters the
    Application's update queue* (`JournalQueue.put`). In polling mode PTB's Updater puts a
    whole getUpdates batch into the queue before the next getUpdates call confirms it to
    Telegram, so an update is durable before Telegram forgets it. In webhook mode the HTTP
    handler puts the update into the same queue before it answers 200 (bot/channels/http.py).
    At start-up `Engine.recover("telegram")` hands back what was journalled but never
    handled (it is handled now) and replies that were never confirmed sent; they are
    delivered before the bot takes new updates. Replies are acknowledged (`Engine.ack`)
    only after Telegram accepted them, so delivery is at least once; a duplicate update
    (same update_id) is answered from the inbox once and then ignored.

Order (per chat) with concurrency (across chats)
    `ChatOrderedProcessor` is a BaseUpdateProcessor that runs each update under an asyncio
    lock of its chat. PTB starts update tasks in arrival order and asyncio locks and
    semaphores wake waiters first-in first-out, so updates of one chat run one after
    another in order, while other chats run concurrently (PTB's plain concurrent mode
    would let a fast second message overtake a slow first one inside a conversation).
    The engine itself is synchronous and fast (SQLite, ~1 ms), so it runs on the event
    loop; what overlaps between chats is the network I/O of sending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

log = logging.getLogger("bot.telegram")


def chat_key(update: object) -> int | None:
    """The ordering key of an update: its chat (or, lacking one, its user); None: unordered."""
    if not isinstance(update, Update) or update.inline_query is not None:
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    return update.effective_user.id if update.effective_user else None


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Concurrent across chats, in order within a chat (see the module docstring).

    `on_arrival` sees each update before it waits for its chat (used to answer button presses
    at once, even while the chat is still busy with a long paced reply).

    max_concurrent_updates is generous because a task waiting for its chat's lock holds a
    slot: with a small bound, one user sending dozens of messages could occupy every slot
    and make other chats wait. Waiting tasks cost only memory; the work in flight is bounded
    by the rate limiter and the pacer.
    """

    def __init__(self, max_concurrent_updates: int = 1024, on_arrival: Callable[[object], None] | None = None):
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}
        self._on_arrival = on_arrival

    @contextlib.asynccontextmanager
    async def chat(self, key: int) -> AsyncIterator[None]:
        """Hold the chat's lock (also used for start-up recovery and scheduled deliveries)."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key]
                del self._locks[key]

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        if self._on_arrival is not None:
            self._on_arrival(update)  # synchronous: must not reorder updates before the lock
        key = chat_key(update)
        if key is None:
            await coroutine
            return
        async with self.chat(key):
            await coroutine

    async def initialize(self) -> None:
        """Nothing to set up: locks are made per chat on demand and dropped when idle."""

    async def shutdown(self) -> None:
        """Nothing to free."""

    @property
    def active_chats(self) -> int:
        return len(self._locks)


class JournalQueue(asyncio.Queue):
    """The Application's update queue; every update is journalled as it is put in.

    Both ways in go through here: the Updater's polling loop (before it confirms the batch
    to Telegram with the next getUpdates offset) and our webhook handler (before it answers
    200). A failure to journal is logged and the update is still queued: the engine
    journals it again when it handles it.
    """

    def __init__(self, journal: Callable[[Update], None]):
        super().__init__()
        self._journal = journal

    def _record(self, item: object) -> None:
        if isinstance(item, Update):
            try:
                self._journal(item)
            except Exception as exc:
                log.error("journal failed for update %s: %s", item.update_id, type(exc).__name__)

    async def put(self, item: object) -> None:
        self._record(item)
        await super().put(item)

    def put_nowait(self, item: object) -> None:
        self._record(item)
        super().put_nowait(item)
