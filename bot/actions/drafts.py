"""The ready-to-send drafts of a report, rendered from content/<lang>/drafts/<id>.j2.

Each draft is a complete message in the language of its addressee (`ADDRESSEE_LANG`), filled
from the answers: the lender, the dates, what the collectors did, who at work was called,
their numbers, the evidence kept. Where the user skipped their name or phone the draft keeps a
clearly marked blank (【你的姓名】 / [Your name]) for them to fill in.

Every letter goes to a Chinese institution or person (the lender, NFRA and the local bureaus,
the police, an employer in China, contacts and family), so letters are in Chinese whatever
language the user chats in (issue 19). A user who chats in another language also gets each
letter rendered in that language from the same answers, as a translation to read and not to
send (`translation_reply`, never a draft). English letters are made only on request, for an
addressee who reads English.

Templates are rendered with the knowledge base's strict Jinja2 environment (a misspelt
variable fails loudly) and the facts of that language (hotlines, instruments, deadlines),
so a letter never carries a number or an instrument name typed by hand.

Once the lender's evidence log has contacts (bot/actions/evidence.py), the complaint to the
lender, the regulator complaint, the stop-contact request and the police statement cite what
it counts, with its dates (`log_context`, worded by `letter_log.*` UI strings), instead of the
user's estimates of calls a day (issue 16, item 6).

Only the drafts that apply are produced: the police statement only for threats, visits,
impersonation, forged documents or public shaming; the repayment-plan request only when the
borrower chose to negotiate; the notes to the employer and to contacts only when those were
contacted.

What a letter may say (issue 11): nothing the user did not report (the police statement
lists the user's answers and quotes the user's own words, no stock sentences); the notes to
the employer and to contacts disclose the minimum (a private matter, they owe nothing, do
not engage, note the time and number: no lender, no amounts, no list of acts, no actions
the user has not taken); letters to the lender and the regulator cite the rules that bind
that kind of lender (`lender_rules`), never the criminal law, and leave blanks for what a
complaint desk needs to find the account (legal name in the contract, contract number or
the last four digits of the ID number).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from bot import locale
from bot.actions.assess import (
    BEHAVIOURS,
    Assessment,
    Incident,
    R,
    Rule,
    assess,
    merge_rules,
    rule_name,
)
from bot.actions.routing import Route, binds_institution_deadline, needs_police_statement, route
from bot.core.models import Reply
from bot.evidence.summary import LogSummary
from bot.locale import fmt_date  # also for complaints.py

if TYPE_CHECKING:
    from bot.knowledge.loader import Knowledge

# The language the letters are written in unless the user asks for English ones: the language
# of every addressee of DRAFTS and of the escalation drafts (complaints.py).
ADDRESSEE_LANG = "zh"
DRAFTS = ("lender_complaint", "regulator_complaint", "stop_contact", "employer_notice",
          "contacts_message", "police_statement", "repayment_plan")
# Instruments a police statement may cite: laws, not industry rules.
_POLICE_INSTRUMENTS = {"criminal_law", "police_law", "soft_violence_2019", "civil_code"}
# Never cited to a lender or a regulator: they judge collection rules, not crimes.
_NOT_FOR_LENDERS = {"criminal_law", "police_law", "soft_violence_2019"}
# The collection rules that bind each kind of lender, cited in every letter to it.
LENDER_RULES: dict[str, tuple[Rule, ...]] = {
    "bank": (R("credit_card_2011", "68"), R("cba_2026")),
    "consumer_finance": (R("nfra_2024_4"), R("gbt45251")),
    "microloan": (R("gbt45251"),),
    "platform": (R("gbt45251"),),
    "unlicensed_unknown": (R("gbt45251"),),
}


def applicable(inc: Incident) -> list[str]:
    """The drafts this report needs, in the order of DRAFTS."""
    wanted = {"lender_complaint", "regulator_complaint", "stop_contact"}
    if inc.did("called_employer"):
        wanted.add("employer_notice")
    if not inc.is_contact and inc.did("called_contacts", "contacted_family"):
        wanted.add("contacts_message")
    if needs_police_statement(inc):
        wanted.add("police_statement")
    if not inc.is_contact and "negotiate" in inc.wants:
        wanted.add("repayment_plan")
    return [d for d in DRAFTS if d in wanted]


def draft_context(inc: Incident, assessment: Assessment, rt: Route, k: Knowledge, lang: str,
                  today: dt.date, log: LogSummary | None = None) -> dict[str, Any]:
    """Everything a draft template may use besides the facts. No value is ever None, so a
    skipped answer can never print as "None". With `log` (the case's evidence log has
    contacts), `log.text` is what the log counts, cited instead of the user's estimates."""

    def t(key: str, **values: object) -> str:
        return k.text(lang, key, **values)

    blank = {b: t(f"report.blank.{b}") for b in
             ("name", "phone", "id_number", "date", "city", "ticket", "monthly", "months", "first_date",
              "amount", "legal_name", "contract_no", "id_last4", "regulator_choice")}

    def day(name: str, value: dt.date | None) -> str:  # a part of a month stays one: 2026年11月初
        if name in inc.rough_days:
            return inc.rough_days[name].text(lang)
        return fmt_date(value, lang) if value else blank["date"]

    started, latest = day("started", inc.started), day("latest", inc.latest)
    if inc.started and inc.started == inc.latest:
        period = t("report.out.on_day", date=started)
    else:
        period = t("report.out.period", start=started, end=latest)

    def act(b: str) -> str:
        key = f"report.says_contact.{b}" if inc.is_contact and k.has_text(lang, f"report.says_contact.{b}") \
            else f"report.says.{b}"
        phrase = t(key)
        if b == "other" and inc.other_text:
            phrase = locale.label_value(phrase, inc.other_text, lang)
        return phrase

    serious = [f for f in assessment.findings if f.severity != "worth_raising"] or list(assessment.findings)
    cited = merge_rules(r for f in serious for r in f.rules)
    rules = [rule_name(r, k, lang) for r in cited]
    police_rules = [rule_name(r, k, lang) for r in cited if r.instrument in _POLICE_INSTRUMENTS]
    lender_rules = [rule_name(r, k, lang) for r in merge_rules(
        [*LENDER_RULES[inc.kind], *(r for r in cited if r.instrument not in _NOT_FOR_LENDERS)])]

    def count(name: str) -> str:  # as the person gave it: 30, 约30, 30多, 30至40
        return inc.shown(name, lang)

    def money(name: str) -> str:
        shown = inc.shown(name, lang)
        return locale.money(shown, lang) if shown else ""

    deducted = bool(inc.loan_amount and inc.loan_received is not None and inc.loan_received < inc.loan_amount)
    return {
        "lender": inc.lender or t("report.blank.lender"),
        "kind": inc.kind,
        "lender_kind": t(f"report.lender_kind.opt.{inc.kind}"),
        "is_contact": inc.is_contact,
        "bank_like": inc.kind in ("bank", "consumer_finance"),
        "name": inc.name or blank["name"],
        "phone": inc.phone or blank["phone"],
        "blank": blank,
        "today": fmt_date(today, lang),
        "started": started,
        "latest": latest,
        "period": period,
        "acts": [act(b) for b in inc.ordered_behaviours()],
        "b": {b: b in inc.behaviours for b in BEHAVIOURS},
        "work_who": locale.join((t(f"report.work_who.opt.{w}") for w in inc.work_who
                                 if k.has_text(lang, f"report.work_who.opt.{w}")), lang),
        "work_heads": locale.join((t(f"report.work_who.opt.{w}") for w in inc.management), lang),
        "work_said": inc.work_said,
        "consent": inc.consent or "",
        "reachable": "" if inc.reachable is None else ("yes" if inc.reachable else "no"),
        "threat_words": inc.threat_words,
        "visit_stayed": bool(inc.visit_stayed),
        "calls_per_day": count("calls_per_day"),        # older reports: calls and texts together
        "calls_connected": count("calls_connected"),
        "calls_unanswered": count("calls_unanswered"),
        "texts_per_day": count("texts_per_day"),
        "call_hours": inc.call_hours,
        "collector_ids": inc.collector_ids,
        "evidence": [t(f"report.evidence_item.{e}") for e in inc.evidence],
        "loan_amount": money("loan_amount") if inc.loan_amount else "",
        "loan_received": money("loan_received") if inc.loan_received is not None else "",
        "deducted": deducted,
        "overdue_since": day("overdue_since", inc.overdue_since) if inc.overdue_since else "",
        "contact_by": t(f"report.contact_by.letter.{inc.contact_by or 'messages_only'}"),
        "rules": rules,
        "lender_rules": lender_rules,
        "kind_rules": [rule_name(r, k, lang) for r in LENDER_RULES[inc.kind]],
        "police_rules": police_rules,
        "regulator_key": rt.regulator,
        "institution_bound": binds_institution_deadline(inc.kind),
        "platform": inc.kind == "platform",
        "unlicensed": inc.kind == "unlicensed_unknown",
        "log": log_context(log, k, lang) if log is not None else {},
        # a witness code (bot/actions/witness.py), given only by /witness through `extra`
        "witness_url": "", "witness_code": "", "witness_home": "",
    }


def log_context(log: LogSummary, k: Knowledge, lang: str) -> dict[str, Any]:
    """The evidence log's counts and dates for a letter in `lang` (issue 16, item 6): `text`
    one paragraph ("根据我逐次记录的催收记录，2026年11月20日至28日，共47次……"), and the parts."""
    def t(key: str, **values: object) -> str:
        return k.text(lang, f"letter_log.{key}", **values)

    first, last = fmt_date(log.first, lang), fmt_date(log.last, lang)
    period = (k.text(lang, "report.out.on_day", date=first) if log.first == log.last
              else k.text(lang, "report.out.period", start=first, end=last))
    others = log.third_party - log.employer
    parts = [t("calls", n=log.calls) if log.calls else "",
             t("messages", n=log.messages) if log.messages else "",
             t("visits", n=log.visits) if log.visits else "",
             t("night", n=log.night) if log.night else "",
             t("employer", n=log.employer) if log.employer else "",
             t("others", n=others) if others > 0 else ""]
    sentences = [t("intro", period=period, contacts=log.contacts)
                 + "".join(t("part", part=p) for p in parts if p) + t("end")]
    if log.busiest_connected and log.busiest_connected[1] > 3:
        sentences.append(t("connected", date=fmt_date(log.busiest_connected[0], lang), n=log.busiest_connected[1]))
    if log.busiest_missed and log.busiest_missed[1] > 6:
        sentences.append(t("missed", date=fmt_date(log.busiest_missed[0], lang), n=log.busiest_missed[1]))
    stop = fmt_date(log.stop_day, lang) if log.stop_day else ""
    if log.stop_day and log.after_stop:
        sentences.append(t("after_stop", date=stop, n=log.after_stop))
    return {"text": t("sep").join(sentences),
            "period": period, "contacts": log.contacts, "night": log.night, "employer": log.employer,
            "third_party": log.third_party, "stop_day": stop, "after_stop": log.after_stop}


@lru_cache(maxsize=64)
def _template(env: jinja2.Environment, path: str) -> jinja2.Template:
    """Compiled once per file: drafts are content, loaded like the rest at first use."""
    return env.from_string(Path(path).read_text(encoding="utf-8"))


def template_path(k: Knowledge, lang: str, draft_id: str) -> Path:
    """content/<lang>/drafts/<id>.j2, or its fallback language's when `lang` has none."""
    path = k.root / lang / "drafts" / f"{draft_id}.j2"
    loc = k.locales.get(lang)
    if loc is not None and loc.fallback and not path.exists():
        return template_path(k, loc.fallback, draft_id)
    return path


def reads_letters(k: Knowledge, lang: str, letters: str) -> bool:
    """Does someone chatting in `lang` read letters in `letters` as they are, so that no
    translation follows them? The same language, or one that falls back to it for its letters
    (a language without drafts of its own would "translate" them into the same text)."""
    loc = k.locales.get(lang)
    return lang == letters or (loc is not None and loc.fallback == letters
                               and not (k.root / lang / "drafts").is_dir())


def render_draft(draft_id: str, context: Mapping[str, Any], k: Knowledge, lang: str) -> str:
    template = _template(k.env, str(template_path(k, lang, draft_id)))
    text = template.render(**k.facts.view(lang), **context)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def render_drafts(slots: Mapping[str, Any], k: Knowledge, lang: str, today: dt.date,
                  assessment: Assessment | None = None, rt: Route | None = None,
                  only: list[str] | None = None, log: LogSummary | None = None,
                  extra: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The drafts that apply (or `only` these), in the order the steps send them. `extra`:
    more values for the templates (a witness code's link)."""
    inc = Incident.from_slots(slots)
    assessment = assessment or assess(slots)
    rt = rt or route(slots, assessment)
    context = {**draft_context(inc, assessment, rt, k, lang, today, log), **(extra or {})}
    wanted = only if only is not None else applicable(inc)
    ordered = [d for d in rt.drafts() if d in wanted] + [d for d in wanted if d not in rt.drafts()]
    return {d: render_draft(d, context, k, lang) for d in ordered}


# --- the language of the letters (issue 19) -------------------------------------------------

def how_line(text: str, k: Knowledge, lang: str, letters: str) -> str:
    """A "who it is for and how to send it" line (in `lang`) for a letter in `letters`: when the
    two differ, one more line says which language the letter is in and that it is the one to
    send, with its translation after it."""
    return text if reads_letters(k, lang, letters) else text + "\n" + k.text(lang, f"letter.note.{letters}")


def blanks(k: Knowledge, lang: str, letters: str) -> str:
    """How the blanks of a letter in `letters` look, said in `lang` ("the blanks in 【】")."""
    return k.text(lang, f"letter.blanks.{letters}")


def translation_reply(k: Knowledge, lang: str, text: str) -> Reply:
    """A letter in the user's own language, to read: plain text, never kind="draft" and no
    draft_id (so no channel offers it to copy or share), its first line saying not to send it."""
    return Reply(text=k.text(lang, "letter.translation") + "\n\n" + text)
