"""TelegramBot: the Application, its handlers, delivery of Replies, the command menu, lifecycle.

All Bot API I/O is here; what it sends is built by render.py (text, keyboards) and inline.py
(draft sharing), updates are journalled and ordered per chat by processor.py, and messages
to one chat are paced by pacing.py.

Buttons
    callback_data is the engine's short button id (<= 64 bytes) and nothing else; the
    engine checks that the id belongs to the user's current step. answerCallbackQuery is
    always called first. The keyboard of an answered question is replaced by one inert
    "✓ <answer>" button; pressing a multi-choice option edits the question in place
    (same buttons, new ticks); when a question is answered by typing instead, its
    keyboard is removed when the next question is sent.

Flood control (see pacing.py)
    `_call` paces messages to a chat, honours a RetryAfter (429) for that chat only, and
    retries network errors with backoff; the AIORateLimiter is the bot-wide backstop.

The channel contract (bot/channels/base.py): TelegramBot is a ChannelBase (the engine in
its worker thread, dedup through the inbox without replay: a duplicate update gets only the
replies not yet sent); it pushes (reminders), mounts `POST /telegram` on the HTTP server
(webhook.py) and reports "webhook" / "polling" in /healthz. It acknowledges a message only
once Telegram has every reply, recording each reply sent (Engine.sent_one).

Logs carry update ids, chat ids, method names and error types, never message text.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
import traceback
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web
from pydantic import ValidationError
from telegram import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.actions.registry import COMMANDS
from bot.channels import deeplinks, media
from bot.channels.base import ChannelBase, StartFailed
from bot.channels.telegram.inbound import CHANNEL, lang_of, to_inbound
from bot.channels.telegram.inline import (
    LONG_DRAFT,
    find_drafts,
    inline_results,
    open_bot_button,
    remember_draft,
    share_button,
    user_row,
)
from bot.channels.telegram.pacing import Pacer, retry_seconds
from bot.channels.telegram.processor import ChatOrderedProcessor, JournalQueue
from bot.channels.telegram.render import (
    MAX_CAPTION,
    NO_PREVIEW,
    answered_marker,
    answers_question,
    keyboard,
    keyboard_ids,
    split_text,
    to_html,
)
from bot.channels.telegram.webhook import PATH, receive, webhook_secret
from bot.config import Settings
from bot.core import callbacks
from bot.core.engine import Engine
from bot.core.models import FileOut, Inbound, Media, Reply
from bot.core.screens import command_menu
from storage.files import remove, temp_file
from storage.rows import UserRow

log = logging.getLogger("bot.telegram")

ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "inline_query")
MAX_ATTEMPTS = 5


def file_url(api_base: str) -> str:
    """The Bot API's file download base for an API base URL: https://api.telegram.org/bot ->
    https://api.telegram.org/file/bot (a local Bot API server or a test server alike)."""
    head, sep, _tail = api_base.rstrip("/").rpartition("/bot")
    return f"{head}/file/bot" if sep else api_base.rstrip("/") + "/file/bot"


def quiet_library_loggers() -> None:
    """httpx logs every request URL at INFO, and Bot API URLs contain the token; PTB logs whole
    updates (message text) at DEBUG. Keep both above those levels."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    for name in ("telegram", "telegram.ext"):
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:  # also NOTSET: a DEBUG root must not reach PTB's update dumps
            logger.setLevel(logging.INFO)


class ChatGone(Exception):
    """The chat cannot be reached any more (the user blocked the bot, the chat is gone)."""


class NotSent(Exception):
    """A message could not be sent after retries (network); try again after a restart."""


class TelegramBot(ChannelBase):
    """The Telegram channel: an Application plus our lifecycle.

        bot = TelegramBot(engine, settings)
        await bot.start()         # polling, or webhook registration when TELEGRAM_WEBHOOK_URL is set
        ...
        await bot.stop()

    `request` / `get_updates_request` inject a BaseRequest (tests, benchmarks); `pace` is the
    per-chat interval between messages of one reply (seconds); `rate_limiter=False` leaves the
    AIORateLimiter out (benchmarks, where its 30/s cap would be the only thing measured).
    """

    name = CHANNEL
    can_push = True

    def __init__(self, engine: Engine, settings: Settings, *, request: BaseRequest | None = None,
                 get_updates_request: BaseRequest | None = None, pace: float = 1.0,
                 rate_limiter: bool = True, max_concurrent_updates: int = 1024,
                 webhook: bool | None = None, poll_timeout: float = 10.0):
        if not settings.telegram_bot_token:
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        # The engine's work (handle, recover) runs in a worker thread on a connection of its own;
        # the small reads and delivery records stay on this connection (self.engine).
        super().__init__(engine)
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
        self.recent_drafts: OrderedDict[tuple[str, str], tuple[str, str]] = OrderedDict()
        self.open_keyboards: OrderedDict[int, int] = OrderedDict()  # chat -> message with a question keyboard
        self.started = False
        quiet_library_loggers()
        builder = (ApplicationBuilder()
                   .token(settings.telegram_bot_token)
                   .base_url(settings.telegram_api_base_url)
                   .base_file_url(file_url(settings.telegram_api_base_url))
                   .concurrent_updates(self.processor)
                   .update_queue(JournalQueue(self.journal)))
        if rate_limiter:
            # max_retries=0: a RetryAfter comes back to _call, which waits for that chat only
            # (the limiter would pause every chat for it).
            builder = builder.rate_limiter(AIORateLimiter(max_retries=0))  # type: ignore[arg-type]  # PTB's generics
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
        """getMe, commands, recovery of unfinished work, then polling or the webhook.
        StartFailed when the Bot API refuses or cannot be reached."""
        try:
            await self._start()
        except TelegramError as exc:
            raise StartFailed(f"Telegram could not start: {type(exc).__name__} (check TELEGRAM_BOT_TOKEN and "
                              "TELEGRAM_API_BASE_URL)") from exc

    async def _start(self) -> None:
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
            await app.updater.start_polling(allowed_updates=list(ALLOWED_UPDATES),
                                            timeout=dt.timedelta(seconds=self.poll_timeout),
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
        await super().stop()
        self.started = False

    def routes(self, app: web.Application) -> None:
        """`POST /telegram`, the webhook (404 unless in webhook mode)."""
        app.router.add_post(PATH, self.on_webhook)

    async def on_webhook(self, request: web.Request) -> web.Response:
        return await receive(self, request)

    def health(self) -> str:
        return "webhook" if self.webhook_mode else "polling"

    def announce(self) -> str:
        return f"Telegram: {f'webhook at {PATH}' if self.webhook_mode else 'long polling'}"

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
        if inbound is not None:
            self.engine.journal(inbound)

    async def recover(self) -> None:
        """Deliver what a crash or a failed send left behind, chat by chat, before new updates."""
        pending = await self.worker.run(lambda e: e.recover(CHANNEL))
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
                    if await self.deliver(chat_id, replies, user=inbound.user, inbound=inbound):
                        self.engine.ack(inbound)

        await asyncio.gather(*(one_chat(c, items) for c, items in by_chat.items()))

    async def register_commands(self) -> None:
        """setMyCommands in each language of the content (language_code scoped; Telegram takes
        two-letter codes only) and a default in BOT_DEFAULT_LANG."""
        bot = self.application.bot
        try:
            for lang in (code for code in self.k.languages if re.fullmatch(r"[a-z]{2}", code)):
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
        if inbound.text and inbound.text.startswith("/start "):   # a t.me/<bot>?start=<payload> link
            scenes = deeplinks.load_scenes(self.engine.settings.bot_content_dir)
            inbound = inbound.model_copy(update={"text": deeplinks.start_command(inbound.text, scenes)})
        inbound = await media.fetched(inbound, self._download)
        await self.converse(update.effective_chat.id, inbound)

    async def _download(self, item: Media) -> Media:
        """A photo, voice note or file into the evidence files (bot/channels/media.py)."""
        limit = media.cap(self.settings)
        if item.ref is None:
            return item.model_copy(update={"problem": "unavailable"})
        if item.size > limit:
            raise media.TooBig
        tg_file = await self.application.bot.get_file(item.ref)
        if (tg_file.file_size or 0) > limit:
            raise media.TooBig
        path = temp_file(media.directory(self.settings))
        try:
            await tg_file.download_to_drive(custom_path=path)
            sha, size = await asyncio.to_thread(media.hash_file, path)
            if size > limit:
                raise media.TooBig
        except BaseException:
            remove([path])
            raise
        return item.model_copy(update={"path": str(path), "sha256": sha, "size": size})

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
        lang = (lang_of(message.from_user.language_code if message.from_user else None, self.k.languages)
                or self.settings.bot_default_lang)
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
        results = inline_results(
            find_drafts(self.engine, user, query.query, self.recent_drafts)[:10],
            title_of=lambda draft_id: self.draft_title(draft_id, lang),
            part_title=lambda title, n, total: self.t(lang, "telegram.inline.part", title=title, n=n, total=total))
        button = None if results else open_bot_button(self.t(lang, "telegram.inline.open"))
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
        before = user_row(self.engine, inbound.user)
        _, replies = await self.answer(inbound, ack=False)   # acknowledged below, once delivered
        if not replies:  # a duplicate already answered and delivered
            return
        after = user_row(self.engine, inbound.user)
        lang = ((after["lang"] if after else None) or lang_of(inbound.lang_hint, self.k.languages)
                or self.settings.bot_default_lang)
        delivered = False
        if pressed is not None and inbound.choice:
            delivered = await self._press_result(chat_id, pressed, inbound.choice, replies, lang)
        if not delivered:
            delivered = await self.deliver(chat_id, replies, user=inbound.user, lang=lang, inbound=inbound)
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
        pressed_kind = callbacks.parse(choice)
        toggles = pressed_kind is not None and pressed_kind.toggles
        same_screen = (toggles and len(replies) == 1 and only.kind == "question"
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
        if answers_question(choice):
            marker = answered_marker(pressed, choice)
            await self._quietly(self._call(None, self.application.bot.edit_message_reply_markup, chat_id=chat_id,
                                           message_id=pressed.message_id, reply_markup=marker))
            if self.open_keyboards.get(chat_id) == pressed.message_id:
                self.open_keyboards.pop(chat_id, None)
        return False

    async def _sync_menu_language(self, chat_id: int, before: UserRow | None, after: UserRow | None) -> None:
        """After /lang, show the command menu of this chat in the chosen language; after
        /delete, drop that chat-specific menu again."""
        if before is not None and after is None and before.get("lang_source") == "chosen":
            await self._quietly(self._call(None, self.application.bot.delete_my_commands,
                                           scope=BotCommandScopeChat(chat_id)))
        elif (after is not None and after.get("lang_source") == "chosen" and (lang := after.get("lang"))
              and (before["lang"] if before else None) != lang):
            await self._quietly(self._call(None, self.application.bot.set_my_commands,
                                           commands=self.commands(lang), scope=BotCommandScopeChat(chat_id)))

    async def deliver(self, chat_id: int, replies: Sequence[Reply], user: str | None = None,
                      lang: str | None = None, inbound: Inbound | None = None) -> bool:
        """Send replies in order. True when done with them (sent, or the chat is gone for
        good); False when the network kept failing, so they stay unacknowledged and are sent
        again at the next start. A message Telegram rejects is logged and skipped. With the
        `inbound` they answer, each reply sent is recorded at once (Engine.sent_one), so after
        a crash delivery resumes at the first reply not sent, never resending a whole batch."""
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
            if inbound is not None:
                self.engine.sent_one(inbound)
        return True

    async def push(self, user: str, replies: Sequence[Reply]) -> bool:
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
            digest = remember_draft(self.recent_drafts, user, reply.draft_id, text)
            rows.append([share_button(self.t(lang, "telegram.share"), reply.draft_id, digest)])
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
        row = user_row(self.engine, user)
        return (row["lang"] if row else None) or lang_of(hint, self.k.languages) or self.settings.bot_default_lang

    def draft_title(self, draft_id: str | None, lang: str, for_file: bool = False) -> str:
        key = f"report.draft.{draft_id}.title"
        if draft_id and self.k.has_text(lang, key):
            title = self.t(lang, key)
        else:
            title = self.t(lang, "telegram.draft_file_name" if for_file else "telegram.inline.draft")
        if for_file:
            title = re.sub(r"[\\/:*?\"<>|\s]+", "_", title).strip("_")[:60] or "draft"
        return title
