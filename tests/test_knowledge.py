"""The knowledge base: complete, sourced, dated, both languages, facts referenced not typed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.core import screens

SPEC = Path(__file__).resolve().parent.parent.parent / "shared" / "spec" / "topics.yaml"


def test_catalog_matches_the_spec(loaded):
    if not SPEC.exists():
        pytest.skip("shared/spec not beside the repository")
    spec_ids = list(yaml.safe_load(SPEC.read_text())["topics"])
    assert list(loaded.knowledge.catalog) == spec_ids


def test_every_catalog_topic_has_both_languages_sources_and_date(loaded):
    k = loaded.knowledge
    for topic in k.catalog:
        for lang in ("zh", "en"):
            a = k.answer(topic, lang)
            assert a.short and a.sources and re.match(r"\d{4}-\d{2}-\d{2}$", a.checked), (topic, lang)
            assert len(a.examples) >= 8, (topic, lang)


def test_answers_render_without_template_syntax_left(loaded):
    for by_lang in loaded.knowledge.answers.values():
        for a in by_lang.values():
            for text in (a.short, a.more or ""):
                assert "{{" not in text and "{%" not in text and "Undefined" not in text


def test_hotline_numbers_come_from_facts(loaded):
    """A hotline typed as digits in an answer would not change when facts.yaml does."""
    numbers = {h.number for h in loaded.knowledge.facts.hotlines.values()}
    root = Path(loaded.knowledge.root)
    for path in root.glob("*/faq/*.yaml"):
        raw = yaml.safe_load(path.read_text())
        for field in ("short", "more"):
            text = raw.get(field) or ""
            for number in numbers:
                assert not re.search(rf"(?<![\d.]){number}(?![\d.])", text), (path.name, field, number)


def test_every_answer_renders_as_a_screen_in_both_languages(loaded):
    k = loaded.knowledge
    for topic in k.answers:
        for lang in ("zh", "en"):
            reply = screens.answer(k, topic, lang, loaded.dialogs)
            assert reply.text and all(len(b.id.encode()) <= 64 for b in reply.buttons)
            more = screens.more(k, topic, lang)
            assert k.answer(topic, lang).checked in more.text


def test_unverified_items_are_not_stated_as_fact(loaded):
    """legal-facts.md: no collection hours from the 2018 NIFA convention; 12363's remit is unclear."""
    hours = re.compile(r"8[:：]00\s*[-–至到]\s*21[:：]00|9[:：]00\s*[-–至到]\s*17[:：]00")
    warned = re.compile(r"unverified|未经核实|未经证实|没有核实|无法核实")
    for path in Path(loaded.knowledge.root).glob("*/faq/*.yaml"):
        text = path.read_text()
        for m in hours.finditer(text):  # only ever mentioned to warn against them
            assert warned.search(text[max(0, m.start() - 200):m.end() + 200]), path.name
