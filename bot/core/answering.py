"""One-shot answers (python -m bot ask): the matcher's decision as plain data."""

from __future__ import annotations

from bot.core import screens
from bot.knowledge.crisis import CrisisDetector
from bot.knowledge.loader import Knowledge
from bot.knowledge.matcher import Matcher


def answer_question(k: Knowledge, matcher: Matcher, question: str, lang: str | None,
                    crisis: CrisisDetector) -> dict:
    """{"topic", "confidence", "lang", "answer"} for one question; topic None when unknown."""
    match = matcher.match(question)
    lang = lang or match.lang or k.languages[0]
    topic: str | None
    if crisis(question):
        topic, confidence = "crisis_support", 1.0
    elif match.decision == "answer":
        topic, confidence = match.topic, match.confidence
    else:
        topic, confidence = None, match.confidence
    if topic == screens.CRISIS_TOPIC:
        text = screens.crisis(k, lang).text
    elif topic:
        text = screens.answer(k, topic, lang, {}).text  # the same first screen as in a chat
    elif match.decision == "clarify":
        titles = [k.answer(t, lang).title for t, _ in match.candidates if t in k.answers]
        text = k.text(lang, "clarify.text") + "\n" + "\n".join(f"- {t}" for t in titles)
    else:
        text = screens.unknown(k, lang).text
    return {"topic": topic, "confidence": round(float(confidence), 3), "lang": lang, "answer": text}
