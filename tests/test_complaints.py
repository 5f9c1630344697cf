"""Complaint tracking: deadlines from facts, the /track dialog, the check when the answer is
due, and the escalation branch (with its draft) for every answer button, in zh and en."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.actions import complaints
from bot.actions.complaints import (
    BODIES,
    STAGE_DEADLINE,
    add_working_days,
    answers_for,
    check_time,
    deadline,
    escalation,
    track_button,
)
from bot.actions.drafts import fmt_date
from bot.app import Loaded
from bot.core.engine import Engine
from bot.core.models import Inbound, Reply
from storage.reminders import from_iso
from tests import conftest
from tests.conftest import shown, ui

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 29, 10, 0, tzinfo=SH)






class Talk(conftest.Talk):
    def complaints(self) -> list[dict]:
        return self.engine.store.reminders.complaints(self.user_id)

    def reminders(self) -> list[dict]:
        return self.table_rows("reminders")

def record(talk: Talk, body: str, filed: str = "2026-11-20", lender: str | None = "快借",
           kind: str | None = "microloan", ticket: str | None = "T-100") -> dict:
    """Go through /track; return the saved complaint."""
    talk.say("/track")
    talk.press(f"o:{body}")
    if body == "other":
        talk.say("某某调解中心")
    talk.say(lender) if lender else talk.press("c:skip")
    if body in ("lender_service", "stop_request"):
        talk.press(f"o:{kind}")
    talk.say(filed)
    if body != "stop_request":
        talk.say(ticket) if ticket else talk.press("c:skip")
    talk.press("c:ok")
    return talk.complaints()[0]


# --- deadlines come from facts -------------------------------------------------------------

def test_deadlines_are_read_from_facts(loaded: Loaded) -> None:
    facts = loaded.knowledge.facts.deadlines
    filed = dt.date(2026, 11, 2)
    for stage, (key, field) in STAGE_DEADLINE.items():
        d = deadline(stage, filed, facts)
        assert d.count == facts[key][field]
        if field == "working_days":
            assert d.due == add_working_days(filed, int(facts[key][field]))
        else:
            assert d.due == filed + dt.timedelta(days=int(facts[key][field]))
    assert deadline("answer", filed, facts).legal and not deadline("follow_up", filed, facts).legal


def test_working_days_skip_weekends() -> None:
    friday = dt.date(2026, 11, 27)
    assert add_working_days(friday, 1) == dt.date(2026, 11, 30)
    assert add_working_days(friday, 5) == dt.date(2026, 12, 4)
    assert all(add_working_days(friday, n).weekday() < 5 for n in range(1, 30))


def test_check_comes_the_morning_after_the_last_day_in_the_users_zone() -> None:
    at = check_time(dt.date(2026, 3, 7), ZoneInfo("America/New_York"))
    assert at.isoformat() == "2026-03-08T10:00:00-04:00"  # after the change to daylight time
    assert check_time(dt.date(2026, 12, 5), SH).isoformat() == "2026-12-06T10:00:00+08:00"


@pytest.mark.parametrize(("body", "stage"), [
    ("lender_service", "lender_none"), ("nfra", "accept"), ("local_bureau", "accept"), ("consumer", "market"),
    ("stop_request", "stop"), ("police", "follow_up"), ("telecom", "follow_up"), ("nifa", "follow_up"),
    ("heimao", "follow_up"), ("other", "follow_up"),
])
def test_first_stage_per_body(body: str, stage: str) -> None:
    assert complaints.first_stage(body) == stage


# --- recording a complaint -------------------------------------------------------------------

def test_track_records_and_schedules_the_check(engine: Engine, loaded: Loaded) -> None:
    talk = Talk(engine, lang="en")
    c = record(talk, "lender_service", filed="2026-11-25", lender="Quick Cash", kind="bank", ticket="A-1")
    days = loaded.knowledge.facts.deadlines["institution"]["days"]
    due = dt.date(2026, 11, 25) + dt.timedelta(days=days)
    assert (c["body"], c["lender"], c["lender_kind"], c["ticket"], c["stage"]) == \
        ("lender_service", "Quick Cash", "bank", "A-1", "answer")
    assert c["due_on"] == due.isoformat() and c["status"] == "open"
    assert f"within {days} days" in talk.text and fmt_date(due, "en") in talk.text
    assert "CBIRC Order 2020 No. 3" in talk.text
    [rem] = talk.reminders()
    assert rem["kind"] == "complaint" and rem["complaint_id"] == c["id"] and rem["status"] == "pending"
    assert from_iso(rem["due_at"]) == check_time(due, SH)
    assert shown("complaints.will_check", talk.text, "en")


def test_track_in_chinese_with_a_regulator(engine: Engine, loaded: Loaded) -> None:
    talk = Talk(engine, lang="zh")
    c = record(talk, "nfra", filed="2026-11-25", ticket=None)
    p = loaded.knowledge.facts.deadlines["petition"]
    assert c["stage"] == "accept" and c["ticket"] is None
    assert shown("complaints.deadline.accept", talk.text, accept_days=p["accept_days"])
    assert "信访工作条例" in talk.text and "12378" in talk.text


def test_an_old_complaint_is_asked_about_at_once(engine: Engine) -> None:
    talk = Talk(engine, lang="en")
    record(talk, "lender_service", filed="2026-10-01", lender="Quick Cash", kind="bank")
    assert ui("complaints.already_due", "en") in talk.text
    assert talk.last[-1].kind == "reminder"
    assert talk.buttons[-4:] == [f"cpl:a:{talk.complaints()[0]['id']}:{a}" for a in answers_for("answer")]
    assert talk.reminders() == []


def test_complaints_lists_and_views(engine: Engine) -> None:
    talk = Talk(engine, lang="en")
    talk.say("/complaints")
    assert ui("complaints.empty", "en") in talk.text and talk.buttons[0] == "o:lender_service"  # the dialog started
    talk.press("c:cancel")
    c = record(talk, "police", filed="2026-11-25", lender="Quick Cash", ticket="110-77")
    talk.say("/complaints")
    assert "No. 1" in talk.text and "110-77" in talk.text
    talk.press(f"cpl:v:{c['id']}")
    assert ui("complaints.view_lender", "en", lender="Quick Cash") in talk.text and "no legal deadline" in talk.text
    talk.press(f"cpl:x:{c['id']}")
    assert talk.complaints()[0]["status"] == "closed"
    assert [r["status"] for r in talk.reminders()] == ["cancelled"]


def test_nobody_else_can_see_or_answer_a_complaint(engine: Engine) -> None:
    owner = Talk(engine, user="owner", lang="en")
    c = record(owner, "lender_service", lender="Quick Cash", kind="bank")
    other = Talk(engine, user="other", lang="en")
    for button in (f"cpl:v:{c['id']}", f"cpl:a:{c['id']}:solved", f"cpl:x:{c['id']}",
                   f"cpl:s:{c['id']}:nfra:accept"):
        other.press(button)
        assert ui("complaints.not_found", "en") in other.text
    assert owner.complaints()[0]["status"] == "open"


# --- the escalation branch for each answer button, in zh and en ----------------------------------

NO_TEMPLATE = re.compile(r"\{\{|\}\}|\{%|None|\bnone\b")


def _draft(replies: list[Reply]) -> Reply:
    drafts = [r for r in replies if r.kind == "draft"]
    assert len(drafts) == 1, [r.text[:40] for r in replies]
    return drafts[0]


def _read(replies: list[Reply], lang: str) -> str:
    """The escalation letter as the user reads it: the (Chinese) draft itself for a Chinese
    user, the translation after it, marked not to send, for an English one."""
    d = _draft(replies)
    after = replies[replies.index(d) + 1]
    if lang == "zh":                      # no translation: straight on to "when you've sent it"
        assert after.buttons
        return d.text
    assert after.kind == "text" and after.draft_id is None and not after.buttons
    assert after.text.startswith(ui("letter.translation", "en"))
    return after.text


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(("body", "answer", "draft", "next_button"), [
    ("lender_service", "none", "escalate_regulator", "cpl:s:{id}:local_bureau:accept"),
    ("lender_service", "unsolved", "escalate_regulator", "cpl:s:{id}:local_bureau:accept"),
    ("nfra", "none", "escalate_regulator_followup", "cpl:f:{id}"),
    ("nfra", "unsolved", "escalate_review_request", "cpl:s:{id}:nfra:review"),
    ("local_bureau", "none", "escalate_regulator_followup", "cpl:f:{id}"),
    # a microloan company (record()'s default): no legal answer deadline for the new complaint
    ("stop_request", "continuing", "escalate_continuing", "cpl:s:{id}:lender_service:lender_none"),
    ("police", "none", "escalate_followup", "cpl:f:{id}"),
    ("police", "unsolved", "escalate_followup", "cpl:f:{id}"),
    ("telecom", "none", "escalate_followup", "cpl:f:{id}"),
    ("heimao", "unsolved", "escalate_followup", "cpl:f:{id}"),
    ("consumer", "none", "escalate_followup", "cpl:f:{id}"),
    ("other", "none", "escalate_followup", "cpl:f:{id}"),
])
def test_not_solved_leads_to_the_next_step_with_a_draft(engine: Engine, lang: str, body: str, answer: str,
                                                         draft: str, next_button: str) -> None:
    talk = Talk(engine, lang=lang)
    c = record(talk, body, filed="2026-11-25", lender="快借" if lang == "zh" else "Quick Cash")
    assert [r["status"] for r in talk.reminders()] == ["pending"]
    replies = talk.press(f"cpl:a:{c['id']}:{answer}")
    d = _draft(replies)
    assert d.draft_id == draft
    assert replies[0].kind != "draft" and replies.index(d) == 1        # one line first, then the draft alone
    # the letter goes to a Chinese institution: in Chinese whatever the user's language
    assert "快借" in d.text if lang == "zh" else "Quick Cash" in d.text
    assert fmt_date(dt.date(2026, 11, 25), "zh") in d.text
    assert re.search(r"[\u4e00-\u9fff]{10}", d.text)
    read = _read(replies, lang)                                        # an English user's translation
    assert fmt_date(dt.date(2026, 11, 25), lang) in read
    for text in (d.text, read):
        if body != "stop_request":
            assert "T-100" in text
        assert not NO_TEMPLATE.search(text), text
    assert next_button.format(id=c["id"]) in talk.buttons
    status = talk.complaints()[0]["status"]
    assert status == ("no_answer" if answer == "none" else "unsolved")
    assert [r["status"] for r in talk.reminders()] == ["cancelled"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_lender_silent_goes_to_the_regulator_for_its_kind_citing_the_ticket(engine: Engine, loaded: Loaded,
                                                                            lang: str) -> None:
    talk = Talk(engine, lang=lang)
    c = record(talk, "lender_service", kind="bank", ticket="TK-9")
    replies = talk.press(f"cpl:a:{c['id']}:none")
    d, read = _draft(replies), _read(replies, lang)
    days = loaded.knowledge.facts.deadlines["institution"]["days"]
    for text, in_lang in ((d.text, "zh"), (read, lang)):
        nfra = loaded.knowledge.facts.authorities["nfra"].name.get(in_lang)
        assert nfra in text and "TK-9" in text and str(days) in text
    assert f"cpl:s:{c['id']}:nfra:accept" in talk.buttons


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_solved_and_stopped_close_it(engine: Engine, lang: str) -> None:
    talk = Talk(engine, lang=lang)
    c = record(talk, "lender_service", kind="bank")
    replies = talk.press(f"cpl:a:{c['id']}:solved")
    assert all(r.kind != "draft" for r in replies)
    assert talk.complaints()[0]["status"] == "solved"
    assert [r["status"] for r in talk.reminders()] == ["cancelled"]
    s = record(talk, "stop_request")
    talk.press(f"cpl:a:{s['id']}:stopped")
    assert talk.complaints()[0]["status"] == "solved"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_snooze_asks_again_after_the_days_in_facts(engine: Engine, loaded: Loaded, lang: str) -> None:
    talk = Talk(engine, lang=lang)
    c = record(talk, "lender_service", kind="bank")
    talk.press(f"cpl:a:{c['id']}:snooze")
    days = loaded.knowledge.facts.deadlines["follow_up"]["snooze_days"]
    old, new = talk.reminders()
    assert old["status"] == "cancelled" and new["status"] == "pending"
    assert from_iso(new["due_at"]) == NOW + dt.timedelta(days=days)
    assert talk.complaints()[0]["history"][-1]["answer"] == "snooze"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_regulator_accepted_waits_for_the_conclusion(engine: Engine, loaded: Loaded, lang: str) -> None:
    talk = Talk(engine, lang=lang)
    c = record(talk, "nfra")
    talk.press(f"cpl:a:{c['id']}:accepted")
    days = loaded.knowledge.facts.deadlines["petition"]["conclude_days"]
    due = dt.date(2026, 11, 20) + dt.timedelta(days=days)
    updated = talk.complaints()[0]
    assert (updated["stage"], updated["due_on"]) == ("conclude", due.isoformat())
    assert from_iso(talk.reminders()[-1]["due_at"]) == check_time(due, SH)
    d = _draft(talk.press(f"cpl:a:{c['id']}:none"))                   # and then silence
    assert d.draft_id == "escalate_regulator_followup"
    assert str(days) in d.text and str(loaded.knowledge.facts.deadlines["petition"]["extend_days"]) in d.text


def test_answers_are_only_those_of_the_stage(engine: Engine) -> None:
    talk = Talk(engine, lang="en")
    c = record(talk, "lender_service", kind="bank")
    talk.press(f"cpl:a:{c['id']}:accepted")      # a regulator's answer, not a lender's
    assert "expired" in talk.text and talk.complaints()[0]["stage"] == "answer"


# --- linked complaints: from a report, and escalations ----------------------------------------------

REPORT = {"role": "borrower", "lender_name": "快借花", "lender_kind": "bank",
          "behaviours": ["called_employer", "called_contacts"], "work_who": ["boss"],
          "started": "2026-11-01", "latest": "2026-11-18", "your_name": "王小明"}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_track_button_after_a_report_links_the_case(engine: Engine, lang: str) -> None:
    talk = Talk(engine, lang=lang)
    case_id = engine.store.save_case(talk.user_id, "report", lang, {"answers": REPORT})
    button = track_button(engine.k, lang, case_id)
    talk.press(button.id)
    assert talk.buttons[0] == "o:lender_service" and str(case_id) in talk.text and "快借花" in talk.text
    talk.press("o:lender_service")
    talk.say("2026-11-19")
    talk.say("K-55")
    talk.press("c:ok")
    [c] = talk.complaints()
    assert (c["case_id"], c["lender"], c["lender_kind"], c["ticket"], c["status"]) == \
        (case_id, "快借花", "bank", "K-55", "open")
    replies = talk.press(f"cpl:a:{c['id']}:none")
    d, read = _draft(replies), _read(replies, lang)
    assert "王小明" in d.text and "王小明" in read                 # from the report, not a blank
    assert "单位" in d.text
    assert ("单位" in read) if lang == "zh" else ("employer" in read or "workplace" in read)
    assert engine.k.facts.authorities["nfra"].name.get("zh") in d.text
    assert engine.k.facts.authorities["nfra"].name.get(lang) in read


def test_sent_escalation_is_tracked_as_a_new_complaint_citing_the_first(engine: Engine, loaded: Loaded) -> None:
    talk = Talk(engine, lang="en")
    first = record(talk, "lender_service", lender="Quick Cash", kind="consumer_finance", ticket="FIRST-1")
    talk.press(f"cpl:a:{first['id']}:none")
    talk.press(f"cpl:s:{first['id']}:nfra:accept")
    assert ui("complaints.filed_on.q", "en") in talk.text and "c:back" in talk.buttons
    talk.say("2026-11-28")
    talk.say("NFRA-2")
    talk.press("c:ok")
    second = talk.complaints()[0]
    assert (second["body"], second["parent_id"], second["lender"], second["ticket"]) == \
        ("nfra", first["id"], "Quick Cash", "NFRA-2")
    d = _draft(talk.press(f"cpl:a:{second['id']}:none"))
    assert d.draft_id == "escalate_regulator_followup"
    assert "FIRST-1" in d.text and "NFRA-2" in d.text
    talk.press(f"cpl:a:{second['id']}:none")
    talk.press(f"cpl:f:{second['id']}")                            # sent the follow-up
    days = loaded.knowledge.facts.deadlines["follow_up"]["days"]
    assert from_iso(talk.reminders()[-1]["due_at"]) == check_time(NOW.date() + dt.timedelta(days=days - 1), SH)
    assert talk.complaints()[0]["status"] == "open"


def test_a_cancelled_linked_run_does_not_link_a_later_complaint(engine: Engine) -> None:
    talk = Talk(engine, lang="en")
    case_id = engine.store.save_case(talk.user_id, "report", "en", {"answers": REPORT})
    talk.press(f"cpl:track:{case_id}")
    talk.press("c:cancel")
    c = record(talk, "police", lender="Other Loan")
    assert c["case_id"] is None and c["lender"] == "Other Loan"
    assert [x["status"] for x in talk.complaints()].count("draft") == 1  # the leftover link, never listed
    talk.say("/complaints")
    assert ui("complaints.status.draft", "en") not in talk.text


def test_offer_tracking_action_points_at_the_latest_report(engine: Engine) -> None:
    from bot.actions.registry import ACTIONS

    talk = Talk(engine, lang="en")
    case_id = engine.store.save_case(talk.user_id, "report", "en", {"answers": REPORT})
    ctx = engine._action_ctx(engine._context(engine.store.user_by_id(talk.user_id), Inbound(
        channel="test", user="u1", text="x")), {})
    [reply] = ACTIONS["offer_tracking"](ctx)
    assert reply.buttons[0].id == f"cpl:track:{case_id}"


# --- every escalation renders, whatever is known ------------------------------------------------

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.sampled_from(BODIES), stage=st.sampled_from(sorted(STAGE_DEADLINE)),
       answer=st.sampled_from(["none", "unsolved", "continuing"]), lang=st.sampled_from(["zh", "en"]),
       lender=st.one_of(st.none(), st.text(min_size=1, max_size=20)), ticket=st.one_of(st.none(), st.just("T-1")),
       kind=st.one_of(st.none(), st.sampled_from(complaints.LENDER_KINDS)))
@example(body="lender_service", stage="accept", answer="none", lang="zh", lender="{%", ticket=None, kind=None)
def test_every_escalation_draft_renders_completely(engine: Engine, body: str, stage: str, answer: str, lang: str,
                                                   lender: str | None, ticket: str | None, kind: str | None) -> None:
    c = {"id": 1, "user_id": 0, "body": body, "stage": stage, "lender": lender, "lender_kind": kind,
         "filed_on": "2026-11-20", "ticket": ticket, "body_name": None, "case_id": None, "parent_id": None}
    step = escalation(c, answer)
    if step is None:
        return
    user = engine.store.user("test", "hyp")
    ctx = engine._action_ctx(engine._context(user, Inbound(channel="test", user="hyp", text="x")), {})
    ctx.lang = lang
    context = complaints.draft_context(ctx, c, answer, step)
    text = complaints.render_draft(step.draft, context, engine.k, lang)
    own = text.replace(lender or "", "")  # what the person typed may hold anything, "{%" included
    assert text and not re.search(r"\{\{|\}\}|\{%", own)
    assert "None" not in own
    assert (lender or context["blank"]["lender"]) in text
