"""A discriminative second opinion for the topic matcher: a linear SVM over character n-grams.

The lexical matcher (matcher.py) scores a question by how much it *resembles* each topic's
examples; words shared by many topics blur that. A linear classifier trained on the same
examples learns instead which features *separate* the topics: "delete" with "app" is
app_privacy, "delete" with "bot" or "you" is bot_privacy; "stab" only ever occurs in threats.
Blended in as one more signal it lifted top-1 accuracy in 5-fold cross-validation over the
content examples by 1.5 (zh) and 2.5 (en) points. Trained with one more class, the
questions of content/offtopic.yaml, its probability for that class also tells the matcher
when a question is not ours (weather, unpaid wages, divorce): rejection of the off-topic
development list went from 85% to 95% (see bench/matcher.py and the README).

scikit-learn does the work: two TfidfVectorizers (sublinear tf) side by side, one over
character n-grams within words (1-4) -- robust to typos, to Chinese without spaces and to
inflection -- and one over the lexical matcher's own word features (rjieba words with the
collection slang, English stems, thesaurus groups, Chinese bigrams), so the classifier
knows that 老板 and 领导, or cop and police, are one thing; then LinearSVC (liblinear), which
trains on the ~2,800 examples in well under a second, so it is simply fitted at start-up
rather than stored (no pickles to load, nothing to go stale when the content changes).
Text goes through normalize() on both sides, so traditional characters and full-width
letters need no examples of their own.

Prediction does not go through `transform`: sklearn's per-call overhead (input validation,
building sparse matrices for one row) cost ~1.5 ms a question, seven times the whole lexical
matcher. The fitted model is flattened once into the vectorizers' own analyzers, their
vocabularies and idf weights, and the SVM's weight columns, and a question's margins are
one small dot product (~0.1 ms). tests/test_classifier.py checks that this gives the same
margins as sklearn's own `decision_function`.

The classifier never decides alone: the matcher blends its probabilities with the lexical
evidence (Matcher._blend, Matcher._decide).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, make_union
from sklearn.svm import LinearSVC


class TopicClassifier:
    """Topic probabilities for a normalized question, from a linear SVM's margins."""

    #: n-gram range of the character features (within word boundaries).
    NGRAMS = (1, 4)
    #: SVM regularisation. These three constants were picked by 5-fold cross-validation over
    #: the content examples (C 0.3/1, n-grams 1-3/1-4/2-5, temperature 0.1-0.4: within
    #: half a point of each other).
    C = 1.0
    #: softmax temperature that turns margins (roughly -1..1) into probabilities.
    TEMPERATURE = 0.2

    def __init__(self, vectorizer: FeatureUnion, svm: LinearSVC, n_topics: int):
        self.vectorizer = vectorizer
        self.svm = svm
        self._n = n_topics
        # The fast path (module docstring): per vectorizer its analyzer, vocabulary, idf and
        # the column offset of its block in the union; the SVM's weights and intercepts.
        self._parts: list[tuple[Callable[[str], list[str]], dict[str, int], np.ndarray, int]] = []
        offset = 0
        for _name, vec in vectorizer.transformer_list:
            self._parts.append((vec.build_analyzer(), vec.vocabulary_, vec.idf_, offset))
            offset += len(vec.vocabulary_)
        coef = svm.coef_
        intercept = svm.intercept_
        if coef.shape[0] == 1:  # liblinear keeps one row for two classes
            coef = np.vstack([-coef[0], coef[0]])
            intercept = np.array([-intercept[0], intercept[0]])
        self._coef = np.ascontiguousarray(coef.T)  # feature -> margins of every class
        self._intercept = intercept
        self._classes = [int(c) for c in svm.classes_]

    @classmethod
    def from_arrays(cls, analyzers: Sequence[Callable[[str], list[str]]], vocabularies: Sequence[dict[str, int]],
                    idfs: Sequence[np.ndarray], coef: np.ndarray, intercept: np.ndarray,
                    classes: Sequence[int], n_topics: int) -> TopicClassifier:
        """The fast path alone, from what `arrays()` gave (a model cached on disk as plain
        arrays, never a pickle); `vectorizer` and `svm` are then None."""
        self = cls.__new__(cls)
        self.vectorizer = self.svm = None
        self._n = n_topics
        self._parts = []
        offset = 0
        for analyzer, vocab, idf in zip(analyzers, vocabularies, idfs, strict=True):
            self._parts.append((analyzer, vocab, idf, offset))
            offset += len(vocab)
        self._coef, self._intercept, self._classes = coef, intercept, [int(c) for c in classes]
        return self

    def arrays(self) -> tuple[list[dict[str, int]], list[np.ndarray], np.ndarray, np.ndarray, list[int]]:
        """(vocabularies, idfs, coef, intercept, classes): everything but the analyzers."""
        return ([v for _a, v, _i, _o in self._parts], [i for _a, _v, i, _o in self._parts],
                self._coef, self._intercept, self._classes)

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[int], n_topics: int,
            words: Callable[[str], list[str]]) -> TopicClassifier:
        """Train on normalized texts labelled with topic indexes 0..n_topics-1.

        `words` maps a normalized text to its word-level features (the lexical matcher's).
        """
        if len(set(labels)) < 2:
            raise ValueError("the classifier needs examples of at least two topics")
        vec = make_union(
            TfidfVectorizer(analyzer="char_wb", ngram_range=cls.NGRAMS, sublinear_tf=True,
                            lowercase=False),
            TfidfVectorizer(analyzer=words, sublinear_tf=True, lowercase=False))
        x = vec.fit_transform(texts)
        svm = LinearSVC(C=cls.C, random_state=0).fit(x, list(labels))
        return cls(vec, svm, n_topics)

    def margins(self, norm: str) -> np.ndarray:
        """The SVM's margin for every class (ordered like `svm.classes_`)."""
        cols: list[int] = []
        vals: list[float] = []
        for analyzer, vocab, idf, offset in self._parts:
            counts = Counter(i for tok in analyzer(norm) if (i := vocab.get(tok)) is not None)
            if not counts:
                continue
            weights = [(1.0 + math.log(c)) * idf[i] for i, c in counts.items()]
            norm2 = math.sqrt(sum(w * w for w in weights))
            cols.extend(offset + i for i in counts)
            vals.extend(w / norm2 for w in weights)
        if not cols:
            return self._intercept.copy()
        return np.asarray(vals) @ self._coef[cols] + self._intercept

    def probabilities(self, norm: str) -> list[float]:
        """P(topic | question) for every topic index (0.0 for topics without examples)."""
        margins = self.margins(norm)
        top = float(margins.max())
        exps = [math.exp((float(m) - top) / self.TEMPERATURE) for m in margins]
        total = sum(exps)
        out = [0.0] * self._n
        for cls_index, e in zip(self._classes, exps, strict=True):
            out[cls_index] = e / total
        return out
