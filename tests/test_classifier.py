"""Tests for bot/knowledge/classifier.py and the content it learns from (offtopic.yaml)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.contentfiles import ContentError
from bot.knowledge.classifier import TopicClassifier
from bot.knowledge.loader import Knowledge, load_knowledge
from bot.knowledge.matcher import Matcher
from bot.knowledge.normalize import normalize

ROOT = Path(__file__).resolve().parents[1]


def words(text: str) -> list[str]:
    return text.split()


def sklearn_margins(clf: TopicClassifier, norm: str) -> np.ndarray:
    margins = clf.svm.decision_function(clf.vectorizer.transform([norm]))[0]
    return np.array([-margins, margins]) if np.ndim(margins) == 0 else margins


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=60))
def test_fast_path_gives_sklearns_own_margins(matcher: Matcher, text: str) -> None:
    """The flattened model (module docstring) must agree with sklearn's decision_function."""
    clf = matcher._clf
    norm = normalize(text)
    assert np.allclose(clf.margins(norm), sklearn_margins(clf, norm), atol=1e-9)


@pytest.mark.parametrize("text", ["催收天天打我公司电话", "collector called my boss", "天气", "", "!!!", "zzzz"])
def test_fast_path_on_real_questions(matcher: Matcher, text: str) -> None:
    clf = matcher._clf
    norm = normalize(text)
    assert np.allclose(clf.margins(norm), sklearn_margins(clf, norm), atol=1e-9)
    probs = clf.probabilities(norm)
    assert len(probs) == len(matcher.topics) + 1  # the last class is "out of scope"
    assert abs(sum(probs) - 1.0) < 1e-9 and min(probs) >= 0.0


def test_two_classes_and_missing_classes() -> None:
    """liblinear keeps one row of weights for two classes; topics without examples get 0."""
    texts = ["red apple", "green apple", "blue sky", "grey sky"]
    clf = TopicClassifier.fit(texts, [0, 0, 2, 2], 3, words)
    probs = clf.probabilities("apple pie")
    assert probs[1] == 0.0 and probs[0] > probs[2]
    assert clf.probabilities("sky")[2] > 0.5
    assert np.allclose(clf.margins("sky"), sklearn_margins(clf, "sky"))


def test_one_class_is_refused() -> None:
    with pytest.raises(ValueError):
        TopicClassifier.fit(["a", "b"], [0, 0], 1, words)


def test_offtopic_questions_are_rejected_and_shape_the_decision(matcher: Matcher,
                                                                knowledge: Knowledge) -> None:
    """The training questions of content/offtopic.yaml come back as "unknown"."""
    questions = [q for qs in knowledge.offtopic.values() for q in qs]
    assert len(questions) >= 200
    rejected = sum(matcher.match(q).decision == "unknown" for q in questions)
    assert rejected / len(questions) >= 0.97


def test_offtopic_file_is_optional_and_checked(tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    (content / "offtopic.yaml").unlink()
    k = load_knowledge(content)
    assert k.offtopic == {}
    assert Matcher.build(k).match("催收天天打我公司电话").decision == "answer"

    example = k.answer("employer_contact", "en").examples[0]
    (content / "offtopic.yaml").write_text(f'zh: ["明天天气"]\nen: ["{example.upper()}"]\n', encoding="utf-8")
    with pytest.raises(ContentError) as err:
        load_knowledge(content)
    assert "also an example of employer_contact" in str(err.value)
    assert "offtopic.yaml" in str(err.value)

    (content / "offtopic.yaml").write_text("zh: 3\n", encoding="utf-8")
    with pytest.raises(ContentError):
        load_knowledge(content)
