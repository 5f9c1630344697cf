"""The HTTP server (aiohttp): /healthz, the Telegram webhook, and room for the other channels.

    app = create_app(ServerContext(settings, engine, telegram=bot))

Other channels add their routes without editing this file: a module named in
OPTIONAL_ROUTES (bot.channels.web for `/` and `/api/chat`, bot.channels.wechat for
`/wechat`) that defines `setup_routes(app: web.Application, ctx: ServerContext)` is picked
up when it exists; tests and embedders pass `hooks=[...]` instead. `ctx.senders` maps a
channel name to an async `send(user, replies) -> bool`, for the reminder loop to deliver to
the user's own channel.

`run_services` is the lifecycle behind `python -m bot run | serve | telegram`: start the
channels and the reminder loop (bot/scheduler.py, sending through `ctx.senders`), print
where they listen, wait for SIGINT/SIGTERM, stop in reverse order (the reminder loop, then
the HTTP server, so no new webhook update arrives while the Telegram application drains),
all within STOP_TIMEOUT whatever the network does (unsent replies stay in the database).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import importlib
import logging
import signal
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from aiohttp import web
from telegram.error import TelegramError

from bot.config import Settings
from bot.core.engine import Engine
from bot.core.models import Reply

if TYPE_CHECKING:
    from bot.channels.telegram import TelegramBot

log = logging.getLogger("bot.http")

OPTIONAL_ROUTES = ("bot.channels.web", "bot.channels.wechat")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024
TICK_STALE = 300.0  # seconds without a reminder tick before /healthz says unhealthy
STOP_TIMEOUT = 8.0  # seconds from SIGTERM to every component stopped, whatever the network does

Sender = Callable[[str, Sequence[Reply]], Awaitable[bool]]


@dataclass
class ServerContext:
    """What route handlers need; stored on the app as app[CTX]."""

    settings: Settings
    engine: Engine
    telegram: TelegramBot | None = None
    senders: dict[str, Sender] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    reminders: bool = False          # this process runs the reminder loop
    last_tick: float | None = None   # monotonic time it last finished a tick

    def ticked(self) -> None:
        self.last_tick = time.monotonic()


RouteHook = Callable[[web.Application, ServerContext], None]
CTX = web.AppKey("ctx", ServerContext)


def _start_reminders(engine: Engine, ctx: ServerContext, stop: asyncio.Event) -> asyncio.Task | None:
    """The reminder loop (bot/scheduler.py), sending through the channels this process runs."""
    try:
        from bot.scheduler import Channels, run_scheduler
    except ImportError:  # no reminder feature in this build
        return None
    channels = Channels()
    for name, send in ctx.senders.items():
        channels.register(name, send)  # type: ignore[arg-type]
    return asyncio.create_task(run_scheduler(engine, channels, stop_event=stop, on_tick=ctx.ticked), name="reminders")


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


def optional_hooks(names: Iterable[str] = OPTIONAL_ROUTES) -> list[RouteHook]:
    """`setup_routes` of each channel module that exists. A module that is missing is
    skipped; a module that fails to import for another reason fails loudly."""
    hooks: list[RouteHook] = []
    for name in names:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        hook = getattr(module, "setup_routes", None)
        if callable(hook):
            hooks.append(hook)
    return hooks


def create_app(ctx: ServerContext, hooks: Iterable[RouteHook] | None = None) -> web.Application:
    """The aiohttp application. hooks=None: the optional channel modules that exist."""
    app = web.Application(client_max_size=MAX_BODY)
    app[CTX] = ctx
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/telegram", telegram_webhook)
    for hook in optional_hooks() if hooks is None else hooks:
        hook(app, ctx)
    return app


async def healthz(request: web.Request) -> web.Response:
    """200 {"ok": true, ...} when the database answers and the reminder loop (when this process
    runs one) finished a tick within TICK_STALE seconds; 503 otherwise."""
    ctx = request.app[CTX]
    try:
        ctx.engine.store.db.execute("SELECT 1").fetchone()
        db_ok = True
    except sqlite3.Error as exc:
        log.error("healthz: database error %s", type(exc).__name__)
        db_ok = False
    tg = ctx.telegram
    telegram = "off" if tg is None else ("webhook" if tg.webhook_mode else "polling")
    now = time.monotonic()
    body = {"ok": db_ok, "db": "ok" if db_ok else "error", "telegram": telegram,
            "uptime_s": round(now - ctx.started, 1)}
    if ctx.reminders:
        age = now - (ctx.last_tick if ctx.last_tick is not None else ctx.started)
        body["reminders_tick_age_s"] = round(age, 1)
        if age > TICK_STALE:
            body["ok"], body["reminders"] = False, "stale"
    return web.json_response(body, status=200 if body["ok"] else 503)


async def telegram_webhook(request: web.Request) -> web.Response:
    """Telegram posts one update per request. The secret header is compared in constant time
    (403 on mismatch); the update is journalled and queued, then 200 at once: the reply is
    sent by the Application through the Bot API, not in this response."""
    tg = request.app[CTX].telegram
    if tg is None or not tg.webhook_mode:
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


async def run_services(settings: Settings, engine: Engine, *, http: bool = True, telegram: bool = False,
                       hooks: Iterable[RouteHook] | None = None, host: str | None = None, port: int | None = None,
                       out: TextIO = sys.stdout, stop: asyncio.Event | None = None) -> int:
    """Run until SIGINT/SIGTERM (or `stop` is set). Returns the exit code."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    ctx = ServerContext(settings, engine)
    runner: web.AppRunner | None = None
    reminders: asyncio.Task | None = None
    try:
        if telegram:
            from bot.channels.telegram import TelegramBot

            ctx.telegram = TelegramBot(engine, settings)
            ctx.senders["telegram"] = ctx.telegram.send_to_user
            if not await _until_stopped(ctx.telegram.start(), stop):
                return 0
            mode = "webhook at /telegram" if ctx.telegram.webhook_mode else "long polling"
            print(f"Telegram: {mode}", file=out, flush=True)
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
    except TelegramError as exc:
        print(f"Telegram could not start: {type(exc).__name__} (check TELEGRAM_BOT_TOKEN and "
              "TELEGRAM_API_BASE_URL)", file=sys.stderr, flush=True)
        return 1
    finally:
        stop.set()
        deadline = loop.time() + STOP_TIMEOUT
        if reminders is not None:  # first: it may be sending through Telegram
            await _bounded(reminders, deadline, "the reminder loop")
        if runner is not None:
            await _bounded(runner.cleanup(), deadline, "the HTTP server")
        if ctx.telegram is not None:
            await _bounded(ctx.telegram.stop(), deadline, "Telegram")
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
