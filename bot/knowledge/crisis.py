"""The crisis detector: runs on every message, before anything else, in any language.

A pattern list alone missed a third of the ordinary ways people say they want to die
(真想一睡不醒, 我攒了一瓶安眠药, "no one would miss me", "kms"). So the decision has two
parts, and either one is enough:

1. **High-precision patterns** (content/crisis.yaml): phrases that mean suicide or self-harm
   whatever surrounds them. Hyperbole and other people's words (吓死我了, 叫我去死,
   "told me to kill myself") are cut out of the text first (`exclude`), unless the person
   takes them up ("...and honestly it sounds like a plan": `agree`). Despair words (绝望,
   "hopeless": `soft`) are a crisis standing alone; in a long story, where they are as often
   about the money, they leave the decision to the model and give the gentle line at least.
2. **A linear model** (a linear SVM) over character n-grams (robust to typos, spaces and
   traditional characters) and words, trained on content/crisis_corpus.yaml (crisis against
   everything else; distress counts as else) plus every ordinary question of the knowledge
   base and content/offtopic.yaml as safe examples. A message is scored whole, sentence by
   sentence and two neighbouring sentences at a time (a sentence typed without any
   punctuation is cut into chunks), and the highest score counts, so one sentence buried in
   a long story about the debt is not drowned by the rest. All those scores come from one
   pass over the message's tokens, in numpy (`margins`).

The thresholds are set for recall, per language: a false alarm costs one kind message, a
miss can cost a life. They were chosen by 5-fold cross-validation over the training corpus
(see bench/crisis.py) and compared on a development set written apart
(tests/eval/crisis_dev.yaml); the held-out set in tests/eval/crisis.yaml, written apart,
only measures.

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
from typing import TYPE_CHECKING, ClassVar, Literal

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
#: A sentence longer than twice this is cut into chunks of about this many Chinese
#: characters or Latin words (see `sentences`).
CHUNK_CJK = 20
CHUNK_WORDS = 12
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


def sentences(norm: str) -> list[str]:
    """The sentences of a text, a sentence without punctuation cut into chunks of about
    CHUNK_CJK characters or CHUNK_WORDS words (a long story typed on a phone often has no
    full stop at all; a chunk and each two neighbouring chunks are scored, see `margin`)."""
    out: list[str] = []
    for part in _CLAUSE.split(norm):
        part = part.strip()
        if not part:
            continue
        if CJK.search(part):
            if len(part) <= 2 * CHUNK_CJK:
                out.append(part)
            else:
                n = -(-len(part) // CHUNK_CJK)
                step = -(-len(part) // n)
                out += [part[i:i + step] for i in range(0, len(part), step)]
        else:
            ws = part.split()
            if len(ws) <= 2 * CHUNK_WORDS:
                out.append(part)
            else:
                n = -(-len(ws) // CHUNK_WORDS)
                step = -(-len(ws) // n)
                out += [" ".join(ws[i:i + step]) for i in range(0, len(ws), step)]
    return out


def clauses(norm: str, pairs: bool = True) -> list[str]:
    """The pieces of a long message worth scoring on their own (empty for a short one):
    its sentences (see `sentences`) and, with `pairs`, each two neighbouring ones together."""
    if len(norm) < 24:
        return []
    parts = [p for p in sentences(norm) if len(p) >= MIN_CLAUSE]
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
    by: str               # "pattern", "soft-pattern", "model", "concern-pattern" or "" for none


class CrisisDetector:
    """`detector(text)` is True for a crisis; `detector.assess(text)` gives the level."""

    #: C of the linear SVM and the class weights; picked by 5-fold CV over the corpus.
    C = 1.0
    #: Margins above which a message is a crisis / a concern, by language (Chinese when it
    #: has Chinese characters): chosen for recall by 5-fold CV (module doc), aiming at the
    #: same out-of-fold recall for both languages' corpus examples.
    CRISIS_AT: ClassVar[dict[str, float]] = {"zh": -0.35, "en": -0.53}
    CONCERN_AT: ClassVar[dict[str, float]] = {"zh": -0.45, "en": -0.63}
    #: What a sentence of a long message, and two neighbouring sentences, must score above
    #: the whole message's bar (fewer features: noisier margins).
    CLAUSE_PENALTY = 0.4
    PAIR_PENALTY = 0.7
    #: What a message whose death words were cut out as hyperbole or quotes must add.
    QUOTED_PENALTY = 0.4
    #: What a message typed as the answer to a pending dialog question must add (a lender's
    #: name, a date, what was said: short, and not about the person; the bar for answers
    #: stays near where it was before the thresholds were lowered for recall).
    ANSWER_PENALTY = 0.5

    def __init__(self, patterns: re2._Regexp, exclude: re2._Regexp | None,
                 concern: re2._Regexp | None, model: TopicClassifier | None,
                 soft: re2._Regexp | None = None, agree: re2._Regexp | None = None):
        self.patterns = patterns
        self.exclude = exclude
        self.concern = concern
        self.soft = soft
        self.agree = agree
        self.model = model
        # The crisis column of the model: per feature block its analyzer and vocabulary
        # (token -> index in the whole feature space), and over the whole space the idf and
        # the weights, as numpy arrays (long messages) and as lists (one short message: plain
        # Python is quicker than numpy's per-call cost there). See `margins`.
        self._blocks: list[tuple[Callable[[str], list[str]], dict[str, int]]] = []
        self._idf = self._weights = np.zeros(0)
        self._idf_list: list[float] = []
        self._weights_list: list[float] = []
        self._bias = 0.0
        if model is not None:
            vocabs, idfs, coef, intercept, _classes = model.arrays()
            offset = 0
            for (analyzer, *_rest), vocab in zip(model._parts, vocabs, strict=True):
                self._blocks.append((analyzer, {t: offset + i for t, i in vocab.items()}))
                offset += len(vocab)
            self._idf = np.concatenate([np.asarray(i, dtype=np.float64) for i in idfs])
            self._weights = np.ascontiguousarray(coef[:, CRISIS], dtype=np.float64)
            self._idf_list, self._weights_list = self._idf.tolist(), self._weights.tolist()
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
        soft = union(crisis.soft) if crisis.soft else None
        agree = union(crisis.agree) if crisis.agree else None
        model = None
        if corpus is not None:
            examples = training_set(corpus, negatives, exclude)
            model = cached_fit(examples, cls.C, cache_dir) if cache_dir else fit(examples, cls.C)
        return cls(patterns, exclude, concern, model, soft, agree)

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
        if (self.patterns.search(stripped) or self.patterns.search(squeezed)
                or (self.agree and stripped != norm and self.agree.search(norm))):
            return Assessment("crisis", 1.0, "pattern")
        # Despair words (绝望, "hopeless"): a crisis standing alone; in a long story, where
        # they are as often about the money, the model decides (and the gentle line at least).
        soft = bool(self.soft and (self.soft.search(stripped) or self.soft.search(squeezed)))
        if soft and not clauses(stripped, pairs=False):
            return Assessment("crisis", 1.0, "soft-pattern")
        if size(stripped) < MIN_MODEL_SIZE or stripped.startswith("/"):
            # Too few features to judge ("没有", "好吧", "昨天" as answers in a dialog), or a
            # command's arguments (/tz Europe/Berlin, /remind 2h drink water), not free text:
            # short crisis messages (想死, kms, 不想活了) are the patterns' job.
            if soft or (self.concern and self.concern.search(squeezed)):
                return Assessment("concern", 0.0, "concern-pattern")
            return Assessment("none", 0.0, "")
        crisis_margin = self.margin(stripped)
        if stripped != norm:
            # The death words were hyperbole or someone else's (cut out above): what is left
            # must carry the crisis on its own, with stronger evidence.
            crisis_margin -= self.QUOTED_PENALTY
        if answering:
            crisis_margin -= self.ANSWER_PENALTY
        lang = "zh" if CJK.search(stripped) else "en"
        if crisis_margin >= self.CRISIS_AT[lang]:
            return Assessment("crisis", crisis_margin, "model")
        if soft or (self.concern and (self.concern.search(stripped) or self.concern.search(squeezed))):
            return Assessment("concern", crisis_margin, "concern-pattern")
        if crisis_margin >= self.CONCERN_AT[lang]:  # close to the line: the gentle line, not silence
            return Assessment("concern", crisis_margin, "model")
        return Assessment("none", crisis_margin, "")

    def margin(self, norm: str) -> float:
        """The model's crisis margin: the highest over the message, its sentences and each two
        neighbouring sentences (which must clear CLAUSE_PENALTY or PAIR_PENALTY more)."""
        if self.model is None:
            return -9.0
        whole, sentence, pair = self.margins(norm)
        return max(whole, sentence - self.CLAUSE_PENALTY, pair - self.PAIR_PENALTY)

    def margins(self, norm: str) -> tuple[float, float, float]:
        """The SVM's crisis margin for the whole message, for its best sentence and for its
        best two neighbouring sentences (-9.0 for a message too short to have sentences).

        One pass: each sentence is analysed once, its known tokens looked up once, and the
        tf-idf vectors of the sentences, the pairs and the whole (sublinear tf, each feature
        block L2-normalised, as TfidfVectorizer does) are grouped sums over those tokens, in
        numpy. The whole of a long message is the sum of its sentences (n-grams across a full
        stop are not counted)."""
        pieces = sentences(norm) if len(norm) >= 24 else []
        scored = [i for i, p in enumerate(pieces) if len(p) >= MIN_CLAUSE]
        if len(scored) < 2:
            return self._whole(norm), -9.0, -9.0
        ids: list[int] = []
        owner: list[int] = []
        block: list[int] = []
        for b, (analyzer, vocab) in enumerate(self._blocks):
            for i, piece in enumerate(pieces):
                found = [j for j in map(vocab.get, analyzer(piece)) if j is not None]
                ids += found
                owner += [i] * len(found)
                block += [b] * len(found)
        if not ids:
            return self._bias, self._bias, self._bias
        nb, k = len(self._blocks), len(scored)
        tokens, blocks = np.asarray(ids), np.asarray(block)
        rank = np.full(len(pieces), -1)
        rank[scored] = np.arange(k)
        r = rank[np.asarray(owner)]
        whole = self._bias + float(self._score(tokens, blocks, 1, nb)[0])
        keep = r >= 0
        t, b_, r = tokens[keep], blocks[keep], r[keep]
        singles = self._score(t, r * nb + b_, k, nb)
        first, second = r < k - 1, r > 0
        pairs = self._score(np.concatenate([t[first], t[second]]),
                            np.concatenate([r[first] * nb + b_[first], (r[second] - 1) * nb + b_[second]]), k - 1, nb)
        return whole, self._bias + float(singles.max()), self._bias + float(pairs.max())

    def _whole(self, norm: str) -> float:
        """The margin of one short text, in plain Python."""
        total = self._bias
        for analyzer, vocab in self._blocks:
            counts = Counter([j for j in map(vocab.get, analyzer(norm)) if j is not None])
            dot = norm2 = 0.0
            for j, c in counts.items():
                x = (1.0 + math.log(c)) * self._idf_list[j]
                dot += x * self._weights_list[j]
                norm2 += x * x
            if norm2:
                total += dot / math.sqrt(norm2)
        return total

    def _score(self, tokens: np.ndarray, cells: np.ndarray, n: int, nb: int) -> np.ndarray:
        """The margin (less the bias) of `n` groups of tokens, given each occurrence's cell
        (group * nb + feature block): tf-idf with sublinear tf, L2-normalised per cell."""
        size = len(self._idf)
        keys, counts = np.unique(cells * size + tokens, return_counts=True)
        c, t = np.divmod(keys, size)
        x = (1.0 + np.log(counts)) * self._idf[t]
        dot = np.bincount(c, x * self._weights[t], minlength=n * nb)
        norm = np.sqrt(np.bincount(c, x * x, minlength=n * nb))
        return np.divide(dot, norm, out=np.zeros(n * nb), where=norm > 0).reshape(n, nb).sum(axis=1)


@dataclass(frozen=True)
class Example:
    text: str      # prepared (see prepare)
    label: int     # CRISIS, CONCERN or SAFE
    weight: float  # hard negatives written for this model count more than topic questions


#: Weight of the corpus's own examples, and of the knowledge base's ordinary questions (at
#: 1.0 a few short ones, "do i have to go to the hearing", stayed above the crisis bar).
CORPUS_WEIGHT = 3.0
QUESTION_WEIGHT = 3.0


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
    add(negatives, SAFE, QUESTION_WEIGHT)
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
MODEL_VERSION = 2


def cached_fit(examples: Sequence[Example], c: float, cache_dir: Path) -> TopicClassifier:
    """fit(), or the model fitted on exactly these examples and settings, stored as plain
    arrays (vocabularies, idf, weights: an .npz without pickles) under `cache_dir`."""
    key = hashlib.sha256(json.dumps([MODEL_VERSION, c, NGRAMS, MIN_CLAUSE, CHUNK_CJK, CHUNK_WORDS,
                                     CORPUS_WEIGHT, QUESTION_WEIGHT,
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
