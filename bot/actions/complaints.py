"""Complaint tracking: where the user complained, when an answer is due, what to do next.

A complaint records the body it went to (the lender's customer service, NFRA, the local
financial bureau, NIFA, the police, 12321, 黑猫投诉, 12315, a stop-contact request to the
lender, or another body), the day it was filed, the ticket number and, when it came from a
report, the case. The answer deadline comes from content/facts.yaml `deadlines`
(../shared/spec/legal-facts.md section 5); no number of days is written here:

- the lender (CBIRC Order 2020 No. 3): decide and answer within `institution.days`
  (complex cases `complex_days`, at most `max_days`), but only a bank, insurer or consumer
  finance company: a microloan company, a platform, an unlicensed lender or a lender of
  unknown kind has no legal deadline (stage `lender_none`: the tracker says so, asks after
  `follow_up.days`, and no letter claims a missed deadline);
- a regulator (Regulations on petition work): acceptance notice within
  `petition.accept_days`; conclusion within `conclude_days` of acceptance (+`extend_days`);
  a review request within `review_request_days` of the answer, decided within
  `review_decide_days`;
- 12315 (Consumer Rights Protection Law): `market.working_days` working days;
- no legal deadline (police, 12321, NIFA, 黑猫投诉, a stop-contact request, other): the bot
  asks after `follow_up.days` (its own choice, also in facts).

The check comes on the morning after the last day (CHECK_HOUR, the user's time zone), when
"no answer" really means the deadline was missed. Its buttons (solved / answered but not
solved / no answer yet / remind me later) lead to the next step with a ready draft
(content/<lang>/drafts/escalate_*.j2):

- lender silent or unhelpful -> complaint to the regulator citing the first ticket;
- regulator silent past its deadline -> follow-up to the regulator (the petition route);
- regulator answered but did not solve it -> review request to the authority above it;
- collectors still contacting others after a stop request -> a new complaint citing the
  request's date and the contacts since;
- any other body -> a follow-up to that body.

Every escalation goes to a Chinese institution, so its draft is in Chinese
(drafts.ADDRESSEE_LANG) whatever language the user chats in; a user chatting in English gets
it again in English after it, as plain text marked "for you to read, do not send".

Buttons use the prefix "cpl" (report.py uses "k"): cpl:l list, cpl:new, cpl:v:<id> view,
cpl:a:<id>:<answer>, cpl:s:<id>:<body>:<stage> ("I've sent it: track it"), cpl:x:<id> stop
tracking, cpl:track:<case> (from a report). After a report, `track_button` or the
`offer_tracking` action lead here with the case linked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.actions import followup
from bot.actions.buttons import ComplaintButton, ReminderButton
from bot.actions.drafts import (
    ADDRESSEE_LANG,
    blanks,
    fmt_date,
    how_line,
    reads_letters,
    render_draft,
    translation_reply,
)
from bot.actions.evidence import contacts_after_stop
from bot.actions.registry import ActionContext, Reads, action, button, command
from bot.actions.routing import binds_institution_deadline, regulator_for
from bot.actions.when import add_calendar, local
from bot.core.models import Button, Reply
from storage.reminders import ReminderStore

if TYPE_CHECKING:
    from bot.knowledge.loader import Knowledge

BODIES = ("lender_service", "nfra", "local_bureau", "nifa", "police", "telecom", "heimao", "consumer",
          "stop_request", "other")
REGULATORS = ("nfra", "local_bureau")
LENDER_KINDS = ("bank", "consumer_finance", "microloan", "platform", "unlicensed_unknown")
CHECK_HOUR = 10            # local time of day the "did they answer?" check arrives
MAX_LISTED = 8
MAX_COMPLAINTS = 200        # tracked per user: far more than anyone files, a bound for a runaway script
MAX_LABEL = 40

# The first stage of a complaint to each body; each stage names its facts deadline.
FIRST_STAGE = {"lender_service": "answer", "nfra": "accept", "local_bureau": "accept", "consumer": "market",
               "stop_request": "stop"}
STAGE_DEADLINE: dict[str, tuple[str, str]] = {   # stage -> (facts deadlines key, field)
    "answer": ("institution", "days"),
    "lender_none": ("follow_up", "days"),   # a lender the complaint-handling measures do not bind
    "accept": ("petition", "accept_days"),
    "conclude": ("petition", "conclude_days"),
    "review": ("petition", "review_decide_days"),
    "market": ("market", "working_days"),
    "stop": ("follow_up", "days"),
    "follow_up": ("follow_up", "days"),
}
ANSWERS = ("solved", "accepted", "unsolved", "none", "snooze", "stopped", "continuing")


def first_stage(body: str, lender_kind: str | None = None) -> str:
    """The first stage at `body`. The lender's answer deadline binds banks, insurers and
    consumer finance companies only (legal-facts.md s. 9)."""
    if body == "lender_service" and not binds_institution_deadline(lender_kind):
        return "lender_none"
    return FIRST_STAGE.get(body, "follow_up")


def answers_for(stage: str) -> tuple[str, ...]:
    """The buttons of the "did they answer?" check at this stage."""
    if stage == "stop":
        return ("stopped", "continuing", "snooze")
    if stage == "accept":
        return ("solved", "accepted", "unsolved", "none", "snooze")
    return ("solved", "unsolved", "none", "snooze")


# --- deadlines (pure) -----------------------------------------------------------------------

@dataclass(frozen=True)
class Deadline:
    stage: str
    key: str                  # facts `deadlines` entry
    field: str                # its field: days, accept_days, working_days, ...
    count: int                # that number, read from facts
    due: dt.date              # the last day

    @property
    def legal(self) -> bool:
        return self.key != "follow_up"


def deadline(stage: str, start: dt.date, deadlines: Mapping[str, Mapping[str, Any]]) -> Deadline:
    """The last day for an answer at `stage`, counting from `start` (the filing day)."""
    key, field = STAGE_DEADLINE[stage]
    count = int(deadlines[key][field])
    due = add_working_days(start, count) if field == "working_days" else start + dt.timedelta(days=count)
    return Deadline(stage, key, field, count, due)


def add_working_days(start: dt.date, count: int) -> dt.date:
    """`count` weekdays after `start`. Public holidays are not known here: the wording says
    the answer may come a little later when a holiday falls in between."""
    day = start
    while count > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            count -= 1
    return day


def check_time(due: dt.date, tz: dt.tzinfo) -> dt.datetime:
    """When to ask: the morning after the last day, in the user's zone."""
    return local(due + dt.timedelta(days=1), dt.time(CHECK_HOUR), tz)


@dataclass(frozen=True)
class Escalation:
    draft: str                     # template id under content/<lang>/drafts/
    to: str | None                 # the body the draft goes to (None: the same body)
    stage: str | None              # the stage of that complaint once sent (None: first stage)


def escalation(complaint: Mapping[str, Any], answer: str) -> Escalation | None:
    """The next step after "not solved" / "no answer" / "still contacting" (pure)."""
    body, stage = complaint["body"], complaint["stage"]
    if answer not in ("unsolved", "none", "continuing"):
        return None
    if body == "stop_request":   # its stage depends on the lender's kind: first_stage()
        return Escalation("escalate_continuing", "lender_service", None)
    if body == "lender_service":
        return Escalation("escalate_regulator", regulator_for(complaint.get("lender_kind") or ""), "accept")
    if body in REGULATORS:
        if answer == "unsolved" and stage != "review":
            return Escalation("escalate_review_request", body, "review")
        return Escalation("escalate_regulator_followup", None, None)
    return Escalation("escalate_followup", None, None)


# --- words ------------------------------------------------------------------------------------

def body_name(k: Knowledge, lang: str, c: Mapping[str, Any], body: str | None = None, letter: bool = False) -> str:
    """What the user complained to, in words, with numbers from facts (in a letter, the
    name alone where a hotline number would read oddly)."""
    body = body or c["body"]
    f = k.facts
    lender = c.get("lender") or k.text(lang, "complaints.blank.lender")
    values: dict[str, str] = {"lender": lender, "other": c.get("body_name") or k.text(lang, "complaints.blank.body")}
    hotline = {"nfra": "nfra", "telecom": "telecom", "consumer": "consumer", "police": "police"}.get(body)
    authority = {"nfra": "nfra", "local_bureau": "local_bureau", "nifa": "nifa", "police": "police_station",
                 "heimao": "heimao"}.get(body)
    if hotline:
        values.update(number=f.hotlines[hotline].number, hotline=f.hotlines[hotline].name.get(lang))
    if authority:
        values["name"] = f.authorities[authority].name.get(lang)
    key = f"complaints.to_letter.{body}"
    return k.text(lang, key if letter and k.has_text(lang, key) else f"complaints.to.{body}", **values)


def _date(value: str | dt.date, lang: str) -> str:
    day = dt.date.fromisoformat(value) if isinstance(value, str) else value
    return fmt_date(day, lang)


def fmt_when(at: dt.datetime, lang: str, k: Knowledge) -> str:
    """A moment in the user's zone, as the user reads it: 12月1日（周二）09:00."""
    weekday = k.text(lang, f"complaints.weekday.{at.weekday()}")
    return k.text(lang, "complaints.when", date=fmt_date(at.date(), lang), weekday=weekday,
                  time=at.strftime("%H:%M"))


def deadline_text(k: Knowledge, lang: str, c: Mapping[str, Any], d: Deadline) -> str:
    """One sentence: who must answer by when, under which rule (or that no rule sets a date)."""
    deadlines = k.facts.deadlines
    entry = deadlines[d.key]
    values: dict[str, Any] = {k_: v for k_, v in entry.items() if isinstance(v, int)}
    if d.stage == "lender_none":   # names the rule that does not bind this lender
        entry = {**entry, "instrument": deadlines["institution"]["instrument"]}
    if isinstance(entry.get("instrument"), str):
        values["instrument"] = k.facts.instruments[str(entry["instrument"])].name.get(lang)
    values.update(body=body_name(k, lang, c), due=fmt_date(d.due, lang), lender=c.get("lender") or "")
    return k.text(lang, f"complaints.deadline.{d.stage}", **values)


def _ticket(k: Knowledge, lang: str, c: Mapping[str, Any]) -> str:
    return k.text(lang, "complaints.ticket_part", ticket=c["ticket"]) if c.get("ticket") else ""


def check_reply(k: Knowledge, lang: str, c: Mapping[str, Any], late_note: str = "") -> Reply:
    """"Did <body> answer your complaint of <date>?" with the answer buttons."""
    d = deadline(c["stage"], _filed(c), k.facts.deadlines)
    values = {"body": body_name(k, lang, c), "filed": _date(c["filed_on"], lang), "ticket": _ticket(k, lang, c),
              "due": fmt_date(d.due, lang), "lender": c.get("lender") or k.text(lang, "complaints.blank.lender")}
    text = k.text(lang, f"complaints.check.{c['stage']}", **values)
    if late_note:
        text = late_note + "\n" + text
    snooze = int(k.facts.deadlines["follow_up"]["snooze_days"])
    buttons = tuple(ComplaintButton("a", c["id"], a).button(k.text(lang, f"complaints.answer.{a}", days=snooze))
                    for a in answers_for(c["stage"]))
    return Reply(text=text, buttons=buttons, kind="reminder")


def _filed(c: Mapping[str, Any]) -> dt.date:
    """The day a stage's deadline counts from: the filing day. For a regulator's conclusion,
    the filing day is the earliest possible acceptance, so the check is never late."""
    return dt.date.fromisoformat(c["filed_on"])


# --- the dialog's completion ----------------------------------------------------------------

def _rs(ctx: ActionContext) -> ReminderStore:
    return ctx.store.reminders


def _save(ctx: ActionContext, slots: Mapping[str, Any], link: Mapping[str, Any] | None) -> list[Reply]:
    """Record (or complete the linked draft of) a complaint, schedule its check, confirm."""
    rs = _rs(ctx)
    if rs.count_complaints(ctx.user_id) >= MAX_COMPLAINTS:  # a linked run's row is still a draft
        return [Reply(text=ctx.t("complaints.too_many_complaints", max=MAX_COMPLAINTS), kind="notice")]
    body = str(slots["body"]) if slots.get("body") in BODIES else "other"
    kind = slots.get("lender_kind") or (link or {}).get("lender_kind")
    stage = (link["stage"] if link and link.get("body") == body and link.get("stage")
             else first_stage(body, kind))
    fields = {
        "body": body,
        "body_name": slots.get("body_other") if body == "other" else None,
        "filed_on": slots["filed_on"],
        "ticket": slots.get("ticket") if body != "stop_request" else None,
        "stage": stage,
        "status": "open",
    }
    if "lender_name" in slots or not link:
        fields["lender"] = slots.get("lender_name")
    if "lender_kind" in slots or not link:
        fields["lender_kind"] = slots.get("lender_kind")
    d = deadline(stage, dt.date.fromisoformat(slots["filed_on"]), ctx.knowledge.facts.deadlines)
    fields["due_on"] = d.due.isoformat()
    if link:
        complaint_id = link["id"]
        rs.update_complaint(complaint_id, ctx.now, **fields)
    else:
        complaint_id = rs.add_complaint(ctx.user_id, ctx.now, **fields)
    c = rs.complaint(ctx.user_id, complaint_id)
    assert c is not None
    return [Reply(text=ctx.t("complaints.saved", id=complaint_id, body=body_name(ctx.knowledge, ctx.lang, c),
                             filed=_date(c["filed_on"], ctx.lang), ticket=_ticket(ctx.knowledge, ctx.lang, c))),
            *_schedule_check(ctx, c, d)]


def _schedule_check(ctx: ActionContext, c: Mapping[str, Any], d: Deadline) -> list[Reply]:
    """Schedule the check for the morning after `d.due`, or ask now if that has passed."""
    k, lang = ctx.knowledge, ctx.lang
    rs = _rs(ctx)
    rs.cancel_for_complaint(c["id"])
    lines = [deadline_text(k, lang, c, d)]
    at = check_time(d.due, ctx.tz)
    if at <= ctx.now:
        lines.append(ctx.t("complaints.already_due"))
        return [Reply(text="\n".join(lines)), check_reply(k, lang, c)]
    user = ctx.store.user_by_id(ctx.user_id)
    assert user is not None
    rid = rs.add(ctx.user_id, user["channel"], "complaint", at, complaint_id=c["id"], now=ctx.now)
    lines.append(followup.with_note(ctx.t("complaints.will_check", when=fmt_when(at, lang, k)), ctx, rid, at))
    return [Reply(text="\n".join(lines), buttons=(
        ComplaintButton("l").button(ctx.t("complaints.button.list")),
        ReminderButton("l").button(ctx.t("complaints.button.reminders"))))]


@action("complaint_saved", reads=Reads(
    slots=("body", "body_other", "lender_name", "lender_kind", "filed_on", "ticket"),
    options={"body": BODIES, "lender_kind": LENDER_KINDS}))
def complaint_saved(ctx: ActionContext) -> list[Reply]:
    """/track (complaint.yaml): a complaint not linked to anything."""
    return _save(ctx, ctx.slots, None)


@action("complaint_saved_linked", reads=Reads(
    slots=("body", "body_other", "filed_on", "ticket"), options={"body": BODIES}))
def complaint_saved_linked(ctx: ActionContext) -> list[Reply]:
    """complaint_next.yaml: completes the draft row made when the linked run started (a
    report's case, or the complaint this one escalates), which carries the link."""
    drafts = [c for c in _rs(ctx).complaints(ctx.user_id) if c["status"] == "draft"]
    link = max(drafts, key=lambda c: c["id"]) if drafts else None
    return _save(ctx, ctx.slots, link)


@action("offer_tracking")
def offer_tracking(ctx: ActionContext) -> list[Reply]:
    """For a report's on_complete, after its outcome: offer to track the complaint."""
    cases = ctx.store.cases(ctx.user_id, "report", limit=1)
    if not cases:
        return []
    return [Reply(text=ctx.t("complaints.offer"), buttons=(track_button(ctx.knowledge, ctx.lang, cases[0]["id"]),))]


def track_button(k: Knowledge, lang: str, case_id: int) -> Button:
    """The "track my complaint" button for a report's case (for bot/actions/report.py)."""
    return ComplaintButton("track", case_id).button(k.text(lang, "complaints.button.track"))


# --- /complaints and its buttons --------------------------------------------------------------

@command("complaints")
def list_complaints(ctx: ActionContext) -> list[Reply]:
    shown = [c for c in _rs(ctx).complaints(ctx.user_id) if c["status"] != "draft"]
    if not shown:
        return [Reply(text=ctx.t("complaints.empty")), *_start_dialog(ctx, "complaint")]
    lines = [ctx.t("complaints.list_title")]
    buttons = []
    for c in shown[:MAX_LISTED]:
        line = ctx.t("complaints.item", id=c["id"], body=body_name(ctx.knowledge, ctx.lang, c),
                     filed=_date(c["filed_on"], ctx.lang), ticket=_ticket(ctx.knowledge, ctx.lang, c),
                     status=_status(ctx, c))
        lines.append("• " + line)
        buttons.append(ComplaintButton("v", c["id"]).button(_short(
            ctx.t("complaints.item_button", id=c["id"], body=body_name(ctx.knowledge, ctx.lang, c)))))
    if len(shown) > MAX_LISTED:
        lines.append(ctx.t("complaints.more", shown=MAX_LISTED, total=len(shown)))
    buttons.append(ComplaintButton("new").button(ctx.t("complaints.button.new")))
    return [Reply(text="\n".join(lines), buttons=tuple(buttons))]


def _status(ctx: ActionContext, c: Mapping[str, Any]) -> str:
    if c["status"] == "open" and c.get("due_on"):
        return ctx.t("complaints.status.open_due", due=_date(c["due_on"], ctx.lang))
    return ctx.t(f"complaints.status.{c['status']}")


@button(ComplaintButton)
def complaint_button(ctx: ActionContext) -> list[Reply]:
    data = ctx.data
    assert isinstance(data, ComplaintButton)
    if data.what == "l":
        return list_complaints(ctx)
    if data.what == "new":
        return _start_dialog(ctx, "complaint")
    if data.what == "track" and data.id is not None:
        return _track_case(ctx, data.id)
    c = _rs(ctx).complaint(ctx.user_id, data.id) if data.id is not None else None
    if c is None or c["status"] == "draft":
        return [Reply(text=ctx.t("complaints.not_found"), kind="notice")]
    if data.what == "v":
        return [_view(ctx, c)]
    if data.what == "a" and data.arg in ANSWERS:
        return answer(ctx, c, data.arg)
    if data.what == "s" and data.arg in BODIES:
        return _track_next(ctx, c, data.arg, data.stage if data.stage in STAGE_DEADLINE else None)
    if data.what == "f":
        return _followed_up(ctx, c)
    if data.what == "x":
        _rs(ctx).update_complaint(c["id"], ctx.now, status="closed")
        _rs(ctx).cancel_for_complaint(c["id"])
        return [Reply(text=ctx.t("complaints.closed", id=c["id"]), kind="notice",
                      buttons=(ComplaintButton("l").button(ctx.t("complaints.button.list")),))]
    return [Reply(text=ctx.t("complaints.not_found"), kind="notice")]


def _view(ctx: ActionContext, c: Mapping[str, Any]) -> Reply:
    k, lang = ctx.knowledge, ctx.lang
    d = deadline(c["stage"], _filed(c), k.facts.deadlines)
    lines = [ctx.t("complaints.view_title", id=c["id"], body=body_name(k, lang, c)),
             ctx.t("complaints.view_filed", filed=_date(c["filed_on"], lang), ticket=_ticket(k, lang, c))]
    if c.get("lender") and c["body"] != "lender_service":
        lines.append(ctx.t("complaints.view_lender", lender=c["lender"]))
    if c.get("case_id"):
        lines.append(ctx.t("complaints.view_case", case=c["case_id"]))
    lines.append(deadline_text(k, lang, c, d))
    lines.append(ctx.t("complaints.view_status", status=_status(ctx, c)))
    for h in c["history"]:
        lines.append("  - " + ctx.t("complaints.history", date=_date(h["on"], lang),
                                    answer=ctx.t(f"complaints.answer.{h['answer']}",
                                                 days=k.facts.deadlines["follow_up"]["snooze_days"])))
    buttons: list[Button] = []
    if c["status"] != "closed":
        snooze = int(k.facts.deadlines["follow_up"]["snooze_days"])
        buttons += [ComplaintButton("a", c["id"], a).button(ctx.t(f"complaints.answer.{a}", days=snooze))
                    for a in answers_for(c["stage"])]
        buttons.append(ComplaintButton("x", c["id"]).button(ctx.t("complaints.button.stop")))
    buttons.append(ComplaintButton("l").button(ctx.t("complaints.button.list")))
    return Reply(text="\n".join(lines), buttons=tuple(buttons))


def answer(ctx: ActionContext, c: Mapping[str, Any], what: str) -> list[Reply]:
    """The user's answer to "did they answer?" (from the check or from /complaints)."""
    k, lang = ctx.knowledge, ctx.lang
    rs = _rs(ctx)
    if what not in answers_for(c["stage"]):
        return [Reply(text=ctx.t("complaints.stale"), kind="notice")]
    history = [*c["history"], {"on": ctx.now.date().isoformat(), "answer": what}]
    if what == "snooze":
        days = int(k.facts.deadlines["follow_up"]["snooze_days"])
        at = add_calendar(ctx.now, days=days)
        rs.cancel_for_complaint(c["id"])
        user = ctx.store.user_by_id(ctx.user_id)
        assert user is not None
        rid = rs.add(ctx.user_id, user["channel"], "complaint", at, complaint_id=c["id"], now=ctx.now)
        rs.update_complaint(c["id"], ctx.now, history=history)
        return [Reply(text=followup.with_note(ctx.t("complaints.snoozed", when=fmt_when(at, lang, k)), ctx, rid, at),
                      kind="notice")]
    rs.cancel_for_complaint(c["id"])
    if what in ("solved", "stopped"):
        rs.update_complaint(c["id"], ctx.now, status="solved", history=history)
        return [Reply(text=ctx.t(f"complaints.done.{what}"), buttons=(
            ComplaintButton("l").button(ctx.t("complaints.button.list")),))]
    if what == "accepted":
        d = deadline("conclude", _filed(c), k.facts.deadlines)
        rs.update_complaint(c["id"], ctx.now, stage="conclude", due_on=d.due.isoformat(), history=history)
        updated = rs.complaint(ctx.user_id, c["id"])
        assert updated is not None
        return _schedule_check(ctx, updated, d)
    status = "no_answer" if what == "none" else "unsolved"
    rs.update_complaint(c["id"], ctx.now, status=status, history=history)
    step = escalation(c, what)
    assert step is not None
    return escalation_replies(ctx, {**c, "status": status}, what, step)


def _followed_up(ctx: ActionContext, c: Mapping[str, Any]) -> list[Reply]:
    """The user sent the follow-up draft: the complaint is open again; ask after a while."""
    k = ctx.knowledge
    days = int(k.facts.deadlines["follow_up"]["days"])
    at = check_time(ctx.now.date() + dt.timedelta(days=days - 1), ctx.tz)
    rs = _rs(ctx)
    rs.cancel_for_complaint(c["id"])
    user = ctx.store.user_by_id(ctx.user_id)
    assert user is not None
    rid = rs.add(ctx.user_id, user["channel"], "complaint", at, complaint_id=c["id"], now=ctx.now)
    history = [*c["history"], {"on": ctx.now.date().isoformat(), "answer": "followed_up"}]
    rs.update_complaint(c["id"], ctx.now, status="open", history=history)
    done = followup.with_note(ctx.t("complaints.followed_up", when=fmt_when(at, ctx.lang, k)), ctx, rid, at)
    return [Reply(text=done, kind="notice",
                  buttons=(ComplaintButton("l").button(ctx.t("complaints.button.list")),))]


# --- escalation drafts --------------------------------------------------------------------------

def escalation_replies(ctx: ActionContext, c: Mapping[str, Any], what: str, step: Escalation) -> list[Reply]:
    """A line saying who the draft is for and how to send it, the draft alone (in the
    addressee's language), its translation when the user chats in another, then buttons."""
    k, lang, letters = ctx.knowledge, ctx.lang, ADDRESSEE_LANG
    context = draft_context(ctx, c, what, step, letters)
    text = render_draft(step.draft, context, k, letters)
    f = k.facts
    numbers = {f"{key}_{field}": v for key, entry in f.deadlines.items() for field, v in entry.items()
               if isinstance(v, int)}
    key = f"complaints.escalate.{step.draft}"
    if not k.has_text(lang, key):  # worded per regulator
        key += f".{context['regulator_key']}"
    how = ctx.t(key, to=body_name(k, lang, c, step.to or c["body"]), body=body_name(k, lang, c),
                lender=c.get("lender") or ctx.t("complaints.blank.lender"), nfra=f.hotlines["nfra"].number,
                nfra_site=f.hotlines["nfra"].site or "", legal=f.hotlines["legal"].number,
                blanks=blanks(k, lang, letters), **numbers)
    if step.to is None:  # a follow-up to the same body: ask again after a while
        sent = ComplaintButton("f", c["id"]).button(ctx.t("complaints.button.followed_up"))
    else:                # a complaint to another body: track it as its own complaint
        stage = step.stage or first_stage(step.to, c.get("lender_kind"))
        sent = ComplaintButton("s", c["id"], step.to, stage).button(ctx.t("complaints.button.sent"))
    buttons = [sent, ComplaintButton("l").button(ctx.t("complaints.button.list"))]
    replies = [Reply(text=how_line(how, k, lang, letters)), Reply(text=text, kind="draft", draft_id=step.draft)]
    if not reads_letters(k, lang, letters):
        own = render_draft(step.draft, draft_context(ctx, c, what, step, lang), k, lang)
        replies.append(translation_reply(k, lang, own))
    return [*replies, Reply(text=ctx.t("complaints.after_draft"), buttons=tuple(buttons))]


def draft_context(ctx: ActionContext, c: Mapping[str, Any], what: str, step: Escalation,
                  lang: str | None = None) -> dict[str, Any]:
    """Everything an escalation template in `lang` (default: the user's) uses besides the
    facts; never None, so a missing answer prints as a marked blank (【工单号】 / [ticket
    number]) and never as "None"."""
    k = ctx.knowledge
    lang = lang or ctx.lang
    blank = {b: k.text(lang, f"complaints.blank.{b}") for b in ("name", "phone", "ticket", "lender", "city", "count")}
    rs = _rs(ctx)
    parent = rs.complaint(ctx.user_id, c["parent_id"]) if c.get("parent_id") else None
    to_body = step.to or c["body"]
    regulator_key = to_body if to_body in REGULATORS else regulator_for(c.get("lender_kind") or "")
    d = deadline(c["stage"], _filed(c), k.facts.deadlines)
    out: dict[str, Any] = {
        "lender": c.get("lender") or blank["lender"],
        "has_lender": bool(c.get("lender")),
        "body": body_name(k, lang, c, letter=True),
        "body_key": c["body"],
        "to": body_name(k, lang, c, to_body, letter=True),
        "to_key": to_body,
        "regulator_key": regulator_key,
        "filed": _date(c["filed_on"], lang),
        "ticket": c.get("ticket") or blank["ticket"],
        "has_ticket": bool(c.get("ticket")),
        "due": fmt_date(d.due, lang),
        "stage": c["stage"],
        "answer": what,                      # none | unsolved | continuing
        # Only these lenders are bound by the 15/30/60-day rule: no other letter claims it.
        "institution_bound": binds_institution_deadline(c.get("lender_kind")),
        "today": fmt_date(ctx.now.date(), lang),
        "blank": blank,
        "parent": None,
        "name": blank["name"], "phone": blank["phone"], "is_contact": False,
        "acts": [], "period": "", "rules": [], "evidence": [],
        # Contacts since a stop request: a blank to fill in, unless the evidence log counts them.
        "calls_since": blank["count"],
        "calls_exact": False,
    }
    if parent:
        out["parent"] = {"body": body_name(k, lang, parent, letter=True), "filed": _date(parent["filed_on"], lang),
                         "ticket": parent.get("ticket") or blank["ticket"], "has_ticket": bool(parent.get("ticket")),
                         "body_key": parent["body"]}
    case = ctx.store.case(ctx.user_id, c["case_id"]) if c.get("case_id") else None
    if case:
        out.update(_case_facts(case, k, lang, ctx.now.date()))
    # The evidence log counts the contacts after the stop request (issue 16, item 6).
    answers: Mapping[str, Any] = case["data"].get("answers", {}) if case else {}
    lender = c.get("lender") or answers.get("lender_name") or ""
    since = contacts_after_stop(ctx, str(lender), _filed(c)) if c["body"] == "stop_request" else None
    if since is not None:
        out["calls_since"], out["calls_exact"] = since, True
    return out


def _case_facts(case: Mapping[str, Any], k: Knowledge, lang: str, today: dt.date) -> dict[str, Any]:
    """The linked report's facts, worded as the report's own drafts word them."""
    from bot.actions import drafts as report_drafts
    from bot.actions.assess import Incident, assess
    from bot.actions.routing import route

    answers = case.get("data", {}).get("answers", {})
    inc = Incident.from_slots(answers)
    assessment = assess(answers)
    full = report_drafts.draft_context(inc, assessment, route(answers, assessment), k, lang, today)
    facts = {key: full[key] for key in ("name", "phone", "is_contact", "acts", "period", "evidence")}
    facts["rules"] = full["lender_rules"]   # letters to lenders and regulators: no criminal law
    return facts


# --- starting the dialogs ---------------------------------------------------------------------

def _start_dialog(ctx: ActionContext, dialog_id: str, step: str | None = None, slots: dict | None = None,
                  history: tuple[str, ...] = (), intro: str | None = None) -> list[Reply]:
    """Start a dialog at `step` with answers already known (a command or a dialog button
    starts dialogs only at their first step). The session is saved in the message's
    transaction, by the engine's capability."""
    assert ctx.start_dialog is not None
    replies = ctx.start_dialog(dialog_id, step=step, slots=slots, history=history)
    return ([Reply(text=intro)] if intro else []) + replies


def _new_link(ctx: ActionContext, **fields: Any) -> int:
    """The draft row that carries a linked run's link (case, parent) until it completes."""
    rs = _rs(ctx)
    rs.delete_drafts(ctx.user_id)
    return rs.add_complaint(ctx.user_id, ctx.now, status="draft", filed_on=ctx.now.date().isoformat(),
                            **{"stage": fields.pop("stage", None) or "follow_up", **fields})


def _track_case(ctx: ActionContext, case_id: int) -> list[Reply]:
    case = ctx.store.case(ctx.user_id, case_id)
    if case is None:
        return [Reply(text=ctx.t("complaints.not_found"), kind="notice")]
    answers = case.get("data", {}).get("answers", {})
    lender = answers.get("lender_name") if isinstance(answers.get("lender_name"), str) else None
    kind = answers.get("lender_kind") if answers.get("lender_kind") in LENDER_KINDS else None
    _new_link(ctx, case_id=case_id, lender=lender, lender_kind=kind, body="lender_service",
              stage=first_stage("lender_service", kind))
    intro = ctx.t("complaints.intro_case", case=case_id, lender=lender or ctx.t("complaints.blank.lender"))
    return _start_dialog(ctx, "complaint_next", "body", {}, (), intro)


def _track_next(ctx: ActionContext, parent: Mapping[str, Any], body: str, stage: str | None) -> list[Reply]:
    """"I've sent it": record the escalation as a new complaint, linked to the one before."""
    _new_link(ctx, case_id=parent.get("case_id"), parent_id=parent["id"], lender=parent.get("lender"),
              lender_kind=parent.get("lender_kind"), body=body, stage=stage)
    intro = ctx.t("complaints.intro_next", body=body_name(ctx.knowledge, ctx.lang, parent, body))
    return _start_dialog(ctx, "complaint_next", "filed_on", {"body": body}, ("body",), intro)


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"
