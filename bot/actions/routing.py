"""Complaint routing: what to do, in what order, where, and how long they have to answer.

Pure functions over the report's answers and its assessment. The order follows what helps a
borrower most and soonest:

1. police first when anything is urgent (threats, visits that will not leave,
   impersonating police or courts, public shaming);
2. keep evidence (what is still missing, given what they already kept);
3. the written stop-contact request, then the notes to the employer and to contacts;
4. the lender's own customer service (keep the ticket number), a repayment request if wanted;
5. the regulator that fits the lender: banks and consumer finance companies -> NFRA
   (hotlines.nfra);
   microloan companies and their apps -> the local financial regulatory bureau where the
   lender is registered; a platform or an unknown lender -> first find the lender named in
   the loan contract (贷款人/出借人): a bank or consumer finance company behind a platform
   goes to NFRA (the bank answers for its platform partners), a microloan company to its
   local bureau; NIFA's reporting platform is offered besides, as an industry association,
   never as the regulator and never with the regulator's letter; unlicensed lenders also go
   to the police;
6. the police (when not already first), checking "court papers" (hotlines.court), the
   harassing-calls centre for call bombing and spam (hotlines.telecom), the anti-fraud line
   for pay-to-a-personal-account demands (hotlines.fraud), and free legal advice
   (hotlines.legal) last.

Numbers and deadlines are never written here: steps name keys of content/facts.yaml.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from bot import locale
from bot.actions.assess import Assessment, Incident, assess, fact_values

if TYPE_CHECKING:
    from bot.knowledge.loader import Knowledge

Regulator = Literal["nfra", "local_bureau"]

# Behaviours the police deal with even when nothing is urgent (legal-facts.md, section 5).
POLICE_MATTERS = frozenset({"threats", "insults", "visits", "impersonation", "fake_documents",
                            "public_shaming", "call_bombing"})


class RouteStep(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str                                # text: report.route.<id>
    draft: str | None = None               # the draft to send at this step
    deadline: str | None = None            # a key of facts.yaml `deadlines`, or "none" (no legal deadline)
    have: tuple[str, ...] = ()             # evidence step: what the user already kept
    gather: tuple[str, ...] = ()           # evidence step: what is still to get


class Route(BaseModel):
    model_config = ConfigDict(frozen=True)

    steps: tuple[RouteStep, ...]
    regulator: Regulator                   # whom the regulator complaint is addressed to

    def ids(self) -> list[str]:
        return [s.id for s in self.steps]

    def drafts(self) -> list[str]:
        """The drafts to send, in the order the steps use them."""
        out: list[str] = []
        for step in self.steps:
            if step.draft and step.draft not in out:
                out.append(step.draft)
        return out


def regulator_for(kind: str) -> Regulator:
    return "nfra" if kind in ("bank", "consumer_finance") else "local_bureau"


def binds_institution_deadline(kind: str | None) -> bool:
    """Does the 15/30/60-day rule of the 2020 complaint-handling measures bind this lender?
    Banks, insurers and consumer finance companies only (legal-facts.md s. 5 and 9)."""
    return kind in ("bank", "consumer_finance")


def route(slots: Mapping[str, Any], assessment: Assessment | None = None) -> Route:
    inc = Incident.from_slots(slots)
    assessment = assessment or assess(slots)
    police_draft = "police_statement" if needs_police_statement(inc) else None
    steps: list[RouteStep] = []

    if assessment.urgent:
        steps.append(RouteStep(id="police_now", draft=police_draft))
    steps.append(evidence_step(inc))
    steps.append(RouteStep(id="stop_request_contact" if inc.is_contact else "stop_request",
                           draft="stop_contact"))
    if inc.did("called_employer"):
        steps.append(RouteStep(id="employer_notice", draft="employer_notice"))
    if not inc.is_contact and inc.did("called_contacts", "contacted_family"):
        steps.append(RouteStep(id="contacts_message", draft="contacts_message"))
    if inc.kind in ("platform", "unlicensed_unknown"):
        steps.append(RouteStep(id="find_lender"))
    # The 15-day answer rule binds banks, insurers and consumer finance companies only; for
    # any other lender the step says that no legal deadline applies.
    steps.append(RouteStep(id="lender_complaint", draft="lender_complaint",
                           deadline="institution" if binds_institution_deadline(inc.kind) else "none"))
    if not inc.is_contact and "negotiate" in inc.wants:
        steps.append(RouteStep(id="repayment_plan", draft="repayment_plan"))

    regulator = regulator_for(inc.kind)
    regulator_step = ("regulator_nfra" if regulator == "nfra"
                      else "regulator_platform" if inc.kind == "platform" else "regulator_local")
    steps.append(RouteStep(id=regulator_step, draft="regulator_complaint", deadline="petition"))
    if inc.kind == "platform":   # an industry association: no letter of its own, not "the regulator"
        steps.append(RouteStep(id="nifa"))

    police_later = (inc.kind == "unlicensed_unknown" or "police" in inc.wants
                    or bool(inc.behaviours & POLICE_MATTERS))
    if not assessment.urgent and police_later:
        steps.append(RouteStep(id="police", draft=police_draft))
    if inc.did("fake_documents", "impersonation"):
        steps.append(RouteStep(id="court_check"))
    if inc.did("call_bombing", "night_contact", "called_contacts"):
        steps.append(RouteStep(id="telecom"))
    if inc.did("personal_account"):
        steps.append(RouteStep(id="fraud"))
    steps.append(RouteStep(id="legal_aid"))
    return Route(steps=tuple(steps), regulator=regulator)


def needs_police_statement(inc: Incident) -> bool:
    """The police statement is drafted only for what the police act on at once."""
    return inc.did("threats", "visits", "impersonation", "fake_documents", "public_shaming")


def evidence_step(inc: Incident) -> RouteStep:
    """What to keep, given what they already have: only the kinds of evidence that fit
    what happened (witnesses when work or family were called, documents when papers or
    posters were sent), plus the loan contract for a borrower."""
    useful = ["recordings", "screenshots"]
    if inc.did("call_bombing", "night_contact", "called_employer", "called_contacts", "contacted_family"):
        useful.append("call_log")
    # people who took the calls can confirm them; a non-borrower took them personally
    if inc.did("called_employer", "called_contacts", "contacted_family", "visits") or (
            not inc.is_contact and inc.did("disclosed_debt", "pressed_others")):
        useful.append("witnesses")
    if inc.did("fake_documents", "public_shaming", "impersonation"):
        useful.append("documents")
    gather = [e for e in useful if e not in inc.evidence]
    if not inc.is_contact:
        gather.append("contract")
    return RouteStep(id="evidence", have=inc.evidence, gather=tuple(gather))


# --- words --------------------------------------------------------------------------------

def step_text(step: RouteStep, inc: Incident, k: Knowledge, lang: str, values: dict[str, Any]) -> str:
    t = k.text
    v = {**values, "lender": inc.lender,
         "work": locale.join((t(lang, f"report.work_who.opt.{w}") for w in inc.management), lang)
         or t(lang, "report.out.your_employer")}
    if step.draft:
        v["draft"] = t(lang, f"report.draft.{step.draft}.title")
    if step.id == "evidence":
        lines = [t(lang, "report.route.evidence", **v)]
        if step.have:
            lines.append(t(lang, "report.route.evidence_have",
                           items=locale.join((t(lang, f"report.evidence_item.{e}") for e in step.have), lang)))
        if step.gather:
            lines.append(t(lang, "report.route.evidence_gather",
                           items=locale.join((t(lang, f"report.evidence_item.{e}") for e in step.gather), lang)))
        text = locale.sentences(lines, lang)
    else:
        text = t(lang, f"report.route.{step.id}", **v)
        if step.draft:
            text += t(lang, "report.route.with_draft", **v)
    if step.deadline:
        text += "\n   " + t(lang, f"report.deadline.{step.deadline}", **v)
    return text


def render_route(r: Route, inc: Incident, k: Knowledge, lang: str) -> str:
    values = fact_values(k, lang)
    lines = [k.text(lang, "report.out.steps_title")]
    lines += [f"{i}. {step_text(s, inc, k, lang, values)}" for i, s in enumerate(r.steps, 1)]
    return "\n".join(lines)
