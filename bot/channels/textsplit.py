"""Cutting long text into parts a channel can send: pure functions, shared by every channel.

Each platform counts a message's length its own way (Telegram in UTF-16 code units, WeChat
in UTF-8 bytes); `split_text` takes that measure as a function and cuts at paragraph
boundaries where possible, then at line ends, then after sentence ends, and only as a last
resort inside a sentence, never inside a character.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Measure = Callable[[str], int]

_SENTENCE = re.compile(r"(?<=[。！？；.!?;])")


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP is 2)."""
    return len(text.encode("utf-16-le")) // 2


def utf8_len(text: str) -> int:
    """Length as WeChat counts it: UTF-8 bytes (a Chinese character is 3)."""
    return len(text.encode("utf-8"))


def split_text(text: str, limit: int, measure: Measure = len) -> list[str]:
    """Cut `text` into parts of at most `limit` (as `measure` counts). Parts keep their own
    text exactly; the separators at the cuts are dropped; whitespace-only parts are dropped."""
    if measure(text) <= limit:
        return [text] if text.strip() else []
    return [p for p in _split(text, limit, measure, ("\n\n", "\n", None)) if p.strip()]


def _split(text: str, limit: int, measure: Measure, seps: tuple[str | None, ...]) -> list[str]:
    if measure(text) <= limit:
        return [text]
    if not seps:
        return _hard_cut(text, limit, measure)
    sep, rest = seps[0], seps[1:]
    pieces = _SENTENCE.split(text) if sep is None else text.split(sep)
    joiner = "" if sep is None else sep
    out: list[str] = []
    current: str | None = None
    for piece in pieces:
        for small in _split(piece, limit, measure, rest):
            if current is None:
                current = small
            elif measure(current) + measure(joiner) + measure(small) <= limit:
                current += joiner + small
            else:
                out.append(current)
                current = small
    if current is not None:
        out.append(current)
    return out


def _hard_cut(text: str, limit: int, measure: Measure) -> list[str]:
    out: list[str] = []
    current: list[str] = []
    size = 0
    for ch in text:
        n = measure(ch)
        if size + n > limit and current:
            out.append("".join(current))
            current, size = [], 0
        current.append(ch)
        size += n
    if current:
        out.append("".join(current))
    return out
