"""The HTTP server (aiohttp): /healthz and the routes of whatever channels are configured.

    app = create_app(ServerContext(settings, engine, channels=Channels([bot])))

This module knows no channel by name. `create_app` mounts the routes of every channel in
`ctx.channels` that has a `routes(app)` (bot/channels/base.py: the web chat's `/` and
`/api/chat`, WeChat's `/wechat`, Telegram's `/telegram` webhook) and reports each one's
`health()` in /healthz. With `hooks=None` it first configures the channels of
bot.channels.SERVED from the settings (the app then starts and stops them); tests and
embedders pass `hooks=[...]` instead, each `hook(app, ctx)`.

`run_services` is the lifecycle behind `python -m bot run | serve | telegram`: configure the
channels named (bot.channels.MODULES; a channel whose settings are missing is skipped),
start them, the HTTP server and the reminder loop (bot/scheduler.py, pushing through the
channels that can push), print where they listen, wait for SIGINT/SIGTERM, stop in reverse
order (the reminder loop, then the HTTP server, so no new webhook update arrives while a
channel drains, then the channels), all within STOP_TIMEOUT whatever the network does
(unsent replies stay in the database).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from aiohttp import web

from bot.channels import MODULES, SERVED
from bot.channels.base import Channel, Channels, StartFailed, configure
from bot.config import Settings
from bot.core.engine import Engine
from bot.core.models import Reply

log = logging.getLogger("bot.http")

OPTIONAL_ROUTES = tuple(MODULES[name] for name in SERVED)
# /healthz has always said "telegram": "off" when this process runs no Telegram; monitors read it
ALWAYS_REPORTED = ("telegram",)
MAX_BODY = 1024 * 1024
TICK_STALE = 300.0  # seconds without a reminder tick before /healthz says unhealthy
STOP_TIMEOUT = 8.0  # seconds from SIGTERM to every component stopped, whatever the network does

Sender = Callable[[str, list[Reply]], Awaitable[bool]]


@dataclass
class ServerContext:
    """What route handlers need; stored on the app as app[CTX]."""

    settings: Settings
    engine: Engine
    channels: Channels = field(default_factory=Channels)
    started: float = field(default_factory=time.monotonic)
    reminders: bool = False          # this process runs the reminder loop
    last_tick: float | None = None   # monotonic time it last finished a tick

    def ticked(self) -> None:
        self.last_tick = time.monotonic()

    @property
    def senders(self) -> dict[str, Sender]:
        """The `push` of each channel that can push, by name (what the reminder loop uses)."""
        return {c.name: c.push for c in self.channels if c.can_push}


RouteHook = Callable[[web.Application, ServerContext], None]
CTX = web.AppKey("ctx", ServerContext)


def _start_reminders(engine: Engine, ctx: ServerContext, stop: asyncio.Event) -> asyncio.Task | None:
    """The reminder loop (bot/scheduler.py), pushing through the channels this process runs."""
    try:
        from bot.scheduler import run_scheduler
    except ImportError:  # no reminder feature in this build
        return None
    return asyncio.create_task(run_scheduler(engine, ctx.channels, stop_event=stop, on_tick=ctx.ticked),
                               name="reminders")


async def _until_stopped(work: Awaitable[None], stop: asyncio.Event) -> bool:
    """Run `work` unless a stop signal comes first (then cancel it). True when it finished."""
    task = asyncio.ensure_future(work)
    waiter = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return False
    task.result()
    return True


async def _bounded(work: Awaitable[None], deadline: float, what: str) -> None:
    """One step of shutdown, given what is left until `deadline` (at least a moment). What it
    could not finish (a send to an unreachable API) is cancelled; the message stays in the
    database, unacknowledged, and goes out at the next start."""
    left = max(deadline - asyncio.get_running_loop().time(), 0.2)
    try:
        await asyncio.wait_for(work, left)
    except TimeoutError:
        log.warning("stopping: %s did not finish within %.0f s; its pending work stays in the database",
                    what, STOP_TIMEOUT)
    except Exception as exc:
        log.warning("stopping: %s failed: %s", what, type(exc).__name__)


def channel_hook(make: Callable[[Engine, Settings], Channel | None]) -> RouteHook:
    """A hook that configures a channel from the app's settings (`make` is a channel module's
    `configure`) and hands it to the app: in `ctx.channels`, started and stopped with the app."""
    def hook(app: web.Application, ctx: ServerContext) -> None:
        channel = make(ctx.engine, ctx.settings)
        if channel is None:
            return
        ctx.channels.add(channel)

        async def start(_app: web.Application) -> None:
            await channel.start()

        async def stop(_app: web.Application) -> None:
            await channel.stop()

        app.on_startup.append(start)
        app.on_cleanup.append(stop)
    return hook


def optional_hooks(names: Iterable[str] = OPTIONAL_ROUTES) -> list[RouteHook]:
    """A `channel_hook` for each channel module that exists and has a `configure`. A module
    that is missing is skipped; a module that fails to import for another reason fails loudly."""
    hooks: list[RouteHook] = []
    for name in names:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        make = getattr(module, "configure", None)
        if callable(make):
            hooks.append(channel_hook(make))
    return hooks


def create_app(ctx: ServerContext, hooks: Iterable[RouteHook] | None = None) -> web.Application:
    """The aiohttp application: /healthz and the routes of every channel in `ctx.channels`.
    hooks=None: first configure the channels of bot.channels.SERVED whose modules exist."""
    app = web.Application(client_max_size=MAX_BODY)
    app[CTX] = ctx
    app.router.add_get("/healthz", healthz)
    from bot.channels.documents import Documents  # /d/<token>: short-lived pages (storage.links)

    Documents(ctx.engine).routes(app)
    from bot.channels.bundle_page import BundlePages  # /d/<token>/zh, /events.csv: the evidence bundle
    from bot.channels.witness import WitnessPages  # /w: witnesses add to a borrower's log

    BundlePages(ctx.engine).routes(app)
    WitnessPages(ctx.engine).routes(app)
    for hook in optional_hooks() if hooks is None else hooks:
        hook(app, ctx)
    for channel in ctx.channels:
        routes = getattr(channel, "routes", None)
        if callable(routes):
            routes(app)
    return app


async def healthz(request: web.Request) -> web.Response:
    """200 {"ok": true, ...} when the database answers and the reminder loop (when this process
    runs one) finished a tick within TICK_STALE seconds; 503 otherwise."""
    ctx = request.app[CTX]
    db_ok = ctx.engine.store.ping()
    now = time.monotonic()
    body: dict[str, object] = {"ok": db_ok, "db": "ok" if db_ok else "error"}
    body.update(dict.fromkeys(ALWAYS_REPORTED, "off"))
    for channel in ctx.channels:  # each channel's own state ("telegram": "webhook" | "polling")
        health = getattr(channel, "health", None)
        state = health() if callable(health) else None
        if state is not None:
            body[channel.name] = state
    body["uptime_s"] = round(now - ctx.started, 1)
    if ctx.reminders:
        age = now - (ctx.last_tick if ctx.last_tick is not None else ctx.started)
        body["reminders_tick_age_s"] = round(age, 1)
        if age > TICK_STALE:
            body["ok"], body["reminders"] = False, "stale"
    return web.json_response(body, status=200 if body["ok"] else 503)


async def run_services(settings: Settings, engine: Engine, *, channels: Sequence[str] = tuple(MODULES),
                       http: bool = True, hooks: Iterable[RouteHook] = (), host: str | None = None,
                       port: int | None = None, out: TextIO = sys.stdout, stop: asyncio.Event | None = None) -> int:
    """Run the `channels` (names of bot.channels.MODULES; those whose settings are missing
    are skipped), with the HTTP server when `http`, until SIGINT/SIGTERM (or `stop` is set).
    Returns the exit code."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    ctx = ServerContext(settings, engine)
    runner: web.AppRunner | None = None
    reminders: asyncio.Task | None = None
    try:
        for channel in configure(engine, settings, channels):
            ctx.channels.add(channel)
        for channel in ctx.channels:
            if not await _until_stopped(channel.start(), stop):
                return 0
            line = channel.announce() if hasattr(channel, "announce") else None
            if line:
                print(line, file=out, flush=True)
        if http:
            runner = web.AppRunner(create_app(ctx, hooks), access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, host or settings.bot_host, settings.bot_port if port is None else port)
            await site.start()
            for address in runner.addresses:
                shown_host, shown_port = address[0], address[1]
                shown = f"[{shown_host}]" if ":" in shown_host else shown_host
                print(f"Borrower Guard listening on http://{shown}:{shown_port}", file=out, flush=True)
        reminders = _start_reminders(engine, ctx, stop)
        ctx.reminders = reminders is not None
        await stop.wait()
        print("Stopping…", file=out, flush=True)
        return 0
    except StartFailed as exc:
        print(exc, file=sys.stderr, flush=True)
        return 1
    finally:
        stop.set()
        deadline = loop.time() + STOP_TIMEOUT
        if reminders is not None:  # first: it may be pushing through a channel
            await _bounded(reminders, deadline, "the reminder loop")
        if runner is not None:
            await _bounded(runner.cleanup(), deadline, "the HTTP server")
        for channel in reversed(list(ctx.channels)):
            await _bounded(channel.stop(), deadline, f"the {channel.name} channel")
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
