"""Issue 11, "Legal accuracy": one regression test (or a few) per item, in zh and en.

Each test asserts meaning, not wording: which rule, which instrument, which caveat, whom a
rule binds, what a letter must never say. Sources: ../shared/spec/legal-facts.md (section 9
added 2026-12-02). The item number is in each test's name.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from bot.actions import complaints
from bot.actions.assess import assess
from bot.actions.drafts import render_drafts
from bot.actions.routing import route
from bot.core.engine import Engine
from bot.knowledge.loader import Knowledge
from bot.knowledge.matcher import Matcher
from tests.conftest import shown, ui
from tests.test_complaints import Talk, record
from tests.test_report_stories import report_knowledge

LANGS = ("zh", "en")
TODAY = dt.date(2026, 11, 29)
CREDIT_CARD = {"zh": "恶意透支", "en": "malicious overdraft"}


def slots(**kw: object) -> dict:
    return {"role": "borrower", "lender_name": "测试借", "lender_kind": "microloan",
            "behaviours": ["called_employer"], "started": "2026-11-01", "latest": "2026-11-20", **kw}


def finding(a, fid: str):
    return next(f for f in a.findings if f.id == fid)


def sources(k: Knowledge, topic: str, lang: str) -> set[tuple[str, str | None]]:
    """(instrument id, article) pairs of an answer, read from its file."""
    import yaml
    data = yaml.safe_load((k.root / lang / "faq" / f"{topic}.yaml").read_text(encoding="utf-8"))
    return {(s["instrument"], s.get("article")) for s in data["sources"]}


def full(k: Knowledge, topic: str, lang: str) -> str:
    a = k.answer(topic, lang)
    return a.short + "\n" + (a.more or "")


# --- 1. credit cards: the third exception, on the first screen ----------------------------------

NOT_A_CRIME_TOPICS = ("arrest_jail", "must_i_repay", "impersonating_authorities", "fake_legal_documents",
                      "employer_dismissal", "credit_card_overdue")


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("topic", NOT_A_CRIME_TOPICS)
def test_1_credit_card_malicious_overdraft_is_on_the_first_screen(knowledge: Knowledge, topic: str,
                                                                   lang: str) -> None:
    short = knowledge.answer(topic, lang).short.lower()
    assert CREDIT_CARD[lang] in short
    assert ("criminal_law", "196") in sources(knowledge, topic, lang)
    assert ("spc_2018_19", None) in sources(knowledge, topic, lang)


@pytest.mark.parametrize("lang", LANGS)
def test_1_the_conditions_of_malicious_overdraft_and_staying_reachable(knowledge: Knowledge, lang: str) -> None:
    for topic in ("arrest_jail", "credit_card_overdue"):
        text = full(knowledge, topic, lang)
        assert "3" in text and ("5万" in text or "50,000" in text)        # 3 months, 50,000 yuan
        assert ("两次" in text) if lang == "zh" else ("two valid demands" in text)
    short = knowledge.answer("credit_card_overdue", lang).short
    assert ("联系" in short) if lang == "zh" else ("reach" in short)    # keep the bank informed


def test_1_no_answer_claims_only_two_exceptions(knowledge: Knowledge) -> None:
    two = re.compile(r"两种例外|只有两种|例外只有|two exceptions|only exceptions are|the only exceptions", re.I)
    for topic, by_lang in knowledge.answers.items():
        if topic == "crisis_support":        # owned elsewhere (the crisis reply)
            continue
        for lang, ans in by_lang.items():
            assert not two.search(ans.short + (ans.more or "")), (topic, lang)


@pytest.mark.parametrize("lang", LANGS)
def test_1_the_reports_not_a_crime_note_names_credit_cards(lang: str) -> None:
    k = report_knowledge()
    assert CREDIT_CARD[lang] in k.text(lang, "report.note.not_a_crime").lower()
    a = assess(slots(lender_kind="bank", behaviours=["threats"]))
    assert "credit_card" in a.notes                       # bank cards: stay reachable
    assert "credit_card" not in assess(slots(behaviours=["threats"])).notes


# --- 2. the lender's answer deadline binds banks, insurers and consumer finance only ------------

@pytest.mark.parametrize("kind", ["microloan", "platform", "unlicensed_unknown", None])
def test_2_no_legal_deadline_for_other_lenders(kind: str | None) -> None:
    assert complaints.first_stage("lender_service", kind) == "lender_none"
    d = complaints.deadline("lender_none", dt.date(2026, 11, 1), report_knowledge().facts.deadlines)
    assert not d.legal


@pytest.mark.parametrize("kind", ["bank", "consumer_finance"])
def test_2_banks_and_consumer_finance_have_the_deadline(kind: str) -> None:
    assert complaints.first_stage("lender_service", kind) == "answer"


@pytest.mark.parametrize("lang", LANGS)
def test_2_tracker_and_escalation_letter_for_a_microlender(engine: Engine, lang: str) -> None:
    talk = Talk(engine, lang=lang)
    c = record(talk, "lender_service", kind="microloan", filed="2026-11-25")
    assert c["stage"] == "lender_none"
    talk.press(f"cpl:v:{c['id']}")
    assert ("没有法定的答复期限" in talk.text) if lang == "zh" else ("no legal deadline" in talk.text)
    replies = talk.press(f"cpl:a:{c['id']}:none")
    letter = next(r for r in replies if r.kind == "draft").text          # in Chinese for every user
    assert not any(x in letter for x in ("未在规定期限内", "期限已于"))
    if lang == "en":                                                    # nor its translation
        read = replies[replies.index(next(r for r in replies if r.kind == "draft")) + 1].text
        assert read.startswith(ui("letter.translation", "en"))
        assert not any(x in read for x in ("legal time limit", "That time ran out"))


@pytest.mark.parametrize("lang", LANGS)
def test_2_escalation_letter_for_a_bank_still_claims_the_deadline(engine: Engine, lang: str) -> None:
    talk = Talk(engine, lang=lang)
    c = record(talk, "lender_service", kind="bank", filed="2026-11-01")
    replies = talk.press(f"cpl:a:{c['id']}:none")
    i = next(i for i, r in enumerate(replies) if r.kind == "draft")
    assert "期限已于" in replies[i].text                                   # in Chinese for every user
    if lang == "en":
        assert "That time ran out" in replies[i + 1].text                 # its translation


def test_2_a_continuing_complaint_about_a_microlender_claims_no_deadline(engine: Engine) -> None:
    talk = Talk(engine, lang="en")
    c = record(talk, "stop_request", kind="microloan", filed="2026-11-20")
    replies = talk.press(f"cpl:a:{c['id']}:continuing")
    i = next(i for i, r in enumerate(replies) if r.kind == "draft")
    assert "尽快书面答复" in replies[i].text and "日内书面答复" not in replies[i].text   # the letter, in Chinese
    read = replies[i + 1].text                                             # its English translation
    assert "requires" not in read and "as soon as possible" in read
    assert f"cpl:s:{c['id']}:lender_service:lender_none" in talk.buttons


# --- 3. call frequency: counted apart, against the cap that binds the lender --------------------

@pytest.mark.parametrize(("kind", "counts", "fid"), [
    ("microloan", {"calls_connected": 3}, "call_frequency_check"),
    ("microloan", {"calls_connected": 4}, "call_frequency"),
    ("microloan", {"calls_unanswered": 30}, "call_frequency_check"),   # GB/T counts connected calls
    ("bank", {"calls_unanswered": 6}, "call_frequency_check"),
    ("bank", {"calls_unanswered": 7}, "call_frequency"),
    ("bank", {"calls_connected": 5}, "call_frequency_check"),          # CBA counts unanswered attempts
    ("platform", {"texts_per_day": 200}, "call_frequency_check"),      # texts have no numeric cap
    ("platform", {}, "call_frequency_check"),
])
def test_3_likely_violation_only_above_a_cap_that_binds(kind: str, counts: dict, fid: str) -> None:
    a = assess(slots(lender_kind=kind, behaviours=["call_bombing"], **counts))
    f = finding(a, fid)
    assert f.severity == ("likely_violation" if fid == "call_frequency" else "worth_raising")
    instruments = {r.instrument for r in f.rules}
    assert instruments & {"police_law", "soft_violence_2019"} == set()   # never for a frequency
    assert ("cba_2026" if kind == "bank" else "gbt45251") in instruments
    if "texts_per_day" in counts:
        assert "texts_no_cap" in f.notes


def test_3_the_dialog_asks_connected_unanswered_and_texts_apart(loaded) -> None:
    steps = loaded.dialogs["report"].steps
    asks = [steps[s].ask for s in ("calls_per_day", "calls_unanswered", "texts_per_day")]
    assert asks == ["report.calls_connected", "report.calls_unanswered", "report.texts_per_day"]


@pytest.mark.parametrize("lang", LANGS)
def test_3_letters_agree_with_the_finding(lang: str) -> None:
    k = report_knowledge()
    s = slots(behaviours=["call_bombing"], calls_connected=2, calls_unanswered=3)
    drafts = render_drafts(s, k, lang, TODAY)
    bombing = re.compile(r"轰炸|呼死你|bombing", re.I)
    for draft_id in ("lender_complaint", "regulator_complaint", "stop_contact"):
        assert not bombing.search(drafts[draft_id]), draft_id
    assert "2" in drafts["lender_complaint"] and "3" in drafts["lender_complaint"]


# --- 4. threats: violence apart from visits; the police statement says only what was reported --

def test_4_a_threat_to_visit_is_not_a_threat_of_violence() -> None:
    a = assess(slots(behaviours=["threat_visit"]))
    f = finding(a, "threat_visit")
    assert f.severity == "worth_raising" and not a.urgent
    assert "threats" not in a.ids()
    v = assess(slots(behaviours=["threats"]))
    assert finding(v, "threats").severity == "urgent"


def test_4_threats_rest_on_the_police_law_and_293_is_only_a_condition() -> None:
    f = finding(assess(slots(behaviours=["threats"])), "threats")
    rules = {(r.instrument, r.articles) for r in f.rules}
    assert ("police_law", ("50",)) in rules
    assert not any(i == "criminal_law" and "293" in arts for i, arts in rules)
    assert {"serious", "no_contact"} <= set(f.notes)


@pytest.mark.parametrize("lang", LANGS)
def test_4_the_police_statement_quotes_the_user_and_adds_nothing(lang: str) -> None:
    k = report_knowledge()
    words = "明天去你家找你"
    s = slots(behaviours=["threats"], threat_words=words)
    text = render_drafts(s, k, lang, TODAY)["police_statement"]
    assert words in text
    others = [b for b in ("impersonation", "public_shaming", "fake_documents", "visits", "called_contacts",
                          "insults", "threat_visit")]
    for b in others:
        assert k.text(lang, f"report.says.{b}") not in text, b
    stock = (("同事都看到了", "自称是警察", "感到害怕") if lang == "zh"
             else ("colleagues saw", "claimed to be from the police", "afraid"))
    assert not any(x in text for x in stock)
    police = k.facts.instruments["police_law"].name.get(lang)
    assert police in text
    assert ("第50条第1款" in text and "第50条第2款" in text) if lang == "zh" else \
        ("Art. 50(1)" in text and "Art. 50(2)" in text)
    # Art. 293 appears only with its "egregious" condition
    for line in text.splitlines():
        if re.search(r"第293条(?!之一)|Art\. 293(?!-)", line):
            assert ("情节恶劣" in line) if lang == "zh" else ("egregious" in line)


# --- 5. up-front deductions bind every lender (Civil Code Art. 670) -----------------------------

@pytest.mark.parametrize("kind", ["bank", "consumer_finance", "microloan"])
def test_5_upfront_deduction_binds_licensed_lenders_too(kind: str) -> None:
    f = finding(assess(slots(lender_kind=kind, loan_amount=10000, loan_received=8000)), "upfront_deduction")
    assert ("civil_code", ("670",)) in {(r.instrument, r.articles) for r in f.rules}
    assert "all_lenders" in f.notes and "licensed" not in f.notes


@pytest.mark.parametrize("lang", LANGS)
def test_5_answers_say_670_applies_to_licensed_lenders(knowledge: Knowledge, lang: str) -> None:
    for topic in ("interest_legal_limit", "must_i_repay"):
        assert ("civil_code", "670") in sources(knowledge, topic, lang)
        short = knowledge.answer(topic, lang).short
        words = ("持牌", "所有贷款方") if lang == "zh" else ("licensed", "every lender")
        assert any(w in short for w in words)


# --- 6. the third-party ban is not attributed to CBIRC Order 2022 No. 9 -------------------------

@pytest.mark.parametrize("kind", ["bank", "consumer_finance", "microloan", "platform", "unlicensed_unknown"])
def test_6_third_party_findings_never_cite_order_2022_9(kind: str) -> None:
    a = assess(slots(lender_kind=kind, reachable=True,
                     behaviours=["called_employer", "called_contacts", "contacted_family", "pressed_others",
                                 "disclosed_debt"]))
    for f in a.findings:
        assert "cbirc_2022_9" not in {r.instrument for r in f.rules}, f.id
    if kind == "bank":
        rules = {(r.instrument, r.articles) for r in finding(a, "pressed_others").rules}
        assert ("credit_card_2011", ("68",)) in rules


@pytest.mark.parametrize("lang", LANGS)
def test_6_employer_answer_does_not_cite_order_2022_9(knowledge: Knowledge, lang: str) -> None:
    assert not any(i == "cbirc_2022_9" for i, _ in sources(knowledge, "employer_contact", lang))


# --- 7. platforms: find the lender in the contract; NIFA is not a regulator ---------------------

@pytest.mark.parametrize("kind", ["platform", "unlicensed_unknown"])
def test_7_first_find_the_lender_named_in_the_contract(kind: str) -> None:
    ids = route(slots(lender_kind=kind)).ids()
    assert ids.index("find_lender") < ids.index("lender_complaint")


@pytest.mark.parametrize("lang", LANGS)
def test_7_nifa_has_no_regulator_letter_and_is_called_an_association(lang: str) -> None:
    r = route(slots(lender_kind="platform"))
    nifa = r.steps[r.ids().index("nifa")]
    assert nifa.draft is None
    k = report_knowledge()
    from bot.actions.assess import Incident
    from bot.actions.routing import render_route
    text = render_route(r, Incident.from_slots(slots(lender_kind="platform")), k, lang)
    assert k.facts.authorities["nifa_body"].note.get(lang) in text
    assert k.facts.authorities["nfra"].name.get(lang) in text          # bank behind a platform: 12378
    letter = render_drafts(slots(lender_kind="platform"), k, lang, TODAY)["regulator_complaint"]
    assert k.text(lang, "report.blank.regulator_choice") in letter


@pytest.mark.parametrize("lang", LANGS)
def test_7_the_line_before_a_platforms_regulator_letter_names_no_single_regulator(lang: str) -> None:
    """For a platform the regulator depends on the lender behind it: the "who it is for" line
    must not say "the local bureau" alone (a bank behind a platform answers to NFRA)."""
    from bot.actions.report import compose, draft_replies

    k = report_knowledge()
    o = compose(slots(lender_kind="platform"), k, lang, TODAY)
    replies = draft_replies(o, k, lang, only="regulator_complaint")
    how = replies[0].text
    assert k.text(lang, "report.out.regulator_of_contract_lender") in how
    assert k.facts.authorities["nfra"].name.get(lang) in how or ("NFRA" in how if lang == "en" else False)
    local = compose(slots(lender_kind="microloan"), k, lang, TODAY)
    line = draft_replies(local, k, lang, only="regulator_complaint")[0].text
    assert k.text(lang, "report.out.regulator_local") in line


@pytest.mark.parametrize("lang", LANGS)
def test_7_complaint_channels_do_not_list_nifa_as_a_regulator(knowledge: Knowledge, lang: str) -> None:
    short = knowledge.answer("complaint_channels", lang).short
    assert "贷款人/出借人" in short if lang == "zh" else "(贷款人/出借人)" in short
    assert knowledge.facts.authorities["nifa_body"].note.get(lang) in short


# --- 8. "only repay the legal part" must not invite underpaying ----------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_8_must_i_repay_warns_against_paying_less_on_ones_own(knowledge: Knowledge, lang: str) -> None:
    short = knowledge.answer("must_i_repay", lang).short
    if lang == "zh":
        assert "只还合法" not in short
        assert all(w in short for w in ("罚息", "征信", "起诉", "协商", "异议"))
    else:
        assert "only the lawful part" not in short
        assert all(w in short for w in ("penalt", "credit", "sued", "agreement", "objection"))


# --- 9. arbitration and the debtor blacklist are real procedures ---------------------------------

@pytest.mark.parametrize(("text", "topic"), [
    ("收到仲裁通知怎么办", "arbitration_notary"),
    ("会被列入失信被执行人吗", "judgment_enforcement"),
    ("i got an arbitration notice about my loan", "arbitration_notary"),
    ("will i end up on the dishonest debtor blacklist", "judgment_enforcement"),
])
def test_9_arbitration_and_blacklist_questions_get_their_own_answers(matcher: Matcher, text: str,
                                                                      topic: str) -> None:
    m = matcher.match(text)
    assert m.candidates and m.candidates[0][0] == topic


@pytest.mark.parametrize("lang", LANGS)
def test_9_arbitration_is_final_and_12368_cannot_verify_it(knowledge: Knowledge, lang: str) -> None:
    src = sources(knowledge, "arbitration_notary", lang)
    assert {("arbitration_law", "9"), ("arbitration_law", "62")} <= src
    short = knowledge.answer("arbitration_notary", lang).short
    assert knowledge.facts.hotlines["court"].number in short
    assert ("查不到" in short) if lang == "zh" else ("cannot" in short)
    fake = knowledge.answer("fake_legal_documents", lang).short
    assert ("仲裁" in fake) if lang == "zh" else ("arbitration" in fake)     # not "all fake"


@pytest.mark.parametrize("lang", LANGS)
def test_9_blacklist_only_after_a_judgment_and_refusal(knowledge: Knowledge, lang: str) -> None:
    short = knowledge.answer("judgment_enforcement", lang).short
    words = ("判决", "不履行") if lang == "zh" else ("judgment", "fail to comply")
    assert all(w in short for w in words)
    assert ("dishonest_list", None) in sources(knowledge, "judgment_enforcement", lang)


# --- 10. the employer headline is "it depends" ------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_10_employer_headline_depends_and_dismissal_agrees(knowledge: Knowledge, lang: str) -> None:
    short = knowledge.answer("employer_contact", lang).short
    assert short.startswith("要看情况") if lang == "zh" else short.startswith("It depends")
    assert ("不等于" in short) if lang == "zh" else ("not the same as breaking the law" in short)
    dismissal = knowledge.answer("employer_dismissal", lang).short
    assert ("本身就是违规" not in dismissal) if lang == "zh" else ("is itself improper" not in dismissal)
    assert ("要看情况" in dismissal) if lang == "zh" else ("depends" in dismissal)


# --- 11. defamation thresholds and Art. 253-1 not overstated -----------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_11_defamation_thresholds_and_private_prosecution(knowledge: Knowledge, lang: str) -> None:
    text = full(knowledge, "public_shaming", lang)
    assert ("捏造" in text and "告诉才处理" in text) if lang == "zh" else \
        ("invented facts" in text and "own complaint" in text)
    assert ("数量门槛" in text) if lang == "zh" else ("volume thresholds" in text)
    assert ("pipl", None) in sources(knowledge, "public_shaming", lang)
    insults = full(knowledge, "insults_abuse", lang)
    assert ("捏造" in insults) if lang == "zh" else ("invented facts" in insults)


# --- 12. the 4x LPR line: LPR at signing, old loans, unverified after its date, void contracts ------

@pytest.mark.parametrize("lang", LANGS)
def test_12_lpr_at_signing_old_loans_and_void_contracts(knowledge: Knowledge, lang: str) -> None:
    short = knowledge.answer("interest_legal_limit", lang).short
    lpr = knowledge.facts.lpr
    assert lpr.confirmed_through in short                                  # flagged after its date
    assert ("签合同" in short and "2020年8月20日" in short and "无效" in short) if lang == "zh" else \
        ("signed" in short and "20 August 2020" in short and "void" in short)
    for topic in ("interest_legal_limit", "must_i_repay", "unlicensed_lender"):
        assert ("spc_private_lending_2020", "13") in sources(knowledge, topic, lang)


# --- 13. legal aid and internet courts --------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_13_legal_aid_for_a_loan_suit_depends_on_local_rules(knowledge: Knowledge, lang: str) -> None:
    short = knowledge.answer("legal_aid", lang).short
    assert ("legal_aid_law", "31") in sources(knowledge, "legal_aid", lang)
    assert ("当地" in short and "免费" in short) if lang == "zh" else ("local" in short and "free" in short)
    for topic in ("legal_aid", "lawsuit_summons", "complaint_channels"):
        text = full(knowledge, topic, lang)
        if "互联网法院" in text or "internet court" in text.lower():
            assert ("本市" in text) if lang == "zh" else ("own city" in text), topic


# --- 14. 12321: report online, by WeChat or by forwarding texts; the phone line is for enquiries ----

def test_14_nobody_is_told_to_call_12321_to_report(knowledge: Knowledge) -> None:
    number = knowledge.facts.hotlines["telecom"].number
    note = {lang: knowledge.facts.authorities["telecom_report"].note.get(lang) for lang in LANGS}
    call = re.compile(rf"(打|拨打|call)\s*{number}", re.I)
    for topic, by_lang in knowledge.answers.items():
        for lang, ans in by_lang.items():
            text = ans.short + (ans.more or "")
            assert not call.search(text), (topic, lang)
            if number in text:
                assert note[lang] in text, (topic, lang)
    k = report_knowledge()
    for lang in LANGS:
        r = route(slots(behaviours=["call_bombing"]))
        from bot.actions.assess import Incident
        from bot.actions.routing import render_route
        assert note[lang] in render_route(r, Incident.from_slots(slots(behaviours=["call_bombing"])), k, lang)


# --- 15. notes to the employer and to contacts disclose the minimum --------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_15_minimal_notes(lang: str) -> None:
    k = report_knowledge()
    s = slots(lender_name="闪电借", behaviours=["called_employer", "called_contacts", "disclosed_debt", "threats"],
              work_who=["boss", "hr"], work_said="他欠我们五万块", loan_amount=50000, loan_received=40000,
              loan_known=True, threat_words="不还就去你家")
    drafts = render_drafts(s, k, lang, TODAY)
    for draft_id in ("employer_notice", "contacts_message"):
        text = drafts[draft_id]
        for banned in ("闪电借", "他欠我们五万块", "不还就去你家", "50,000", "40,000"):
            assert banned not in text, (draft_id, banned)
        for b in s["behaviours"]:
            assert k.text(lang, f"report.says.{b}") not in text, (draft_id, b)
        claims = ("已经要求", "已经投诉", "正在投诉", "我正在处理") if lang == "zh" else \
            ("I have complained", "I have asked them", "I am complaining")
        assert not any(c in text for c in claims), draft_id
        for w in ("boss", "hr"):
            assert k.text(lang, f"report.work_who.opt.{w}") not in text
        assert ("时间" in text and "号码" in text) if lang == "zh" else ("time" in text and "number" in text)


# --- 16. letters to the lender and the regulator: identifiers and the rules that bind --------------

@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("kind", "binding"), [
    ("bank", {"credit_card_2011", "cba_2026"}),
    ("consumer_finance", {"nfra_2024_4", "gbt45251"}),
    ("microloan", {"gbt45251"}),
])
def test_16_lender_letters_identify_the_account_and_cite_binding_rules(lang: str, kind: str, binding: set) -> None:
    k = report_knowledge()
    s = slots(lender_kind=kind, behaviours=["threats", "impersonation", "called_contacts"])
    drafts = render_drafts(s, k, lang, TODAY)
    criminal = k.facts.instruments["criminal_law"].name.get(lang)
    police = k.facts.instruments["police_law"].name.get(lang)
    for draft_id in ("lender_complaint", "regulator_complaint"):
        text = drafts[draft_id]
        assert k.text(lang, "report.blank.legal_name") in text
        assert k.text(lang, "report.blank.contract_no") in text and k.text(lang, "report.blank.id_last4") in text
        for inst in binding:
            assert k.facts.instruments[inst].name.get(lang) in text, (draft_id, inst)
        assert criminal not in text and police not in text, draft_id


# --- 17. the answers people asked for -------------------------------------------------------------

NEW_TOPICS = ("limitation_period", "judgment_enforcement", "arbitration_notary", "mediation_calls",
              "borrower_death_family_debt", "credit_card_overdue")


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("topic", NEW_TOPICS)
def test_17_new_topics_exist_with_sources_and_dates(knowledge: Knowledge, topic: str, lang: str) -> None:
    assert topic in knowledge.catalog
    ans = knowledge.answer(topic, lang)
    assert ans.sources and ans.checked == "2026-12-02"


@pytest.mark.parametrize("lang", LANGS)
def test_17_the_rules_the_new_answers_rest_on(knowledge: Knowledge, lang: str) -> None:
    assert {("civil_code", "188"), ("civil_code", "195")} <= sources(knowledge, "limitation_period", lang)
    assert {("civil_code", "1161"), ("civil_code", "1064")} <= sources(knowledge, "borrower_death_family_debt", lang)
    assert {("credit_reporting_regs", a) for a in ("15", "16", "25")} <= sources(knowledge, "credit_report", lang)
    limitation = knowledge.answer("limitation_period", lang).short
    assert "3" in limitation and (("重新" in limitation) if lang == "zh" else ("restart" in limitation))
    credit = knowledge.answer("credit_report", lang).short
    assert "5" in credit and "20" in credit
    assert knowledge.facts.authorities["credit_center"].name.get(lang) in credit
    death = knowledge.answer("borrower_death_family_debt", lang).short
    assert ("遗产" in death) if lang == "zh" else ("estate" in death)


@pytest.mark.parametrize(("text", "topic"), [
    ("网贷欠了五六年了现在还要还吗", "limitation_period"),
    ("有个调解中心天天打电话让我还钱", "mediation_calls"),
    ("爸爸过世了 平台让我们替他还网贷", "borrower_death_family_debt"),
    ("信用卡透支不还会坐牢吗 恶意透支怎么算", "credit_card_overdue"),
    ("my loan is seven years old, can they still collect", "limitation_period"),
    ("a mediation centre keeps phoning me about my debt", "mediation_calls"),
])
def test_17_new_topics_are_found(matcher: Matcher, text: str, topic: str) -> None:
    m = matcher.match(text)
    assert m.candidates and m.candidates[0][0] == topic


def test_item16_a_ticket_in_latin_letters_keeps_the_letters_language(engine: Engine) -> None:
    """A person who never chose a language and writes Chinese: a lender name and a ticket
    typed in Latin letters mid-dialog do not turn the bot (and the letters) English."""
    talk = Talk(engine, user="latin", lang=None)       # no /lang: the bot follows their typing
    talk.say("催收天天打我电话怎么办")
    assert engine.store.user_by_id(talk.user_id)["lang"] == "zh"
    talk.say("/track")
    talk.press("o:lender_service")
    talk.say("Quick Cash")
    talk.press("o:microloan")
    talk.say("2026-11-20")
    talk.say("QC-20261120")
    talk.press("c:ok")
    assert engine.store.user_by_id(talk.user_id)["lang"] == "zh"
    assert shown("complaints.saved", talk.text) and "QC-20261120" in talk.text
    talk.say("what can I do about collectors calling my boss?")  # outside a dialog, typing still leads
    assert engine.store.user_by_id(talk.user_id)["lang"] == "en"
