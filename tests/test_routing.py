"""Complaint routing: order, the regulator that fits the lender, deadlines from facts.yaml."""

from __future__ import annotations

import itertools

import pytest

from bot.actions.assess import BEHAVIOURS, KINDS, Incident, fact_values
from bot.actions.routing import render_route, route, step_text
from tests.test_report_stories import report_knowledge


def slots(**kw: object) -> dict:
    base = {"role": "borrower", "lender_name": "测试借", "lender_kind": "microloan",
            "behaviours": ["called_employer"], "reachable": True,
            "started": "2026-11-01", "latest": "2026-11-20"}
    return {**base, **kw}


@pytest.mark.parametrize(("kind", "regulator", "step"), [
    ("bank", "nfra", "regulator_nfra"),
    ("consumer_finance", "nfra", "regulator_nfra"),
    ("microloan", "local_bureau", "regulator_local"),
    ("platform", "local_bureau", "regulator_platform"),
    ("unlicensed_unknown", "local_bureau", "regulator_local"),
])
def test_the_regulator_fits_the_lender(kind: str, regulator: str, step: str) -> None:
    r = route(slots(lender_kind=kind))
    assert r.regulator == regulator
    assert step in r.ids()
    assert r.steps[r.ids().index(step)].deadline == "petition"
    assert ("nifa" in r.ids()) == (kind == "platform")
    assert ("police" in r.ids()) == (kind == "unlicensed_unknown")   # unlicensed: police and bureau


def test_the_lenders_answer_deadline_applies_to_banks_and_consumer_finance_only() -> None:
    for kind in KINDS:
        r = route(slots(lender_kind=kind))
        step = r.steps[r.ids().index("lender_complaint")]
        assert step.deadline == ("institution" if kind in ("bank", "consumer_finance") else "none")


def test_police_come_first_when_anything_is_urgent() -> None:
    r = route(slots(behaviours=["insults", "public_shaming"]))
    assert r.ids()[0] == "police_now" and r.steps[0].draft == "police_statement"
    assert "police" not in r.ids()


def test_police_later_without_a_statement_for_insults() -> None:
    r = route(slots(behaviours=["insults"]))
    assert "police_now" not in r.ids()
    assert r.steps[r.ids().index("police")].draft is None


def test_the_user_asking_for_the_police_gets_a_police_step() -> None:
    assert "police" in route(slots(wants=["police"])).ids()
    assert "police" not in route(slots(wants=["complain"])).ids()


@pytest.mark.parametrize(("behaviour", "step"), [
    ("call_bombing", "telecom"), ("night_contact", "telecom"), ("called_contacts", "telecom"),
    ("personal_account", "fraud"), ("fake_documents", "court_check"), ("impersonation", "court_check"),
])
def test_special_channels(behaviour: str, step: str) -> None:
    assert step in route(slots(behaviours=[behaviour])).ids()
    assert step not in route(slots(behaviours=["called_employer"])).ids()


def test_order_of_the_usual_steps() -> None:
    r = route(slots(behaviours=["called_employer", "called_contacts", "threats"], wants=["negotiate"]))
    ids = r.ids()
    expected = ["police_now", "evidence", "stop_request", "employer_notice", "contacts_message",
                "lender_complaint", "repayment_plan", "regulator_local"]
    assert [i for i in ids if i in expected] == expected
    assert ids[-1] == "legal_aid"
    assert r.drafts() == ["police_statement", "stop_contact", "employer_notice", "contacts_message",
                          "lender_complaint", "repayment_plan", "regulator_complaint"]


def test_evidence_asks_only_for_what_is_missing_and_fits() -> None:
    r = route(slots(behaviours=["call_bombing"], evidence=["recordings"]))
    ev = r.steps[r.ids().index("evidence")]
    assert ev.have == ("recordings",)
    assert ev.gather == ("screenshots", "call_log", "contract")
    r = route(slots(role="contact", behaviours=["fake_documents", "visits"],
                    evidence=["screenshots", "documents"]))
    ev = r.steps[r.ids().index("evidence")]
    assert ev.gather == ("recordings", "witnesses")       # no loan contract for a non-borrower


def test_a_non_borrower_gets_no_repayment_and_no_message_to_contacts() -> None:
    r = route(slots(role="contact", behaviours=["called_contacts", "contacted_family"],
                    contact_wants=["stop_contact"], wants=["negotiate"]))
    assert "stop_request_contact" in r.ids()
    assert not {"stop_request", "contacts_message", "repayment_plan"} & set(r.ids())


def test_every_step_reads_well_in_both_languages() -> None:
    """No leftover placeholders; numbers and deadlines come from facts.yaml."""
    k = report_knowledge()
    seen: set[str] = set()
    for kind, role, b in itertools.product(KINDS, ("borrower", "contact"), BEHAVIOURS):
        s = slots(lender_kind=kind, role=role, behaviours=[b], wants=["negotiate", "police"],
                  work_who=["hr"], evidence=["recordings"])
        r = route(s)
        inc = Incident.from_slots(s)
        for lang in ("zh", "en"):
            values = fact_values(k, lang)
            for step in r.steps:
                seen.add(step.id)
                text = step_text(step, inc, k, lang, values)
                assert "{" not in text and "None" not in text, (step.id, text)
    assert {"police_now", "police", "nifa", "regulator_nfra", "regulator_local", "court_check",
            "telecom", "fraud", "repayment_plan", "stop_request_contact"} <= seen


def test_hotlines_and_deadlines_appear_from_the_facts() -> None:
    k = report_knowledge()
    s = slots(lender_kind="bank", behaviours=["threats", "call_bombing"])
    text = render_route(route(s), Incident.from_slots(s), k, "zh")
    h, d = k.facts.hotlines, k.facts.deadlines
    for key in ("police", "nfra", "telecom", "legal"):
        assert h[key].number in text
    assert f"{d['institution']['days']} 日内" in text
    assert f"{d['petition']['accept_days']} 日内" in text
    assert k.facts.authorities["nfra"].site in text
