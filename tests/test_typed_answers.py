"""Answers as people type them, and nothing in progress thrown away (issue 19).

Conversation tests through the engine (real SQLite, the shipped content), and a property
test over every question of every dialog: whatever is typed, nothing crashes, and nothing
is stored that the review screen would not show as it was meant.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bot.flow.models import Dialog
from bot.flow.runner import Runner, State
from tests.conftest import Talk, ui


def session(chat: Talk) -> dict:
    return chat.engine.store.session(chat.user_id)


def start_report(chat: Talk, *behaviours: str) -> None:
    chat.say("/report")
    chat.say(choice="o:borrower")
    chat.say("快借花")
    chat.say(choice="o:microloan")
    for b in behaviours:
        chat.say(choice=f"o:{b}")
    chat.say(choice="c:done")


def finish_report(chat: Talk) -> str:
    """Skip or answer what is left, confirm the review; the letters' text."""
    for _ in range(40):
        s = session(chat)
        if s is None:
            break
        if s["step"] == "_review":
            chat.say(choice="c:ok")
            break
        ids = chat.buttons
        if "c:skip" in ids:
            chat.say(choice="c:skip")
        elif "c:done" in ids:
            chat.say(choice=next(i for i in ids if i.startswith("o:")))
            chat.say(choice="c:done")
        elif any(i.startswith("o:") for i in ids):
            chat.say(choice=next(i for i in ids if i.startswith("o:")))
        elif s["step"] in ("started", "latest"):
            chat.say("11月20日")
        else:
            chat.say("张三")
    return "\n\n".join(r.text for r in chat.last if r.kind == "draft")


def test_free_words_at_a_multiple_choice_select_the_options_and_say_so(engine) -> None:
    chat = Talk(engine)
    start_report(chat, "called_employer")
    assert session(chat)["step"] == "work_who"
    chat.say("人事和我的主管")
    assert session(chat)["slots"]["work_who"] == ["boss", "hr"]
    chosen = "、".join(ui(f"report.work_who.opt.{o}") for o in ("boss", "hr"))    # zh's list separator
    assert ui("flow.selected", items=chosen) in chat.text
    assert session(chat)["step"] == "work_said"


def test_free_words_in_english_and_a_question_is_still_answered(engine) -> None:
    chat = Talk(engine, lang="en")
    start_report(chat, "called_employer")
    chat.say("my manager and HR")
    assert session(chat)["slots"]["work_who"] == ["boss", "hr"]
    assert "Selected: Boss / manager, HR" in chat.text
    other = Talk(engine, user="u2")
    start_report(other, "called_employer")
    other.say("他们给我领导打电话合法吗？")  # names an option, but it is a question
    assert "work_who" not in session(other)["slots"] and session(other)["step"] == "work_who"


def test_a_longer_word_of_another_option_wins(engine) -> None:
    chat = Talk(engine)
    chat.say("/report")
    chat.say("不是我借的，我是紧急联系人")
    assert session(chat)["slots"]["role"] == "contact"


def test_an_estimate_is_kept_and_the_letters_say_it_is_one(engine) -> None:
    chat = Talk(engine)
    start_report(chat, "call_bombing")
    assert session(chat)["step"] == "calls_per_day"
    chat.say("大概30次")
    assert session(chat)["slots"]["calls_connected"] == {"n": 30, "approx": "about"}
    chat.say("30多")
    chat.say("三四十条")
    letters = finish_report(chat)
    assert "约30个" in letters and "30多个" in letters and "30至40条" in letters
    assert "约约" not in letters


def test_vague_counts_ask_for_a_closer_number_fitting_the_question(engine) -> None:
    chat = Talk(engine)
    start_report(chat, "call_bombing")
    chat.say("几十")
    assert ui("flow.bad.vague_count") in chat.text and "5000" not in chat.text
    assert session(chat)["step"] == "calls_per_day"


def test_a_bare_number_for_a_date_asks_and_yes_or_a_new_date_answers(engine) -> None:
    chat = Talk(engine, lang="en")
    start_report(chat, "insults")
    assert session(chat)["step"] == "started"
    chat.say("7")
    assert "Do you mean 7 November 2026?" in chat.text  # the clock stands at 29 November 2026
    assert "started" not in session(chat)["slots"]
    chat.say(choice="c:confirm")
    assert session(chat)["slots"]["started"] == "2026-11-07" and session(chat)["step"] == "latest"
    chat.say("20")
    assert "Do you mean 20 November 2026?" in chat.text
    chat.say("no")
    assert ui("flow.confirm.bare_day.retry", "en") in chat.text and "latest" not in session(chat)["slots"]
    chat.say("3")
    chat.say("Nov 25")  # a new answer instead of yes or no
    assert session(chat)["slots"]["latest"] == "2026-11-25"


def test_a_part_of_a_month_is_kept_and_a_future_day_refused(engine) -> None:
    chat = Talk(engine)
    start_report(chat, "insults")
    chat.say("明天")
    assert ui("flow.bad.future_date") in chat.text
    chat.say("11月初")
    assert session(chat)["slots"]["started"] == {"d": "2026-11-01", "approx": "early"}
    chat.say("昨天")
    letters = finish_report(chat)
    assert "2026年11月初至2026年11月28日" in letters


def test_a_button_from_a_side_answer_asks_before_dropping_a_report(engine) -> None:
    chat = Talk(engine)
    start_report(chat, "insults")
    answered = dict(session(chat)["slots"])
    chat.say(choice="d:report")  # "记录催收骚扰并投诉" under an answer
    assert "r:resume" in chat.buttons and "n:report" in chat.buttons
    assert session(chat)["slots"] == answered
    chat.say(choice="r:resume")
    assert session(chat)["slots"] == answered and session(chat)["step"] == "started"
    chat.say("/apr")
    assert "n:apr" in chat.buttons and session(chat)["dialog"] == "report"
    chat.say(choice="n:apr")
    assert session(chat)["dialog"] == "apr"


def test_a_trigger_phrase_works_inside_the_start_menu_and_mid_report(engine) -> None:
    chat = Talk(engine, lang=None)
    chat.say("/start")
    assert session(chat)["dialog"] == "start"
    chat.say("help me complain")
    assert session(chat)["dialog"] == "report"  # the menu held nothing worth asking about
    chat.say(choice="o:borrower")
    chat.say("Quick Cash")
    assert session(chat)["step"] == "lender_kind"
    chat.say("帮我算利息")  # another dialog's phrase at a choice: asks, keeps the report
    assert "n:apr" in chat.buttons and session(chat)["dialog"] == "report"
    assert session(chat)["slots"]["lender_name"] == "Quick Cash"


# --- property: every question of every dialog -------------------------------------------------

SAMPLES = ["7", "31", "0", "-3", "1 3", "1,2,9", "大概30次", "30多", "几十", "三四十", "三千五", "1.2万", "about 40",
           "11月初", "11月", "上周三", "前天晚上", "2026-02-30", "下周一", "是", "no", "不是", "人事和我的主管",
           "my boss", "我要投诉", "帮我算利息", "怎么办？", "跳过", "{{ x }}", "{%", "None", "\x00", " ", "9" * 30]
answers = st.sampled_from(SAMPLES) | st.text(max_size=40) | st.builds(
    lambda a, b: f"{a} {b}", st.sampled_from(SAMPLES), st.sampled_from(SAMPLES))
TODAY = dt.date(2026, 11, 29)


def _steps(dialogs: dict[str, Dialog]) -> list[tuple[str, str]]:
    return [(d.id, s) for d in dialogs.values() for s in d.steps]


def _faithful(runner: Runner, dialog: Dialog, step_id: str, value: object, lang: str) -> None:
    """The review screen's words for a stored answer show what it is."""
    step = dialog.steps[step_id]
    shown = runner.display(dialog, step_id, value, lang)
    if step.input == "text":  # shown as typed
        assert shown == value and value.strip()
        return
    assert shown and not re.search(r"\bNone\b|[{}]|\[|'(?:n|d|approx)'", shown), (step_id, value, shown)
    if step.input == "number":
        number = value["n"] if isinstance(value, dict) else value
        assert re.sub(r"\.0$", "", str(number)) in shown.replace(",", ""), (value, shown)
    elif step.input == "multi":
        assert isinstance(value, list) and value and all(v in step.options for v in value)
    elif step.input == "choice":
        assert value in step.options
    elif step.input == "date":
        day = value["d"] if isinstance(value, dict) else value
        assert dt.date.fromisoformat(day) <= TODAY or not step.past_only


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_typed_answer_crashes_or_stores_what_the_review_would_not_show(loaded, lang: str) -> None:
    runner = Runner(loaded.dialogs, loaded.knowledge)
    steps = _steps(loaded.dialogs)

    def check(where: tuple[str, str], text: str, confirm: bool) -> None:
        dialog_id, step_id = where
        dialog = loaded.dialogs[dialog_id]
        state = State(dialog=dialog_id, step=step_id, history=("x",))
        turn = runner.on_text(state, lang, text, TODAY, digress=lambda q: None)
        # every answer gets a reply: the runner's, or the completion action's (a dialog without a
        # review screen completes on its last answer: /log, "check a message")
        assert turn.replies or (turn.completed is not None and not dialog.review), "every answer gets a reply"
        if turn.state is not None and "_ask" in turn.state.slots:  # asked "do you mean ...?"
            turn = runner.on_control(turn.state, lang, "confirm" if confirm else "deny")
        slot = dialog.slot(step_id)
        stored = (turn.state.slots if turn.state else turn.completed or {})
        if slot in stored and stored[slot] is not None:
            _faithful(runner, dialog, step_id, stored[slot], lang)
            chosen = dialog.steps[step_id].input in ("choice", "multi")
            typed_exactly = text.strip().isdigit() or re.fullmatch(r"[\d\s,，、]+", text.strip() or "x")
            if chosen and not typed_exactly:  # read from words: said on screen before the next question
                shown = runner.display(dialog, step_id, stored[slot], lang)
                assert any(shown in r.text for r in turn.replies) or _is_label(runner, dialog, step_id, text, lang)

    for where in steps:  # every sample at every question, both answers to "do you mean ...?"
        for text in SAMPLES:
            for confirm in (True, False):
                check(where, text, confirm)

    @hsettings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(where=st.sampled_from(steps), text=answers, confirm=st.booleans())
    def random_text(where: tuple[str, str], text: str, confirm: bool) -> None:
        check(where, text, confirm)

    random_text()


def _is_label(runner: Runner, dialog: Dialog, step_id: str, text: str, lang: str) -> bool:
    """Typed exactly as one of the buttons' labels or ids (no need to repeat it)."""
    from bot.flow.inputs import match_option
    step = dialog.steps[step_id]
    labels = {o: runner.k.text(lang, f"{step.ask}.opt.{o}") for o in step.options}
    return all(match_option(step.options, labels, t) for t in re.split(r"[\s,，、;；/]+", text.strip()) if t)


def test_on_the_terminal_the_numbers_of_the_yes_no_buttons_answer_do_you_mean(engine) -> None:
    chat = Talk(engine, lang="en")
    start_report(chat, "insults")
    chat.say("7")
    assert "Do you mean 7 November 2026?" in chat.text
    chat.say("2")  # [2] No, I'll type the date: not "do you mean 2 November?"
    assert ui("flow.confirm.bare_day.retry", "en") in chat.text and "started" not in session(chat)["slots"]
    chat.say("7")
    chat.say("1")
    assert session(chat)["slots"]["started"] == "2026-11-07"


def test_free_words_with_a_negation_are_not_read_as_a_choice(engine) -> None:
    """"They never came to my home" must not select "came to the home": a misread choice
    goes into the letters and the police statement. The person is asked to pick instead."""
    chat = Talk(engine, lang="en")
    chat.say("/report")
    chat.say(choice="o:borrower")
    chat.say("Quick Cash")
    chat.say(choice="o:microloan")
    chat.say("they threatened me but never came to my home")
    assert session(chat)["step"] == "behaviours" and "behaviours" not in session(chat)["slots"]
    chat.say("they threatened me and came to my home")
    assert session(chat)["slots"]["behaviours"] == ["threats", "visits"]
