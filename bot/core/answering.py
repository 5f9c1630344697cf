"""One-shot answers (python -m bot ask): the matcher's decision as plain data."""

from __future__ import annotations

from bot.knowledge.crisis import CrisisCheck
from bot.knowledge.loader import Knowledge
from bot.knowledge.matcher import Matcher


def answer_question(k: Knowledge, matcher: Matcher, question: str, lang: str | None = None) -> dict:
    """{"topic", "confidence", "lang", "answer"} for one question; topic None when unknown."""
    match = matcher.match(question)
    lang = lang or match.lang or "zh"
    if CrisisCheck.build(k.crisis)(question):
        topic, confidence = "crisis_support", 1.0
    elif match.decision == "answer":
        topic, confidence = match.topic, match.confidence
    else:
        topic, confidence = None, match.confidence
    if topic:
        a = k.answer(topic, lang)
        text = f"{a.title}\n\n{a.short}\n\n" + k.text(lang, "answer.footer", sources="; ".join(
            s.split("（适用于")[0].split(" (binds")[0] for s in a.sources[:2]), checked=a.checked)
    elif match.decision == "clarify":
        titles = [k.answer(t, lang).title for t, _ in match.candidates if t in k.answers]
        text = k.text(lang, "clarify.text") + "\n" + "\n".join(f"- {t}" for t in titles)
    else:
        text = k.text(lang, "unknown.text", legal=k.facts.hotlines["legal"].number)
    return {"topic": topic, "confidence": round(float(confidence), 3), "lang": lang, "answer": text}
