"""Does a message look like something a collector wrote, pasted or forwarded by the borrower,
rather than the borrower's own question? A pure guess from its shape, with the words read
from content/evidence.yaml (`paste:`):

- an SMS signature: 【sender】 at the start or the end;
- a forwarding or quoting mark (转发, "Forwarded message", a line opening with > or a quote);
- long (`min_length` characters, or `min_words` words in Latin script), addressed to the
  reader (more "you" than "I") and about the debt (a collection word), and no question to
  the bot (怎么办, 合法吗, "what should I", a final question mark).

Never decided here: crisis messages (the engine checks them first) and answers to a dialog's
question (the engine gives those to the dialog).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_SIGNATURE = re.compile(r"^\s*【[^】]{1,20}】|【[^】]{1,20}】\s*$")
_SENDER = re.compile(r"^\s*【([^】]{1,20})】|【([^】]{1,20})】\s*$")
_QUOTED = re.compile(r"^\s*(?:>|「|“|\")")
_LATIN_WORD = re.compile(r"[a-z']+")


@dataclass(frozen=True)
class PasteWords:
    forwarded: Sequence[str]          # 转发, forwarded message
    debt: Sequence[str]               # 逾期, 还款, overdue, repay ...
    you: Sequence[str]                # 你, 您, you, your
    me: Sequence[str]                 # 我, i, my (the borrower speaking; 我们 / "we" is the collector)
    questions: Sequence[str] = ()     # 怎么办, 合法吗, what should i: the borrower asking
    endings: Sequence[str] = ("?", "？")   # a question's last character (吗, 呢)
    starts: Sequence[str] = ()        # a question's first word in Latin script (can, how, is)
    min_length: int = 50              # characters (Chinese) of a long message
    min_words: int = 25               # words (Latin script) of a long message
    short_length: int = 12            # ... of a shorter one that speaks only to "you"
    short_words: int = 8


_WE = re.compile(r"我们|我司|咱们")


def looks_pasted(text: str, words: PasteWords) -> bool:
    """`text` normalised (bot.knowledge.normalize)."""
    low = text.lower()
    about_debt = any(w in low for w in words.debt)
    if not about_debt:
        return False
    if _SIGNATURE.search(text):
        return True
    if len(text) >= 30 and (any(w in low for w in words.forwarded) or _QUOTED.match(text)):
        return True
    bare = low.rstrip(" .。!！~～…")
    latin = _LATIN_WORD.findall(low)
    if (any(w in low for w in words.questions) or bare.endswith(tuple(words.endings))
            or (latin and low.lstrip().startswith(latin[0]) and latin[0] in words.starts)):
        return False  # a question to the bot that quotes a collector is answered as a question
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    if cjk >= 10:
        you = sum(low.count(w) for w in words.you if not w.isascii())
        me = sum(_WE.sub("", low).count(w) for w in words.me if not w.isascii())
        long_enough, short_enough = cjk >= words.min_length, cjk >= words.short_length
    else:
        you = sum(1 for w in latin if w in words.you)
        me = sum(1 for w in latin if w in words.me)
        long_enough, short_enough = len(latin) >= words.min_words, len(latin) >= words.short_words
    if short_enough and you >= 1 and me == 0:  # spoken to "you" only: someone else's message
        return True
    return long_enough and you > me and you >= 2


def sender(text: str) -> str | None:
    """The sender an SMS names in its 【signature】, at its start or end, if any."""
    m = _SENDER.search(text)
    return (m.group(1) or m.group(2)).strip() if m else None
