"""The evidence log in the chat (issue 16, items 1-4, 6 and 8): /log, "they called again",
checking a pasted or forwarded collector's message and adding it to the log, /timeline with
what the log shows, and the counts the letters cite.

Cases: an event belongs to a case (cases.id), the lender. A report's case (kind "report",
its lender_name) and a case made by /log (kind "log", data {"lender": ...}) with the same
lender (compared normalised: 速借 and 速借 , Quick Cash and quick cash) are one log: the
events of all of them count together (`related`). A case is created when an event needs one
and none matches.

The decisions are pure functions in bot/evidence/ (rules over time, timeline layout, the
shape of a pasted message, the letters' summary); this module reads and writes the store and
words the replies from content/<lang>/ui/evidence.yaml. Nothing here logs text, names or
numbers; every row is the user's (/export, /delete).

Buttons: EvidenceButton ("ev", bot/actions/buttons.py).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from bot import locale
from bot.actions.buttons import BundleButton, EvidenceButton
from bot.actions.registry import ActionContext, Reads, action, button, command, free_text
from bot.contentfiles import read_yaml, validate
from bot.core.models import Button, Reply
from bot.evidence.model import ALWAYS_THIRD, CONTACT_KINDS, KINDS, STOP_SENT, THIRD_PARTIES, WHO, Event
from bot.evidence.paste import PasteWords, looks_pasted, sender
from bot.evidence.rules import CONNECTED_CAP, RULES, UNANSWERED_CAP, Check, Finding, check, is_night, stop_moment
from bot.evidence.summary import LogSummary, summarize
from bot.evidence.timeline import Day, layout
from bot.knowledge.normalize import normalize

if TYPE_CHECKING:
    from bot.knowledge.loader import Knowledge
    from bot.knowledge.scan import Hit, Scanner, ScanTexts
    from storage.rows import CaseRow

LOG_KIND = "log"
REPORT_KIND = "report"
MAX_EVENTS = 5000            # per user: far more than anyone logs by hand; a bound for a runaway script
MAX_LENDERS = 6              # lender buttons offered at once
MAX_MESSAGE = 3500           # characters per message of "see all"
MAX_QUOTE = 80               # characters of an entry's words shown in "see all"
MAX_ALL = 200                # entries "see all" shows in the chat (the newest; /export has every one)
PENDING_FOR = dt.timedelta(days=1)   # a checked message waits this long for "add to my log"
_NUMBER = re.compile(r"(?:\+?86[\s-]?)?1\d{2}[\s-]?\d{4}[\s-]?\d{4}|\d[\d\s-]{3,}\d")
_PUNCT = " .。!！~～…,，?？"


# --- content --------------------------------------------------------------------------------

class _Paste(BaseModel):
    model_config = ConfigDict(extra="forbid")

    forwarded: list[str] = Field(default_factory=list)
    debt: list[str] = Field(default_factory=list)
    you: list[str] = Field(default_factory=list)
    me: list[str] = Field(default_factory=list)
    questions: list[str] = Field(default_factory=list)
    endings: list[str] = Field(default_factory=lambda: ["?", "？"])
    starts: list[str] = Field(default_factory=list)
    min_length: int = Field(50, ge=1)
    min_words: int = Field(25, ge=1)
    short_length: int = Field(12, ge=1)
    short_words: int = Field(8, ge=1)


class EvidenceWords(BaseModel):
    """content/evidence.yaml (validated when first read; a test reads the shipped one)."""

    model_config = ConfigDict(extra="forbid")

    called_again: dict[str, list[str]] = Field(default_factory=dict)
    log: dict[str, list[str]] = Field(default_factory=dict)
    paste: _Paste = Field(default_factory=_Paste)


@lru_cache(maxsize=4)
def _words(root: Path) -> EvidenceWords:
    """content/evidence.yaml: the words the log reads (none in a content tree without it).
    Raises ContentError, with the line, for a malformed file."""
    path = root / "evidence.yaml"
    return validate(EvidenceWords, read_yaml(path, root), root) if path.exists() else EvidenceWords()


def called_again_words(k: Knowledge) -> frozenset[str]:
    return _called_again(k.root)


@lru_cache(maxsize=4)
def _called_again(root: Path) -> frozenset[str]:
    return frozenset(normalize(w).strip(_PUNCT) for words in _words(root).called_again.values() for w in words)


@lru_cache(maxsize=4)
def _log_words(root: Path) -> frozenset[str]:
    return frozenset(normalize(w).strip(_PUNCT) for words in _words(root).log.values() for w in words)


def paste_words(k: Knowledge) -> PasteWords:
    return _paste_words(k.root)


@lru_cache(maxsize=4)
def _paste_words(root: Path) -> PasteWords:
    p = _words(root).paste

    def low(words: list[str]) -> tuple[str, ...]:
        return tuple(normalize(w) for w in words)

    return PasteWords(forwarded=low(p.forwarded), debt=low(p.debt), you=low(p.you), me=low(p.me),
                      questions=low(p.questions), endings=low(p.endings), starts=low(p.starts),
                      min_length=p.min_length, min_words=p.min_words, short_length=p.short_length,
                      short_words=p.short_words)


@lru_cache(maxsize=4)
def _scanner(root: Path, cache_dir: Path | None) -> tuple[Scanner, Any]:
    """The message scanner and its rules (content/scan.yaml), built once per process: the
    model comes from BOT_CACHE_DIR when it was trained before (~1 s), else it is trained."""
    from bot.knowledge.scan import Scanner, load_config, load_corpus

    config = load_config(root)
    return Scanner.build(config, load_corpus(root), cache_dir), config


def scanner(ctx: ActionContext) -> Scanner:
    return _scanner(ctx.knowledge.root, ctx.cache_dir)[0]


def scan_texts(ctx: ActionContext) -> ScanTexts:
    from bot.knowledge.scan import ScanTexts

    return ScanTexts(_scanner(ctx.knowledge.root, ctx.cache_dir)[1], ctx.knowledge.facts, ctx.knowledge.ui)


# --- cases ----------------------------------------------------------------------------------

def case_lender(case: Mapping[str, Any]) -> str:
    data = case.get("data") or {}
    if case.get("kind") == LOG_KIND:
        return str(data.get("lender") or "")
    return str((data.get("answers") or {}).get("lender_name") or "")


def _key(lender: str) -> str:
    return normalize(lender).strip(_PUNCT)


def lender_cases(ctx: ActionContext) -> list[CaseRow]:
    """One case per lender (the newest), newest first: the logs the user can add to."""
    seen: set[str] = set()
    out = []
    for case in ctx.store.cases(ctx.user_id):
        if case["kind"] not in (LOG_KIND, REPORT_KIND):
            continue
        key = _key(case_lender(case))
        if key and key not in seen:
            seen.add(key)
            out.append(case)
    return out


def related(ctx: ActionContext, lender: str) -> list[int]:
    """Every case of the user about `lender`: together they are its log."""
    key = _key(lender)
    return [c["id"] for c in ctx.store.cases(ctx.user_id)
            if c["kind"] in (LOG_KIND, REPORT_KIND) and key and _key(case_lender(c)) == key]


def case_for(ctx: ActionContext, lender: str) -> int:
    """The case of `lender`, created when there is none."""
    found = related(ctx, lender)
    if found:
        return found[0]
    return ctx.store.save_case(ctx.user_id, LOG_KIND, ctx.lang,
                               {"lender": lender.strip()[:80], "created": ctx.now.isoformat(timespec="seconds")})


def _own_case(ctx: ActionContext, case_id: object) -> CaseRow | None:
    if not isinstance(case_id, int):
        return None
    case = ctx.store.case(ctx.user_id, case_id)
    return case if case is not None and case["kind"] in (LOG_KIND, REPORT_KIND) and case_lender(case) else None


def current_case(ctx: ActionContext) -> CaseRow | None:
    """The log a quick entry goes to: the one logged to last, else the newest lender's."""
    last = _own_case(ctx, ctx.store.events.last_case(ctx.user_id))
    if last is not None:
        return last
    cases = lender_cases(ctx)
    return cases[0] if cases else None


def events_of(ctx: ActionContext, lender: str) -> list[Event]:
    return [Event.from_row(r) for r in ctx.store.events.of_cases(ctx.user_id, related(ctx, lender))]


def log_summary(ctx: ActionContext, lender: str) -> LogSummary | None:
    """What the letters cite for `lender` (None: nothing logged, the letters keep the estimate)."""
    if not lender:
        return None
    return summarize(events_of(ctx, lender), ctx.tz, ctx.now, tracked_stop(ctx, lender))


def tracked_stop(ctx: ActionContext, lender: str) -> dt.datetime | None:
    """A stop request recorded with /track (a complaint to "stop_request" about `lender`, or
    about one of its reports): counted from the end of the day it was sent, since the hour
    is not known. The rules take the earlier of it and one logged with /log."""
    key, cases = _key(lender), set(related(ctx, lender))
    days = []
    for c in ctx.store.reminders.complaints(ctx.user_id, limit=200):
        if c["body"] != "stop_request" or c["status"] == "draft":
            continue
        if (c.get("case_id") in cases) or (key and _key(str(c.get("lender") or "")) == key):
            try:
                days.append(dt.date.fromisoformat(c["filed_on"]))
            except (TypeError, ValueError):
                continue
    if not days:
        return None
    return dt.datetime.combine(min(days), dt.time(23, 59, 59), tzinfo=ctx.tz)


def contacts_after_stop(ctx: ActionContext, lender: str, filed_on: dt.date) -> int | None:
    """Contacts of people other than the borrower after a stop request filed on `filed_on`
    (from the moment logged with "I sent the stop request" when there is one, else from the
    day after), for the escalation letter; None when nothing is logged for `lender`."""
    events = events_of(ctx, lender) if lender else []
    if not any(e.contact for e in events):
        return None
    stop = stop_moment(events)
    if stop is not None and stop.astimezone(ctx.tz).date() == filed_on:
        return sum(1 for e in events if e.third_party and e.at > stop)
    return sum(1 for e in events if e.third_party and e.local(ctx.tz).date() > filed_on)


# --- /log -----------------------------------------------------------------------------------

@command("log")
def log_command(ctx: ActionContext) -> list[Reply]:
    return start_log(ctx)


def start_log(ctx: ActionContext, case_id: int | None = None) -> list[Reply]:
    assert ctx.start_dialog is not None
    case = _own_case(ctx, case_id)
    if case is not None:
        return ctx.start_dialog("log", "kind", {"lender_name": case_lender(case)})
    cases = lender_cases(ctx)
    if not cases:
        return ctx.start_dialog("log")
    if len(cases) == 1:
        return start_log(ctx, cases[0]["id"])
    buttons = [EvidenceButton("lc", c["id"]).button(_short(case_lender(c))) for c in cases[:MAX_LENDERS]]
    buttons.append(EvidenceButton("lc").button(ctx.t("evidence.new_case")))
    return [Reply(text=ctx.t("evidence.pick_case"), kind="question", buttons=tuple(buttons))]


LOG_READS = Reads(slots=("lender_name", "kind", "who", "who_other", "details", "when"),
                  options={"kind": KINDS, "who": WHO, "who_other": THIRD_PARTIES})


@action("log_saved", reads=LOG_READS)
def log_saved(ctx: ActionContext) -> list[Reply]:
    slots = ctx.slots
    when_text = str(slots.get("when") or "").strip()
    at = ctx.now if not when_text else parse_when(when_text, ctx.now)
    if at is None:  # asked again alone, every other answer kept
        assert ctx.start_dialog is not None
        kept = {k: v for k, v in slots.items() if k != "when"}
        return [Reply(text=ctx.t("evidence.when_bad"), kind="notice"), *ctx.start_dialog("log", "when", kept)]
    lender = str(slots.get("lender_name") or "").strip()   # a chosen case: its lender, filled in
    if not lender:
        return [Reply(text=ctx.t("evidence.not_found"), kind="notice")]
    case_id = case_for(ctx, lender)
    kind = str(slots.get("kind") or "other")
    who = str(slots.get("who_other") if kind in ALWAYS_THIRD else slots.get("who") or "me")
    if kind == STOP_SENT:
        who = "me"
    details = str(slots.get("details") or "").strip() or None
    number = _number_in(details)
    return record(ctx, case_id, lender, at, kind, who, number=number, words=details)


def parse_when(text: str, now: dt.datetime) -> dt.datetime | None:
    from bot.evidence.moment import parse_moment

    return parse_moment(text, now)


def _number_in(text: str | None) -> str | None:
    m = _NUMBER.search(text or "")
    return re.sub(r"[\s-]", "", m.group(0)) if m else None


def record(ctx: ActionContext, case_id: int, lender: str, at: dt.datetime, kind: str, who: str,
           number: str | None = None, words: str | None = None) -> list[Reply]:
    """Store one event and say what it adds up to."""
    if ctx.store.events.count(ctx.user_id) >= MAX_EVENTS:
        return [Reply(text=ctx.t("evidence.full", max=MAX_EVENTS), kind="notice")]
    ctx.store.events.add(ctx.user_id, case_id, at, kind, who, number=number, words=words)
    return saved_replies(ctx, case_id, lender, at, kind, who, number)


def saved_replies(ctx: ActionContext, case_id: int, lender: str, at: dt.datetime, kind: str, who: str,
                  number: str | None = None) -> list[Reply]:
    events = events_of(ctx, lender)
    local = at.astimezone(ctx.tz)
    if kind == STOP_SENT:
        lines = [ctx.t("evidence.stop_saved", lender=lender, date=locale.fmt_date(local.date(), ctx.lang))]
    else:
        what = ctx.t("evidence.what", kind=_kind(ctx, kind), who=_who(ctx, who), when=_when(ctx, at))
        lines = [ctx.t("evidence.saved", lender=lender, what=what, n=sum(1 for e in events if e.contact))]
        lines += _notes(ctx, lender, events, at, kind, who, number)
    return [Reply(text="\n".join(lines), kind="notice", buttons=_log_buttons(ctx, case_id))]


def _notes(ctx: ActionContext, lender: str, events: Sequence[Event], at: dt.datetime, kind: str,
           who: str, number: str | None = None) -> list[str]:
    """What this one entry adds up to: a cap passed today, night, after the stop request."""
    day = at.astimezone(ctx.tz).date()
    same_day = [e for e in events if e.local(ctx.tz).date() == day and e.who == "me"]
    notes = []
    if kind == "call_answered" and who == "me":
        n = sum(1 for e in same_day if e.kind == "call_answered")
        if n > CONNECTED_CAP:
            notes.append(ctx.t("evidence.over_cap", n=n))
    if kind == "call_missed" and who == "me":
        n = sum(1 for e in same_day if e.kind == "call_missed" and (e.number or "") == (number or ""))
        if n > UNANSWERED_CAP:
            notes.append(ctx.t("evidence.over_attempts", n=n))
    if kind in CONTACT_KINDS and is_night(at, ctx.tz):
        notes.append(ctx.t("evidence.at_night"))
    stop = min((m for m in (stop_moment(events), tracked_stop(ctx, lender)) if m is not None), default=None)
    if stop is not None and at > stop and kind in CONTACT_KINDS and (who != "me" or kind in ALWAYS_THIRD):
        notes.append(ctx.t("evidence.after_stop", date=locale.fmt_date(stop.astimezone(ctx.tz).date(), ctx.lang)))
    return notes


def _log_buttons(ctx: ActionContext, case_id: int) -> tuple[Button, ...]:
    return (EvidenceButton("again", case_id, "answered").button(ctx.t("evidence.button.again_answered")),
            EvidenceButton("again", case_id, "missed").button(ctx.t("evidence.button.again_missed")),
            EvidenceButton("log", case_id).button(ctx.t("evidence.button.log")),
            EvidenceButton("tl", case_id).button(ctx.t("evidence.button.timeline")))


def log_buttons_for_case(ctx: ActionContext, case_id: int) -> tuple[Button, ...]:
    """Under a report: log a contact, "they called again", the stop request was sent."""
    return (EvidenceButton("again", case_id, "answered").button(ctx.t("evidence.button.again_answered")),
            EvidenceButton("log", case_id).button(ctx.t("evidence.button.log")),
            EvidenceButton("stop", case_id).button(ctx.t("evidence.button.stop_sent")))


# --- "they called again" ----------------------------------------------------------------------

def again_question(ctx: ActionContext, case: CaseRow) -> list[Reply]:
    return [Reply(text=ctx.t("evidence.again_q", lender=case_lender(case)), kind="question", buttons=(
        EvidenceButton("again", case["id"], "answered").button(ctx.t("evidence.button.again_answered")),
        EvidenceButton("again", case["id"], "missed").button(ctx.t("evidence.button.again_missed"))))]


@free_text
def typed(ctx: ActionContext) -> list[Reply]:
    """"他们又打来了" / "they called again", "记录一次催收" / "log a call", or a message that
    looks like a collector's."""
    text = ctx.args
    if normalize(text).strip(_PUNCT) in called_again_words(ctx.knowledge):
        case = current_case(ctx)
        if case is None:
            return [Reply(text=ctx.t("evidence.again_none"), kind="notice"), *start_log(ctx)]
        return again_question(ctx, case)
    if normalize(text).strip(_PUNCT) in _log_words(ctx.knowledge.root):
        return start_log(ctx)
    if looks_pasted(normalize(text), paste_words(ctx.knowledge)):
        return scan_replies(ctx, text, pasted=True)
    return []


# --- checking a message -------------------------------------------------------------------------

@action("scan_checked", reads=Reads(slots=("message",)))
def scan_checked(ctx: ActionContext) -> list[Reply]:
    return scan_replies(ctx, str(ctx.slots.get("message") or ""))


def scan_replies(ctx: ActionContext, text: str, pasted: bool = False) -> list[Reply]:
    """The scanner's readable answer (as `python -m bot scan` gives it) and "add to my log":
    the message waits as a pending event (no case) for a day."""
    hits: list[Hit] = scanner(ctx).explain(text)
    answer = scan_texts(ctx).render(hits, ctx.lang)
    if pasted:
        answer = ctx.t("evidence.scan.pasted") + "\n\n" + answer
    store = ctx.store.events
    store.drop_pending(ctx.user_id, ctx.now - PENDING_FOR)
    if store.count(ctx.user_id) >= MAX_EVENTS:
        return [Reply(text=answer, kind="answer")]
    event_id = store.add(ctx.user_id, None, ctx.now, "message", "me", words=text,
                         findings=[h.finding for h in hits], source="scan", status="pending")
    return [Reply(text=answer, kind="answer"),
            Reply(text=ctx.t("evidence.scan.add_hint"), buttons=(
                EvidenceButton("add", event_id).button(ctx.t("evidence.button.add")),
                EvidenceButton("check").button(ctx.t("evidence.button.check"))))]


def add_pending(ctx: ActionContext, event_id: int, case_id: int | None) -> list[Reply]:
    pending = ctx.store.events.get(ctx.user_id, event_id)
    if pending is None or pending["status"] != "pending":
        return [Reply(text=ctx.t("evidence.scan.gone"), kind="notice")]
    case = _own_case(ctx, case_id)
    if case is None and case_id is not None:
        return [Reply(text=ctx.t("evidence.not_found"), kind="notice")]
    if case is None:
        cases = lender_cases(ctx)
        named = _named(pending["words"], cases)   # the 【sender】 of an SMS, when it has one
        if named is not None and len(named) == 1:
            case = named[0]
        elif named is None and len(cases) == 1:
            case = cases[0]
        elif cases:   # several logs, or a sender none of them is about
            buttons = [EvidenceButton("add", event_id, str(c["id"])).button(_short(case_lender(c)))
                       for c in cases[:MAX_LENDERS]]
            buttons.append(EvidenceButton("add", event_id, "new").button(ctx.t("evidence.new_case")))
            return [Reply(text=ctx.t("evidence.pick_case"), kind="question", buttons=tuple(buttons))]
        else:  # no lender yet: its name, then the message is added
            assert ctx.start_dialog is not None
            return ctx.start_dialog("log_lender", "lender", {"pending": event_id})
    ctx.store.events.keep(ctx.user_id, event_id, case["id"])
    return [Reply(text=ctx.t("evidence.scan.added", lender=case_lender(case)), kind="notice",
                  buttons=_log_buttons(ctx, case["id"]))]


def _named(words: str | None, cases: Sequence[CaseRow]) -> list[CaseRow] | None:
    """The logs whose lender the message's 【sender】 names (None: no sender in it)."""
    name = sender(words or "")
    if name is None:
        return None
    key = _key(name)
    return [c for c in cases if (lender := _key(case_lender(c))) and (lender in key or key in lender)]


@action("log_pending_added", reads=Reads(slots=("pending", "lender_name")))
def log_pending_added(ctx: ActionContext) -> list[Reply]:
    lender = str(ctx.slots.get("lender_name") or "").strip()
    event_id = ctx.slots.get("pending")
    if not lender or not isinstance(event_id, int):
        return [Reply(text=ctx.t("evidence.scan.gone"), kind="notice")]
    return add_pending(ctx, event_id, case_for(ctx, lender))


# --- /timeline and what the log shows -------------------------------------------------------------

@command("timeline")
def timeline_command(ctx: ActionContext) -> list[Reply]:
    cases = lender_cases(ctx)
    if not cases:
        return [Reply(text=ctx.t("evidence.timeline.none"), buttons=(
            EvidenceButton("log").button(ctx.t("evidence.button.log")),))]
    if len(cases) == 1:
        return timeline(ctx, cases[0])
    current = current_case(ctx)
    ordered = sorted(cases, key=lambda c: c["id"] != (current["id"] if current else None))
    return [Reply(text=ctx.t("evidence.pick_case"), kind="question", buttons=tuple(
        EvidenceButton("tl", c["id"]).button(_short(case_lender(c))) for c in ordered[:MAX_LENDERS]))]


def timeline(ctx: ActionContext, case: CaseRow, every: bool = False) -> list[Reply]:
    lender = case_lender(case)
    events = events_of(ctx, lender)
    contacts = [e for e in events if e.contact]
    if not events:
        return [Reply(text=ctx.t("evidence.timeline.empty", lender=lender),
                      buttons=_log_buttons(ctx, case["id"]))]
    numbers = ordinals(events)
    first, last = (min(e.local(ctx.tz).date() for e in events), max(e.local(ctx.tz).date() for e in events))
    title = ctx.t("evidence.timeline.title", lender=lender, n=len(contacts), period=_period(ctx, first, last))
    shown = events[-MAX_ALL:] if every else events   # "see all": the newest MAX_ALL entries in the chat
    lines, hidden = layout(shown, ctx.tz, lambda d: _day_line(ctx, d),
                           (lambda e: _event_line(ctx, e, numbers)) if every else None,
                           limit=None if every else 7)
    blocks = [title, *lines]
    if hidden:
        blocks.append(ctx.t("evidence.timeline.more", n=hidden))
    if len(shown) < len(events):
        blocks.append(ctx.t("evidence.timeline.more_all", n=len(events) - len(shown)))
    blocks.append(ctx.t("evidence.timeline.legend"))
    messages = _pack(blocks)
    replies = [Reply(text=m) for m in messages]
    if every:
        replies[-1] = Reply(text=messages[-1], buttons=(
            EvidenceButton("f", case["id"]).button(ctx.t("evidence.button.findings")), *_log_buttons(ctx, case["id"])))
        return replies
    replies[-1] = Reply(text=messages[-1], buttons=(
        EvidenceButton("all", case["id"]).button(ctx.t("evidence.button.see_all")),
        BundleButton("c", case["id"]).button(ctx.t("bundle.button")),))  # the evidence bundle: bot/actions/bundle.py
    return replies + findings_replies(ctx, case)


def ordinals(events: Sequence[Event]) -> dict[int, int]:
    """Event id -> its number in the case's log (1 = the earliest): what the user sees, the
    same in the timeline, the findings and (item 5) the bundle."""
    return {e.id: i for i, e in enumerate(sorted(events, key=lambda e: (e.at, e.id)), 1)}


def _day_line(ctx: ActionContext, d: Day) -> str:
    text = ctx.t("evidence.timeline.day", date=_short_date(ctx, d.day), n=d.contacts)
    marks = []
    if d.night:
        marks.append(ctx.t("evidence.timeline.night", n=d.night))
    if d.third:
        marks.append(ctx.t("evidence.timeline.third", n=d.third))
    if any(e.kind == STOP_SENT for e in d.events):
        marks.append(ctx.t("evidence.timeline.stop_mark"))
    return " ".join([text, *marks])


def _event_line(ctx: ActionContext, e: Event, numbers: Mapping[int, int]) -> str:
    time = e.local(ctx.tz).strftime("%H:%M")
    if e.kind == STOP_SENT:
        line = ctx.t("evidence.timeline.stop", time=time)
    else:
        line = ctx.t("evidence.timeline.event", time=time, kind=_kind(ctx, e.kind), who=_who(ctx, e.who))
        if e.contact and e.timed and is_night(e.at, ctx.tz):
            line += " " + ctx.t("evidence.timeline.night_mark")
        if e.third_party:
            line += " " + ctx.t("evidence.timeline.third_mark")
    parts = [f"#{numbers.get(e.id, 0)} {line}"]
    if e.number:
        parts.append(ctx.t("evidence.timeline.number", number=e.number))
    if e.words:
        words = " ".join(e.words.split())
        parts.append(locale.quote(words if len(words) <= MAX_QUOTE else words[:MAX_QUOTE - 1] + "…", ctx.lang))
    if e.findings:
        names = (ctx.t(f"scan.finding.{f}.name") for f in e.findings
                 if ctx.knowledge.has_text(ctx.lang, f"scan.finding.{f}.name"))
        parts.append(ctx.t("evidence.timeline.scanned", findings=locale.join(names, ctx.lang)))
    if e.source in ("scan", "witness"):
        parts.append(ctx.t(f"evidence.timeline.source_{e.source}"))
    return " · ".join(parts)


def findings_replies(ctx: ActionContext, case: CaseRow) -> list[Reply]:
    lender = case_lender(case)
    events = events_of(ctx, lender)
    if not [e for e in events if e.contact]:
        return [Reply(text=ctx.t("evidence.timeline.empty", lender=lender), buttons=_log_buttons(ctx, case["id"]))]
    result = check(events, ctx.tz, ctx.now, tracked_stop(ctx, lender))
    messages = _pack(render_check(ctx, lender, events, result), sep="\n\n")
    replies = [Reply(text=m, kind="answer") for m in messages]
    replies[-1] = Reply(text=messages[-1], kind="answer", buttons=_log_buttons(ctx, case["id"]))
    return replies


def render_check(ctx: ActionContext, lender: str, events: Sequence[Event], result: Check) -> list[str]:
    numbers = ordinals(events)
    days = [e.local(ctx.tz).date() for e in events]
    blocks = [ctx.t("evidence.findings.title", lender=lender, period=_period(ctx, min(days), max(days)))]
    if not result.findings:
        blocks.append(ctx.t("evidence.findings.none"))
    for i, f in enumerate(result.findings, 1):
        blocks.append(f"{i}. " + _finding_text(ctx, f, numbers))
    blocks.append(ctx.t(f"evidence.findings.trend_{result.trend.direction}", this=result.trend.this_week,
                        last=result.trend.last_week))
    return blocks


def _finding_text(ctx: ActionContext, f: Finding, numbers: Mapping[int, int]) -> str:
    lang = ctx.lang
    values: dict[str, object] = {
        "count": f.count, "n_days": len(f.per_day) or len(f.days),
        "days": locale.join((_short_date(ctx, d) for d in f.days[:10]), lang) + ("…" if len(f.days) > 10 else ""),
        "per_day": locale.join((ctx.t("evidence.findings.per_day", date=_short_date(ctx, d), n=n)
                                for d, n in f.per_day[:10]), lang),
        "since": locale.fmt_date(f.since, lang) if f.since else "",
    }
    if f.id == "scanned":
        values["name"] = ctx.t(f"scan.finding.{f.detail}.name") \
            if ctx.knowledge.has_text(lang, f"scan.finding.{f.detail}.name") else f.detail
    lines = [ctx.t(f"evidence.findings.{f.id}", **values)]
    rules = _rules(ctx, f)
    if rules:
        lines.append("   " + ctx.t("evidence.findings.rules", rules=locale.join(rules, lang)))
    ids = sorted(numbers.get(i, 0) for i in f.event_ids)
    shown = ", ".join(f"#{n}" for n in ids[:20]) + (" …" if len(ids) > 20 else "")
    lines.append("   " + ctx.t("evidence.findings.entries", ids=shown))
    return "\n".join(lines)


def _rules(ctx: ActionContext, f: Finding) -> list[str]:
    facts, lang = ctx.knowledge.facts, ctx.lang
    if f.id == "scanned":
        config = _scanner(ctx.knowledge.root, ctx.cache_dir)[1]
        texts = scan_texts(ctx)
        found = config.findings.get(f.detail)
        return [texts.rule_line(r, lang) for r in found.rules] if found else []
    out = []
    for inst_id in RULES.get(f.id, ()):
        inst = facts.instruments.get(inst_id)
        if inst is not None:
            out.append(locale.binds(inst.name.get(lang), inst.binds.get(lang), lang))
    return out


# --- buttons --------------------------------------------------------------------------------------

@button(EvidenceButton)
def evidence_button(ctx: ActionContext) -> list[Reply]:
    data = ctx.data
    assert isinstance(data, EvidenceButton)
    what = data.what
    if what == "check":
        assert ctx.start_dialog is not None
        return ctx.start_dialog("check")
    if what == "add" and data.id is not None:
        arg = data.arg
        if arg == "new":
            assert ctx.start_dialog is not None
            return ctx.start_dialog("log_lender", "lender", {"pending": data.id})
        return add_pending(ctx, data.id, int(arg) if arg and arg.isdigit() else None)
    if what in ("log", "lc"):
        if what == "lc" and data.id is None:
            assert ctx.start_dialog is not None
            return ctx.start_dialog("log")
        return start_log(ctx, data.id)
    case = _own_case(ctx, data.id)
    if case is None:
        return [Reply(text=ctx.t("evidence.not_found"), kind="notice")]
    if what == "again":
        if data.arg not in ("answered", "missed"):
            return again_question(ctx, case)
        return record(ctx, case["id"], case_lender(case), ctx.now, f"call_{data.arg}", "me")
    if what == "stop":
        return record(ctx, case["id"], case_lender(case), ctx.now, STOP_SENT, "me")
    if what == "tl":
        return timeline(ctx, case)
    if what == "all":
        return timeline(ctx, case, every=True)
    if what == "f":
        return findings_replies(ctx, case)
    return [Reply(text=ctx.t("evidence.not_found"), kind="notice")]


# --- words ----------------------------------------------------------------------------------------

def _kind(ctx: ActionContext, kind: str) -> str:
    return ctx.t(f"log.kind.opt.{kind}") if kind in KINDS else kind


def _who(ctx: ActionContext, who: str) -> str:
    return ctx.t(f"log.who.opt.{who}") if who in WHO else who


def _when(ctx: ActionContext, at: dt.datetime) -> str:
    local = at.astimezone(ctx.tz)
    return f"{_short_date(ctx, local.date())} {local.strftime('%H:%M')}"


def _period(ctx: ActionContext, first: dt.date, last: dt.date) -> str:
    """2026年11月20日至2026年11月28日, or the one day."""
    if first == last:
        return locale.fmt_date(first, ctx.lang)
    return ctx.t("evidence.period", first=locale.fmt_date(first, ctx.lang), last=locale.fmt_date(last, ctx.lang))


def _short_date(ctx: ActionContext, day: dt.date) -> str:
    loc = locale.get(ctx.lang)
    names = loc.date.month_names
    return ctx.t("evidence.timeline.date", day=day.day, month=day.month,
                 month_name=names[day.month - 1] if names else day.month,
                 weekday=ctx.t(f"evidence.timeline.weekday.{day.weekday()}"))


def _short(label: str, limit: int = 40) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _pack(blocks: Sequence[str], limit: int = MAX_MESSAGE, sep: str = "\n") -> list[str]:
    messages: list[str] = []
    for block in blocks:
        if messages and len(messages[-1]) + len(sep) + len(block) <= limit:
            messages[-1] += sep + block
        else:
            messages.append(block[:limit])
    return messages or [""]
