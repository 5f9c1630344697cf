"""The WeChat Official Account channel: GET/POST /wechat and pushes (reminders, the rest of
long answers). See the package docstring (bot/channels/wechat/__init__.py) for the design;
the plumbing (worker thread, dedup and retries, ack, last-resort error, numbered buttons) is
bot/channels/base.py's."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import secrets
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from aiohttp import web

from bot.channels import textsplit
from bot.channels.base import ChannelBase, HandlingFailed, plain_text
from bot.channels.expiring import Expiring
from bot.channels.textsplit import utf8_len
from bot.channels.wechat.api import WeChatAPI
from bot.channels.wechat.crypto import Box, CryptoError, same, signature
from bot.channels.wechat.messages import XMLError, encrypted_reply, parse, text_reply
from bot.config import Settings
from bot.core.engine import Engine
from bot.core.models import Inbound, Reply
from bot.knowledge.normalize import normalize

log = logging.getLogger("bot.wechat")

CHANNEL = "wechat"
MAX_BODY = 64 * 1024            # bytes of one POST
PASSIVE_LIMIT = 2048            # bytes WeChat accepts in one text message
CHUNK = 1800                    # bytes of text per message, leaving room for a hint line
MAX_PARTS = 30                  # messages one answer may take; the rest is cut with a notice
RETRY_WINDOW = 10 * 60.0        # seconds a retried MsgId gets the same passive reply from memory
TIMESTAMP_WINDOW = 5 * 60       # seconds a signed request's timestamp may be off from our clock
MAX_NONCES = 100_000
MORE_TTL = 24 * 3600.0          # seconds the rest of a long answer waits for "more"
MAX_MORE = 2000
MAX_MORE_BYTES = 16 * 1024 * 1024
PUSH_DELAY = 0.5                # seconds between the passive reply and the first pushed part
MORE_WORDS = {"更多", "继续", "more", "next"}
OPENID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
PARAM_MAX = 128
ATTACHMENTS = {"image": "photo", "voice": "voice", "video": "video", "shortvideo": "video",
               "file": "file", "location": "location", "link": "other"}

Handled = tuple[Inbound | None, str | None]   # (to the engine, or a direct reply text / None: "success")


def split_text(text: str, limit: int = CHUNK) -> list[str]:
    """Parts of at most `limit` UTF-8 bytes (bot.channels.textsplit)."""
    return textsplit.split_text(text.strip("\n"), limit, utf8_len)


def join_replies(replies: Sequence[Reply]) -> str:
    """All replies as one text; buttons as `[N] label` lines (the user types N or the label)."""
    return plain_text(replies)


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
        self.more = Expiring(MORE_TTL, MAX_MORE, MAX_MORE_BYTES, clock)  # openid -> (parts left, total)
        self.tasks: set[asyncio.Task] = set()
        self.push_delay = PUSH_DELAY

    def routes(self, app: web.Application) -> None:
        """`/wechat` when WECHAT_TOKEN is set (without it, the channel only pushes)."""
        app[WECHAT] = self
        if self.token:
            app.router.add_get("/wechat", self.verify)
            app.router.add_post("/wechat", self.receive)

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
        """A user deleted their data: drop the rest of a paged answer and the kept replies."""
        super().forget(user)
        self.more.pop(user)

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
        """The passive reply, then the engine is told WeChat has it."""
        text = await self._answer(inbound)
        await self.ack(inbound)
        return text

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
            if event == "subscribe":
                return make(text="/start"), None
            if event == "click" and key.startswith("/") and len(key) <= 64:   # a menu button naming a command
                return make(text=key), None
            return None, None   # unsubscribe, location reports, menu views...: nothing to say
        if kind == "voice" and f.get("Recognition", "").strip():            # WeChat's speech recognition
            return make(text=f["Recognition"].strip()), None
        if kind in ATTACHMENTS:
            return make(attachment=ATTACHMENTS[kind]), None
        log.info("wechat: unsupported message type")
        return None, self._t(openid, "wechat.unsupported")

    async def _answer(self, inbound: Inbound) -> str | None:
        """The passive reply text for one message (None: nothing to say). The rest of a long
        answer goes out by the customer-service API, or waits for "more"."""
        openid = inbound.user
        pending = self.more.get(openid)
        if pending is not None and inbound.text and normalize(inbound.text).strip(" .。!！") in MORE_WORDS:
            return self._next_more(openid)
        # replay: a retry after a restart (nothing in self.recent) gets the stored answer again
        _, replies = await self.answer(inbound, ack=False)
        if not replies:
            return None
        self.more.put(openid, None, 0)  # a new answer replaces what was left of the last one
        parts = self._parts(openid, join_replies(replies))
        if len(parts) == 1:
            return parts[0]
        if self.api is not None:
            self._spawn(self._push(openid, parts[1:], len(parts)))
            return parts[0] + "\n\n" + self._t(openid, "wechat.continued", n=1, total=len(parts))
        self._keep(openid, parts[1:], len(parts))
        return parts[0] + "\n\n" + self._t(openid, "wechat.more", n=1, total=len(parts))

    def _parts(self, openid: str, text: str) -> list[str]:
        parts = split_text(text) or [""]
        if len(parts) > MAX_PARTS:
            parts = [*parts[:MAX_PARTS - 1], parts[MAX_PARTS - 1] + "\n\n" + self._t(openid, "wechat.cut")]
        return parts

    def _keep(self, openid: str, parts: list[str], total: int) -> None:
        self.more.put(openid, (parts, total), sum(len(p.encode("utf-8")) for p in parts))

    def _next_more(self, openid: str) -> str:
        parts, total = self.more.get(openid)  # type: ignore[misc]
        part, rest = parts[0], parts[1:]
        n = total - len(rest)
        if rest:
            self._keep(openid, rest, total)
            return part + "\n\n" + self._t(openid, "wechat.more", n=n, total=total)
        self.more.put(openid, None, 0)
        return part

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
    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _push(self, openid: str, parts: list[str], total: int) -> None:
        """The rest of a long answer after the passive reply. What cannot be pushed waits for
        "more" (the passive reply said so)."""
        assert self.api is not None
        await asyncio.sleep(self.push_delay)
        for i, part in enumerate(parts):
            try:
                ok = await self.api.send_text(openid, part)
            except Exception as exc:
                log.warning("wechat: pushing part of a long answer failed: %s", type(exc).__name__)
                ok = False
            if not ok:
                self._keep(openid, parts[i:], total)
                return

    async def drain(self) -> None:
        """Wait for the pushes in flight (tests; shutdown)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    async def push(self, user: str, replies: Sequence[Reply]) -> bool:
        """Reminders, through the customer-service API: True delivered; False outside the
        customer-service window (the reminder stays pending and comes with the user's next
        message). Transient failures raise."""
        assert self.api is not None
        parts = self._parts(user, join_replies(replies))
        for i, part in enumerate(parts):
            if not await self.api.send_text(user, part):
                if i == 0:
                    return False
                self._keep(user, parts[i:], len(parts))   # the start arrived; the rest waits for "more"
                return True
        return True

    async def stop(self) -> None:
        """The pushes in flight finish (15 s at most), then the worker and the API client go."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drain(), 15)
        await super().stop()
        if self.api is not None:
            await self.api.close()


WECHAT = web.AppKey("wechat", WeChatChannel)
