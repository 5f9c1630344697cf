"""The helpers tests use to look UI texts up by key (tests/conftest.py): checked on every text of
the shipped content, so a template they cannot read fails here, not in some story test."""

from __future__ import annotations

import string

import pytest

from bot.app import Loaded
from tests.conftest import shown, ui, ui_head, ui_re


def _fields(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def test_every_text_is_found_in_its_rendering_with_and_without_values(loaded: Loaded) -> None:
    checked = 0
    for lang, texts in loaded.knowledge.ui.items():
        for key, template in texts.items():
            names = _fields(template)
            if any(not n.isidentifier() for n in names):      # {0}, {a.b}: none today
                continue
            values = {n: f"<{n} 42>" for n in names}
            rendered = loaded.knowledge.text(lang, key, **values)
            assert shown(key, rendered, lang), (lang, key)
            assert shown(key, rendered, lang, **values), (lang, key)
            if template.split("{", 1)[0].strip():                # some fixed text before any placeholder
                assert rendered.lstrip().startswith(ui_head(key, lang)), (lang, key)
            if not names:
                assert ui(key, lang) == rendered.strip()
            checked += 1
    assert checked > 1000


def test_a_wrong_value_or_another_text_is_not_taken_for_it() -> None:
    assert shown("input.too_long", ui("input.too_long", length=5000, max=4000), max=4000)
    assert not shown("input.too_long", ui("input.too_long", length=5000, max=4000), max=3000)
    assert not shown("input.too_long", ui("input.empty"))
    assert not shown("cancel.nothing", ui("cancel.nothing", "en"))          # another language
    selected = ui_re("flow.selected", items="a.b")                      # a value's "." is not any character
    assert selected.search(ui("flow.selected", items="a.b")) and not selected.search(ui("flow.selected", items="axb"))


def test_a_template_needs_its_values_and_a_head_needs_text_before_them() -> None:
    with pytest.raises(AssertionError, match="needs values"):
        ui("input.too_long")
    assert ui("flow.bad.choice", n=3).startswith(ui_head("flow.bad.choice"))
    with pytest.raises(AssertionError, match="starts with a placeholder"):
        ui_head("complaints.to.local_bureau")                                 # "{name}"
    with pytest.raises(KeyError):
        ui("no.such.key")
