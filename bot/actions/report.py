"""The incident report's outcome, saved cases, and /cases to see them again.

After the user confirms the review screen, `report_outcome` sends, in this order:
the findings (kind="answer"), the ordered steps, then each draft as its own message
(kind="draft", nothing else in it, so it can be copied or forwarded as is) after one short
line saying who it is for and how to send it; then a closing line with buttons.

A case stores the answers with the findings, steps and drafts as they were produced. Viewing
a case later re-renders everything from the stored answers in the user's current language,
so someone who switched to English gets English letters.

Buttons use the prefix "k": k:l (list), k:v:<case> (view), k:d:<case>:<draft> (one draft),
k:a:<case> (every draft).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.actions.assess import Assessment, Incident, assess, render_assessment
from bot.actions.complaints import track_button
from bot.actions.drafts import render_drafts
from bot.actions.registry import ActionContext, action, button, command
from bot.actions.routing import Route, render_route, route
from bot.core.models import Button, Reply

if TYPE_CHECKING:
    from bot.knowledge.loader import Knowledge

CASE_KIND = "report"
MAX_LISTED = 10
MAX_CASES = 200             # saved reports per user: far more than anyone needs, a bound for a runaway script
MAX_MESSAGE = 3500          # characters; long findings are split between messages at finding edges
MAX_LABEL = 40              # characters of a button label
FOLLOW_UP_TOPICS = ("complaint_followup", "evidence_collection")


@dataclass(frozen=True)
class Outcome:
    incident: Incident
    assessment: Assessment
    route: Route
    drafts: dict[str, str]           # draft id -> text, in the order the steps send them


def compose(slots: Mapping[str, Any], k: Knowledge, lang: str, today: dt.date) -> Outcome:
    """Everything the report produces, from the answers alone (pure)."""
    assessment = assess(slots)
    rt = route(slots, assessment)
    drafts = render_drafts(slots, k, lang, today, assessment, rt)
    return Outcome(Incident.from_slots(slots), assessment, rt, drafts)


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
    """Each draft after its one-line "who it is for and how to send it"."""
    regulator = regulator_name(o.route, k, lang)
    replies = []
    for draft_id, text in o.drafts.items():
        if only and draft_id != only:
            continue
        how = k.text(lang, f"report.draft.{draft_id}.how", lender=o.incident.lender, regulator=regulator)
        replies.append(Reply(text=how))
        replies.append(Reply(text=text, kind="draft", draft_id=draft_id))
    return replies


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


@action("report_outcome")
def report_outcome(ctx: ActionContext) -> list[Reply]:
    k, lang = ctx.knowledge, ctx.lang
    o = compose(ctx.slots, k, lang, ctx.now.date())
    replies = [*findings_replies(o, k, lang), steps_reply(o, k, lang),
               Reply(text=ctx.t("report.out.drafts_title")), *draft_replies(o, k, lang)]
    if ctx.store.count_cases(ctx.user_id, CASE_KIND) >= MAX_CASES:  # the letters still come; nothing more is stored
        replies.append(Reply(text=ctx.t("report.out.not_saved", max=MAX_CASES) + "\n" + ctx.t("not_lawyer"),
                             kind="notice"))
        return replies
    case_id = ctx.store.save_case(ctx.user_id, CASE_KIND, lang, case_data(ctx.slots, o, lang, ctx.now))
    buttons = [track_button(k, lang, case_id), Button(id="k:l", label=ctx.t("report.out.button_cases"))]
    buttons += [Button(id=f"t:{t}", label=k.answer(t, lang).title) for t in FOLLOW_UP_TOPICS if t in k.answers]
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
        buttons.append(Button(id=f"k:v:{case['id']}", label=_short(label)))
    if total > len(shown):
        lines.append(ctx.t("cases.more", shown=len(shown), total=total))
    return [Reply(text="\n".join(lines), buttons=tuple(buttons))]


@button("k")
def case_button(ctx: ActionContext) -> list[Reply]:
    what, _, rest = ctx.args.partition(":")
    if what == "l":
        return list_cases(ctx)
    case_part, _, draft_id = rest.partition(":")
    case = ctx.store.case(ctx.user_id, int(case_part)) if case_part.isdigit() else None
    if case is None or case.get("kind") != CASE_KIND:
        return [Reply(text=ctx.t("cases.not_found"), kind="notice")]
    k, lang = ctx.knowledge, ctx.lang
    o = compose(case["data"].get("answers", {}), k, lang, ctx.now.date())
    if what == "d":
        return draft_replies(o, k, lang, only=draft_id) or [Reply(text=ctx.t("cases.not_found"), kind="notice")]
    if what == "a":
        return draft_replies(o, k, lang)
    title = ctx.t("cases.view_title", id=case["id"], lender=_lender(case), date=_case_date(case, ctx))
    buttons = [Button(id=f"k:d:{case['id']}:{d}", label=_short(ctx.t(f"report.draft.{d}.title")))
               for d in o.drafts]
    buttons += [Button(id=f"k:a:{case['id']}", label=ctx.t("cases.all_drafts")),
                track_button(k, lang, case["id"]), Button(id="k:l", label=ctx.t("cases.back"))]
    return [Reply(text=title), *findings_replies(o, k, lang), steps_reply(o, k, lang),
            Reply(text=ctx.t("cases.pick_draft"), buttons=tuple(buttons))]


def _lender(case: dict) -> str:
    return str(case["data"].get("answers", {}).get("lender_name") or "?")


def _case_date(case: dict, ctx: ActionContext) -> str:
    try:
        when = dt.datetime.fromisoformat(case["created_at"])
    except (KeyError, TypeError, ValueError):
        return "?"
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(ctx.tz).date().isoformat()


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"
