"""The WeChat Official Account channel: GET/POST /wechat and pushes (reminders, the rest of
long answers). See the package docstring (bot/channels/wechat/__init__.py) for the design;
the plumbing (worker thread, dedup and retries, ack, last-resort error, numbered buttons) is
bot/channels/base.py's."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import re
import secrets
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.actions import followup as notes
from bot.actions.registry import ActionContext
from bot.channels import deeplinks, textsplit
from bot.channels import media as channel_media
from bot.channels.base import ChannelBase, HandlingFailed, numbered_reply, plain_reply, plain_text
from bot.channels.documents import offer_link
from bot.channels.expiring import Expiring
from bot.channels.textsplit import utf8_len
from bot.channels.wechat import followup
from bot.channels.wechat import media as wechat_media
from bot.channels.wechat.api import WeChatAPI
from bot.channels.wechat.crypto import Box, CryptoError, same, signature
from bot.channels.wechat.messages import XMLError, encrypted_reply, items, parse, text_reply
from bot.config import Settings
from bot.core import callbacks as cb
from bot.core.engine import Engine
from bot.core.models import Inbound, Media, Reply
from bot.knowledge.normalize import normalize
from storage.shared import OutboxRow

log = logging.getLogger("bot.wechat")

CHANNEL = "wechat"
MAX_BODY = 64 * 1024            # bytes of one POST
PASSIVE_LIMIT = 2048            # bytes WeChat accepts in one text message
CHUNK = 1800                    # bytes of text per message, leaving room for a hint line
MAX_PARTS = 30                  # messages one answer may take; the rest is cut with a notice
RETRY_WINDOW = 10 * 60.0        # seconds a retried MsgId gets the same passive reply from memory
TIMESTAMP_WINDOW = 5 * 60       # seconds a signed request's timestamp may be off from our clock
MAX_NONCES = 100_000
PUSH_DELAY = 0.5                # seconds before each pushed message (pacing: WeChat caps bursts)
LETTER_KINDS = {"draft"}        # replies sent alone, whole, never joined with another
MORE_WORDS = {"更多", "继续", "more", "next"}
OPENID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
PARAM_MAX = 128
ATTACHMENTS = {"image": "photo", "voice": "voice", "video": "video", "shortvideo": "video",
               "file": "file", "location": "location", "link": "other"}

CONSENT_EVENTS = {"subscribe_msg_popup_event", "subscribe_msg_change_event"}
CONSENT_TOKEN = r"[A-Za-z0-9_-]{16,64}"

Handled = tuple[Inbound | None, str | None]   # (to the engine, or a direct reply text / None: "success")


def _days(days: float) -> str:
    return str(int(days)) if float(days).is_integer() else str(days)


def _tz(engine: Engine, user_id: int) -> ZoneInfo:
    row = engine.store.user_by_id(user_id)
    return ZoneInfo((row["tz"] if row else None) or engine.settings.bot_timezone)


def split_text(text: str, limit: int = CHUNK) -> list[str]:
    """Parts of at most `limit` UTF-8 bytes (bot.channels.textsplit)."""
    return textsplit.split_text(text.strip("\n"), limit, utf8_len)


def join_replies(replies: Sequence[Reply]) -> str:
    """All replies as one text; buttons as `[N] label` lines (the user types N or the label)."""
    return plain_text(replies)


def letter_parts(text: str, limit: int = CHUNK) -> list[str]:
    """A letter as one message, or, longer than `limit`, parts cut at paragraph boundaries
    (then line ends, then sentence ends: bot.channels.textsplit), each marked "(k/n)"."""
    text = text.strip("\n")
    if utf8_len(text) <= limit:
        return [text]
    parts = split_text(text, limit - len("(99/99)\n"))
    return [f"({i}/{len(parts)})\n{part}" for i, part in enumerate(parts, 1)]


def messages_of(replies: Sequence[Reply], limit: int = CHUNK,
                letter_limit: int = CHUNK) -> list[tuple[str, bool]]:
    """The messages of one answer, in order, as (text, is a letter). An answer with letters
    (kind draft): each reply its own message, a letter alone and whole (letter_parts, up to
    `letter_limit` bytes a part). Any other answer: the replies joined, cut into messages of
    at most `limit` bytes."""
    if not any(r.kind in LETTER_KINDS for r in replies):
        return [(part, False) for part in split_text(join_replies(replies), limit)]
    out: list[tuple[str, bool]] = []
    last = numbered_reply(replies)
    for i, reply in enumerate(replies):
        if reply.kind in LETTER_KINDS:
            out += [(part, True) for part in letter_parts(reply.text, letter_limit)]
        else:
            out += [(part, False) for part in split_text(plain_reply(reply, i == last), limit)]
    return out


Screen = tuple[int, list[dict[str, Any]]]   # (index of the message showing the numbered list, its buttons)


def screen_at(texts: Sequence[str], replies: Sequence[Reply]) -> Screen | None:
    """Which of an answer's messages shows its one numbered list (base.numbered_reply), and
    that list's buttons: once that message is delivered from the outbox, a typed number
    means that list (issue 14, item 5)."""
    at = numbered_reply(replies)
    if at is None:
        return None
    buttons = replies[at].buttons
    line = f"[{len(buttons)}] {buttons[-1].label}"
    found = [i for i, text in enumerate(texts) if line in text.split("\n")]
    if not found:
        return None
    # as the engine keeps it: the numbered list, then earlier buttons pressed by label only
    ids = {b.id for b in buttons}
    screen = [b.model_dump() for b in buttons] + [{**b.model_dump(), "plain": True} for i, r in enumerate(replies)
                                                  if i != at for b in r.buttons if b.id not in ids]
    return found[-1], screen


def case_of(inbound: Inbound, replies: Sequence[Reply]) -> int | None:
    """The saved report whose letters `replies` show: named by the button pressed (a case's
    "all letters") or by a button of the answer (the report's closing buttons)."""
    for data in [cb.parse(inbound.choice)] + [cb.parse(b.id) for r in replies for b in r.buttons]:
        case = getattr(data, "case", None)
        if isinstance(case, int):
            return case
        if getattr(data, "what", None) == "track" and isinstance(getattr(data, "id", None), int):
            return data.id  # type: ignore[union-attr]
    return None


class WeChatChannel(ChannelBase):
    """One per app. `clock` (monotonic seconds) is injectable for tests."""

    name = CHANNEL
    replay = True  # a retry after a restart (nothing in memory) gets the stored answer again

    def __init__(self, engine: Engine, settings: Settings, api: WeChatAPI | None,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time):
        # WeChat retries a message 3 times when it has no answer in 5 s: the passive reply of
        # each answered message is kept for RETRY_WINDOW (ChannelBase.once)
        super().__init__(engine, retry_window=RETRY_WINDOW, clock=clock)
        self.token = settings.wechat_token or ""
        self.box: Box | None = None
        if settings.wechat_encoding_aes_key:
            if not settings.wechat_app_id:
                raise ValueError("WECHAT_ENCODING_AES_KEY (safe mode) needs WECHAT_APP_ID")
            self.box = Box(settings.wechat_encoding_aes_key, settings.wechat_app_id)
        self.api = api
        self.can_push = api is not None
        # (timestamp, nonce) -> sha256 of the body, for the timestamp window: a signed URL is
        # good for one body only (plain mode's signature does not cover the body).
        self.nonces = Expiring(2 * TIMESTAMP_WINDOW + 60, MAX_NONCES, None, clock)
        self.wall = wall
        self.tasks: set[asyncio.Task] = set()
        self.pushing: dict[str, asyncio.Task] = {}   # openid -> the task sending their outbox
        self.push_delay = PUSH_DELAY
        self.settings = settings
        self.public_url = settings.bot_public_url
        # 订阅通知: with the API, a template and a public address (for the consent page)
        self.template = settings.wechat_subscribe_template_id if api is not None else None
        self.fields = settings.wechat_subscribe_fields.split(",")
        self.scenes = deeplinks.load_scenes(settings.bot_content_dir)
        notes.NOTES[CHANNEL] = self.note   # what a user setting a reminder is told (bot/actions/followup.py)

    def routes(self, app: web.Application) -> None:
        """`/wechat` when WECHAT_TOKEN is set (without it, the channel only pushes)."""
        app[WECHAT] = self
        if self.token:
            app.router.add_get("/wechat", self.verify)
            app.router.add_post("/wechat", self.receive)
        if self.template:
            app.router.add_get("/wechat/subscribe/{token:" + CONSENT_TOKEN + "}", self.consent_page)

    # signatures ------------------------------------------------------------------------------
    def _signed(self, request: web.Request) -> bool:
        q = request.query
        ts, nonce, sig = q.get("timestamp", ""), q.get("nonce", ""), q.get("signature", "")
        if not (ts and nonce and sig) or max(len(ts), len(nonce), len(sig)) > PARAM_MAX:
            return False
        if not same(sig, signature(self.token, ts, nonce)):
            return False
        if not (ts.isascii() and ts.isdigit() and abs(self.wall() - int(ts)) <= TIMESTAMP_WINDOW):
            log.warning("wechat: signed request with a timestamp outside the window (a replay?)")
            return False
        return True

    def _fresh(self, request: web.Request, body: bytes) -> bool:
        """A (timestamp, nonce) seen before is accepted again only with the same body: WeChat's
        own retry. The same signed URL with another body is a replay."""
        key = f"{request.query['timestamp']}:{request.query['nonce']}"
        digest = hashlib.sha256(body).digest()
        seen = self.nonces.get(key)
        if seen is None:
            self.nonces.put(key, digest)
            return True
        return seen == digest

    def forget(self, user: str) -> None:
        """A user deleted their data: drop the kept replies (their outbox rows went with the
        rest of their data, Store.delete_user)."""
        super().forget(user)

    # GET /wechat -----------------------------------------------------------------------------
    async def verify(self, request: web.Request) -> web.Response:
        """Server verification: echo `echostr` when the signature is right."""
        if not self._signed(request):
            log.warning("wechat: verification with a wrong or missing signature")
            return web.Response(status=403, text="forbidden")
        return web.Response(text=request.query.get("echostr", "")[:PARAM_MAX])

    # POST /wechat ----------------------------------------------------------------------------
    async def receive(self, request: web.Request) -> web.Response:
        if not self._signed(request):
            log.warning("wechat: message with a wrong or missing signature")
            return web.Response(status=403, text="forbidden")
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.Response(status=413, text="too large")
        try:
            body = await request.content.read(MAX_BODY + 1)
        except (ValueError, ConnectionError):
            return web.Response(status=400, text="bad body")
        if len(body) > MAX_BODY:
            return web.Response(status=413, text="too large")
        if not self._fresh(request, body):
            log.warning("wechat: a signed URL replayed with another body")
            return web.Response(status=403, text="forbidden")
        try:
            fields = self._open(request, body)
        except PermissionError:
            return web.Response(status=403, text="forbidden")
        except (XMLError, CryptoError) as exc:
            log.warning("wechat: bad message body: %s", exc)
            return web.Response(status=400, text="bad message")
        openid, account = fields.get("FromUserName", ""), fields.get("ToUserName", "")
        if not OPENID_RE.fullmatch(openid) or not account or len(account) > PARAM_MAX:
            log.warning("wechat: message without a valid sender or recipient")
            return web.Response(status=400, text="bad message")
        event = fields.get("Event", "").lower() if fields.get("MsgType") == "event" else ""
        if event in CONSENT_EVENTS:   # WeChat's retries of the same event count once
            key = f"c:{openid}:{fields.get('CreateTime', '')}:{event}"[:128]
            text = await self.once(key, openid, lambda: self._consent_event(openid, event, fields))
            return self._respond(request, openid, account, text)
        inbound, direct = self._inbound(fields)
        text = direct
        if inbound is not None:
            # WeChat's retries (after 5 s, while the first is still answered, or later) get
            # the same passive reply: one step, one push of a long answer's rest
            try:
                text = await self.once(inbound.message_id or "", openid, lambda: self._answer_once(inbound))
            except HandlingFailed:
                return web.Response(status=500, text="internal error")
        return self._respond(request, openid, account, text)

    async def _answer_once(self, inbound: Inbound) -> str | None:
        """The passive reply, then the engine is told WeChat has it. A photo or voice note is
        downloaded first (inside `once`: WeChat's retries of the message wait for this one)."""
        inbound = await channel_media.fetched(inbound, self._download)
        text = await self._answer(inbound)
        await self.ack(inbound)
        return text

    async def _download(self, item: Media) -> Media:
        """Through the temporary-media API (needs the app id and secret)."""
        if self.api is None:
            return item.model_copy(update={"problem": "unavailable"})
        return await wechat_media.download(self.api, item, channel_media.directory(self.settings),
                                           channel_media.cap(self.settings))

    def _open(self, request: web.Request, body: bytes) -> dict[str, str]:
        """The message fields, decrypted in safe mode. PermissionError: not for us."""
        encrypted = request.query.get("encrypt_type", "") == "aes"
        if self.box is None:
            if encrypted:
                log.warning("wechat: encrypted message but WECHAT_ENCODING_AES_KEY is not set")
                raise XMLError("encrypted message without a key")
            return parse(body)
        if not encrypted:
            log.warning("wechat: plain message in safe mode (set the account to safe mode, or unset "
                        "WECHAT_ENCODING_AES_KEY)")
            raise PermissionError
        outer = parse(body)
        payload = outer.get("Encrypt", "")
        q = request.query
        given = q.get("msg_signature", "")
        if not payload or not given or not same(given, signature(self.token, q["timestamp"], q["nonce"], payload)):
            log.warning("wechat: wrong or missing msg_signature")
            raise PermissionError
        try:
            inner = self.box.decrypt(payload)
        except CryptoError as exc:
            if str(exc) == "app id mismatch":
                log.warning("wechat: message for another app id")
                raise PermissionError from None
            raise
        return parse(inner)

    def _inbound(self, f: dict[str, str]) -> Handled:
        openid, kind = f["FromUserName"], f.get("MsgType", "")
        msg_id = f.get("MsgId", "")
        # Keyed by sender: a MsgId alone would let a forged message with another user's MsgId
        # be answered with that user's stored reply.
        mid = f"m:{openid}:{msg_id}" if msg_id.isdigit() else f"t:{openid}:{f.get('CreateTime', '')}"
        mid = mid[:128]

        def make(**kw: object) -> Inbound:
            return Inbound(channel=CHANNEL, user=openid, message_id=mid, **kw)

        if kind == "text":
            return make(text=f.get("Content", "")), None
        if kind == "event":
            event, key = f.get("Event", "").lower(), f.get("EventKey", "")
            mid = f"e:{openid}:{f.get('CreateTime', '')}:{event}"[:128]
            if event == "subscribe":   # a QR code with a scene ("qrscene_<x>") starts what it names
                return make(text=deeplinks.command_for(self.scenes, key) or "/start"), None
            if event == "scan":        # a follower scanned a QR code with a scene
                command = deeplinks.command_for(self.scenes, key)
                return (make(text=command), None) if command else (None, None)
            if event == "click" and key.startswith("/") and len(key) <= 64:   # a menu button naming a command
                return make(text=key), None
            return None, None   # unsubscribe, location reports, menu views...: nothing to say
        evidence = wechat_media.media_of(f)   # a photo, voice note or video: kept as evidence
        if kind == "voice" and f.get("Recognition", "").strip():            # WeChat's speech recognition
            return make(text=f["Recognition"].strip(), media=evidence), None
        if kind in ATTACHMENTS:
            return make(attachment=ATTACHMENTS[kind], media=evidence), None
        log.info("wechat: unsupported message type")
        return None, self._t(openid, "wechat.unsupported")

    async def _answer(self, inbound: Inbound) -> str | None:
        """The passive reply text for one message (None: nothing to say). The rest of the
        answer waits in the user's outbox (the database): pushed one message each through the
        customer-service API, or, without it, one per "more"."""
        openid = inbound.user
        waiting = await self._outbox_count(openid)
        asked_more = bool(inbound.text) and normalize(inbound.text or "").strip(" .。!！") in MORE_WORDS
        if waiting and asked_more:
            if self.api is None:
                return await self._next_more(openid)
            self._push_outbox(openid)
            return self._t(openid, "wechat.left", n=waiting)
        # replay: a retry after a restart (nothing in self.recent) gets the stored answer again
        _, replies = await self.answer(inbound, ack=False)
        if not replies:
            return None
        replies = await self._with_letters_link(inbound, replies)
        messages = self._cap(openid, self._messages(replies))
        total = len(messages)
        screen = screen_at([t for t, _ in messages], replies)
        first, first_is_letter = messages[0]
        if self.api is None:
            # a new answer replaces what was left of the last one
            if total > 1 or waiting:
                await self._outbox_put(openid, [(text, n) for n, (text, _) in enumerate(messages[1:], 2)], total,
                                       replace=True, screen=screen, shift=1)
            return first if total == 1 else first + "\n\n" + self._t(openid, "wechat.more", n=1, total=total)
        if first_is_letter:          # a letter is never joined with anything: all of it is pushed
            rest, passive, shift = list(enumerate(messages, 1)), self._t(openid, "wechat.below"), 0
        else:
            rest, passive, shift = list(enumerate(messages[1:], 2)), first, 1
            if total > 1:
                passive += "\n\n" + self._t(openid, "wechat.continued", n=1, total=total)
        waiting = await self._outbox_count(openid) if waiting else 0   # /delete may have erased them
        if waiting:
            passive += "\n\n" + self._t(openid, "wechat.left", n=waiting)
        if rest or waiting:
            await self._outbox_put(openid, [(text, n) for n, (text, _) in rest], total, screen=screen, shift=shift)
            self._push_outbox(openid)
        return passive

    async def _with_letters_link(self, inbound: Inbound, replies: list[Reply]) -> list[Reply]:
        """After a report's letters: one more message with a link to a page of all of them
        (copy buttons, a .txt download; bot/channels/documents.py), or, without
        BOT_PUBLIC_URL, a line saying the page cannot be offered."""
        if not any(r.kind in LETTER_KINDS for r in replies):
            return replies
        case_id = case_of(inbound, replies)
        if case_id is None:
            return replies

        def make(engine: Engine) -> str | None:
            user = engine.store.find_user(CHANNEL, inbound.user)
            if user is None or engine.store.case(user["id"], case_id) is None:
                return None
            lang = engine.language(CHANNEL, inbound.user)
            url = offer_link(engine, user["id"], "letters", {"case": case_id}, self.public_url)
            if url is None:
                log.warning("wechat: BOT_PUBLIC_URL is not set: no link to the letters' page")
                return engine.k.text(lang, "doc.no_public_url")
            return engine.k.text(lang, "doc.offer", url=url, days=_days(engine.settings.bot_link_days))

        text = await self.worker.run(make)
        if text is None:
            return replies
        at = numbered_reply(replies)   # before the question on screen, if any, so it stays last
        extra = Reply(text=text, kind="notice")
        return [*replies[:at], extra, *replies[at:]] if at is not None else [*replies, extra]

    def _messages(self, replies: Sequence[Reply]) -> list[tuple[str, bool]]:
        """Pushed, a letter is alone in its message and may use all of WeChat's limit; as a
        passive reply (no API), it leaves room for the "reply more" line."""
        return messages_of(replies, CHUNK, PASSIVE_LIMIT if self.api is not None else CHUNK)

    def _cap(self, openid: str, messages: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
        if len(messages) > MAX_PARTS:
            messages = [*messages[:MAX_PARTS - 1], (self._t(openid, "wechat.cut"), False)]
        return messages or [("", False)]

    # the outbox (storage.shared): the rest of an answer, in the database, in the worker thread
    async def _outbox_put(self, openid: str, messages: list[tuple[str, int]], total: int,
                          replace: bool = False, screen: Screen | None = None, shift: int = 0) -> None:
        """`messages` (text, part) wait in the outbox; `screen` (screen_at of the whole
        answer) marks the one showing the numbered list, `shift` being how many of the
        answer's messages come before `messages`."""
        screens = {screen[0] - shift: screen[1]} if screen is not None and screen[0] >= shift else {}

        def put(engine: Engine) -> None:
            user = engine.store.find_user(CHANNEL, openid)
            if user is not None and (messages or replace):
                engine.store.shared.outbox_add(user["id"], CHANNEL, [(t, n, total) for t, n in messages],
                                               replace=replace, screens=screens)
        await self.worker.run(put)

    async def _outbox_count(self, openid: str) -> int:
        def count(engine: Engine) -> int:
            user = engine.store.find_user(CHANNEL, openid)
            return 0 if user is None else engine.store.shared.outbox_count(user["id"])
        return await self.worker.run(count)

    async def _outbox_next(self, openid: str) -> tuple[int, OutboxRow] | None:
        """(the user id, their oldest waiting message), or None."""
        def first(engine: Engine) -> tuple[int, OutboxRow] | None:
            user = engine.store.find_user(CHANNEL, openid)
            rows = [] if user is None else engine.store.shared.outbox(user["id"], limit=1)
            return (user["id"], rows[0]) if user is not None and rows else None
        return await self.worker.run(first)

    async def _outbox_take(self, user_id: int, row: OutboxRow) -> bool:
        """The message was delivered: it leaves the outbox, and when it shows a numbered list,
        a typed number now means that list."""
        def take(engine: Engine) -> bool:
            with engine.store.transaction():
                if row.screen is not None:
                    engine.store.update_user(user_id, screen=row.screen)
                return engine.store.shared.outbox_take(user_id, row.id)
        return await self.worker.run(take)

    async def _next_more(self, openid: str) -> str:
        """Without the API: the next waiting message, whole, with "part n of N, reply more"."""
        found = await self._outbox_next(openid)
        if found is None:  # pragma: no cover - the caller saw it waiting
            return self._t(openid, "wechat.below")
        user_id, row = found
        await self._outbox_take(user_id, row)
        if await self._outbox_count(openid):
            return row.text + "\n\n" + self._t(openid, "wechat.more", n=row.part, total=row.total)
        return row.text

    def _t(self, openid: str, key: str, **values: object) -> str:
        return self.engine.k.text(self.engine.language(CHANNEL, openid), key, **values)

    def _respond(self, request: web.Request, openid: str, account: str, text: str | None) -> web.Response:
        if text is None:
            return web.Response(text="success")
        xml = text_reply(openid, account, text, int(time.time()))
        if self.box is not None:
            ts, nonce = str(int(time.time())), secrets.token_hex(8)
            encrypted = self.box.encrypt(xml.encode("utf-8"))
            xml = encrypted_reply(encrypted, signature(self.token, ts, nonce, encrypted), ts, nonce)
        return web.Response(text=xml, content_type="application/xml", charset="utf-8")

    # the customer-service API ------------------------------------------------------------------
    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def _push_outbox(self, openid: str) -> None:
        """Send the user's outbox through the customer-service API, unless it is being sent."""
        if openid not in self.pushing:
            task = self.pushing[openid] = self._spawn(self._push(openid))
            task.add_done_callback(lambda t: self.pushing.pop(openid, None) if self.pushing.get(openid) is t else None)

    async def _push(self, openid: str) -> None:
        """The user's waiting messages in order, one customer-service message each, paced
        (`push_delay` before each). Each leaves the outbox once WeChat took it; when WeChat
        refuses (45047: too many since the user last wrote; 45015: outside the 48 hours) or
        fails, the rest stays for the user's next message."""
        assert self.api is not None
        while (found := await self._outbox_next(openid)) is not None:
            user_id, row = found
            await asyncio.sleep(self.push_delay)
            try:
                ok = await self.api.send_text(openid, row.text)
            except Exception as exc:
                log.warning("wechat: pushing a message failed: %s", type(exc).__name__)
                ok = False
            if not ok:
                return
            await self._outbox_take(user_id, row)

    async def drain(self) -> None:
        """Wait for the pushes in flight (tests; shutdown)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    async def push(self, user: str, replies: Sequence[Reply]) -> bool:
        """Reminders (followup.route_when_due): within 48 hours of the user's last message,
        through the customer-service API; later, or when WeChat refuses that, one
        subscription notification if the user allowed one (its text waits in the outbox and
        comes with the user's next message, which the notification invites); otherwise False:
        the reminder stays pending and comes with the user's next message. Transient failures
        raise. When the start went out and WeChat refuses the rest, the rest waits in the
        outbox for the user's next message."""
        assert self.api is not None
        user_id, last_seen, consents, now = await self.worker.run(lambda engine: self._facts(engine, user))
        route = followup.route_when_due(now, last_seen, consents, True, bool(self.template))
        messages = self._cap(user, self._messages(replies))
        screen = screen_at([t for t, _ in messages], replies)
        if route == "service":
            for i, (text, _) in enumerate(messages):
                if not await self.api.send_text(user, text):
                    if i > 0:
                        await self._outbox_put(user, [(t, n) for n, (t, _) in enumerate(messages[i:], i + 1)],
                                               len(messages), screen=screen, shift=i)
                        return True
                    break   # not one went out (45015, 45047): a notification, if allowed
            else:
                return True
            route = "subscribe" if consents else "next"
        if route != "subscribe" or self.template is None or user_id is None:
            return False
        return await self._notify(user, user_id, replies, messages, now, screen)

    def _facts(self, engine: Engine, openid: str) -> tuple[int | None, dt.datetime | None, int, dt.datetime]:
        """(user id, when they last wrote, consents left, now) for a push, in the worker."""
        now = engine.clock().astimezone(dt.UTC)
        row = engine.store.find_user(CHANNEL, openid)
        if row is None:
            return None, None, 0, now
        last = row.get("last_seen")
        seen = dt.datetime.fromisoformat(last) if last else None
        consents = engine.store.links.consents(row["id"], self.template) if self.template else 0
        return row["id"], seen, consents, now

    async def _notify(self, openid: str, user_id: int, replies: Sequence[Reply], messages: list[tuple[str, bool]],
                      now: dt.datetime, screen: Screen | None) -> bool:
        """One subscription notification (one consent used); the reminder's messages wait in
        the outbox for the user's next message."""
        assert self.api is not None and self.template is not None
        template = self.template
        consent = await self.worker.run(lambda engine: engine.store.links.take_consent(user_id, template))
        if consent is None:
            return False
        lang_tz = await self.worker.run(lambda engine: (engine.language(CHANNEL, openid), _tz(engine, user_id)))
        lang, tz = lang_tz
        what = followup.thing(replies[0].text) if replies else ""
        if not what:
            what = self.engine.k.text(lang, "followup.notify_default")
        when = now.astimezone(tz).strftime("%Y年%m月%d日 %H:%M" if lang == "zh" else "%Y-%m-%d %H:%M")
        try:
            sent = await self.api.send_subscribe(openid, template, {self.fields[0]: what, self.fields[1]: when})
        except Exception:
            await self.worker.run(lambda engine: engine.store.links.give_back_consent(consent))
            raise
        if not sent:
            await self.worker.run(lambda engine: engine.store.links.give_back_consent(consent))
            return False
        await self._outbox_put(openid, [(t, n) for n, (t, _) in enumerate(messages, 1)], len(messages),
                               screen=screen)
        log.info("wechat: a reminder went out as a subscription notification")
        return True

    # consent to subscription notifications ---------------------------------------------------------
    def note(self, ctx: ActionContext, reminder_id: int, at: dt.datetime) -> str | None:
        """What a user setting a reminder (or a complaint's check) is told about how it will
        arrive (bot/actions/followup.py); for "subscribe", with a link to the consent page."""
        route = followup.route_when_set(ctx.now, at, self.api is not None, bool(self.template))
        url = None
        if route == "subscribe":
            if self.public_url:
                token = ctx.store.links.create(ctx.user_id, "subscribe", {"reminder": reminder_id},
                                               dt.timedelta(days=self.settings.bot_link_days))
                url = f"{self.public_url}/wechat/subscribe/{token}"
            else:
                log.warning("wechat: BOT_PUBLIC_URL is not set: no consent page for subscription notifications")
        return followup.note(ctx, route, url)

    async def _consent_event(self, openid: str, event: str, fields: dict[str, str]) -> str | None:
        """subscribe_msg_popup_event: each "accept" of our template is one notification
        allowed (stored); subscribe_msg_change_event "reject": the user turned them off."""
        name = "SubscribeMsgPopupEvent" if event == "subscribe_msg_popup_event" else "SubscribeMsgChangeEvent"
        mine = [i for i in items(fields, name) if i.get("TemplateId") == self.template]
        if not mine or self.template is None:
            return None
        template = self.template

        def store(engine: Engine) -> str | None:
            user = engine.store.user(CHANNEL, openid)
            accepted = 0
            for item in mine:
                status = item.get("SubscribeStatusString", "")
                if status == "accept" and event == "subscribe_msg_popup_event":
                    engine.store.links.grant_consent(user["id"], CHANNEL, template, item.get("PopupScene", ""))
                    accepted += 1
                elif status == "reject":
                    engine.store.links.revoke_consents(user["id"], template)
            return engine.k.text(engine.language(CHANNEL, openid), "followup.consented") if accepted else None

        return await self.worker.run(store)

    async def consent_page(self, request: web.Request) -> web.Response:
        """GET /wechat/subscribe/<token>: WeChat's subscribe button for our template."""
        assert self.api is not None and self.template is not None
        link = self.engine.store.links.find(request.match_info["token"])
        user = self.engine.store.user_by_id(link.user_id) if link is not None and link.kind == "subscribe" else None
        if user is None or self.public_url is None:
            return web.Response(status=404, text="not found", headers={"Cache-Control": "no-store"})
        lang = self.engine.language(user["channel"], user["external_id"])
        ts, nonce, csp_nonce = int(self.wall()), secrets.token_hex(8), secrets.token_urlsafe(16)
        url = self.public_url + request.path_qs
        try:
            ticket = await self.api.jsapi_ticket()
        except Exception as exc:
            log.warning("wechat: no JS-SDK ticket for the consent page: %s", type(exc).__name__)
            return web.Response(status=503, text="try again later", headers={"Cache-Control": "no-store"})
        t = self.engine.k.text
        body = followup.consent_page(title=t(lang, "followup.page_title"), text=t(lang, "followup.page_text"),
                                     button=t(lang, "followup.page_button"),
                                     outside=t(lang, "followup.page_wechat_only"),
                                     done=t(lang, "followup.consented"), template_id=self.template,
                                     app_id=self.api.app_id, timestamp=ts, nonce=nonce,
                                     signature=followup.jsapi_signature(ticket, nonce, ts, url),
                                     csp_nonce=csp_nonce, lang=lang)
        return web.Response(text=body, content_type="text/html", charset="utf-8", headers={
            "Content-Security-Policy": followup.CONSENT_CSP.format(n=csp_nonce), "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"})

    async def stop(self) -> None:
        """The pushes in flight finish (15 s at most), then the worker and the API client go."""
        if notes.NOTES.get(CHANNEL) == self.note:
            del notes.NOTES[CHANNEL]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drain(), 15)
        await super().stop()
        if self.api is not None:
            await self.api.close()


WECHAT = web.AppKey("wechat", WeChatChannel)
