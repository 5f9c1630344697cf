"""Six realistic stories, in both languages, through the report's pure functions.

Each story is the answers a person would give in the report dialog (slots in); we check the
findings, the order of the steps and that every draft is complete: the lender's name, the
dates and every behaviour given, with no template syntax left over.

`report_knowledge()` builds the knowledge base from content/facts.yaml and the UI strings
only, so these tests depend on the report's own content and not on every FAQ answer being
finished; the dialog tests (test_report_dialog.py) use the full content through the engine.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.actions.assess import Incident
from bot.actions.drafts import fmt_date
from bot.actions.report import Outcome, compose, draft_replies, findings_replies, steps_reply
from bot.contentfiles import read_yaml, validate
from bot.knowledge.loader import Knowledge, flatten, make_env
from bot.knowledge.models import CrisisFile, Facts
from bot.locale import load_locales
from tests.conftest import ui

ROOT = Path(__file__).resolve().parent.parent / "content"
TODAY = dt.date(2026, 11, 29)
LEFTOVERS = ("{{", "}}", "{%", "%}", "None", "Undefined")


@lru_cache(maxsize=1)
def report_knowledge() -> Knowledge:
    """Languages, facts and UI strings from content/, without the FAQ answers."""
    locales = load_locales(ROOT)
    facts = validate(Facts, read_yaml(ROOT / "facts.yaml", ROOT), ROOT)
    crisis = validate(CrisisFile, read_yaml(ROOT / "crisis.yaml", ROOT), ROOT)
    ui: dict[str, dict[str, str]] = {lang: {} for lang in locales}
    for lang in locales:
        for path in sorted((ROOT / lang / "ui").glob("*.yaml")):
            try:
                ui[lang].update(flatten(yaml.safe_load(path.read_text(encoding="utf-8"))))
            except yaml.YAMLError:  # another feature's file being edited; not ours
                assert path.name != "report.yaml", f"{path} is not valid YAML"
    return Knowledge(ROOT, facts, ui, {}, (), crisis, make_env(), locales=locales)


def behaviour_phrase(k: Knowledge, lang: str, inc: Incident, b: str) -> str:
    key = f"report.says_contact.{b}"
    return k.text(lang, key if inc.is_contact and k.has_text(lang, key) else f"report.says.{b}")


def check_drafts(o: Outcome, k: Knowledge, lang: str) -> None:
    """Every draft names the lender, both dates and every behaviour, with nothing unfilled;
    the notes to the employer and to contacts name none of them (minimum disclosure)."""
    inc = o.incident
    assert o.drafts, "a report always has drafts"
    for draft_id, text in o.drafts.items():
        for bad in LEFTOVERS:
            assert bad not in text, (draft_id, bad)
        if draft_id in ("employer_notice", "contacts_message"):
            assert inc.lender not in text, draft_id
            assert not any(behaviour_phrase(k, lang, inc, b) in text for b in inc.behaviours), draft_id
            continue
        assert inc.lender in text, draft_id
        for day in (inc.started, inc.latest):
            assert day is not None
            assert fmt_date(day, lang) in text, (draft_id, day)
        for b in inc.behaviours:
            assert behaviour_phrase(k, lang, inc, b) in text, (draft_id, b)


def run(slots: dict[str, Any], lang: str) -> Outcome:
    """The report with letters in `lang` too (the templates of that language are checked; the
    letter language itself is tested in test_letter_language.py)."""
    k = report_knowledge()
    o = compose(slots, k, lang, TODAY, letters=lang)
    # the replies render too, in this language, with nothing unfilled
    replies = [*findings_replies(o, k, lang), steps_reply(o, k, lang), *draft_replies(o, k, lang)]
    for reply in replies:
        for bad in LEFTOVERS:
            assert bad not in reply.text
    check_drafts(o, k, lang)
    return o


def severity(o: Outcome, finding: str) -> str | None:
    return o.assessment.severity(finding)


LANG = pytest.mark.parametrize("lang", ["zh", "en"])


# 1. The collector told the borrower's boss and HR about the debt and asked them to dock pay.
EMPLOYER = {
    "role": "borrower", "lender_name": "安达消费金融", "lender_kind": "consumer_finance",
    "behaviours": ["called_employer", "disclosed_debt", "pressed_others"],
    "work_who": ["boss", "hr"], "work_said": "说我欠钱不还，让公司扣我工资",
    "consent": "not_agreed", "reachable": True,
    "started": "2026-10-08", "latest": "2026-11-25", "evidence": ["recordings"],
    "loan_known": False, "wants": ["stop_contact", "complain"], "contact_by": "calls_workhours",
    "your_name": "李明", "your_phone": "13800001111",
}


@LANG
def test_employer_told_about_the_debt(lang: str) -> None:
    o = run(EMPLOYER, lang)
    assert severity(o, "employer_contact") == "likely_violation"
    assert severity(o, "disclosed_debt") == "likely_violation"
    assert severity(o, "pressed_others") == "likely_violation"
    assert not o.assessment.urgent
    employer = next(f for f in o.assessment.findings if f.id == "employer_contact")
    assert {r.instrument for r in employer.rules} >= {"gbt45251", "nfra_2024_4"}
    assert "others_owe_nothing" in o.assessment.notes
    ids = o.route.ids()
    assert ids[0] == "evidence" and ids[-1] == "legal_aid"
    assert ids.index("stop_request") < ids.index("employer_notice") < ids.index("lender_complaint") \
        < ids.index("regulator_nfra")
    assert "police_now" not in ids and "police" not in ids
    steps = {s.id: s for s in o.route.steps}
    assert steps["lender_complaint"].deadline == "institution"
    assert steps["regulator_nfra"].deadline == "petition"
    assert o.route.regulator == "nfra"
    assert list(o.drafts) == ["stop_contact", "employer_notice", "lender_complaint", "regulator_complaint"]
    notice = o.drafts["employer_notice"]
    assert "说我欠钱不还，让公司扣我工资" not in notice            # no quotes of the collector
    assert "说我欠钱不还，让公司扣我工资" in o.drafts["lender_complaint"]
    assert ui("report.work_who.opt.boss", lang) not in notice   # no button labels
    assert "李明" in notice and "13800001111" in o.drafts["stop_contact"]
    k = report_knowledge()
    assert k.text(lang, "report.contact_by.letter.calls_workhours") in o.drafts["stop_contact"]
    days = str(k.facts.deadlines["institution"]["days"])
    assert days in o.drafts["lender_complaint"]
    assert k.facts.authorities["nfra"].name.get(lang) in o.drafts["regulator_complaint"]


# 2. The app blasted the contact list; family were told; money was kept back at the start.
CONTACTS = {
    "role": "borrower", "lender_name": "米来花", "lender_kind": "platform",
    "behaviours": ["called_contacts", "disclosed_debt", "contacted_family"],
    "consent": "app_access", "reachable": True,
    "started": "2026-09-20", "latest": "2026-11-27", "collector_ids": "16500001234 95xxx",
    "evidence": ["screenshots", "witnesses"],
    "loan_known": True, "loan_amount": 5000, "loan_received": 3500, "overdue_since": "2026-09-15",
    "wants": ["stop_contact", "negotiate"], "contact_by": "messages_only",
}


@LANG
def test_contacts_blasted(lang: str) -> None:
    o = run(CONTACTS, lang)
    blasted = next(f for f in o.assessment.findings if f.id == "contacts_blasted")
    assert blasted.severity == "likely_violation"
    assert "consent_app_access" in blasted.notes
    assert {r.instrument for r in blasted.rules} >= {"gbt45251", "pipl", "app_data_rules_2021"}
    assert severity(o, "family_contact") == "likely_violation"   # they could reach the borrower
    assert severity(o, "upfront_deduction") == "worth_raising"
    ids = o.route.ids()
    # platform: find the lender in the contract first; NIFA after the regulator, without a letter
    assert ids.index("find_lender") < ids.index("lender_complaint")
    assert ids.index("regulator_platform") < ids.index("nifa") and o.route.steps[ids.index("nifa")].draft is None
    assert "telecom" in ids and "regulator_nfra" not in ids
    assert ids.index("lender_complaint") < ids.index("repayment_plan")
    assert o.route.steps[ids.index("lender_complaint")].deadline == "none"   # 15-day rule: banks only
    evidence = o.route.steps[ids.index("evidence")]
    assert "screenshots" not in evidence.gather and "contract" in evidence.gather
    assert set(o.drafts) == {"stop_contact", "contacts_message", "lender_complaint", "repayment_plan",
                             "regulator_complaint"}
    plan = o.drafts["repayment_plan"]
    assert ("5,000元" if lang == "zh" else "5,000 yuan") in plan
    assert ("3,500元" if lang == "zh" else "3,500 yuan") in plan
    assert fmt_date(dt.date(2026, 9, 15), lang) in plan
    assert ui("report.blank.name", lang) in plan   # name was skipped
    assert "16500001234 95xxx" in o.drafts["regulator_complaint"]
    assert ("第15条" if lang == "zh" else "Art. 15") in o.drafts["stop_contact"]  # consent withdrawn


# 3. Night-time call bombing with insults from a microloan app.
NIGHT = {
    "role": "borrower", "lender_name": "闪电借", "lender_kind": "microloan",
    "behaviours": ["night_contact", "call_bombing", "insults"],
    "calls_connected": 5, "calls_unanswered": 40, "texts_per_day": 15, "call_hours": "23:00-03:00",
    "started": "2026-11-01", "latest": "2026-11-28", "evidence": ["call_log"],
    "loan_known": False, "wants": ["complain"], "contact_by": "calls_daytime",
}


@LANG
def test_night_call_bombing(lang: str) -> None:
    o = run(NIGHT, lang)
    assert severity(o, "night_contact") == "likely_violation"
    bombing = next(f for f in o.assessment.findings if f.id == "call_frequency")
    assert bombing.severity == "likely_violation"            # 5 connected calls: above GB/T's 3
    assert bombing.values == {"connected": 5, "unanswered": 40, "texts": 15, "cap": 3}
    assert {r.instrument for r in bombing.rules} == {"gbt45251", "civil_code"}   # no police law
    assert severity(o, "insults") == "likely_violation"
    night = next(f for f in o.assessment.findings if f.id == "night_contact")
    assert "nifa_2018" not in {r.instrument for r in night.rules}   # hours never from the 2018 convention
    ids = o.route.ids()
    assert "police_now" not in ids
    assert ids.index("regulator_local") < ids.index("police") < ids.index("telecom") < ids.index("legal_aid")
    police = o.route.steps[ids.index("police")]
    assert police.draft is None                   # a police statement only for threats and the like
    assert "police_statement" not in o.drafts
    k = report_knowledge()
    text = findings_replies(o, k, lang)[0].text
    assert "40" in text and "15" in text
    assert k.facts.hotlines["telecom"].number in steps_reply(o, k, lang).text
    assert "23:00-03:00" in o.drafts["lender_complaint"]


# 4. Threats to come to the borrower's home, with a fake "court summons", unlicensed lender.
THREATS = {
    "role": "borrower", "lender_name": "快快贷", "lender_kind": "unlicensed_unknown",
    "behaviours": ["threats", "fake_documents", "insults"],
    "threat_words": "三天不还就去你家，让你全家好看",
    "started": "2026-11-10", "latest": "2026-11-28",
    "collector_ids": "17100009999", "evidence": ["screenshots", "documents"],
    "loan_known": False, "wants": ["police", "complain"], "contact_by": "messages_only",
    "your_name": "王芳",
}


@LANG
def test_threats_and_fake_court_papers(lang: str) -> None:
    o = run(THREATS, lang)
    threats = next(f for f in o.assessment.findings if f.id == "threats")
    assert threats.severity == "urgent"
    assert o.assessment.findings[0].id == "threats"            # most serious first
    rules = {(r.instrument, r.articles) for r in threats.rules}
    assert ("police_law", ("50",)) in rules and ("criminal_law", ("293",)) not in rules   # 293: a note only
    assert "serious" in threats.notes and "no_contact" in threats.notes
    assert ("criminal_law", ("293-1",)) in rules and "illegal_debt" in threats.notes
    assert severity(o, "fake_documents") == "likely_violation"
    assert {"danger", "not_a_crime"} <= set(o.assessment.notes)
    ids = o.route.ids()
    assert ids[0] == "police_now" and o.route.steps[0].draft == "police_statement"
    assert "police" not in ids                                  # not twice
    assert "court_check" in ids and "regulator_local" in ids
    assert next(iter(o.drafts)) == "police_statement"
    statement = o.drafts["police_statement"]
    assert "三天不还就去你家，让你全家好看" in statement and "17100009999" in statement
    assert "王芳" in statement
    assert ui("report.blank.id_number", lang) in statement
    police_law = report_knowledge().facts.instruments["police_law"].name.get(lang)
    assert police_law in statement                             # the main basis
    assert ("第50条第1款" if lang == "zh" else "Art. 50(1)") in statement
    assert ("第50条第2款" if lang == "zh" else "Art. 50(2)") in statement     # the no-contact order
    assert ("情节恶劣" if lang == "zh" else "egregious") in statement        # 293 only with its condition
    k = report_knowledge()
    assert k.facts.hotlines["court"].number in steps_reply(o, k, lang).text
    assert k.facts.hotlines["police"].number in findings_replies(o, k, lang)[0].text


# 5. An emergency contact who is not the borrower is called and told to pay.
EMERGENCY_CONTACT = {
    "role": "contact", "lender_name": "好借分期", "lender_kind": "platform",
    "behaviours": ["disclosed_debt", "pressed_others", "call_bombing", "night_contact"],
    "calls_per_day": 15, "call_hours": "22:30 以后",
    "started": "2026-11-15", "latest": "2026-11-28", "evidence": ["call_log", "screenshots"],
    "contact_wants": ["stop_contact", "complain"],
    "your_name": "赵强", "your_phone": "13900002222",
}


@LANG
def test_emergency_contact_who_is_not_the_borrower(lang: str) -> None:
    o = run(EMERGENCY_CONTACT, lang)
    contacted = next(f for f in o.assessment.findings if f.id == "third_party_contacted")
    assert contacted.severity == "likely_violation" and "allowed" in contacted.notes
    assert "owes_nothing_contact" in o.assessment.notes
    assert "debt_stays" not in o.assessment.notes and "others_owe_nothing" not in o.assessment.notes
    night = next(f for f in o.assessment.findings if f.id == "night_contact")
    assert "allowed" not in night.notes            # "unless you agreed" is about borrowers
    ids = o.route.ids()
    assert "stop_request_contact" in ids and "stop_request" not in ids
    assert "contacts_message" not in ids and "repayment_plan" not in ids
    assert set(o.drafts) == {"stop_contact", "lender_complaint", "regulator_complaint"}
    not_borrower = "不是" if lang == "zh" else "not the borrower"
    assert not_borrower in o.drafts["stop_contact"]
    assert ("第47条" if lang == "zh" else "Art. 47") in o.drafts["stop_contact"]   # delete my data
    assert "13900002222" in o.drafts["lender_complaint"]
    assert ("借款人" if lang == "zh" else "not a borrower") in o.drafts["regulator_complaint"]


# 6. A microloan app's collectors claim to be police, shame the borrower in a group chat,
#    blast the contacts and demand a transfer to a personal account.
MICROLOAN_IMPERSONATION = {
    "role": "borrower", "lender_name": "极速钱包", "lender_kind": "microloan",
    "behaviours": ["called_contacts", "public_shaming", "fake_documents", "impersonation",
                   "personal_account", "other"],
    "other_text": "把我的身份证照片发到了家族群",
    "consent": "emergency_contact", "reachable": False,
    "started": "2026-11-20", "latest": "2026-11-20", "evidence": ["screenshots", "documents"],
    "loan_known": True, "loan_amount": 2000, "loan_received": 2000,
    "wants": ["police", "stop_contact"], "contact_by": "messages_only",
}


@LANG
def test_microloan_app_with_impersonation(lang: str) -> None:
    o = run(MICROLOAN_IMPERSONATION, lang)
    assert severity(o, "impersonation") == "urgent"
    assert severity(o, "public_shaming") == "urgent"
    assert severity(o, "upfront_deduction") is None             # received all of it
    blasted = next(f for f in o.assessment.findings if f.id == "contacts_blasted")
    assert "consent_emergency_contact" in blasted.notes
    impersonation = next(f for f in o.assessment.findings if f.id == "impersonation")
    assert ("criminal_law", ("279",)) in {(r.instrument, r.articles) for r in impersonation.rules}
    assert {"personal_account", "other", "not_a_crime"} <= set(o.assessment.notes)
    ids = o.route.ids()
    assert ids[0] == "police_now"
    assert {"court_check", "fraud", "telecom", "regulator_local"} <= set(ids)
    assert "police_statement" in o.drafts and "contacts_message" in o.drafts
    assert "employer_notice" not in o.drafts and "repayment_plan" not in o.drafts
    for draft_id, text in o.drafts.items():                       # same-day incident
        if draft_id != "contacts_message":                        # minimum disclosure: no story
            assert "把我的身份证照片发到了家族群" in text
    assert "把我的身份证照片发到了家族群" not in o.drafts["contacts_message"]
    k = report_knowledge()
    assert k.facts.hotlines["fraud"].number in steps_reply(o, k, lang).text
    if lang == "zh":
        assert "冒充公检法" in o.drafts["police_statement"].splitlines()[0]


def test_the_same_case_reads_in_either_language() -> None:
    """A user who switches language gets the same findings and steps, in the new language, and
    the same Chinese letters (for the police, the lender...), now with English translations."""
    k = report_knowledge()
    zh, en = compose(THREATS, k, "zh", TODAY), compose(THREATS, k, "en", TODAY)
    assert zh.assessment == en.assessment and zh.route == en.route
    assert en.drafts == zh.drafts and not zh.translations
    assert zh.drafts["police_statement"].startswith("报警陈述")
    assert list(en.translations) == list(en.drafts)
    assert en.translations["police_statement"].startswith("Police statement")
