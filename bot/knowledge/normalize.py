"""Text normalisation shared by the matcher and the crisis check.

People type on phones: full-width letters and digits, traditional characters, emoji,
no punctuation. Everything is folded to one form before matching.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import opencc

from bot import locale

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
_SPACE = re.compile(r"\s+")


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    # The official OpenCC bindings: a pure-Python port we tried turned simplified 结束 into
    # traditional 結束, which silently broke crisis detection (see tests/test_crisis.py).
    return opencc.OpenCC("t2s")


def clean(text: str) -> str:
    """Remove control and invisible formatting characters, collapse white space."""
    return _SPACE.sub(" ", _CONTROL.sub("", text)).strip()


def normalize(text: str) -> str:
    """NFKC (full-width -> ASCII), lower case, traditional -> simplified Chinese, clean."""
    text = clean(unicodedata.normalize("NFKC", text)).lower()
    if CJK.search(text):
        text = _t2s().convert(text)
    return text


_LATIN = re.compile(r"[a-zA-Z]")


def detect_lang(text: str, languages: Sequence[str] | None = None) -> str | None:
    """The language typed text is in, by its letters: with Chinese characters the first
    language (of `languages`, else of the content loaded; in order) whose locale says
    `script: han` (zh), with Latin letters the first with `script: latin` (en); None for
    text without letters (digits, emoji)."""
    if CJK.search(text):
        return locale.for_script("han", languages)
    return locale.for_script("latin", languages) if _LATIN.search(text) else None
