"""The interest check (/apr): the real annual rate of a loan, and what each legal line means.

Pure functions first (numbers in, numbers out; no I/O, no language), then the
@action("apr_result") that turns them into a reply in the user's language.

Which rate, and why
-------------------
The principal is the money the borrower actually received: interest deducted up front
does not count as lent (SPC private-lending provisions (2020), Art. 26; legal-facts.md
section 4). So the rate is the internal rate of return (IRR) of the repayments against
the amount received: the periodic rate r with

    sum over k = 1..n of payment_k / (1 + r)^k  =  received

which is the rate on the principal actually outstanding, period by period. Chinese
courts and PBOC Announcement [2021] No. 3 (lenders must state the annualised rate) use
this IRR-based annualised rate, i.e. the nominal rate

    APR = r x periods per year                   <- the headline figure, compared with the lines

and that is what we compare with 24%, 36% and 4x the one-year LPR: it is the "年化利率"
the PBOC rule requires a lender to disclose, computed the way that rule means it. We also
show the effective (compound) rate (1 + r)^(periods per year) - 1, which is higher for any
positive rate; it tells a borrower who keeps re-borrowing what a year of this really costs,
but no legal line is measured against it, so it never decides a finding.

Periods per year: monthly 12; weekly and "every N days" 365/7 and 365/N; a one-off
repayment after N days 365/N. (A weekly plan and an every-7-days plan give the same rate.)
Verdicts compare the APR rounded to the 2 decimals we show, so the figure on screen and the
verdict never disagree ("24.00%" is not "above 24%").

Cross-field checks
------------------
The dialog runner validates one answer at a time, and a step's min/max cannot refer to
another slot. So each step enforces what it can on its own (amounts at least 1 yuan, at
least one repayment, whole numbers of days), and `problems()` here does the checks that
need two answers (received more than the contract amount; repaying less than was
received). When the numbers cannot be right, the action explains why and offers a button
to start the check again instead of showing a rate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot import locale
from bot.actions.registry import ActionContext, Reads, action
from bot.core import callbacks as cb
from bot.core.models import Button, Reply
from bot.knowledge.loader import source_line
from bot.knowledge.models import Source

if TYPE_CHECKING:
    from bot.knowledge.loader import Knowledge

# The rate lines, percent a year (../shared/spec/legal-facts.md, section 4). 4x LPR is not
# here: it comes from content/facts.yaml (lpr.cap) so a change of the LPR is made once.
LINE_24 = 24.0  # licensed lenders: total cost above it may be cut by a court (SPC 法发〔2017〕22号) [M];
#                 private loans made before 2020-08-20: interest up to it was enforced [H]
LINE_36 = 36.0  # private loans made before 2020-08-20: interest above it void [H]; unlicensed
#                 habitual lending above it can be illegal business operations (2019 opinion) [H]
OLD_LINES_UNTIL = "2020-08-20"  # the old 24%/36% lines: private loans made before this date [H]

DAYS_PER_YEAR = 365
PERIODS = ("monthly", "weekly", "every_n_days")
HUGE_EFFECTIVE = 10_000.0  # 1,000,000% a year: above this the compound figure says nothing more

# Sources named in the result: (instrument id in content/facts.yaml, article or None).
SOURCES: tuple[tuple[str, str | None], ...] = (
    ("spc_private_lending_2020", "25"),
    ("spc_private_lending_2020", "26"),
    ("spc_reply_2020", None),
    ("spc_2017_22", None),
    ("illegal_lending_2019", None),
    ("pboc_2021_3", None),
)


# --- the loan, as answered ----------------------------------------------------------------

@dataclass(frozen=True)
class Loan:
    """The dialog's answers as numbers. `payment` is each repayment; for a one-off
    repayment (count 1) it is the whole amount repaid, after `period_days` days."""

    contract: float
    received: float
    count: int
    payment: float
    period: str = "monthly"          # monthly | weekly | every_n_days | once
    period_days: int | None = None   # every_n_days: the gap; once: days until repayment

    @property
    def periods_per_year(self) -> float:
        if self.period == "monthly":
            return 12.0
        if self.period == "weekly":
            return DAYS_PER_YEAR / 7
        return DAYS_PER_YEAR / (self.period_days or 0) if self.period_days else math.nan

    @property
    def total(self) -> float:
        return self.payment * self.count

    @property
    def cost(self) -> float:
        """Interest and fees of every kind: what is repaid beyond what was received."""
        return self.total - self.received

    @property
    def deducted(self) -> float:
        """Taken off before the money arrived (砍头息, "service fees" kept back)."""
        return max(self.contract - self.received, 0.0)

    @classmethod
    def from_slots(cls, slots: Mapping[str, Any]) -> Loan:
        """Read the apr dialog's slots. Missing or odd values become 0 / None, which
        `problems()` then reports, so nothing here raises."""
        count = _int(slots.get("count"))
        if count == 1:
            return cls(contract=_num(slots.get("contract")), received=_num(slots.get("received")),
                       count=1, payment=_num(slots.get("once_amount")), period="once",
                       period_days=_int(slots.get("days")) or None)
        period = str(slots["period"]) if slots.get("period") in PERIODS else ""
        days = _int(slots.get("every_days")) if period == "every_n_days" else None
        return cls(contract=_num(slots.get("contract")), received=_num(slots.get("received")),
                   count=count, payment=_num(slots.get("each")), period=period, period_days=days or None)


def problems(loan: Loan) -> list[str]:
    """Why these numbers cannot describe a real loan (ids of `apr.bad.<id>` strings)."""
    out = []
    if not loan.contract > 0:
        out.append("contract")
    if not loan.received > 0:
        out.append("received")
    if loan.count < 1:
        out.append("count")
    if not loan.payment > 0:
        out.append("payment")
    if loan.period not in (*PERIODS, "once") or not loan.periods_per_year > 0:
        out.append("period")
    if not out and loan.received > loan.contract:
        out.append("received_more")
    if not out and loan.total < loan.received:
        out.append("repaid_less")
    return out


# --- the rate -----------------------------------------------------------------------------

def periodic_irr(received: float, payments: Sequence[float]) -> float:
    """The rate r per period with sum(payments[k-1] / (1+r)^k, k=1..n) == received.

    Solved for the discount factor x = 1/(1+r) by bisection: the present value
    sum(p_k * x^k) rises strictly with x from 0 at x=0, so with positive payments there is
    exactly one root, and x^k never overflows where the root lies (it underflows to 0 for
    very high rates, which is harmless). Works for negative rates too (total < received).
    """
    if received <= 0 or not payments or any(p < 0 for p in payments) or sum(payments) <= 0:
        raise ValueError("need a positive amount received and non-negative payments, not all zero")

    def excess(x: float) -> float:  # present value at discount factor x, minus received
        value = 0.0
        for p in reversed(payments):  # Horner: x*(p1 + x*(p2 + ...))
            value = (value + p) * x
        return value - received

    lo, hi = 0.0, 1.0
    while excess(hi) < 0:  # total < received: the rate is negative, x > 1
        lo, hi = hi, hi * 2
        if hi > 1e12:
            raise ValueError("no rate: repayments are negligible next to the amount received")
    for _ in range(2000):
        mid = (lo + hi) / 2
        if mid in (lo, hi):  # converged to the last bit
            break
        if excess(mid) < 0:
            lo = mid
        else:
            hi = mid
    x = (lo + hi) / 2
    return 1 / x - 1


@dataclass(frozen=True)
class Rate:
    periodic: float    # per period, a fraction
    nominal: float     # periodic x periods per year: the APR (年化利率), a fraction
    effective: float   # (1 + periodic) ^ periods per year - 1, a fraction; math.inf if astronomical


def annual_rate(loan: Loan) -> Rate:
    r = periodic_irr(loan.received, [loan.payment] * loan.count)
    m = loan.periods_per_year
    try:
        effective = (1 + r) ** m - 1
    except OverflowError:
        effective = math.inf
    return Rate(periodic=r, nominal=r * m, effective=effective)


def total_at(loan: Loan, percent: float) -> float:
    """What the same schedule would repay in all if its APR were exactly `percent`."""
    r = percent / 100 / loan.periods_per_year
    if r == 0:
        return loan.received
    payment = loan.received * r / (1 - (1 + r) ** -loan.count)
    return payment * loan.count


@dataclass(frozen=True)
class Finding:
    line: str          # lpr4 | l24 | l36
    limit: float       # percent a year
    above: bool
    lawful_total: float  # total repaid by this schedule at exactly the line


@dataclass(frozen=True)
class Assessment:
    loan: Loan
    rate: Rate
    findings: tuple[Finding, ...]

    @property
    def apr_percent(self) -> float:
        return round(self.rate.nominal * 100, 2)

    def above(self, line: str) -> bool:
        return any(f.line == line and f.above for f in self.findings)


def assess(loan: Loan, lpr_cap: float) -> Assessment:
    """The rate of a valid loan (see `problems`) and where it stands against each line."""
    rate = annual_rate(loan)
    shown = round(rate.nominal * 100, 2)
    lines = (("lpr4", lpr_cap), ("l24", LINE_24), ("l36", LINE_36))
    findings = tuple(Finding(line, limit, shown > limit, total_at(loan, limit)) for line, limit in lines)
    return Assessment(loan, rate, findings)


# --- the reply ----------------------------------------------------------------------------

@action("apr_result", reads=Reads(
    slots=("contract", "received", "count", "each", "once_amount", "period", "every_days", "days"),
    options={"period": PERIODS}))
def apr_result(ctx: ActionContext) -> list[Reply]:
    k, lang = ctx.knowledge, ctx.lang
    loan = Loan.from_slots(ctx.slots)
    bad = problems(loan)
    again = cb.StartDialog("apr").button(ctx.t("apr.again"))
    if bad:
        return [invalid_reply(k, lang, loan, bad, again)]
    result = assess(loan, float(k.facts.lpr.cap))
    buttons = [again]
    topics = ["interest_legal_limit"] + (["unlicensed_lender"] if result.above("lpr4") else [])
    buttons += [cb.Topic(topic).button(k.answer(topic, lang).title) for topic in topics if topic in k.answers]
    return [Reply(text=result_text(k, lang, result), buttons=tuple(buttons), kind="answer")]


def invalid_reply(k: Knowledge, lang: str, loan: Loan, bad: list[str], again: Button) -> Reply:
    values = {"contract": money(loan.contract, lang), "received": money(loan.received, lang),
              "total": money(loan.total, lang), "count": loan.count, "payment": money(loan.payment, lang)}
    lines = [k.text(lang, "apr.bad.title"), ""]
    lines += ["• " + k.text(lang, f"apr.bad.{b}", **values) for b in bad]
    lines += ["", k.text(lang, "apr.bad.retry")]
    return Reply(text="\n".join(lines), buttons=(again,), kind="notice")


def result_text(k: Knowledge, lang: str, a: Assessment) -> str:
    t = k.text
    loan, lpr = a.loan, k.facts.lpr
    lines = [t(lang, "apr.result.title"), ""]
    schedule = (t(lang, "apr.result.once", days=loan.period_days, total=money(loan.total, lang))
                if loan.period == "once" else
                t(lang, f"apr.result.plan.{loan.period}", count=loan.count, payment=money(loan.payment, lang),
                  days=loan.period_days, total=money(loan.total, lang)))
    lines.append(t(lang, "apr.result.money", received=money(loan.received, lang), schedule=schedule,
                   cost=money(loan.cost, lang)))
    if loan.deducted > 0:
        lines.append(t(lang, "apr.result.deducted", contract=money(loan.contract, lang),
                       deducted=money(loan.deducted, lang), received=money(loan.received, lang)))
    lines += ["", t(lang, "apr.result.apr", apr=percent(a.rate.nominal))]
    if a.rate.effective > HUGE_EFFECTIVE:
        lines.append(t(lang, "apr.result.effective_huge", limit=f"{HUGE_EFFECTIVE * 100:,.0f}%"))
    else:
        lines.append(t(lang, "apr.result.effective", effective=percent(a.rate.effective)))
    lines.append(t(lang, "apr.result.method"))
    lines += ["", t(lang, "apr.result.lines")]
    values = {"cap": lpr.cap, "lpr": lpr.value, "since": lpr.since.isoformat(), "through": lpr.confirmed_through,
              "l24": _pct(LINE_24), "l36": _pct(LINE_36), "old": OLD_LINES_UNTIL,
              "police": k.facts.hotlines["police"].number}
    for f in a.findings:
        verdict = t(lang, "apr.verdict.above" if f.above else "apr.verdict.below")
        lines.append("• " + t(lang, f"apr.line.{f.line}.name", **values) + verdict)
        lines.append("  " + t(lang, f"apr.line.{f.line}.{'above' if f.above else 'below'}", **values))
        if f.line == "lpr4":
            later = t(lang, "apr.line.lpr4.unverified") if lpr.verify_later else ""
            lines.append("  " + t(lang, "apr.line.lpr4.signing", later=later, **values))
    worst = next((f for f in reversed(a.findings) if f.above), None)
    if worst is not None:
        ceilings = [f for f in a.findings if f.above]
        each = locale.clauses((t(lang, "apr.result.at_line", line=f"{lpr.cap}%" if f.line == "lpr4" else _pct(f.limit),
                                 total=money(f.lawful_total, lang), over=money(loan.total - f.lawful_total, lang))
                               for f in ceilings), lang)
        lines += ["", t(lang, "apr.result.compare", each=each)]
    elif a.rate.nominal <= 0:
        lines += ["", t(lang, "apr.result.free")]
    legal = k.facts.hotlines["legal"]
    values.update(legal=legal.number, legal_name=legal.name.get(lang))
    lines += ["", t(lang, "apr.next.title")]
    if worst is None:
        lines.append(t(lang, "apr.next.within"))
    elif not a.above("l24"):  # only the 4x LPR line: it all turns on who the lender is
        lines.append(t(lang, "apr.next.private_only", **values))
    else:
        lines.append(t(lang, "apr.next.above", **values))
        if a.above("l36"):
            lines.append(t(lang, "apr.next.police", **values))
    lines.append(t(lang, "apr.next.caveat"))
    lines += ["", t(lang, "apr.result.sources", checked=k.facts.checked.isoformat())]
    for instrument, article in SOURCES:
        if article == "26" and loan.deducted <= 0:
            continue
        if instrument in k.facts.instruments:
            lines.append("• " + source_line(Source(instrument=instrument, article=article), k.facts, lang))
    lines += ["", t(lang, "not_lawyer")]
    return "\n".join(lines)


# --- formatting ---------------------------------------------------------------------------

def money(amount: float, lang: str) -> str:
    """An amount in the calculation: 2,009.21 元 / 2,009.21 yuan (whole yuan without decimals)."""
    text = locale.fmt_number(amount, lang, decimals=0 if abs(amount - round(amount)) < 0.005 else 2)
    return locale.money(text, lang, "figure")


def percent(fraction: float) -> str:
    return f"{fraction * 100:,.2f}%"


def _pct(value: float) -> str:
    return f"{value:g}%"


def _num(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0
