"""The crisis check: every crisis phrasing is caught; ordinary questions are not."""

from __future__ import annotations

import pytest

from bot.knowledge.crisis import CrisisCheck


@pytest.fixture(scope="module")
def crisis(loaded) -> CrisisCheck:
    return CrisisCheck.build(loaded.knowledge.crisis)


def test_every_crisis_example_is_caught(loaded, crisis):
    examples = [e for lang in ("zh", "en") for e in loaded.knowledge.answer("crisis_support", lang).examples]
    missed = [e for e in examples if not crisis(e)]
    assert not missed


@pytest.mark.parametrize("text", [
    "想结束自己的生命", "我不想活了", "不 想 活 了", "欠了网贷，真想一死了之", "活著沒意思", "我想自殺",
    "I want to die", "thinking about suicide", "I'd rather be dead", "I can't take this anymore",
    "I WANT TO DIE",
])
def test_crisis_phrasings(crisis, text):
    assert crisis(text)


@pytest.mark.parametrize("text", ["吓死我了", "笑死", "烦死了催收天天打", "想死你了", "the app died on my phone",
                                  "催收说要打死我", "deadline for the complaint"])
def test_not_crises(crisis, text):
    assert not crisis(text)


def test_ordinary_topic_examples_are_not_crises(loaded, crisis):
    flagged = [e for topic, by_lang in loaded.knowledge.answers.items() if topic != "crisis_support"
               for a in by_lang.values() for e in a.examples if crisis(e)]
    assert not flagged
