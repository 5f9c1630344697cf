"""Dialog YAML that is easy to read (issue 13 item 8): defaults for `ask` and `next`, one
`show_if` for a group of steps, and `python -m bot dialog <id>` as a readable script."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from bot.flow.models import END, Dialog
from tests.test_cli import env


def test_ask_and_next_default_to_the_step_id_and_the_following_step() -> None:
    d = Dialog.model_validate({"id": "demo", "title": "demo.title", "start": "a", "steps": {
        "a": {"input": "text"}, "b": {"input": "yesno", "next": "a"}, "c": {"input": "text", "ask": "other.c"}}})
    assert d.steps["a"].ask == "demo.a" and d.steps["a"].next == "b"
    assert d.steps["b"].next == "a"                                   # written out: kept
    assert d.steps["c"].ask == "other.c" and d.steps["c"].next == END  # the last step ends it
    texts = Dialog.model_validate({"id": "demo", "title": "t", "texts": "shared", "start": "a",
                                   "steps": {"a": {"input": "text"}}})
    assert texts.steps["a"].ask == "shared.a"


def test_a_group_gives_its_steps_one_condition() -> None:
    d = Dialog.model_validate({"id": "demo", "title": "t", "start": "a", "steps": {
        "a": {"input": "yesno"}, "b": {"input": "text"},
        "c": {"input": "text", "show_if": {"b": {"equals": "x"}}}, "d": {"input": "text"}},
        "groups": {"after_yes": {"show_if": {"a": {"equals": True}}, "steps": ["b", "c"]}}})
    assert d.path({"a": True, "b": "x"}) == ["a", "b", "c", "d"]
    assert d.path({"a": True, "b": "y"}) == ["a", "b", "d"]
    assert d.path({"a": False}) == ["a", "d"]


@pytest.mark.parametrize(("groups", "message"), [
    ({"g": {"show_if": {"a": {"equals": True}}, "steps": ["nope"]}}, "undefined step 'nope'"),
    ({"g": {"show_if": {"a": {"equals": True}}, "steps": ["b"]}}, r"both test \['a'\]"),
])
def test_group_mistakes_are_reported(groups: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Dialog.model_validate({"id": "demo", "title": "t", "start": "a", "steps": {
            "a": {"input": "yesno"}, "b": {"input": "text", "show_if": {"a": {"equals": False}}}}, "groups": groups})


def test_the_report_groups_ask_the_workplace_questions_only_after_a_call_to_work(loaded) -> None:
    report = loaded.dialogs["report"]
    assert "work_who" in report.path({"role": "borrower", "behaviours": ["called_employer"]})
    assert "work_who" not in report.path({"role": "borrower", "behaviours": ["insults"]})
    assert "consent" not in report.path({"role": "contact", "behaviours": ["called_employer"]})


def test_dialog_command_prints_a_readable_script(tmp_path) -> None:
    out = subprocess.run([sys.executable, "-m", "bot", "dialog", "report", "--lang", "en"], capture_output=True,
                         text=True, cwd=tmp_path, env=env(tmp_path), timeout=120)
    assert out.returncode == 0, out.stderr
    assert "work_who [several] Who at work did they contact?" in out.stdout
    assert "asked only if: behaviours includes called_employer" in out.stdout
    assert "- boss: Boss / manager" in out.stdout and "review screen, then: report_outcome" in out.stdout
    missing = subprocess.run([sys.executable, "-m", "bot", "dialog", "nope"], capture_output=True, text=True,
                             cwd=tmp_path, env=env(tmp_path), timeout=120)
    assert missing.returncode == 2 and "report" in missing.stderr


def test_a_renamed_slot_or_a_changed_option_list_is_a_start_up_error(loaded) -> None:
    """Issue 13 item 7: the answers an action reads are declared and checked, so a slot
    renamed in report.yaml cannot make letters go out without the lender's name."""
    from bot.actions.registry import check_reads

    assert check_reads(loaded.dialogs) == []
    report = loaded.dialogs["report"].model_dump(exclude={"groups"}, by_alias=True, exclude_none=True)
    report["steps"]["lender"]["save"] = "lender"                     # renamed
    report["steps"]["lender_kind"]["options"] = ["bank", "consumer_finance", "microloan", "platform", "pawnshop"]
    broken = {**loaded.dialogs, "report": Dialog.model_validate(report)}
    problems = check_reads(broken)
    assert ("dialogs/report.yaml", "steps", "report_outcome reads the answer 'lender_name', which no step saves") \
        in problems
    kind = [p for p in problems if p[1] == "steps.lender_kind.options"]
    assert kind and "unknown to it: ['pawnshop']" in kind[0][2] and "not offered: ['unlicensed_unknown']" in kind[0][2]
