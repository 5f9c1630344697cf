"""Short-lived pages of this server: `GET /d/<token>` (HTML) and `GET /d/<token>.txt` (plain
text), for any channel to link to. A link is a row of `Store.links` (storage/links.py): the
user it belongs to, its `kind`, and a JSON `payload` saying what it shows; only a hash of the
token is stored, it expires (BOT_LINK_DAYS) and it dies with /delete.

Kinds. Each kind has a renderer here, `RENDERERS[kind](engine, link, lang) -> Document |
None` (None: what it pointed to is gone, a 404). "letters" (payload {"case": <id>}): every
letter of a saved report, rendered from the case's answers (never a snapshot), each with a
copy button. Another feature adds its kind ("bundle", "witness") with `@renderer("bundle")`
and makes links with `offer_link(...)`; the page, its headers and the .txt come with it.

Pages are one self-contained HTML document: no outside resources, a strict
Content-Security-Policy (scripts and styles only with the response's nonce), no referrer,
not cached, not indexed; laid out for a phone; in the link's user's language. Unknown,
expired and deleted links all get the same 404 page, so a guess learns nothing.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from bot.core.engine import Engine
from storage.links import LinkRow

log = logging.getLogger("bot.documents")

TOKEN = r"[A-Za-z0-9_-]{16,64}"


@dataclass
class Document:
    """What a page shows: a title, a line under it, and items (a heading and a text each)."""

    title: str
    intro: str = ""
    items: list[tuple[str, str]] = field(default_factory=list)
    #: a kind with a layout of its own (the evidence bundle): the whole page, given the
    #: response's CSP nonce and the token (for relative links under /d/<token>/), served instead
    #: of the items; the .txt is still made from the items
    page: Callable[[str, str], str] | None = None


Renderer = Callable[[Engine, LinkRow, str], Document | None]
RENDERERS: dict[str, Renderer] = {}


def renderer(kind: str) -> Callable[[Renderer], Renderer]:
    def register(fn: Renderer) -> Renderer:
        RENDERERS[kind] = fn
        return fn
    return register


def link_url(public_url: str, token: str, suffix: str = "") -> str:
    return f"{public_url.rstrip('/')}/d/{token}{suffix}"


def offer_link(engine: Engine, user_id: int, kind: str, payload: dict, public_url: str | None) -> str | None:
    """A new link of `kind` for the user, as a full URL; None when BOT_PUBLIC_URL is unset
    (the caller says so instead of sending a link that cannot work)."""
    if not public_url:
        return None
    ttl = dt.timedelta(days=engine.settings.bot_link_days)
    return link_url(public_url, engine.store.links.create(user_id, kind, payload, ttl))


# --- kinds ------------------------------------------------------------------------------------

@renderer("letters")
def letters(engine: Engine, link: LinkRow, lang: str) -> Document | None:
    """Every letter of a saved report, as `/cases` shows them (bot/actions/report.py)."""
    from bot.actions.report import CASE_KIND, compose

    case_id = link.payload.get("case")
    case = engine.store.case(link.user_id, case_id) if isinstance(case_id, int) else None
    if case is None or case.get("kind") != CASE_KIND:
        return None
    k = engine.k
    o = compose(case["data"].get("answers", {}), k, lang, engine.clock().date())
    items = [(k.text(lang, f"report.draft.{draft_id}.title"), text) for draft_id, text in o.drafts.items()]
    lender = (case["data"].get("answers", {}) or {}).get("lender_name") or ""
    return Document(title=k.text(lang, "doc.letters.title", case_id=case["id"]),
                    intro=k.text(lang, "doc.letters.intro", lender=lender, expires=_date(link.expires_at)),
                    items=items)


def _date(iso: str) -> str:
    return iso[:10]


# --- the routes -------------------------------------------------------------------------------

class Documents:
    def __init__(self, engine: Engine):
        self.engine = engine

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/d/{token:" + TOKEN + "}.txt", self.text)
        app.router.add_get("/d/{token:" + TOKEN + "}", self.page)

    def _document(self, token: str) -> tuple[Document, str] | None:
        store = self.engine.store
        link = store.links.find(token)
        if link is None:
            return None
        user = store.user_by_id(link.user_id)
        if user is None:
            return None
        lang = self.engine.language(user["channel"], user["external_id"])
        render = RENDERERS.get(link.kind)
        doc = render(self.engine, link, lang) if render else None
        return (doc, lang) if doc is not None else None

    async def page(self, request: web.Request) -> web.Response:
        found = self._document(request.match_info["token"])
        nonce = secrets.token_urlsafe(16)
        if found is None:
            lang = self.engine.settings.bot_default_lang
            body = page_html(Document(title=self.engine.k.text(lang, "doc.gone")), lang, nonce, self.engine)
            return _html(body, nonce, status=404)
        doc, lang = found
        if doc.page is not None:
            return _html(doc.page(nonce, request.match_info["token"]), nonce)
        txt = request.match_info["token"] + ".txt"   # relative: /d/<token>.txt
        return _html(page_html(doc, lang, nonce, self.engine, txt), nonce)

    async def text(self, request: web.Request) -> web.Response:
        found = self._document(request.match_info["token"])
        if found is None:
            return web.Response(status=404, text="not found", headers=_private())
        doc, _ = found
        name = "letters.txt"
        return web.Response(text=plain(doc), content_type="text/plain", charset="utf-8",
                            headers={**_private(), "Content-Disposition": f'attachment; filename="{name}"'})


def plain(doc: Document) -> str:
    """The document as plain text: the title, then each item under a rule."""
    out = [doc.title, ""]
    if doc.intro:
        out += [doc.intro, ""]
    for heading, text in doc.items:
        out += ["=" * 20, heading, "=" * 20, "", text.strip("\n"), ""]
    return "\n".join(out)


STYLE = """
body{font:16px/1.6 -apple-system,"PingFang SC","Microsoft YaHei",sans-serif;margin:0;padding:12px;
background:#f5f5f5;color:#222;max-width:760px;margin:auto}
h1{font-size:1.25em;margin:.4em 0}
p.intro{color:#555}
section{background:#fff;border-radius:8px;padding:12px;margin:12px 0;box-shadow:0 1px 2px #0002}
h2{font-size:1.05em;margin:0 0 .5em}
pre{white-space:pre-wrap;word-break:break-word;font:inherit;margin:0 0 .6em}
button,a.dl{font:inherit;padding:.5em 1em;border-radius:6px;border:1px solid #07c160;background:#07c160;
color:#fff;text-decoration:none;display:inline-block}
"""

SCRIPT = """
document.querySelectorAll("button[data-copy]").forEach(function (b) {
  b.addEventListener("click", function () {
    var text = document.getElementById(b.getAttribute("data-copy")).textContent;
    var done = function () { var old = b.textContent; b.textContent = b.getAttribute("data-done");
      setTimeout(function () { b.textContent = old; }, 2000); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallback(text); done(); });
    } else { fallback(text); done(); }
  });
});
function fallback(text) {
  var t = document.createElement("textarea"); t.value = text; document.body.appendChild(t);
  t.select(); try { document.execCommand("copy"); } catch (e) {} document.body.removeChild(t);
}
"""


def page_html(doc: Document, lang: str, nonce: str, engine: Engine, txt: str | None = None) -> str:
    k, e = engine.k, html.escape
    tag = "zh-CN" if lang == "zh" else lang
    parts = [f'<!doctype html><html lang="{e(tag)}"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             '<meta name="referrer" content="no-referrer">', '<meta name="robots" content="noindex">',
             f"<title>{e(doc.title)}</title><style nonce=\"{nonce}\">{STYLE}</style></head><body>",
             f"<h1>{e(doc.title)}</h1>"]
    if doc.intro:
        parts.append(f'<p class="intro">{e(doc.intro)}</p>')
    copy, done = e(k.text(lang, "doc.copy")), e(k.text(lang, "doc.copied"))
    for i, (heading, text) in enumerate(doc.items, 1):
        parts.append(f'<section><h2>{e(heading)}</h2><pre id="t{i}">{e(text.strip(chr(10)))}</pre>'
                     f'<button type="button" data-copy="t{i}" data-done="{done}">{copy}</button></section>')
    if doc.items:
        if txt:
            parts.append(f'<p><a class="dl" href="{e(txt)}" download>{e(k.text(lang, "doc.download"))}</a></p>')
        parts.append(f'<script nonce="{nonce}">{SCRIPT}</script>')
    parts.append("</body></html>")
    return "".join(parts)


def _private() -> dict[str, str]:
    return {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex",
            "X-Content-Type-Options": "nosniff"}


def _html(body: str, nonce: str, status: int = 200) -> web.Response:
    csp = (f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; img-src 'none'; "
           "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8",
                        headers={**_private(), "Content-Security-Policy": csp})
