"""Building the engine from settings: load and validate everything once, at start-up."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import bot.actions.builtin  # noqa: F401  (registers actions)
from bot.actions.registry import ACTIONS, check_reads
from bot.config import Settings
from bot.contentfiles import ContentError, Problem
from bot.core.engine import Clock, Engine, utcnow
from bot.flow.loader import load_dialogs
from bot.flow.models import Dialog
from bot.knowledge.crisis import CrisisDetector
from bot.knowledge.loader import Knowledge, load_knowledge
from bot.knowledge.matcher import Matcher
from bot.knowledge.scan import check as check_scan
from storage import Store, open_db


@dataclass
class Loaded:
    knowledge: Knowledge
    dialogs: dict[str, Dialog]
    #: where trained models are kept between starts (BOT_CACHE_DIR)
    cache_dir: Path | None = None

    @cached_property
    def matcher(self) -> Matcher:
        """Built on first use (~0.7 s: it trains the classifier), then shared by engines."""
        return Matcher.build(self.knowledge)

    @cached_property
    def crisis(self) -> CrisisDetector:
        """Built on first use (it trains the crisis model), then shared by engines."""
        return CrisisDetector.from_knowledge(self.knowledge, self.cache_dir)


def load_content(settings: Settings) -> Loaded:
    """Load content/ and dialogs/ and check them against each other. Raises ContentError."""
    problems: list[Problem] = []
    knowledge = dialogs = None
    try:
        knowledge = load_knowledge(settings.bot_content_dir)
    except ContentError as exc:
        problems += exc.problems
    try:
        dialogs = load_dialogs(settings.bot_dialogs_dir)
    except ContentError as exc:
        problems += exc.problems
    if knowledge and dialogs:
        dialogs = with_languages(dialogs, knowledge.languages)
        problems += cross_check(knowledge, dialogs)
    if knowledge:
        problems += check_scan(knowledge)  # content/scan.yaml, scan_corpus.yaml, ui/scan.yaml
    if problems:
        raise ContentError(problems)
    assert knowledge is not None and dialogs is not None
    return Loaded(knowledge, dialogs, settings.bot_cache_dir)


def with_languages(dialogs: dict[str, Dialog], languages: list[str]) -> dict[str, Dialog]:
    """The dialogs with the content's languages as the options of each `sets_language` step."""
    out = {}
    for dialog_id, dialog in dialogs.items():
        steps = {sid: step.model_copy(update={"options": list(languages)}) if step.sets_language else step
                 for sid, step in dialog.steps.items()}
        out[dialog_id] = dialog.model_copy(update={"steps": steps})
    return out


def cross_check(k: Knowledge, dialogs: dict[str, Dialog]) -> list[Problem]:
    """Every UI key a dialog uses exists in every language; actions and buttons resolve; the
    answers each completion action reads are there, with the options it knows."""
    problems = []
    commands: dict[str, str] = {}
    for dialog in dialogs.values():
        where = f"dialogs/{dialog.id}.yaml"
        keys = [("title", dialog.title)] + ([("intro", dialog.intro)] if dialog.intro else [])
        for sid, step in dialog.steps.items():
            keys.append((f"steps.{sid}.ask", f"{step.ask}.q"))
            prefix = "lang" if step.sets_language else step.ask  # lang.opt.<code>: locale names
            keys += [(f"steps.{sid}.options", f"{prefix}.opt.{o}") for o in step.options]
        for lang in k.ui:
            for fld, key in keys:
                if not k.has_text(lang, key):
                    problems.append(Problem(where, fld, f"UI string {key!r} missing in content/{lang}/ui/"))
        for lang in dialog.triggers:
            if lang not in k.locales:
                problems.append(Problem(where, f"triggers.{lang}", f"no language {lang!r} in content/ "
                                        f"(languages: {', '.join(k.languages)})"))
        for name in dialog.on_complete:
            if name not in ACTIONS:
                problems.append(Problem(where, "on_complete", f"no action named {name!r}"))
        for command in dialog.commands:
            if command in commands:
                problems.append(Problem(where, "commands", f"/{command} also starts {commands[command]}"))
            commands[command] = dialog.id
    problems += [Problem(where, fld, why) for where, fld, why in check_reads(dialogs)]
    problems += _check_start_menu(k, dialogs)
    for topic, by_lang in k.answers.items():
        for lang, answer in by_lang.items():
            for i, action in enumerate(answer.actions):
                kind, _, target = action.partition(":")
                if kind == "dialog" and target not in dialogs:
                    problems.append(Problem(f"content/{lang}/faq/{topic}.yaml", f"actions.{i}",
                                            f"no dialog {target!r} in dialogs/"))
    return problems


def _check_start_menu(k: Knowledge, dialogs: dict[str, Dialog]) -> list[Problem]:
    """content/menus.yaml `start` has a line for each option of the step the onboard action
    reads (`need`), and no other."""
    problems = []
    known = set(k.menus.start) if k.menus else set()
    for dialog in dialogs.values():
        if "onboard" not in dialog.on_complete:
            continue
        for sid, step in dialog.steps.items():
            if dialog.slot(sid) != "need":
                continue
            for option in step.options:
                if option not in known:
                    problems.append(Problem("content/menus.yaml", "start",
                                            f"no line for {option!r} (dialogs/{dialog.id}.yaml, step {sid})"))
            for option in sorted(known - set(step.options)):
                problems.append(Problem("content/menus.yaml", f"start.{option}",
                                        f"not an option of dialogs/{dialog.id}.yaml, step {sid}"))
    return problems


def build_engine(settings: Settings, clock: Clock = utcnow, loaded: Loaded | None = None) -> Engine:
    loaded = loaded or load_content(settings)
    store = Store(open_db(settings.bot_db_path), clock=clock)
    return Engine(settings, store, loaded.knowledge, loaded.dialogs, loaded.matcher, clock=clock,
                  crisis=loaded.crisis)


def fixed_clock(when: dt.datetime) -> Clock:
    return lambda: when
