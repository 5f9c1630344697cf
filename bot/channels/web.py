"""The mobile web chat: `GET /` (the page) and `POST /api/chat` (interfaces.md), channel "web".

    POST /api/chat  {"session": "", "text": "/start", "id": "c1"}
                 -> {"session": "<new id>", "replies": [{"text", "buttons", "files", "kind"}]}

Sessions. The session is the engine's user id on the "web" channel. An empty, malformed or
unknown session (never seen, forged, or deleted with /delete) gets a new random one
(secrets.token_urlsafe(24)); the server never adopts an id the client made up, and an unknown
session is not an error: it is simply a new user. The page keeps the session in localStorage.

Retries. With a client message id (`"id"`), the engine's inbox deduplicates on
`<session>:<id>`, so a POST retried after a network error is not a second step. The engine
forgets the replies once acknowledged, and an HTTP server cannot know whether the response
reached the phone, so the JSON of each answered message is also kept here for RETRY_WINDOW
(in memory, bounded): a retry inside that window gets the same replies again. A crash
between handling and acknowledging is covered by the engine (it keeps unacknowledged replies
and gives them to the retry). Without an id every POST is a new message.

Language. The `Accept-Language` header is passed as the engine's lang_hint with the first
message of a new session only; afterwards the user's choice (/start, /lang) or their typing
decides.

Files. Replies with inline `content` (the /export JSON) are served as short-lived links,
`GET /api/file/<token>`, rather than `data:` URLs: a link keeps the JSON reply small whatever
the file's size, downloads with the right file name on phones (iOS Safari ignores `download`
on data: URLs), and the content lives only in this process's memory for FILE_TTL, in a store
bounded in count and bytes (oldest dropped first). Tokens are random (token_urlsafe(24)) and
are the only key; files are sent as attachments with `nosniff` and a safe content type. After a
restart or expiry the link answers 404 and the user asks for the export again.

Reminders. The web page cannot receive pushes, so this channel registers no sender: due
reminders stay pending and the engine puts them in front of the reply to the user's next
message (bot/actions/remind.py).

Errors. Bad input gets a 4xx with `{"error": "<short reason>"}`, never a traceback. Logs
never contain message text, and never a session id.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import secrets
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot.channels.expiring import Expiring
from bot.channels.http import ServerContext
from bot.core.engine import Engine
from bot.core.models import Inbound, Reply

log = logging.getLogger("bot.web")

CHANNEL = "web"
PAGE = Path(__file__).with_name("web_static") / "index.html"
MAX_BODY = 64 * 1024           # bytes of one /api/chat request
MAX_CHOICE = 64
MAX_CLIENT_ID = 64
SESSION_RE = re.compile(r"[A-Za-z0-9_-]{20,64}")
RETRY_WINDOW = 10 * 60.0       # seconds a retried message id gets the same replies
MAX_RECENT = 2000              # answered messages kept for retries
FILE_TTL = 15 * 60.0           # seconds a file link works
MAX_FILES = 200
MAX_FILE_BYTES = 32 * 1024 * 1024  # all files held at once
SAFE_MIMES = {"text/plain", "application/json", "text/csv", "text/markdown"}


class WebChat:
    """The channel: one per app. `clock` (monotonic seconds) is injectable for tests."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.monotonic):
        self.engine = engine
        self.files = Expiring(FILE_TTL, MAX_FILES, MAX_FILE_BYTES, clock)
        self.recent = Expiring(RETRY_WINDOW, MAX_RECENT, None, clock)
        self.page = PAGE.read_bytes()
        self.csp = _csp(self.page.decode("utf-8"))

    # GET / ------------------------------------------------------------------------------------
    async def index(self, request: web.Request) -> web.Response:
        return web.Response(body=self.page, content_type="text/html", charset="utf-8", headers={
            "Content-Security-Policy": self.csp,
            "Cache-Control": "no-cache",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        })

    # GET /api/file/<token> --------------------------------------------------------------------
    async def file(self, request: web.Request) -> web.Response:
        item = self.files.get(request.match_info["token"])
        if item is None:
            return _error(404, "file link expired or unknown")
        name, data, mime = item
        ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", name) or "file"
        return web.Response(body=data, content_type=mime if mime in SAFE_MIMES else "application/octet-stream",
                            charset="utf-8", headers={
                                "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; "
                                                      f"filename*=UTF-8''{quote(name, safe='')}",
                                "Cache-Control": "no-store",
                                "X-Content-Type-Options": "nosniff",
                            })

    # POST /api/chat ---------------------------------------------------------------------------
    async def chat(self, request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > MAX_BODY:
            return _error(413, f"request too large (max {MAX_BODY} bytes)")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _error(413, f"request too large (max {MAX_BODY} bytes)")
        if len(body) > MAX_BODY:
            return _error(413, f"request too large (max {MAX_BODY} bytes)")
        try:
            data = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError):
            return _error(400, "body must be JSON")
        problem = _check(data)
        if problem:
            return _error(400, problem)
        session, new = self._session(data.get("session"))
        client_id = data.get("id")
        key = f"{session}:{client_id}" if client_id is not None else None
        if key is not None and (kept := self.recent.get(key)) is not None:
            return web.json_response({"session": session, "replies": kept})  # a retry: same replies
        inbound = Inbound(channel=CHANNEL, user=session, message_id=key or f"{session}:{uuid.uuid4().hex}",
                          text=data.get("text"), choice=data.get("choice"),
                          lang_hint=_accept_language(request.headers.get("Accept-Language", "")) if new else None)
        try:
            replies = self.engine.handle(inbound)
        except Exception as exc:  # the engine answers its own errors; this is a last resort
            log.error("web: handling failed: %s", type(exc).__name__)
            return _error(500, "internal error, please try again")
        out = [self._reply_json(r) for r in replies]
        if key is not None:
            self.recent.put(key, out)
        self.engine.ack(inbound)
        return web.json_response({"session": session, "replies": out},
                                 headers={"Cache-Control": "no-store"})

    def _session(self, given: str) -> tuple[str, bool]:
        """(session, is new). A session is known when the "web" user row exists."""
        if given and SESSION_RE.fullmatch(given):
            known = self.engine.store.db.execute(
                "SELECT 1 FROM users WHERE channel = ? AND external_id = ?", [CHANNEL, given]).fetchone()
            if known:
                return given, False
        return secrets.token_urlsafe(24), True

    def _reply_json(self, reply: Reply) -> dict:
        files = []
        for f in reply.files:
            url = f.url or ""
            if f.content is not None:
                token = secrets.token_urlsafe(24)
                data = f.content.encode("utf-8")
                self.files.put(token, (f.name, data, f.mime), size=len(data))
                url = f"/api/file/{token}"
            files.append({"name": f.name, "url": url})
        return {"text": reply.text, "buttons": [{"id": b.id, "label": b.label} for b in reply.buttons],
                "files": files, "kind": reply.kind}


def _check(data: Any) -> str | None:
    """What is wrong with a /api/chat body, or None."""
    if not isinstance(data, dict):
        return "body must be a JSON object"
    session = data.get("session", "")
    if session is not None and not isinstance(session, str):
        return "session must be a string"
    if data.get("session") is None:
        data["session"] = ""
    text, choice = data.get("text"), data.get("choice")
    if (text is None) == (choice is None):
        return "give exactly one of text and choice"
    if text is not None and not isinstance(text, str):
        return "text must be a string"
    if choice is not None and (not isinstance(choice, str) or not choice):
        return "choice must be a non-empty string"
    if choice is not None and len(choice) > MAX_CHOICE:
        return f"choice too long (max {MAX_CHOICE} characters)"
    cid = data.get("id")
    if cid is not None:
        if isinstance(cid, bool) or not isinstance(cid, str | int):
            return "id must be a string or a number"
        data["id"] = cid = str(cid)
        if not cid or len(cid) > MAX_CLIENT_ID:
            return f"id must be 1 to {MAX_CLIENT_ID} characters"
    return None


def _accept_language(header: str) -> str | None:
    """"zh" or "en": the first of them in the header's preference order, else None."""
    ranked = []
    for i, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in ("zh", "en") and q > 0:
            ranked.append((-q, i, primary))
    return min(ranked)[2] if ranked else None


def _csp(page: str) -> str:
    """A Content-Security-Policy that allows only the page's own inline script and style."""
    def hashes(tag: str) -> str:
        blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", page, re.S)
        return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'"
                        for b in blocks)
    return (f"default-src 'none'; script-src {hashes('script')}; style-src {hashes('style')}; "
            "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'")


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


WEB = web.AppKey("web", WebChat)


def setup_routes(app: web.Application, ctx: ServerContext) -> None:
    """`/`, `/api/chat` and `/api/file/<token>`. No reminder sender: see the module docstring."""
    chat = WebChat(ctx.engine)
    app[WEB] = chat
    app.router.add_get("/", chat.index)
    app.router.add_post("/api/chat", chat.chat)
    app.router.add_get("/api/file/{token}", chat.file)
