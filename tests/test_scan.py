"""The message scanner (bot/knowledge/scan.py) and `python -m bot scan` (interfaces.md).

The scanner is measured on tests/eval/scan.yaml, a held-out set written apart from the
training corpus (content/scan_corpus.yaml) and never used to tune it; the floors below sit
just under what bench/scan.py measured on it (README). Those tests compare plain counts, so
a failure never prints a held-out message.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from bot.app import Loaded
from bot.contentfiles import ContentError
from bot.knowledge.loader import load_knowledge
from bot.knowledge.scan import (
    SPEC_FINDINGS,
    LinearModel,
    Scanner,
    ScanTexts,
    check,
    examples,
    features,
    load_config,
    load_corpus,
    prepare,
    read_labelled,
    strip,
)
from tests.conftest import ui

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT.parent / "shared" / "spec" / "message-findings.yaml"
EVAL = Path(__file__).parent / "eval" / "scan.yaml"

#: Floors on the held-out set, per language, just under what bench/scan.py measured
#: (README, 2026-12-02: precision 90.6% / 91.4%, recall 79.4% / 71.3%, lawful messages flagged
#: 2 of 60 / 7 of 45). The aims of issue 16 (recall 0.9, lawful flagged under 5% in English)
#: are not met yet; the floors follow the measurement.
PRECISION_FLOOR = {"zh": 0.89, "en": 0.90}
RECALL_FLOOR = {"zh": 0.78, "en": 0.70}
LAWFUL_FLAGGED_CEILING = {"zh": 0.05, "en": 0.16}


@pytest.fixture(scope="module")
def scanner(loaded: Loaded) -> Scanner:
    root = loaded.knowledge.root
    return Scanner.build(load_config(root), load_corpus(root), loaded.cache_dir)


@pytest.fixture(scope="module")
def texts(loaded: Loaded) -> ScanTexts:
    k = loaded.knowledge
    return ScanTexts(load_config(k.root), k.facts, k.ui)


# --- content -------------------------------------------------------------------------------

def test_the_findings_are_the_spec_s_in_its_order(loaded: Loaded) -> None:
    ids = list(load_config(loaded.knowledge.root).findings)
    assert ids[:len(SPEC_FINDINGS)] == list(SPEC_FINDINGS)
    if SPEC.exists():  # the shared spec beside the repository
        assert list(yaml.safe_load(SPEC.read_text(encoding="utf-8"))["findings"]) == list(SPEC_FINDINGS)


def test_the_shipped_scan_content_passes_the_check(loaded: Loaded) -> None:
    assert check(loaded.knowledge) == []


def test_bot_check_names_bad_patterns_instruments_labels_and_texts(tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    cfg = (content / "scan.yaml").read_text(encoding="utf-8")
    cfg = cfg.replace("      - {instrument: criminal_law, articles: [\"280\"]}",
                      "      - {instrument: no_such_law}", 1)
    cfg = cfg.replace("      - '后果自负'\n", "      - '后果自负('\n", 1)
    (content / "scan.yaml").write_text(cfg, encoding="utf-8")
    corpus = (content / "scan_corpus.yaml").read_text(encoding="utf-8")
    (content / "scan_corpus.yaml").write_text(corpus.replace("  - {f: [], t:", "  - {f: [blackmail], t:", 1),
                                              encoding="utf-8")
    en_ui = (content / "en" / "ui" / "scan.yaml").read_text(encoding="utf-8")
    en_ui = en_ui.replace("call {fraud} ({fraud_line})", "call {fraud_hotline}")
    en_ui = re.sub(r"\n      do: \"Check whether there really is a case.*", "", en_ui)
    (content / "en" / "ui" / "scan.yaml").write_text(en_ui, encoding="utf-8")
    try:
        problems = check(load_knowledge(content))
    except ContentError as exc:  # the UI strings of en and zh differ: the loader says so first
        problems = exc.problems
        (content / "zh" / "ui" / "scan.yaml").write_text(
            re.sub(r"\n      do: \"核实是不是真有案件.*", "", (content / "zh" / "ui" / "scan.yaml").read_text(
                encoding="utf-8")), encoding="utf-8")
        problems += check(load_knowledge(content))
    said = "\n".join(str(p) for p in problems)
    assert "findings.fake_documents.rules.0.instrument: unknown instrument 'no_such_law'" in said
    assert "findings.threats.patterns.0: bad pattern" in said
    assert "zh.0.f: no finding 'blackmail'" in said
    assert "scan.finding.personal_account.do: unknown placeholder {fraud_hotline}" in said
    assert "scan.finding.fake_documents.do: missing" in said


def test_no_hotline_number_is_typed_into_the_answers() -> None:
    """Numbers come from content/facts.yaml ({court}, {fraud}), never typed into ui/scan.yaml."""
    for lang in ("zh", "en"):
        raw = (ROOT / "content" / lang / "ui" / "scan.yaml").read_text(encoding="utf-8")
        body = "\n".join(line for line in raw.splitlines() if not line.lstrip().startswith("#"))
        assert not re.search(r"\b(110|120|12\d{3}|96110)\b", body), lang


# --- the scanner ---------------------------------------------------------------------------

def test_patterns_never_contradict_a_training_label(loaded: Loaded, scanner: Scanner) -> None:
    """A pattern alone is enough for a finding, so none may fire on a training message that
    does not show that finding (the patterns' precision on the corpus is 100%)."""
    rows = examples(load_corpus(loaded.knowledge.root))
    wrong = [(r.text, f) for r in rows for f in scanner.pattern_quotes(strip(prepare(r.text), scanner.exclude))
             if f not in r.findings]
    assert wrong == []


def test_the_training_messages_are_reproduced(loaded: Loaded, scanner: Scanner) -> None:
    """The model trained on the whole corpus, with the patterns, gives each training message
    its findings. Not for every one: the regressions are strongly regularised (C=2, chosen so
    that messages in an unseen style are flagged less) and the thresholds chosen by
    cross-validation, so a few messages that share almost every word with others of opposite
    labels stay on the wrong side (a polite offer to "freeze the interest" beside threats to
    freeze accounts; "think about it" in a lawful offer and in veiled threats). Measured: 98.9%
    exactly right, every finding found in at least 97.8% of its examples, 4 of 566 lawful
    ones flagged. So: at least 98.5% exactly right, every finding in at least 97%, at most 1%
    of the lawful ones flagged."""
    rows = examples(load_corpus(loaded.knowledge.root))
    found = [set(scanner.scan(r.text)) for r in rows]
    exact = sum(f == r.findings for f, r in zip(found, rows, strict=True))
    assert exact >= 0.985 * len(rows)
    for finding in scanner.findings:
        having = [f for f, r in zip(found, rows, strict=True) if finding in r.findings]
        assert sum(finding in f for f in having) >= 0.97 * len(having), finding
    lawful = [f for f, r in zip(found, rows, strict=True) if not r.findings]
    assert sum(bool(f) for f in lawful) <= 0.01 * len(lawful)


LAWFUL = [
    "【乐借】您好，您的借款第2期应还1,120元已逾期3天，请登录App还款。如已还款请忽略。",
    "您好，逾期记录会按规定报送征信，还清后会更新为结清。需要分期的话可以在App里申请。",
    "王先生，我司已向朝阳区人民法院提起诉讼，法院会依法向您送达文书，判决前仍可和解。",
    "您好，我们可以减免全部罚息，您本月底前还清本金即可。官方客服：400-100-2000。",
    "【安信消费金融】请只通过官方App还款，我司不会要求您向个人账户转账。",
    "[LeJie] Your instalment of RMB 1,120 is 3 days overdue. Please repay in the app. Ignore this if you have paid.",
    "Late payments are reported to the credit bureau; once you repay, the record shows as settled.",
    "We have filed a claim at the Chaoyang District People's Court. The court will serve the papers; you can still "
    "settle before judgment.",
    "If you clear the principal by the end of the month, we will waive all penalty interest.",
    "Please repay only in the official app. We never ask you to pay into a personal account.",
]


@pytest.mark.parametrize("text", LAWFUL)
def test_lawful_reminders_have_no_finding(scanner: Scanner, text: str) -> None:
    assert scanner.scan(text) == []


TYPICAL = [
    ("再不还钱，出门小心点，后果自负", "threats"),
    ("Pay today or you'll regret it. We know where you live.", "threats"),
    ("你这个老赖，真不要脸", "insults"),
    ("You worthless deadbeat.", "insults"),
    ("不还就把你的照片和身份证发到抖音上曝光", "public_shaming"),
    ("We'll post your photo on a WANTED poster in your village group chat.", "public_shaming"),
    ("今天不还就爆你通讯录，打你单位领导电话", "third_parties"),
    ("We will call your boss and everyone in your contact list today.", "third_parties"),
    ("明天我们的外访人员上门找你", "visits"),
    ("Our field team will visit your home tomorrow.", "visits"),
    ("我是朝阳区人民法院的工作人员，你的案子今天开庭", "impersonation"),
    ("This is Officer Li from the Economic Crimes Unit about your loan.", "impersonation"),
    ("你的电子传票已下发，点击 http://fy-ws.top/a 查看", "fake_documents"),
    ("Your arrest warrant has been issued. View it at http://court-notice.top", "fake_documents"),
    ("不还就是诈骗，等着坐牢吧", "false_consequences"),
    ("If you don't pay, all your bank cards, WeChat and Alipay will be frozen.", "false_consequences"),
    ("还款请直接转到我的个人支付宝", "personal_account"),
    ("Pay a RMB 500 unfreezing fee to this personal account first.", "personal_account"),
]


@pytest.mark.parametrize(("text", "finding"), TYPICAL)
def test_each_finding_is_recognised(scanner: Scanner, text: str, finding: str) -> None:
    assert finding in scanner.scan(text)


def test_findings_come_in_the_spec_s_order_and_traditional_characters_and_spaces_count(scanner: Scanner) -> None:
    text = "轉到我個人支付寶，不然明天上 門，爆你通 訊 錄，老賴"
    found = scanner.scan(text)
    assert {"insults", "third_parties", "visits", "personal_account"} <= set(found)
    assert found == [f for f in SPEC_FINDINGS if f in found]
    assert scanner.scan("") == [] and scanner.scan("   ") == []


def test_the_fast_margins_are_the_regressions_own(loaded: Loaded) -> None:
    """LinearModel.margins (plain arrays, no scikit-learn) gives what sklearn's own
    TfidfVectorizer + LogisticRegression.decision_function give."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    rows = examples(load_corpus(loaded.knowledge.root))[:400]
    texts = [prepare(r.text) for r in rows]
    y = [("threats" in r.findings) for r in rows]
    vec = TfidfVectorizer(analyzer=features, sublinear_tf=True, lowercase=False)
    x = vec.fit_transform(texts)
    lr = LogisticRegression(C=4.0, solver="liblinear").fit(x, y)
    model = LinearModel({t: int(i) for t, i in vec.vocabulary_.items()}, vec.idf_, lr.coef_.T, lr.intercept_,
                        ["threats"])
    probe = [*texts[:50], prepare("出门小心点 you'll regret it 123"), prepare("完全没见过的词")]
    want = lr.decision_function(vec.transform(probe))
    got = np.array([model.margins(t)[0] for t in probe])
    assert np.allclose(got, want, atol=1e-9)


def test_the_model_is_kept_as_plain_arrays_and_loads_without_scikit_learn(loaded: Loaded, scanner: Scanner) -> None:
    assert loaded.cache_dir is not None
    cached = sorted(loaded.cache_dir.glob("scan-model-*.npz"))
    assert cached
    with np.load(cached[-1], allow_pickle=False) as z:  # no pickled objects inside
        assert {"vocab", "idf", "coef", "intercept", "labels"} <= set(z.files)
    code = ("import sys; from pathlib import Path; from bot.knowledge.scan import Scanner; "
            "s = Scanner.load(Path(sys.argv[1]), Path(sys.argv[2])); "
            "print(s.scan('你个老赖'), 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(loaded.knowledge.root), str(loaded.cache_dir)],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.stdout.split() == ["['insults']", "False"], out.stderr[-500:]


# --- the readable answer -------------------------------------------------------------------

def test_the_answer_names_each_rule_with_whom_it_binds_and_what_to_do(scanner: Scanner, texts: ScanTexts,
                                                                      loaded: Loaded) -> None:
    facts = loaded.knowledge.facts
    zh = texts.render(scanner.explain("你的传票已下发，点击 http://fy-ws.top/a 查看，撤案费转到我个人支付宝"), "zh")
    assert ui("scan.finding.fake_documents.name") in zh and ui("scan.finding.personal_account.name") in zh
    assert facts.hotlines["court"].number in zh and facts.hotlines["fraud"].number in zh
    criminal_law = facts.instruments["criminal_law"].name.get("zh")
    assert f"{criminal_law}第280条（适用于：所有人）" in zh  # the instrument, its article and whom it binds
    en = texts.render(scanner.explain("We will call your boss and your parents today."), "en")
    assert ui("scan.finding.third_parties.name", "en") in en
    assert facts.instruments["gbt45251"].binds.get("en") in en
    assert ui("scan.do_title", "en") in en and "/report" in en


def test_a_lawful_message_gets_an_honest_answer(scanner: Scanner, texts: ScanTexts) -> None:
    for lang, text in (("zh", LAWFUL[0]), ("en", LAWFUL[5])):
        answer = texts.render(scanner.explain(text), lang)
        assert answer.startswith(texts.text(lang, "scan.lawful"))
    assert "within the rules" in texts.text("en", "scan.lawful")


# --- the command line ----------------------------------------------------------------------

def run_scan(args: list[str], tmp_path: Path, stdin: str = "", **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_", "WECHAT_"))}
    env.update({"BOT_DB_PATH": str(tmp_path / "bot.db"), "BOT_CACHE_DIR": str(ROOT / "data" / "cache"), **extra})
    return subprocess.run([sys.executable, "-m", "bot", "scan", *args], input=stdin, capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=120)


def test_cli_json_joins_the_arguments_into_one_message(tmp_path: Path, scanner: Scanner) -> None:
    out = run_scan(["--json", "还钱，", "你个老赖。", "明天我们上门", "找你单位领导"], tmp_path)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert set(result) == {"findings", "lang"} and result["lang"] == "zh"
    assert result["findings"] == ["insults", "third_parties", "visits"]
    assert out.stdout.count("\n") == 1


def test_cli_reads_all_of_stdin_as_one_message(tmp_path: Path) -> None:
    out = run_scan(["--json"], tmp_path, stdin="Pay today.\nOr we call your boss.\nYou deadbeat.\n")
    assert json.loads(out.stdout) == {"findings": ["insults", "third_parties"], "lang": "en"}


def test_cli_lawful_message_and_languages(tmp_path: Path) -> None:
    out = run_scan([LAWFUL[0]], tmp_path)
    assert out.returncode == 0 and out.stdout.startswith(ui("scan.lawful"))
    out = run_scan(["--lang", "en", LAWFUL[0]], tmp_path)
    assert ui("scan.lawful", "en") in out.stdout
    assert json.loads(run_scan(["--json", "--lang", "en", "你个老赖"], tmp_path).stdout) == {
        "findings": ["insults"], "lang": "en"}
    assert json.loads(run_scan(["--json", "12345"], tmp_path).stdout)["lang"] == "zh"  # no letters: the default
    assert json.loads(run_scan(["--json", "12345"], tmp_path, BOT_DEFAULT_LANG="en").stdout)["lang"] == "en"
    bad = run_scan(["--lang", "fr", "x"], tmp_path)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_cli_readable_answer(tmp_path: Path) -> None:
    out = run_scan(["出门小心点，不还钱就爆你通讯录"], tmp_path)
    assert out.returncode == 0
    assert f"1. {ui('scan.finding.threats.name')}" in out.stdout
    assert ui("scan.finding.third_parties.name") in out.stdout and ui("scan.do_title") in out.stdout


def test_cli_jsonl_answers_every_line_once_even_bad_ones(tmp_path: Path) -> None:
    lines = [
        json.dumps({"text": "你个老赖"}, ensure_ascii=False),
        json.dumps({"text": "We will visit your home tomorrow."}),
        "not json at all",
        json.dumps({"nope": 1}),
        "[1, 2, 3]",
        "",
        json.dumps({"text": 5}),
        '{"text": "\\ud800 lone surrogate, you deadbeat"}',
        "[" * 5000 + "]" * 5000,
        json.dumps({"text": LAWFUL[1]}, ensure_ascii=False),
    ]
    out = run_scan(["--jsonl"], tmp_path, stdin="\n".join(lines) + "\n")
    assert out.returncode == 0, out.stderr[-500:]
    got = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(got) == len(lines)
    assert got[0] == {"findings": ["insults"], "lang": "zh"}
    assert got[1] == {"findings": ["visits"], "lang": "en"}
    for i in (2, 3, 4, 5, 6, 8):
        assert got[i]["findings"] == [] and "error" in got[i] and got[i]["lang"] == "zh", i
    assert got[7] == {"findings": ["insults"], "lang": "en"}
    assert got[9] == {"findings": [], "lang": "zh"}


def test_cli_jsonl_flushes_each_line_as_it_comes(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_", "WECHAT_"))}
    env.update({"BOT_DB_PATH": str(tmp_path / "bot.db"), "BOT_CACHE_DIR": str(ROOT / "data" / "cache")})
    proc = subprocess.Popen([sys.executable, "-m", "bot", "scan", "--jsonl", "--lang", "en"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=tmp_path, env=env, text=True)
    try:
        assert proc.stdin and proc.stdout
        proc.stdin.write('{"text": "出门小心点"}\n')
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline()) == {"findings": ["threats"], "lang": "en"}  # stdin still open
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()


# --- the held-out set ----------------------------------------------------------------------

def _held_out(scanner: Scanner) -> list:
    if not EVAL.exists():
        pytest.skip("no held-out set at tests/eval/scan.yaml")
    return read_labelled(yaml.safe_load(EVAL.read_text(encoding="utf-8")), scanner.findings)


def test_the_held_out_set_is_not_training_data(loaded: Loaded, scanner: Scanner) -> None:
    """No held-out message may be a training message (its figures would mean nothing). Counts
    only: plain integers, nothing for pytest to show."""
    training = {prepare(r.text) for r in examples(load_corpus(loaded.knowledge.root))}
    copied = int(sum(prepare(r.text) in training for r in _held_out(scanner)))
    assert copied == 0


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_held_out_floors(scanner: Scanner, lang: str) -> None:
    """Micro precision and recall, and the share of lawful messages flagged, on the held-out
    set; counts are computed first so a failure shows numbers only."""
    rows = [r for r in _held_out(scanner) if r.lang == lang]
    tp = fp = fn = lawful = flagged = 0
    for r in rows:
        found = set(scanner.scan(r.text))
        tp += len(found & r.findings)
        fp += len(found - r.findings)
        fn += len(r.findings - found)
        if not r.findings:
            lawful += 1
            flagged += bool(found)
    precision = float(tp / (tp + fp)) if tp + fp else 1.0
    recall = float(tp / (tp + fn)) if tp + fn else 1.0
    flag_rate = float(flagged / lawful) if lawful else 0.0
    del rows
    assert precision >= PRECISION_FLOOR[lang]
    assert recall >= RECALL_FLOOR[lang]
    assert flag_rate <= LAWFUL_FLAGGED_CEILING[lang]
