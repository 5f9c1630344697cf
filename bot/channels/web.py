"""The mobile web chat: `GET /` (the page) and `POST /api/chat` (interfaces.md), channel "web".

    POST /api/chat  {"session": "", "text": "/start", "id": "c1"}
                 -> {"session": "<new id>", "replies": [{"text", "buttons", "files", "kind", "links"}],
                     "lang": "zh", "deleted": false}
    GET /api/history             the recent conversation and the question waiting (after a reload)
    GET /api/updates             due reminders for an open page (it polls)
    GET /api/calendar[?id=]      the reminders still to come as an .ics file
    (the GETs name the session in an `X-Session` header, never in the URL, which proxies log)

The page (web_static/index.html) is one file with its inline script and style allowed by hash
in the CSP; its own labels (content/<lang>/ui/web.yaml, every language) are inlined as a JSON
data block. `links` are the tappable spans of a reply's text (web_links.py: hotline numbers
as `tel:`, addresses), so the text itself stays plain for every other channel. `"auto": true`
marks the page's own /start (not shown in the history); `"deleted"` tells the page the user
was just deleted, so it wipes the screen and its storage.

History. Every exchange is kept in `web_history` (storage/history.py: the user's text or the
label of the button they tapped, and the replies as the page draws them, without file links;
bounded to 200 messages and 30 days, in /export, erased by /delete), once per message id. A
multi-select tap that answers with the same question (one more or one less ticked) replaces
that question in place, as the page does. After a reload the page redraws the history and
the engine's current question (`Engine.welcome_back`) with live buttons, so nothing typed
after a reload answers a question the person cannot see.

Sessions. The session is the engine's user id on the "web" channel. An empty, malformed or
unknown session (never seen, forged, or deleted with /delete) gets a new random one
(secrets.token_urlsafe(24)); the server never adopts an id the client made up, and an unknown
session is not an error: it is simply a new user. The page keeps the session in localStorage.

Retries. With a client message id (`"id"`), the engine's inbox deduplicates on
`<session>:<id>`, so a POST retried after a network error is not a second step, and it keeps
the replies in the database for the whole dedup window (storage.store.DEDUP_WINDOW): a retry
gets the same replies again, after a restart or a crash too (`Engine.handle(replay=True)`).
Without an id every POST is a new message.

Language. The `Accept-Language` header is passed as the engine's lang_hint with the first
message of a new session only; afterwards the user's choice (/start, /lang) or their typing
decides.

Files. Replies with inline `content` (the /export JSON) are served as short-lived links,
`GET /api/file/<token>`, rather than `data:` URLs: a link keeps the JSON reply small whatever
the file's size, downloads with the right file name on phones (iOS Safari ignores `download`
on data: URLs), and the content lives only in this process's memory for FILE_TTL, in a store
bounded in count and bytes (oldest dropped first). Tokens are random (token_urlsafe(24)) and
are the only key; files are sent as attachments with `nosniff` and a safe content type. A link
is for one download: it dies REUSE_GRACE after it was first fetched (phones' download managers
fetch a link a second time), and /delete drops every link of the session at once. After a
restart, expiry or use the link answers 404 and the user asks for the export again (a retry
of the /export message gets a fresh link).

Reminders. The scheduler cannot push to a web page (`can_push` is False): due reminders stay
pending until either the open page polls `/api/updates` (they are taken, marked sent and put
in the history here; the page shows them and, with permission, a notification) or the
engine puts them in front of the reply to the user's next message (bot/actions/remind.py).
`/api/calendar` is the fallback that works with the page closed.

The plumbing (worker thread, dedup and replay through the inbox, ack, the last-resort
error) is bot/channels/base.py's ChannelBase; this module is the page, the JSON API, the
sessions, the rate limits and the file links.

Limits. Requests are rate-limited per session, per client address and for new sessions
per address (bot/channels/ratelimit.py, BOT_RATE_*): over a limit, 429 with Retry-After and
nothing is handled; the page waits and sends the same message again.

Errors. Bad input (not JSON, nested too deep, text that is not valid Unicode such as a lone
surrogate, wrong types, ids too long) gets a 400 with `{"error": "<short reason>"}`, never a
500 or a traceback. Logs never contain message text, and never a session id.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web
from pydantic import ValidationError

from bot import locale
from bot.channels import web_reminders
from bot.channels.base import BadInput, ChannelBase, HandlingFailed, failed, handle
from bot.channels.expiring import Expiring
from bot.channels.ratelimit import RateLimits, client_address, retry_after
from bot.channels.web_links import Linker
from bot.config import Settings
from bot.core import callbacks as cb
from bot.core.engine import Engine
from bot.core.models import FileOut, Inbound, Reply

CHANNEL = "web"
STATIC = Path(__file__).with_name("web_static")
PAGE = STATIC / "index.html"
LABELS_MARK = "<!--LABELS-->"  # where the page's own labels (content/<lang>/ui/web.yaml) go
#: the other static files: path -> (file, content type)
ASSETS = {"/manifest.webmanifest": ("manifest.webmanifest", "application/manifest+json"),
          "/icon.svg": ("icon.svg", "image/svg+xml"), "/favicon.ico": ("icon.svg", "image/svg+xml"),
          "/leave": ("leave.html", "text/html"), "/sw.js": ("sw.js", "text/javascript")}
HISTORY_PRUNE_EVERY = 3600.0   # seconds between clean-ups of every user's old history
MAX_BODY = 64 * 1024           # bytes of one /api/chat request
MAX_CHOICE = 64
MAX_CLIENT_ID = 64
SESSION_RE = re.compile(r"[A-Za-z0-9_-]{20,64}")
FILE_TTL = 15 * 60.0           # seconds a file link works
REUSE_GRACE = 60.0             # seconds a link still works after its first download (download managers fetch twice)
MAX_FILES = 200
MAX_FILE_BYTES = 32 * 1024 * 1024  # all files held at once
SAFE_MIMES = {"text/plain", "application/json", "text/csv", "text/markdown"}


class WebChat(ChannelBase):
    """The channel: one per app. `clock` (monotonic seconds) is injectable for tests."""

    name = CHANNEL
    replay = True  # a retried id gets the first answer again (with fresh file links)

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.monotonic):
        super().__init__(engine)
        st = engine.settings
        self.limits = RateLimits.parse(st.bot_rate_session, st.bot_rate_address, st.bot_rate_new_session)
        self.files = Expiring(FILE_TTL, MAX_FILES, MAX_FILE_BYTES, clock)  # token -> (session, file)
        self.screens: dict[str, list[dict[str, Any]]] = {}  # message key -> buttons on screen (worker only)
        self.page = _page(PAGE.read_text("utf-8"), engine).encode("utf-8")
        self.csp = _csp(self.page.decode("utf-8"))
        self.assets = {path: ((STATIC / name).read_bytes(), mime) for path, (name, mime) in ASSETS.items()}
        self.linker = Linker.from_facts(engine.k.facts)
        self.clock = clock
        self.pruned = -HISTORY_PRUNE_EVERY

    def routes(self, app: web.Application) -> None:
        """`/`, `/api/chat`, `/api/file/<token>`, `/api/history`, `/api/updates`, `/api/calendar`
        and the page's static files (manifest, icon, the neutral page of "leave quickly")."""
        app[WEB] = self
        app.router.add_get("/", self.index)
        app.router.add_post("/api/chat", self.chat)
        app.router.add_get("/api/file/{token}", self.file)
        app.router.add_get("/api/history", self.history)
        app.router.add_get("/api/updates", self.updates)
        app.router.add_get("/api/calendar", self.calendar)
        for path in ASSETS:
            app.router.add_get(path, self.asset)

    async def asset(self, request: web.Request) -> web.Response:
        path = request.path
        body, mime = self.assets[path]
        headers = {"Cache-Control": "no-cache" if path == "/sw.js" else "max-age=3600",
                   "X-Content-Type-Options": "nosniff"}
        if mime == "text/html":
            headers.update({"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                            "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"})
        return web.Response(body=body, content_type=mime, headers=headers)

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
        wait = self.limits.check(session=None, address=_address(request), new_session=False, scope="file")
        if wait:
            return _too_many(wait)
        token = request.match_info["token"]
        item = self.files.get(token)
        now = self.files.clock()
        if item is None or (item[2] is not None and now - item[2] > REUSE_GRACE):
            self.files.pop(token)
            return _error(404, "file link expired or unknown")
        if item[2] is None:  # first download: the link dies REUSE_GRACE from now
            item[2] = now
        name, data, mime = item[1]
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
        except RecursionError:
            return _error(400, "JSON nested too deep")
        except (ValueError, UnicodeDecodeError):
            return _error(400, "body must be JSON")
        problem = _check(data)
        if problem:
            return _error(400, problem)
        known = bool(data["session"]) and SESSION_RE.fullmatch(data["session"]) is not None
        wait = self.limits.check(session=data["session"] if known else None, address=_address(request),
                                 new_session=not known)
        if wait:  # the page waits as told and sends the same message (same id) again
            return _too_many(wait)
        accept = request.headers.get("Accept-Language", "")

        def work(engine: Engine) -> tuple[Inbound, list[Reply], str | None, bool]:
            """The answer and its place in the history, in one trip to the worker thread."""
            message = self._inbound(engine, data, accept)
            replies = handle(engine, message, replay=self.replay)  # a retried id: the same replies
            try:
                lang, deleted = self._record(engine, message, data, replies)
            except Exception as exc:  # the answer stands; only its place in the history is lost
                failed(CHANNEL, exc)
                lang, deleted = None, False
            return message, replies, lang, deleted

        try:
            inbound, replies, lang, deleted = await self.worker.run(work)
        except BadInput as exc:  # input the engine cannot take (the field's name only)
            return _error(400, str(exc))
        except HandlingFailed:
            return _error(500, "internal error, please try again")
        except Exception as exc:
            failed(CHANNEL, exc)
            return _error(500, "internal error, please try again")
        session = inbound.user
        out = [self._json(r, link=lambda f: self._link(session, f)) for r in replies]
        return web.json_response({"session": session, "replies": out, "lang": lang, "deleted": deleted},
                                 headers={"Cache-Control": "no-store"})

    def _json(self, reply: Reply, link: Callable[[FileOut], str] | None = None) -> dict[str, Any]:
        """A reply's JSON (interfaces.md) plus `links`, the tappable spans of its text (web_links)."""
        out = reply.to_json(link=link)
        out["links"] = self.linker.spans(reply.text)
        return out

    def _record(self, engine: Engine, inbound: Inbound, data: dict, replies: list[Reply]) -> tuple[str | None, bool]:
        """In the worker thread, after the answer: the exchange into the page's history (once per
        message id), and (the user's language, whether the user was just deleted)."""
        session = inbound.user
        screen = self.screens.pop(inbound.message_id or "", None)
        user = engine.store.find_user(CHANNEL, session)
        if user is None:  # /delete: nothing of them is kept, the page wipes itself
            return None, True
        shown: dict[str, Any] | None = None
        text, choice = data.get("text"), data.get("choice")
        if text is not None:
            shown = None if data.get("auto") is True else {"text": text[:4000]}
        elif choice is not None:
            label = next((b["label"] for b in screen or [] if b.get("id") == choice), None)
            shown = {"text": label} if label else None
        toggled = (isinstance(cb.parse(choice), cb.Option) and len(replies) == 1 and screen is not None
                   and replies[0].kind == "question"
                   and [b.id for b in replies[0].buttons] == [b["id"] for b in screen])
        if toggled:  # a multi-select chip: the same question with one more or one less ticked
            shown = {"hidden": True, "toggle": True}
        engine.store.history.record(user["id"], inbound.message_id, shown,
                                    [_storable(self._json(r)) for r in replies], replace_last=toggled)
        now = self.clock()
        if now - self.pruned >= HISTORY_PRUNE_EVERY:
            self.pruned = now
            engine.store.history.prune()
        lang = user["lang"]
        return (lang if lang in engine.k.locales else engine.settings.bot_default_lang), False

    # GET /api/history -----------------------------------------------------------------------------
    async def history(self, request: web.Request) -> web.Response:
        """The page after a reload: the recent messages, the question waiting for an answer
        (`pending`: the dialog's current screen, [] when none) and the user's language."""
        session, problem = self._get_session(request, "history")
        if problem is not None:
            return problem

        def read(engine: Engine) -> dict[str, Any] | None:
            if engine.store.find_user(CHANNEL, session) is None:
                return None
            rows = engine.store.history.recent(CHANNEL, session)
            messages = [{"role": r["role"], "at": r["at"], **({"reply": r["data"]} if r["role"] == "out"
                                                               else r["data"])} for r in rows]
            pending = engine.welcome_back(CHANNEL, session)[1:]
            return {"session": session, "lang": engine.language(CHANNEL, session),
                    "messages": [m for m in messages if not m.get("hidden")],
                    "pending": [self._json(r) for r in pending]}

        return await self._read(read)

    # GET /api/updates -----------------------------------------------------------------------------
    async def updates(self, request: web.Request) -> web.Response:
        """What reached the user while the page was open and they did not write: their due
        reminders (the page polls this). Marked sent and kept in the history."""
        session, problem = self._get_session(request, "updates")
        if problem is not None:
            return problem

        def take(engine: Engine) -> dict[str, Any] | None:
            user = engine.store.find_user(CHANNEL, session)
            if user is None:
                return None
            with engine.store.transaction():
                replies = web_reminders.due_now(engine, user)
                if replies:
                    engine.store.history.record(user["id"], None, None, [_storable(self._json(r)) for r in replies])
            return {"session": session, "replies": [self._json(r) for r in replies]}

        return await self._read(take)

    # GET /api/calendar?id= ------------------------------------------------------------------------
    async def calendar(self, request: web.Request) -> web.Response:
        """An .ics file of the user's reminders still to come (or of the one `id`)."""
        session, problem = self._get_session(request, "calendar")
        if problem is not None:
            return problem
        wanted = request.query.get("id")
        if wanted is not None and not (wanted.isdigit() and len(wanted) < 12):
            return _error(400, "id must be a number")

        def build(engine: Engine) -> bytes | None:
            user = engine.store.find_user(CHANNEL, session)
            return None if user is None else web_reminders.calendar_file(
                engine, user, int(wanted) if wanted is not None else None)

        try:
            body = await self.worker.run(build)
        except Exception as exc:
            failed(CHANNEL, exc)
            return _error(500, "internal error, please try again")
        if body is None:
            return _error(404, "unknown session")
        return web.Response(body=body, content_type="text/calendar", charset="utf-8", headers={
            "Content-Disposition": 'attachment; filename="reminders.ics"', "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff"})

    def _get_session(self, request: web.Request, scope: str) -> tuple[str, web.Response | None]:
        """The session a GET names, or the error response (400 malformed, 429 too many)."""
        session = request.headers.get("X-Session", "")  # a header, never the URL: URLs end up in proxies' logs
        if not SESSION_RE.fullmatch(session):
            return session, _error(400, "X-Session must be a session id")
        wait = self.limits.check(session=session, address=_address(request), new_session=False, scope=scope)
        if wait:
            return session, _too_many(wait)
        return session, None

    async def _read(self, work: Callable[[Engine], dict[str, Any] | None]) -> web.Response:
        try:
            out = await self.worker.run(work)
        except Exception as exc:
            failed(CHANNEL, exc)
            return _error(500, "internal error, please try again")
        if out is None:  # never seen, or deleted: the page starts afresh
            return _error(404, "unknown session")
        return web.json_response(out, headers={"Cache-Control": "no-store"})

    def _inbound(self, engine: Engine, data: dict, accept_language: str) -> Inbound:
        """In the worker thread: the message, from the session it names (or a new one)."""
        session, new = self._session(engine, data.get("session"))
        client_id = data.get("id")
        key = f"{session}:{client_id}" if client_id is not None else None
        if not new and data.get("choice") is not None and key:  # the buttons it was pressed on (history)
            user = engine.store.find_user(CHANNEL, session)
            if len(self.screens) > 1000:  # answers that failed never came to pick theirs up
                self.screens.clear()
            self.screens[key] = list((user["screen"] if user else None) or [])
        try:
            return Inbound(channel=CHANNEL, user=session, message_id=key or f"{session}:{uuid.uuid4().hex}",
                           text=data.get("text"), choice=data.get("choice"),
                           lang_hint=_accept_language(accept_language, engine.k.languages) if new else None)
        except ValidationError as exc:  # the field's name only: never the value, never the session
            raise BadInput(f"invalid {'/'.join(str(x) for x in exc.errors()[0]['loc'])}") from None

    def _session(self, engine: Engine, given: str | None) -> tuple[str, bool]:
        """(session, is new). A session is known when the "web" user row exists."""
        if given and SESSION_RE.fullmatch(given) and engine.store.find_user(CHANNEL, given) is not None:
            return given, False
        return secrets.token_urlsafe(24), True

    def forget(self, user: str) -> None:
        """A user deleted their data: their file links die with it (on the event loop)."""
        super().forget(user)
        self.files.drop_where(lambda item: item[0] == user)

    def _link(self, session: str, f: FileOut) -> str:
        """A short-lived download link for a file with inline content (the /export JSON)."""
        token = secrets.token_urlsafe(24)
        data = (f.content or "").encode("utf-8")
        self.files.put(token, [session, (f.name, data, f.mime), None], size=len(data))
        return f"/api/file/{token}"


def _storable(reply: dict[str, Any]) -> dict[str, Any]:
    """A reply's JSON as the history keeps it: files by name only (their links are short-lived
    and their content, an export, is not copied)."""
    return {**reply, "files": [{"name": f.get("name", ""), "url": ""} for f in reply.get("files", [])]}


def _page(page: str, engine: Engine) -> str:
    """The page with its own labels (content/<lang>/ui/web.yaml, every language) inlined as a
    JSON data block, which the CSP does not treat as a script."""
    labels = {lang: {key[4:]: text for key, text in engine.k.ui.get(lang, {}).items() if key.startswith("web.")}
              for lang in engine.k.languages}
    block = json.dumps(labels, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return page.replace(LABELS_MARK, f'<script id="labels" type="application/json">{block}</script>', 1)


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
    if any(isinstance(v, str) and not _unicode(v) for v in (session, text, choice, data.get("id"))):
        return "text must be valid Unicode (no lone surrogates)"
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


def _unicode(text: str) -> bool:
    """Can it be stored and sent? JSON's \\ud800 escapes decode to lone surrogates, which
    UTF-8 (and so SQLite and every channel) cannot carry."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _accept_language(header: str, languages: list[str] | None = None) -> str | None:
    """The first language of the content (zh, en ...) in the header's preference order, else None."""
    ranked = []
    for i, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        lang = locale.from_tag(tag, languages)
        if lang and q > 0:
            ranked.append((-q, i, lang))
    return min(ranked)[2] if ranked else None


def _csp(page: str) -> str:
    """A Content-Security-Policy that allows only the page's own inline script and style."""
    def hashes(tag: str) -> str:
        blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", page, re.S)
        return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'"
                        for b in blocks)
    return (f"default-src 'none'; script-src {hashes('script')}; style-src {hashes('style')}; "
            "connect-src 'self'; img-src 'self' data:; manifest-src 'self'; worker-src 'self'; base-uri 'none'; "
            "form-action 'none'; "
            "frame-ancestors 'none'")


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _too_many(wait: float) -> web.Response:
    seconds = retry_after(wait)
    return web.json_response({"error": f"too many requests, try again in {seconds} s", "retry_after": int(seconds)},
                             status=429, headers={"Retry-After": seconds})


def _address(request: web.Request) -> str | None:
    return client_address(request.remote, request.headers.get("X-Forwarded-For"))


WEB = web.AppKey("web", WebChat)


def configure(engine: Engine, settings: Settings) -> WebChat:
    """The web chat runs wherever the HTTP server does."""
    return WebChat(engine)
