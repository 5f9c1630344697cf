"""The crisis detector: runs on every message, before anything else, in any language.

A pattern list alone missed a third of the ordinary ways people say they want to die
(真想一睡不醒, 我攒了一瓶安眠药, "no one would miss me", "kms"). So the decision has two
parts, and either one is enough:

1. **High-precision patterns** (content/crisis.yaml): phrases that mean suicide or self-harm
   whatever surrounds them. Hyperbole and other people's words (吓死我了, 叫我去死,
   "told me to kill myself") are cut out of the text first (`exclude`).
2. **A linear model** over character n-grams (robust to typos, spaces and traditional
   characters) and words, trained on content/crisis_corpus.yaml (crisis against everything
   else; distress counts as else) plus every ordinary question of the knowledge base and
   content/offtopic.yaml as safe examples. It is the same scikit-learn pipeline and fast
   path as the topic classifier (classifier.py). A message is scored whole and clause by
   clause, and the highest score counts, so one sentence buried in a long story about the
   debt is not drowned by the rest.

The thresholds are set for recall: a false alarm costs one kind message, a miss can cost a
life. They were chosen by 5-fold cross-validation over the training corpus only (see
`cross_validate` and bench/crisis.py); the held-out set in tests/eval/crisis.yaml, written
apart, only measures.

Three levels: "crisis" (the crisis reply, nothing else), "concern" (strong distress without
a word about dying: answer as usual with one gentle line and 12356 on top), "none".
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import re2
import rjieba
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_union
from sklearn.svm import LinearSVC

from bot.knowledge.classifier import TopicClassifier
from bot.knowledge.models import CrisisCorpus, CrisisFile
from bot.knowledge.normalize import CJK, normalize

if TYPE_CHECKING:
    from bot.knowledge.loader import Knowledge

Level = Literal["none", "concern", "crisis"]
CRISIS, CONCERN, SAFE = 0, 1, 2  # class indexes of the model
NGRAMS = (1, 4)  # character n-grams within words
#: Clauses shorter than this are not scored alone: "我想先自己处理好" says nothing about
#: dying, yet its few n-grams (我想, 自己) weigh heavily once normalised. Patterns still see them.
MIN_CLAUSE = 8
#: The model judges only messages at least this big (see `size`): "Quick Cash" or "好吧"
#: typed as an answer in a dialog has too few features to judge.
MIN_MODEL_SIZE = 6
_LATIN_WORD = re.compile(r"[a-z0-9']+")

_CJK_GAP = re.compile(r"(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])")
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"[a-z0-9']+")
# Clause boundaries for scoring a long message piece by piece.
_CLAUSE = re.compile(r"[。！？!?;；\n…]+|\.(?:\s|$)|[，,](?=.{12,})")


def prepare(text: str) -> str:
    """normalize(), then join Chinese characters typed with spaces between them (不 想 活)."""
    return _CJK_GAP.sub("", normalize(text))


def size(norm: str) -> int:
    """How much text there is to judge: Chinese characters, plus two per Latin word."""
    return len(CJK.findall(norm)) + 2 * len(_LATIN_WORD.findall(norm))


def words(norm: str) -> list[str]:
    """Words and word pairs: rjieba's for Chinese (活着, 解脱, 累赘), letters and digits for
    English ("kill my", "my self"). The model's second set of features, beside characters."""
    ws = [w.strip("'") for w in _WORD.findall(norm)]
    if CJK.search(norm):
        ws += [w for w in rjieba.cut(norm) if CJK.match(w)]
    ws = [w for w in ws if w]
    return ws + [f"{a} {b}" for a, b in pairwise(ws)]


def clauses(norm: str, pairs: bool = True) -> list[str]:
    """The pieces of a long message worth scoring on their own (empty for a short one):
    its sentences and, with `pairs`, each two neighbouring sentences together."""
    if len(norm) < 24:
        return []
    parts = [p.strip() for p in _CLAUSE.split(norm)]
    parts = [p for p in parts if len(p) >= MIN_CLAUSE]
    if len(parts) < 2:
        return []
    if not pairs:
        return parts
    # Also pairs of neighbours: "我站在楼顶了。风好大" carries more than either half.
    return parts + [f"{a}，{b}" for a, b in pairwise(parts)]


@dataclass(frozen=True)
class Assessment:
    level: Level
    score: float          # the model's crisis margin (highest over the pieces)
    by: str               # "pattern", "model", "concern-pattern" or "" for none


class CrisisDetector:
    """`detector(text)` is True for a crisis; `detector.assess(text)` gives the level."""

    #: C of the linear SVM and the class weights; picked by 5-fold CV over the corpus.
    C = 1.0
    #: Margins above which a message is a crisis / a concern. Chosen for recall (module doc).
    CRISIS_AT = -0.25
    CONCERN_AT = -0.35
    #: What a clause of a long message must score above the whole message's bar.
    CLAUSE_PENALTY = 0.3
    #: What a message whose death words were cut out as hyperbole or quotes must add.
    QUOTED_PENALTY = 0.4
    #: What a message typed as the answer to a pending dialog question must add.
    ANSWER_PENALTY = 0.3

    def __init__(self, patterns: re2._Regexp, exclude: re2._Regexp | None,
                 concern: re2._Regexp | None, model: TopicClassifier | None):
        self.patterns = patterns
        self.exclude = exclude
        self.concern = concern
        self.model = model
        # The crisis column of the model, per feature block: token -> (idf, weight). A long
        # message is cut into clauses once; each clause's n-grams are counted once and
        # reused for the clause pairs and the whole message (see `margin`).
        self._blocks: list[tuple[Callable[[str], list[str]], dict[str, tuple[float, float]]]] = []
        self._bias = 0.0
        if model is not None:
            vocabs, idfs, coef, intercept, _classes = model.arrays()
            offset = 0
            for (analyzer, *_rest), vocab, idf in zip(model._parts, vocabs, idfs, strict=True):
                self._blocks.append((analyzer, {t: (float(idf[i]), float(coef[offset + i, CRISIS]))
                                                for t, i in vocab.items()}))
                offset += len(vocab)
            self._bias = float(intercept[CRISIS])

    # building ------------------------------------------------------------------------------
    @classmethod
    def build(cls, crisis: CrisisFile, corpus: CrisisCorpus | None = None,
              negatives: Iterable[str] = (), cache_dir: Path | None = None) -> CrisisDetector:
        """Compile the patterns and, given a corpus, train the model (a few seconds), or load
        the one trained on exactly these examples from `cache_dir`."""
        # Both languages always: a Chinese-speaking user may type English and vice versa.
        # RE2 (google-re2): one automaton for hundreds of patterns, linear in the text; the
        # standard library tried each alternative at each position (p99 20 ms on long texts).
        patterns = union(crisis.zh + crisis.en)
        exclude = union(crisis.exclude) if crisis.exclude else None
        concern = union(crisis.concern) if crisis.concern else None
        model = None
        if corpus is not None:
            examples = training_set(corpus, negatives, exclude)
            model = cached_fit(examples, cls.C, cache_dir) if cache_dir else fit(examples, cls.C)
        return cls(patterns, exclude, concern, model)

    @classmethod
    def from_knowledge(cls, k: Knowledge, cache_dir: Path | None = None) -> CrisisDetector:
        """The detector for a knowledge base: its patterns, its corpus, and as safe examples
        every other topic's questions and the off-topic questions. The crisis_support
        topic's own examples count as crisis examples."""
        corpus = k.crisis_corpus
        if corpus is not None and "crisis_support" in k.answers:
            extra = {lang: [*corpus.crisis.get(lang, []), *a.examples]
                     for lang, a in k.answers["crisis_support"].items()}
            corpus = corpus.model_copy(update={"crisis": {**corpus.crisis, **extra}})
        negatives = [x for topic, by_lang in k.answers.items() if topic != "crisis_support"
                     for a in by_lang.values() for x in a.examples]
        negatives += [q for qs in k.offtopic.values() for q in qs]
        negatives += typed_answers(k)
        return cls.build(k.crisis, corpus, negatives, cache_dir)

    # deciding ------------------------------------------------------------------------------
    def __call__(self, text: str) -> bool:
        return self.assess(text).level == "crisis"

    def assess(self, text: str, answering: bool = False) -> Assessment:
        """The level of `text`. `answering`: it was typed while a dialog question is on
        screen (a lender's name, a date, what was said), so the model needs stronger
        evidence to override the answer; the patterns do not."""
        norm = prepare(text)
        if not norm:
            return Assessment("none", 0.0, "")
        stripped = self.exclude.sub(" ", norm) if self.exclude else norm
        squeezed = _SPACES.sub("", stripped)
        if self.patterns.search(stripped) or self.patterns.search(squeezed):
            return Assessment("crisis", 1.0, "pattern")
        if size(stripped) < MIN_MODEL_SIZE:
            # Too few features to judge ("没有", "好吧", "昨天" as answers in a dialog):
            # short crisis messages (想死, kms, 不想活了) are the patterns' job.
            if self.concern and self.concern.search(squeezed):
                return Assessment("concern", 0.0, "concern-pattern")
            return Assessment("none", 0.0, "")
        crisis_margin = self.margin(stripped)
        if stripped != norm:
            # The death words were hyperbole or someone else's (cut out above): what is left
            # must carry the crisis on its own, with stronger evidence.
            crisis_margin -= self.QUOTED_PENALTY
        if answering:
            crisis_margin -= self.ANSWER_PENALTY
        if crisis_margin >= self.CRISIS_AT:
            return Assessment("crisis", crisis_margin, "model")
        if self.concern and (self.concern.search(stripped) or self.concern.search(squeezed)):
            return Assessment("concern", crisis_margin, "concern-pattern")
        if crisis_margin >= self.CONCERN_AT:  # close to the line: the gentle line, not silence
            return Assessment("concern", crisis_margin, "model")
        return Assessment("none", crisis_margin, "")

    def margin(self, norm: str) -> float:
        """The model's crisis margin: the highest over the message, its clauses and each two
        neighbouring clauses (which must clear CLAUSE_PENALTY more: fewer features)."""
        if self.model is None:
            return -9.0
        parts = clauses(norm, pairs=False)
        if not parts:
            return self._score([self._count(norm)])
        counts = [self._count(p) for p in parts]
        best = self._score([self._count(norm)])
        for i, c in enumerate(counts):
            best = max(best, self._score([c]) - self.CLAUSE_PENALTY)
            if i:
                best = max(best, self._score([counts[i - 1], c]) - self.CLAUSE_PENALTY)
        return best

    def _count(self, text: str) -> list[Counter[str]]:
        """The text's known tokens per feature block."""
        return [Counter(t for t in analyzer(text) if t in weights) for analyzer, weights in self._blocks]

    def _score(self, pieces: list[list[Counter[str]]]) -> float:
        """The SVM's crisis margin for the concatenation of `pieces` (tf-idf, sublinear tf,
        each block L2-normalised, as TfidfVectorizer does)."""
        total = self._bias
        for b, (_analyzer, weights) in enumerate(self._blocks):
            counts = pieces[0][b] if len(pieces) == 1 else sum((p[b] for p in pieces), Counter())
            dot = norm2 = 0.0
            for token, n in counts.items():
                idf, w = weights[token]
                x = (1.0 + math.log(n)) * idf
                dot += x * w
                norm2 += x * x
            if norm2:
                total += dot / math.sqrt(norm2)
        return total


@dataclass(frozen=True)
class Example:
    text: str      # prepared (see prepare)
    label: int     # CRISIS, CONCERN or SAFE
    weight: float  # hard negatives written for this model count more than topic questions


#: Weight of the corpus's own examples against the knowledge base's ordinary questions.
CORPUS_WEIGHT = 3.0


def typed_answers(k: Knowledge) -> list[str]:
    """What people type as answers in dialogs: every option label (the detector sees those too)."""
    return sorted({v for by_lang in k.ui.values() for key, v in by_lang.items() if ".opt." in key})


def union(patterns: Sequence[str]) -> re2._Regexp:
    """One case-insensitive RE2 expression matching any of `patterns` (re2.error if bad)."""
    options = re2.Options()
    options.max_mem = 64 << 20   # room for the lazily built DFA of ~200 CJK-heavy patterns
    options.never_capture = True
    options.case_sensitive = False
    return re2.compile("|".join(f"(?:{p})" for p in patterns), options)


def training_set(corpus: CrisisCorpus, negatives: Iterable[str],
                 exclude: re2._Regexp | None = None) -> list[Example]:
    """The corpus, plus `negatives` (ordinary questions) as safe examples; prepared, and with
    hyperbole and other people's words cut out as in `assess`, so that 吓死 or "told me to
    die" never teach the model that 死 or "die" alone means a crisis."""
    out: list[Example] = []

    def add(items: Iterable[str], label: int, weight: float) -> None:
        for item in items:
            norm = prepare(item)
            norm = (exclude.sub(" ", norm) if exclude else norm).strip()
            if norm:
                out.append(Example(norm, label, weight))

    for lang_items in corpus.crisis.values():
        add(lang_items, CRISIS, CORPUS_WEIGHT)
    for lang_items in corpus.concern.values():
        add(lang_items, CONCERN, CORPUS_WEIGHT)
    for group in corpus.safe.values():
        for lang_items in group.values():
            add(lang_items, SAFE, CORPUS_WEIGHT)
    add(negatives, SAFE, 1.0)
    return out


def fit(examples: Sequence[Example], c: float) -> TopicClassifier:
    """Train in two rounds, so the model learns what a crisis *sentence* looks like rather
    than what a long story about debt looks like (a buried crisis story and a safe story
    share almost every sentence):

    1. on every short example, and on each sentence of the long safe examples as safe;
    2. again, adding for each long crisis example its sentence that round 1 scores highest
       (the one that carries the crisis) as a crisis example.

    One linear SVM, crisis against everything else (distress without a word about dying is
    "everything else" here; the concern tier is the patterns' and the margin's business).
    """
    base: list[Example] = []
    long_crisis: list[Example] = []
    for ex in examples:
        parts = clauses(ex.text, pairs=False)
        label = CRISIS if ex.label == CRISIS else SAFE
        if not parts:
            base.append(Example(ex.text, label, ex.weight))
        elif label == CRISIS:
            long_crisis.append(ex)
        else:
            base.append(Example(ex.text, label, ex.weight))
            base.extend(Example(p, label, ex.weight / 2) for p in parts)
    first = _fit(base, c)
    picked = [Example(max(clauses(ex.text, pairs=False), key=lambda p: float(first.margins(p)[CRISIS])),
                      CRISIS, ex.weight) for ex in long_crisis]
    return _fit(base + picked, c)


#: Bump when the features or the training change in a way the examples do not show.
MODEL_VERSION = 1


def cached_fit(examples: Sequence[Example], c: float, cache_dir: Path) -> TopicClassifier:
    """fit(), or the model fitted on exactly these examples and settings, stored as plain
    arrays (vocabularies, idf, weights: an .npz without pickles) under `cache_dir`."""
    key = hashlib.sha256(json.dumps([MODEL_VERSION, c, NGRAMS, MIN_CLAUSE, CORPUS_WEIGHT,
                                     [(e.text, e.label, e.weight) for e in examples]],
                                    ensure_ascii=False).encode()).hexdigest()[:20]
    path = cache_dir / f"crisis-model-{key}.npz"
    try:
        with np.load(path, allow_pickle=False) as z:
            vocabs = [json.loads(str(z["vocab0"])), json.loads(str(z["vocab1"]))]
            return TopicClassifier.from_arrays(_analyzers(), vocabs, [z["idf0"], z["idf1"]], z["coef"],
                                               z["intercept"], list(z["classes"]), 3)
    except (OSError, KeyError, ValueError):
        pass  # not there yet, or unreadable: train
    model = fit(examples, c)
    vocabs, idfs, coef, intercept, classes = model.arrays()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez_compressed(tmp, vocab0=json.dumps(vocabs[0], ensure_ascii=False),
                            vocab1=json.dumps(vocabs[1], ensure_ascii=False), idf0=idfs[0], idf1=idfs[1],
                            coef=coef, intercept=intercept, classes=np.asarray(classes))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only data directory: train again next start
    return model


def _analyzers() -> list[Callable[[str], list[str]]]:
    return [TfidfVectorizer(analyzer="char_wb", ngram_range=NGRAMS, lowercase=False).build_analyzer(), words]


def _fit(examples: Sequence[Example], c: float) -> TopicClassifier:
    char, word = _analyzers()
    vec = make_union(TfidfVectorizer(analyzer=char, sublinear_tf=True, lowercase=False),
                     TfidfVectorizer(analyzer=word, sublinear_tf=True, lowercase=False))
    x = vec.fit_transform([e.text for e in examples])
    svm = LinearSVC(C=c, class_weight="balanced", random_state=0)
    svm.fit(x, [e.label for e in examples], sample_weight=[e.weight for e in examples])
    return TopicClassifier(vec, svm, 3)
