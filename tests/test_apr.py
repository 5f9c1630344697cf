"""The interest check (/apr): hand-computed rates, invalid numbers, properties, conversations.

Conventions (bot/actions/apr.py): the rate per period r solves
sum(payment / (1 + r)^k, k = 1..n) = amount received; APR (the headline, compared with the
lines) = r x periods per year; effective = (1 + r)^(periods per year) - 1. Periods per year:
monthly 12, weekly 365/7, every N days 365/N, one-off after N days 365/N. Lines: 4x LPR
(lpr.cap in content/facts.yaml, 12.0 today), 24, 36.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.actions.apr import (
    LINE_24,
    LINE_36,
    Loan,
    annual_rate,
    assess,
    money,
    periodic_irr,
    problems,
    result_text,
    total_at,
)
from bot.knowledge.normalize import normalize
from tests.conftest import Chat, shown, ui

CAP = 12.0  # 4 x one-year LPR 3.0% (content/facts.yaml lpr.cap; legal-facts.md section 4)


def pv(rate: float, payments: list[float]) -> float:
    """Present value of end-of-period payments, written out independently of the solver."""
    return sum(p / (1 + rate) ** k for k, p in enumerate(payments, start=1))


def verdicts(loan: Loan) -> dict[str, bool]:
    return {f.line: f.above for f in assess(loan, CAP).findings}


# --- hand-computed cases --------------------------------------------------------------------

def test_714_loan_with_heavy_deduction():
    # Contract 3000, 1000 kept back up front, 2000 received, 3000 repaid after 7 days.
    # Principal = 2000 (what was received, SPC private-lending provisions Art. 26).
    # r per 7 days: 3000 / (1 + r) = 2000  ->  r = 3000/2000 - 1 = 0.5 (50% in a week)
    # APR = 0.5 x 365/7 = 0.5 x 52.142857 = 26.071429  ->  2,607.14%
    # effective = 1.5^52.142857 - 1 = e^(52.142857 x 0.405465) - 1 = e^21.1421 - 1 ~ 1.52e9 (1.5e11 %)
    # At 24% a year the same 7 days would cost 2000 x 0.24 x 7/365 = 9.21: total 2,009.21
    # at 12% (4x LPR): 2000 x (1 + 0.12 x 7/365) = 2,004.60; at 36%: 2000 x (1 + 0.36 x 7/365) = 2,013.81
    loan = Loan(contract=3000, received=2000, count=1, payment=3000, period="once", period_days=7)
    assert problems(loan) == []
    rate = annual_rate(loan)
    assert rate.periodic == pytest.approx(0.5, rel=1e-12)
    assert rate.nominal == pytest.approx(0.5 * 365 / 7, rel=1e-12)
    assert round(rate.nominal * 100, 2) == 2607.14
    assert rate.effective == pytest.approx(1.5 ** (365 / 7) - 1, rel=1e-9)
    assert loan.cost == 1000 and loan.deducted == 1000
    assert round(total_at(loan, LINE_24), 2) == 2009.21
    assert round(total_at(loan, CAP), 2) == 2004.60
    assert round(total_at(loan, LINE_36), 2) == 2013.81
    assert verdicts(loan) == {"lpr4": True, "l24": True, "l36": True}


def test_twelve_monthly_repayments_with_a_flat_monthly_fee():
    # 12,000 received, 12 x 1,120 (1,000 principal + a "1% a month" flat fee of 120 on the
    # whole 12,000): the fee looks like 12% a year but runs on a shrinking balance.
    # Need the annuity factor a(12, r) = (1 - (1+r)^-12) / r = 12000 / 1120 = 10.7143.
    # Try r = 1.7881%: ln(1.017881) = 0.017723; x 12 = 0.212676; e^0.212676 = 1.23698;
    # 1/1.23698 = 0.808420; (1 - 0.808420) / 0.017881 = 10.7142. So r = 1.7881% a month.
    # APR = 1.7881% x 12 = 21.46%; effective = 1.23698 - 1 = 23.70%.
    # Above 4x LPR (12%), within 24% and 36%. At exactly 12% (1% a month) the payment would be
    # 12000 x 0.01 / (1 - 1.01^-12) = 1066.19, total 12,794.23.
    loan = Loan(contract=12000, received=12000, count=12, payment=1120, period="monthly")
    rate = annual_rate(loan)
    assert rate.periodic == pytest.approx(0.017881, abs=5e-7)
    assert pv(rate.periodic, [1120] * 12) == pytest.approx(12000, rel=1e-10)
    assert round(rate.nominal * 100, 2) == 21.46
    assert round(rate.effective * 100, 2) == 23.70
    assert round(total_at(loan, CAP), 2) == 12794.23
    assert verdicts(loan) == {"lpr4": True, "l24": False, "l36": False}


def test_one_off_repayment_after_30_days():
    # 10,000 received, 10,100 repaid after 30 days: r = 10100/10000 - 1 = 1% per 30 days.
    # APR = 0.01 x 365/30 = 12.1667% -> 12.17% (just above 4x LPR 12.0%, within 24%).
    # effective = 1.01^(365/30) - 1 = e^(12.1667 x 0.00995033) - 1 = e^0.121062 - 1 = 12.87%
    loan = Loan(contract=10000, received=10000, count=1, payment=10100, period="once", period_days=30)
    rate = annual_rate(loan)
    assert rate.periodic == pytest.approx(0.01, rel=1e-10)
    assert round(rate.nominal * 100, 2) == 12.17
    assert round(rate.effective * 100, 2) == 12.87
    assert verdicts(loan) == {"lpr4": True, "l24": False, "l36": False}


def test_rate_exactly_on_a_line_is_not_above_it():
    # 10,000 received, 12,400 repaid after 365 days: r = 24% per year, APR = 24.00%, at the line.
    loan = Loan(contract=10000, received=10000, count=1, payment=12400, period="once", period_days=365)
    assert assess(loan, CAP).apr_percent == 24.0
    assert verdicts(loan) == {"lpr4": True, "l24": False, "l36": False}


def test_two_monthly_repayments_closed_form():
    # 210 received, 2 x 121 monthly. At r = 10%: 121/1.1 + 121/1.21 = 110 + 100 = 210. So r = 10%.
    # APR = 10% x 12 = 120%; effective = 1.1^12 - 1 = 3.138428 - 1 = 213.84%.
    loan = Loan(contract=210, received=210, count=2, payment=121, period="monthly")
    rate = annual_rate(loan)
    assert rate.periodic == pytest.approx(0.10, rel=1e-10)
    assert round(rate.nominal * 100, 2) == 120.00
    assert round(rate.effective * 100, 2) == 213.84


def test_weekly_plan_and_every_7_days_are_the_same():
    # 820 received, 2 x 441 weekly. At r = 5%: 441/1.05 + 441/1.1025 = 420 + 400 = 820. So r = 5%/week.
    # APR = 0.05 x 365/7 = 2.607143 -> 260.71%;
    # effective = 1.05^(365/7) - 1 = e^(52.142857 x 0.0487902) - 1 = e^2.544058 - 1 = 11.7312 -> 1,173.12%
    weekly = Loan(contract=1000, received=820, count=2, payment=441, period="weekly")
    every7 = Loan(contract=1000, received=820, count=2, payment=441, period="every_n_days", period_days=7)
    for loan in (weekly, every7):
        rate = annual_rate(loan)
        assert rate.periodic == pytest.approx(0.05, rel=1e-10)
        assert round(rate.nominal * 100, 2) == 260.71
        assert round(rate.effective * 100, 2) == 1173.12
        assert verdicts(loan) == {"lpr4": True, "l24": True, "l36": True}


def test_every_10_days():
    # 202 received, 2 x 104.04 every 10 days. At r = 2%: 104.04/1.02 + 104.04/1.0404 = 102 + 100 = 202.
    # APR = 0.02 x 365/10 = 73.00%; effective = 1.02^36.5 - 1 = e^(36.5 x 0.0198026) - 1 = e^0.722795 - 1
    # = 106.02%.
    loan = Loan(contract=202, received=202, count=2, payment=104.04, period="every_n_days", period_days=10)
    rate = annual_rate(loan)
    assert rate.periodic == pytest.approx(0.02, rel=1e-9)
    assert round(rate.nominal * 100, 2) == 73.00
    assert round(rate.effective * 100, 2) == 106.02


def test_zero_interest_loan():
    # 6,000 received, 6 x 1,000 monthly: repaid = received, r = 0, every line respected.
    loan = Loan(contract=6000, received=6000, count=6, payment=1000, period="monthly")
    rate = annual_rate(loan)
    assert abs(rate.periodic) < 1e-12 and abs(rate.nominal) < 1e-12
    assert verdicts(loan) == {"lpr4": False, "l24": False, "l36": False}


def test_deduction_alone_makes_a_nominally_free_loan_expensive():
    # Contract 5,000 "interest-free", 4,000 received, 5 x 1,000 monthly. Against the contract
    # amount the rate is 0; against what was received it is not: a(5, r) = 4000/1000 = 4.
    # r = 7.93%: 1.0793^-5 = e^(-5 x 0.076313) = e^-0.381565 = 0.682777; (1 - 0.682777)/0.0793 = 4.0003.
    # APR = 7.93% x 12 = 95.1%.
    loan = Loan(contract=5000, received=4000, count=5, payment=1000, period="monthly")
    rate = annual_rate(loan)
    assert rate.periodic == pytest.approx(0.0793, abs=1e-4)
    assert pv(rate.periodic, [1000] * 5) == pytest.approx(4000, rel=1e-10)
    assert 95 < rate.nominal * 100 < 95.3


# --- invalid numbers --------------------------------------------------------------------------

@pytest.mark.parametrize(("loan", "expected"), [
    (Loan(contract=2000, received=3000, count=1, payment=3500, period="once", period_days=7), ["received_more"]),
    (Loan(contract=3000, received=2000, count=0, payment=3000, period="monthly"), ["count"]),
    (Loan(contract=-5000, received=4000, count=2, payment=2500, period="monthly"), ["contract"]),
    (Loan(contract=5000, received=-1, count=2, payment=2500, period="monthly"), ["received"]),
    (Loan(contract=5000, received=4000, count=2, payment=-100, period="monthly"), ["payment"]),
    (Loan(contract=5000, received=0, count=0, payment=0, period="monthly"), ["received", "count", "payment"]),
    (Loan(contract=5000, received=5000, count=3, payment=1000, period="monthly"), ["repaid_less"]),
    (Loan(contract=5000, received=5000, count=2, payment=3000, period=""), ["period"]),
    (Loan(contract=5000, received=5000, count=1, payment=6000, period="once", period_days=None), ["period"]),
])
def test_invalid_numbers_are_named(loan: Loan, expected: list[str]):
    assert problems(loan) == expected


def test_odd_slots_do_not_raise():
    loan = Loan.from_slots({"contract": "lots", "received": True, "count": None, "each": [1]})
    assert problems(loan) == ["contract", "received", "count", "payment", "period"]
    assert problems(Loan.from_slots({})) == ["contract", "received", "count", "payment", "period"]


def test_slots_for_both_paths():
    once = Loan.from_slots({"contract": 3000, "received": 2000, "count": 1, "once_amount": 3000, "days": 7})
    assert (once.period, once.period_days, once.total) == ("once", 7, 3000)
    plan = Loan.from_slots({"contract": 1000, "received": 820, "count": 2, "each": 441,
                            "period": "every_n_days", "every_days": 7})
    assert (plan.period, plan.period_days, plan.total) == ("every_n_days", 7, 882)


def test_solver_rejects_nonsense():
    with pytest.raises(ValueError):
        periodic_irr(0, [100])
    with pytest.raises(ValueError):
        periodic_irr(100, [])
    with pytest.raises(ValueError):
        periodic_irr(100, [0, 0])


def test_astronomical_rate_does_not_overflow():
    # 1 yuan received, 100 million repaid the next day, 360 times over: r ~ 1e8 per day.
    loan = Loan(contract=1, received=1, count=360, payment=100_000_000, period="every_n_days", period_days=1)
    rate = annual_rate(loan)
    assert rate.periodic == pytest.approx(1e8, rel=1e-6)
    assert math.isinf(rate.effective)


# --- properties ---------------------------------------------------------------------------

amounts = st.floats(min_value=1, max_value=1e7, allow_nan=False, allow_infinity=False)
counts = st.integers(min_value=1, max_value=120)


@given(received=amounts, count=counts, markup=st.floats(min_value=0, max_value=5))
@settings(max_examples=200, deadline=None)
def test_rate_solves_the_equation(received: float, count: int, markup: float):
    payment = received * (1 + markup) / count
    r = periodic_irr(received, [payment] * count)
    assert pv(r, [payment] * count) == pytest.approx(received, rel=1e-9)
    assert r >= -1e-12


@given(payment=amounts, count=counts, low=st.floats(0.05, 1), high=st.floats(0.05, 1))
@settings(max_examples=200, deadline=None)
def test_rate_rises_when_less_is_received(payment: float, count: int, low: float, high: float):
    assume(high - low > 1e-6)
    total = payment * count
    less, more = total * low, total * high  # receiving less for the same repayments
    assert periodic_irr(less, [payment] * count) > periodic_irr(more, [payment] * count)


@given(payment=st.integers(min_value=1, max_value=10**6), count=counts,
       period=st.sampled_from(["monthly", "weekly", "every_n_days"]), days=st.integers(1, 365))
@settings(max_examples=200, deadline=None)
def test_zero_interest_gives_zero_percent(payment: int, count: int, period: str, days: int):
    loan = Loan(contract=payment * count, received=payment * count, count=count, payment=payment,
                period=period, period_days=days)
    result = assess(loan, CAP)
    assert result.apr_percent == 0
    assert not any(f.above for f in result.findings)


@given(received=amounts, count=counts, markup=st.floats(min_value=0.001, max_value=3),
       period=st.sampled_from(["monthly", "weekly", "every_n_days"]), days=st.integers(1, 365))
@settings(max_examples=200, deadline=None)
def test_effective_rate_is_at_least_the_apr_and_lines_are_consistent(received, count, markup, period, days):
    loan = Loan(contract=received, received=received, count=count, payment=received * (1 + markup) / count,
                period=period, period_days=days)
    result = assess(loan, CAP)
    assert result.rate.effective >= result.rate.nominal * (1 - 1e-9)
    above = {f.line: f.above for f in result.findings}
    assert above["l36"] <= above["l24"] <= above["lpr4"]  # a higher line is never crossed alone
    for f in result.findings:  # the total at a line is below what is asked iff the rate is above it
        if f.above:
            assert f.lawful_total < loan.total


@given(contract=amounts, received=amounts, count=counts, markup=st.floats(min_value=0, max_value=100),
       period=st.sampled_from(["monthly", "weekly", "every_n_days", "once"]), days=st.integers(1, 3650),
       lang=st.sampled_from(["zh", "en"]))
@settings(max_examples=100, deadline=None)
def test_any_valid_loan_renders_in_both_languages(loaded, contract, received, count, markup, period, days, lang):
    received = min(received, contract)
    if period == "once":
        count = 1
    loan = Loan(contract=contract, received=received, count=count, payment=received * (1 + markup) / count,
                period=period, period_days=days)
    assume(problems(loan) == [])
    text = result_text(loaded.knowledge, lang, assess(loan, float(loaded.knowledge.facts.lpr.cap)))
    assert loaded.knowledge.text(lang, "not_lawyer") in text
    assert len(text) < 4000


# --- content: triggers and facts -------------------------------------------------------------

def test_triggers_do_not_steal_questions(loaded):
    """A trigger starts /apr before the matcher runs: no example question of any topic, and no
    question of the evaluation set, may contain one."""
    dialog = loaded.dialogs["apr"]
    questions = [e for by_lang in loaded.knowledge.answers.values() for a in by_lang.values() for e in a.examples]
    eval_set = Path(__file__).parent / "eval" / "questions.yaml"
    questions += [q["q"] for q in yaml.safe_load(eval_set.read_text(encoding="utf-8")) or []]
    triggers = [normalize(p) for phrases in dialog.triggers.values() for p in phrases]
    stolen = [(q, p) for q in questions for p in triggers if p in normalize(q)]
    assert stolen == []


def test_result_uses_the_lpr_from_facts(loaded):
    k = loaded.knowledge
    loan = Loan(contract=3000, received=2000, count=1, payment=3000, period="once", period_days=7)
    text = result_text(k, "en", assess(loan, float(k.facts.lpr.cap)))
    assert f"4x the one-year LPR ({k.facts.lpr.cap}% a year)" in text
    assert f"{k.facts.lpr.value}% since {k.facts.lpr.since.isoformat()}" in text
    assert ("later months not checked" in text) == k.facts.lpr.verify_later
    assert ui("apr.result.sources", "en", checked=k.facts.checked.isoformat()) in text
    assert money(2009.21, "en") in text


# --- conversations ------------------------------------------------------------------------------

def test_apr_dialog_in_chinese_714_loan(chat: Chat):
    chat.say("/apr")
    assert ui("apr.contract.q") in chat.text
    chat.say("3千")          # contract
    chat.say("2000元")       # received
    chat.say("1")            # one repayment
    assert ui("apr.once_amount.q") in chat.text
    chat.say("3,000")        # repaid
    chat.say("7")            # after 7 days
    assert "c:ok" in chat.buttons and f"{ui('apr.days.label')}：7" in chat.text
    chat.press("c:ok")
    answer = chat.last[0]
    assert answer.kind == "answer"
    assert "真实年化利率：2,607.14%" in answer.text
    assert "超过 1,000,000%" in answer.text
    assert "放款时先扣了 1,000 元" in answer.text and "第26条" in answer.text
    assert "按年化 24% 算，一共应还约 2,009.21 元" in answer.text
    assert ui("apr.result.sources", checked="2026-11-29") in answer.text
    assert answer.text.rstrip().endswith(chat.engine.k.text("zh", "not_lawyer"))
    assert "d:apr" in chat.buttons


def test_apr_dialog_in_english_monthly_plan(chat_en: Chat):
    chat_en.say("calculate my interest please")   # a trigger phrase starts the dialog
    assert ui("apr.contract.q", "en") in chat_en.text
    for answer in ("12000", "1.2万", "12", "1120"):
        chat_en.say(answer)
    assert chat_en.buttons[:3] == ["o:monthly", "o:weekly", "o:every_n_days"]
    chat_en.press("o:monthly")
    chat_en.press("c:ok")
    text = chat_en.last[0].text
    assert "Real annual rate (APR): 21.46%" in text
    assert "effective rate: 23.70%" in text
    assert "4x the one-year LPR (12.0% a year): your rate is ABOVE this line" in text
    assert "24% a year: your rate is within this line" in text
    assert "so it turns on who lent to you" in text
    assert "checked 2026-11-29" in text and text.rstrip().endswith(ui("not_lawyer", "en"))


def test_every_n_days_and_correction_at_review(chat_en: Chat):
    chat_en.say("/apr")
    for answer in ("1000", "820", "2", "441"):
        chat_en.say(answer)
    chat_en.press("o:every_n_days")
    chat_en.say("7")
    chat_en.press("c:ok")
    assert "260.71%" in chat_en.last[0].text
    # Start again, then change the plan to a one-off repayment at the review screen.
    chat_en.press("d:apr")
    for answer in ("3000", "2000", "2", "1500"):
        chat_en.say(answer)
    chat_en.press("o:weekly")
    chat_en.press("e:count")
    chat_en.say("1")
    assert ui("apr.once_amount.q", "en") in chat_en.text
    chat_en.say("3000")
    chat_en.say("7")
    assert f"{ui('apr.days.label', 'en')}: 7" in chat_en.text and ui("apr.period.q", "en") not in chat_en.text
    chat_en.press("c:ok")
    assert "2,607.14%" in chat_en.last[0].text


def test_received_more_than_contract_is_explained_with_a_restart_button(chat: Chat):
    chat.say("/apr")
    for answer in ("2000", "3000", "1", "3500", "7"):
        chat.say(answer)
    chat.press("c:ok")
    reply = chat.last[0]
    assert shown("apr.bad.received_more", reply.text, contract="2,000 元")
    assert "年化" not in reply.text.split("\n")[0]
    assert [b.id for b in reply.buttons] == ["d:apr"]
    chat.press("d:apr")
    assert ui("apr.contract.q") in chat.text


def test_repaying_less_than_received_is_explained(chat_en: Chat):
    chat_en.say("/apr")
    for answer in ("5000", "5000", "3", "100"):
        chat_en.say(answer)
    chat_en.press("o:monthly")
    chat_en.press("c:ok")
    assert shown("apr.bad.repaid_less", chat_en.text, "en") and chat_en.buttons == ["d:apr"]


def test_negative_amount_and_zero_repayments_get_a_clear_answer(chat: Chat):
    chat.say("/apr")
    chat.say("-500")
    assert ui("flow.bad.too_small", min=1) in chat.text and ui("apr.contract.hint") in chat.text
    assert ui("apr.contract.q") in chat.last[-1].text  # asked again
    chat.say("5000")
    chat.say("4000")
    chat.say("0")
    assert ui("apr.count.hint") in chat.text
    chat.say("1.5")
    assert ui("flow.bad.integer") in chat.text
    chat.say("12")
    assert ui("apr.each.q") in chat.last[-1].text
