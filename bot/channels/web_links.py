"""Tappable spans in a reply's text for the web page: the hotline numbers of content/facts.yaml
(`tel:` links) and web addresses. The text itself stays clean for every channel (Telegram,
WeChat and the terminal show the number as it is); the web's reply JSON carries the spans
as `"links": [{"start", "end", "href"}]`, offsets in UTF-16 code units (JavaScript's string
indices), so the page wraps exactly those characters and nothing else.

A number counts only standing alone: not inside a longer number, an article ("第110条"),
an amount ("1200元") or a date, and not inside an address (www.12321.cn is one link).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TypedDict

_URL = re.compile(r"https?://[^\s，。；、：！？（）()「」【】<>\"']+[^\s，。；、：！？（）()「」【】<>\"'.,;:!?]")
_NOT_BEFORE = "0123456789第.-/:"
_NOT_AFTER = "0123456789条款项号元%.-/年月日:"


class Link(TypedDict):
    start: int
    end: int
    href: str


class Linker:
    """Finds the spans; made once from the facts (numbers and sites)."""

    def __init__(self, numbers: Iterable[str], sites: Iterable[str]):
        self.numbers = sorted(set(numbers), key=len, reverse=True)
        self.sites = sorted(set(sites), key=len, reverse=True)
        alts = "|".join(re.escape(n) for n in self.numbers) or r"(?!x)x"
        self._number = re.compile(rf"(?<![{re.escape(_NOT_BEFORE)}])(?:{alts})(?![{re.escape(_NOT_AFTER)}])")
        sites_alt = "|".join(re.escape(s) for s in self.sites) or r"(?!x)x"
        self._site = re.compile(rf"(?<![\w./])(?:{sites_alt})(?:/[^\s，。；、）)]*)?(?![\w])", re.I)

    @classmethod
    def from_facts(cls, facts: object) -> Linker:
        hotlines = getattr(facts, "hotlines", {})
        authorities = getattr(facts, "authorities", {})
        numbers = [h.number for h in hotlines.values()]
        sites = [x.site for x in [*hotlines.values(), *authorities.values()] if getattr(x, "site", None)]
        return cls(numbers, sites)

    def spans(self, text: str) -> list[Link]:
        """The links in `text`, in order, never overlapping (addresses win over numbers)."""
        found: list[tuple[int, int, str]] = []

        def free(a: int, b: int) -> bool:
            return all(b <= s or a >= e for s, e, _ in found)

        for m in _URL.finditer(text):
            found.append((m.start(), m.end(), m.group(0)))
        for m in self._site.finditer(text):
            if free(m.start(), m.end()):
                found.append((m.start(), m.end(), "https://" + m.group(0)))
        for m in self._number.finditer(text):
            if free(m.start(), m.end()):
                found.append((m.start(), m.end(), "tel:" + m.group(0)))
        found.sort()
        return [Link(start=_utf16(text, s), end=_utf16(text, e), href=h) for s, e, h in found]


def _utf16(text: str, index: int) -> int:
    """A code point index as a UTF-16 one (characters beyond the BMP count twice)."""
    return index + sum(1 for ch in text[:index] if ord(ch) > 0xFFFF)
