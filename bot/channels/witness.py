"""The witness page (issue 16, item 7): whoever got a collector's call about the borrower
records it here, without an account, with the code from the borrower's note.

    GET  /w            a box for the code (for a code typed from paper)
    POST /w            the code -> 303 to /w/<code>
    GET  /w/<code>     three fields: when, which number, what was said
    POST /w/<code>     the entry: an event of the code's case, source "witness", in the
                       witness's own words (storage/witness.py)

What the witness sees: nothing of the borrower's case (no name, no lender, no other entry;
not even whether earlier entries were made), the same page for every code, and the same "this
code does not work" page for a malformed, unknown, expired or withdrawn code. What they type
goes only into that borrower's log: never echoed back, never logged (logs say only that an
entry was made). Rate-limited per address (every request naming a code, so codes cannot be
guessed) and per code (entries). Strict CSP (styles only with the response's nonce, no
scripts, forms only to this server), no outside resources, not cached, not indexed; Chinese
with English under it.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import re
import secrets
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from bot.channels.documents import _private
from bot.channels.ratelimit import RateLimits, client_address, retry_after
from bot.core.engine import Engine
from storage.witness import MAX_ENTRIES, WitnessCode, code_hash, normalize_code

log = logging.getLogger("bot.witness")

CODE = r"[A-Za-z0-9-]{1,40}"
MAX_BODY = 16 * 1024
MAX_WORDS = 2000
MAX_NUMBER = 40
#: every request naming a code, per client address (guessing); entries per code
ADDRESS_LIMITS = "30/hour;100/day"
ENTRY_LIMITS = "6/hour;20/day"
LANGS = ("zh", "en")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?$")
FUTURE_SLACK = dt.timedelta(minutes=10)

STYLE = """
body{font:16px/1.6 -apple-system,"PingFang SC","Microsoft YaHei",sans-serif;margin:0 auto;padding:12px;
max-width:560px;background:#f5f5f5;color:#222}
h1{font-size:1.2em;margin:.4em 0}
.en{display:block;color:#666;font-size:.85em}
form,section{background:#fff;border-radius:8px;padding:12px;margin:12px 0;box-shadow:0 1px 2px #0002}
label{display:block;margin:.8em 0 .2em;font-weight:bold}
input,textarea{font:inherit;width:100%;box-sizing:border-box;padding:.4em;border:1px solid #bbb;border-radius:5px}
textarea{min-height:7em}
button{font:inherit;margin-top:1em;padding:.5em 1.2em;border-radius:6px;border:1px solid #07c160;
background:#07c160;color:#fff}
.ok{border-left:4px solid #07c160}.bad{border-left:4px solid #c00}
p.note{color:#555;font-size:.9em}
"""


class WitnessPages:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.by_address = RateLimits.parse("", ADDRESS_LIMITS, "")
        self.by_code = RateLimits.parse(ENTRY_LIMITS, "", "")

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/w", self.home)
        app.router.add_post("/w", self.enter_code)
        app.router.add_get("/w/{code:" + CODE + "}", self.form)
        app.router.add_post("/w/{code:" + CODE + "}", self.submit)

    # --- handlers ---------------------------------------------------------------------------
    async def home(self, request: web.Request) -> web.Response:
        return self._page([self._code_form()])

    async def enter_code(self, request: web.Request) -> web.Response:
        limited = self._limited(request)
        if limited is not None:
            return limited
        data = await self._form_data(request)
        if data is None:
            return self._page([self._note("bad_input", "bad")], status=400)
        code = normalize_code(data.get("code", ""))[:40]
        if self.engine.store.witness.find(code) is None:
            return self._page([self._note("unknown", "bad"), self._code_form()], status=404)
        raise web.HTTPSeeOther(location=f"w/{code}", headers=_private())

    async def form(self, request: web.Request) -> web.Response:
        limited = self._limited(request)
        if limited is not None:
            return limited
        code = self.engine.store.witness.find(request.match_info["code"])
        if code is None:
            return self._unknown()
        parts = [self._note("done", "ok")] if request.query.get("ok") == "1" else []
        return self._page([*parts, self._entry_form()])

    async def submit(self, request: web.Request) -> web.Response:
        limited = self._limited(request)
        if limited is not None:
            return limited
        found = self.engine.store.witness.find(request.match_info["code"])
        if found is None:
            return self._unknown()
        data = await self._form_data(request)
        if data is None:
            return self._page([self._note("bad_input", "bad"), self._entry_form()], status=400)
        entry = self._entry(found, data)
        if isinstance(entry, str):  # what is wrong, as a text key; what they typed is kept in the form
            return self._page([self._note(entry, "bad"), self._entry_form(data)], status=400)
        wait = self.by_code.check(session=code_hash(request.match_info["code"]), address=None,
                                  new_session=False, scope="witness-entry")
        if wait:
            return self._page([self._note("too_many", "bad"), self._entry_form(data)], status=429,
                              headers={"Retry-After": retry_after(wait)})
        at, number, words = entry
        from bot.actions.evidence import MAX_EVENTS

        if self.engine.store.events.count(found.user_id) >= MAX_EVENTS:
            return self._page([self._note("full", "bad")], status=409)
        if self.engine.store.witness.record(found, at, number, words) is None:
            return self._page([self._note("full", "bad")], status=409)
        log.info("witness entry recorded")
        raise web.HTTPSeeOther(location=f"{normalize_code(request.match_info['code'])}?ok=1", headers=_private())

    # --- reading the form -------------------------------------------------------------------
    async def _form_data(self, request: web.Request) -> dict[str, str] | None:
        if request.content_length is not None and request.content_length > MAX_BODY:
            return None
        try:
            raw = await request.content.read(MAX_BODY + 1)
        except Exception:
            return None
        if len(raw) > MAX_BODY:
            return None
        from urllib.parse import parse_qs

        try:
            fields = parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=10)
        except (UnicodeDecodeError, ValueError):
            return None
        return {k: v[0] for k, v in fields.items() if v}

    def _entry(self, code: WitnessCode, data: dict[str, str]) -> tuple[dt.datetime, str | None, str | None] | str:
        """(when, number, words), or the text key of what is wrong."""
        number = _clean(data.get("number", ""))
        words = _clean(data.get("words", ""), keep_lines=True)
        if len(number) > MAX_NUMBER:
            return "number_long"
        if len(words) > MAX_WORDS:
            return "words_long"
        if not number and not words:
            return "empty"
        tz = self._tz(code.user_id)
        now = self.engine.clock().astimezone(tz)
        when = _clean(data.get("when", ""))
        at = read_when(when, now) if when else now
        if at is None:
            return "when_bad"
        return at, number or None, words or None

    def _tz(self, user_id: int) -> ZoneInfo:
        user = self.engine.store.user_by_id(user_id)
        try:
            return ZoneInfo((user["tz"] if user else None) or self.engine.settings.bot_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo(self.engine.settings.bot_timezone)

    def _limited(self, request: web.Request) -> web.Response | None:
        address = client_address(request.remote, request.headers.get("X-Forwarded-For"))
        wait = self.by_address.check(session=None, address=address, new_session=False, scope="witness")
        if wait:
            return self._page([self._note("too_many", "bad")], status=429, headers={"Retry-After": retry_after(wait)})
        return None

    # --- the page ---------------------------------------------------------------------------
    def _t(self, key: str) -> str:
        """A text in Chinese with its English under it, both escaped."""
        k = self.engine.k
        zh, en = (html.escape(k.text(lang, f"witness.page.{key}")) for lang in LANGS)
        return f'{zh}<span class="en" lang="en">{en}</span>'

    def _note(self, key: str, cls: str) -> str:
        return f'<section class="{cls}"><p>{self._t(key)}</p></section>'

    def _code_form(self) -> str:
        return (f'<form method="post" action=""><label for="code">{self._t("code")}</label>'
                '<input id="code" name="code" required maxlength="20" autocomplete="off" autocapitalize="characters">'
                f'<button type="submit">{self._t("open")}</button></form>')

    def _entry_form(self, data: dict[str, str] | None = None) -> str:
        v = {k: html.escape((data or {}).get(k, ""), quote=True) for k in ("when", "number", "words")}
        return (f'<form method="post" action=""><p>{self._t("intro")}</p>'
                f'<label for="when">{self._t("when")}</label>'
                f'<input id="when" name="when" maxlength="40" value="{v["when"]}" '
                f'placeholder="{html.escape(self.engine.k.text("zh", "witness.page.when_example"), quote=True)}">'
                f'<p class="note">{self._t("when_hint")}</p>'
                f'<label for="number">{self._t("number")}</label>'
                f'<input id="number" name="number" maxlength="{MAX_NUMBER}" inputmode="tel" autocomplete="off" '
                f'value="{v["number"]}">'
                f'<label for="words">{self._t("words")}</label>'
                f'<textarea id="words" name="words" maxlength="{MAX_WORDS}">{v["words"]}</textarea>'
                f'<button type="submit">{self._t("send")}</button>'
                f'<p class="note">{self._t("privacy")}</p></form>')

    def _unknown(self) -> web.Response:
        return self._page([self._note("unknown", "bad"), self._code_form()], status=404)

    def _page(self, parts: list[str], status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        nonce = secrets.token_urlsafe(16)
        body = ('<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
                '<meta name="viewport" content="width=device-width, initial-scale=1">'
                '<meta name="referrer" content="no-referrer"><meta name="robots" content="noindex">'
                f'<title>{html.escape(self.engine.k.text("zh", "witness.page.title"))}</title>'
                f'<style nonce="{nonce}">{STYLE}</style></head><body>'
                f'<h1>{self._t("title")}</h1>{"".join(parts)}</body></html>')
        csp = (f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'none'; img-src 'none'; "
               "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
        return web.Response(text=body, status=status, content_type="text/html", charset="utf-8",
                            headers={**_private(), "Content-Security-Policy": csp, **(headers or {})})


def _clean(text: str, keep_lines: bool = False) -> str:
    text = _CONTROL.sub("", text.replace("\r\n", "\n"))
    if not keep_lines:
        text = " ".join(text.split())
    return text.strip()


def read_when(text: str, now: dt.datetime) -> dt.datetime | None:
    """The moment typed, in the borrower's zone: 2026-11-28 21:30 (what a date-time box sends),
    or as people say it ("昨晚11点", "10 minutes ago"); None when unreadable, in the future
    or more than a year back."""
    if _ISO.match(text):
        try:
            at = dt.datetime.fromisoformat(text.replace(" ", "T")).replace(tzinfo=now.tzinfo)
        except ValueError:
            return None
        if at > now + FUTURE_SLACK or now - at > dt.timedelta(days=366):
            return None
        return min(at, now)
    from bot.evidence.moment import parse_moment

    return parse_moment(text, now)


__all__ = ["MAX_ENTRIES", "WitnessPages", "read_when"]
