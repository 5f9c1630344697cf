"""The engine off the event loop: one worker thread per channel, on a connection of its own.

Every engine call does SQLite and CPU work (the crisis model, the matcher, the letters).
Run on the event loop, 200 web clients kept `/healthz` waiting for a second; in a worker
thread the loop only parses, routes and sends. One thread per channel keeps each user's
messages in arrival order (a channel submits a user's messages one after the other) and
keeps one connection's transactions from interleaving with another thread's.

    worker = EngineWorker(engine, "web")
    replies = await worker.run(lambda e: e.handle(inbound, replay=True))
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from bot.core.engine import Engine

T = TypeVar("T")


class EngineWorker:
    def __init__(self, engine: Engine, name: str):
        self.engine = engine.twin()  # its own connection (the same engine for ":memory:")
        self.pool = ThreadPoolExecutor(1, thread_name_prefix=f"{name}-engine")
        self.loop: asyncio.AbstractEventLoop | None = None  # the loop of the last run()

    async def run(self, call: Callable[[Engine], T]) -> T:
        """`call(engine)` in the worker thread; the caller's task waits, the loop does not."""
        self.loop = asyncio.get_running_loop()
        return await self.loop.run_in_executor(self.pool, call, self.engine)

    def on_delete(self, listener: Callable[[str, str], None]) -> None:
        """`listener(channel, external_id)` runs on the event loop after a user deleted their
        data through this worker (what a channel keeps in memory belongs to the loop)."""
        def on_loop(channel: str, user: str) -> None:
            if self.loop is None:  # never run: the delete came from the caller's own thread
                listener(channel, user)
            else:
                self.loop.call_soon_threadsafe(listener, channel, user)

        self.engine.store.on_delete.append(on_loop)

    def close(self) -> None:
        """No new work; what is queued is dropped (its messages stay in the inbox, unhandled
        or unacknowledged, and are recovered at the next start)."""
        self.pool.shutdown(wait=False, cancel_futures=True)
