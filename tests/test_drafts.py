"""Drafts: which apply, blanks for skipped answers, and any answers render in both languages."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.actions.assess import BEHAVIOURS, EVIDENCE, KINDS, WANTS, Incident, assess
from bot.actions.drafts import DRAFTS, applicable, fmt_date, render_drafts
from bot.actions.report import compose, draft_replies, findings_replies, steps_reply
from tests.conftest import ui
from tests.test_report_stories import LEFTOVERS, ROOT, report_knowledge

TODAY = dt.date(2026, 11, 29)
REPO = ROOT.parent
# The notes to the employer and to contacts: minimum disclosure, no lender, no story.
MINIMAL_NOTES = ("employer_notice", "contacts_message")

# Text a user might type: any printable characters, Chinese included. Braces and the words
# the leftover check looks for are left out so a hit always means a template problem (a
# separate test shows typed braces come out verbatim).
typed = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="{}"),
    min_size=1, max_size=80,
).map(str.strip).filter(lambda s: s != "" and "None" not in s and "Undefined" not in s)
iso_day = st.dates(dt.date(2020, 1, 1), TODAY).map(dt.date.isoformat)
amount = st.one_of(st.integers(1, 10**8), st.floats(1, 1e8, allow_nan=False, allow_infinity=False))

answers = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["borrower", "contact"]),
        "lender_name": typed,
        "lender_kind": st.sampled_from(KINDS),
        "behaviours": st.lists(st.sampled_from(BEHAVIOURS), min_size=1, unique=True),
    },
    optional={
        "work_who": st.lists(st.sampled_from(["boss", "hr", "colleagues", "front_desk", "clients"]),
                             unique=True),
        "work_said": typed,
        "consent": st.sampled_from(["not_agreed", "emergency_contact", "app_access", "not_sure"]),
        "reachable": st.booleans(),
        "threat_words": typed,
        "visit_stayed": st.booleans(),
        "calls_per_day": st.integers(1, 5000),
        "calls_connected": st.integers(0, 5000),
        "calls_unanswered": st.integers(0, 5000),
        "texts_per_day": st.integers(0, 5000),
        "call_hours": typed,
        "other_text": typed,
        "started": iso_day,
        "latest": iso_day,
        "collector_ids": typed,
        "evidence": st.lists(st.sampled_from(EVIDENCE), unique=True),
        "loan_known": st.booleans(),
        "loan_amount": amount,
        "loan_received": st.one_of(st.just(0), amount),
        "overdue_since": iso_day,
        "wants": st.lists(st.sampled_from(WANTS), unique=True),
        "contact_wants": st.lists(st.sampled_from(["stop_contact", "complain", "police", "understand"]),
                                  unique=True),
        "contact_by": st.sampled_from(["messages_only", "calls_workhours", "calls_daytime"]),
        "your_name": typed,
        "your_phone": typed,
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(slots=answers)
def test_any_answers_render_every_draft_in_both_languages(slots: dict) -> None:
    k = report_knowledge()
    for lang in ("zh", "en"):
        drafts = render_drafts(slots, k, lang, TODAY, only=list(DRAFTS))
        assert set(drafts) == set(DRAFTS)
        for draft_id, text in drafts.items():
            if draft_id in MINIMAL_NOTES:   # they never name the lender (issue 11, item 15)
                continue
            assert slots["lender_name"] in text, draft_id
            for bad in LEFTOVERS:
                assert bad not in text, (draft_id, bad)
        # and the whole outcome: findings, steps and the drafts that apply
        o = compose(slots, k, lang, TODAY)
        for reply in [*findings_replies(o, k, lang), steps_reply(o, k, lang), *draft_replies(o, k, lang)]:
            assert reply.text.strip()
            for bad in LEFTOVERS:
                assert bad not in reply.text


def base(**kw: object) -> dict:
    return {"role": "borrower", "lender_name": "测试借", "lender_kind": "microloan",
            "behaviours": ["called_employer"], "started": "2026-11-01", "latest": "2026-11-20", **kw}


@pytest.mark.parametrize("behaviour", ["threats", "visits", "impersonation", "fake_documents",
                                       "public_shaming"])
def test_police_statement_for_the_listed_behaviours(behaviour: str) -> None:
    assert "police_statement" in applicable(Incident.from_slots(base(behaviours=[behaviour])))


@pytest.mark.parametrize("behaviour", ["called_employer", "insults", "call_bombing", "night_contact",
                                       "called_contacts", "personal_account", "other"])
def test_no_police_statement_otherwise(behaviour: str) -> None:
    assert "police_statement" not in applicable(Incident.from_slots(base(behaviours=[behaviour])))


def test_repayment_plan_only_when_a_borrower_chose_negotiate() -> None:
    assert "repayment_plan" in applicable(Incident.from_slots(base(wants=["negotiate"])))
    assert "repayment_plan" not in applicable(Incident.from_slots(base(wants=["complain"])))
    assert "repayment_plan" not in applicable(Incident.from_slots(base(role="contact", wants=["negotiate"])))


def test_notes_to_employer_and_contacts_only_when_they_were_contacted() -> None:
    work = applicable(Incident.from_slots(base(behaviours=["called_employer"])))
    assert "employer_notice" in work and "contacts_message" not in work
    contacts = applicable(Incident.from_slots(base(behaviours=["contacted_family"])))
    assert "contacts_message" in contacts and "employer_notice" not in contacts
    assert "contacts_message" not in applicable(Incident.from_slots(base(role="contact",
                                                                          behaviours=["called_contacts"])))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_blanks_when_name_or_phone_skipped(lang: str) -> None:
    name_blank, phone_blank = ui("report.blank.name", lang), ui("report.blank.phone", lang)
    k = report_knowledge()
    skipped = render_drafts(base(), k, lang, TODAY, only=list(DRAFTS))
    given_ = render_drafts(base(your_name="陈静", your_phone="13712345678"), k, lang, TODAY, only=list(DRAFTS))
    for draft_id in DRAFTS:
        assert name_blank in skipped[draft_id], draft_id
        assert name_blank not in given_[draft_id] and "陈静" in given_[draft_id], draft_id
    for draft_id in ("lender_complaint", "stop_contact", "police_statement", "repayment_plan",
                     "regulator_complaint"):
        assert phone_blank in skipped[draft_id] and "13712345678" in given_[draft_id], draft_id


def test_typed_template_syntax_is_printed_as_typed() -> None:
    k = report_knowledge()
    drafts = render_drafts(base(lender_name="{{ 7*7 }}贷", work_said="{% raw %}"), k, "zh", TODAY)
    assert "{{ 7*7 }}贷" in drafts["lender_complaint"] and "49" not in drafts["lender_complaint"]
    assert "{% raw %}" in drafts["regulator_complaint"]


def test_the_letters_speak_the_conversation_language() -> None:
    k = report_knowledge()
    zh = render_drafts(base(), k, "zh", TODAY)
    en = render_drafts(base(), k, "en", TODAY)
    assert set(zh) == set(en)
    for draft_id in zh:
        assert re.search(r"[\u4e00-\u9fff]{10}", zh[draft_id])
        if draft_id not in MINIMAL_NOTES:   # the notes to others carry no dates of the story
            assert "2026年11月1日" in zh[draft_id] and "1 November 2026" in en[draft_id]
        assert not re.search(r"[\u4e00-\u9fff]", en[draft_id].replace("测试借", "")), draft_id


def test_drafts_are_ordered_as_the_steps_send_them() -> None:
    k = report_knowledge()
    s = base(behaviours=["called_employer", "threats"], wants=["negotiate"])
    drafts = render_drafts(s, k, "en", TODAY)
    assert list(drafts) == ["police_statement", "stop_contact", "employer_notice", "lender_complaint",
                            "repayment_plan", "regulator_complaint"]


def test_regulator_complaint_cites_only_the_likely_rules() -> None:
    k = report_knowledge()
    s = base(lender_kind="bank", behaviours=["night_contact"])
    text = render_drafts(s, k, "en", TODAY)["regulator_complaint"]
    assert k.facts.instruments["cba_2026"].name.get("en") in text
    assert k.facts.authorities["nfra"].name.get("en") in text
    assert str(k.facts.deadlines["institution"]["days"]) in text
    worth = assess(base(behaviours=["called_employer"], reachable=False))
    assert worth.findings[0].severity == "worth_raising"   # nothing likely: the rules it may touch


def test_dates() -> None:
    assert fmt_date(dt.date(2026, 3, 5), "zh") == "2026年3月5日"
    assert fmt_date(dt.date(2026, 3, 5), "en") == "5 March 2026"


def test_every_draft_exists_in_both_languages() -> None:
    for lang in ("zh", "en"):
        names = {p.stem for p in (ROOT / lang / "drafts").glob("*.j2")}
        assert set(DRAFTS) <= names, lang


def test_no_hotline_number_is_typed_by_hand() -> None:
    """Numbers live in facts.yaml only: templates, strings and code refer to them by key."""
    numbers = [h.number for h in report_knowledge().facts.hotlines.values()]
    files = [*sorted(ROOT.glob("*/drafts/*.j2")), ROOT / "zh/ui/report.yaml", ROOT / "en/ui/report.yaml",
             *(REPO / "bot/actions" / f for f in ("assess.py", "routing.py", "drafts.py", "report.py"))]
    for path in files:
        text = Path(path).read_text(encoding="utf-8")
        for number in numbers:
            assert not re.search(rf"(?<!\d){number}(?!\d)", text), (path.name, number)


def test_the_employer_note_greets_in_words_not_button_labels() -> None:
    k = report_knowledge()
    zh = render_drafts(base(work_who=["boss", "hr"]), k, "zh", TODAY)["employer_notice"]
    en = render_drafts(base(work_who=["boss", "hr"]), k, "en", TODAY)["employer_notice"]
    labels = [k.text(lang, f"report.work_who.opt.{w}") for lang in ("zh", "en") for w in ("boss", "hr")]
    for text in (zh, en):
        assert not any(label in text for label in labels)     # "领导 / 老板：" was a button label
    assert zh.splitlines()[2] == "您好：" and en.splitlines()[2] == "Hello,"
