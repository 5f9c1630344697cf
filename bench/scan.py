"""The message scanner: precision, recall, lawful messages flagged, and the cost per message.

    python bench/scan.py              # held-out figures (tests/eval/scan.yaml) and the cost
    python bench/scan.py --cv-only    # 5-fold cross-validation (x3 shuffles) over content/scan_corpus.yaml
    python bench/scan.py --cv-only --choose   # ... and the thresholds CV would choose
    python bench/scan.py --cv-only --blocked  # folds of contiguous blocks (batches, styles)
    python bench/scan.py --cost-only  # the cost alone (on the corpus: no held-out text read)
    python bench/scan.py --set C=4    # try another setting of the Scanner class

1. Cross-validation over the training corpus (5 folds, fixed shuffle): each message judged
   by patterns plus a model trained on the other four folds. The regularisation C and the
   per-finding thresholds in bot/knowledge/scan.py were chosen from these out-of-fold
   figures only (`--choose` prints what they would be).
2. The held-out set tests/eval/scan.yaml, written apart from the corpus and never trained
   or tuned on, run a few times only (see the README): micro precision and recall and the
   share of lawful messages flagged, per language, and recall per finding. Totals only: no
   message of the held-out set is ever printed.
3. Cost: scan() over every message, many rounds; median and p99 per message.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from bot.knowledge.scan import (  # noqa: E402
    Labelled,
    Scanner,
    examples,
    fit,
    load_config,
    load_corpus,
    prepare,
    read_labelled,
    strip,
    text_lang,
)

CONTENT = ROOT / "content"
EVAL = ROOT / "tests" / "eval" / "scan.yaml"
REPEATS = 3
LANGS = ("zh", "en")


# --- judging -------------------------------------------------------------------------------

def folds_of(rows: Sequence[Labelled], folds: int = 5, seed: int = 0) -> list[int]:
    """Each row's fold: a shuffle (seed), or with --blocked contiguous blocks of each language
    (the corpus was written in batches, each in its own style: a block left out is a style
    unseen in training, closer to a held-out set written by someone else)."""
    if "--blocked" in sys.argv:
        fold = [0] * len(rows)
        for lang in LANGS:
            idx = [i for i, r in enumerate(rows) if r.lang == lang]
            for k, i in enumerate(idx):
                fold[i] = (k * folds // len(idx) + seed) % folds
        return fold
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    fold = [0] * len(rows)
    for k, i in enumerate(order):
        fold[i] = k % folds
    return fold


def long_messages(rows: Sequence[Labelled], fold: Sequence[int], seed: int = 1) -> tuple[list[Labelled], list[int]]:
    """For each message, a longer one: it and a lawful message of the same language and fold
    (before or after it), with its findings. Judged out of fold like the rest: do the
    findings survive among polite sentences, and do two lawful messages stay lawful?"""
    rnd = random.Random(seed)
    out, out_fold = [], []
    for i, r in enumerate(rows):
        pool = [j for j, o in enumerate(rows) if fold[j] == fold[i] and o.lang == r.lang and not o.findings and j != i]
        if not pool:
            continue
        other = rows[rnd.choice(pool)].text.rstrip("。.")
        sep = "。" if r.lang == "zh" else ". "
        text = f"{other}{sep}{r.text}" if rnd.random() < 0.5 else f"{r.text.rstrip('。.')}{sep}{other}"
        out.append(Labelled(text, r.findings, r.lang))
        out_fold.append(fold[i])
    return out, out_fold


def out_of_fold(scanner: Scanner, rows: Sequence[Labelled], fold: Sequence[int],
                extra: Sequence[Labelled] = (), extra_fold: Sequence[int] = ()) -> np.ndarray:
    """The model's probabilities for each row (then each extra row), from a model trained on
    the rows of the other folds."""
    texts = [strip(prepare(r.text), scanner.exclude) for r in [*rows, *extra]]
    folds = [*fold, *extra_fold]
    probs = np.zeros((len(texts), len(scanner.findings)))
    for f in sorted(set(fold)):
        train = [i for i in range(len(rows)) if fold[i] != f]
        model = fit([texts[i] for i in train], [rows[i].findings for i in train], scanner.findings, scanner.C,
                    scanner.POSITIVE_WEIGHT, int(scanner.COMPOSITES))
        judge = scanner.with_model(model)
        for i, text in enumerate(texts):
            if folds[i] == f:
                probs[i] = judge.model_probabilities(text) if text else 0.0
    return probs


def pattern_hits(scanner: Scanner, rows: Sequence[Labelled]) -> list[set[str]]:
    return [set(scanner.pattern_quotes(strip(prepare(r.text), scanner.exclude))) for r in rows]


def decide(findings: Sequence[str], probs: np.ndarray, hits: Sequence[set[str]], rows: Sequence[Labelled],
           thresholds: Mapping[str, Mapping[str, float]]) -> list[set[str]]:
    out = []
    for i, r in enumerate(rows):
        lang = text_lang(prepare(r.text))
        out.append({f for j, f in enumerate(findings) if f in hits[i] or probs[i, j] >= thresholds[f][lang]})
    return out


def figures(findings: Sequence[str], rows: Sequence[Labelled], predicted: Sequence[set[str]],
            title: str) -> dict[str, dict[str, float]]:
    """Print micro precision / recall and lawful messages flagged per language, and per
    finding its precision and recall; counts only."""
    print(title)
    result = {}
    for lang in (*LANGS, "all"):
        idx = [i for i, r in enumerate(rows) if lang in ("all", r.lang)]
        if not idx:
            continue
        tp = sum(len(predicted[i] & rows[i].findings) for i in idx)
        fp = sum(len(predicted[i] - rows[i].findings) for i in idx)
        fn = sum(len(rows[i].findings - predicted[i]) for i in idx)
        lawful = [i for i in idx if not rows[i].findings]
        flagged = sum(bool(predicted[i]) for i in lawful)
        exact = sum(predicted[i] == rows[i].findings for i in idx)
        p = tp / (tp + fp) if tp + fp else 1.0
        rc = tp / (tp + fn) if tp + fn else 1.0
        rate = flagged / len(lawful) if lawful else 0.0
        result[lang] = {"precision": p, "recall": rc, "lawful_flagged": rate}
        print(f"  {lang:4} n={len(idx):4}  micro precision {p:6.1%}  recall {rc:6.1%}   "
              f"lawful flagged {rate:5.1%} ({flagged}/{len(lawful)})   exact {exact / len(idx):6.1%}")
    print(f"  {'finding':20} " + "  ".join(f"{lang + ' P':>7} {lang + ' R':>7} {'n':>4}" for lang in LANGS))
    for f in findings:
        cells = []
        for lang in LANGS:
            idx = [i for i, r in enumerate(rows) if r.lang == lang]
            tp = sum(f in predicted[i] and f in rows[i].findings for i in idx)
            fp = sum(f in predicted[i] and f not in rows[i].findings for i in idx)
            n = sum(f in rows[i].findings for i in idx)
            cells.append(f"{(tp / (tp + fp) if tp + fp else 1.0):7.1%} {(tp / n if n else 1.0):7.1%} {n:4}")
        print(f"  {f:20} " + "  ".join(cells))
    return result


def choose(findings: Sequence[str], probs: np.ndarray, hits: Sequence[set[str]], rows: Sequence[Labelled],
           grid: Iterable[float] = tuple(x / 100 for x in range(35, 76, 5))) -> dict[str, dict[str, float]]:
    """Per finding and language, the threshold with the best F1 less the share of lawful
    messages it flags, among those with precision and recall >= 0.9 that flag at most 1% of
    the lawful messages (the best such score when none does), out of fold."""
    grid = list(grid)
    chosen: dict[str, dict[str, float]] = {}
    for j, f in enumerate(findings):
        chosen[f] = {}
        for lang in LANGS:
            idx = [i for i, r in enumerate(rows) if r.lang == lang]
            best: tuple[bool, float, float] | None = None
            for t in grid:
                pred = [f in hits[i] or probs[i, j] >= t for i in idx]
                gold = [f in rows[i].findings for i in idx]
                tp = sum(p and g for p, g in zip(pred, gold, strict=True))
                fp = sum(p and not g for p, g in zip(pred, gold, strict=True))
                fn = sum(g and not p for p, g in zip(pred, gold, strict=True))
                prec = tp / (tp + fp) if tp + fp else 1.0
                rec = tp / (tp + fn) if tp + fn else 1.0
                f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
                lawful = [p for p, i in zip(pred, idx, strict=True) if not rows[i].findings]
                flags = sum(lawful) / len(lawful) if lawful else 0.0
                key = (prec >= 0.9 and rec >= 0.9 and flags <= 0.01, f1 - flags, -abs(t - 0.5))
                if best is None or key > best:
                    best, chosen[f][lang] = key, t
    return chosen


# --- cost ----------------------------------------------------------------------------------

def cost(scanner: Scanner, messages: Sequence[str], rounds: int = 5) -> None:
    clock = time.thread_time if "--cpu" in sys.argv else time.perf_counter
    for m in messages:  # warm-up: RE2 builds its DFA lazily, as a long-running process has
        scanner.scan(m)
    times: list[float] = []
    for _ in range(rounds):
        for m in messages:
            t0 = clock()
            scanner.scan(m)
            times.append(clock() - t0)
    times.sort()
    print(f"Cost per message, {'CPU' if '--cpu' in sys.argv else 'wall'} time ({len(messages)} messages x "
          f"{rounds} rounds after a warm-up round; median length "
          f"{statistics.median(len(m) for m in messages):.0f} characters): "
          f"p50 {statistics.median(times) * 1000:.3f} ms   p99 {times[int(0.99 * len(times))] * 1000:.3f} ms   "
          f"max {times[-1] * 1000:.3f} ms")


def main() -> None:
    settings = [a.split("=", 1) for i, a in enumerate(sys.argv) if i and sys.argv[i - 1] == "--set"]
    for name, value in settings:
        setattr(Scanner, name, float(value))
    config, corpus = load_config(CONTENT), load_corpus(CONTENT)
    assert corpus is not None
    t0 = time.perf_counter()
    scanner = Scanner.build(config, corpus, Settings(_env_file=None).bot_cache_dir)
    print(f"The scanner model, trained or loaded from BOT_CACHE_DIR: {time.perf_counter() - t0:.2f} s "
          f"({len(examples(corpus))} messages; C={Scanner.C})")
    rows = examples(corpus)
    if "--cost-only" not in sys.argv:
        # Repeated 5-fold CV (REPEATS shuffles): every message judged REPEATS times out of fold,
        # all judgements pooled, so the figures and the chosen thresholds depend less on one split.
        pooled_rows: list[Labelled] = []
        pooled_long: list[Labelled] = []
        probs_rows, probs_long = [], []
        for seed in range(1 if "--blocked" in sys.argv else REPEATS):
            fold = folds_of(rows, seed=seed)
            long, long_fold = long_messages(rows, fold, seed=seed + 100)
            probs = out_of_fold(scanner, rows, fold, long, long_fold)
            pooled_rows += rows
            pooled_long += long
            probs_rows.append(probs[:len(rows)])
            probs_long.append(probs[len(rows):])
        prob_r, prob_l = np.vstack(probs_rows), np.vstack(probs_long)
        hits_r, hits_l = pattern_hits(scanner, pooled_rows), pattern_hits(scanner, pooled_long)
        if "--blocked" in sys.argv:
            title = "5-fold CV, folds of contiguous blocks (--blocked), on content/scan_corpus.yaml"
        else:
            title = f"5-fold CV x {REPEATS} shuffles on content/scan_corpus.yaml (each message judged {REPEATS} times)"
        ours = scanner.thresholds
        figures(scanner.findings, pooled_rows, decide(scanner.findings, prob_r, hits_r, pooled_rows, ours),
                f"{title}, patterns + model, thresholds of bot/knowledge/scan.py:")
        figures(scanner.findings, pooled_long, decide(scanner.findings, prob_l, hits_l, pooled_long, ours),
                "  the same messages, each joined to a lawful one of its fold (long messages):")
        figures(scanner.findings, pooled_rows, hits_r, "  the patterns alone:")
        if "--choose" in sys.argv:
            chosen = choose(scanner.findings, prob_r, hits_r, pooled_rows)
            print("Thresholds CV would choose:", chosen)
            figures(scanner.findings, pooled_rows, decide(scanner.findings, prob_r, hits_r, pooled_rows, chosen),
                    "CV with those thresholds:")
            figures(scanner.findings, pooled_long, decide(scanner.findings, prob_l, hits_l, pooled_long, chosen),
                    "  long messages:")
    if "--cv-only" in sys.argv:
        return
    if "--cost-only" in sys.argv or not EVAL.exists():
        if not EVAL.exists():
            print(f"No held-out set at {EVAL.relative_to(ROOT)}: the cost on the training corpus instead.")
        cost(scanner, [r.text for r in rows])
        return
    data = yaml.safe_load(EVAL.read_text(encoding="utf-8"))
    held = read_labelled(data, scanner.findings)
    by_lang = {lang: sum(r.lang == lang for r in held) for lang in LANGS}
    print(f"Held-out set ({EVAL.relative_to(ROOT)}): {len(held)} messages {by_lang}, "
          f"{sum(not r.findings for r in held)} lawful")
    explained = [scanner.explain(r.text) for r in held]
    figures(scanner.findings, held, [{h.finding for h in e} for e in explained], "Held-out figures:")
    for lang in LANGS:
        lawful = [e for e, r in zip(explained, held, strict=True) if r.lang == lang and not r.findings]
        by_pattern = sum(any(h.by == "pattern" for h in e) for e in lawful)
        by_model = sum(bool(e) and all(h.by == "model" for h in e) for e in lawful)
        print(f"  {lang}: lawful messages flagged by a pattern {by_pattern}, by the model alone {by_model}")
    cost(scanner, [r.text for r in held])


if __name__ == "__main__":
    main()
