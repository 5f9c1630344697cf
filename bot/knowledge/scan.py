"""The message scanner: what a collector's message shows (shared/spec/message-findings.yaml).

A borrower pastes or forwards an SMS, a WeChat message or a call transcript; `Scanner.scan`
returns the finding ids it shows (threats, insults, public_shaming, third_parties, visits,
impersonation, fake_documents, false_consequences, personal_account), in the order of
content/scan.yaml (which is the spec's), and [] for a lawful reminder.

Two halves, either one enough for a finding, as in the crisis detector:

1. **High-precision patterns** per finding (content/scan.yaml, RE2), matched on normalised
   text (simplified characters, full-width folded, lower case, spaces between Chinese
   characters removed: 爆 通 讯 录 is 爆通讯录). Lawful boilerplate that shares words with a
   finding ("请勿向个人账户转账", "we never ask you to pay into a personal account") is cut
   out first (`exclude`), for the patterns and the model alike, in training too.
2. **A multi-label linear model**: one logistic regression per finding (one-vs-rest), over
   one TF-IDF space of Chinese character n-grams (1-3), Latin character n-grams within
   words (3-5), words (rjieba for Chinese) and word pairs; digits fold to one symbol and
   links to one token. Trained on content/scan_corpus.yaml (collector messages written for
   it, each with its findings, lawful ones with none) plus, for each message, a longer one
   made of it and a lawful message (`composites`), so that one unlawful line among polite
   ones still counts. A message is scored whole and sentence by sentence (`sentences`; a
   sentence must clear a higher bar). A finding is reported when its probability reaches
   its threshold (per finding and language, chosen by cross-validation over the corpus:
   bench/scan.py --cv-only).

The model is trained once and kept as plain arrays (vocabulary, idf, weights: an .npz, no
pickle) in BOT_CACHE_DIR, keyed by a hash of everything it was trained on; a later start
loads it without importing scikit-learn. Prediction is a dot product over the message's
features (`LinearModel.margins`), well under a millisecond.

The readable answer (`ScanTexts.render`) takes its words from content/<lang>/ui/scan.yaml
and the rules from content/scan.yaml with content/facts.yaml (name, articles, whom each
binds); `check` validates all of it for `python -m bot check`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import random
import re
import string
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ClassVar

import numpy as np
import re2
import rjieba
from pydantic import BaseModel, ConfigDict, Field, RootModel

from bot import locale
from bot.contentfiles import ContentError, Problem, read_yaml, validate
from bot.knowledge.models import Facts
from bot.knowledge.normalize import CJK, normalize

if TYPE_CHECKING:
    from bot.knowledge.loader import Knowledge

#: The ids of shared/spec/message-findings.yaml, in its order. Content may add ids after
#: them; it must not rename or drop these (`check`).
SPEC_FINDINGS = ("threats", "insults", "public_shaming", "third_parties", "visits", "impersonation",
                 "fake_documents", "false_consequences", "personal_account")
CONFIG_FILE = "scan.yaml"
CORPUS_FILE = "scan_corpus.yaml"
#: The police law was renumbered in 2026: always "new Art. 50" (legal-facts.md s. 2).
RENUMBERED = frozenset({"police_law"})

Text = Annotated[str, Field(min_length=1)]


# --- content ------------------------------------------------------------------------------

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(_Strict):
    """An instrument of content/facts.yaml, with articles only where legal-facts.md has them."""

    instrument: str
    articles: list[str] = []


class FindingConfig(_Strict):
    rules: list[Rule] = Field(min_length=1)
    patterns: list[str] = []


class ScanConfig(_Strict):
    """content/scan.yaml: per finding (in the spec's order) its rules and its patterns; and
    the lawful phrases cut out before anything is matched."""

    findings: dict[str, FindingConfig]
    exclude: list[str] = []


class Example(_Strict):
    """One training message: `t` the text as the borrower would paste it, `f` its findings
    ([] for a lawful message)."""

    f: list[str] = []
    t: Text


class ScanCorpus(RootModel[dict[str, list[Example]]]):
    """content/scan_corpus.yaml: language -> training messages."""


@dataclass(frozen=True)
class Labelled:
    text: str
    findings: frozenset[str]
    lang: str


def examples(corpus: ScanCorpus) -> list[Labelled]:
    return [Labelled(e.t, frozenset(e.f), lang) for lang, items in corpus.root.items() for e in items]


def load_config(root: Path) -> ScanConfig:
    return validate(ScanConfig, read_yaml(root / CONFIG_FILE, root), root)


def load_corpus(root: Path) -> ScanCorpus | None:
    path = root / CORPUS_FILE
    return validate(ScanCorpus, read_yaml(path, root), root) if path.exists() else None


# --- text ---------------------------------------------------------------------------------

_CJK_GAP = re.compile(r"(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])")
_SPACES = re.compile(r"\s+")
_URL = re.compile(r"(?:https?://|www\.)[^\s\u3000-\u303f\uff00-\uffef\u4e00-\u9fff]*"
                  r"|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:cn|com|net|top|xyz|vip|cc|info|org|icu|shop|me|ly)\b"
                  r"(?:/[^\s\u3000-\u303f\uff00-\uffef\u4e00-\u9fff]*)?")
_NUM = re.compile(r"\d+(?:[.,:/-]\d+)*")
_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff0]+|[a-z]+(?:'[a-z]+)*")
_CJK_CHAR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def prepare(text: str) -> str:
    """normalize() (simplified characters, full-width folded, lower case), then Chinese
    characters typed with spaces between them joined (上 门 -> 上门)."""
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates from JSON become "?"
    return _CJK_GAP.sub("", normalize(text))


_SENTENCE = re.compile(r"[。!?;\n…]+|\.(?:\s|$)|\s*[,，]\s*(?=.{16,})")
#: Sentences shorter than this (Chinese characters, or two per Latin word) are not scored alone.
MIN_SENTENCE = 6


def sentences(norm: str) -> list[str]:
    """The sentences of a prepared text worth scoring on their own."""
    out = []
    for part in _SENTENCE.split(norm):
        part = part.strip()
        if len(CJK.findall(part)) + 2 * len(part.split()) * (not CJK.search(part)) >= MIN_SENTENCE:
            out.append(part)
    return out


def text_lang(norm: str) -> str:
    """The script a message is written in, for the thresholds: zh with Chinese characters."""
    return "zh" if CJK.search(norm) else "en"


#: Feature settings (part of the cache key).
CJK_NGRAMS = (1, 3)
LATIN_NGRAMS = (3, 5)


def features(norm: str) -> list[str]:
    """The model's tokens for a prepared text: a link becomes one token, every number one
    symbol ("0"); then Chinese character n-grams, Latin character n-grams within words,
    words (rjieba for Chinese) and neighbouring word pairs."""
    out: list[str] = []
    if _URL.search(norm):
        out.append("u:url")
        norm = _URL.sub(" ", norm)
    norm = _NUM.sub("0", norm)
    words: list[str] = []
    lo, hi = CJK_NGRAMS
    llo, lhi = LATIN_NGRAMS
    for m in _RUN.finditer(norm):
        run = m.group(0)
        if run[0].isascii() and run[0] != "0":
            padded = f" {run} "
            for n in range(llo, lhi + 1):
                out += [padded[i:i + n] for i in range(len(padded) - n + 1)]
            words.append(run)
            continue
        for n in range(lo, hi + 1):
            out += [run[i:i + n] for i in range(len(run) - n + 1)]
        if _CJK_CHAR.search(run):
            words += [w for w in rjieba.cut(run) if w.strip()]
        else:
            words.append(run)
    out += ["w:" + w for w in words]
    out += [f"b:{a} {b}" for a, b in pairwise(words)]
    return out


# --- the model ----------------------------------------------------------------------------

class LinearModel:
    """One linear scorer per finding over one TF-IDF feature space (sublinear tf, l2 norm),
    as plain arrays: `margins(norm)` needs neither scikit-learn nor a sparse matrix."""

    def __init__(self, vocab: dict[str, int], idf: np.ndarray, coef: np.ndarray, intercept: np.ndarray,
                 labels: Sequence[str]):
        self.vocab = vocab
        self.idf = idf.tolist()
        self.coef = np.ascontiguousarray(coef, dtype=np.float64)   # features x labels
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.labels = list(labels)

    def margins(self, norm: str) -> np.ndarray:
        vocab, idf = self.vocab, self.idf
        counts = Counter(i for tok in features(norm) if (i := vocab.get(tok)) is not None)
        if not counts:
            return self.intercept.copy()
        cols = list(counts)
        weights = [(1.0 + math.log(c)) * idf[i] for i, c in counts.items()]
        norm2 = math.sqrt(sum(w * w for w in weights))
        return (np.asarray(weights) / norm2) @ self.coef[cols] + self.intercept

    def probabilities(self, norm: str) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.margins(norm)))

    # storing: plain arrays, no pickle -----------------------------------------------------
    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez_compressed(tmp, vocab=json.dumps(self.vocab, ensure_ascii=False), idf=np.asarray(self.idf),
                            coef=self.coef, intercept=self.intercept, labels=json.dumps(self.labels))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        with np.load(path, allow_pickle=False) as z:
            return cls(json.loads(str(z["vocab"])), z["idf"], z["coef"], z["intercept"],
                       json.loads(str(z["labels"])))


def composites(texts: Sequence[str], labels: Sequence[frozenset[str]], n: int,
               seed: int = 0) -> tuple[list[str], list[frozenset[str]]]:
    """The examples plus, for each, `n` longer messages made of it and a lawful example of the
    same language (before or after it), with its findings: a collector's SMS is often a
    polite reminder with one unlawful line, and the model must not let the polite part
    drown that line, nor learn that a long message is a lawful one."""
    rnd = random.Random(seed)
    pool: dict[str, list[str]] = {}
    for t, ls in zip(texts, labels, strict=True):
        if not ls:
            pool.setdefault(text_lang(t), []).append(t)
    out_t, out_l = list(texts), list(labels)
    for t, ls in zip(texts, labels, strict=True):
        lawful = pool.get(text_lang(t), [])
        for _ in range(n if len(lawful) > 1 else 0):
            other = rnd.choice(lawful)
            while other == t:
                other = rnd.choice(lawful)
            out_t.append(f"{other} {t}" if rnd.random() < 0.5 else f"{t} {other}")
            out_l.append(ls)
    return out_t, out_l


def fit(texts: Sequence[str], labels: Sequence[frozenset[str]], findings: Sequence[str],
        c: float, positive_weight: float = 1.0, n_composites: int = 0) -> LinearModel:
    """Train on prepared texts (and `composites` of them): one logistic regression per
    finding, its examples weighted `positive_weight` against the rest."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    texts, labels = composites(texts, labels, n_composites)
    vec = TfidfVectorizer(analyzer=features, sublinear_tf=True, lowercase=False)
    x = vec.fit_transform(texts)
    coef = np.zeros((x.shape[1], len(findings)))
    intercept = np.zeros(len(findings))
    for j, f in enumerate(findings):
        y = np.array([f in ls for ls in labels], dtype=int)
        if y.min() == y.max():  # no example (or only examples) of it: never from the model
            intercept[j] = -20.0 if y.max() == 0 else 20.0
            continue
        lr = LogisticRegression(C=c, class_weight={0: 1.0, 1: positive_weight}, solver="liblinear",
                                max_iter=1000)
        lr.fit(x, y)
        coef[:, j] = lr.coef_[0]
        intercept[j] = lr.intercept_[0]
    vocab = {t: int(i) for t, i in vec.vocabulary_.items()}
    return LinearModel(vocab, vec.idf_, coef, intercept, findings)


#: Bump when the features or the training change in a way the examples do not show.
MODEL_VERSION = 1


def train(rows: Sequence[Labelled], findings: Sequence[str], exclude: re2._Regexp | None, c: float,
          positive_weight: float = 1.0, n_composites: int = 0) -> LinearModel:
    """fit() on corpus rows, prepared and with the lawful boilerplate cut out as in `scan`."""
    texts = [strip(prepare(r.text), exclude) for r in rows]
    return fit(texts, [r.findings for r in rows], findings, c, positive_weight, n_composites)


def cached_train(rows: Sequence[Labelled], findings: Sequence[str], exclude_patterns: Sequence[str],
                 c: float, positive_weight: float, n_composites: int, cache_dir: Path | None) -> LinearModel:
    """train(), or the model trained on exactly these rows, exclusions and settings, stored as
    plain arrays under `cache_dir` (keyed by their hash: the texts as written, so a start
    that finds the model does not even prepare them)."""
    exclude = union(exclude_patterns) if exclude_patterns else None
    if cache_dir is None:
        return train(rows, findings, exclude, c, positive_weight, n_composites)
    key = hashlib.sha256(json.dumps([MODEL_VERSION, c, positive_weight, n_composites, CJK_NGRAMS, LATIN_NGRAMS,
                                     list(findings), list(exclude_patterns),
                                     [(r.text, sorted(r.findings)) for r in rows]],
                                    ensure_ascii=False).encode()).hexdigest()[:20]
    path = cache_dir / f"scan-model-{key}.npz"
    try:
        return LinearModel.load(path)
    except (OSError, KeyError, ValueError):
        pass  # not there yet, or unreadable: train
    model = train(rows, findings, exclude, c, positive_weight, n_composites)
    with contextlib.suppress(OSError):  # a read-only data directory: train again next start
        model.save(path)
    return model


# --- the scanner --------------------------------------------------------------------------

def union(patterns: Sequence[str]) -> re2._Regexp:
    """One case-insensitive RE2 expression matching any of `patterns` (re2.error if bad)."""
    options = re2.Options()
    options.max_mem = 32 << 20
    options.never_capture = True
    options.case_sensitive = False
    return re2.compile("|".join(f"(?:{p})" for p in patterns), options)


@dataclass(frozen=True)
class Hit:
    finding: str
    by: str                # "pattern" or "model"
    score: float           # the model's probability
    quote: str = ""        # what the pattern matched (normalised text), "" for the model


class Scanner:
    """`scanner.scan(text)` -> finding ids; `scanner.explain(text)` -> how each was found."""

    #: The settings below were compared by cross-validation over the corpus (bench/scan.py
    #: --cv-only: 3 shuffles of 5 folds; and --blocked: 5 folds of contiguous blocks, each
    #: block a batch written in its own style, closer to messages written by someone else).
    #: Regularisation of the logistic regressions: C=2 flags fewer lawful messages of an
    #: unseen style than C=16 for the same recall (blocked CV: 3.5% against 5.1%).
    C = 2.0
    #: Weight of a finding's examples against the rest in its regression.
    POSITIVE_WEIGHT = 2.0
    #: Composite messages per example in training (`composites`).
    COMPOSITES = 1
    #: What a sentence's margin must clear above the whole message's.
    SENTENCE_PENALTY = 1.5
    #: Probability at which the model alone reports a finding, per finding and language (the
    #: text's script): for each, the threshold (0.35-0.75) with the best F1 less the share of
    #: lawful messages flagged, among those with precision and recall >= 0.9 that flag at most
    #: 1% of the lawful ones (`bench/scan.py --choose`); the mean of the shuffled and the
    #: blocked choice, to the nearest 0.05.
    DEFAULT_THRESHOLD = 0.5
    THRESHOLDS: ClassVar[dict[str, dict[str, float]]] = {
        "threats": {"zh": 0.4, "en": 0.65}, "insults": {"zh": 0.45, "en": 0.55},
        "public_shaming": {"zh": 0.45, "en": 0.5}, "third_parties": {"zh": 0.6, "en": 0.6},
        "visits": {"zh": 0.45, "en": 0.4}, "impersonation": {"zh": 0.6, "en": 0.65},
        "fake_documents": {"zh": 0.5, "en": 0.4}, "false_consequences": {"zh": 0.5, "en": 0.5},
        "personal_account": {"zh": 0.4, "en": 0.4}}

    def __init__(self, findings: Sequence[str], patterns: Mapping[str, re2._Regexp | None],
                 exclude: re2._Regexp | None, model: LinearModel | None,
                 thresholds: Mapping[str, Mapping[str, float]] | None = None):
        self.findings = list(findings)
        self.patterns = dict(patterns)
        self.exclude = exclude
        self.model = model
        table = self.THRESHOLDS if thresholds is None else thresholds
        self.thresholds = {f: {lang: table.get(f, {}).get(lang, self.DEFAULT_THRESHOLD) for lang in ("zh", "en")}
                           for f in self.findings}
        if model is not None and list(model.labels) != self.findings:
            raise ValueError("the model was trained on other findings")

    @classmethod
    def build(cls, config: ScanConfig, corpus: ScanCorpus | None = None,
              cache_dir: Path | None = None) -> Scanner:
        findings = list(config.findings)
        patterns = {f: union(fc.patterns) if fc.patterns else None for f, fc in config.findings.items()}
        exclude = union(config.exclude) if config.exclude else None
        model = None
        if corpus is not None:
            model = cached_train(examples(corpus), findings, config.exclude, cls.C, cls.POSITIVE_WEIGHT,
                                 int(cls.COMPOSITES), cache_dir)
        return cls(findings, patterns, exclude, model)

    @classmethod
    def load(cls, root: Path, cache_dir: Path | None = None) -> Scanner:
        return cls.build(load_config(root), load_corpus(root), cache_dir)

    def with_model(self, model: LinearModel | None) -> Scanner:
        return type(self)(self.findings, self.patterns, self.exclude, model, self.thresholds)

    # deciding ------------------------------------------------------------------------------
    def scan(self, text: str) -> list[str]:
        return [h.finding for h in self.explain(text)]

    def explain(self, text: str) -> list[Hit]:
        stripped = strip(prepare(text), self.exclude)
        if not stripped:
            return []
        lang = text_lang(stripped)
        probs = self.model_probabilities(stripped) if self.model is not None else None
        quotes = self.pattern_quotes(stripped)
        out = []
        for j, f in enumerate(self.findings):
            p = float(probs[j]) if probs is not None else 0.0
            if f in quotes:
                out.append(Hit(f, "pattern", p, quotes[f]))
            elif probs is not None and p >= self.thresholds[f][lang]:
                out.append(Hit(f, "model", p))
        return out

    def model_probabilities(self, stripped: str) -> np.ndarray:
        """The model's probability per finding: the highest over the whole message and each of
        its sentences (a sentence's margin lowered by SENTENCE_PENALTY: fewer features, noisier),
        so one threat buried in a long, polite message is not drowned by the rest."""
        assert self.model is not None
        margins = self.model.margins(stripped)
        parts = sentences(stripped)
        if len(parts) > 1:
            for part in parts:
                margins = np.maximum(margins, self.model.margins(part) - self.SENTENCE_PENALTY)
        return 1.0 / (1.0 + np.exp(-margins))

    def pattern_quotes(self, stripped: str) -> dict[str, str]:
        """finding -> the text its patterns matched, on the text as it is and squeezed."""
        squeezed = _SPACES.sub("", stripped)
        out = {}
        for f, rx in self.patterns.items():
            if rx is None:
                continue
            m = rx.search(stripped) or (rx.search(squeezed) if squeezed != stripped else None)
            if m is not None:
                out[f] = m.group(0)
        return out

    def probabilities(self, text: str) -> dict[str, float]:
        """The model's probability per finding (0.0 without a model)."""
        stripped = strip(prepare(text), self.exclude)
        if self.model is None or not stripped:
            return dict.fromkeys(self.findings, 0.0)
        return dict(zip(self.findings, map(float, self.model_probabilities(stripped)), strict=True))


def strip(norm: str, exclude: re2._Regexp | None) -> str:
    """The prepared text with lawful boilerplate cut out (see the module docstring)."""
    return _SPACES.sub(" ", exclude.sub(" ", norm)).strip() if exclude else norm


# --- evaluation files ---------------------------------------------------------------------

TEXT_KEYS = ("text", "t", "message", "msg")
LABEL_KEYS = ("findings", "f", "labels", "expected", "ids")


def read_labelled(data: object, findings: Sequence[str]) -> list[Labelled]:
    """The messages of an evaluation file as (text, findings, language). Accepted layouts:
    a list of items, or mappings nesting lists of items under language codes, finding ids,
    "lawful" or group names; an item is a mapping with a text (`text`/`t`/`message`) and its
    findings (`findings`/`f`/`labels`/`expected`; absent under "lawful" or a finding id), or a
    plain string. The language is the item's `lang`, else the nearest language key, else the
    text's script. Raises ValueError (naming keys and types only, never a text)."""
    known = set(findings)
    rows: list[Labelled] = []

    def walk(node: object, lang: str | None, implied: frozenset[str] | None, path: str) -> None:
        if isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, lang, implied, f"{path}[{i}]")
        elif isinstance(node, str):
            if implied is None:
                raise ValueError(f"{path}: a bare text with no findings to go with it")
            rows.append(Labelled(node, implied, lang if lang in ("zh", "en") else text_lang(prepare(node))))
        elif isinstance(node, Mapping):
            text_key = next((k for k in TEXT_KEYS if isinstance(node.get(k), str)), None)
            if text_key is not None:
                label_key = next((k for k in LABEL_KEYS if k in node), None)
                labels = node.get(label_key) if label_key else None
                if labels is None:
                    if implied is None:
                        raise ValueError(f"{path}: an item without findings (keys: {sorted(map(str, node))})")
                    found = implied
                elif isinstance(labels, list) and all(isinstance(x, str) for x in labels):
                    found = frozenset(labels)
                else:
                    raise ValueError(f"{path}.{label_key}: not a list of ids")
                unknown = found - known
                if unknown:
                    raise ValueError(f"{path}: unknown finding ids {sorted(unknown)}")
                item_lang = node.get("lang") if isinstance(node.get("lang"), str) else lang
                text = node[text_key]
                rows.append(Labelled(text, found, item_lang if item_lang in ("zh", "en") else text_lang(prepare(text))))
                return
            for key, value in node.items():
                k = str(key)
                if k in ("zh", "en") or (len(k) <= 7 and k in locale.codes()):
                    walk(value, k, implied, f"{path}.{k}")
                elif k in known:
                    walk(value, lang, frozenset({k}), f"{path}.{k}")
                elif k in ("lawful", "clean", "none", "negative", "negatives"):
                    walk(value, lang, frozenset(), f"{path}.{k}")
                elif isinstance(value, list | dict):
                    walk(value, lang, implied, f"{path}.{k}")
        # numbers, booleans, None (metadata): ignored

    walk(data, None, None, "")
    if not rows:
        raise ValueError("no messages found")
    return rows


# --- the readable answer ------------------------------------------------------------------

def fact_values(facts: Facts, lang: str) -> dict[str, str]:
    """{police} a hotline's number, {police_line} its name, {police_station_name} an
    authority's name: the placeholders of content/<lang>/ui/scan.yaml."""
    values: dict[str, str] = {}
    for key, line in facts.hotlines.items():
        values[key] = line.number
        values[f"{key}_line"] = line.name.get(lang)
    for key, auth in facts.authorities.items():
        values[f"{key}_name"] = auth.name.get(lang)
        if auth.site:
            values[f"{key}_site"] = auth.site
    return values


@dataclass
class ScanTexts:
    """What the readable answer needs: the rules, the facts and the UI strings."""

    config: ScanConfig
    facts: Facts
    ui: Mapping[str, Mapping[str, str]]
    _values: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)

    def text(self, lang: str, key: str, **extra: object) -> str:
        if lang not in self._values:
            self._values[lang] = fact_values(self.facts, lang)
        return self.ui[lang][key].format_map({**self._values[lang], **extra})

    def rule_line(self, rule: Rule, lang: str) -> str:
        """刑法第279条（适用于：所有人） / Criminal Law, Art. 279 (binds: everyone)."""
        inst = self.facts.instruments[rule.instrument]
        name = locale.cite_in_text(inst.name.get(lang), rule.articles, lang,
                                   renumbered=rule.instrument in RENUMBERED)
        return locale.binds(name, inst.binds.get(lang), lang)

    def render(self, hits: Sequence[Hit], lang: str) -> str:
        """What the message shows, each finding with its rules and whom they bind, what to do
        now; for a lawful message, that it is within the rules."""
        t = self.text
        if not hits:
            return "\n\n".join([t(lang, "scan.lawful"), t(lang, "scan.caveat")])
        blocks = [t(lang, "scan.shows", n=len(hits))]
        for i, h in enumerate(hits, 1):
            head = f"{i}. {t(lang, f'scan.finding.{h.finding}.name')}"
            if h.quote:
                head += locale.get(lang).colon + locale.quote(h.quote, lang)
            lines = [head, "   " + t(lang, f"scan.finding.{h.finding}.text"), "   " + t(lang, "scan.rules")]
            lines += [f"   – {self.rule_line(r, lang)}" for r in self.config.findings[h.finding].rules]
            blocks.append("\n".join(lines))
        steps = [t(lang, "scan.do_keep")] + [t(lang, f"scan.finding.{h.finding}.do") for h in hits]
        steps.append(t(lang, "scan.do_report"))
        blocks.append(t(lang, "scan.do_title") + "\n" + "\n".join(f"• {s}" for s in steps))
        blocks.append(t(lang, "scan.caveat"))
        return "\n\n".join(blocks)


#: UI strings every finding needs: content/<lang>/ui/scan.yaml, scan.finding.<id>.<part>.
FINDING_TEXTS = ("name", "text", "do")
TEXTS = ("shows", "lawful", "caveat", "rules", "do_title", "do_keep", "do_report")


# --- loading and checking -----------------------------------------------------------------

@dataclass
class ScanContent:
    """Everything `python -m bot scan` needs, and no more (no matcher, no crisis model)."""

    languages: list[str]
    config: ScanConfig
    corpus: ScanCorpus | None
    texts: ScanTexts


def load_light(root: Path) -> ScanContent:
    """The languages, facts, UI strings, rules, patterns and corpus, read without loading the
    rest of the knowledge base (`python -m bot check` validates all of it)."""
    from bot.knowledge.loader import _load_ui

    locales = locale.load_locales(root)
    locale.register(locales)
    fallback = {lang: loc.fallback for lang, loc in locales.items()}
    facts = validate(Facts, read_yaml(root / "facts.yaml", root), root, languages=fallback)
    ui, problems = _load_ui(root, locales)
    if problems:
        raise ContentError(problems)
    config = load_config(root)
    return ScanContent(list(locales), config, load_corpus(root), ScanTexts(config, facts, ui))


def check(k: Knowledge) -> list[Problem]:
    """content/scan.yaml and content/scan_corpus.yaml against the spec's ids, the facts and the
    UI strings: every finding of the spec there and in its order, rules naming known
    instruments, patterns that compile, corpus labels that exist, each finding's UI strings
    in every language with placeholders the facts can fill."""
    root = k.root
    problems: list[Problem] = []
    try:
        config = load_config(root)
    except ContentError as exc:
        return exc.problems
    name = f"{root.name}/{CONFIG_FILE}"
    ids = list(config.findings)
    if ids[:len(SPEC_FINDINGS)] != list(SPEC_FINDINGS):
        problems.append(Problem(name, "findings", "must start with the ids of shared/spec/message-findings.yaml "
                                f"in their order: {', '.join(SPEC_FINDINGS)}"))
    for f, fc in config.findings.items():
        if not re.fullmatch(r"[a-z][a-z0-9_]{1,40}", f):
            problems.append(Problem(name, f"findings.{f}", "an id is lower case letters, digits and _"))
        for i, rule in enumerate(fc.rules):
            if rule.instrument not in k.facts.instruments:
                problems.append(Problem(name, f"findings.{f}.rules.{i}.instrument",
                                        f"unknown instrument {rule.instrument!r} (see content/facts.yaml)"))
        for i, pattern in enumerate(fc.patterns):
            problems += _compiles(pattern, name, f"findings.{f}.patterns.{i}")
    for i, pattern in enumerate(config.exclude):
        problems += _compiles(pattern, name, f"exclude.{i}")
    try:
        corpus = load_corpus(root)
    except ContentError as exc:
        problems += exc.problems
        corpus = None
    if corpus is not None:
        cname = f"{root.name}/{CORPUS_FILE}"
        for lang, items in corpus.root.items():
            if lang not in k.languages:
                problems.append(Problem(cname, lang, f"no language {lang!r} in content/"))
            for i, ex in enumerate(items):
                for f in ex.f:
                    if f not in config.findings:
                        problems.append(Problem(cname, f"{lang}.{i}.f", f"no finding {f!r} in {name}"))
    for lang in k.languages:
        values = fact_values(k.facts, lang)
        keys = [f"scan.{key}" for key in TEXTS]
        keys += [f"scan.finding.{f}.{part}" for f in ids for part in FINDING_TEXTS]
        for key in keys:
            if not k.has_text(lang, key):
                problems.append(Problem(f"{root.name}/{lang}/ui/scan.yaml", key, "missing"))
                continue
            fields = {fname for _, fname, _, _ in string.Formatter().parse(k.ui[lang][key]) if fname}
            unknown = sorted(fields - set(values) - ({"n"} if key == "scan.shows" else set()))
            if unknown:
                problems.append(Problem(f"{root.name}/{lang}/ui/scan.yaml", key,
                                        f"unknown placeholder {{{unknown[0]}}} (hotlines and authorities of "
                                        "content/facts.yaml)"))
    return problems


def _compiles(pattern: str, name: str, where: str) -> list[Problem]:
    try:
        re2.compile(pattern)
    except re2.error as exc:
        return [Problem(name, where, f"bad pattern: {exc}")]
    return []


def spec_order(ids: Iterable[str], findings: Sequence[str]) -> list[str]:
    """`ids` in the order of `findings` (the spec's)."""
    chosen = set(ids)
    return [f for f in findings if f in chosen]
