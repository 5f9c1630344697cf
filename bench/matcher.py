"""Benchmark the question matcher against a plain BM25 baseline.

    python bench/matcher.py [--repeat N] [--set NAME=VALUE ...]

Both run over tests/eval/questions.yaml and the content in content/. A second table gives the
figures tuning may look at (the evaluation set stays locked): top-1 accuracy in 5-fold
cross-validation over the content examples (each fold's examples held out of the build and
asked as questions), and the rejection rate on the development list of off-topic
questions tests/eval/dev.yaml; the baseline keeps the threshold picked below. The baseline is
rank_bm25.BM25Okapi over the same content examples (one document per example, both
languages; Chinese segmented with rjieba's default dictionary, English split into lower-case
words, all after normalize()); its answer is the topic of the best-scoring example, and a
score threshold decides "unknown". That threshold is picked on the evaluation set itself (the
one maximising mean accuracy plus rejection), which favours the baseline: our matcher's
thresholds are fixed in its code.

Top-1 accuracy counts a question as correct when the matcher answers with the right topic
(strict); "lenient" also counts a clarification whose first candidate is right. Latency is per
question, the median over the repeats of each repeat's p50 / p99. Build time is the median of
three builds.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import rjieba  # noqa: E402
import yaml  # noqa: E402
from rank_bm25 import BM25Okapi  # noqa: E402

from bot.contentfiles import ContentError  # noqa: E402
from bot.knowledge import matcher as matcher_module  # noqa: E402
from bot.knowledge.loader import Knowledge, load_knowledge  # noqa: E402
from bot.knowledge.matcher import Matcher  # noqa: E402
from bot.knowledge.normalize import CJK, normalize  # noqa: E402

EVAL = ROOT / "tests" / "eval" / "questions.yaml"
DEV = ROOT / "tests" / "eval" / "dev.yaml"
_WORD = re.compile(r"[a-z0-9]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")

# A prediction: (decision, topic or None, first candidate or None).
Prediction = tuple[str, str | None, str | None]


def bm25_tokens(text: str) -> list[str]:
    """Baseline tokenisation: rjieba words for Chinese runs, plain words for the rest."""
    out: list[str] = []
    for run in _WORD.findall(normalize(text)):
        out.extend(rjieba.cut(run) if CJK.search(run) else [run])
    return out


class Bm25Baseline:
    """Top document's topic by BM25Okapi, "unknown" below a score threshold."""

    def __init__(self, knowledge: Knowledge):
        self.topics: list[str] = []
        docs: list[list[str]] = []
        for topic, by_lang in sorted(knowledge.answers.items()):
            for answer in by_lang.values():
                for example in answer.examples:
                    self.topics.append(topic)
                    docs.append(bm25_tokens(example))
        self.bm25 = BM25Okapi(docs)
        self.threshold = 0.0

    def best(self, text: str) -> tuple[str | None, float]:
        tokens = bm25_tokens(text)
        if not tokens:
            return None, 0.0
        scores = self.bm25.get_scores(tokens)
        i = max(range(len(scores)), key=scores.__getitem__)
        return self.topics[i], float(scores[i])

    def predict(self, text: str) -> Prediction:
        topic, score = self.best(text)
        if topic is None or score < self.threshold:
            return "unknown", None, topic
        return "answer", topic, topic

    def tune(self, items: list[dict]) -> None:
        """Pick the threshold maximising mean(top-1 zh, top-1 en) + rejection on `items`."""
        best_of = {it["q"]: self.best(it["q"]) for it in items}
        thresholds = sorted({score for _topic, score in best_of.values()})
        best = (-1.0, 0.0)
        for threshold in [0.0, *thresholds, thresholds[-1] + 1.0 if thresholds else 1.0]:

            def predict(q: str, threshold: float = threshold) -> Prediction:
                topic, score = best_of[q]
                if topic is None or score < threshold:
                    return "unknown", None, topic
                return "answer", topic, topic

            f = evaluate(predict, items)
            value = (f["strict_zh"] + f["strict_en"]) / 2 + f["rejection"]
            if value > best[0]:
                best = (value, threshold)
        self.threshold = best[1]


def ours(m: Matcher) -> Callable[[str], Prediction]:
    def predict(text: str) -> Prediction:
        r = m.match(text)
        return r.decision, r.topic, r.candidates[0][0] if r.candidates else None

    return predict


def evaluate(predict: Callable[[str], Prediction], items: list[dict]) -> dict[str, float]:
    n = {"zh": 0, "en": 0}
    strict = {"zh": 0, "en": 0}
    lenient = {"zh": 0, "en": 0}
    oos = rejected = 0
    for it in items:
        decision, topic, first = predict(it["q"])
        if it["topic"] is None:
            oos += 1
            rejected += decision == "unknown"
            continue
        lang = it["lang"]
        n[lang] += 1
        ok = decision == "answer" and topic == it["topic"]
        strict[lang] += ok
        lenient[lang] += ok or (decision == "clarify" and first == it["topic"])
    return {
        "strict_zh": strict["zh"] / max(n["zh"], 1),
        "strict_en": strict["en"] / max(n["en"], 1),
        "lenient_zh": lenient["zh"] / max(n["zh"], 1),
        "lenient_en": lenient["en"] / max(n["en"], 1),
        "rejection": rejected / max(oos, 1),
    }


def cross_validate(knowledge: Knowledge, build: Callable[[Knowledge], Callable[[str], Prediction]],
                   folds: int = 5, seed: int = 7) -> dict[str, float]:
    """Strict and lenient top-1 per language over content examples, each held out once."""
    rng = random.Random(seed)
    fold_of: dict[tuple[str, str, int], int] = {}
    for topic, by_lang in sorted(knowledge.answers.items()):
        for lang, ans in sorted(by_lang.items()):
            order = list(range(len(ans.examples)))
            rng.shuffle(order)
            for j, i in enumerate(order):
                fold_of[(topic, lang, i)] = j % folds
    held_all: list[dict] = []
    predictions: dict[str, Prediction] = {}
    for f in range(folds):
        answers: dict[str, dict] = {}
        held: list[dict] = []
        for topic, by_lang in knowledge.answers.items():
            answers[topic] = {}
            for lang, ans in by_lang.items():
                keep = tuple(x for i, x in enumerate(ans.examples) if fold_of[(topic, lang, i)] != f)
                held += [{"q": x, "lang": lang, "topic": topic}
                         for i, x in enumerate(ans.examples) if fold_of[(topic, lang, i)] == f]
                answers[topic][lang] = dataclasses.replace(ans, examples=keep)
        predict = build(dataclasses.replace(knowledge, answers=answers))
        for it in held:
            predictions[f"{f}:{it['q']}"] = predict(it["q"])
            held_all.append({**it, "q": f"{f}:{it['q']}"})
    return evaluate(predictions.__getitem__, held_all)


def latency(predict: Callable[[str], Prediction], questions: list[str],
            repeat: int) -> tuple[float, float]:
    """Median over `repeat` passes of each pass's p50 and p99, in milliseconds."""
    p50s, p99s = [], []
    for _ in range(repeat):
        times = []
        for q in questions:
            t = time.perf_counter()
            predict(q)
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        p50s.append(times[len(times) // 2])
        p99s.append(times[min(len(times) - 1, round(0.99 * (len(times) - 1)))])
    return statistics.median(p50s), statistics.median(p99s)


def timed_build(build: Callable[[], object], fresh: Callable[[], None]) -> tuple[object, float]:
    times, built = [], None
    for _ in range(3):
        fresh()
        t = time.perf_counter()
        built = build()
        times.append(time.perf_counter() - t)
    return built, statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="passes over the set for latency")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a Matcher constant for an ablation, e.g. W_CLASSIFIER=0")
    args = parser.parse_args()
    for item in args.set:
        name, _, value = item.partition("=")
        if not hasattr(Matcher, name) or not name.isupper():
            parser.error(f"Matcher has no constant {name!r}")
        setattr(Matcher, name, float(value))
        print(f"ablation: Matcher.{name} = {value}")
    try:
        knowledge = load_knowledge(ROOT / "content")
    except ContentError as exc:
        print(f"content/ does not load:\n{exc}", file=sys.stderr)
        return 1
    items = yaml.safe_load(EVAL.read_text(encoding="utf-8"))
    questions = [it["q"] for it in items]
    rjieba.cut("预热")  # load rjieba's default dictionary outside the baseline's timing

    m, build_ours = timed_build(lambda: Matcher.build(knowledge),
                                matcher_module._base_segmenter.cache_clear)
    base, build_base = timed_build(lambda: Bm25Baseline(knowledge), lambda: None)
    assert isinstance(m, Matcher) and isinstance(base, Bm25Baseline)
    base.tune(items)

    rows = []
    for name, predict in (("matcher", ours(m)), (f"bm25 (t={base.threshold:.2f})", base.predict)):
        fig = evaluate(predict, items)
        p50, p99 = latency(predict, questions, args.repeat)
        build = build_ours if name == "matcher" else build_base
        rows.append((name, fig, p50, p99, build))

    n_topic = sum(1 for it in items if it["topic"])
    print(f"eval: {len(items)} questions ({n_topic} on {len(knowledge.answers)} topics, "
          f"{len(items) - n_topic} out of scope); latency over {args.repeat} passes")
    head = (f"{'':18} {'top1 zh':>8} {'top1 en':>8} {'(lenient zh/en)':>16} {'reject':>7} "
            f"{'p50 ms':>7} {'p99 ms':>7} {'build ms':>9}")
    print(head)
    print("-" * len(head))
    for name, f, p50, p99, build in rows:
        lenient = f"{f['lenient_zh']:.1%}/{f['lenient_en']:.1%}"
        print(f"{name:18} {f['strict_zh']:8.1%} {f['strict_en']:8.1%} {lenient:>16} "
              f"{f['rejection']:7.1%} {p50:7.3f} {p99:7.3f} {build:9.0f}")

    dev = yaml.safe_load(DEV.read_text(encoding="utf-8")) if DEV.exists() else []
    off = [it for it in dev if it["topic"] is None]
    n_examples = sum(len(a.examples) for by_lang in knowledge.answers.values()
                     for a in by_lang.values())
    threshold = base.threshold

    def bm25_at_threshold(k: Knowledge) -> Callable[[str], Prediction]:
        b = Bm25Baseline(k)
        b.threshold = threshold
        return b.predict

    print()
    print(f"tuning figures: top-1 in 5-fold cross-validation over the {n_examples} content "
          f"examples; rejection of the {len(off)} off-topic questions in tests/eval/dev.yaml")
    head = f"{'':18} {'top1 zh':>8} {'top1 en':>8} {'(lenient zh/en)':>16} {'reject':>7}"
    print(head)
    print("-" * len(head))
    for name, build, predict in (("matcher", lambda k: ours(Matcher.build(k)), ours(m)),
                                 (f"bm25 (t={threshold:.2f})", bm25_at_threshold, base.predict)):
        f = cross_validate(knowledge, build)
        rejection = evaluate(predict, off)["rejection"] if off else float("nan")
        lenient = f"{f['lenient_zh']:.1%}/{f['lenient_en']:.1%}"
        print(f"{name:18} {f['strict_zh']:8.1%} {f['strict_en']:8.1%} {lenient:>16} {rejection:7.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
