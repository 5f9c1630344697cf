"""How knowledge is shown: answers, "more", clarifying questions, topic lists, help.

Pure functions of the knowledge base; every channel renders the resulting Reply.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot import locale
from bot.core import callbacks as cb
from bot.core.models import Button, Reply
from bot.flow.models import Dialog
from bot.knowledge.loader import Knowledge

MAX_ACTIONS = 3


def answer(k: Knowledge, topic: str, lang: str, dialogs: Mapping[str, Dialog], kind: str = "answer") -> Reply:
    """The first screen of an answer: short text, its sources and check date, next actions."""
    a = k.answer(topic, lang)
    sources = locale.clauses(a.cites[:2], lang) + (k.text(lang, "answer.and_more") if len(a.cites) > 2 else "")
    text = f"{a.title}\n\n{a.short}\n\n{k.text(lang, 'answer.footer', sources=sources, checked=a.checked)}"
    buttons: list[Button] = []
    if a.more:
        buttons.append(cb.More(topic).button(k.text(lang, "answer.more")))
    for action in a.actions[:MAX_ACTIONS]:
        kind_, _, target = action.partition(":")
        if kind_ == "dialog" and target in dialogs:
            buttons.append(cb.StartDialog(target).button(k.text(lang, dialogs[target].title)))
        elif kind_ == "topic" and target in k.answers:
            buttons.append(cb.Topic(target).button(k.answer(target, lang).title))
    return Reply(text=text, buttons=tuple(buttons), kind=kind)


CRISIS_TOPIC = "crisis_support"


def crisis(k: Knowledge, lang: str) -> Reply:
    """The crisis reply: warm, brief, the hotlines each on a line of its own (tappable on the
    web page, alone on a line for WeChat), and nothing else: no citations, no legal buttons."""
    return Reply(text=k.answer(CRISIS_TOPIC, lang).short, kind="crisis")


def more(k: Knowledge, topic: str, lang: str) -> Reply:
    a = k.answer(topic, lang)
    lines = [a.title, "", a.more or a.short, "", k.text(lang, "answer.sources_title", checked=a.checked)]
    lines += [f"• {s}" for s in a.sources]
    lines += ["", k.text(lang, "not_lawyer")]
    buttons = tuple(cb.Topic(r).button(k.answer(r, lang).title) for r in a.related if r in k.answers)
    return Reply(text="\n".join(lines), buttons=buttons, kind="answer")


def clarify(k: Knowledge, candidates: list[str], lang: str) -> Reply:
    buttons = [cb.Topic(t).button(k.answer(t, lang).title) for t in candidates[:3] if t in k.answers]
    buttons.append(cb.TopicList().button(k.text(lang, "clarify.none")))
    return Reply(text=k.text(lang, "clarify.text"), buttons=tuple(buttons), kind="question")


def main_topics(k: Knowledge) -> list[str]:
    """The topics offered when the bot does not know, most asked first (content/menus.yaml)."""
    return k.menus.main_topics if k.menus else []


def unknown(k: Knowledge, lang: str) -> Reply:
    """The out-of-scope reply. It carries the crisis line too: an unrecognised message may be
    distress the crisis detector missed."""
    legal, psych = k.facts.hotlines["legal"].number, k.facts.hotlines["psych"].number
    buttons = tuple(cb.Topic(t).button(k.answer(t, lang).title) for t in main_topics(k) if t in k.answers)
    return Reply(text=k.text(lang, "unknown.text", legal=legal, psych=psych), buttons=buttons, kind="question")


def topic_list(k: Knowledge, lang: str) -> Reply:
    listed = [t for t, by_lang in k.answers.items() if by_lang[lang].listed and t != CRISIS_TOPIC]
    main = main_topics(k)
    ordered = [t for t in main if t in listed] + sorted(t for t in listed if t not in main)
    buttons = tuple(cb.Topic(t).button(k.answer(t, lang).title) for t in ordered)
    return Reply(text=k.text(lang, "topics.text"), buttons=buttons, kind="question")


# Order of the command list (/help, the Telegram menu); the rest in between, sorted.
CORE_COMMANDS = frozenset({"start", "help", "topics", "lang", "tz", "cancel", "back", "skip", "export", "delete"})
MENU_FIRST = ("start", "help", "report", "cases")
MENU_LAST = ("topics", "lang", "tz", "cancel", "back", "skip", "export", "delete", "privacy")


def command_menu(k: Knowledge, lang: str, dialogs: dict[str, Dialog],
                 registered: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(command, description) for every command this bot knows, in menu order.

    Descriptions are the UI strings `commands.<name>`; a dialog's command without one is
    described by the dialog's title; any other command without one is left out."""
    by_dialog = {c: d for d in dialogs.values() for c in d.commands}
    known = set(CORE_COMMANDS) | set(by_dialog) | set(registered)
    if "bot_privacy" in k.answers:
        known.add("privacy")
    middle = sorted(c for c in known if c not in MENU_FIRST and c not in MENU_LAST)
    out = []
    for name in (*MENU_FIRST, *middle, *MENU_LAST):
        if name not in known:
            continue
        if k.has_text(lang, f"commands.{name}"):
            out.append((name, k.text(lang, f"commands.{name}")))
        elif name in by_dialog:
            out.append((name, k.text(lang, by_dialog[name].title)))
    return out


def help(k: Knowledge, lang: str, dialogs: dict[str, Dialog], registered: Iterable[str] = ()) -> Reply:
    lines = [k.text(lang, "help").rstrip()]
    lines += [f"/{name} {text}" for name, text in command_menu(k, lang, dialogs, registered)]
    return Reply(text="\n".join(lines), kind="text")
