"""Telegram text and keyboards from the engine's Replies: pure functions, no Bot API calls.

Text
    Text is split at paragraph (then line, then sentence) boundaries into parts of at most
    4096 UTF-16 code units, the unit Telegram counts, *before* it is HTML-escaped: the
    limit applies to the text after entity parsing, so escaping cannot push a part over it,
    and a user-typed lender name with `<`, `&`, `_` or `*` is shown as typed.

Keyboards
    callback_data is the engine's short button id (<= 64 bytes) and nothing else. The
    keyboard of an answered question is replaced by one inert "✓ <answer>" button
    (`answered_marker`), whose callback data is NOOP.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Message

from bot.channels import textsplit
from bot.channels.textsplit import utf16_len
from bot.core import callbacks
from bot.core.models import Button

log = logging.getLogger("bot.telegram")

MAX_UNITS = 4096                 # a message's text, in UTF-16 code units
MAX_CAPTION = 1024
NOOP = "·"                       # callback data of the inert "✓ answer" marker button
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def split_text(text: str, limit: int = MAX_UNITS) -> list[str]:
    """Parts of at most `limit` UTF-16 units (bot.channels.textsplit)."""
    return textsplit.split_text(text, limit, utf16_len)


def to_html(part: str, bold_first_line: bool = False) -> str:
    """One part of a message in Telegram HTML: everything escaped, optionally the first line
    (an answer's title) in bold."""
    if bold_first_line:
        first, nl, rest = part.partition("\n")
        if first.strip():
            return f"<b>{html.escape(first, quote=False)}</b>{nl}{html.escape(rest, quote=False)}"
    return html.escape(part, quote=False)


def _width(label: str) -> int:
    return sum(2 if ord(c) > 0x2E80 else 1 for c in label)


def keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
    """An inline keyboard: answer buttons two to a row when both labels are short, one per
    row otherwise; the controls (Done, Skip, Back, Stop) together on the last row."""
    usable = [b for b in buttons if 0 < len(b.id.encode()) <= 64 and b.label]
    if len(usable) < len(buttons):
        log.warning("dropped %d button(s) with an unusable id", len(buttons) - len(usable))
    if not usable:
        return None
    main = [b for b in usable if not callbacks.is_control(b.id)]
    controls = [b for b in usable if callbacks.is_control(b.id)]
    rows: list[list[InlineKeyboardButton]] = []
    row: list[InlineKeyboardButton] = []
    for b in main:
        button = InlineKeyboardButton(b.label, callback_data=b.id)
        if _width(b.label) > 16:
            if row:
                rows.append(row)
                row = []
            rows.append([button])
            continue
        row.append(button)
        if len(row) == 2:
            rows.append(row)
            row = []
    if row:
        rows.append(row)
    for i in range(0, len(controls), 3):
        rows.append([InlineKeyboardButton(b.label, callback_data=b.id) for b in controls[i:i + 3]])
    return InlineKeyboardMarkup(rows)


def keyboard_ids(message: Message) -> list[str]:
    markup = message.reply_markup
    if markup is None:
        return []
    return [b.callback_data for row in markup.inline_keyboard for b in row if isinstance(b.callback_data, str)]


def button_label(message: Message, data: str) -> str | None:
    markup = message.reply_markup
    for row in markup.inline_keyboard if markup else ():
        for b in row:
            if b.callback_data == data:
                return b.text
    return None


def answers_question(choice: str) -> bool:
    """Whether pressing the button `choice` answers a question (options, controls, review
    edits, confirmations, language, a reminder's buttons): its keyboard is marked once
    pressed. Topic, "more", dialog and case buttons are links to content that stay valid, so
    their keyboards stay. The button kind says which (bot/core/callbacks.py)."""
    return callbacks.answers_question(choice)


def answered_marker(pressed: Message, choice: str) -> InlineKeyboardMarkup:
    """The keyboard of an answered question: one inert "✓ <answer>" button."""
    label = (button_label(pressed, choice) or "").removeprefix("✓ ").strip() or "✓"
    return InlineKeyboardMarkup([[InlineKeyboardButton(f"✓ {label}", callback_data=NOOP)]])
