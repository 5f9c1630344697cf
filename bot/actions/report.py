"""The incident report's outcome, saved cases, and /cases to see them again.

After the user confirms the review screen, `report_outcome` sends, in this order:
the findings (kind="answer"), the ordered steps, then each draft as its own message
(kind="draft", nothing else in it, so it can be copied or forwarded as is) after one short
line saying who it is for and how to send it; then a closing line with buttons.

The letters are in the language of their addressees, Chinese (drafts.ADDRESSEE_LANG), whatever
language the user chats in. A user chatting in English gets, after each Chinese letter, the
same letter in English as plain text marked "for you to read, do not send" (a translation,
never a draft), and a button for English letters, to send only to someone who reads English.

A case stores the answers with the findings, steps and drafts (the letters as sent, in
Chinese) as they were produced. Viewing a case later re-renders everything from the stored
answers: findings and steps in the user's current language, the letters in Chinese (with the
translation when the user chats in English), or in English on request.

Buttons use the prefix "k": k:l (list), k:v:<case> (view), k:d:<case>:<draft> (one draft),
k:a:<case> (every draft), k:e:<case>[:<draft>] (the letters in English).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.actions.assess import (
    BEHAVIOURS,
    CONSENT,
    CONTACT_BY,
    CONTACT_WANTS,
    EVIDENCE,
    KINDS,
    ROLES,
    WANTS,
    WORK_WHO,
    Assessment,
    Incident,
    assess,
    render_assessment,
)
from bot.actions.buttons import CaseButton
from bot.actions.complaints import track_button
from bot.actions.drafts import ADDRESSEE_LANG, blanks, how_line, reads_letters, render_drafts, translation_reply
from bot.actions.evidence import log_buttons_for_case, log_summary
from bot.actions.registry import ActionContext, Reads, action, button, command
from bot.actions.routing import Route, render_route, route
from bot.core import callbacks as cb
from bot.core.models import Button, Reply

if TYPE_CHECKING:
    from bot.evidence.summary import LogSummary
    from bot.knowledge.loader import Knowledge

CASE_KIND = "report"
MAX_LISTED = 10
MAX_CASES = 200             # saved reports per user: far more than anyone needs, a bound for a runaway script
MAX_MESSAGE = 3500          # characters; long findings are split between messages at finding edges
MAX_LABEL = 40              # characters of a button label
FOLLOW_UP_TOPICS = ("complaint_followup", "evidence_collection")


#: What the report's outputs read (assess.Incident.from_slots), checked against report.yaml.
REPORT_READS = Reads(
    slots=("role", "lender_name", "lender_kind", "behaviours", "work_who", "work_said", "consent", "reachable",
           "threat_words", "visit_stayed", "calls_per_day", "calls_connected", "calls_unanswered", "texts_per_day",
           "call_hours", "other_text", "started", "latest", "collector_ids", "evidence", "loan_amount",
           "loan_received", "overdue_since", "wants", "contact_wants", "contact_by", "your_name", "your_phone"),
    options={"role": ROLES, "lender_kind": KINDS, "behaviours": BEHAVIOURS, "work_who": WORK_WHO,
             "consent": CONSENT, "evidence": EVIDENCE, "wants": WANTS, "contact_wants": CONTACT_WANTS,
             "contact_by": CONTACT_BY},
    legacy=("calls_per_day",),   # older cases: one mixed count
)


@dataclass(frozen=True)
class Outcome:
    incident: Incident
    assessment: Assessment
    route: Route
    drafts: dict[str, str]           # draft id -> text, in `letters`, in the order the steps send them
    letters: str = ADDRESSEE_LANG    # the language of the drafts
    # The same drafts in the user's language, to read (empty when that is `letters`).
    translations: dict[str, str] = field(default_factory=dict)


def compose(slots: Mapping[str, Any], k: Knowledge, lang: str, today: dt.date,
            letters: str = ADDRESSEE_LANG, log: LogSummary | None = None) -> Outcome:
    """Everything the report produces, from the answers alone (pure): findings and steps in
    `lang`, the letters in `letters` and, when that is not `lang`, each letter again in `lang`
    for the user to read. With `log` (the lender's evidence log has contacts), the letters
    cite its counts and dates instead of the estimates (bot/actions/evidence.py)."""
    assessment = assess(slots)
    rt = route(slots, assessment)
    drafts = render_drafts(slots, k, letters, today, assessment, rt, log=log)
    translations = (render_drafts(slots, k, lang, today, assessment, rt, log=log)
                    if not reads_letters(k, lang, letters) else {})
    return Outcome(Incident.from_slots(slots), assessment, rt, drafts, letters, translations)


def regulator_name(rt: Route, k: Knowledge, lang: str) -> str:
    if rt.regulator == "nfra":
        return k.facts.authorities["nfra"].name.get(lang)
    if any(step.id == "regulator_platform" for step in rt.steps):  # depends on the lender behind it
        return k.text(lang, "report.out.regulator_of_contract_lender")
    return k.text(lang, "report.out.regulator_local")


def pack(blocks: list[str], limit: int = MAX_MESSAGE) -> list[str]:
    """Join text blocks into as few messages as fit under `limit` characters each."""
    messages: list[str] = []
    for block in blocks:
        if messages and len(messages[-1]) + 2 + len(block) <= limit:
            messages[-1] += "\n\n" + block
        else:
            messages.append(block)
    return messages


def findings_replies(o: Outcome, k: Knowledge, lang: str) -> list[Reply]:
    blocks = render_assessment(o.assessment, k, lang, o.incident.lender)
    return [Reply(text=text, kind="answer") for text in pack(blocks)]


def steps_reply(o: Outcome, k: Knowledge, lang: str) -> Reply:
    return Reply(text=render_route(o.route, o.incident, k, lang))


def draft_replies(o: Outcome, k: Knowledge, lang: str, only: str | None = None) -> list[Reply]:
    """Each draft after its one-line "who it is for and how to send it" (which, when the letter
    is not in the user's language, says which language it is in), then its translation."""
    regulator = regulator_name(o.route, k, lang)
    replies = []
    for draft_id, text in o.drafts.items():
        if only and draft_id != only:
            continue
        how = k.text(lang, f"report.draft.{draft_id}.how", lender=o.incident.lender, regulator=regulator,
                     blanks=blanks(k, lang, o.letters))
        replies.append(Reply(text=how_line(how, k, lang, o.letters)))
        replies.append(Reply(text=text, kind="draft", draft_id=draft_id))
        if draft_id in o.translations:
            replies.append(translation_reply(k, lang, o.translations[draft_id]))
    return replies


def drafts_title(o: Outcome, k: Knowledge, lang: str, english_button: bool = False) -> Reply:
    """The line before the letters: what they are and, when translated, which language they
    are in (and where the English ones are, when the closing line will have their button)."""
    text = k.text(lang, "report.out.drafts_title")
    if o.translations:
        text += "\n" + k.text(lang, f"letter.intro.{o.letters}")
        if english_button:
            text += " " + k.text(lang, "letter.intro_button")
    return Reply(text=text)


def english_button(k: Knowledge, lang: str, case_id: int) -> Button:
    return CaseButton("e", case_id).button(_short(k.text(lang, "letter.button.en")))


def case_data(slots: Mapping[str, Any], o: Outcome, lang: str, now: dt.datetime) -> dict[str, Any]:
    """What a case stores: plain JSON."""
    return {
        "answers": dict(slots),
        "lang": lang,
        "created": now.isoformat(timespec="seconds"),
        "findings": [f.model_dump(mode="json") for f in o.assessment.findings],
        "notes": list(o.assessment.notes),
        "steps": [s.model_dump(mode="json") for s in o.route.steps],
        "regulator": o.route.regulator,
        "drafts": o.drafts,
    }


@action("report_outcome", reads=REPORT_READS)
def report_outcome(ctx: ActionContext) -> list[Reply]:
    k, lang = ctx.knowledge, ctx.lang
    o = compose(ctx.slots, k, lang, ctx.now.date(), log=log_summary(ctx, str(ctx.slots.get("lender_name") or "")))
    full = ctx.store.count_cases(ctx.user_id, CASE_KIND) >= MAX_CASES
    english = bool(o.translations) and not full   # the closing line's button (it needs a saved case)
    replies = [*findings_replies(o, k, lang), steps_reply(o, k, lang), drafts_title(o, k, lang, english),
               *draft_replies(o, k, lang)]
    if full:  # the letters still come; nothing more is stored
        replies.append(Reply(text=ctx.t("report.out.not_saved", max=MAX_CASES) + "\n" + ctx.t("not_lawyer"),
                             kind="notice"))
        return replies
    case_id = ctx.store.save_case(ctx.user_id, CASE_KIND, lang, case_data(ctx.slots, o, lang, ctx.now))
    buttons = [track_button(k, lang, case_id), *log_buttons_for_case(ctx, case_id),
               CaseButton("l").button(ctx.t("report.out.button_cases"))]
    if english:   # letters not in the user's language: the English ones are a tap away
        buttons.append(english_button(k, lang, case_id))
    buttons += [cb.Topic(t).button(k.answer(t, lang).title) for t in FOLLOW_UP_TOPICS if t in k.answers]
    closing = ctx.t("report.out.saved", case_id=case_id) + "\n" + ctx.t("not_lawyer")
    replies.append(Reply(text=closing, buttons=tuple(buttons)))
    return replies


# --- /cases -------------------------------------------------------------------------------

@command("cases")
def list_cases(ctx: ActionContext) -> list[Reply]:
    shown = ctx.store.cases(ctx.user_id, CASE_KIND, limit=MAX_LISTED)
    if not shown:
        return [Reply(text=ctx.t("cases.empty"))]
    total = ctx.store.count_cases(ctx.user_id, CASE_KIND) if len(shown) == MAX_LISTED else len(shown)
    lines = [ctx.t("cases.title")]
    buttons = []
    for case in shown:
        label = ctx.t("cases.item", id=case["id"], date=_case_date(case, ctx), lender=_lender(case))
        lines.append("• " + label)
        buttons.append(CaseButton("v", case['id']).button(_short(label)))
    if total > len(shown):
        lines.append(ctx.t("cases.more", shown=len(shown), total=total))
    return [Reply(text="\n".join(lines), buttons=tuple(buttons))]


@button(CaseButton)
def case_button(ctx: ActionContext) -> list[Reply]:
    data = ctx.data
    assert isinstance(data, CaseButton)
    what, draft_id = data.what, data.draft or ""
    if what == "l":
        return list_cases(ctx)
    case = ctx.store.case(ctx.user_id, data.case) if data.case is not None else None
    if case is None or case.get("kind") != CASE_KIND:
        return [Reply(text=ctx.t("cases.not_found"), kind="notice")]
    k, lang = ctx.knowledge, ctx.lang
    letters = "en" if what == "e" else ADDRESSEE_LANG
    o = compose(case["data"].get("answers", {}), k, lang, ctx.now.date(), letters,
                log=log_summary(ctx, _lender(case)))
    if what == "d" or (what == "e" and draft_id):
        return draft_replies(o, k, lang, only=draft_id) or [Reply(text=ctx.t("cases.not_found"), kind="notice")]
    if what == "a":
        return draft_replies(o, k, lang)
    if what == "e":
        return english_replies(ctx, o, case["id"])
    title = ctx.t("cases.view_title", id=case["id"], lender=_lender(case), date=_case_date(case, ctx))
    buttons = [CaseButton("d", case['id'], d).button(_short(ctx.t(f"report.draft.{d}.title")))
               for d in o.drafts]
    buttons += [CaseButton("a", case['id']).button(ctx.t("cases.all_drafts")), english_button(k, lang, case["id"]),
                track_button(k, lang, case["id"]), CaseButton("l").button(ctx.t("cases.back"))]
    pick = ctx.t("cases.pick_draft") + "\n" + ctx.t(f"cases.letters_in.{o.letters}")
    return [Reply(text=title), *findings_replies(o, k, lang), steps_reply(o, k, lang),
            Reply(text=pick, buttons=tuple(buttons))]


def english_replies(ctx: ActionContext, o: Outcome, case_id: int) -> list[Reply]:
    """Every letter in English, as drafts (a Chinese user also gets each in Chinese to read),
    between a line saying they are only for someone who reads English and a way back."""
    k, lang = ctx.knowledge, ctx.lang
    back = (CaseButton("a", case_id).button(_short(ctx.t(f"letter.button.{ADDRESSEE_LANG}"))),
            CaseButton("l").button(ctx.t("cases.back")))
    return [Reply(text=ctx.t("letter.english_intro")), *draft_replies(o, k, lang),
            Reply(text=ctx.t("letter.english_end"), buttons=back)]


def _lender(case: Mapping[str, Any]) -> str:
    return str(case["data"].get("answers", {}).get("lender_name") or "?")


def _case_date(case: Mapping[str, Any], ctx: ActionContext) -> str:
    try:
        when = dt.datetime.fromisoformat(case["created_at"])
    except (KeyError, TypeError, ValueError):
        return "?"
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(ctx.tz).date().isoformat()


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"
