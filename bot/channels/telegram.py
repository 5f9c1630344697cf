"""Telegram: the whole bot through python-telegram-bot 22, by long polling or a webhook.

The adapter stays thin: a Telegram update becomes an `Inbound`, `Engine.handle` decides
everything, and each `Reply` becomes Bot API calls. What is Telegram-specific lives here:

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

Flood control
    AIORateLimiter is the backstop for the bot-wide limit (30 messages/s, 20/min per
    group). On top, `Pacer` keeps about one message a second to the same chat when a reply
    takes several messages. A RetryAfter (429) is honoured per chat by `_call`: that chat's
    delivery sleeps for retry_after and tries again, while other chats carry on. Any failure
    to reach one user is logged (ids and types only) and never stops the others.

Buttons
    callback_data is the engine's short button id (<= 64 bytes) and nothing else; the
    engine checks that the id belongs to the user's current step. answerCallbackQuery is
    always called first. The keyboard of an answered question is replaced by one inert
    "✓ <answer>" button; pressing a multi-choice option edits the question in place
    (same buttons, new ticks); when a question is answered by typing instead, its
    keyboard is removed when the next question is sent.

Drafts
    A draft (Reply kind "draft") is sent as its own plain-text message (no parse mode, so
    the text is exactly what the user will send), with a "Send to a chat…" button that opens
    Telegram's chat picker (switch_inline_query_chosen_chat). The inline query is answered
    with the draft of the user who asks, found by (user, draft id, digest of the text), so
    the user sends it as themselves, without a "Forwarded from" header (Telegram still shows
    "via @<bot>" on messages sent through inline mode; copying the text avoids even that).
    Long drafts also come as a .txt document. Inline mode must be switched on for the bot
    (@BotFather /setinline); getMe tells, and without it drafts come without the button.

Text
    Text is split at paragraph (then line, then sentence) boundaries into parts of at most
    4096 UTF-16 code units, the unit Telegram counts, *before* it is HTML-escaped: the
    limit applies to the text after entity parsing, so escaping cannot push a part over it,
    and a user-typed lender name with `<`, `&`, `_` or `*` is shown as typed.

Logs carry update ids, chat ids, method names and error types, never message text.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import html
import logging
import re
import time
import traceback
import warnings
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from pydantic import ValidationError
from telegram import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputFile,
    InputTextMessageContent,
    LinkPreviewOptions,
    Message,
    SwitchInlineQueryChosenChat,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.actions.registry import COMMANDS
from bot.config import Settings
from bot.core.engine import Engine
from bot.core.models import Button, FileOut, Inbound, Reply
from bot.core.screens import command_menu

log = logging.getLogger("bot.telegram")

CHANNEL = "telegram"
MAX_UNITS = 4096                 # a message's text, in UTF-16 code units
MAX_CAPTION = 1024
LONG_DRAFT = 1500                # characters: longer drafts also come as a .txt document
NOOP = "·"                       # callback data of the inert "✓ answer" marker button
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "inline_query")
# Button id prefixes that answer a question (options, controls, review edits, confirmations,
# language, a reminder's "again in ..."); their keyboard is marked once pressed. Topic/"more"/
# dialog/case buttons ("t", "m", "d", "u", "k", ...) are links to content that stay valid, so
# their keyboards stay.
ANSWER_PREFIXES = frozenset({"o", "c", "e", "y", "l", "rem"})
MAX_ATTEMPTS = 5
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


# --- pure helpers ---------------------------------------------------------------------------

def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP is 2)."""
    return len(text.encode("utf-16-le")) // 2


_SENTENCE = re.compile(r"(?<=[。！？；.!?;])")


def split_text(text: str, limit: int = MAX_UNITS) -> list[str]:
    """Cut `text` into parts of at most `limit` UTF-16 units, at paragraph boundaries where
    possible, then at line ends, then after sentence ends, and only as a last resort inside
    a sentence (never inside a surrogate pair). Parts keep their own text exactly; the
    separators at the cuts are dropped. Whitespace-only parts are dropped."""
    if utf16_len(text) <= limit:
        return [text] if text.strip() else []
    return [p for p in _split(text, limit, ("\n\n", "\n", None)) if p.strip()]


def _split(text: str, limit: int, seps: tuple[str | None, ...]) -> list[str]:
    if utf16_len(text) <= limit:
        return [text]
    if not seps:
        return _hard_cut(text, limit)
    sep, rest = seps[0], seps[1:]
    pieces = _SENTENCE.split(text) if sep is None else text.split(sep)
    joiner = "" if sep is None else sep
    out: list[str] = []
    current: str | None = None
    for piece in pieces:
        for small in _split(piece, limit, rest):
            if current is None:
                current = small
            elif utf16_len(current) + utf16_len(joiner) + utf16_len(small) <= limit:
                current += joiner + small
            else:
                out.append(current)
                current = small
    if current is not None:
        out.append(current)
    return out


def _hard_cut(text: str, limit: int) -> list[str]:
    out, current, units = [], [], 0
    for ch in text:
        n = 2 if ord(ch) > 0xFFFF else 1
        if units + n > limit:
            out.append("".join(current))
            current, units = [], 0
        current.append(ch)
        units += n
    if current:
        out.append("".join(current))
    return out


def to_html(part: str, bold_first_line: bool = False) -> str:
    """One part of a message in Telegram HTML: everything escaped, optionally the first line
    (an answer's title) in bold."""
    if bold_first_line:
        first, nl, rest = part.partition("\n")
        if first.strip():
            return f"<b>{html.escape(first, quote=False)}</b>{nl}{html.escape(rest, quote=False)}"
    return html.escape(part, quote=False)


def _width(label: str) -> int:
    return sum(2 if ord(c) > 0x2E80 else 1 for c in label)


def keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
    """An inline keyboard: answer buttons two to a row when both labels are short, one per
    row otherwise; the controls (Done, Skip, Back, Stop) together on the last row."""
    usable = [b for b in buttons if 0 < len(b.id.encode()) <= 64 and b.label]
    if len(usable) < len(buttons):
        log.warning("dropped %d button(s) with an unusable id", len(buttons) - len(usable))
    if not usable:
        return None
    main = [b for b in usable if not b.id.startswith("c:")]
    controls = [b for b in usable if b.id.startswith("c:")]
    rows: list[list[InlineKeyboardButton]] = []
    row: list[InlineKeyboardButton] = []
    for b in main:
        button = InlineKeyboardButton(b.label, callback_data=b.id)
        if _width(b.label) > 16:
            if row:
                rows.append(row)
                row = []
            rows.append([button])
            continue
        row.append(button)
        if len(row) == 2:
            rows.append(row)
            row = []
    if row:
        rows.append(row)
    for i in range(0, len(controls), 3):
        rows.append([InlineKeyboardButton(b.label, callback_data=b.id) for b in controls[i:i + 3]])
    return InlineKeyboardMarkup(rows)


def keyboard_ids(message: Message) -> list[str]:
    markup = message.reply_markup
    if markup is None:
        return []
    return [b.callback_data for row in markup.inline_keyboard for b in row if isinstance(b.callback_data, str)]


def button_label(message: Message, data: str) -> str | None:
    markup = message.reply_markup
    for row in markup.inline_keyboard if markup else ():
        for b in row:
            if b.callback_data == data:
                return b.text
    return None


def lang_of(code: str | None) -> str | None:
    short = (code or "").lower()[:2]
    return short if short in ("zh", "en") else None


def attachment_kind(message: Message) -> str | None:
    """What the user sent besides text, in the Inbound's words; None for service messages."""
    if message.photo:
        return "photo"
    if message.voice or message.audio:
        return "voice"
    if message.video or message.video_note or message.animation:
        return "video"
    if message.document:
        return "file"
    if message.sticker:
        return "sticker"
    if message.location or message.venue:
        return "location"
    if message.effective_attachment is not None:
        return "other"
    return None


def inbox_id(update: Update, user: str) -> str:
    """The inbox dedup key: the update_id, qualified by the user. Telegram restarts update ids
    at a random value after a week without updates; the user id keeps such a restart from
    colliding with an old id of someone else."""
    return f"{update.update_id}:{user}"


def to_inbound(update: Update) -> Inbound | None:
    """A private chat's message or button press as the engine's Inbound; None for anything
    the engine does not handle (groups, inline queries, edits, service messages, the inert
    marker button)."""
    query = update.callback_query
    if query is not None:
        data = query.data
        if not isinstance(data, str) or not data or data == NOOP or len(data) > 64:
            return None
        if query.message is None or query.message.chat.type != "private":
            return None  # our buttons live on private chat messages only
        user = str(query.from_user.id)
        return Inbound(channel=CHANNEL, user=user, message_id=inbox_id(update, user), choice=data,
                       lang_hint=query.from_user.language_code)
    message = update.message
    if message is None or message.chat.type != "private" or message.from_user is None:
        return None
    text = message.text if message.text is not None else message.caption
    kind = None if message.text is not None else attachment_kind(message)
    if text is None and kind is None:
        return None
    user = str(message.from_user.id)
    return Inbound(channel=CHANNEL, user=user, message_id=inbox_id(update, user), text=text,
                   attachment=kind, lang_hint=message.from_user.language_code)  # type: ignore[arg-type]


def chat_key(update: object) -> int | None:
    """The ordering key of an update: its chat (or, lacking one, its user); None: unordered."""
    if not isinstance(update, Update) or update.inline_query is not None:
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    return update.effective_user.id if update.effective_user else None


def draft_digest(text: str) -> str:
    """A short fingerprint of a draft's text: the share button's query names the exact text."""
    return hashlib.sha256(text.encode()).hexdigest()[:12]


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


def retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def quiet_library_loggers() -> None:
    """httpx logs every request URL at INFO, and Bot API URLs contain the token; PTB logs whole
    updates (message text) at DEBUG. Keep both above those levels."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    for name in ("telegram", "telegram.ext"):
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:  # also NOTSET: a DEBUG root must not reach PTB's update dumps
            logger.setLevel(logging.INFO)


# --- drafts for inline sharing ---------------------------------------------------------------

def _user_row(engine: Engine, user: str) -> dict | None:
    """The user's row without creating one (Store.user would create it)."""
    rows = list(engine.store.db.query(
        "SELECT id, lang, lang_source FROM users WHERE channel = ? AND external_id = ?", [CHANNEL, user]))
    return rows[0] if rows else None


def find_drafts(engine: Engine, user: str, query: str, recent: dict[tuple[str, str], tuple[str, str]] | None = None,
                max_cases: int = 20) -> list[tuple[str, str]]:
    """The drafts the inline query `query` ("<draft id> <digest>") asks for, as (draft id, text),
    looked up only among the drafts of `user` (the Telegram user who typed the query).

    Order of lookup: the drafts this process sent recently (also those re-rendered by /cases),
    then the drafts stored with the user's saved cases (report.py stores them as
    case data["drafts"]: {draft id: text}), newest first. An empty query gives the drafts of
    the latest case; a digest that matches nothing gives nothing rather than a different text.
    """
    words = query.split()
    draft_id = words[0] if words else ""
    digest = words[1] if len(words) > 1 else ""
    if recent and digest and (user, digest) in recent:
        return [recent[(user, digest)]]
    row = _user_row(engine, user)
    if row is None:
        return []
    cases = [c for c in engine.store.cases(row["id"]) if isinstance(c["data"].get("drafts"), dict)][:max_cases]
    for case in cases:
        for did, text in case["data"]["drafts"].items():
            if not isinstance(text, str):
                continue
            if digest and draft_digest(text) == digest:
                return [(did, text)]
            if not digest and did == draft_id:
                return [(did, text)]
    if not draft_id and cases:
        return [(d, t) for d, t in cases[0]["data"]["drafts"].items() if isinstance(t, str)]
    return []


# --- the update pipeline -------------------------------------------------------------------

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


class ChatGone(Exception):
    """The chat cannot be reached any more (the user blocked the bot, the chat is gone)."""


class NotSent(Exception):
    """A message could not be sent after retries (network); try again after a restart."""


class TelegramBot:
    """The Telegram channel: an Application plus our lifecycle.

        bot = TelegramBot(engine, settings)
        await bot.start()         # polling, or webhook registration when TELEGRAM_WEBHOOK_URL is set
        ...
        await bot.stop()

    `request` / `get_updates_request` inject a BaseRequest (tests, benchmarks); `pace` is the
    per-chat interval between messages of one reply (seconds); `rate_limiter=False` leaves the
    AIORateLimiter out (benchmarks, where its 30/s cap would be the only thing measured).
    """

    def __init__(self, engine: Engine, settings: Settings, *, request: BaseRequest | None = None,
                 get_updates_request: BaseRequest | None = None, pace: float = 1.0,
                 rate_limiter: bool = True, max_concurrent_updates: int = 1024,
                 webhook: bool | None = None, poll_timeout: float = 10.0):
        if not settings.telegram_bot_token:
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        self.engine = engine
        self.settings = settings
        self.k = engine.k
        self.webhook_mode = bool(settings.telegram_webhook_url) if webhook is None else webhook
        self.secret = webhook_secret(settings)
        self.processor = ChatOrderedProcessor(max_concurrent_updates, on_arrival=self._on_arrival)
        self._answering: set[str] = set()       # callback queries answered on arrival
        self.pacer = Pacer(pace)
        self.poll_timeout = poll_timeout
        self.backoff = 0.5                      # first wait after a network error (doubles per retry)
        self.inline = False                     # the bot has inline mode (getMe), so drafts can be shared
        self.recent: OrderedDict[tuple[str, str], tuple[str, str]] = OrderedDict()
        self.open_keyboards: OrderedDict[int, int] = OrderedDict()  # chat -> message with a question keyboard
        self.started = False
        quiet_library_loggers()
        builder = (ApplicationBuilder()
                   .token(settings.telegram_bot_token)
                   .base_url(settings.telegram_api_base_url)
                   .concurrent_updates(self.processor)
                   .update_queue(JournalQueue(self.journal)))
        if rate_limiter:
            # max_retries=0: a RetryAfter comes back to _call, which waits for that chat only
            # (the limiter would pause every chat for it).
            builder = builder.rate_limiter(AIORateLimiter(max_retries=0))
        if request is not None:
            builder = builder.request(request)
        if get_updates_request is not None:
            builder = builder.get_updates_request(get_updates_request)
        if self.webhook_mode:
            builder = builder.updater(None)
        self.application: Application = builder.build()
        app = self.application
        app.add_handler(CallbackQueryHandler(self.on_button_press))
        app.add_handler(InlineQueryHandler(self.on_inline_query))
        private = filters.ChatType.PRIVATE
        app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & private, self.on_message))
        app.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE & private, self.on_edited_message))
        app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.ChatType.GROUPS & filters.COMMAND,
                                       self.on_group_command))
        app.add_error_handler(self.on_error)

    # lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """getMe, commands, recovery of unfinished work, then polling or the webhook."""
        app = self.application
        await app.initialize()
        self.inline = bool(app.bot.supports_inline_queries)
        if not self.inline:
            log.warning("inline mode is off for this bot: drafts are sent without the 'send to a chat' "
                        "button (turn it on with @BotFather /setinline)")
        await self.register_commands()
        await self.recover()
        await app.start()
        if self.webhook_mode:
            await app.bot.set_webhook(self.settings.telegram_webhook_url or "", secret_token=self.secret,
                                      allowed_updates=list(ALLOWED_UPDATES), max_connections=40)
            log.info("telegram: webhook registered")
        else:
            assert app.updater is not None
            await app.updater.start_polling(allowed_updates=list(ALLOWED_UPDATES), timeout=self.poll_timeout,
                                            bootstrap_retries=-1, error_callback=self._polling_error)
            log.info("telegram: long polling started")
        self.started = True

    async def stop(self) -> None:
        """Stop taking updates, let the ones in flight finish, close the connection pool.
        The webhook stays registered, so Telegram keeps updates for the next start."""
        app = self.application
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
        self.started = False

    def _polling_error(self, exc: TelegramError) -> None:
        log.warning("telegram polling error: %s", type(exc).__name__)

    async def feed_webhook(self, data: dict) -> bool:
        """An update posted to /telegram: journal it and queue it (JournalQueue does both).
        Returns False for data that is not an update."""
        try:
            update = Update.de_json(data, self.application.bot)
        except Exception as exc:
            log.warning("webhook: not an update (%s)", type(exc).__name__)
            return False
        await self.application.update_queue.put(update)
        return True

    def journal(self, update: Update) -> None:
        """Record the update's Inbound in the engine's inbox (status "received"), exactly as
        Engine.handle does first, so a crash before handling loses nothing."""
        inbound = to_inbound(update)
        if inbound is None or inbound.message_id is None:
            return
        store = self.engine.store
        user = store.user(CHANNEL, inbound.user)
        store.receive(CHANNEL, inbound.message_id, user["id"], inbound.model_dump(mode="json", exclude={"received_at"}))

    async def recover(self) -> None:
        """Deliver what a crash or a failed send left behind, chat by chat, before new updates."""
        pending = self.engine.recover(CHANNEL)
        if not pending:
            return
        log.info("telegram: recovering %d unfinished message(s)", len(pending))
        by_chat: dict[int, list[tuple[Inbound, list[Reply]]]] = {}
        for inbound, replies in pending:
            if inbound.user.lstrip("-").isdigit():
                by_chat.setdefault(int(inbound.user), []).append((inbound, replies))

        async def one_chat(chat_id: int, items: list[tuple[Inbound, list[Reply]]]) -> None:
            async with self.processor.chat(chat_id):
                for inbound, replies in items:
                    if await self.deliver(chat_id, replies, user=inbound.user):
                        self.engine.ack(inbound)

        await asyncio.gather(*(one_chat(c, items) for c, items in by_chat.items()))

    async def register_commands(self) -> None:
        """setMyCommands in zh and en (language_code scoped) and a default in BOT_DEFAULT_LANG."""
        bot = self.application.bot
        try:
            for lang in ("zh", "en"):
                await self._call(None, bot.set_my_commands, commands=self.commands(lang), language_code=lang)
                await self._call(None, bot.set_my_short_description,
                                 short_description=self.t(lang, "telegram.short_description"), language_code=lang)
                await self._call(None, bot.set_my_description,
                                 description=self.t(lang, "telegram.description"), language_code=lang)
            default = self.settings.bot_default_lang
            await self._call(None, bot.set_my_commands, commands=self.commands(default), scope=BotCommandScopeDefault())
        except (TelegramError, NotSent, ChatGone) as exc:
            log.warning("telegram: could not register commands: %s", type(exc).__name__)

    def commands(self, lang: str) -> list[BotCommand]:
        """The command menu: the same list as /help (bot.core.screens.command_menu)."""
        menu = command_menu(self.k, lang, self.engine.dialogs, COMMANDS)
        return [BotCommand(name, text[:256]) for name, text in menu if re.fullmatch(r"[a-z0-9_]{1,32}", name)]

    # handlers: what the user did ---------------------------------------------------------
    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Text, a command, a photo, a voice note or a file in a private chat."""
        try:
            inbound = to_inbound(update)
        except ValidationError:
            return
        if inbound is None or update.effective_chat is None:
            return
        await self.converse(update.effective_chat.id, inbound)

    async def on_button_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An inline keyboard button: answer the query at once, then the engine decides."""
        query = update.callback_query
        assert query is not None
        if query.id in self._answering:
            self._answering.discard(query.id)       # being answered since arrival (see _on_arrival);
            await asyncio.sleep(0)                  # let that request go out before ours
        else:
            await self._answer_query(query)
        try:
            inbound = to_inbound(update)
        except ValidationError:
            inbound = None
        if inbound is None or query.message is None:
            return
        # A message older than 48 hours comes as InaccessibleMessage: handled, but not edited.
        pressed = query.message if isinstance(query.message, Message) else None
        await self.converse(query.message.chat.id, inbound, pressed=pressed)

    def _on_arrival(self, update: object) -> None:
        """answerCallbackQuery as soon as a press arrives, before it waits for its chat: the
        user's spinner stops at once even while a long reply is still being paced out."""
        if isinstance(update, Update) and update.callback_query is not None and self.application.running:
            query = update.callback_query
            self._answering.add(query.id)
            self.application.create_task(self._answer_query(query), update=update)

    async def _answer_query(self, query: CallbackQuery) -> None:
        with contextlib.suppress(TelegramError, NotSent, ChatGone):
            await self._call(None, query.answer)   # an old query (after a restart) cannot be answered

    async def on_edited_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Edits are not answers: say so, and let the user send the corrected text."""
        message = update.edited_message
        if message is None or message.from_user is None:
            return
        lang = self.user_lang(str(message.from_user.id), message.from_user.language_code)
        await self._quietly(self.send_text(message.chat.id, self.t(lang, "telegram.edited")))

    async def on_group_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """In a group nobody should describe their debts: point to a private chat instead."""
        message = update.message
        if message is None:
            return
        lang = lang_of(message.from_user.language_code if message.from_user else None) or self.settings.bot_default_lang
        url = f"https://t.me/{self.application.bot.username}" if self.application.bot.username else None
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(self.t(lang, "telegram.open_private"), url=url)]]) \
            if url else None
        await self._quietly(self.send_text(message.chat.id, self.t(lang, "telegram.private_only"), markup=markup))

    async def on_inline_query(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The chat picker of a "Send to a chat…" button: answer with the asker's own draft."""
        query = update.inline_query
        assert query is not None
        user = str(query.from_user.id)
        lang = self.user_lang(user, query.from_user.language_code)
        results = []
        for draft_id, text in find_drafts(self.engine, user, query.query, self.recent)[:10]:
            title = self.draft_title(draft_id, lang)
            parts = split_text(text)
            digest = draft_digest(text)
            for n, part in enumerate(parts, 1):
                label = title if len(parts) == 1 else self.t(lang, "telegram.inline.part", title=title, n=n,
                                                             total=len(parts))
                results.append(InlineQueryResultArticle(
                    id=f"{digest}-{n}", title=label[:200], description=part[:120],
                    input_message_content=InputTextMessageContent(part, link_preview_options=NO_PREVIEW)))
        button = None if results else InlineQueryResultsButton(text=self.t(lang, "telegram.inline.open")[:64],
                                                               start_parameter="drafts")
        with contextlib.suppress(TelegramError, NotSent, ChatGone):
            await self._call(None, query.answer, results=results[:50], cache_time=0, is_personal=True, button=button)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log the error's type and where, never the update (it holds the user's text)."""
        exc = context.error
        uid = update.update_id if isinstance(update, Update) else None
        tb = "".join(traceback.format_tb(exc.__traceback__)) if exc else ""
        log.error("telegram: update %s failed: %s\n%s", uid, type(exc).__name__, tb)

    # the conversation --------------------------------------------------------------------
    async def converse(self, chat_id: int, inbound: Inbound, pressed: Message | None = None) -> None:
        """Engine in, messages out, ack when Telegram has them. `pressed`: the message whose
        button was pressed (its keyboard is marked, or the screen edited in place)."""
        before = _user_row(self.engine, inbound.user)
        replies = self.engine.handle(inbound)
        if not replies:  # a duplicate already answered and delivered
            return
        after = _user_row(self.engine, inbound.user)
        lang = (after or {}).get("lang") or lang_of(inbound.lang_hint) or self.settings.bot_default_lang
        delivered = False
        if pressed is not None and inbound.choice:
            delivered = await self._press_result(chat_id, pressed, inbound.choice, replies, lang)
        if not delivered:
            delivered = await self.deliver(chat_id, replies, user=inbound.user, lang=lang)
        if delivered:
            self.engine.ack(inbound)
        await self._sync_menu_language(chat_id, before, after)

    async def _press_result(self, chat_id: int, pressed: Message, choice: str, replies: list[Reply],
                            lang: str) -> bool:
        """Update the pressed message. True when that already showed the whole reply: a
        multi-choice toggle gives back the same question (same first line, same buttons,
        new ticks), which is edited in place. Otherwise the pressed keyboard of a question is
        replaced by its "✓ answer" marker and the replies are sent as new messages."""
        only = replies[0]
        same_screen = (choice.startswith("o:") and len(replies) == 1 and only.kind == "question"
                       and only.buttons and choice in (b.id for b in only.buttons)
                       and sorted(b.id for b in only.buttons) == sorted(keyboard_ids(pressed))
                       and only.text.partition("\n")[0] == (pressed.text or "").partition("\n")[0]
                       and len(split_text(only.text)) == 1)
        if same_screen:
            try:
                await self._call(None, self.application.bot.edit_message_text, chat_id=chat_id,
                                 message_id=pressed.message_id, text=to_html(only.text), parse_mode=ParseMode.HTML,
                                 reply_markup=keyboard(only.buttons), link_preview_options=NO_PREVIEW)
                return True
            except BadRequest as exc:
                if "not modified" in str(exc).lower():
                    return True
                log.info("telegram: edit in place failed (%s); sending instead", type(exc).__name__)
            except (TelegramError, NotSent, ChatGone):
                pass
        if choice.partition(":")[0] in ANSWER_PREFIXES:
            label = (button_label(pressed, choice) or "").removeprefix("✓ ").strip() or "✓"
            marker = InlineKeyboardMarkup([[InlineKeyboardButton(f"✓ {label}", callback_data=NOOP)]])
            await self._quietly(self._call(None, self.application.bot.edit_message_reply_markup, chat_id=chat_id,
                                           message_id=pressed.message_id, reply_markup=marker))
            if self.open_keyboards.get(chat_id) == pressed.message_id:
                self.open_keyboards.pop(chat_id, None)
        return False

    async def _sync_menu_language(self, chat_id: int, before: dict | None, after: dict | None) -> None:
        """After /lang, show the command menu of this chat in the chosen language; after
        /delete, drop that chat-specific menu again."""
        if before is not None and after is None and before.get("lang_source") == "chosen":
            await self._quietly(self._call(None, self.application.bot.delete_my_commands,
                                           scope=BotCommandScopeChat(chat_id)))
        elif (after is not None and after.get("lang_source") == "chosen" and after.get("lang")
              and (before or {}).get("lang") != after["lang"]):
            await self._quietly(self._call(None, self.application.bot.set_my_commands,
                                           commands=self.commands(after["lang"]), scope=BotCommandScopeChat(chat_id)))

    async def deliver(self, chat_id: int, replies: Sequence[Reply], user: str | None = None,
                      lang: str | None = None) -> bool:
        """Send replies in order. True when done with them (sent, or the chat is gone for
        good); False when the network kept failing, so they stay unacknowledged and are sent
        again at the next start. A message Telegram rejects is logged and skipped."""
        user = user or str(chat_id)
        lang = lang or self.user_lang(user, None)
        for reply in replies:
            try:
                await self.send_reply(chat_id, reply, lang=lang, user=user)
            except ChatGone as exc:
                log.info("telegram: chat %s unreachable (%s); dropping %d reply(s)", chat_id, exc, len(replies))
                return True
            except NotSent as exc:
                log.warning("telegram: chat %s: not sent (%s); kept for retry", chat_id, exc)
                return False
            except BadRequest as exc:
                log.error("telegram: chat %s: a %s reply was rejected (%s)", chat_id, reply.kind, type(exc).__name__)
        return True

    async def send_to_user(self, user: str, replies: Sequence[Reply]) -> bool:
        """For the reminder loop: deliver replies to a Telegram user, in order with that chat."""
        chat_id = int(user)
        async with self.processor.chat(chat_id):
            return await self.deliver(chat_id, replies, user=user)

    async def send_reply(self, chat_id: int, reply: Reply, lang: str, user: str) -> None:
        if reply.kind == "draft":
            await self.send_draft(chat_id, reply, lang, user)
        else:
            parts = split_text(reply.text) or ["…"]
            question = reply.kind == "question" and bool(reply.buttons)
            if question:
                await self._close_open_keyboard(chat_id)
            bold = reply.kind in ("answer", "crisis")
            for n, part in enumerate(parts):
                last = n == len(parts) - 1
                sent = await self.send_text(chat_id, part, keyboard(reply.buttons) if last else None,
                                            bold_first_line=bold and n == 0)
                if last and question and sent is not None:
                    self.open_keyboards[chat_id] = sent.message_id
                    self.open_keyboards.move_to_end(chat_id)
                    while len(self.open_keyboards) > 10_000:
                        self.open_keyboards.popitem(last=False)
        for f in reply.files:
            await self.send_file(chat_id, f, lang)

    async def send_draft(self, chat_id: int, reply: Reply, lang: str, user: str) -> None:
        """The draft alone in its message(s), plain text, with the share button under the last
        part; long drafts also as a .txt document."""
        text = reply.text
        parts = split_text(text) or ["…"]
        rows: list[list[InlineKeyboardButton]] = []
        if reply.draft_id and self.inline:
            digest = draft_digest(text)
            self.recent[(user, digest)] = (reply.draft_id, text)
            self.recent.move_to_end((user, digest))
            while len(self.recent) > 2000:
                self.recent.popitem(last=False)
            rows.append([InlineKeyboardButton(self.t(lang, "telegram.share"), switch_inline_query_chosen_chat=(
                SwitchInlineQueryChosenChat(query=f"{reply.draft_id} {digest}", allow_user_chats=True,
                                            allow_group_chats=True, allow_bot_chats=False,
                                            allow_channel_chats=False)))])
        extra = keyboard(reply.buttons)
        if extra is not None:
            rows += [list(r) for r in extra.inline_keyboard]
        markup = InlineKeyboardMarkup(rows) if rows else None
        for n, part in enumerate(parts):
            await self.send_text(chat_id, part, markup if n == len(parts) - 1 else None, plain=True)
        has_txt = any(f.name.endswith(".txt") for f in reply.files)
        if (len(text) > LONG_DRAFT or len(parts) > 1) and not has_txt:
            name = self.draft_title(reply.draft_id, lang, for_file=True)
            await self.send_file(chat_id, FileOut(name=f"{name}.txt", content=text), lang,
                                 caption=self.t(lang, "telegram.draft_file"))

    async def send_text(self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None, *,
                        plain: bool = False, bold_first_line: bool = False) -> Message | None:
        """One message of at most MAX_UNITS: HTML-escaped (optionally with a bold first line),
        or `plain` (drafts: no parse mode, the text exactly as it will be sent on)."""
        kwargs: dict[str, Any] = {"chat_id": chat_id, "reply_markup": markup, "link_preview_options": NO_PREVIEW}
        if plain:
            kwargs["text"] = text
        else:
            kwargs.update(text=to_html(text, bold_first_line), parse_mode=ParseMode.HTML)
        return await self._call(chat_id, self.application.bot.send_message, paced=True, **kwargs)

    async def send_file(self, chat_id: int, f: FileOut, lang: str, caption: str | None = None) -> None:
        if f.content is not None:
            document = InputFile(f.content.encode("utf-8"), filename=f.name)
            await self._call(chat_id, self.application.bot.send_document, paced=True, chat_id=chat_id,
                             document=document, caption=(caption or None) and caption[:MAX_CAPTION])
        elif f.url:
            await self.send_text(chat_id, self.t(lang, "telegram.file_link", name=f.name, url=f.url))

    async def _close_open_keyboard(self, chat_id: int) -> None:
        """A new question is coming: the previous question's keyboard goes (it was answered by typing)."""
        previous = self.open_keyboards.pop(chat_id, None)
        if previous is not None:
            await self._quietly(self._call(None, self.application.bot.edit_message_reply_markup,
                                           chat_id=chat_id, message_id=previous, reply_markup=None))

    # Bot API calls -----------------------------------------------------------------------
    async def _call(self, target: int | None, method: Callable[..., Awaitable[Any]], *, paced: bool = False,
                    **kwargs: Any) -> Any:
        """One Bot API call with flood control: pace messages to the chat `target`, honour RetryAfter
        for this chat only, retry network errors with backoff. Raises ChatGone when the chat
        cannot be reached, NotSent after the retries, BadRequest when Telegram refuses."""
        delay = self.backoff
        for _attempt in range(MAX_ATTEMPTS):
            if paced and target is not None:
                await self.pacer.wait(target)
            try:
                return await method(**kwargs)
            except RetryAfter as exc:
                wait = retry_seconds(exc)
                log.info("telegram: flood control for chat %s: retry after %.1fs", target, wait)
                await asyncio.sleep(wait)
            except Forbidden as exc:
                raise ChatGone("Forbidden") from exc
            except ChatMigrated as exc:
                raise ChatGone("ChatMigrated") from exc
            except BadRequest as exc:
                if "chat not found" in str(exc).lower():
                    raise ChatGone("chat not found") from exc
                raise
            except NetworkError as exc:  # includes TimedOut
                log.info("telegram: %s on %s; retrying", type(exc).__name__, getattr(method, "__name__", "call"))
                await asyncio.sleep(delay)
                delay *= 2
        raise NotSent(getattr(method, "__name__", "call"))

    async def _quietly(self, call: Awaitable[Any]) -> None:
        """Cosmetic calls (marking a keyboard, notes about edits): a failure is only logged."""
        try:
            await call
        except (TelegramError, NotSent, ChatGone) as exc:
            log.info("telegram: cosmetic call failed: %s", type(exc).__name__)

    # strings -----------------------------------------------------------------------------
    def t(self, lang: str, key: str, **values: object) -> str:
        return self.k.text(lang, key, **values)

    def user_lang(self, user: str, hint: str | None) -> str:
        row = _user_row(self.engine, user)
        return (row or {}).get("lang") or lang_of(hint) or self.settings.bot_default_lang

    def draft_title(self, draft_id: str | None, lang: str, for_file: bool = False) -> str:
        key = f"report.draft.{draft_id}.title"
        if draft_id and self.k.has_text(lang, key):
            title = self.t(lang, key)
        else:
            title = self.t(lang, "telegram.draft_file_name" if for_file else "telegram.inline.draft")
        if for_file:
            title = re.sub(r"[\\/:*?\"<>|\s]+", "_", title).strip("_")[:60] or "draft"
        return title
