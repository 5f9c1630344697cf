"""Assessing a reported incident: which rules were likely broken, how badly, and on what basis.

Pure functions: the report dialog's answers (slots) in, an `Assessment` out. No I/O, no
language: a finding is an id, a severity and the rules it rests on (instrument ids from
content/facts.yaml, with article numbers only where ../shared/spec/legal-facts.md gives
them). The words come from the UI strings `report.finding.<id>.*` when it is rendered, so
the same stored assessment reads correctly in whichever language the user has now.

Severity:
- urgent: threats, visits that will not leave, impersonating police or courts, public
  shaming. These put the police first in the steps.
- likely_violation: a collection rule that binds this kind of lender was very likely broken.
- worth_raising: it depends on facts we cannot know; the finding says honestly when the
  behaviour is allowed and what would make it improper.

Call frequency (legal-facts.md s. 1): connected calls, unanswered dial attempts and texts are
counted apart, because each cap counts one of them and binds one kind of lender: GB/T 45251
caps connected notice calls at 3 a day (online consumer lenders), the China Banking
Association guideline caps unanswered attempts at 6 a day to one number (banks), and texts
have no numeric cap. Only a count above a cap that binds this lender is a likely violation;
the police law and the soft-violence opinion are never cited for a frequency.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from bot import locale
from bot.flow.dates import PastDay
from bot.flow.numbers import Quantity, describe, value_of
from bot.locale import fmt_number

if TYPE_CHECKING:
    from bot.knowledge.loader import Knowledge

Severity = Literal["urgent", "likely_violation", "worth_raising"]
SEVERITIES: tuple[Severity, ...] = ("urgent", "likely_violation", "worth_raising")

KINDS = ("bank", "consumer_finance", "microloan", "platform", "unlicensed_unknown")
BEHAVIOURS = (
    "called_employer", "disclosed_debt", "pressed_others", "called_contacts", "contacted_family",
    "night_contact", "call_bombing", "threats", "threat_visit", "insults", "public_shaming",
    "fake_documents", "impersonation", "visits", "personal_account", "other",
)
THIRD_PARTY = frozenset({"called_employer", "disclosed_debt", "pressed_others", "called_contacts",
                         "contacted_family"})
EVIDENCE = ("recordings", "screenshots", "call_log", "witnesses", "documents")
WANTS = ("stop_contact", "complain", "police", "negotiate", "understand")
# The rest of the report's option ids the outputs know (report.py declares them all to the
# start-up check against dialogs/report.yaml).
ROLES = ("borrower", "contact")
WORK_WHO = ("boss", "hr", "colleagues", "front_desk", "clients")
CONSENT = ("not_agreed", "emergency_contact", "app_access", "not_sure")
CONTACT_WANTS = ("stop_contact", "complain", "police", "understand")
CONTACT_BY = ("messages_only", "calls_workhours", "calls_daytime")
# Daily caps and the instrument that sets each (legal-facts.md s. 1): (count, cap, instrument).
CONNECTED_CAP = 3    # connected notice calls a day to one debtor (GB/T 45251-2025, online lenders)
UNANSWERED_CAP = 6   # unanswered dial attempts a day to one number (CBA guideline 2026, banks)
FREQUENCY_CAPS: dict[str, tuple[str, int, str]] = {
    "bank": ("unanswered", UNANSWERED_CAP, "cba_2026"),
    "consumer_finance": ("connected", CONNECTED_CAP, "gbt45251"),
    "microloan": ("connected", CONNECTED_CAP, "gbt45251"),
    "platform": ("connected", CONNECTED_CAP, "gbt45251"),
    "unlicensed_unknown": ("connected", CONNECTED_CAP, "gbt45251"),
}


# --- the answers, read once ---------------------------------------------------------------

#: the answers that are numbers, kept as typed (exact or estimated) in Incident.quantities
QUANTITIES = ("calls_per_day", "calls_connected", "calls_unanswered", "texts_per_day", "loan_amount",
              "loan_received")


@dataclass(frozen=True)
class Incident:
    """The report dialog's answers as typed values. Missing or odd slots get safe defaults,
    so stored cases from older dialog versions still assess and render."""

    role: str = "borrower"                      # borrower | contact (not the borrower)
    lender: str = ""
    kind: str = "unlicensed_unknown"
    behaviours: frozenset[str] = frozenset()
    work_who: tuple[str, ...] = ()
    work_said: str = ""
    consent: str | None = None                  # not_agreed | emergency_contact | app_access | not_sure
    reachable: bool | None = None               # was the borrower's own phone working and known?
    threat_words: str = ""
    visit_stayed: bool | None = None
    calls_per_day: int | float | None = None     # older reports: one count, kind unknown
    calls_connected: int | float | None = None   # answered collection calls a day
    calls_unanswered: int | float | None = None  # dial attempts not answered a day
    texts_per_day: int | float | None = None     # texts and app messages a day
    call_hours: str = ""
    other_text: str = ""
    started: dt.date | None = None
    latest: dt.date | None = None
    collector_ids: str = ""
    evidence: tuple[str, ...] = ()
    loan_amount: float | None = None
    loan_received: float | None = None
    overdue_since: dt.date | None = None
    wants: frozenset[str] = frozenset()
    contact_by: str | None = None
    name: str = ""
    phone: str = ""
    #: the counts and amounts as typed, approximations kept (约30, 30多): for the words only;
    #: the fields above hold the number (the lower end of an estimate) for the rules
    quantities: Mapping[str, Quantity] = field(default_factory=dict)
    #: the dates given as a part of a month (11月初), by slot name, for the words
    rough_days: Mapping[str, PastDay] = field(default_factory=dict)

    @classmethod
    def from_slots(cls, slots: Mapping[str, Any]) -> Incident:
        role = "contact" if slots.get("role") == "contact" else "borrower"
        kind = slots.get("lender_kind")
        started, latest = _date(slots.get("started")), _date(slots.get("latest"))
        day_slots = {"started": "started", "latest": "latest", "overdue_since": "overdue_since"}
        if started and latest and latest < started:  # typed the other way round
            started, latest = latest, started
            day_slots.update(started="latest", latest="started")
        wants = _ids(slots.get("wants"), WANTS) + _ids(slots.get("contact_wants"), WANTS)
        return cls(
            role=role,
            lender=_text(slots.get("lender_name")),
            kind=kind if kind in KINDS else "unlicensed_unknown",
            behaviours=frozenset(_ids(slots.get("behaviours"), BEHAVIOURS)),
            work_who=tuple(w for w in _list(slots.get("work_who")) if isinstance(w, str)),
            work_said=_text(slots.get("work_said")),
            consent=slots.get("consent") if isinstance(slots.get("consent"), str) else None,
            reachable=slots.get("reachable") if isinstance(slots.get("reachable"), bool) else None,
            threat_words=_text(slots.get("threat_words")),
            visit_stayed=slots.get("visit_stayed") if isinstance(slots.get("visit_stayed"), bool) else None,
            calls_per_day=_number(slots.get("calls_per_day")),
            calls_connected=_number(slots.get("calls_connected")),
            calls_unanswered=_number(slots.get("calls_unanswered")),
            texts_per_day=_number(slots.get("texts_per_day")),
            call_hours=_text(slots.get("call_hours")),
            other_text=_text(slots.get("other_text")),
            started=started,
            latest=latest,
            collector_ids=_text(slots.get("collector_ids")),
            evidence=_ids(slots.get("evidence"), EVIDENCE),
            loan_amount=_number(slots.get("loan_amount")),
            loan_received=_number(slots.get("loan_received")),
            overdue_since=_date(slots.get("overdue_since")),
            wants=frozenset(wants),
            contact_by=slots.get("contact_by") if isinstance(slots.get("contact_by"), str) else None,
            name=_text(slots.get("your_name")),
            phone=_text(slots.get("your_phone")),
            quantities={name: q for name in QUANTITIES if (q := Quantity.from_slot(slots.get(name))) is not None},
            rough_days={name: d for name, slot in day_slots.items()
                        if (d := PastDay.from_slot(slots.get(slot))) is not None and d.approx},
        )

    def shown(self, name: str, lang: str) -> str:
        """A count or amount as the person gave it ("约30", "more than 30"); "" when not given."""
        q = self.quantities.get(name)
        return q.text(lang, lambda v: fmt_number(v, lang)) if q else ""

    @property
    def management(self) -> tuple[str, ...]:
        """Who at work the employer note goes to: the boss and HR among those contacted."""
        return tuple(w for w in self.work_who if w in ("boss", "hr"))

    @property
    def is_contact(self) -> bool:
        return self.role == "contact"

    def did(self, *behaviours: str) -> bool:
        """Did the collector do any of these?"""
        return any(b in self.behaviours for b in behaviours)

    def ordered_behaviours(self) -> list[str]:
        return [b for b in BEHAVIOURS if b in self.behaviours]


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _list(value: Any) -> list:
    return value if isinstance(value, list) else [] if value is None else [value]


def _ids(value: Any, known: Iterable[str]) -> tuple[str, ...]:
    chosen = set(_list(value))
    return tuple(k for k in known if k in chosen)


def _number(value: Any) -> int | float | None:
    return value_of(value)


def _date(value: Any) -> dt.date | None:
    found = PastDay.from_slot(value)
    return found.day if found else None


# --- findings -----------------------------------------------------------------------------

class Rule(BaseModel):
    """An instrument from content/facts.yaml, with articles only where legal-facts.md has them."""

    model_config = ConfigDict(frozen=True)

    instrument: str
    articles: tuple[str, ...] = ()


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str                                       # text: report.finding.<id>.text
    severity: Severity
    rules: tuple[Rule, ...]
    notes: tuple[str, ...] = ()                   # extra lines: report.finding.<id>.<note>
    values: dict[str, str | int | float | dict[str, Any]] = {}  # placeholders (a dict: an estimate)


class Assessment(BaseModel):
    model_config = ConfigDict(frozen=True)

    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()                   # general notes: report.note.<id>

    @property
    def urgent(self) -> bool:
        return any(f.severity == "urgent" for f in self.findings)

    def ids(self) -> list[str]:
        return [f.id for f in self.findings]

    def severity(self, finding_id: str) -> Severity | None:
        return next((f.severity for f in self.findings if f.id == finding_id), None)


def R(instrument: str, *articles: str) -> Rule:
    """Short form, so the tables below read like citations: R("civil_code", "1032")."""
    return Rule(instrument=instrument, articles=articles)


# Which collection rules bind which kind of lender (the rule's own scope is shown with it).
_THIRD_PARTY_RULES: dict[str, tuple[Rule, ...]] = {
    "bank": (R("cba_2026"), R("credit_card_2011", "68")),
    "consumer_finance": (R("gbt45251"), R("nfra_2024_4")),
    "microloan": (R("gbt45251"), R("nifa_2018")),
    "platform": (R("gbt45251"), R("nifa_2018")),
    "unlicensed_unknown": (R("gbt45251"),),
}
_DISCLOSURE_RULES: dict[str, tuple[Rule, ...]] = {
    "bank": (R("cba_2026"),),
    "consumer_finance": (R("gbt45251"),),
    "microloan": (R("gbt45251"),),
    "platform": (R("gbt45251"),),
    "unlicensed_unknown": (),
}
_ABUSE_RULES: dict[str, tuple[Rule, ...]] = {
    "bank": (R("cba_2026"), R("cbirc_2022_9")),
    "consumer_finance": (R("cbirc_2022_9"), R("nfra_2024_4")),
    "microloan": (R("nifa_2018"),),
    "platform": (R("nifa_2018"),),
    "unlicensed_unknown": (),
}
_HOURS_RULES: dict[str, tuple[Rule, ...]] = {
    "bank": (R("cba_2026"),),
    "consumer_finance": (R("gbt45251"), R("nifa_2024")),
    "microloan": (R("gbt45251"), R("nifa_2024")),
    "platform": (R("gbt45251"), R("nifa_2024")),
    "unlicensed_unknown": (R("gbt45251"),),
}
_VISIT_RULES: dict[str, tuple[Rule, ...]] = {
    "bank": (R("cba_2026"),),
    "consumer_finance": (),
    "microloan": (R("nifa_2018"),),
    "platform": (R("nifa_2018"),),
    "unlicensed_unknown": (),
}
_ILLEGAL_DEBT = R("criminal_law", "293-1")  # collecting illegal debts (usury...) by coercion


def assess(slots: Mapping[str, Any]) -> Assessment:
    """The findings for one report, most serious first, and the general notes."""
    inc = Incident.from_slots(slots)
    k = inc.kind
    found: list[Finding] = []

    def add(fid: str, severity: Severity, *rules: Rule | Iterable[Rule], notes: Iterable[str] = (),
            **values: str | int | float | dict[str, Any]) -> None:
        flat: list[Rule] = []
        for r in rules:
            for rule in ([r] if isinstance(r, Rule) else r):
                if rule not in flat:
                    flat.append(rule)
        found.append(Finding(id=fid, severity=severity, rules=tuple(flat), notes=tuple(notes),
                             values=values))

    unlicensed = (_ILLEGAL_DEBT,) if k == "unlicensed_unknown" else ()

    # urgent: the police first. Threats of violence rest on the police law (new Art. 50);
    # Criminal Law Art. 293 is only a note with its "egregious" condition, never the basis.
    if inc.did("threats"):
        add("threats", "urgent", R("police_law", "50"), unlicensed, R("soft_violence_2019"), _ABUSE_RULES[k],
            notes=("serious", "no_contact") + (("illegal_debt",) if unlicensed else ()))
    if inc.did("impersonation"):
        add("impersonation", "urgent", R("criminal_law", "279"),
            _ABUSE_RULES[k] if k in ("bank", "consumer_finance") else ())
    if inc.did("public_shaming"):
        add("public_shaming", "urgent", R("criminal_law", "246"), R("civil_code", "1024", "1032"),
            R("police_law", "50"), R("soft_violence_2019"), _ABUSE_RULES[k] if k == "bank" else ())
    if inc.did("visits"):
        if inc.visit_stayed:
            add("visit_stayed", "urgent", R("police_law", "50"), R("soft_violence_2019"),
                R("civil_code", "1032"), unlicensed, _VISIT_RULES[k])
        else:
            add("visit", "worth_raising", _VISIT_RULES[k] or (R("civil_code", "1032"),),
                notes=("allowed",))
    # A threat to come to the home or workplace is not a threat of violence: a visit can be
    # lawful; threatening a scene, exposure or harm is intimidation the rules ban.
    if inc.did("threat_visit") and not inc.did("threats"):
        add("threat_visit", "worth_raising", _ABUSE_RULES[k], _VISIT_RULES[k] or (R("civil_code", "1032"),),
            notes=("allowed",))
    # likely violations: first, collecting from people who owe nothing
    third = _THIRD_PARTY_RULES[k]
    if inc.is_contact:
        add("third_party_contacted", "likely_violation", third, notes=("allowed",))
        if inc.did("called_employer"):
            add("contact_work", "likely_violation", third)
    else:
        # Calling work or family is tolerated only to reach a borrower who cannot be reached,
        # once, without a word about the debt. Anything beyond that is a likely violation.
        aggravated = inc.reachable is True or inc.did("disclosed_debt", "pressed_others", "call_bombing")
        if inc.did("called_employer"):
            if aggravated:
                add("employer_contact", "likely_violation", third)
            else:
                add("employer_contact_check", "worth_raising", third, notes=("allowed",))
        if inc.did("contacted_family"):
            if aggravated:
                add("family_contact", "likely_violation", third)
            else:
                add("family_contact_check", "worth_raising", third, notes=("allowed",))
    if inc.did("called_contacts"):
        consent_note = ("consent_" + inc.consent,) if inc.consent in ("emergency_contact", "app_access") else ()
        add("contacts_blasted", "likely_violation", third, R("pipl", "5", "6"), R("app_data_rules_2021"),
            R("civil_code", "1038"), notes=consent_note)
    # the same conduct reads differently to the borrower and to the person it was aimed at
    if inc.did("disclosed_debt"):
        add("disclosed_to_you" if inc.is_contact else "disclosed_debt", "likely_violation",
            _DISCLOSURE_RULES[k], R("civil_code", "1032", "1038"))
    if inc.did("pressed_others"):
        add("asked_you_to_pay" if inc.is_contact else "pressed_others", "likely_violation", third)
    if inc.did("fake_documents"):
        add("fake_documents", "likely_violation", R("criminal_law", "280"),
            _ABUSE_RULES[k] if k == "bank" else (), notes=("check",))
    if inc.did("insults"):
        add("insults", "likely_violation", R("police_law", "50"), R("civil_code", "1024"),
            _ABUSE_RULES[k], (R("credit_card_2011"),) if k == "bank" else ())
    if inc.did("night_contact"):
        add("night_contact", "likely_violation", _HOURS_RULES[k], R("civil_code", "1033"),
            notes=() if inc.is_contact else ("allowed",))
    if inc.did("call_bombing"):
        _frequency(inc, add)

    # worth raising
    # Civil Code Art. 670 binds every lender, licensed ones included.
    if (not inc.is_contact and inc.loan_amount and inc.loan_received is not None
            and inc.loan_received < inc.loan_amount):
        add("upfront_deduction", "worth_raising", R("civil_code", "670"), R("spc_private_lending_2020", "26"),
            R("pboc_2021_3"), notes=("all_lenders",), amount=inc.quantities["loan_amount"].slot(),
            received=inc.quantities["loan_received"].slot())

    found.sort(key=lambda f: SEVERITIES.index(f.severity))  # stable: keeps the order above
    return Assessment(findings=tuple(found), notes=tuple(_notes(inc, found)))


def _frequency(inc: Incident, add) -> None:
    """Calls and texts a day, against the one cap that binds this kind of lender."""
    kind_counted, cap, instrument = FREQUENCY_CAPS[inc.kind]
    counts = {"connected": inc.calls_connected, "unanswered": inc.calls_unanswered, "texts": inc.texts_per_day}
    slots = {"connected": "calls_connected", "unanswered": "calls_unanswered", "texts": "texts_per_day"}
    values = {name: inc.quantities[slots[name]].slot() for name, value in counts.items() if value is not None}
    notes = tuple(f"count_{name}" for name in values)
    if not values and inc.calls_per_day is not None:        # an older report: one mixed count
        values, notes = {"calls": inc.quantities["calls_per_day"].slot()}, ("count_mixed",)
    counted = counts[kind_counted]
    rules = (R(instrument), R("civil_code", "1033"))
    if counted is not None and counted > cap:
        add("call_frequency", "likely_violation", rules, notes=(*notes, f"cap_{kind_counted}"),
            cap=cap, **values)
    else:
        add("call_frequency_check", "worth_raising", rules,
            notes=(*notes, f"cap_{kind_counted}", "texts_no_cap", "allowed"), cap=cap, **values)


def _notes(inc: Incident, found: list[Finding]) -> list[str]:
    notes = []
    if any(f.severity == "urgent" for f in found):
        notes.append("danger")
    if inc.is_contact:
        notes.append("owes_nothing_contact")
    elif inc.behaviours & THIRD_PARTY:
        notes.append("others_owe_nothing")
    if inc.did("threats", "threat_visit", "impersonation", "fake_documents"):
        notes.append("not_a_crime")
    if inc.kind == "bank" and not inc.is_contact:
        notes.append("credit_card")
    if inc.did("personal_account"):
        notes.append("personal_account")
    if inc.did("other"):
        notes.append("other")
    if not inc.is_contact:
        notes.append("debt_stays")
    return notes


# --- words --------------------------------------------------------------------------------

def fact_values(k: Knowledge, lang: str) -> dict[str, Any]:
    """Hotlines, sites, names and deadlines as {placeholders} for the report's UI strings,
    so no number is ever typed into a string or into code.

    {police} is a hotline's number, {police_line} its name; {nfra_name} an authority's name,
    {nfra_site} its site, {telecom_report_note} its note; {institution_days} a deadline (deadlines.institution.days) and
    {institution_instrument} the name of the instrument that sets it.
    """
    f = k.facts
    h, a, d = f.hotlines, f.authorities, f.deadlines
    values: dict[str, Any] = {}
    for key, line in h.items():
        values[key] = line.number
        values[f"{key}_line"] = line.name.get(lang)
        if line.site:
            values[f"{key}_site"] = line.site
    for key, auth in a.items():
        values[f"{key}_name"] = auth.name.get(lang)
        if auth.site:
            values[f"{key}_site"] = auth.site
        if auth.note:
            values[f"{key}_note"] = auth.note.get(lang)
    for key, fields in d.items():
        for name, value in fields.items():
            if name == "instrument" and isinstance(value, str) and value in f.instruments:
                values[f"{key}_instrument"] = f.instruments[value].name.get(lang)
            else:
                values[f"{key}_{name}"] = value
    return values


# The revised police law renumbered its articles; legal-facts.md: always say "new Art. 50 (2026)".
_RENUMBERED = {"police_law"}


def articles_text(rule: Rule, lang: str) -> str:
    """第293条之一 / Art. 293-1; a renumbered law's new numbering: 新法第50条 / new Art. 50."""
    if not rule.articles:
        return ""
    return locale.articles(rule.articles, lang, final_and=True, renumbered=rule.instrument in _RENUMBERED)


def merge_rules(rules: Iterable[Rule]) -> list[Rule]:
    """One rule per instrument (first-seen order), its articles merged in numeric order."""
    merged: dict[str, list[str]] = {}
    for rule in rules:
        arts = merged.setdefault(rule.instrument, [])
        arts += [a for a in rule.articles if a not in arts]
    return [Rule(instrument=i, articles=tuple(sorted(a, key=_article_key))) for i, a in merged.items()]


def _article_key(article: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in article.split("-"))


def rule_name(rule: Rule, k: Knowledge, lang: str) -> str:
    """The instrument's name with its articles, without its scope (for letters)."""
    name = k.facts.instruments[rule.instrument].name.get(lang)
    return locale.cite_in_text(name, rule.articles, lang, renumbered=rule.instrument in _RENUMBERED)


def rule_line(rule: Rule, k: Knowledge, lang: str) -> str:
    """Name, articles and scope (who the rule binds), for the findings screen."""
    binds = k.facts.instruments[rule.instrument].binds.get(lang)
    return locale.binds(rule_name(rule, k, lang), binds, lang)


SEVERITY_MARK = {"urgent": "🔴", "likely_violation": "🟠", "worth_raising": "🟡"}


def finding_text(f: Finding, k: Knowledge, lang: str) -> str:
    """One finding: severity, the one-line explanation, its honest notes, and its rules."""
    values = {**fact_values(k, lang), **{key: _fmt_value(v, lang) for key, v in f.values.items()}}
    t = k.text
    lines = [f"{SEVERITY_MARK[f.severity]} " + locale.label_value(
        t(lang, f"report.severity.{f.severity}"), t(lang, f"report.finding.{f.id}.text", **values), lang)]
    lines += ["   " + t(lang, f"report.finding.{f.id}.{note}", **values) for note in f.notes]
    if f.rules:
        rules = locale.clauses((rule_line(r, k, lang) for r in f.rules), lang)
        lines.append("   " + t(lang, "report.out.rules") + rules)
    return "\n".join(lines)


def render_assessment(a: Assessment, k: Knowledge, lang: str, lender: str) -> list[str]:
    """The assessment as text blocks (title, then one block per finding, then the notes);
    report.py packs them into messages."""
    values = fact_values(k, lang)
    blocks = [k.text(lang, "report.out.findings_title", lender=lender)]
    if "danger" in a.notes:
        blocks.append(k.text(lang, "report.note.danger", **values))
    if not a.findings:
        blocks.append(k.text(lang, "report.out.no_findings", **values))
    blocks += [finding_text(f, k, lang) for f in a.findings]
    blocks += [k.text(lang, f"report.note.{n}", **values) for n in a.notes if n != "danger"]
    return blocks


def _fmt_value(value: str | int | float | dict, lang: str) -> str:
    if isinstance(value, str):
        return value
    return describe(value, lang, lambda v: fmt_number(v, lang))  # an estimate as the person said it
