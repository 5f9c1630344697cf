"""The report played through the real engine: typing answers, pressing buttons, the review
screen, the outcome, /cases, a language switch, and resuming after a restart."""

from __future__ import annotations

from collections.abc import Callable

from bot.core.models import Reply
from tests.conftest import Chat, shown, ui, ui_head

ENDING = ("{{", "{%", "None", "Undefined")


def outcome_parts(replies: list[Reply]) -> tuple[list[Reply], list[Reply], Reply]:
    """(answer replies, draft replies, closing reply) of a finished report."""
    answers = [r for r in replies if r.kind == "answer"]
    drafts = [r for r in replies if r.kind == "draft"]
    assert answers and drafts
    return answers, drafts, replies[-1]


# The notes to the employer and to contacts disclose the minimum: no lender, no dates.
MINIMAL_NOTES = ("employer_notice", "contacts_message")


def translated(replies: list[Reply]) -> list[Reply]:
    """The English translation after each (Chinese) letter: plain text, never a draft, marked
    not to send; returned with its letter's id, for check_drafts."""
    out = []
    for i, r in enumerate(replies):
        if r.kind == "draft":
            t = replies[i + 1]
            assert t.kind == "text" and t.draft_id is None, t
            assert t.text.startswith(ui("letter.translation", "en"))
            out.append(t.model_copy(update={"draft_id": r.draft_id}))
    return out


def check_drafts(drafts: list[Reply], *must: str) -> None:
    for d in drafts:
        assert d.draft_id
        for text in must if d.draft_id not in MINIMAL_NOTES else ():
            assert text in d.text, (d.draft_id, text)
        for bad in ENDING:
            assert bad not in d.text, (d.draft_id, bad)


def back_to_review(chat: Chat) -> None:
    """After a correction the runner asks again the optional questions that were skipped;
    skip them again (at most a few) to get back to the review screen."""
    for _ in range(5):
        if "c:ok" in chat.buttons:
            return
        chat.press("c:skip")


def confirm(chat: Chat, *on_review: str) -> list[Reply]:
    assert "c:ok" in chat.buttons, chat.text
    for text in on_review:
        assert text in chat.text, text
    return chat.press("c:ok")


def test_employer_story_in_chinese_with_a_correction(chat: Chat) -> None:
    chat.say("/report")
    assert chat.buttons[:2] == ["o:borrower", "o:contact"]
    chat.press_label(ui("report.role.opt.borrower"))
    chat.say("安达消费")                       # a typo, corrected on the review screen
    chat.press("o:consumer_finance")
    for b in ("called_employer", "disclosed_debt", "pressed_others"):
        chat.press(f"o:{b}")
    assert "✓ " + ui("report.behaviours.opt.called_employer") in chat.labels
    chat.press("c:done")
    assert ui("report.work_who.q") in chat.text
    chat.say("1 2")                           # boss and HR, typed as numbers
    chat.say("说我欠钱不还，让公司扣我工资")
    chat.press_label(ui("report.consent.opt.not_agreed"))
    chat.say("是")                             # they could reach me
    chat.say("2026-10-08")
    chat.say("11月25日")
    chat.press("c:skip")                      # collectors' numbers unknown
    chat.press("o:recordings")
    chat.press("c:done")
    chat.press("o:no")                        # no loan details
    chat.say("1 2")                           # stop the calls; complain
    chat.press("o:calls_workhours")
    chat.say("李明")
    chat.press("c:skip")                      # no phone number
    assert "安达消费" in chat.text and "2026-11-25" in chat.text
    chat.press("e:lender")
    chat.say("安达消费金融")
    back_to_review(chat)
    replies = confirm(chat, "安达消费金融", "说我欠钱不还，让公司扣我工资")

    answers, drafts, closing = outcome_parts(replies)
    assert ui("report.severity.likely_violation") in answers[0].text
    assert ui("report.severity.urgent") not in answers[0].text
    steps = next(r for r in replies if r.text.startswith(ui("report.out.steps_title")))
    assert "12378" in steps.text or "国家金融监督管理总局" in steps.text
    assert [d.draft_id for d in drafts] == ["stop_contact", "employer_notice", "lender_complaint",
                                            "regulator_complaint"]
    check_drafts(drafts, "安达消费金融", "2026年10月8日", "2026年11月25日", "李明")
    assert ui("report.blank.phone") in drafts[0].text        # skipped: a blank to fill in
    # each draft comes right after one short line saying who it is for
    for i, r in enumerate(replies):
        if r.kind == "draft":
            how = ui_head(f"report.draft.{r.draft_id}.how")
            assert replies[i - 1].kind == "text" and replies[i - 1].text.startswith(how)
    notice = next(d for d in drafts if d.draft_id == "employer_notice")
    assert ui("report.work_who.opt.boss") not in notice.text            # a greeting, not labels:
    assert notice.text.splitlines()[2] == "您好："
    assert "k:l" in [b.id for b in closing.buttons]

    # /cases lists it; a button shows it again; one draft on its own
    chat.say("/cases")
    assert "安达消费金融" in chat.text
    view = chat.buttons[0]
    assert view.startswith("k:v:")
    chat.press(view)
    assert ui("report.severity.likely_violation") in chat.text
    case_id = view.split(":")[2]
    assert f"k:d:{case_id}:employer_notice" in chat.buttons
    chat.press(f"k:d:{case_id}:employer_notice")
    assert [r.kind for r in chat.last] == ["text", "draft"]
    assert chat.last[1].text == notice.text

    # after switching to English, the same case reads in English
    chat.say("/lang en")
    chat.press(view)
    assert ui("report.severity.likely_violation", "en") in chat.text
    # ...but its letters stay in Chinese, as sent, each followed by an English translation
    chat.press(f"k:a:{case_id}")
    assert [r.text for r in chat.last if r.kind == "draft"] == [d.text for d in drafts]
    english = translated(chat.last)
    check_drafts(english, "安达消费金融", "8 October 2026", "25 November 2026", "李明")
    assert ui("report.blank.phone", "en") in english[0].text
    # English letters, on request, for a reader of English
    chat.press(f"k:e:{case_id}")
    drafts_en = [r for r in chat.last if r.kind == "draft"]
    assert [d.draft_id for d in drafts_en] == [d.draft_id for d in drafts]
    check_drafts(drafts_en, "安达消费金融", "8 October 2026", "25 November 2026", "李明")
    assert ui("report.blank.phone", "en") in drafts_en[0].text


def test_emergency_contact_story_in_english(chat_en: Chat) -> None:
    chat = chat_en
    chat.say("help me complain")                 # a trigger phrase starts the report
    assert "o:contact" in chat.buttons
    chat.press("o:contact")
    chat.say("EasyLoan Plus")
    chat.press_label(ui("report.lender_kind.opt.platform", "en"))
    chat.say("2 3 7 6")                          # told me; asked me to pay; call bombing; nights
    assert ui("report.calls_connected.q", "en") in chat.text      # connected calls, asked apart
    chat.say("15")
    assert ui("report.calls_unanswered.q", "en") in chat.text
    chat.press("c:skip")                          # unanswered calls
    chat.press("c:skip")                          # texts
    chat.say("after 22:30")
    chat.say("2026-11-15")
    chat.say("yesterday")
    chat.say("13512345678")
    chat.press("o:call_log")
    chat.press("o:screenshots")
    chat.press("c:done")
    assert ui("report.contact_wants.q", "en") in chat.text
    assert "o:negotiate" not in chat.buttons     # not the borrower: nothing to repay
    chat.press("o:stop_contact")
    chat.press("c:done")
    assert ui("report.your_name.q", "en") in chat.text
    chat.press("c:skip")
    chat.say("13900002222")
    replies = confirm(chat, "EasyLoan Plus", ui("report.role.opt.contact", "en"))

    answers, drafts, _ = outcome_parts(replies)
    text = "\n".join(a.text for a in answers)
    assert ui("report.note.owes_nothing_contact", "en") in text
    assert ui("report.finding.third_party_contacted.text", "en") in text
    assert [d.draft_id for d in drafts] == ["stop_contact", "lender_complaint", "regulator_complaint"]
    # letters in Chinese for the lender and the regulator, each with its English translation
    check_drafts(drafts, "EasyLoan Plus", "2026年11月15日", "2026年11月28日", ui("report.blank.name"))
    assert "不是借款人" in drafts[0].text and "13512345678" in drafts[1].text
    english = translated(replies)
    check_drafts(english, "EasyLoan Plus", "15 November 2026", "28 November 2026", ui("report.blank.name", "en"))
    assert "not the borrower" in english[0].text
    assert "13512345678" in english[1].text


def test_threats_and_fake_papers_in_chinese(chat: Chat) -> None:
    chat.say("我要投诉")
    chat.press("o:borrower")
    chat.say("快快贷")
    chat.press("o:unlicensed_unknown")
    chat.say("8 9 11")                             # threats, insults, fake court papers
    assert ui("report.threat_words.q") in chat.text
    chat.say("三天不还就去你家")
    chat.say("11月10日")
    chat.say("昨天")
    chat.press("c:skip")
    chat.press("c:skip")                           # no evidence yet
    chat.press("o:no")
    chat.press("o:police")
    chat.press("c:done")
    chat.press("o:messages_only")
    chat.press("c:skip")
    chat.press("c:skip")
    replies = confirm(chat, "快快贷", "三天不还就去你家")

    answers, drafts, _ = outcome_parts(replies)
    assert answers[0].text.splitlines()[2].startswith("⚠️")     # danger first
    assert "🔴 " + ui("report.severity.urgent") in answers[0].text
    steps = next(r for r in replies if r.text.startswith(ui("report.out.steps_title")))
    assert steps.text.splitlines()[1].startswith("1. " + ui_head("report.route.police_now"))
    assert drafts[0].draft_id == "police_statement"
    check_drafts(drafts, "快快贷", "2026年11月10日", "2026年11月28日", ui("report.blank.name"))
    assert "三天不还就去你家" in drafts[0].text


def test_microloan_impersonation_in_english(chat_en: Chat) -> None:
    chat = chat_en
    chat.say("/report")
    chat.press("o:borrower")
    chat.say("FastWallet")
    chat.press("o:microloan")
    for b in ("called_contacts", "public_shaming", "impersonation", "personal_account"):
        chat.press(f"o:{b}")
    chat.press("c:done")
    chat.press("o:emergency_contact")
    chat.press("o:no")                             # they could not reach me
    chat.say("2026-11-20")
    chat.say("2026-11-20")
    chat.press("c:skip")
    chat.say("2")                                  # one number toggles "screenshots"...
    chat.press("c:done")                           # ...then Done
    chat.press("o:yes")                            # loan details
    chat.say("3000")
    chat.say("2100")
    chat.press("c:skip")                           # overdue date unknown
    chat.say("2 3 4")                              # complain; police; negotiate
    chat.press("o:messages_only")
    chat.say("Chen Jing")
    chat.press("c:skip")
    replies = confirm(chat, "FastWallet", "3000", "2100")

    answers, drafts, _ = outcome_parts(replies)
    text = "\n".join(a.text for a in answers)
    assert ui("report.severity.urgent", "en") in text and shown("report.note.personal_account", text, "en")
    assert shown("report.finding.upfront_deduction.text", text, "en")
    ids = [d.draft_id for d in drafts]
    assert ids[0] == "police_statement"
    assert {"contacts_message", "repayment_plan"} <= set(ids) and "employer_notice" not in ids
    check_drafts(drafts, "FastWallet", "2026年11月20日", "Chen Jing")
    plan = next(d for d in drafts if d.draft_id == "repayment_plan")
    assert "3,000元" in plan.text and "2,100元" in plan.text
    english = translated(replies)
    check_drafts(english, "FastWallet", "20 November 2026", "Chen Jing")
    plan = next(d for d in english if d.draft_id == "repayment_plan")
    assert "3,000 yuan" in plan.text and "2,100 yuan" in plan.text


def test_resume_mid_report_after_a_restart(chat: Chat, restart: Callable[[Chat], Chat]) -> None:
    chat.say("/report")
    chat.press("o:borrower")
    chat.say("花花分期")
    chat.press("o:platform")
    chat.press("o:called_contacts")
    chat.press("o:contacted_family")               # a multi-choice selection in progress

    chat = restart(chat)                           # the process died; a new engine, same file
    chat.press("c:done")
    assert ui("report.consent.q") in chat.text
    chat.press("o:not_sure")
    chat.say("否")
    chat.say("2026-11-01")
    chat.say("今天")
    chat.press("c:skip")
    chat.press("c:skip")
    chat.press("o:no")

    chat = restart(chat)
    chat.press("o:stop_contact")
    chat.press("c:done")
    chat.press("o:messages_only")
    chat.press("c:skip")
    chat.press("c:skip")
    replies = confirm(chat, "花花分期", ui("report.behaviours.opt.called_contacts"),
                      ui("report.behaviours.opt.contacted_family"))
    _, drafts, _ = outcome_parts(replies)
    check_drafts(drafts, "花花分期", "2026年11月1日", "2026年11月29日")
    assert "contacts_message" in [d.draft_id for d in drafts]


def test_cases_when_there_are_none_and_a_stale_button(chat: Chat) -> None:
    chat.say("/cases")
    assert "/report" in chat.text
    chat.press("k:v:999")
    assert ui("cases.not_found") in chat.text
