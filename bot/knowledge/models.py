"""Pydantic models for content/: shared facts and per-language answers."""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

LANGS: tuple[str, ...] = ("zh", "en")
Lang = Literal["zh", "en"]
TOPIC_ID = re.compile(r"^[a-z][a-z0-9_]{1,40}$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bilingual(Strict):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def get(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


class Hotline(Strict):
    number: str = Field(pattern=r"^\d{3,6}$")
    name: Bilingual
    site: str | None = None
    confidence: Literal["H", "M", "L"] | None = None
    verify: bool = False


class Authority(Strict):
    name: Bilingual
    site: str | None = None
    note: Bilingual | None = None
    confidence: Literal["H", "M", "L"] | None = None


class Lpr(Strict):
    value: str
    since: dt.date
    confirmed_through: str
    cap: str
    verify_later: bool = False


class Instrument(Strict):
    name: Bilingual
    binds: Bilingual
    in_force: dt.date | None = None
    confidence: Literal["H", "M", "L"]


class Facts(Strict):
    checked: dt.date
    hotlines: dict[str, Hotline]
    authorities: dict[str, Authority]
    lpr: Lpr
    deadlines: dict[str, dict[str, int | str]]
    instruments: dict[str, Instrument]

    def view(self, lang: str) -> dict:
        """The facts as seen by a Jinja2 template in one language."""

        def loc(obj: BaseModel) -> dict:
            out = {}
            for key, value in obj:
                out[key] = value.get(lang) if isinstance(value, Bilingual) else value
            return out

        return {
            "checked": self.checked.isoformat(),
            "hotlines": {k: loc(v) for k, v in self.hotlines.items()},
            "authorities": {k: loc(v) for k, v in self.authorities.items()},
            "lpr": self.lpr.model_dump(mode="json"),
            "deadlines": self.deadlines,
            "instruments": {k: loc(v) for k, v in self.instruments.items()},
        }


class Source(Strict):
    instrument: str
    article: str | None = None
    note: str | None = None


class TopicFile(Strict):
    """One answer in one language: content/<lang>/faq/<id>.yaml."""

    id: str = Field(pattern=TOPIC_ID.pattern)
    title: str = Field(min_length=1, max_length=60)
    short: str = Field(min_length=1)
    more: str | None = None
    examples: list[str] = Field(min_length=1)
    keywords: list[str] = []
    sources: list[Source] = Field(min_length=1)
    checked: dt.date
    actions: list[str] = []
    related: list[str] = []
    listed: bool = True  # shown in the topic list offered when the bot is unsure

    @field_validator("actions")
    @classmethod
    def _action_form(cls, value: list[str]) -> list[str]:
        for action in value:
            if not re.match(r"^(dialog|topic):[a-z][a-z0-9_]*$", action):
                raise ValueError(f"action {action!r} must look like dialog:<id> or topic:<id>")
        return value


class OffTopicFile(Strict):
    """content/offtopic.yaml: questions the bot must not claim to answer (classifier.py)."""

    zh: list[str] = []
    en: list[str] = []


class CrisisFile(Strict):
    """content/crisis.yaml: regular expressions, matched on normalised text (crisis.py)."""

    zh: list[str] = Field(min_length=1)
    en: list[str] = Field(min_length=1)
    exclude: list[str] = []   # hyperbole and other people's words, cut out before matching
    concern: list[str] = []   # second tier: distress without a word about dying
    soft: list[str] = []      # despair words: a crisis alone, the model's call in a long story


class CrisisCorpus(Strict):
    """content/crisis_corpus.yaml: the crisis detector's training examples, by language."""

    crisis: dict[str, list[str]]
    concern: dict[str, list[str]]
    safe: dict[str, dict[str, list[str]]]   # group (hyperbole, collector_threat, ...) -> lang
