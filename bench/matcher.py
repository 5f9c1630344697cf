"""Benchmark the question matcher against a plain BM25 baseline.

    python bench/matcher.py [--repeat N]

Both run over tests/eval/questions.yaml and the content in content/. A second table gives the
same figures on the development set tests/eval/dev.yaml (the set tuning and error analysis
may look at; the evaluation set stays locked), with the baseline at the threshold picked above. The baseline is
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
    args = parser.parse_args()
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

    if DEV.exists():
        dev = yaml.safe_load(DEV.read_text(encoding="utf-8"))
        n_dev = sum(1 for it in dev if it["topic"])
        print()
        print(f"dev (tests/eval/dev.yaml, for tuning; not the evaluation): {len(dev)} questions "
              f"({n_dev} on topics, {len(dev) - n_dev} out of scope)")
        head = f"{'':18} {'top1 zh':>8} {'top1 en':>8} {'(lenient zh/en)':>16} {'reject':>7}"
        print(head)
        print("-" * len(head))
        for name, predict in (("matcher", ours(m)),
                              (f"bm25 (t={base.threshold:.2f})", base.predict)):
            f = evaluate(predict, dev)
            lenient = f"{f['lenient_zh']:.1%}/{f['lenient_en']:.1%}"
            print(f"{name:18} {f['strict_zh']:8.1%} {f['strict_en']:8.1%} {lenient:>16} "
                  f"{f['rejection']:7.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
