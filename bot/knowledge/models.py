"""Pydantic models for content/: shared facts, per-language answers and words.

The languages are not fixed here: they are the folders of content/ with a locale file
(bot/locale.py). Models that hold a text per language are validated against them through
the validation context `languages` (code -> the language it falls back to, or None).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot import locale

TOPIC_ID = re.compile(r"^[a-z][a-z0-9_]{1,40}$")
Text = Annotated[str, Field(min_length=1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _languages(info: ValidationInfo) -> dict[str, str | None] | None:
    return (info.context or {}).get("languages")


class Localized(RootModel[dict[str, Text]]):
    """One text in every language: {zh: 报警电话, en: police emergency number}. Every language
    needs its text, except one whose locale falls back to another (it gets that one's)."""

    model_config = ConfigDict(frozen=True)

    @model_validator(mode="after")
    def _every_language(self, info: ValidationInfo) -> Localized:
        langs = _languages(info)
        if langs is None:
            return self
        unknown = [lang for lang in self.root if lang not in langs]
        if unknown:
            raise ValueError(f"no language {unknown[0]!r} in content/ (languages: {', '.join(langs)})")
        missing = [lang for lang, fallback in langs.items() if lang not in self.root and fallback is None]
        if missing:
            raise ValueError(f"missing the text in {', '.join(missing)}")
        for lang, fallback in langs.items():
            if lang not in self.root and fallback is not None:
                self.root[lang] = self.root[fallback]
        return self

    def get(self, lang: str) -> str:
        text = self.root.get(lang)
        if text is None:
            fallback = locale.get(lang).fallback
            if fallback is None:
                raise KeyError(lang)
            text = self.root[fallback]
        return text


class Hotline(Strict):
    number: str = Field(pattern=r"^\d{3,6}$")
    name: Localized
    site: str | None = None
    confidence: Literal["H", "M", "L"] | None = None
    verify: bool = False


class Authority(Strict):
    name: Localized
    site: str | None = None
    note: Localized | None = None
    confidence: Literal["H", "M", "L"] | None = None


class Lpr(Strict):
    value: str
    since: dt.date
    confirmed_through: str
    cap: str
    verify_later: bool = False


class Instrument(Strict):
    name: Localized
    binds: Localized
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
                out[key] = value.get(lang) if isinstance(value, Localized) else value
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


class OffTopicFile(RootModel[dict[str, list[str]]]):
    """content/offtopic.yaml: questions the bot must not claim to answer (classifier.py), by
    language."""

    @model_validator(mode="after")
    def _known_languages(self, info: ValidationInfo) -> OffTopicFile:
        langs = _languages(info)
        unknown = [lang for lang in self.root if langs is not None and lang not in langs]
        if unknown:
            raise ValueError(f"no language {unknown[0]!r} in content/ (languages: {', '.join(langs or ())})")
        return self


class CrisisFile(Strict):
    """content/crisis.yaml: regular expressions, matched on normalised text (crisis.py)."""

    zh: list[str] = Field(min_length=1)
    en: list[str] = Field(min_length=1)
    exclude: list[str] = []   # hyperbole and other people's words, cut out before matching
    concern: list[str] = []   # second tier: distress without a word about dying
    soft: list[str] = []      # despair words: a crisis alone, the model's call in a long story
    agree: list[str] = []     # taking up someone else's words about dying (matched before exclude)


class CrisisCorpus(Strict):
    """content/crisis_corpus.yaml: the crisis detector's training examples, by language."""

    crisis: dict[str, list[str]]
    concern: dict[str, list[str]]
    safe: dict[str, dict[str, list[str]]]   # group (hyperbole, collector_threat, ...) -> lang


Words = list[Text]


class Sense(Strict):
    """A stop word that counts as a word of its own in some places: 还 is "still" (a stop
    word) but "repay" at the end of a clause (要不要还), before 吗 / 了 / 钱 ..., or after
    要 / 不 / 得 ... The matcher then adds the feature of `word` itself."""

    word: Text
    at_end: bool = False             # as the last word of a clause
    followed_by: Words = []          # when the next word is one of these
    preceded_by: Words = []          # when the word before is one of these


class Pattern(Strict):
    """A thesaurus feature for what no word list can hold (a clock time, "5 calls a day")."""

    group: Text                      # the feature added: the first word of a thesaurus group
    pattern: Text                    # a regular expression over the question's lower-case words

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"bad pattern: {exc}") from None
        return value


class MatcherWords(Strict):
    """What the question matcher knows of a language beyond the content's examples
    (bot/knowledge/matcher.py). Chinese-script languages (locale `script: han`) use
    keep_whole, senses; Latin-script ones variants, small_talk, patterns; both the rest."""

    stop_words: Words = []           # carry no meaning for matching
    keep_whole: Words = []           # collection slang the word segmenter must not split
    thesaurus: list[Annotated[Words, Field(min_length=2)]] = []  # interchangeable words, first canonical
    senses: list[Sense] = []
    variants: dict[str, str] = {}    # spelling variants the light stemmer misses: stem -> stem
    small_talk: str | None = None    # a regular expression of phrases removed before matching
    patterns: list[Pattern] = []

    @field_validator("small_talk")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"bad pattern: {exc}") from None
        return value


class Lexicon(Strict):
    """content/<lang>/lexicon.yaml: words the bot reads in a language (it never says them).
    Compared after normalisation (simplified characters, lower case), so 老細 is 老细."""

    greetings: Words = []            # a message that is only one of these gets the greeting
    help_words: Words = []           # ... the help screen
    yes_words: Words = []            # answers to a yes / no question
    no_words: Words = []
    matcher: MatcherWords = MatcherWords()


class Menus(Strict):
    """content/menus.yaml: which topics the bot offers as buttons (topic ids, any language)."""

    main_topics: list[str] = Field(min_length=1)   # when it cannot answer; first in /topics
    start: dict[str, str | None]     # /start: the topic each answer to "what do you need" leads to
