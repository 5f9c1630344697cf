"""The dialog runner: one step of a guided conversation, as a function of state and input.

Every dialog gets, for free: /cancel, /back, /skip (where a step is optional), a review
screen where any answer can be corrected, help after 3 invalid answers, and (through the
engine) digressions and resumption after a restart. The runner does no I/O: the engine
loads the state, calls it, and saves the new state in the same transaction as the inbox row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from bot import locale
from bot.core import callbacks as cb
from bot.core.models import Button, Reply
from bot.flow import inputs, numbers
from bot.flow.dates import PastDay
from bot.flow.models import END, Dialog, Step
from bot.knowledge.loader import Knowledge

REVIEW = "_review"
MAX_INVALID = 3
_SEL = "_sel"  # slot holding a multi-choice selection in progress
_ASK = "_ask"  # slot holding an answer read but not yet confirmed ("7": do you mean 7 November?)
_PRIVATE = (_SEL, _ASK)


@dataclass(frozen=True)
class State:
    dialog: str
    step: str
    slots: dict[str, Any] = field(default_factory=dict)
    history: tuple[str, ...] = ()
    invalid: int = 0
    editing: bool = False


@dataclass
class Turn:
    replies: list[Reply]
    state: State | None                   # None: the dialog has ended
    completed: dict[str, Any] | None = None  # the answers, when the user confirmed them
    lang: str | None = None                  # the user just chose this conversation language


Digress = Callable[[str], list[Reply] | None]


class Runner:
    def __init__(self, dialogs: dict[str, Dialog], knowledge: Knowledge):
        self.dialogs = dialogs
        self.k = knowledge

    # entry points --------------------------------------------------------------------------
    def start(self, dialog_id: str, lang: str) -> Turn:
        dialog = self.dialogs[dialog_id]
        state = State(dialog=dialog_id, step=dialog.start)
        replies = [Reply(text=self.k.text(lang, dialog.intro))] if dialog.intro else []
        return Turn(replies + [self.screen(state, lang)], state)

    def on_text(self, state: State, lang: str, text: str, today: dt.date,
                digress: Digress | None = None) -> Turn:
        if state.step == REVIEW:
            return self._digress_or(state, lang, text, digress, lambda: self._invalid(state, lang, "review"))
        if _ASK in state.slots:  # "do you mean 7 November?": yes / no, or a new answer
            said = inputs.parse_yesno(text, self.k.words)
            if isinstance(said, inputs.Ok):
                return self.on_control(state, lang, "confirm" if said.value else "deny")
            state = replace(state, slots={k: v for k, v in state.slots.items() if k != _ASK})
        _, step = self._step(state)
        if not step.digress:
            digress = None
        if digress and step.input in ("text", "choice", "multi") and _looks_like_question(text):
            # a question typed at a text or choice step ("公司领导被打电话合法吗？") is answered,
            # not read as the answer because it names an option
            answered = digress(text)
            if answered:
                return self._answered(state, lang, answered)
        result = self._parse(step, lang, text, today)
        if isinstance(result, inputs.Ok):
            return self._save(state, lang, result.value, echo=result.echo)
        if isinstance(result, inputs.Confirm):
            asking = replace(state, slots={**state.slots, _ASK: {"value": result.value, "reason": result.reason,
                                                                 "values": dict(result.values)}}, invalid=0)
            return Turn([self.screen(asking, lang)], asking)
        return self._digress_or(state, lang, text, digress if step.input != "text" else None,
                                lambda: self._invalid(state, lang, result.reason, dict(result.values)))

    def reads(self, state: State, lang: str, text: str, today: dt.date) -> bool:
        """Would `text` be taken as the answer to the question on screen? (Pure; no state change.)"""
        if state.step == REVIEW:
            return False
        if _ASK in state.slots and isinstance(inputs.parse_yesno(text, self.k.words), inputs.Ok):
            return True
        _, step = self._step(state)
        if step.input not in ("choice", "multi", "yesno"):
            return True  # free text, numbers and dates: the step decides
        return isinstance(self._parse(step, lang, text, today), inputs.Ok)

    def _parse(self, step: Step, lang: str, text: str, today: dt.date) -> inputs.Ok | inputs.Bad | inputs.Confirm:
        """The typed answer read as this step's kind of answer."""
        if step.input == "text":
            return inputs.parse_text(step, text)
        if step.input in ("choice", "multi"):
            parse = inputs.parse_choice if step.input == "choice" else inputs.parse_multi
            return parse(step, text, self._labels(step, lang), self._words(step, lang))
        if step.input == "yesno":
            return inputs.parse_yesno(text, self.k.words)
        if step.input == "number":
            return inputs.parse_number(step, text)
        return inputs.parse_date_answer(step, text, today, lang)

    def on_button(self, state: State, lang: str, pressed: cb.Option | cb.Control | cb.Edit | str) -> Turn:
        data = cb.parse(pressed) if isinstance(pressed, str) else pressed
        if isinstance(data, cb.Control):
            return self.on_control(state, lang, data.name)
        if state.step == REVIEW:
            if isinstance(data, cb.Edit) and data.step in self.dialogs[state.dialog].steps:
                edited = replace(state, step=data.step, editing=True, invalid=0)
                return Turn([self.screen(edited, lang)], edited)
            return self._stale(state, lang)
        _, step = self._step(state)
        if not isinstance(data, cb.Option):
            return self._stale(state, lang)
        arg = data.value
        if step.input == "yesno" and arg in ("yes", "no"):
            return self._save(state, lang, arg == "yes")
        if arg not in step.options:
            return self._stale(state, lang)
        if step.input == "choice":
            return self._save(state, lang, arg)
        if step.input == "multi":
            selected = list(state.slots.get(_SEL, []))
            if arg in selected:
                selected.remove(arg)
            elif step.max_choices and len(selected) >= step.max_choices:
                return self._invalid(state, lang, "too_many", {"max": step.max_choices})
            else:
                selected.append(arg)
            ordered = [o for o in step.options if o in selected]
            new = replace(state, slots={**state.slots, _SEL: ordered}, invalid=0)
            return Turn([self.screen(new, lang)], new)
        return self._stale(state, lang)

    def on_control(self, state: State, lang: str, control: str) -> Turn:
        dialog = self.dialogs[state.dialog]
        if control == "cancel":
            return Turn([Reply(text=self.k.text(lang, "flow.cancelled"), kind="notice")], None)
        if control == "back":
            if not state.history:
                return Turn([Reply(text=self.k.text(lang, "flow.at_first")), self.screen(state, lang)], state)
            previous = state.history[-1]
            slots = {k: v for k, v in state.slots.items() if k not in _PRIVATE}
            prev_step = dialog.steps[previous]
            if prev_step.input == "multi" and isinstance(slots.get(dialog.slot(previous)), list):
                slots[_SEL] = slots[dialog.slot(previous)]
            new = State(state.dialog, previous, slots, state.history[:-1], 0, False)
            return Turn([self.screen(new, lang)], new)
        if control == "skip":
            if state.step == REVIEW:
                return self._stale(state, lang)
            step = dialog.steps[state.step]
            if not step.optional:
                return Turn([Reply(text=self.k.text(lang, "flow.cannot_skip")), self.screen(state, lang)], state)
            return self._save(state, lang, None)
        if control == "done":
            if state.step == REVIEW or dialog.steps[state.step].input != "multi":
                return self._stale(state, lang)
            selected = list(state.slots.get(_SEL, []))
            if not selected and not dialog.steps[state.step].optional:
                return self._invalid(state, lang, "multi_empty")
            return self._save(state, lang, selected or None)
        if control in ("confirm", "deny") and state.step != REVIEW and isinstance(state.slots.get(_ASK), dict):
            pending = state.slots[_ASK]
            if control == "confirm":
                return self._save(state, lang, pending.get("value"))
            cleared = replace(state, slots={k: v for k, v in state.slots.items() if k != _ASK})
            return Turn([Reply(text=self.k.text(lang, f"flow.confirm.{pending.get('reason')}.retry"), kind="notice"),
                         self.screen(cleared, lang)], cleared)
        if control == "ok" and state.step == REVIEW:
            slots = self._pruned(dialog, state.slots)
            return Turn([], None, completed=slots)
        return self._stale(state, lang)

    # screens -------------------------------------------------------------------------------
    def screen(self, state: State, lang: str) -> Reply:
        """The question the user is being asked now (also used to re-ask after a digression)."""
        t = self.k.text
        if state.step == REVIEW:
            return self._review(state, lang)
        dialog, step = self._step(state)
        pending = state.slots.get(_ASK)
        if isinstance(pending, dict):
            reason = pending.get("reason")
            values = pending.get("values") or {}
            confirm = (cb.Control("confirm").button(t(lang, f"flow.confirm.{reason}.yes", **values)),
                       cb.Control("deny").button(t(lang, f"flow.confirm.{reason}.no")))
            back = (cb.Control("back").button(t(lang, "flow.back")),) if state.history else ()
            return Reply(text=t(lang, f"flow.confirm.{reason}.q", **values), buttons=confirm + back, kind="question")
        lines = [t(lang, f"{step.ask}.q")]
        buttons: list[Button] = []
        labels = self._labels(step, lang)
        if step.input == "choice":
            buttons += [cb.Option(o).button(labels[o]) for o in step.options]
        elif step.input == "multi":
            selected = state.slots.get(_SEL, [])
            buttons += [cb.Option(o).button(("✓ " if o in selected else "") + labels[o])
                        for o in step.options]
            buttons.append(cb.Control("done").button(t(lang, "flow.done")))
            lines.append(t(lang, "flow.hint.multi"))
            if selected:
                lines.append(t(lang, "flow.selected", items=locale.join((labels[o] for o in selected), lang)))
        elif step.input == "yesno":
            buttons += [cb.Option("yes").button(t(lang, "flow.yes")),
                        cb.Option("no").button(t(lang, "flow.no"))]
        elif step.input == "date":
            lines.append(t(lang, "flow.hint.date"))
        elif step.input == "text" and step.max_length < 500:
            lines.append(t(lang, "flow.hint.text", max=step.max_length))
        if state.editing and dialog.slot(state.step) in state.slots:
            current = self.display(dialog, state.step, state.slots.get(dialog.slot(state.step)), lang)
            lines.append(t(lang, "flow.current", value=current))
        if step.optional:
            buttons.append(cb.Control("skip").button(t(lang, "flow.skip")))
        if state.history:
            buttons.append(cb.Control("back").button(t(lang, "flow.back")))
        return Reply(text="\n".join(lines), buttons=tuple(buttons), kind="question")

    def _review(self, state: State, lang: str) -> Reply:
        dialog = self.dialogs[state.dialog]
        t = self.k.text
        lines = [t(lang, "flow.review.title", title=t(lang, dialog.title)), ""]
        buttons = [cb.Control("ok").button(t(lang, "flow.review.ok"))]
        for sid in dialog.path(state.slots):
            label = self._label(dialog.steps[sid], lang)
            value = self.display(dialog, sid, state.slots.get(dialog.slot(sid)), lang)
            lines.append("• " + locale.label_value(label, value, lang))
            buttons.append(cb.Edit(sid).button(t(lang, "flow.review.edit", label=label)))
        buttons.append(cb.Control("cancel").button(t(lang, "flow.cancel")))
        lines += ["", t(lang, "flow.review.hint")]
        return Reply(text="\n".join(lines), buttons=tuple(buttons), kind="question")

    def display(self, dialog: Dialog, step_id: str, value: Any, lang: str) -> str:
        """An answer as the user would say it (option labels, 是/否, dates as typed)."""
        step = dialog.steps[step_id]
        if value is None or value == []:
            return self.k.text(lang, "flow.skipped")
        if step.input == "yesno":
            return self.k.text(lang, "flow.yes" if value else "flow.no")
        labels = self._labels(step, lang)
        if step.input == "choice":
            return labels.get(value, str(value))
        if step.input == "multi":
            return locale.join((labels.get(v, str(v)) for v in value), lang)
        if step.input == "number":
            return numbers.describe(value, lang)
        if step.input == "date" and isinstance(value, dict):  # a part of a month: 2026年11月初
            day = PastDay.from_slot(value)
            return day.text(lang) if day else str(value)
        return str(value)

    # internals -----------------------------------------------------------------------------
    def _step(self, state: State) -> tuple[Dialog, Step]:
        dialog = self.dialogs[state.dialog]
        return dialog, dialog.steps[state.step]

    def _labels(self, step: Step, lang: str) -> dict[str, str]:
        if step.sets_language:  # each language by its own name (`name` in content/<code>/locale.yaml)
            return {o: self.k.text(lang, f"lang.opt.{o}") for o in step.options}
        return {o: self.k.text(lang, f"{step.ask}.opt.{o}") for o in step.options}

    def _label(self, step: Step, lang: str) -> str:
        key = f"{step.ask}.label"
        return self.k.text(lang, key) if self.k.has_text(lang, key) else self.k.text(lang, f"{step.ask}.q")

    def _words(self, step: Step, lang: str) -> dict[str, str]:
        """Other words for each option (content: `<ask>.words.<option>`), for typed answers."""
        return {o: self.k.text(lang, f"{step.ask}.words.{o}") for o in step.options
                if self.k.has_text(lang, f"{step.ask}.words.{o}")}

    def _save(self, state: State, lang: str, value: Any, echo: bool = False) -> Turn:
        dialog = self.dialogs[state.dialog]
        step_id = state.step
        slots = {k: v for k, v in state.slots.items() if k not in _PRIVATE}
        # A skipped answer is kept as None, so a correction from the review screen does not
        # ask the skipped question again ("nothing asked twice").
        slots[dialog.slot(state.step)] = value
        history = (*state.history, state.step)
        switched = value if dialog.steps[state.step].sets_language and value in self.k.locales else None
        lang = switched or lang
        nxt = dialog.next_step(state.step, slots)
        turn = self._after_save(state, dialog, slots, history, nxt, lang, switched)
        if echo:  # what was read from their words, before the next question ("selected: HR, boss")
            shown = self.display(dialog, step_id, value, lang)
            turn.replies.insert(0, Reply(text=self.k.text(lang, "flow.selected", items=shown), kind="notice"))
        return turn

    def _after_save(self, state: State, dialog: Dialog, slots: dict[str, Any], history: tuple[str, ...],
                    nxt: str, lang: str, switched: str | None) -> Turn:
        if state.editing:  # after a correction, skip what is already answered
            while nxt != END and dialog.slot(nxt) in slots:
                history = (*history, nxt)
                nxt = dialog.next_step(nxt, slots)
        if nxt == END:
            if not dialog.review:
                return Turn([], None, completed=self._pruned(dialog, slots), lang=switched)
            new = State(state.dialog, REVIEW, slots, history, 0, False)
            return Turn([self._review(new, lang)], new, lang=switched)
        new = State(state.dialog, nxt, slots, history, 0, state.editing)
        step = dialog.steps[nxt]
        if step.input == "multi" and isinstance(slots.get(dialog.slot(nxt)), list):
            new = replace(new, slots={**slots, _SEL: slots[dialog.slot(nxt)]})
        return Turn([self.screen(new, lang)], new, lang=switched)

    def _pruned(self, dialog: Dialog, slots: dict[str, Any]) -> dict[str, Any]:
        """Only the answers on the path actually taken (a corrected branch drops its follow-ups)."""
        keep = {dialog.slot(s) for s in dialog.path(slots)}
        return {k: v for k, v in slots.items() if k in keep}

    def _invalid(self, state: State, lang: str, reason: str, values: dict | None = None) -> Turn:
        count = state.invalid + 1
        new = replace(state, invalid=count)
        text = self.k.text(lang, f"flow.bad.{reason}", **(values or {}))
        if state.step != REVIEW:
            hint_key = f"{self.dialogs[state.dialog].steps[state.step].ask}.hint"
            if self.k.has_text(lang, hint_key):
                text += "\n" + self.k.text(lang, hint_key)
        replies = [Reply(text=text, kind="notice")]
        if count >= MAX_INVALID:
            step = None if state.step == REVIEW else self.dialogs[state.dialog].steps[state.step]
            skip = cb.Control("skip").button(self.k.text(lang, "flow.skip"))
            buttons = [skip] if step and step.optional else []
            buttons.append(cb.Control("cancel").button(self.k.text(lang, "flow.cancel")))
            replies.append(Reply(text=self.k.text(lang, "flow.stuck"), buttons=tuple(buttons), kind="notice"))
        replies.append(self.screen(new, lang))
        return Turn(replies, new)

    def _stale(self, state: State, lang: str) -> Turn:
        return Turn([Reply(text=self.k.text(lang, "flow.stale"), kind="notice"), self.screen(state, lang)], state)

    def _digress_or(self, state: State, lang: str, text: str, digress: Digress | None,
                    otherwise: Callable[[], Turn]) -> Turn:
        if digress:
            answered = digress(text)
            if answered:
                return self._answered(state, lang, answered)
        return otherwise()

    def _answered(self, state: State, lang: str, answered: list[Reply]) -> Turn:
        """A question typed mid-dialog was answered: the pending question is asked again,
        except the language question (issue 14, item 5): whoever types a question has shown
        what they read, so it is not repeated after every answer; that dialog ends there
        (/start or /lang bring it back)."""
        if state.step != REVIEW and self._step(state)[1].sets_language:
            return Turn(answered, None)
        return Turn(answered + [self.screen(state, lang)], state)


def _looks_like_question(text: str) -> bool:
    """A free-text answer that is really a question (digression) rather than the answer."""
    stripped = text.strip()
    return stripped.endswith(("?", "？", "吗", "么", "嘛", "呢")) or (len(stripped) > 25 and "?" in stripped)
