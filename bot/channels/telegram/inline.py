"""Draft sharing: the share button, finding a draft by its fingerprint, inline query answers.

Drafts
    A draft (Reply kind "draft") is sent as its own plain-text message (no parse mode, so
    the text is exactly what the user will send), with a "Send to a chat…" button that opens
    Telegram's chat picker (switch_inline_query_chosen_chat). The inline query is answered
    with the draft of the user who asks, found by (user, draft id, digest of the text), so
    the user sends it as themselves, without a "Forwarded from" header (Telegram still shows
    "via @<bot>" on messages sent through inline mode; copying the text avoids even that).
    Long drafts also come as a .txt document. Inline mode must be switched on for the bot
    (@BotFather /setinline); getMe tells, and without it drafts come without the button.

The Bot API calls themselves (sending the draft, answering the query) are TelegramBot's
(adapter.py); this module builds what they send and looks drafts up.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterable

from telegram import (
    InlineKeyboardButton,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    SwitchInlineQueryChosenChat,
)

from bot.channels.telegram.inbound import CHANNEL
from bot.channels.telegram.render import NO_PREVIEW, split_text
from bot.core.engine import Engine
from storage.rows import UserRow

LONG_DRAFT = 1500                # characters: longer drafts also come as a .txt document
RECENT_DRAFTS = 2000             # drafts remembered per process for the share button's query


def draft_digest(text: str) -> str:
    """A short fingerprint of a draft's text: the share button's query names the exact text."""
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def user_row(engine: Engine, user: str) -> UserRow | None:
    """The user's row without creating one (Store.user would create it)."""
    return engine.store.find_user(CHANNEL, user)


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
    row = user_row(engine, user)
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


def remember_draft(recent: OrderedDict[tuple[str, str], tuple[str, str]], user: str, draft_id: str,
                   text: str) -> str:
    """Note a draft just sent to `user` (the newest RECENT_DRAFTS are kept); its digest."""
    digest = draft_digest(text)
    recent[(user, digest)] = (draft_id, text)
    recent.move_to_end((user, digest))
    while len(recent) > RECENT_DRAFTS:
        recent.popitem(last=False)
    return digest


def share_button(label: str, draft_id: str, digest: str) -> InlineKeyboardButton:
    """"Send to a chat…": opens the chat picker with the inline query "<draft id> <digest>"."""
    return InlineKeyboardButton(label, switch_inline_query_chosen_chat=(
        SwitchInlineQueryChosenChat(query=f"{draft_id} {digest}", allow_user_chats=True,
                                    allow_group_chats=True, allow_bot_chats=False,
                                    allow_channel_chats=False)))


def inline_results(drafts: Iterable[tuple[str, str]], title_of: Callable[[str], str],
                   part_title: Callable[[str, int, int], str]) -> list[InlineQueryResultArticle]:
    """One article per part of each draft, the part's text sent as is (no parse mode).
    `title_of(draft id)` names a draft; `part_title(title, n, total)` names part n of a long one."""
    results = []
    for draft_id, text in drafts:
        title = title_of(draft_id)
        parts = split_text(text)
        digest = draft_digest(text)
        for n, part in enumerate(parts, 1):
            label = title if len(parts) == 1 else part_title(title, n, len(parts))
            results.append(InlineQueryResultArticle(
                id=f"{digest}-{n}", title=label[:200], description=part[:120],
                input_message_content=InputTextMessageContent(part, link_preview_options=NO_PREVIEW)))
    return results


def open_bot_button(text: str) -> InlineQueryResultsButton:
    """Shown instead of results when no draft matches: opens the bot's private chat."""
    return InlineQueryResultsButton(text=text[:64], start_parameter="drafts")
