"""The crisis detector: recall and false alarms, and what it costs per message.

    python bench/crisis.py            # held-out figures, 5-fold CV on the training corpus, cost
    python bench/crisis.py --cv-only  # only the cross-validation (for choosing thresholds)
    python bench/crisis.py --dev      # cross-validation and the development set only
    python bench/crisis.py --cost-only [--cpu]   # --cpu: the thread's CPU time, not wall time

1. Cross-validation over content/crisis_corpus.yaml (5 folds, stratified): the crisis and
   concern thresholds in bot/knowledge/crisis.py were chosen from these out-of-fold figures
   only, for recall first.
2. The development set tests/eval/crisis_dev.yaml (written apart from the training corpus,
   used to compare model and threshold choices) and the held-out set tests/eval/crisis.yaml
   (written apart, never trained or tuned on, run a few times only; see the README):
   recall per language, distress that gets at least the gentle line, and false alarms
   (crisis replies) per group of safe messages; for the long debt stories, which half of
   the detector raised them. Counts only: no message of the held-out set is ever printed.
3. Cost: assess() over every held-out message, many rounds; median and p99 per message,
   side by side with the patterns alone (the old detector) in the same run.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import load_content  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.knowledge.crisis import CONCERN, CRISIS, CrisisDetector, Example, fit, prepare  # noqa: E402
from bot.knowledge.normalize import CJK  # noqa: E402

EVAL = ROOT / "tests" / "eval" / "crisis.yaml"
DEV = ROOT / "tests" / "eval" / "crisis_dev.yaml"


def labelled(k) -> list[tuple[str, int, str, float]]:  # type: ignore[no-untyped-def]
    """(text as written, class, group, weight) for the whole training set, in one list."""
    from bot.knowledge.crisis import CORPUS_WEIGHT, QUESTION_WEIGHT, SAFE
    corpus = k.crisis_corpus
    rows = [(x, CRISIS, "crisis", CORPUS_WEIGHT) for items in corpus.crisis.values() for x in items]
    rows += [(x, CRISIS, "crisis", CORPUS_WEIGHT) for a in k.answers["crisis_support"].values() for x in a.examples]
    rows += [(x, CONCERN, "concern", CORPUS_WEIGHT) for items in corpus.concern.values() for x in items]
    rows += [(x, SAFE, g, CORPUS_WEIGHT) for g, by in corpus.safe.items() for items in by.values() for x in items]
    rows += [(x, SAFE, "topic questions", QUESTION_WEIGHT) for t, by in k.answers.items() if t != "crisis_support"
             for a in by.values() for x in a.examples]
    rows += [(x, SAFE, "topic questions", QUESTION_WEIGHT) for qs in k.offtopic.values() for x in qs]
    return rows


def cross_validate(detector: CrisisDetector, rows: list[tuple[str, int, str, float]], folds: int = 5) -> None:
    """Each example judged by a detector whose model was trained on the other folds."""
    strip = detector.exclude
    levels = [""] * len(rows)
    for f in range(folds):
        train = [Example(t, y, w) for i, (x, y, _g, w) in enumerate(rows) if i % folds != f
                 if (t := (strip.sub(" ", prepare(x)) if strip else prepare(x)).strip())]
        d = CrisisDetector(detector.patterns, detector.exclude, detector.concern, fit(train, detector.C),
                           detector.soft, detector.agree)
        for i, (x, *_rest) in enumerate(rows):
            if i % folds == f:
                levels[i] = d.assess(x).level
    groups: dict[str, list[str]] = {}
    for (_x, _y, g, _w), level in zip(rows, levels, strict=True):
        groups.setdefault(g, []).append(level)
    print(f"{folds}-fold CV on the training corpus and the topic questions "
          f"(thresholds: crisis {detector.CRISIS_AT}, sentence +{detector.CLAUSE_PENALTY}, "
          f"pair +{detector.PAIR_PENALTY}, quoted +{detector.QUOTED_PENALTY}):")
    for g, ls in groups.items():
        crisis = sum(lv == "crisis" for lv in ls) / len(ls)
        some = sum(lv != "none" for lv in ls) / len(ls)
        what = "recall" if g == "crisis" else ("at least the gentle line" if g == "concern" else "false alarms")
        print(f"  {g:18} n={len(ls):5}  crisis reply {crisis:6.1%}   any care line {some:6.1%}   ({what})")
    for lang in ("zh", "en"):
        ls = [lv for (x, _y, g, _w), lv in zip(rows, levels, strict=True)
              if g == "crisis" and ("zh" if CJK.search(x) else "en") == lang]
        print(f"  crisis, {lang}        n={len(ls):5}  crisis reply {sum(lv == 'crisis' for lv in ls) / len(ls):6.1%}")


def held_out(detector: CrisisDetector, data: dict, path: Path = EVAL) -> None:
    print(f"{'Held-out' if path == EVAL else 'Development'} set ({path.relative_to(ROOT)}):")
    print(f"  {'lang':4} {'recall':>8} {'concern':>8} " + " ".join(f"{g[:12]:>12}" for g in data["safe"]))
    for lang in ("zh", "en"):
        crisis = data["crisis"][lang]
        recall = sum(detector(x) for x in crisis) / len(crisis)
        concern = data["concern"][lang]
        caught = sum(detector.assess(x).level != "none" for x in concern) / len(concern)
        alarms = []
        for group in data["safe"].values():
            items = group[lang]
            alarms.append(sum(detector(x) for x in items) / len(items))
        all_safe = [x for g in data["safe"].values() for x in g[lang]]
        total = sum(detector(x) for x in all_safe) / len(all_safe)
        print(f"  {lang:4} {recall:8.1%} {caught:8.1%} " + " ".join(f"{a:12.1%}" for a in alarms)
              + f"   false alarms overall {total:.1%} (n={len(crisis)}/{len(concern)}/{len(all_safe)})")
        if "debt_story" in data["safe"]:
            by = Counter(a.by for x in data["safe"]["debt_story"][lang] if (a := detector.assess(x)).level == "crisis")
            print(f"       long debt stories given the crisis reply, by: {dict(sorted(by.items())) or 'none'}")


def cost(detector: CrisisDetector, patterns_only: CrisisDetector, data: dict, rounds: int = 5) -> None:
    """Wall time per message (time.perf_counter), or with --cpu the thread's CPU time
    (time.thread_time): on a machine shared with other jobs a message that waits for a
    core counts a whole scheduler slice (~4 ms) in wall time, which then sets the p99."""
    clock = time.thread_time if "--cpu" in sys.argv else time.perf_counter
    messages = [x for lang in ("zh", "en") for x in data["crisis"][lang] + data["concern"][lang]]
    messages += [x for g in data["safe"].values() for lang in ("zh", "en") for x in g[lang]]
    print(f"Cost per message, {'CPU' if '--cpu' in sys.argv else 'wall'} time ({len(messages)} messages x {rounds}"
          f" rounds after one warm-up round, same run;"
          f" median length {statistics.median(len(m) for m in messages):.0f} characters):")
    for name, d in (("patterns + model", detector), ("patterns only", patterns_only)):
        for m in messages:  # warm-up: RE2 builds its DFA lazily, as a long-running server has
            d.assess(m)
        times: dict[str, list[float]] = {"all": [], "under 80 chars": [], "80 chars or more": []}
        for _ in range(rounds):
            for m in messages:
                t0 = clock()
                d.assess(m)
                took = clock() - t0
                times["all"].append(took)
                times["under 80 chars" if len(m) < 80 else "80 chars or more"].append(took)
        for bucket, ts in times.items():
            ts.sort()
            p50 = statistics.median(ts) * 1000
            p99 = ts[int(0.99 * len(ts))] * 1000
            print(f"  {name:18} {bucket:17} p50 {p50:.3f} ms   p99 {p99:.3f} ms   (n={len(ts) // rounds})")


def main() -> None:
    loaded = load_content(Settings(_env_file=None))
    k = loaded.knowledge
    t0 = time.perf_counter()
    detector = CrisisDetector.from_knowledge(k)
    print(f"Training the crisis model at start-up: {time.perf_counter() - t0:.2f} s")
    assert k.crisis_corpus is not None
    if "--cost-only" not in sys.argv:
        cross_validate(detector, labelled(k))
    if "--cv-only" in sys.argv:
        return
    if "--cost-only" not in sys.argv:
        held_out(detector, yaml.safe_load(DEV.read_text(encoding="utf-8")), DEV)
    if "--dev" in sys.argv:
        return
    data = yaml.safe_load(EVAL.read_text(encoding="utf-8"))
    if "--cost-only" not in sys.argv:
        held_out(detector, data)
    cost(detector, CrisisDetector.build(k.crisis), data)


if __name__ == "__main__":
    main()
