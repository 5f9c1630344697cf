"""Witness codes in the chat (issue 16, item 7): /witness lists the borrower's working codes,
makes a new one for the people collectors call (the employer, a contact, family) and
withdraws one. A new code comes with the note to the employer or the message to contacts,
in Chinese (the language of the letters), carrying the code's link and the code, ready to
send; whoever got a call opens it (bot/channels/witness.py) and records the call, which
arrives in this log as a witness's entry.

Nothing of the case is shown to the witness, and the code is shown to the borrower once (only
its hash is kept): a lost code is withdrawn and a new one made.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from bot import locale
from bot.actions import evidence as ev
from bot.actions.buttons import EvidenceButton, WitnessButton
from bot.actions.registry import ActionContext, before_reply, button, command
from bot.core.models import Reply
from storage.witness import shown

if TYPE_CHECKING:
    from storage.rows import CaseRow

WHO = ("employer", "contact", "family")
#: the letter that carries the code, for each kind of witness
LETTER = {"employer": "employer_notice", "contact": "contacts_message", "family": "contacts_message"}
LETTERS_LANG = "zh"          # letters go to people in China (bot/actions/drafts.py)


def page_url(public_url: str, code: str | None = None) -> str:
    base = public_url.rstrip("/") + "/w"
    return f"{base}/{code}" if code else base


@command("witness")
def witness_command(ctx: ActionContext) -> list[Reply]:
    return overview(ctx)


def overview(ctx: ActionContext) -> list[Reply]:
    codes = ctx.store.witness.live(ctx.user_id)
    lines = [ctx.t("witness.intro")]
    buttons = []
    for i, c in enumerate(codes, 1):
        case = ctx.store.case(ctx.user_id, c.case_id)
        lines.append(ctx.t("witness.item", n=i, who=ctx.t(f"witness.who.{c.who}"),
                           lender=ev.case_lender(case) if case else "?", created=_day(ctx, c.created_at),
                           expires=_day(ctx, c.expires_at), entries=c.entries))
        buttons.append(WitnessButton("x", c.id).button(ctx.t("witness.button.revoke", n=i)))
    if not codes:
        lines.append(ctx.t("witness.none"))
    if ev.lender_cases(ctx):
        buttons.append(WitnessButton("c").button(ctx.t("witness.button.new")))
    else:
        lines.append(ctx.t("witness.no_case"))
        buttons.append(EvidenceButton("log").button(ctx.t("evidence.button.log")))
    return [Reply(text="\n\n".join(lines), buttons=tuple(buttons))]


def _day(ctx: ActionContext, iso: str) -> str:
    at = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return locale.fmt_date(at.astimezone(ctx.tz).date(), ctx.lang)


def pick_case(ctx: ActionContext) -> list[Reply]:
    cases = ev.lender_cases(ctx)
    if len(cases) == 1:
        return ask_who(ctx, cases[0])
    if not cases:
        return overview(ctx)
    return [Reply(text=ctx.t("witness.pick_case"), kind="question", buttons=tuple(
        WitnessButton("c", c["id"]).button(ev._short(ev.case_lender(c))) for c in cases[:ev.MAX_LENDERS]))]


def ask_who(ctx: ActionContext, case: CaseRow) -> list[Reply]:
    return [Reply(text=ctx.t("witness.pick_who", lender=ev.case_lender(case)), kind="question", buttons=tuple(
        WitnessButton("new", case["id"], who).button(ctx.t(f"witness.who.{who}")) for who in WHO))]


def make(ctx: ActionContext, case: CaseRow, who: str) -> list[Reply]:
    if not ctx.public_url:
        return [Reply(text=ctx.t("witness.no_public_url"), kind="notice")]
    days = ctx.link_days
    _, code = ctx.store.witness.create(ctx.user_id, case["id"], who, dt.timedelta(days=days))
    url, home = page_url(ctx.public_url, code), page_url(ctx.public_url)
    expires = locale.fmt_date((ctx.now + dt.timedelta(days=days)).date(), ctx.lang)
    replies = [Reply(text=ctx.t("witness.made", who=ctx.t(f"witness.who.{who}"), code=shown(code), url=url,
                                home=home, expires=expires), kind="notice",
                     buttons=(WitnessButton("l").button(ctx.t("witness.button.list")),))]
    letter = _letter(ctx, case, who, {"witness_url": url, "witness_code": shown(code), "witness_home": home})
    if letter is not None:
        replies.append(Reply(text=ctx.t("witness.letter_intro"), kind="notice"))
        replies.append(letter)
    else:
        replies.append(Reply(text=ctx.knowledge.text(LETTERS_LANG, "witness.line", url=url, code=shown(code),
                                                      home=home), kind="draft", draft_id=LETTER[who]))
    return replies


def _letter(ctx: ActionContext, case: CaseRow, who: str, extra: dict[str, str]) -> Reply | None:
    """The note to the employer / the message to contacts of the case's report, with the code."""
    from bot.actions.drafts import render_drafts

    answers = (case.get("data") or {}).get("answers") or {}
    if case.get("kind") != ev.REPORT_KIND or not answers:
        return None
    draft_id = LETTER[who]
    text = render_drafts(answers, ctx.knowledge, LETTERS_LANG, ctx.now.date(), only=[draft_id], extra=extra)
    return Reply(text=text[draft_id], kind="draft", draft_id=draft_id) if text.get(draft_id) else None


@before_reply
def witness_news(ctx: ActionContext) -> list[Reply]:
    """Entries witnesses made since the borrower's last message: said once, before the answer."""
    new = ctx.store.witness.take_unseen(ctx.user_id)
    if not new:
        return []
    return [Reply(text=ctx.t("witness.news", n=new), kind="notice")]


@button(WitnessButton)
def witness_button(ctx: ActionContext) -> list[Reply]:
    data = ctx.data
    assert isinstance(data, WitnessButton)
    if data.what == "x" and data.id is not None:
        gone = ctx.store.witness.revoke(ctx.user_id, data.id)
        note = Reply(text=ctx.t("witness.revoked" if gone else "witness.gone"), kind="notice")
        return [note, *overview(ctx)]
    if data.what == "c" and data.id is None:
        return pick_case(ctx)
    if data.what in ("c", "new"):
        case = ev._own_case(ctx, data.id)
        if case is None:
            return [Reply(text=ctx.t("evidence.not_found"), kind="notice")]
        if data.what == "new" and data.who in WHO:
            return make(ctx, case, data.who)
        return ask_who(ctx, case)
    return overview(ctx)
