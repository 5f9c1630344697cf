"""The assessment: severities, honest "allowed if" notes, rules and their scope."""

from __future__ import annotations

import itertools
import json

import pytest

from bot.actions.assess import (
    BEHAVIOURS,
    KINDS,
    Incident,
    R,
    articles_text,
    assess,
    finding_text,
    merge_rules,
    render_assessment,
)
from tests.test_report_stories import report_knowledge


def slots(**kw: object) -> dict:
    base = {"role": "borrower", "lender_name": "测试借", "lender_kind": "microloan",
            "started": "2026-11-01", "latest": "2026-11-20"}
    return {**base, **kw}


def finding(a, fid: str):
    return next(f for f in a.findings if f.id == fid)


def test_a_single_call_to_work_when_unreachable_is_only_worth_raising() -> None:
    a = assess(slots(behaviours=["called_employer"], reachable=False, consent="not_agreed"))
    f = finding(a, "employer_contact_check")
    assert f.severity == "worth_raising"
    assert f.notes == ("allowed",)
    assert a.ids() == ["employer_contact_check"]


@pytest.mark.parametrize("extra", [
    {"reachable": True},
    {"behaviours": ["called_employer", "disclosed_debt"], "reachable": False},
    {"behaviours": ["called_employer", "pressed_others"], "reachable": False},
    {"behaviours": ["called_employer", "call_bombing"], "reachable": False},
])
def test_calling_work_becomes_a_likely_violation(extra: dict) -> None:
    a = assess(slots(**{"behaviours": ["called_employer"], **extra}))
    assert finding(a, "employer_contact").severity == "likely_violation"
    assert "employer_contact_check" not in a.ids()


def test_family_follows_the_same_rule_as_work() -> None:
    assert finding(assess(slots(behaviours=["contacted_family"], reachable=False)),
                   "family_contact_check").severity == "worth_raising"
    assert finding(assess(slots(behaviours=["contacted_family"], reachable=True)),
                   "family_contact").severity == "likely_violation"


@pytest.mark.parametrize("behaviour", ["threats", "impersonation", "public_shaming"])
def test_urgent_behaviours(behaviour: str) -> None:
    a = assess(slots(behaviours=[behaviour]))
    assert a.urgent and a.findings[0].severity == "urgent"
    assert "danger" in a.notes


def test_a_visit_is_urgent_only_when_they_would_not_leave() -> None:
    calm = assess(slots(behaviours=["visits"], visit_stayed=False))
    assert finding(calm, "visit").severity == "worth_raising"
    assert "allowed" in finding(calm, "visit").notes and not calm.urgent
    stayed = assess(slots(behaviours=["visits"], visit_stayed=True))
    assert finding(stayed, "visit_stayed").severity == "urgent"


def test_threats_from_an_unlicensed_lender_may_be_collecting_illegal_debt() -> None:
    licensed = finding(assess(slots(behaviours=["threats"], lender_kind="bank")), "threats")
    unlicensed = finding(assess(slots(behaviours=["threats"], lender_kind="unlicensed_unknown")), "threats")
    assert R("criminal_law", "293-1") in unlicensed.rules and "illegal_debt" in unlicensed.notes
    assert R("criminal_law", "293-1") not in licensed.rules and "illegal_debt" not in licensed.notes
    assert R("cba_2026") in licensed.rules     # banks: the banking association's guideline


@pytest.mark.parametrize(("calls", "fid"), [(2, "call_frequency_check"), (60, "call_frequency_check"),
                                           (None, "call_frequency_check")])
def test_an_older_mixed_count_is_never_compared_with_a_cap(calls, fid: str) -> None:
    """Reports saved before issue 11 have one count of calls and texts together."""
    a = assess(slots(behaviours=["call_bombing"], calls_per_day=calls))
    f = finding(a, fid)
    assert f.severity == "worth_raising"
    assert ("count_mixed" in f.notes) == (calls is not None)


def test_rules_follow_the_kind_of_lender() -> None:
    def third(kind: str) -> set[str]:
        a = assess(slots(behaviours=["pressed_others"], lender_kind=kind))
        return {r.instrument for r in finding(a, "pressed_others").rules}

    assert third("bank") == {"cba_2026", "credit_card_2011"}
    bank = finding(assess(slots(behaviours=["pressed_others"], lender_kind="bank")), "pressed_others")
    assert R("credit_card_2011", "68") in bank.rules
    assert third("consumer_finance") == {"gbt45251", "nfra_2024_4"}
    assert third("microloan") == {"gbt45251", "nifa_2018"}
    assert third("platform") == {"gbt45251", "nifa_2018"}


def test_night_hours_never_rest_on_the_2018_convention() -> None:
    """legal-facts.md: collection hours in the 2018 NIFA convention are unverified."""
    for kind in KINDS:
        night = finding(assess(slots(behaviours=["night_contact"], lender_kind=kind)), "night_contact")
        assert "nifa_2018" not in {r.instrument for r in night.rules}


def test_someone_who_is_not_the_borrower() -> None:
    a = assess(slots(role="contact", behaviours=["called_employer", "night_contact"]))
    assert finding(a, "third_party_contacted").notes == ("allowed",)
    assert finding(a, "contact_work").severity == "likely_violation"
    assert "employer_contact_check" not in a.ids()
    assert finding(a, "night_contact").notes == ()
    assert "owes_nothing_contact" in a.notes and "debt_stays" not in a.notes
    assert a.ids()[0] == "third_party_contacted"


def test_told_and_asked_to_pay_are_worded_for_the_person_they_were_aimed_at() -> None:
    borrower = assess(slots(behaviours=["disclosed_debt", "pressed_others"]))
    contact = assess(slots(role="contact", behaviours=["disclosed_debt", "pressed_others"]))
    assert {"disclosed_debt", "pressed_others"} <= set(borrower.ids())
    assert {"disclosed_to_you", "asked_you_to_pay"} <= set(contact.ids())
    assert not {"disclosed_debt", "pressed_others"} & set(contact.ids())


def test_money_kept_back_at_the_start() -> None:
    a = assess(slots(behaviours=["insults"], loan_amount=10000, loan_received=8000))
    f = finding(a, "upfront_deduction")
    assert f.values == {"amount": 10000, "received": 8000}
    assert R("spc_private_lending_2020", "26") in f.rules
    assert "upfront_deduction" not in assess(slots(behaviours=["insults"], loan_amount=10000,
                                                   loan_received=10000)).ids()
    assert "upfront_deduction" not in assess(slots(role="contact", behaviours=["insults"],
                                                   loan_amount=10000, loan_received=1)).ids()


def test_findings_are_ordered_by_severity() -> None:
    a = assess(slots(behaviours=list(BEHAVIOURS), reachable=False, visit_stayed=False))
    order = ["urgent", "likely_violation", "worth_raising"]
    ranks = [order.index(f.severity) for f in a.findings]
    assert ranks == sorted(ranks)


def test_every_combination_cites_real_instruments_and_has_words() -> None:
    """Every rule is an instrument in facts.yaml; every finding and note has text in both languages."""
    k = report_knowledge()
    for kind, role, b, reachable in itertools.product(KINDS, ("borrower", "contact"), BEHAVIOURS,
                                                      (True, False)):
        a = assess(slots(lender_kind=kind, role=role, behaviours=[b], reachable=reachable,
                         visit_stayed=reachable, calls_per_day=2 if reachable else 40,
                         consent="app_access", loan_amount=100, loan_received=50))
        assert a.findings or b in ("other", "personal_account")
        for f in a.findings:
            assert f.rules, f.id
            for r in f.rules:
                assert r.instrument in k.facts.instruments, (f.id, r.instrument)
            for lang in ("zh", "en"):
                text = finding_text(f, k, lang)
                assert "{" not in text and "None" not in text
        for lang in ("zh", "en"):
            for n in a.notes:
                assert k.has_text(lang, f"report.note.{n}")
        json.dumps(a.model_dump(mode="json"))     # the case stores it


def test_rendering_shows_the_scope_of_each_rule() -> None:
    k = report_knowledge()
    a = assess(slots(behaviours=["night_contact"], lender_kind="bank"))
    zh = "\n".join(render_assessment(a, k, "zh", "测试借"))
    en = "\n".join(render_assessment(a, k, "en", "测试借"))
    assert "适用于：" + k.facts.instruments["cba_2026"].binds.get("zh") in zh
    assert "binds: " + k.facts.instruments["cba_2026"].binds.get("en") in en
    assert "测试借" in zh and "测试借" in en


def test_nothing_found_still_says_so() -> None:
    k = report_knowledge()
    a = assess(slots(behaviours=["other"], other_text="态度很差"))
    assert a.findings == ()
    blocks = render_assessment(a, k, "en", "X")
    assert k.facts.hotlines["legal"].number in blocks[1]


def test_article_wording() -> None:
    assert articles_text(R("criminal_law", "293-1"), "zh") == "第293条之一"
    assert articles_text(R("criminal_law", "293-1"), "en") == "Art. 293-1"
    assert articles_text(R("police_law", "50"), "zh") == "新法第50条"     # the 2026 numbering
    assert articles_text(R("police_law", "50"), "en") == "new Art. 50"
    assert articles_text(R("civil_code", "1032", "1038"), "en") == "Arts. 1032 and 1038"
    assert articles_text(R("gbt45251"), "zh") == ""


def test_merge_rules_keeps_one_line_per_instrument() -> None:
    merged = merge_rules([R("civil_code", "1038"), R("gbt45251"), R("civil_code", "1033", "1032")])
    assert merged == [R("civil_code", "1032", "1033", "1038"), R("gbt45251")]


def test_odd_or_missing_answers_do_not_break_it() -> None:
    inc = Incident.from_slots({"behaviours": "threats", "lender_kind": "weird", "started": "not a date",
                               "latest": "2026-01-01", "calls_per_day": True, "reachable": "yes"})
    assert inc.kind == "unlicensed_unknown" and inc.behaviours == frozenset({"threats"})
    assert inc.started is None and inc.calls_per_day is None and inc.reachable is None
    swapped = Incident.from_slots({"started": "2026-11-20", "latest": "2026-11-01"})
    assert swapped.started is not None and swapped.latest is not None
    assert swapped.started < swapped.latest
    assert assess({}).findings == ()
