"""The dialog runner, without the engine: every input kind, controls, review, corrections."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from bot.contentfiles import ContentError, read_yaml, validate
from bot.flow.models import Dialog
from bot.flow.runner import MAX_INVALID, REVIEW, Runner, State
from tests.conftest import shown, ui

TODAY = dt.date(2026, 11, 29)
KEYS = {
    "kinds.title": "Kinds", "kinds.name.q": "Name?", "kinds.colour.q": "Colour?",
    "kinds.colour.opt.red": "Red", "kinds.colour.opt.blue": "Blue", "kinds.shades.q": "Shades?",
    "kinds.shades.opt.light": "Light", "kinds.shades.opt.dark": "Dark",
    "kinds.shades.opt.bright": "Bright", "kinds.pets.q": "Pets?", "kinds.count.q": "How many?",
    "kinds.when.q": "When?", "kinds.name.label": "Name",
}


@pytest.fixture
def runner(loaded) -> Runner:
    dialog = validate(Dialog, read_yaml(Path(__file__).parent / "fixtures" / "kinds.yaml"))
    texts = {lang: {**strings, **KEYS} for lang, strings in loaded.knowledge.ui.items()}
    knowledge = dataclasses.replace(loaded.knowledge, ui=texts)
    return Runner({"kinds": dialog}, knowledge)


def walk(runner: Runner, *inputs: str) -> tuple[State | None, list]:
    turn = runner.start("kinds", "en")
    state, replies = turn.state, turn.replies
    for item in inputs:
        assert state is not None
        if item.startswith(("o:", "c:", "e:")):
            turn = runner.on_button(state, "en", item)
        else:
            turn = runner.on_text(state, "en", item, TODAY)
        state, replies = turn.state, turn.replies
        if turn.completed is not None:
            return None, [turn.completed]
    return state, replies


def test_happy_path_reaches_review_with_typed_values(runner):
    state, replies = walk(runner, "Li Ming", "1", "1 3", "是", "3", "昨天")
    assert state.step == REVIEW
    assert state.slots == {"name": "Li Ming", "colour": "red", "shades": ["light", "bright"],
                           "pets": True, "count": 3, "when": "2026-11-28"}
    review = replies[-1]
    assert "Light, Bright" in review.text and "Name: Li Ming" in review.text
    assert [b.id for b in review.buttons][:2] == ["c:ok", "e:name"]


def test_confirm_completes_with_answers(runner):
    state, _ = walk(runner, "A", "o:blue", "o:no", "c:skip", "2026-11-20")
    turn = runner.on_button(state, "en", "c:ok")
    assert turn.state is None and turn.completed == {
        "name": "A", "colour": "blue", "pets": False, "count": None, "when": "2026-11-20"}


def test_branch_skips_follow_up_and_correction_asks_new_branch(runner):
    state, _ = walk(runner, "A", "o:blue", "yes", "5", "today")
    assert "shades" not in state.slots
    turn = runner.on_button(state, "en", "e:colour")
    assert turn.state.editing and "Current answer: Blue" in turn.replies[0].text
    turn = runner.on_button(turn.state, "en", "o:red")
    assert turn.state.step == "shades"  # the new branch is asked ...
    turn = runner.on_text(turn.state, "en", "dark", TODAY)
    assert turn.state.step == REVIEW     # ... then straight back to review: nothing asked twice
    assert turn.state.slots["shades"] == ["dark"] and turn.state.slots["count"] == 5


def test_correction_away_from_branch_drops_its_answers(runner):
    state, _ = walk(runner, "A", "o:red", "1", "yes", "5", "today")
    turn = runner.on_button(state, "en", "e:colour")
    turn = runner.on_button(turn.state, "en", "o:blue")
    assert turn.state.step == REVIEW
    done = runner.on_button(turn.state, "en", "c:ok")
    assert "shades" not in done.completed


def test_multi_buttons_toggle_then_done(runner):
    state, _ = walk(runner, "A", "o:red")
    turn = runner.on_button(state, "en", "o:dark")
    turn = runner.on_button(turn.state, "en", "o:light")
    turn = runner.on_button(turn.state, "en", "o:dark")  # toggled off again
    assert "Selected: Light" in turn.replies[0].text
    assert any(b.label == "✓ Light" for b in turn.replies[0].buttons)
    turn = runner.on_button(turn.state, "en", "c:done")
    assert turn.state.step == "pets" and turn.state.slots["shades"] == ["light"]


def test_multi_done_with_nothing_selected_is_refused(runner):
    state, _ = walk(runner, "A", "o:red")
    turn = runner.on_button(state, "en", "c:done")
    assert turn.state.step == "shades" and ui("flow.bad.multi_empty", "en") in turn.replies[0].text


def test_back_returns_to_previous_answer(runner):
    state, _ = walk(runner, "A", "o:red", "o:dark", "c:done")
    turn = runner.on_control(state, "en", "back")
    assert turn.state.step == "shades"
    assert "Selected: Dark" in turn.replies[0].text  # the earlier choice is kept for editing
    turn = runner.on_control(turn.state, "en", "back")
    turn = runner.on_control(turn.state, "en", "back")
    assert turn.state.step == "name"
    turn = runner.on_control(turn.state, "en", "back")
    assert turn.state.step == "name" and ui("flow.at_first", "en") in turn.replies[0].text


def test_skip_only_where_optional(runner):
    state, _ = walk(runner, "A")
    turn = runner.on_control(state, "en", "skip")
    assert turn.state.step == "colour" and ui("flow.cannot_skip", "en") in turn.replies[0].text
    state, _ = walk(runner, "A", "o:blue", "no")
    turn = runner.on_control(state, "en", "skip")
    assert turn.state.step == "when" and turn.state.slots["count"] is None


def test_correction_does_not_ask_a_skipped_question_again(runner):
    state, replies = walk(runner, "A", "o:blue", "no", "c:skip", "today")
    assert "How many?: (skipped)" in replies[-1].text
    turn = runner.on_button(state, "en", "e:pets")
    turn = runner.on_button(turn.state, "en", "o:yes")
    assert turn.state.step == REVIEW  # not back to the skipped "How many?"


@pytest.mark.parametrize(("step_inputs", "bad", "key", "values"), [
    ((), "x" * 21, "flow.bad.too_long", {"length": 21}),
    (("A",), "purple", "flow.bad.choice", {"n": 2}),
    (("A", "o:blue"), "maybe", "flow.bad.yesno", {}),
    (("A", "o:blue", "y"), "lots", "flow.bad.vague_count", {}),
    (("A", "o:blue", "y"), "2.5", "flow.bad.integer", {}),
    (("A", "o:blue", "y"), "101", "flow.bad.too_big", {"max": 100}),
    (("A", "o:blue", "y", "1"), "2026-02-30", "flow.bad.no_such_date", {}),
    (("A", "o:blue", "y", "1"), "2027-01-01", "flow.bad.future_date", {}),
    (("A", "o:blue", "y", "1"), "blah", "flow.bad.date", {}),
])
def test_invalid_answers_are_explained_and_the_step_stays(runner, step_inputs, bad, key, values):
    state, _ = walk(runner, *step_inputs)
    turn = runner.on_text(state, "en", bad, TODAY)
    assert turn.state.step == state.step and turn.state.slots == state.slots
    assert shown(key, turn.replies[0].text, "en", **values)


def test_three_invalid_answers_offer_skip_or_cancel(runner):
    state, _ = walk(runner, "A", "o:blue", "y")
    for i in range(MAX_INVALID):
        turn = runner.on_text(state, "en", "lots", TODAY)
        state = turn.state
        helped = any(ui("flow.stuck", "en") in r.text for r in turn.replies)
        assert helped == (i == MAX_INVALID - 1)
    ids = [b.id for r in turn.replies for b in r.buttons]
    assert "c:skip" in ids and "c:cancel" in ids


def test_stale_button_is_refused(runner):
    state, _ = walk(runner, "A")
    turn = runner.on_button(state, "en", "o:dark")   # an option of another step
    assert turn.state == state and ui("flow.stale", "en") in turn.replies[0].text
    turn = runner.on_button(state, "en", "e:name")   # an edit button outside review
    assert turn.state == state


def test_cancel_ends(runner):
    state, _ = walk(runner, "A")
    turn = runner.on_control(state, "en", "cancel")
    assert turn.state is None and turn.completed is None
    assert turn.replies[0].text == runner.k.text("en", "flow.cancelled")


def test_digression_answers_then_reasks(runner):
    state, _ = walk(runner, "A")
    turn = runner.on_text(state, "en", "can they call my boss?", TODAY,
                          digress=lambda q: [runner.screen(state, "en")])
    assert turn.state == state and len(turn.replies) == 2


def test_schema_errors_name_file_line_and_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: bad\ntitle: t\nstart: a\nsteps:\n  a:\n    ask: x\n    input: choice\n    next: nowhere\n")
    with pytest.raises(ContentError) as err:
        validate(Dialog, read_yaml(bad, tmp_path), tmp_path)
    text = str(err.value)
    assert "bad.yaml" in text and "choice step needs options" in text
    bad.write_text("id: bad\ntitle: t\nstart: a\nsteps:\n  a:\n    ask: x\n    input: text\n    max_length: lots\n")
    with pytest.raises(ContentError) as err:
        validate(Dialog, read_yaml(bad, tmp_path), tmp_path)
    assert "bad.yaml:8: steps.a.max_length" in str(err.value)


@pytest.mark.parametrize(("integer", "reason"), [(True, "count"), (False, "number")])
def test_a_count_that_is_not_a_number_gets_a_count_example_not_money(integer: bool, reason: str) -> None:
    from bot.flow.inputs import Bad, parse_number
    from bot.flow.models import Step

    step = Step(ask="report.calls_connected", input="number", integer=integer, min=0, max=5000)
    result = parse_number(step, "purple")
    assert isinstance(result, Bad) and result.reason == reason
    vague = parse_number(step, "lots")  # "many" names no number: ask for a closer one, fitting the question
    assert isinstance(vague, Bad) and vague.reason == ("vague_count" if integer else "vague_number")


def test_an_unreadable_call_count_is_answered_with_a_count_example(chat) -> None:  # type: ignore[no-untyped-def]
    chat.say("/lang zh")
    chat.say("/report")
    chat.press("o:borrower")
    chat.say("快借花")
    chat.press("o:microloan")
    chat.press("o:call_bombing")
    chat.press("c:done")
    assert chat.engine.store.session(chat.engine.store.find_user("test", chat.user)["id"])["step"] == "calls_per_day"
    chat.say("很多很多")
    assert ui("flow.bad.vague_count") in chat.text and "5000" not in chat.text and "万" not in chat.text
