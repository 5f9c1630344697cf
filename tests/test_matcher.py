"""Tests for bot/knowledge/matcher.py: behaviour, and the evaluation over tests/eval/.

The evaluation figures are asserted against floors a little below what was measured, so a
change that makes matching worse fails here. Run `python bench/matcher.py` for the table
(with a BM25 baseline and latency).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.knowledge.loader import Knowledge
from bot.knowledge.matcher import ANSWER_THRESHOLD, Match, Matcher, stem
from bot.knowledge.normalize import detect_lang, normalize

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT / "tests" / "eval" / "questions.yaml"
DEV = ROOT / "tests" / "eval" / "dev.yaml"
TOPICS = ROOT.parent / "shared" / "spec" / "topics.yaml"

# Floors for the evaluation, a little below what was measured on the current set (version
# 2, written 2026-11-29 from topics.yaml alone): strict top-1 zh 92.8%, en 90.7%; lenient
# 93.1% / 91.4%; rejection 96.7% (58 of 60). The aims are 90% strict top-1 per language and
# 85% rejection; see bench/matcher.py for the table and README for the history.
FLOOR_STRICT = {"zh": 0.90, "en": 0.875}
FLOOR_LENIENT = {"zh": 0.905, "en": 0.88}
FLOOR_REJECTION = 0.945


@pytest.fixture(scope="module")
def eval_set() -> list[dict]:
    return yaml.safe_load(EVAL.read_text(encoding="utf-8"))


def spec_topics() -> list[str]:
    if TOPICS.exists():
        return list(yaml.safe_load(TOPICS.read_text(encoding="utf-8"))["topics"])
    return []


# ------------------------------------------------------------------------- Match / interface


def test_match_is_a_frozen_dataclass_with_the_agreed_fields() -> None:
    names = [f.name for f in dataclasses.fields(Match)]
    assert names == ["topic", "confidence", "lang", "candidates", "decision"]
    m = Match(None, 0.0, "en", (), "unknown")
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.topic = "x"  # type: ignore[misc]


def test_build_indexes_every_topic(matcher: Matcher, knowledge: Knowledge) -> None:
    assert set(matcher.topics) == set(knowledge.answers)


def test_every_spec_topic_has_answers(knowledge: Knowledge) -> None:
    missing = sorted(set(spec_topics()) - set(knowledge.answers))
    assert not missing, f"topics without answer files: {missing}"


def check_invariants(m: Match, matcher: Matcher) -> None:
    assert m.decision in ("answer", "clarify", "unknown")
    assert m.lang in ("zh", "en")
    assert 0.0 <= m.confidence <= 1.0
    assert len(m.candidates) <= 3
    ids = [t for t, _ in m.candidates]
    assert len(set(ids)) == len(ids)
    assert all(t in matcher.topics for t in ids)
    scores = [s for _, s in m.candidates]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    if m.candidates:
        assert m.confidence == m.candidates[0][1]
    if m.decision == "answer":
        assert m.topic == m.candidates[0][0]
        assert m.confidence >= ANSWER_THRESHOLD
    else:
        assert m.topic is None
    if m.decision == "clarify":
        assert m.candidates and m.confidence < ANSWER_THRESHOLD


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=80))
def test_any_text_gives_a_consistent_match(matcher: Matcher, text: str) -> None:
    m = matcher.match(text)
    check_invariants(m, matcher)
    assert m.lang == (detect_lang(text) or matcher.default_lang) == (detect_lang(text) or "zh")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["催收", "网贷", "通讯录", "loan", "boss", "爆", "the", " ", "吗",
                                 "police", "征信", "!", "Ｐ图", "呼死你", "jail", "單位"]),
                max_size=12))
def test_domain_word_soup_gives_a_consistent_match(matcher: Matcher, words: list[str]) -> None:
    check_invariants(matcher.match("".join(words)), matcher)


@pytest.mark.parametrize("text", ["", "   ", "？？？", "...", "😀😀", "\u200b", "123"])
def test_empty_or_meaningless_text_is_unknown(matcher: Matcher, text: str) -> None:
    m = matcher.match(text)
    assert m.decision == "unknown"
    assert m.topic is None


@pytest.mark.parametrize("text", ["hi", "Hello", "hey", "你好", "您好", "在吗", "thanks", "thank you",
                                  "good night", "谢谢", "晚安", "ok", "who are you"])
def test_lone_greetings_and_small_talk_are_unknown(matcher: Matcher, text: str) -> None:
    assert matcher.match(text).decision == "unknown"


def test_language_is_detected(matcher: Matcher) -> None:
    assert matcher.match("collectors called my boss").lang == "en"
    assert matcher.match("催收打到我单位").lang == "zh"
    assert matcher.match("催收 called my boss").lang == "zh"


# ------------------------------------------------------------------------- behaviour


def answer(matcher: Matcher, text: str) -> str | None:
    m = matcher.match(text)
    return m.topic if m.decision == "answer" else None


def first(matcher: Matcher, text: str) -> str | None:
    m = matcher.match(text)
    return m.candidates[0][0] if m.decision != "unknown" and m.candidates else None


@pytest.mark.parametrize(("text", "topic"), [
    ("他们把我通讯录爆了", "contacts_contact"),
    ("天天被呼死你", "call_hours_frequency"),
    ("催收把我p图发到群里", "public_shaming"),
    ("逾期了会上征信吗", "credit_report"),
    ("借款被扣了砍头息", "interest_legal_limit"),
    ("714高炮的利息合法吗", "interest_legal_limit"),
    ("爆单位了", "employer_contact"),
    ("冒充公检法打电话吓我", "impersonating_authorities"),
    ("收到老赖海报", "public_shaming"),
    ("说要上门催收", "home_visit"),
])
def test_collection_slang(matcher: Matcher, text: str, topic: str) -> None:
    assert answer(matcher, text) == topic


@pytest.mark.parametrize(("simplified", "traditional"), [
    ("催收打电话到我单位", "催收打電話到我單位"),
    ("网贷逾期会坐牢吗", "網貸逾期會坐牢嗎"),
    ("催收骂我怎么办", "催收罵我怎麼辦"),
])
def test_traditional_characters_match_like_simplified(matcher: Matcher, simplified: str,
                                                      traditional: str) -> None:
    assert answer(matcher, simplified) is not None
    assert answer(matcher, traditional) == answer(matcher, simplified)


def test_full_width_case_and_punctuation_do_not_matter(matcher: Matcher) -> None:
    plain = matcher.match("collectors called my boss")
    for variant in ("ＣＯＬＬＥＣＴＯＲＳ ＣＡＬＬＥＤ ＭＹ ＢＯＳＳ", "Collectors called my BOSS!!!",
                    "collectors, called... my boss?"):
        m = matcher.match(variant)
        assert (m.topic, m.decision) == (plain.topic, plain.decision) == ("employer_contact",
                                                                           "answer")


def test_missing_spaces_and_punctuation_in_chinese(matcher: Matcher) -> None:
    assert answer(matcher, "催收给我爸妈打电话要钱怎么办啊") == "family_contact"
    assert answer(matcher, "催收，给我爸妈打电话要钱。怎么办？") == "family_contact"


@pytest.mark.parametrize(("text", "topic"), [
    ("colectors harrassing my emplyer", "employer_contact"),
    ("can i recrod the collecter calls", "record_calls_legal"),
    ("我是别人的紧急连系人要还钱吗", "emergency_contact_liability"),  # 联 -> 连
    ("催收把我通迅录里的人都打了一遍", "contacts_contact"),  # 讯 -> 迅
    ("催收冒冲警察", "impersonating_authorities"),  # 充 -> 冲
])
def test_typos(matcher: Matcher, text: str, topic: str) -> None:
    assert first(matcher, text) == topic


@pytest.mark.parametrize(("text", "topic"), [
    ("催收 keeps calling my boss", "employer_contact"),
    ("my app 爆通讯录 all my friends", "contacts_contact"),
    ("会不会坐牢 if i dont pay", "arrest_jail"),
])
def test_mixed_language(matcher: Matcher, text: str, topic: str) -> None:
    assert first(matcher, text) == topic


def test_one_topic_id_across_languages(matcher: Matcher) -> None:
    assert answer(matcher, "催收威胁要打我") == answer(matcher, "collector threatened to beat me")
    assert answer(matcher, "可以给催收电话录音吗") == answer(matcher, "can i record collector calls")


def test_crisis_support_is_matched(matcher: Matcher) -> None:
    assert answer(matcher, "还不起钱了真的不想活了") == "crisis_support"
    assert answer(matcher, "i want to kill myself over this debt") == "crisis_support"


@pytest.mark.parametrize("text", [
    "今天北京下雨吗", "糖醋排骨的做法", "梅西进了几个球", "离婚了孩子抚养权归谁", "美国签证面试要带什么",
    "what's the forecast for saturday", "recipe for banana bread", "premier league table",
    "how is child custody decided in a divorce", "do i need a visa for thailand",
    "how much vat do i pay on imports",
])
def test_out_of_scope_is_unknown(matcher: Matcher, text: str) -> None:
    assert matcher.match(text).decision == "unknown"


def test_near_miss_offers_the_close_topics(matcher: Matcher) -> None:
    m = matcher.match("催收的事情 投诉")  # complaint, but channels or follow-up?
    assert m.decision in ("clarify", "answer")
    ids = [t for t, _ in m.candidates]
    assert "complaint_channels" in ids and len(ids) == 3


def test_clarify_happens_and_offers_three_candidates(matcher: Matcher, eval_set: list[dict]) -> None:
    clarified = [m for it in eval_set if (m := matcher.match(it["q"])).decision == "clarify"]
    assert clarified, "the eval set should produce some clarifications"
    assert all(len(m.candidates) == 3 for m in clarified)


def test_content_examples_match_their_own_topic(matcher: Matcher, knowledge: Knowledge) -> None:
    """Training accuracy: the examples the matcher was built from come back to their topic."""
    total = right = 0
    for topic, by_lang in knowledge.answers.items():
        for ans in by_lang.values():
            for example in ans.examples:
                total += 1
                right += first(matcher, example) == topic
    assert right / total >= 0.97, f"{right}/{total}"


def test_stemmer_brings_inflections_together() -> None:
    assert stem("calls") == stem("calling") == stem("called") == stem("call")
    assert stem("harassed") == stem("harassing") == stem("harass")
    assert stem("stopping") == stem("stop")


# ------------------------------------------------------------------------- the eval set


def test_eval_set_is_well_formed(eval_set: list[dict]) -> None:
    for it in eval_set:
        assert set(it) == {"q", "lang", "topic"}, it
        assert isinstance(it["q"], str) and it["q"].strip(), it
        assert it["lang"] in ("zh", "en"), it
        assert detect_lang(it["q"]) == it["lang"], it
    questions = [normalize(it["q"]) for it in eval_set]
    assert len(questions) == len(set(questions)), "duplicate eval questions"


def test_eval_set_covers_every_topic_in_both_languages(eval_set: list[dict]) -> None:
    counts = Counter((it["topic"], it["lang"]) for it in eval_set if it["topic"])
    for topic in spec_topics():
        assert counts[(topic, "zh")] >= 8, topic
        assert counts[(topic, "en")] >= 8, topic
    assert sum(1 for it in eval_set if it["topic"] is None) >= 40


def test_eval_topics_exist(eval_set: list[dict], knowledge: Knowledge) -> None:
    unknown = {it["topic"] for it in eval_set if it["topic"]} - set(knowledge.answers)
    assert not unknown


@pytest.mark.parametrize("path", [EVAL, DEV], ids=["eval", "dev"])
def test_eval_and_dev_questions_are_not_training_data(path: Path, knowledge: Knowledge) -> None:
    """Neither set may appear among the examples the matcher learns from (topic examples
    and content/offtopic.yaml): that would make their figures meaningless."""
    training = {normalize(e) for by_lang in knowledge.answers.values()
                for ans in by_lang.values() for e in ans.examples}
    training |= {normalize(q) for qs in knowledge.offtopic.values() for q in qs}
    items = yaml.safe_load(path.read_text(encoding="utf-8"))
    copied = [it["q"] for it in items if normalize(it["q"]) in training]
    assert not copied, f"{path.name} questions found in the training examples: {copied}"


def evaluate(matcher: Matcher, eval_set: list[dict]) -> dict[str, float]:
    n: Counter[str] = Counter()
    strict: Counter[str] = Counter()
    lenient: Counter[str] = Counter()
    oos = rejected = 0
    for it in eval_set:
        m = matcher.match(it["q"])
        if it["topic"] is None:
            oos += 1
            rejected += m.decision == "unknown"
            continue
        n[it["lang"]] += 1
        ok = m.decision == "answer" and m.topic == it["topic"]
        strict[it["lang"]] += ok
        lenient[it["lang"]] += ok or (m.decision == "clarify"
                                      and m.candidates[0][0] == it["topic"])
    out = {f"strict_{lang}": strict[lang] / n[lang] for lang in n}
    out |= {f"lenient_{lang}": lenient[lang] / n[lang] for lang in n}
    out["rejection"] = rejected / oos
    return out


def test_eval_accuracy_and_rejection(matcher: Matcher, eval_set: list[dict]) -> None:
    fig = evaluate(matcher, eval_set)
    report = ", ".join(f"{k} {v:.1%}" for k, v in sorted(fig.items()))
    print(f"\nmatcher eval: {report}")
    for lang in ("zh", "en"):
        assert fig[f"strict_{lang}"] >= FLOOR_STRICT[lang], report
        assert fig[f"lenient_{lang}"] >= FLOOR_LENIENT[lang], report
    assert fig["rejection"] >= FLOOR_REJECTION, report
