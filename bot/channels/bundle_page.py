"""The evidence bundle as a short-lived page (links of kind "bundle", storage/links.py; made by
/bundle, bot/actions/bundle.py):

    GET /d/<token>             the bundle in the user's language (bot/channels/documents.py)
    GET /d/<token>/<lang>      the same in another language (zh is always there: authorities read it)
    GET /d/<token>/events.csv  the table of events, Chinese headers, UTF-8 with a BOM
    GET /d/<token>.txt         the plain-text version (documents.py, from the Document's items)

Every request builds the bundle from the log as it is at that moment: a link never shows a
stale snapshot, and once the user deletes their data (or the case) it is a 404 like any
unknown token. Headers and CSP are documents.py's; nothing is loaded from outside.
"""

from __future__ import annotations

import logging
import secrets
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from bot.actions.registry import ActionContext
from bot.channels.documents import TOKEN, Document, _html, _private, renderer
from bot.core.engine import Engine
from bot.evidence.bundle import Bundle, render_csv, render_html
from storage.links import LinkRow

log = logging.getLogger("bot.bundle")

KIND = "bundle"


def context_for(engine: Engine, user_id: int, lang: str) -> ActionContext | None:
    """What the bundle's builder reads, for the link's user (their time zone), outside a chat."""
    user = engine.store.user_by_id(user_id)
    if user is None:
        return None
    try:
        tz = ZoneInfo(user.get("tz") or engine.settings.bot_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo(engine.settings.bot_timezone)
    return ActionContext(lang=lang, slots={}, knowledge=engine.k, store=engine.store, user_id=user_id,
                         now=engine.clock().astimezone(tz), tz=tz, default_tz=engine.settings.bot_timezone,
                         cache_dir=engine.settings.bot_cache_dir, public_url=engine.settings.bot_public_url,
                         link_days=engine.settings.bot_link_days)


def build_for(engine: Engine, link: LinkRow, lang: str) -> Bundle | None:
    from bot.actions import bundle as actions
    from bot.actions import evidence as ev

    if link.kind != KIND:
        return None
    ctx = context_for(engine, link.user_id, lang)
    case_id = link.payload.get("case")
    if ctx is None or not isinstance(case_id, int):
        return None
    case = ev._own_case(ctx, case_id)
    if case is None:
        return None
    return actions.build(ctx, case, str(link.payload.get("to") or "general"), lang)


def languages(engine: Engine) -> list[str]:
    return sorted(engine.k.ui, key=lambda lang: (lang != "zh", lang))


def with_links(engine: Engine, bundle: Bundle, prefix: str) -> Bundle:
    """The screen version's links: the other languages and the CSV, relative to /d/<token>/."""
    from dataclasses import replace

    k = engine.k
    links = [(k.text(bundle.lang, f"bundle.page.lang_{lang}"), f"{prefix}{lang}") for lang in languages(engine)
             if lang != bundle.lang and k.has_text(bundle.lang, f"bundle.page.lang_{lang}")]
    links.append((k.text(bundle.lang, "bundle.page.csv"), f"{prefix}events.csv"))
    return replace(bundle, links=tuple(links))


@renderer(KIND)
def bundle_document(engine: Engine, link: LinkRow, lang: str) -> Document | None:
    bundle = build_for(engine, link, lang)
    if bundle is None:
        return None
    return Document(title=bundle.title, intro=bundle.ask, items=_items(bundle),
                    page=lambda nonce, token: render_html(with_links(engine, bundle, token + "/"), nonce))


def _items(b: Bundle) -> list[tuple[str, str]]:
    """The plain-text version: the cover, the findings, the table as lines, the quotes, files, letters."""
    L = b.labels
    cover = "\n".join(f"{label}: {value}" for label, value in b.cover) + f"\n\n{L['ask']}\n{b.ask}"
    findings = "\n\n".join(f"{i}. {f.text}\n" + "".join(f"   - {r}\n" for r in f.rules)
                           + f"   {L['entries']} {f.entries}" for i, f in enumerate(b.findings, 1)) or L["no_findings"]
    rows = "\n".join(" | ".join(c for c in r.cells() if c) for r in b.rows) or L["no_events"]
    quotes = "\n\n".join(f"#{q.n} {q.when} {q.findings}\n{q.text}" for q in b.quotes) or L["no_messages"]
    files = "\n".join(f"{f.name} | {f.entry} | {f.size} | {f.received} | SHA-256 {f.sha256} | {f.check}"
                      for f in b.files) or L["no_files"]
    letters = "\n".join(f"{x.date} {x.what} {x.detail}".strip() for x in b.letters) or L["no_letters"]
    return [(b.title, cover), (L["findings"], findings), (L["timeline"], rows), (L["messages"], quotes),
            (L["files"], files), (L["letters"], letters)]


class BundlePages:
    def __init__(self, engine: Engine):
        self.engine = engine

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/d/{token:" + TOKEN + "}/events.csv", self.csv)
        app.router.add_get("/d/{token:" + TOKEN + "}/{lang:[a-z]{2}}", self.page)

    def _find(self, token: str, lang: str) -> Bundle | None:
        link = self.engine.store.links.find(token)
        if link is None or link.kind != KIND or lang not in self.engine.k.ui:
            return None
        return build_for(self.engine, link, lang)

    async def page(self, request: web.Request) -> web.Response:
        nonce = secrets.token_urlsafe(16)
        bundle = self._find(request.match_info["token"], request.match_info["lang"])
        if bundle is None:
            return self._gone(nonce)
        return _html(render_html(with_links(self.engine, bundle, ""), nonce), nonce)

    async def csv(self, request: web.Request) -> web.Response:
        bundle = self._find(request.match_info["token"], "zh" if "zh" in self.engine.k.ui else
                            self.engine.settings.bot_default_lang)
        if bundle is None:
            return web.Response(status=404, text="not found", headers=_private())
        body = render_csv(bundle.rows, bundle.labels).encode("utf-8")
        return web.Response(body=body, content_type="text/csv", charset="utf-8", headers={
            **_private(), "Content-Disposition": 'attachment; filename="events.csv"'})

    def _gone(self, nonce: str) -> web.Response:
        from bot.channels.documents import page_html

        lang = self.engine.settings.bot_default_lang
        body = page_html(Document(title=self.engine.k.text(lang, "doc.gone")), lang, nonce, self.engine)
        return _html(body, nonce, status=404)
