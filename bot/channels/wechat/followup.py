"""Follow-ups weeks later on WeChat (issue 14, item 3): which way a due reminder can reach the
user, what the user is told when they set it, and the consent page.

WeChat lets an Official Account message a user through the customer-service API only within
48 hours of the user's last message. Later, only a subscription notification (订阅通知, the
service account's one-time subscription: the user taps "allow" once for the account's
template, in a web page with WeChat's `wx-open-subscribe` button or in an article, and the
account may then send one notification, POST /cgi-bin/message/subscribe/bizsend) reaches them;
WeChat tells the account of each choice with the event `subscribe_msg_popup_event` (and
`subscribe_msg_change_event` when the user turns them off), which the channel stores as
consents (storage.links). Otherwise the reminder waits for the user's next message.

    route_when_set(now, at, ...)   -> "service" | "subscribe" | "next" | "passive"  (said now)
    route_when_due(now, last_seen, consents, ...) -> "service" | "subscribe" | "next"

Pure functions; the channel does the I/O.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import logging
from typing import Literal

from bot.actions.registry import ActionContext

log = logging.getLogger("bot.wechat")

WINDOW = dt.timedelta(hours=48)            # the customer-service API's window after the user's last message
MARGIN = dt.timedelta(hours=1)             # a reminder due this close to the window's end counts as outside
THING_CHARS = 20                           # a template `thing` value: at most 20 characters
SDK = "https://res.wx.qq.com/open/js/jweixin-1.6.0.js"   # WeChat's JS-SDK, the only outside resource

SetRoute = Literal["service", "subscribe", "next", "passive"]
DueRoute = Literal["service", "subscribe", "next"]


def route_when_set(now: dt.datetime, at: dt.datetime, has_api: bool, can_subscribe: bool) -> SetRoute:
    """How a reminder set `now` for `at` will arrive, as far as is known now (the user just
    wrote, so the 48 hours run from now)."""
    if not has_api:
        return "passive"
    if at - now <= WINDOW - MARGIN:
        return "service"
    return "subscribe" if can_subscribe else "next"


def route_when_due(now: dt.datetime, last_seen: dt.datetime | None, consents: int, has_api: bool,
                   can_subscribe: bool) -> DueRoute:
    """How a reminder due now goes out: the customer-service API inside the 48 hours (or when
    it is not known when the user last wrote: WeChat knows), else a subscription notification
    if the user allowed one, else with their next message."""
    if not has_api:
        return "next"
    if last_seen is None or now - last_seen < WINDOW:
        return "service"
    return "subscribe" if can_subscribe and consents > 0 else "next"


def thing(text: str) -> str:
    """A template `thing` value: the first line, at most 20 characters."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first if len(first) <= THING_CHARS else first[:THING_CHARS - 1] + "…"


def note(ctx: ActionContext, route: SetRoute, url: str | None) -> str:
    """The line said when the reminder is set."""
    if route == "passive":
        return ctx.t("followup.via_next_only")
    if route == "service":
        return ctx.t("followup.via_service")
    if route == "subscribe" and url:
        return ctx.t("followup.ask_consent", url=url)
    return ctx.t("followup.via_next")


def jsapi_signature(ticket: str, nonce: str, timestamp: int, url: str) -> str:
    """wx.config's signature: sha1 of the sorted fields (WeChat JS-SDK, appendix 1); `url`
    without its #fragment."""
    text = f"jsapi_ticket={ticket}&noncestr={nonce}&timestamp={timestamp}&url={url.split('#', 1)[0]}"
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def consent_page(*, title: str, text: str, button: str, outside: str, done: str, template_id: str,
                 app_id: str, timestamp: int, nonce: str, signature: str, csp_nonce: str, lang: str) -> str:
    """The consent page: WeChat's `wx-open-subscribe` button for the template (it works only
    inside WeChat, after wx.config with the page's signature). What the user chose reaches the
    server as the `subscribe_msg_popup_event` event, not from this page."""
    e = html.escape
    config = json.dumps({"debug": False, "appId": app_id, "timestamp": timestamp, "nonceStr": nonce,
                         "signature": signature, "jsApiList": ["checkJsApi"],
                         "openTagList": ["wx-open-subscribe"]})
    return (f'<!doctype html><html lang="{"zh-CN" if lang == "zh" else e(lang)}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta name="referrer" content="no-referrer"><meta name="robots" content="noindex">'
            f'<title>{e(title)}</title><style nonce="{csp_nonce}">body{{font:16px/1.6 -apple-system,'
            '"PingFang SC",sans-serif;margin:0 auto;padding:16px;max-width:600px;color:#222}'
            '#done{color:#07c160;display:none}</style></head><body>'
            f'<h1>{e(title)}</h1><p>{e(text)}</p>'
            f'<wx-open-subscribe template="{e(template_id)}" id="allow"><script type="text/wxtag-template">'
            '<style>.b{font-size:16px;padding:10px 20px;border-radius:6px;border:0;background:#07c160;color:#fff}'
            f'</style><button class="b">{e(button)}</button></script></wx-open-subscribe>'
            f'<p id="done">{e(done)}</p><p id="outside">{e(outside)}</p>'
            f'<script nonce="{csp_nonce}" src="{SDK}"></script>'
            f'<script nonce="{csp_nonce}">if (window.wx) {{ document.getElementById("outside").style.display = "none";'
            f' wx.config({config}); }}'
            ' document.getElementById("allow").addEventListener("success", function () {'
            ' document.getElementById("done").style.display = "block"; });</script></body></html>')


#: the consent page's policy: its own nonce, and WeChat's JS-SDK (which the open tag needs)
CONSENT_CSP = ("default-src 'none'; script-src 'nonce-{n}' https://res.wx.qq.com; style-src 'nonce-{n}'; "
               "img-src 'self' data:; connect-src https://*.qq.com; frame-src https://*.qq.com; "
               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
