"""A dialog as a readable script, for people who edit content: `python -m bot dialog <id>`.

Questions in order with their options, what each answer is saved as, when a question is
asked (its conditions) and where it goes next. Pure: text in, text out.
"""

from __future__ import annotations

from typing import Any

from bot.flow.models import END, Condition, Dialog, Step
from bot.knowledge.loader import Knowledge


def render_script(dialog: Dialog, k: Knowledge, lang: str) -> str:
    t = k.text
    lines = [f"{dialog.id}: {t(lang, dialog.title)}"]
    if dialog.commands:
        lines.append("  started by: " + ", ".join("/" + c for c in dialog.commands))
    for each, phrases in dialog.triggers.items():
        lines.append(f"  typed ({each}): " + ", ".join(phrases))
    if dialog.intro:
        lines += ["", "  " + t(lang, dialog.intro)]
    for n, (sid, step) in enumerate(dialog.steps.items(), 1):
        lines += ["", f"{n}. {sid} [{_kind(step)}] {_question(step, k, lang)}"]
        for opt in step.options:  # a language is labelled by its locale's name
            label = t(lang, f"lang.opt.{opt}" if step.sets_language else f"{step.ask}.opt.{opt}")
            lines.append(f"     - {opt}: {label}")
        if step.show_if:
            lines.append("   asked only if: " + _conditions(step.show_if))
        notes = [f"saved as {step.save}" if step.save else "", "optional" if step.optional else "",
                 "a question typed here is not answered" if not step.digress else "",
                 "may be an estimate" if step.approx else "", "past only" if step.past_only else "",
                 f"{step.min:g}..{step.max:g}" if step.min is not None and step.max is not None else ""]
        if any(notes):
            lines.append("   " + "; ".join(x for x in notes if x))
        lines.append("   next: " + _next(step))
    lines += ["", ("review screen, then: " if dialog.review else "then: ") + (", ".join(dialog.on_complete) or "-")]
    return "\n".join(lines)


def _kind(step: Step) -> str:
    return {"multi": "several", "yesno": "yes/no"}.get(step.input, step.input)


def _question(step: Step, k: Knowledge, lang: str) -> str:
    return k.text(lang, f"{step.ask}.q").replace("\n", " ")


def _conditions(conds: dict[str, Condition]) -> str:
    return " and ".join(f"{slot} {_test(c)}" for slot, c in conds.items())


def _test(c: Condition) -> str:
    parts: list[str] = []
    if c.equals is not None:
        parts.append(f"is {_value(c.equals)}")
    if c.contains is not None:
        parts.append(f"includes {c.contains}")
    if c.any_of is not None:
        parts.append("includes any of " + ", ".join(c.any_of))
    if c.missing is not None:
        parts.append("is not answered" if c.missing else "is answered")
    if c.min is not None:
        parts.append(f">= {c.min:g}")
    return " and ".join(parts)


def _value(v: Any) -> str:
    return "yes" if v is True else "no" if v is False else str(v)


def _next(step: Step) -> str:
    if isinstance(step.next, str):
        return "the end" if step.next == END else step.next
    return "; ".join((f"if {_conditions(b.when)}: " if b.when else "otherwise: ")
                     + ("the end" if b.goto == END else b.goto) for b in step.next)
