"""The evidence bundle in the chat (issue 16, item 5): /bundle and the button under the
timeline. One document per lender's log, for a police station, 12378, a local financial
bureau or a court (the addressee changes only the cover's "what is asked").

`build` reads the log as it is now and words everything from content/<lang>/ui/bundle.yaml
and the evidence texts; bot/evidence/bundle.py lays it out (HTML, CSV). It runs when the
bundle is asked for (the files sent in the chat) and again every time its link is opened
(bot/channels/bundle_page.py), so a link never shows a stale snapshot.

Delivery per channel: the web page, Telegram and the terminal get the files (the HTML in the
user's language, the Chinese one too when that is another, and the CSV); every channel gets
a short-lived link (kind "bundle", storage/links.py) when BOT_PUBLIC_URL is set; WeChat,
which cannot take files, only the link.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import locale
from bot.actions import evidence as ev
from bot.actions.buttons import BundleButton, EvidenceButton
from bot.actions.registry import ActionContext, button, command
from bot.core.models import FileOut, Reply
from bot.evidence.bundle import Bundle, FileItem, FindingItem, LetterItem, Quote, Row, render_csv, render_html
from bot.evidence.model import STOP_SENT, Event
from bot.evidence.rules import Finding, check, is_night, stop_moment

if TYPE_CHECKING:
    from storage.rows import CaseRow

KIND = "bundle"
ADDRESSEES = ("police", "nfra", "local_bureau", "court", "general")
FILE_CHANNELS = ("web", "telegram", "console")
#: every label of the document (content/<lang>/ui/bundle.yaml, under bundle.doc.)
LABELS = ("print", "ask", "generated", "findings", "no_findings", "entries", "findings_note", "timeline",
          "no_events", "messages", "no_messages", "files", "file_name", "file_entry", "file_size",
          "file_received", "file_check", "files_note", "no_files", "letters", "letter_date", "letter_what",
          "letter_detail", "no_letters", "footer", "col_n", "col_date", "col_time", "col_kind", "col_who",
          "col_number", "col_words", "col_evidence", "col_source", "col_marks")
WORDS_IN_TABLE = 300         # characters of a scanned message in the table; it is quoted in full below
_SYMBOLS = re.compile(r"^[^\w（(【\[]+")


# --- building ------------------------------------------------------------------------------

def build(ctx: ActionContext, case: CaseRow, to: str, lang: str | None = None) -> Bundle | None:
    """The bundle of `case`'s lender as the log is now, in `lang` (the user's by default).
    None when nothing is logged."""
    lang = lang or ctx.lang
    if lang != ctx.lang:
        ctx = replace(ctx, lang=lang)
    lender = ev.case_lender(case)
    case_ids = ev.related(ctx, lender)
    events = [Event.from_row(r) for r in ctx.store.events.of_cases(ctx.user_id, case_ids)]
    if not events:
        return None
    to = to if to in ADDRESSEES else "general"
    t, tz = ctx.t, ctx.tz
    numbers = ev.ordinals(events)
    result = check(events, tz, ctx.now)
    stop = stop_moment(events)
    files = _files(ctx, case_ids, {e.id for e in events})
    by_event: dict[int, list[str]] = {}
    for f in files:
        if f.get("event_id"):
            by_event.setdefault(int(f["event_id"]), []).append(str(f["name"]))

    rows = tuple(_row(ctx, e, numbers[e.id], stop, by_event.get(e.id, [])) for e in events)
    quotes = tuple(Quote(numbers[e.id], _when(e, tz), e.words or "", _finding_names(ctx, e.findings))
                   for e in events if e.source == "scan" and e.words)
    findings = tuple(_finding(ctx, f, numbers) for f in result.findings)
    contacts = [e for e in events if e.contact]
    days = [e.local(tz).date() for e in events]
    answers = _answers(ctx, case_ids)
    cover = (
        (t("bundle.doc.cover_to"), to_label(ctx, to)),
        (t("bundle.doc.cover_who"), answers.get("your_name") or t("report.blank.name")),
        (t("bundle.doc.cover_phone"), answers.get("your_phone") or t("report.blank.phone")),
        (t("bundle.doc.cover_lender"), lender),
        (t("bundle.doc.cover_period"), t("bundle.doc.period", first=locale.fmt_date(min(days), lang),
                                         last=locale.fmt_date(max(days), lang))),
        (t("bundle.doc.cover_counts"), t("bundle.doc.counts", n=len(contacts),
                                         night=sum(1 for e in contacts if is_night(e.at, tz)),
                                         third=sum(1 for e in contacts if e.third_party),
                                         findings=len(result.findings))),
    )
    file_items = tuple(_file_item(ctx, f, numbers) for f in files)
    return Bundle(lang=lang, labels={k: t(f"bundle.doc.{k}") for k in LABELS},
                  title=t("bundle.doc.title", lender=lender), cover=cover, ask=t(f"bundle.ask.{to}"),
                  findings=findings, rows=rows, quotes=quotes, files=file_items,
                  letters=_letters(ctx, events, case_ids, lender),
                  generated=ctx.now.astimezone(tz).strftime("%Y-%m-%d %H:%M") + f" ({tz})")


def to_label(ctx: ActionContext, to: str) -> str:
    """The addressee's name; 12378 comes from content/facts.yaml, never typed in a text."""
    hotline = ctx.knowledge.facts.hotlines.get("nfra")
    return ctx.t(f"bundle.to.{to}", number=hotline.number if hotline else "")


def _row(ctx: ActionContext, e: Event, n: int, stop: dt.datetime | None, attached: Sequence[str]) -> Row:
    local = e.local(ctx.tz)
    marks = []
    if e.contact and is_night(e.at, ctx.tz):
        marks.append(ctx.t("bundle.mark.night"))
    if e.third_party:
        marks.append(ctx.t("bundle.mark.third"))
    if stop is not None and e.third_party and e.at > stop:
        marks.append(ctx.t("bundle.mark.after_stop"))
    words = e.words or ""
    if e.source == "scan" and len(words) > WORDS_IN_TABLE:
        words = words[:WORDS_IN_TABLE] + "… " + ctx.t("bundle.mark.quoted", n=n)
    kind = ctx.t("bundle.mark.stop_sent") if e.kind == STOP_SENT else _plain(ev._kind(ctx, e.kind))
    return Row(n=n, date=local.strftime("%Y-%m-%d"), time=local.strftime("%H:%M"), kind=kind,
               who="" if e.kind == STOP_SENT else _plain(ev._who(ctx, e.who)), number=e.number or "",
               words=words, evidence="; ".join(attached), source=ctx.t(f"bundle.source.{e.source}"),
               marks="; ".join(marks))


def _finding(ctx: ActionContext, f: Finding, numbers: dict[int, int]) -> FindingItem:
    """One finding in the first person, with full dates (bundle.finding.*), the rules it
    breaks with whom each binds (as the chat shows them) and its entries."""
    lang = ctx.lang
    values: dict[str, object] = {
        "count": f.count, "n_days": len(f.per_day) or len(f.days),
        "days": locale.join((locale.fmt_date(d, lang) for d in f.days), lang),
        "per_day": locale.join((ctx.t("bundle.finding.per_day", date=locale.fmt_date(d, lang), n=n)
                                for d, n in f.per_day), lang),
        "since": locale.fmt_date(f.since, lang) if f.since else "",
        "name": ctx.t(f"scan.finding.{f.detail}.name") if f.id == "scanned"
        and ctx.knowledge.has_text(lang, f"scan.finding.{f.detail}.name") else f.detail,
    }
    ids = sorted(numbers.get(i, 0) for i in f.event_ids)
    return FindingItem(text=ctx.t(f"bundle.finding.{f.id}", **values), rules=tuple(ev._rules(ctx, f)),
                       entries=", ".join(f"#{n}" for n in ids))


def _finding_names(ctx: ActionContext, findings: Sequence[str]) -> str:
    names = [ctx.t(f"scan.finding.{f}.name") for f in findings
             if ctx.knowledge.has_text(ctx.lang, f"scan.finding.{f}.name")]
    return locale.join(names, ctx.lang) if names else ""


def _plain(label: str) -> str:
    """An option's label without its leading emoji: the document is printed."""
    return _SYMBOLS.sub("", label).strip() or label


def _when(e: Event, tz: dt.tzinfo) -> str:
    return e.local(tz).strftime("%Y-%m-%d %H:%M")


def _answers(ctx: ActionContext, case_ids: Sequence[int]) -> dict[str, str]:
    """The name and phone the user gave in a report about this lender (the newest), if any."""
    for case_id in sorted(case_ids, reverse=True):
        case = ctx.store.case(ctx.user_id, case_id)
        answers = ((case["data"] if case else None) or {}).get("answers") or {}
        if answers.get("your_name") or answers.get("your_phone"):
            return {k: str(answers.get(k) or "") for k in ("your_name", "your_phone")}
    return {}


def _files(ctx: ActionContext, case_ids: Sequence[int], event_ids: set[int]) -> list[dict[str, Any]]:
    """The files of this lender's log: kept for one of its cases, or kept without a case (sent
    before any lender was known) when attached to one of its entries or when the user has
    only this lender."""
    only_lender = len(ev.lender_cases(ctx)) == 1
    seen: dict[int, dict[str, Any]] = {}
    for case_id in case_ids:
        for f in ctx.store.events.files(ctx.user_id, case_id):
            if f.get("case_id") in case_ids or (f.get("case_id") is None
                                                and (only_lender or f.get("event_id") in event_ids)):
                seen[int(f["id"])] = dict(f)
    return sorted(seen.values(), key=lambda f: (str(f["received_at"]), f["id"]))


def file_state(path: str, sha256: str) -> str:
    """"ok" when the kept file still hashes to what was recorded when it arrived, "changed"
    when not, "missing" when it is gone. Read in blocks: files may be large."""
    p = Path(path)
    if not p.is_file():
        return "missing"
    digest = hashlib.sha256()
    with p.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return "ok" if digest.hexdigest() == sha256.lower() else "changed"


def _file_item(ctx: ActionContext, f: dict[str, Any], numbers: dict[int, int]) -> FileItem:
    state = file_state(str(f["path"]), str(f["sha256"]))
    received = dt.datetime.fromisoformat(str(f["received_at"]).replace("Z", "+00:00"))
    if received.tzinfo is None:
        received = received.replace(tzinfo=dt.UTC)
    entry = f"#{numbers[int(f['event_id'])]}" if f.get("event_id") and int(f["event_id"]) in numbers else ""
    return FileItem(name=str(f["name"]), size=_size(int(f["size"])), sha256=str(f["sha256"]),
                    received=received.astimezone(ctx.tz).strftime("%Y-%m-%d %H:%M:%S"),
                    check=ctx.t(f"bundle.file.{state}"), ok=state == "ok", entry=entry)


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KB" if n < 1 << 20 else f"{n / (1 << 20):.1f} MB"


def _letters(ctx: ActionContext, events: Sequence[Event], case_ids: Sequence[int],
             lender: str) -> tuple[LetterItem, ...]:
    """What the project records as sent: the stop-contact request (stop_sent events) and the
    complaints tracked for this lender (storage/reminders.py), oldest first."""
    out: list[tuple[str, LetterItem]] = []
    for e in events:
        if e.kind == STOP_SENT:
            day = e.local(ctx.tz).date().isoformat()
            out.append((day, LetterItem(day, ctx.t("bundle.letter.stop_sent"))))
    key = ev._key(lender)
    for c in ctx.store.reminders.complaints(ctx.user_id, limit=200):
        if c.get("case_id") not in case_ids and ev._key(str(c.get("lender") or "")) != key:
            continue
        body = str(c.get("body") or "other")
        what = ctx.t(f"complaints.body.opt.{body}") if ctx.knowledge.has_text(ctx.lang, f"complaints.body.opt.{body}") \
            else str(c.get("body_name") or body)
        if body == "other" and c.get("body_name"):
            what = str(c["body_name"])
        detail = ctx.t("bundle.letter.ticket", ticket=c["ticket"]) if c.get("ticket") else ""
        day = str(c.get("filed_on") or "")[:10]
        out.append((day, LetterItem(day, what, detail)))
    return tuple(item for _, item in sorted(out, key=lambda x: x[0]))


def csv_name(lender: str, lang: str, today: dt.date) -> str:
    return f"evidence-{_slug(lender)}-{today.isoformat()}{'' if lang == 'zh' else '-' + lang}.csv"


def html_name(lender: str, lang: str, today: dt.date) -> str:
    return f"evidence-{_slug(lender)}-{today.isoformat()}-{lang}.html"


def _slug(text: str) -> str:
    return re.sub(r"[^\w-]+", "_", text).strip("_")[:40] or "case"


# --- the chat ------------------------------------------------------------------------------

@command("bundle")
def bundle_command(ctx: ActionContext) -> list[Reply]:
    cases = ev.lender_cases(ctx)
    if not cases:
        return [Reply(text=ctx.t("bundle.none"), buttons=(EvidenceButton("log").button(ctx.t("evidence.button.log")),))]
    if len(cases) == 1:
        return ask_addressee(ctx, cases[0])
    return [Reply(text=ctx.t("bundle.pick_case"), kind="question", buttons=tuple(
        BundleButton("c", c["id"]).button(ev._short(ev.case_lender(c))) for c in cases[:ev.MAX_LENDERS]))]


def ask_addressee(ctx: ActionContext, case: CaseRow) -> list[Reply]:
    return [Reply(text=ctx.t("bundle.pick_to", lender=ev.case_lender(case)), kind="question", buttons=tuple(
        BundleButton("to", case["id"], to).button(to_label(ctx, to)) for to in ADDRESSEES))]


def deliver(ctx: ActionContext, case: CaseRow, to: str) -> list[Reply]:
    bundle = build(ctx, case, to)
    lender = ev.case_lender(case)
    if bundle is None:
        return [Reply(text=ctx.t("evidence.timeline.empty", lender=lender),
                      buttons=(EvidenceButton("log", case["id"]).button(ctx.t("evidence.button.log")),))]
    user = ctx.store.user_by_id(ctx.user_id)
    channel = user["channel"] if user else ""
    lines = [ctx.t("bundle.ready", lender=lender, n=len(bundle.rows), findings=len(bundle.findings),
                   to=to_label(ctx, to))]
    if ctx.public_url:
        token = ctx.store.links.create(ctx.user_id, KIND, {"case": case["id"], "to": to},
                                       dt.timedelta(days=ctx.link_days))
        url = f"{ctx.public_url.rstrip('/')}/d/{token}"
        expires = (ctx.now + dt.timedelta(days=ctx.link_days)).date()
        lines.append(ctx.t("bundle.link", url=url, expires=locale.fmt_date(expires, ctx.lang)))
    elif channel not in FILE_CHANNELS:
        lines.append(ctx.t("bundle.no_link"))
    files: tuple[FileOut, ...] = ()
    if channel in FILE_CHANNELS:
        today = ctx.now.date()
        zh = bundle if ctx.lang == "zh" else build(ctx, case, to, "zh")
        for b in (bundle,) if zh is None or zh is bundle else (bundle, zh):
            files += (FileOut(name=html_name(lender, b.lang, today), content=render_html(b), mime="text/html"),)
        if zh is not None:
            files += (FileOut(name=csv_name(lender, "zh", today), content=render_csv(zh.rows, zh.labels),
                              mime="text/csv"),)
        lines.append(ctx.t("bundle.files"))
    lines.append(ctx.t("bundle.how"))
    return [Reply(text="\n\n".join(lines), kind="notice", files=files, buttons=(
        EvidenceButton("tl", case["id"]).button(ctx.t("evidence.button.timeline")),))]


@button(BundleButton)
def bundle_button(ctx: ActionContext) -> list[Reply]:
    data = ctx.data
    assert isinstance(data, BundleButton)
    case = ev._own_case(ctx, data.case)
    if case is None:
        return [Reply(text=ctx.t("evidence.not_found"), kind="notice")]
    if data.what == "to" and data.to in ADDRESSEES:
        return deliver(ctx, case, data.to)
    return ask_addressee(ctx, case)
