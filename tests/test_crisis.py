"""The crisis detector and the crisis reply.

The detector is measured on tests/eval/crisis.yaml, a held-out set written apart from the
training corpus (content/crisis_corpus.yaml) and never used to tune it; the floors below
sit just under what bench/crisis.py measured, so a change that loses recall fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.app import Loaded
from bot.core.answering import answer_question
from bot.knowledge.crisis import CRISIS, CrisisDetector, clauses, prepare, sentences
from tests.conftest import Chat, shown

EVAL = yaml.safe_load((Path(__file__).parent / "eval" / "crisis.yaml").read_text(encoding="utf-8"))
#: the development set (bench/crisis.py --dev): written apart, for comparing model choices
DEV = yaml.safe_load((Path(__file__).parent / "eval" / "crisis_dev.yaml").read_text(encoding="utf-8"))

#: Floors on the held-out set, just under what bench/crisis.py measured (README): 96.4% /
#: 98.6%; after the last changes this very test counted 95.9% for Chinese at one step, hence
#: 95%. The aim of issue 10 is 99% recall; the linear model does not reach it yet.
RECALL_FLOOR = {"zh": 0.95, "en": 0.98}
#: crisis replies to hyperbole, collectors' threats, quoted insults and legal questions
FALSE_ALARM_CEILING = {"zh": 0.05, "en": 0.05}
ISSUE_GROUPS = ("hyperbole", "collector_threat", "quoted_insult", "legal_question")
#: crisis replies to long stressed stories about the debt without a word about dying
STORY_CEILING = {"zh": 0.22, "en": 0.28}
CONCERN_FLOOR = {"zh": 0.38, "en": 0.42}  # distress that gets at least the gentle line

CITATION = re.compile(r"依据|Based on|Criminal Law|刑法|第\d+条|Art\. \d")


@pytest.fixture(scope="module")
def crisis(loaded: Loaded) -> CrisisDetector:
    return loaded.crisis


# --- the detector --------------------------------------------------------------------------

def test_every_training_crisis_example_is_caught(loaded: Loaded, crisis: CrisisDetector) -> None:
    corpus = loaded.knowledge.crisis_corpus
    assert corpus is not None
    examples = [e for items in corpus.crisis.values() for e in items]
    examples += [e for a in loaded.knowledge.answers["crisis_support"].values() for e in a.examples]
    missed = [e for e in examples if not crisis(e)]
    assert not missed


def test_training_hyperbole_threats_and_insults_get_no_crisis_reply(loaded: Loaded,
                                                                    crisis: CrisisDetector) -> None:
    corpus = loaded.knowledge.crisis_corpus
    assert corpus is not None
    flagged = [e for group in ("hyperbole", "collector_threat", "quoted_insult", "legal_question")
               for items in corpus.safe[group].values() for e in items if crisis(e)]
    assert not flagged
    chat = [e for items in corpus.safe["chat"].values() for e in items]
    assert sum(map(crisis, chat)) <= 0.02 * len(chat)  # thanks, goodbyes, typed answers


def _texts(data: dict) -> list[str]:
    return ([x for part in ("crisis", "concern") for items in data[part].values() for x in items]
            + [x for group in data["safe"].values() for items in group.values() for x in items])


@pytest.mark.parametrize("name", ["eval", "dev"])
def test_the_evaluation_and_development_sets_are_not_training_data(loaded: Loaded, name: str) -> None:
    """Neither set may appear among the examples the detector learns from (its corpus, the
    topic examples, the off-topic questions): their figures would mean nothing. Counts only:
    the held-out messages are never printed (plain integers, nothing for pytest to show).

    The crisis_support topic's own examples are left out: three of them (short, one quoted
    from issue 10 itself) are also held-out messages; that topic file is the matcher's."""
    k = loaded.knowledge
    assert k.crisis_corpus is not None
    training = {prepare(x) for x in _texts(k.crisis_corpus.model_dump())}
    training |= {prepare(e) for topic, by_lang in k.answers.items() if topic != "crisis_support"
                 for a in by_lang.values() for e in a.examples}
    training |= {prepare(q) for qs in k.offtopic.values() for q in qs}
    copied = int(sum(prepare(x) in training for x in _texts(EVAL if name == "eval" else DEV)))
    assert copied == 0, f"{copied} {name} messages are training examples"
    if name == "dev":
        held_out = {prepare(x) for x in _texts(EVAL)}
        shared = int(sum(prepare(x) in held_out for x in _texts(DEV)))
        assert shared == 0, f"{shared} development messages are also held-out messages"


def test_ordinary_topic_questions_are_not_crises(loaded: Loaded, crisis: CrisisDetector) -> None:
    flagged = [e for topic, by_lang in loaded.knowledge.answers.items() if topic != "crisis_support"
               for a in by_lang.values() for e in a.examples if crisis(e)]
    assert not flagged


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_held_out_recall(crisis: CrisisDetector, lang: str) -> None:
    items = EVAL["crisis"][lang]
    missed = [x for x in items if not crisis(x)]
    recall = 1 - len(missed) / len(items)
    assert recall >= RECALL_FLOOR[lang], f"{len(missed)} missed"  # counts only: never tune on it


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_held_out_false_alarms(crisis: CrisisDetector, lang: str) -> None:
    items = [x for group in ISSUE_GROUPS for x in EVAL["safe"][group][lang]]
    flagged = [x for x in items if crisis(x)]
    assert len(flagged) / len(items) <= FALSE_ALARM_CEILING[lang], f"{len(flagged)} flagged"
    stories = EVAL["safe"]["debt_story"][lang]
    assert sum(map(crisis, stories)) / len(stories) <= STORY_CEILING[lang]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_held_out_distress_gets_at_least_the_gentle_line(crisis: CrisisDetector, lang: str) -> None:
    items = EVAL["concern"][lang]
    caught = [x for x in items if crisis.assess(x).level != "none"]
    assert len(caught) / len(items) >= CONCERN_FLOOR[lang]


@pytest.mark.parametrize("text", [
    # the phrasings the pattern list missed (issue 10)
    "真想一睡不醒", "我站在楼顶了", "还不上就只能去死了", "想离开这个世界", "我攒了一瓶安眠药", "准备自我了断",
    "写好遗言了", "no one would miss me", "kms", "I'm going to jump",
    # traditional characters, spaces, slang
    "活著沒意思", "我想自殺", "不 想 活 了", "想紫砂", "I WANT TO DIE",
])
def test_phrasings_that_must_be_caught(crisis: CrisisDetector, text: str) -> None:
    assert crisis(text)


def test_a_sentence_buried_in_a_long_story_is_caught(crisis: CrisisDetector) -> None:
    story = ("我在三个平台借了钱，一开始是为了给我妈看病，后来利息越滚越多。上个月开始逾期，"
             "催收每天打二三十个电话，还打到我们公司，领导找我谈话了。通讯录里的亲戚都收到了短信，"
             "说我是老赖。我老婆也知道了，天天跟我吵。昨晚我在阳台上站了很久，真的想跳下去算了。"
             "今天又收到一条短信说要起诉我，我想问一下他们真的会起诉吗？")
    assert crisis(story)
    assert len(clauses(prepare(story))) > 4


@pytest.mark.parametrize("text", [
    "气死我了", "忙死了", "吓死我了", "困死", "these fees are murder", "I'd kill for one quiet day",
    "催收说要打断我的腿", "催收骂我怎么不去死", "they told me to go kill myself, is that legal?",
    "借款人去世了，家属要还网贷吗", "if the borrower dies who repays the loan", "想死你了",
    "the app died on my phone", "deadline for the complaint",
    # ordinary words the patterns once took for a crisis
    "还完这笔终于解脱了", "ok that sounds like a plan", "I'm checking out the complaint website now",
    "我不想活在他们的恐吓里，能报警吗", "I could just die of embarrassment, they called my boss",
])
def test_hyperbole_threats_and_questions_are_not_crises(crisis: CrisisDetector, text: str) -> None:
    assert not crisis(text)


def test_a_sentence_buried_in_a_story_without_punctuation_is_scored_on_its_own(crisis: CrisisDetector) -> None:
    # Typed on a phone, no full stop at all: cut into chunks, each (and each two) scored.
    story = ("i borrowed from four apps to cover rent and now they call my boss and my sister every day "
             "and i have not slept in weeks last night i wrote letters to my kids and put them in my desk "
             "so they have something when i am gone can they legally call my sister")
    assert len(sentences(prepare(story))) >= 3
    assert crisis(story)


def test_the_fast_margins_are_the_models_own(crisis: CrisisDetector) -> None:
    """`margins` computes every piece's score in one numpy pass; it must agree with the
    fitted model's own decision function on each piece."""
    assert crisis.model is not None
    short = prepare("I can't see any way forward anymore")
    assert crisis.margins(short)[0] == pytest.approx(float(crisis.model.margins(short)[CRISIS]))
    story = prepare("我在三个平台借了钱，一开始是为了给我妈看病，后来利息越滚越多。上个月开始逾期，"
                    "催收每天打二三十个电话。昨晚我在阳台上站了很久。今天又收到一条短信说要起诉我。")
    parts = clauses(story, pairs=False)
    assert len(parts) >= 2
    best = max(float(crisis.model.margins(p)[CRISIS]) for p in parts)
    assert crisis.margins(story)[1] == pytest.approx(best)


@pytest.mark.parametrize("text", ["真的好绝望", "I feel hopeless", "I can't take it anymore"])
def test_despair_words_alone_are_a_crisis(crisis: CrisisDetector, text: str) -> None:
    assert crisis(text)


def test_despair_words_in_a_long_story_get_at_least_the_gentle_line(crisis: CrisisDetector) -> None:
    story = ("I owe five apps and they call my family every day, honestly it feels hopeless. "
             "Is it legal for them to call my parents?")
    assert crisis.assess(story).level in ("concern", "crisis")
    assert crisis.assess(story).by != "soft-pattern"


@pytest.mark.parametrize("text", ["The collector told me to go die and honestly it sounds like a plan",
                                  "催收说让我去死，我想了想，好像也是个办法"])
def test_someone_elses_words_about_dying_taken_up_are_a_crisis(crisis: CrisisDetector, text: str) -> None:
    assert crisis(text)


def test_distress_without_a_word_about_dying_is_a_concern(crisis: CrisisDetector) -> None:
    assert crisis.assess("被催收逼得快疯了").level == "concern"
    assert crisis.assess("I'm losing my mind with these calls").level == "concern"


def test_without_a_model_the_patterns_still_work(loaded: Loaded) -> None:
    bare = CrisisDetector.build(loaded.knowledge.crisis)
    assert bare("我想自杀") and not bare("气死我了") and bare.model is None


# --- the reply -----------------------------------------------------------------------------

def _report_started(chat: Chat) -> str:
    chat.say("/report")
    question = chat.last[-1]
    assert question.kind == "question" and question.buttons
    return question.text


@pytest.mark.parametrize(("lang", "message"), [("zh", "真想一睡不醒，不想再醒过来了"),
                                               ("en", "honestly no one would miss me if i was gone")])
def test_mid_report_the_crisis_reply_comes_first_and_alone(chat: Chat, lang: str, message: str) -> None:
    chat.say(f"/lang {lang}")
    question = _report_started(chat)
    [reply] = chat.say(message)
    assert reply.kind == "crisis"
    for number in ("12356", "120", "110"):
        assert re.search(rf"^{number}$", reply.text, re.M), number   # alone on a line (WeChat)
    assert not CITATION.search(reply.text)
    assert not reply.buttons                                           # no legal buttons
    assert question not in reply.text

    # The next message is not taken as the answer to a question no longer on screen...
    chat.say("谢谢" if lang == "zh" else "thanks")
    assert chat.buttons == ["r:resume"]
    session = chat.engine.store.session(chat.user_id)
    assert session is not None and session["paused"] and session["step"]
    chat.press("t:employer_contact")                  # a topic button: answered, question not re-asked
    assert chat.last[0].kind == "answer" and chat.buttons[-1] == "r:resume"
    assert question not in chat.text
    # ...and the report goes on when the person asks for it.
    chat.press("r:resume")
    assert chat.last[-1].text == question
    chat.press(chat.buttons[0])
    assert chat.last[-1].text != question
    assert not chat.engine.store.session(chat.user_id)["paused"]


def test_a_crisis_outside_a_dialog_and_in_the_language_written(chat: Chat) -> None:
    chat.say("/lang zh")
    [reply] = chat.say("I want to kill myself")
    assert reply.kind == "crisis" and "12356" in reply.text and "hotline" in reply.text
    assert "r:resume" not in chat.buttons


def test_the_crisis_reply_promises_no_hours_and_carries_the_credit_card_caveat(loaded: Loaded) -> None:
    for lang in ("zh", "en"):
        text = loaded.knowledge.answer("crisis_support", lang).short
        assert not re.search(r"任何时候|随时|24小时|any ?time|24/7|24 hours", text, re.I)
        assert ("信用卡" in text) if lang == "zh" else ("credit card" in text)


def test_distress_gets_one_gentle_line_then_the_answer(chat: Chat) -> None:
    replies = chat.say("被催收逼得快疯了，他们打我公司电话合法吗")
    assert replies[0].kind == "notice" and "12356" in replies[0].text
    assert replies[1].kind == "answer" and shown("answer.footer", replies[1].text)
    assert len([r for r in replies if "12356" in r.text]) == 1


def test_the_out_of_scope_reply_carries_the_crisis_line(chat: Chat) -> None:
    chat.say("今天天气怎么样")
    assert "12356" in chat.text
    chat.say("/lang en")
    chat.say("what's the weather like tomorrow in Paris")
    assert "12356" in chat.text


def test_ask_answers_a_crisis_with_the_crisis_reply(loaded: Loaded) -> None:
    result = answer_question(loaded.knowledge, loaded.matcher, "我攒了一瓶安眠药", None, loaded.crisis)
    assert result["topic"] == "crisis_support" and "12356" in result["answer"]
    assert not CITATION.search(result["answer"])
