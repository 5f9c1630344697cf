"""Typed button data (issue 13 item 1): one registry of prefixes, ids packed and read in one
place, and channels that never parse an id."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

import bot.actions.builtin  # noqa: F401  (registers every feature's buttons)
from bot.actions.buttons import CaseButton, ComplaintButton, ReminderButton
from bot.actions.registry import BUTTONS
from bot.core import callbacks as cb

ROOT = Path(__file__).resolve().parent.parent
HAND_MADE = r"Button\(id=|choice\.(?:partition|split|startswith)\(|\.id\.startswith\(|ctx\.args\.partition"


@pytest.mark.parametrize(("data", "packed"), [
    (cb.Option("boss"), "o:boss"),
    (cb.Control("done"), "c:done"),
    (cb.Edit("lender"), "e:lender"),
    (cb.Topic("employer_contact"), "t:employer_contact"),
    (cb.More("employer_contact"), "m:employer_contact"),
    (cb.StartDialog("report"), "d:report"),
    (cb.StartOver("apr"), "n:apr"),
    (cb.Resume(), "r:resume"),
    (cb.Language("en"), "l:en"),
    (cb.Confirm("delete"), "y:delete"),
    (cb.TopicList(), "u:list"),
    (CaseButton("l"), "k:l"),
    (CaseButton("d", 12, "police_statement"), "k:d:12:police_statement"),
    (ComplaintButton("s", 3, "nfra", "first"), "cpl:s:3:nfra:first"),
    (ComplaintButton("track", 9), "cpl:track:9"),
    (ReminderButton("z", 5, "1h"), "rem:z:5:1h"),
])
def test_ids_keep_the_form_stored_in_old_chats_and_read_back(data: cb.CallbackData, packed: str) -> None:
    assert data.pack() == packed
    assert cb.parse(packed) == data


@pytest.mark.parametrize("bad", ["", "zz:1", "k:v:abc", "k:v:1:2:3:4", "cpl:a:x", "rem:x:-1", "o", "o:",
                                 "k:v:" + "9" * 30, "\ud800", ":o"])
def test_stale_or_forged_ids_read_as_nothing(bad: str) -> None:
    parsed = cb.parse(bad)
    assert parsed is None or (isinstance(parsed, CaseButton) and parsed.case is None)


def test_a_prefix_used_twice_fails_at_definition() -> None:
    with pytest.raises(ValueError, match="prefix 'k'"):
        @dataclasses.dataclass(frozen=True)
        class Other(cb.CallbackData, prefix="k"):
            x: str


def test_ids_stay_within_telegrams_64_bytes() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        cb.Option("x" * 70).pack()


def test_every_feature_button_has_a_handler_and_flags_tell_channels_what_it_is() -> None:
    assert set(BUTTONS) >= {"k", "cpl", "rem", "ev"}   # and those of features being added (bdl, wit)
    assert cb.answers_question("o:boss") and cb.answers_question("rem:x:1") and cb.answers_question("y:keep")
    assert not cb.answers_question("t:employer_contact") and not cb.answers_question("k:l")
    assert cb.is_control("c:done") and not cb.is_control("o:done")
    assert set(cb.prefixes()) >= {"o", "c", "e", "t", "m", "d", "n", "r", "l", "y", "u", "k", "cpl", "rem"}


def test_no_module_builds_or_parses_a_button_id_by_hand() -> None:
    offenders = []
    for path in (ROOT / "bot").rglob("*.py"):
        if path.name == "callbacks.py":
            continue
        text = path.read_text(encoding="utf-8")
        for n, line in enumerate(text.splitlines(), 1):
            if re.search(HAND_MADE, line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_features_reach_the_engine_only_through_their_context() -> None:
    """Layers point down: no action imports the engine or a channel, none reads ctx.extra."""
    offenders = []
    for path in (ROOT / "bot" / "actions").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for pattern in (r"from bot\.core\.engine", r"import bot\.core\.engine", r"from bot\.channels", r"ctx\.extra",
                        r"save_session\("):
            if re.search(pattern, text):
                offenders.append(f"{path.relative_to(ROOT)}: {pattern}")
    assert not offenders, offenders
