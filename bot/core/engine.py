"""The engine: one inbound message in, the replies out, every step durable.

Data flow (DESIGN.md): inbox dedup -> crisis check -> command / button -> active dialog ->
question matcher. The inbound message is journalled (committed) before it is handled; the
dialog step, the inbox record and the replies commit together in one transaction; the
replies stay stored until the channel confirms delivery (ack), so a crash at any point
neither loses what the user typed nor sends a reply twice.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot import locale
from bot.actions.registry import ACTIONS, BEFORE_REPLY, BUTTONS, COMMANDS, FREE_TEXT, MEDIA, ActionContext
from bot.config import Settings
from bot.core import callbacks as cb
from bot.core import screens
from bot.core.models import MAX_TEXT, FileOut, Inbound, Reply
from bot.core.screens import CRISIS_TOPIC
from bot.flow.models import Dialog
from bot.flow.runner import REVIEW, Runner, State, Turn
from bot.knowledge.crisis import CrisisDetector
from bot.knowledge.loader import Knowledge
from bot.knowledge.matcher import Matcher
from bot.knowledge.normalize import clean, detect_lang, normalize
from storage.db import open_db
from storage.files import files_dir
from storage.rows import SessionRow, UserRow
from storage.store import Store

log = logging.getLogger("bot.engine")

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Ctx:
    """What one message is handled with: the user row, language and time."""

    user: UserRow
    lang: str
    tz: ZoneInfo
    now: dt.datetime
    #: the dialog was set aside by a crisis reply: offer it back, never re-ask its question
    paused: bool = False


class Engine:
    def __init__(self, settings: Settings, store: Store, knowledge: Knowledge,
                 dialogs: dict[str, Dialog], matcher: Matcher, clock: Clock = utcnow,
                 crisis: CrisisDetector | None = None):
        self.settings = settings
        self.store = store
        self.k = knowledge
        self.dialogs = dialogs
        self.matcher = matcher
        self.runner = Runner(dialogs, knowledge)
        self.crisis = crisis or CrisisDetector.from_knowledge(knowledge)
        self.clock = clock
        self.commands = {c: d.id for d in dialogs.values() for c in d.commands}
        self.triggers = {lang: [(normalize(p), d.id) for d in dialogs.values()
                                for p in d.triggers.get(lang, [])] for lang in knowledge.languages}

    # public API ----------------------------------------------------------------------------
    def handle(self, inbound: Inbound, replay: bool = False) -> list[Reply]:
        """Answer one message. A duplicate (same channel message id, same user) is handled once:
        with `replay` (web, WeChat: a retry must get the answer again) it gets the stored replies
        again; without (Telegram, terminal), the replies not yet sent, or [] once delivered."""
        inbound = _storable(inbound)
        payload = _payload(inbound)
        user, inbox_id, status = self.store.journal(inbound.channel, inbound.message_id or uuid.uuid4().hex,
                                                    inbound.user, payload)
        if status == "foreign":  # another user's message id: never theirs to see, a new message
            inbox_id, status = self.store.receive(inbound.channel, uuid.uuid4().hex, user["id"], payload)
        if status in ("done", "undelivered"):
            if status == "done" and not replay:
                return []
            return [Reply.model_validate(r) for r in self.store.stored_replies(inbox_id, unsent=not replay)]
        try:
            with self.store.transaction():
                replies = self._process(user, inbound)
                replies = self._before_reply(user["id"], inbound, replies)
                self.store.finish(inbox_id, [r.model_dump(mode="json") for r in replies])
                self._remember_screen(user["id"], replies)  # a no-op for a user just deleted
        except Exception as exc:  # never crash the channel; never log the user's text
            log.error("handling failed: %s\n%s", type(exc).__name__, "".join(traceback.format_tb(exc.__traceback__)))
            replies = [Reply(text=self.k.text(self._lang_of(user), "input.error"), kind="notice")]
            with self.store.transaction():
                self.store.finish(inbox_id, [r.model_dump(mode="json") for r in replies])
        return replies

    def journal(self, inbound: Inbound) -> None:
        """Record `inbound` in the inbox (status "received") as `handle` does first, for a
        channel that queues messages before handling them (Telegram): a crash in between
        loses nothing. A message without an id is not journalled."""
        if inbound.message_id:
            inbound = _storable(inbound)
            self.store.journal(inbound.channel, inbound.message_id or "", inbound.user, _payload(inbound))

    def ack(self, inbound: Inbound) -> None:
        """The channel delivered the replies to `inbound` (they stay stored for retries)."""
        if inbound.message_id:
            self.store.delivered(inbound.channel, inbound.message_id, inbound.user)

    def sent_one(self, inbound: Inbound) -> None:
        """One more reply to `inbound` went out: after a crash, delivery resumes after it."""
        if inbound.message_id:
            self.store.progress(inbound.channel, inbound.message_id, inbound.user)

    def recover(self, channel: str) -> list[tuple[Inbound, list[Reply]]]:
        """After a restart: handle what was received but never finished, and return the
        replies that were never sent (from the first one not sent), for the channel to send now."""
        out = []
        for row in self.store.unfinished(channel):
            if row["status"] == "received" and row["payload"]:
                inbound = Inbound.model_validate(row["payload"])
                out.append((inbound, self.handle(inbound)))
            elif row["status"] == "done":
                inbound = Inbound(channel=channel, user=row["external_id"], message_id=row["message_id"])
                replies = self.store.stored_replies(row["id"], unsent=True)
                out.append((inbound, [Reply.model_validate(r) for r in replies]))
        return out

    def twin(self) -> Engine:
        """This engine on a database connection of its own, for a worker thread (one
        connection's transactions must never interleave with another thread's)."""
        if str(self.settings.bot_db_path) == ":memory:":
            return self
        other = copy.copy(self)
        other.store = Store(open_db(self.settings.bot_db_path), clock=self.clock)
        return other

    def welcome_back(self, channel: str, user: str) -> list[Reply]:
        """For a channel that restarts in front of the user (the terminal): the question of the
        dialog they left unfinished, after a welcome back; [] when nothing is in progress.
        Only reads: nothing is journalled or changed."""
        row = self.store.find_user(channel, user)
        session = self.store.session(row["id"]) if row else None
        state = _state(session)
        if row is None or state is None:
            return []
        ctx = self._context(row, Inbound(channel=channel, user=user), follow_text=False)
        ctx.paused = bool(session and session.get("paused"))
        return [Reply(text=self.k.text(ctx.lang, "welcome_back"), kind="notice"), *self._reask(state, ctx)]

    def language(self, channel: str, user: str) -> str:
        return self._lang_of(self.store.user(channel, user))

    def _lang_of(self, row: UserRow) -> str:
        """The user's language, or the default when it is unset or no longer in content/."""
        lang = row.get("lang")
        return lang if lang is not None and lang in self.k.locales else self.settings.bot_default_lang

    # the data flow -------------------------------------------------------------------------
    def _process(self, user: UserRow, inbound: Inbound) -> list[Reply]:
        session = self.store.session(user["id"])
        state = _state(session)
        text = clean(inbound.text or "")
        # An answer to a dialog's question ("K-55", "Quick Cash") says nothing about the
        # language the person reads: it never switches the language of the letters.
        paused = bool(session and session["paused"])
        ctx = self._context(user, inbound, follow_text=not (state and not paused))
        if inbound.choice is None and not text:
            if inbound.media is not None:  # a photo, voice note or file: kept as evidence
                return [*self._keep_media(inbound, ctx), *self._reask(state, ctx)]
            if inbound.attachment:
                return [Reply(text=self.k.text(ctx.lang, "input.attachment"), kind="notice"),
                        *self._reask(state, ctx)]
            return [Reply(text=self.k.text(ctx.lang, "input.empty"), kind="notice"), *self._reask(state, ctx)]
        if len(text) > MAX_TEXT:
            return [Reply(text=self.k.text(ctx.lang, "input.too_long", length=len(text), max=MAX_TEXT),
                          kind="notice"), *self._reask(state, ctx)]
        answering = bool(state and not paused and inbound.choice is None
                         and not text.startswith("/"))
        level = self.crisis.assess(text, answering=answering).level if text else "none"
        if level == "crisis":  # 1. always first, and alone: care, not law, no question re-asked
            if state and not paused:
                self.store.pause_session(user["id"])
            return [screens.crisis(self.k, detect_lang(text, self.k.languages) or ctx.lang)]
        ctx.paused = bool(state and session and session.get("paused"))
        replies = self._route(inbound, text, state, ctx)
        if inbound.media is not None:  # a captioned photo: kept, and the caption answered
            replies = [*self._keep_media(inbound, ctx), *replies]
        if level == "concern":  # distress without a word about dying: one gentle line on top
            replies.insert(0, Reply(text=self.k.text(ctx.lang, "crisis.concern",
                                                     psych=self.k.facts.hotlines["psych"].number),
                                    kind="notice"))
        return replies

    def _route(self, inbound: Inbound, text: str, state: State | None, ctx: Ctx) -> list[Reply]:
        """2-4 of the data flow: a button, a command, the dialog's answer, or a question."""
        choice = inbound.choice or self._typed_button(ctx.user, state, text)
        if choice:
            return self._button(choice, state, ctx)
        if text.startswith("/"):
            return self._command(text, state, ctx)
        if state and not ctx.paused:
            wanted = self._trigger_at_menu(state, text, ctx)
            if wanted:  # "help me complain" typed at a menu starts what it asks for
                return self._start_dialog(wanted, ctx, state)
            turn = self.runner.on_text(state, ctx.lang, text, ctx.now.date(),
                                       digress=lambda q: self._digression(q, ctx))
            return self._apply(turn, ctx, state)
        replies = self._free_text(text, ctx, state)
        if replies and any(isinstance(cb.parse(b.id), cb.StartOver) for b in replies[-1].buttons):
            return replies  # "continue, or start over?" already offers the dialog back
        if state and self._same_session(ctx.user["id"], state):
            # A dialog set aside by a crisis reply: its question is not on screen, so what
            # they type is not its answer (_reask offers it back instead).
            replies += self._reask(state, ctx)
        return replies

    def _trigger_at_menu(self, state: State, text: str, ctx: Ctx) -> str | None:
        """A dialog's trigger phrase typed where buttons are the answer (a choice, the review
        screen) and that is not itself an answer: the dialog it names. Never at a free-text
        step, whose answer may say anything, nor the dialog already running."""
        if not text or text.startswith("/"):
            return None
        if state.step != REVIEW and self.dialogs[state.dialog].steps[state.step].input not in ("choice", "multi",
                                                                                              "yesno"):
            return None
        if self.runner.reads(state, ctx.lang, text, ctx.now.date()):
            return None
        wanted = self._triggered(text, ctx.lang)
        return wanted if wanted and wanted != state.dialog else None

    def _triggered(self, text: str, lang: str) -> str | None:
        norm = normalize(text)
        for each in (lang, *(other for other in self.k.languages if other != lang)):
            for phrase, dialog_id in self.triggers.get(each, ()):
                if phrase in norm:
                    return dialog_id
        return None

    def _same_session(self, user_id: int, state: State) -> bool:
        now = self.store.session(user_id)
        return bool(now and now["dialog"] == state.dialog and now["step"] == state.step)

    def _resume_offer(self, ctx: Ctx) -> Reply:
        return Reply(text=self.k.text(ctx.lang, "crisis.resume"), kind="notice",
                     buttons=(cb.Resume().button(self.k.text(ctx.lang, "crisis.resume_button")),))

    def _context(self, user: UserRow, inbound: Inbound, follow_text: bool = True) -> Ctx:
        lang, source = user.get("lang"), user.get("lang_source")
        if source in (None, "text") and (follow_text or inbound.lang_hint):
            # Until the user picks a language (/lang, /start) or the platform names one, follow
            # the language of what they type, and remember it for button presses.
            hint = locale.from_tag(inbound.lang_hint, self.k.languages)
            typed = (detect_lang(inbound.text, self.k.languages)
                     if follow_text and inbound.text and not inbound.text.startswith("/") else None)
            new, new_source = (hint, "hint") if hint else (typed, "text")
            if new and (new, new_source) != (lang, source):
                self.store.update_user(user["id"], lang=new, lang_source=new_source)
                lang = new
        if lang not in self.k.locales:  # none yet, or a language the content no longer has
            lang = self.settings.bot_default_lang
        tz = ZoneInfo(user.get("tz") or self.settings.bot_timezone)
        return Ctx(user=user, lang=lang, tz=tz, now=self.clock().astimezone(tz))

    def _typed_button(self, user: UserRow, state: State | None, text: str) -> str | None:
        """Text that names a button on the last screen: its label, or its number outside
        dialogs (inside a dialog the step parses numbers itself)."""
        buttons = user.get("screen")
        if not text or not buttons:
            return None
        norm = normalize(text).strip(" .。")
        for b in buttons:
            if norm == normalize(b["label"]).strip():
                return b["id"]
        numbered = [b for b in buttons if not b.get("plain")]
        if norm.isdigit() and 1 <= int(norm) <= len(numbered) and self._numbered(state):
            return numbered[int(norm) - 1]["id"]
        return None

    def _numbered(self, state: State | None) -> bool:
        """May a typed number pick a button? Not where a number or date is the answer."""
        if state is None or state.step == REVIEW or "_ask" in state.slots:  # "do you mean ...?" is yes / no
            return True
        return self.dialogs[state.dialog].steps[state.step].input in ("choice", "multi", "yesno")

    def _before_reply(self, user_id: int, inbound: Inbound, replies: list[Reply]) -> list[Reply]:
        """What the BEFORE_REPLY providers return, then `replies`. Not after a crisis reply
        (care comes first and alone; what is held back comes with the next message) nor for
        a user who was just deleted."""
        if not BEFORE_REPLY or any(r.kind == "crisis" for r in replies):
            return replies
        user = self.store.user_by_id(user_id)
        if user is None:
            return replies
        actx = self._action_ctx(self._context(user, inbound, follow_text=False), {})
        return [r for provider in BEFORE_REPLY for r in provider(actx)] + replies

    def _remember_screen(self, user_id: int, replies: list[Reply]) -> None:
        """Keep the buttons of the last screen, so a typed number or label can press one."""
        last = next((r for r in reversed(replies) if r.buttons), None)
        screen = [b.model_dump() for b in last.buttons] if last else None
        if screen is not None:
            # the buttons of earlier replies: pressed by their label, never by a number (only
            # the last list is numbered where buttons are text: bot/channels/base.plain_text)
            ids = {b["id"] for b in screen}
            screen += [{**b.model_dump(), "plain": True} for r in replies if r is not last
                       for b in r.buttons if b.id not in ids]
        self.store.remember_screen(user_id, screen)

    # buttons -------------------------------------------------------------------------------
    def _button(self, choice: str, state: State | None, ctx: Ctx) -> list[Reply]:
        data = cb.parse(choice)
        match data:
            case cb.Option() | cb.Control() | cb.Edit():
                if state is None:
                    return [Reply(text=self.k.text(ctx.lang, "input.stale_button"), kind="notice")]
                return self._apply(self.runner.on_button(state, ctx.lang, data), ctx, state)
            case cb.Topic(topic=topic) if topic in self.k.answers:
                return self._topic_replies(topic, ctx) + self._reask(state, ctx)
            case cb.More(topic=topic) if topic in self.k.answers:
                return [screens.more(self.k, topic, ctx.lang)] + self._reask(state, ctx)
            case cb.StartDialog(dialog=dialog) if dialog in self.dialogs:
                return self._start_dialog(dialog, ctx, state)
            case cb.StartOver(dialog=dialog) if dialog in self.dialogs:  # the unfinished one goes
                return self._start_dialog(dialog, ctx, None)
            case cb.Language(lang=lang) if lang in self.k.locales:
                return self._set_lang(lang, ctx, state)
            case cb.Confirm(what=what):
                return self._confirm(what, ctx)
            case cb.TopicList():  # "none of these": the list of topics
                return [screens.topic_list(self.k, ctx.lang)]
            case cb.Resume():  # take up a dialog set aside (a crisis reply, "continue or start over?")
                if state is None:
                    return [Reply(text=self.k.text(ctx.lang, "cancel.nothing"), kind="notice")]
                self.store.pause_session(ctx.user["id"], paused=False)
                ctx.paused = False
                return self._reask(state, ctx)
            case cb.CallbackData() if data.prefix in BUTTONS and isinstance(data, BUTTONS[data.prefix][0]):
                return BUTTONS[data.prefix][1](self._action_ctx(ctx, {}, data=data))
        return [Reply(text=self.k.text(ctx.lang, "input.stale_button"), kind="notice"), *self._reask(state, ctx)]

    # commands ------------------------------------------------------------------------------
    def _command(self, text: str, state: State | None, ctx: Ctx) -> list[Reply]:
        word, _, args = text[1:].partition(" ")
        name = word.split("@", 1)[0].lower()
        args = args.strip()
        if name in ("cancel", "back", "skip"):
            if state is None:
                return [Reply(text=self.k.text(ctx.lang, "cancel.nothing"), kind="notice")]
            return self._apply(self.runner.on_control(state, ctx.lang, name), ctx, state)
        if name == "help":
            return [screens.help(self.k, ctx.lang, self.dialogs, COMMANDS)] + self._reask(state, ctx)
        if name == "topics":
            return [screens.topic_list(self.k, ctx.lang)]
        if name == "lang":
            if not args:
                return [Reply(text=self.k.text(ctx.lang, "lang.q"), kind="question", buttons=tuple(
                    cb.Language(code).button(self.k.text(ctx.lang, f"lang.opt.{code}")) for code in self.k.locales))]
            if args.lower() not in self.k.locales:
                return [Reply(text=self.k.text(ctx.lang, "lang.unknown"), kind="notice")]
            return self._set_lang(args.lower(), ctx, state)
        if name == "tz":
            return [self._set_tz(args, ctx)]
        if name == "export":
            return [self._export(ctx)]
        if name == "delete":
            return [Reply(text=self.k.text(ctx.lang, "privacy.delete_confirm"), kind="question", buttons=(
                cb.Confirm("delete").button(self.k.text(ctx.lang, "privacy.delete_yes")),
                cb.Confirm("keep").button(self.k.text(ctx.lang, "privacy.delete_no"))))]
        if name == "privacy" and "bot_privacy" in self.k.answers:
            return self._topic_replies("bot_privacy", ctx)
        if name in self.commands:
            return self._start_dialog(self.commands[name], ctx, state)
        if name in COMMANDS:
            return COMMANDS[name](self._action_ctx(ctx, {}, args=args))
        return [Reply(text=self.k.text(ctx.lang, "input.unknown_command", command="/" + name[:30]),
                      kind="notice"), screens.help(self.k, ctx.lang, self.dialogs, COMMANDS), *self._reask(state, ctx)]

    def _set_lang(self, lang: str, ctx: Ctx, state: State | None) -> list[Reply]:
        self.store.update_user(ctx.user["id"], lang=lang, lang_source="chosen")
        ctx.lang = lang
        return [Reply(text=self.k.text(lang, "lang.set"), kind="notice"), *self._reask(state, ctx)]

    def _set_tz(self, name: str, ctx: Ctx) -> Reply:
        """/tz shows the time zone used for deadlines and reminders; /tz <IANA name> sets it."""
        if not name:
            return Reply(text=self.k.text(ctx.lang, "tz.current", tz=str(ctx.tz)), kind="notice")
        try:
            zone = ZoneInfo(name) if "/" in name or name == "UTC" else None
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a path
            zone = None
        if zone is None:
            return Reply(text=self.k.text(ctx.lang, "tz.unknown", tz=name[:40]), kind="notice")
        self.store.update_user(ctx.user["id"], tz=name)
        return Reply(text=self.k.text(ctx.lang, "tz.set", tz=name), kind="notice")

    def _confirm(self, what: str, ctx: Ctx) -> list[Reply]:
        if what == "delete":
            self.store.delete_user(ctx.user["id"])
            return [Reply(text=self.k.text(ctx.lang, "privacy.deleted"), kind="notice")]
        return [Reply(text=self.k.text(ctx.lang, "privacy.kept"), kind="notice")]

    def _export(self, ctx: Ctx) -> Reply:
        data = self.store.export_user(ctx.user["id"])
        for row in data.get("inbox", []):  # transient delivery records, but shown all the same
            for reply in row.get("replies") or []:  # an earlier export is not copied into this one
                for f in reply.get("files") or []:
                    if f.get("content") is not None:
                        f["content"] = f"({len(f['content'])} characters, not repeated here)"
        content = json.dumps(data, ensure_ascii=False, indent=2, default=str)
        name = f"borrower-guard-export-{ctx.now.date().isoformat()}.json"
        return Reply(text=self.k.text(ctx.lang, "privacy.export_ready"), kind="notice",
                     files=(FileOut(name=name, content=content, mime="application/json"),))

    # dialogs -------------------------------------------------------------------------------
    def _start_dialog(self, dialog_id: str, ctx: Ctx, unfinished: State | None = None) -> list[Reply]:
        """Start `dialog_id`. Over an `unfinished` dialog with answers in it, ask first:
        nothing a person typed is thrown away by a button or a phrase they did not mean so."""
        if unfinished is not None and self._worth_keeping(unfinished):
            t = self.k.text
            title = t(ctx.lang, self.dialogs[unfinished.dialog].title)
            new = t(ctx.lang, self.dialogs[dialog_id].title)
            return [Reply(text=t(ctx.lang, "flow.switch.q", title=title, n=len(unfinished.history)), kind="question",
                          buttons=(cb.Resume().button(t(ctx.lang, "flow.switch.continue", title=title)),
                                   cb.StartOver(dialog_id).button(t(ctx.lang, "flow.switch.new", title=new))))]
        return self._apply(self.runner.start(dialog_id, ctx.lang), ctx, None)

    def _worth_keeping(self, state: State) -> bool:
        """Answers that would be lost: a dialog with a review screen and one answer or more
        (the /start menu has none worth asking about)."""
        return self.dialogs[state.dialog].review and bool(state.history)

    def _apply(self, turn: Turn, ctx: Ctx, prior: State | None) -> list[Reply]:
        """Persist the runner's new state (same transaction) and run completion actions."""
        user_id = ctx.user["id"]
        if turn.lang:
            self.store.update_user(user_id, lang=turn.lang, lang_source="chosen")
            ctx.lang = turn.lang
        if turn.state is None:
            self.store.clear_session(user_id)
        else:
            s = turn.state
            self.store.save_session(user_id, s.dialog, s.step, s.slots, list(s.history), s.invalid, s.editing)
        replies = list(turn.replies)
        if turn.completed is not None and prior is not None:
            for name in self.dialogs[prior.dialog].on_complete:
                replies += ACTIONS[name](self._action_ctx(ctx, turn.completed))
        return replies

    def _keep_media(self, inbound: Inbound, ctx: Ctx) -> list[Reply]:
        assert inbound.media is not None
        if not MEDIA:
            return [Reply(text=self.k.text(ctx.lang, "input.attachment"), kind="notice")]
        return MEDIA[0](self._action_ctx(ctx, {}), inbound.media)

    def _reask(self, state: State | None, ctx: Ctx) -> list[Reply]:
        if state and ctx.paused:
            return [self._resume_offer(ctx)]
        return [self.runner.screen(state, ctx.lang)] if state else []

    def _action_ctx(self, ctx: Ctx, slots: dict[str, Any], args: str = "",
                    data: cb.CallbackData | None = None) -> ActionContext:
        def start_dialog(dialog_id: str, step: str | None = None, slots: dict[str, Any] | None = None,
                         history: tuple[str, ...] = ()) -> list[Reply]:
            """A dialog started by a feature, at `step` with answers already known. Over another
            unfinished dialog with answers in it, "continue, or start over?" first (as for a
            command): /log typed in the middle of a report keeps the report."""
            unfinished = _state(self.store.session(ctx.user["id"]))
            if unfinished is not None and unfinished.dialog != dialog_id and self._worth_keeping(unfinished):
                return self._start_dialog(dialog_id, ctx, unfinished)
            if step is None:
                return self._apply(self.runner.start(dialog_id, ctx.lang), ctx, None)
            state = State(dialog=dialog_id, step=step, slots=slots or {}, history=history)
            return self._apply(Turn([self.runner.screen(state, ctx.lang)], state), ctx, None)

        return ActionContext(lang=ctx.lang, slots=slots, knowledge=self.k, store=self.store,
                             user_id=ctx.user["id"], now=ctx.now, tz=ctx.tz, args=args, data=data,
                             default_tz=self.settings.bot_timezone, dialogs=self.dialogs,
                             public_url=self.settings.bot_public_url, link_days=self.settings.bot_link_days,
                             start_dialog=start_dialog, cache_dir=self.settings.bot_cache_dir,
                             media_quota=int(self.settings.bot_media_max_user_mb * (1 << 20)),
                             files_dir=files_dir(self.settings.bot_db_path))

    # questions -----------------------------------------------------------------------------
    def _free_text(self, text: str, ctx: Ctx, state: State | None = None) -> list[Reply]:
        norm = normalize(text)
        bare = norm.strip(" !！.。~")
        if bare in self.k.words.greetings:  # content/<lang>/lexicon.yaml, of every language
            return [Reply(text=self.k.text(ctx.lang, "greeting"))]
        if bare in self.k.words.help_words:  # "help" alone matched the legal-aid answer
            return self._command("/help", None, ctx)
        for hook in FREE_TEXT:  # a pasted collector's message, "they called again" (bot/actions/evidence.py)
            hooked = hook(self._action_ctx(ctx, {}, args=text))
            if hooked:
                return hooked
        wanted = self._triggered(text, ctx.lang)
        if wanted:
            return self._start_dialog(wanted, ctx, state)
        match = self.matcher.match(text)
        if match.decision == "answer" and match.topic:
            return self._topic_replies(match.topic, ctx)
        if match.decision == "clarify":
            return [screens.clarify(self.k, [t for t, _ in match.candidates], ctx.lang)]
        return [screens.unknown(self.k, ctx.lang)]

    def _digression(self, text: str, ctx: Ctx) -> list[Reply] | None:
        """A question typed in the middle of a dialog: answered only when confident, and never
        for text without words ("5000", "-3"), which is a mistyped answer, not a question."""
        if detect_lang(text, self.k.languages) is None:
            return None
        match = self.matcher.match(text)
        if match.decision == "answer" and match.topic:
            return self._topic_replies(match.topic, ctx)
        return None

    def _topic_replies(self, topic: str, ctx: Ctx, kind: str = "answer") -> list[Reply]:
        if topic == CRISIS_TOPIC:  # however it was reached: care, not a legal answer
            return [screens.crisis(self.k, ctx.lang)]
        return [screens.answer(self.k, topic, ctx.lang, self.dialogs, kind=kind)]


def _payload(inbound: Inbound) -> dict[str, Any]:
    """What the inbox keeps of a message until it is handled (recover() rebuilds it from this)."""
    return inbound.model_dump(mode="json")


def _storable(inbound: Inbound) -> Inbound:
    """`inbound` with what UTF-8 cannot carry (lone surrogates, from JSON's \\ud800 escapes)
    replaced by "?": SQLite and every channel would refuse it. Channels reject such input
    with a short error first; this keeps the engine whole whatever a channel lets through."""
    fields = {"user": inbound.user, "message_id": inbound.message_id, "text": inbound.text,
              "choice": inbound.choice, "lang_hint": inbound.lang_hint}
    bad = {}
    for key, value in fields.items():
        if value is not None:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                bad[key] = value.encode("utf-8", "replace").decode("utf-8")
    return inbound.model_copy(update=bad) if bad else inbound


def _state(session: SessionRow | None) -> State | None:
    if not session:
        return None
    return State(dialog=session["dialog"], step=session["step"], slots=session["slots"],
                 history=tuple(session["history"]), invalid=session["invalid"] or 0,
                 editing=session["editing"])
