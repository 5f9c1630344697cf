"""The schema of dialogs/*.yaml, validated when the bot starts.

A dialog is a set of steps. Each step asks one question (its text comes from the UI
strings: `<ask>.q`, option labels `<ask>.opt.<id>`, the review label `<ask>.label`),
parses one kind of answer, saves it in a slot and names the next step. Conditions are
data (equals / contains / in / missing), never code.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.flow.numbers import value_of

END = "end"
ID = r"^[a-z][a-z0-9_]{0,39}$"

InputKind = Literal["text", "choice", "multi", "yesno", "number", "date"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(Strict):
    """All given tests must hold for the slot."""

    equals: Any = None
    contains: str | None = None
    any_of: list[str] | None = Field(default=None, alias="in")
    missing: bool | None = None
    min: float | None = None

    def holds(self, value: Any) -> bool:
        if self.missing is not None and (value is None) != self.missing:
            return False
        if self.equals is not None and value != self.equals:
            return False
        if self.contains is not None and not (isinstance(value, list) and self.contains in value):
            return False
        if self.any_of is not None:
            values = value if isinstance(value, list) else [value]
            if not any(v in self.any_of for v in values):
                return False
        number = value_of(value)  # an estimate ("30多") counts by its lower end
        return not (self.min is not None and not (number is not None and number >= self.min))


class Branch(Strict):
    when: dict[str, Condition] | None = None
    goto: str

    def matches(self, slots: dict[str, Any]) -> bool:
        return all(cond.holds(slots.get(slot)) for slot, cond in (self.when or {}).items())


class Step(Strict):
    ask: str
    input: InputKind
    options: list[str] = []
    save: str | None = None
    optional: bool = False
    max_length: int = Field(500, ge=1, le=4000)
    min_length: int = Field(1, ge=0)
    min: float | None = None
    max: float | None = None
    integer: bool = False
    approx: bool = False  # the answer may be an estimate (大概30, 30多, 11月初), kept and shown as one
    past_only: bool = False
    future_only: bool = False
    max_choices: int | None = None
    next: str | list[Branch] = END
    show_if: dict[str, Condition] | None = None  # skipped (and its slot cleared) unless it holds
    # a choice of language that switches the conversation at once; its options are the
    # languages of content/ (folders with a locale.yaml), filled in when the content loads
    sets_language: bool = False
    digress: bool = True  # a question typed here may be answered as a digression; false where
                          # the answer itself may be a question (quoting what a collector said)

    @model_validator(mode="after")
    def _options_fit_kind(self) -> Step:
        if self.sets_language:
            if self.input != "choice" or self.options:
                raise ValueError("a sets_language step is a choice without options: the languages "
                                 "of content/ are its options")
            return self
        if self.input in ("choice", "multi") and not self.options:
            raise ValueError(f"a {self.input} step needs options")
        if self.input not in ("choice", "multi") and self.options:
            raise ValueError(f"options are only for choice and multi steps, not {self.input}")
        for opt in self.options:
            if not re.match(r"^[a-z0-9_]{1,30}$", opt):
                raise ValueError(f"option id {opt!r}: lower-case letters, digits, _ (max 30)")
        if isinstance(self.next, list) and (not self.next or self.next[-1].when):
            raise ValueError("the last branch of `next` must have no `when` (the default)")
        return self


class Group(Strict):
    """Steps that are asked only together, under one condition (e.g. the follow-ups about
    calls to the workplace, only when that was chosen)."""

    show_if: dict[str, Condition]
    steps: list[str] = Field(min_length=1)


class Dialog(Strict):
    """A dialog file. To keep the YAML short: a step's `ask` defaults to `<texts>.<step id>`
    (`texts` defaults to the dialog id), its `next` to the step written after it (the last
    one ends the dialog), and `groups` give several steps one `show_if`."""

    id: str = Field(pattern=ID)
    title: str                            # UI key of the dialog's name (for buttons and menus)
    texts: str | None = None              # prefix of the steps' UI keys (default: the dialog id)
    start: str
    steps: dict[str, Step]
    groups: dict[str, Group] = {}
    review: bool = True                   # show the review screen before completing
    commands: list[str] = []              # slash commands that start it, e.g. [report]
    triggers: dict[str, list[str]] = {}   # lang -> phrases that start it when typed
    on_complete: list[str] = []           # action names, run with the slots when confirmed
    intro: str | None = None              # UI key of a line shown before the first question

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        """Fill in what the YAML may leave out: each step's `ask` and `next`, and the
        `show_if` of the groups it belongs to (merged with its own)."""
        if not isinstance(data, dict) or not isinstance(data.get("steps"), dict):
            return data
        texts = data.get("texts") or data.get("id")
        ids = list(data["steps"])
        steps: dict[str, Any] = {}
        for i, (sid, raw) in enumerate(data["steps"].items()):
            if not isinstance(raw, dict):
                steps[sid] = raw
                continue
            step = dict(raw)
            step.setdefault("ask", f"{texts}.{sid}")
            step.setdefault("next", ids[i + 1] if i + 1 < len(ids) else END)
            steps[sid] = step
        groups = data.get("groups") or {}
        for name, group in (groups.items() if isinstance(groups, dict) else ()):
            if not isinstance(group, dict):
                continue
            for sid in group.get("steps") or []:
                if sid not in steps or not isinstance(steps[sid], dict):
                    raise ValueError(f"group {name!r} names undefined step {sid!r}")
                own = dict(steps[sid].get("show_if") or {})
                clash = set(own) & set(group.get("show_if") or {})
                if clash:
                    raise ValueError(f"step {sid!r} and its group {name!r} both test {sorted(clash)}")
                steps[sid] = {**steps[sid], "show_if": {**(group.get("show_if") or {}), **own}}
        return {**data, "steps": steps}

    @field_validator("steps")
    @classmethod
    def _step_ids(cls, steps: dict[str, Step]) -> dict[str, Step]:
        for sid in steps:
            if not re.match(ID, sid) or sid == END:
                raise ValueError(f"step id {sid!r} must be lower-case letters/digits/_ and not 'end'")
        return steps

    @model_validator(mode="after")
    def _targets_exist(self) -> Dialog:
        if self.start not in self.steps:
            raise ValueError(f"start step {self.start!r} is not defined")
        for sid, step in self.steps.items():
            targets = [step.next] if isinstance(step.next, str) else [b.goto for b in step.next]
            for target in targets:
                if target != END and target not in self.steps:
                    raise ValueError(f"step {sid!r} goes to undefined step {target!r}")
        slots = [s.save or sid for sid, s in self.steps.items()]
        dupes = {s for s in slots if slots.count(s) > 1}
        if dupes:
            raise ValueError(f"slots saved by more than one step: {sorted(dupes)}")
        return self

    def slot(self, step_id: str) -> str:
        return self.steps[step_id].save or step_id

    def next_step(self, step_id: str, slots: dict[str, Any]) -> str:
        """Where to go after `step_id`, skipping steps whose show_if does not hold."""
        target = self._branch(step_id, slots)
        seen = set()
        while target != END and target not in seen:
            seen.add(target)
            step = self.steps[target]
            if step.show_if is None or all(c.holds(slots.get(k)) for k, c in step.show_if.items()):
                return target
            target = self._branch(target, slots)
        return END

    def _branch(self, step_id: str, slots: dict[str, Any]) -> str:
        nxt = self.steps[step_id].next
        if isinstance(nxt, str):
            return nxt
        return next(b.goto for b in nxt if b.matches(slots))

    def path(self, slots: dict[str, Any]) -> list[str]:
        """The steps a user with these answers walks through, in order."""
        out: list[str] = []
        step = self.start
        while step != END and step not in out:
            out.append(step)
            step = self.next_step(step, slots)
        return out
