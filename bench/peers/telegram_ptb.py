"""The /report dialog written the idiomatic python-telegram-bot way, as the peer of our stack
in bench/telegram.py: a ConversationHandler whose states are the dialog's steps, answers in
context.user_data, PicklePersistence for both (flushed every `update_interval`, 60 s by
default: a crash loses up to that much of every user's progress; ours commits every step).

It asks the same questions with the same words and button ids, follows the same branches
(dialogs/report.yaml's show_if), parses typed answers with the same functions, and ends with
the same findings, steps and drafts (bot.actions.report), so the two stacks do the same
work per update; what differs is the plumbing the comparison is about.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    PicklePersistence,
    filters,
)
from telegram.request import BaseRequest

from bot.actions.report import compose, draft_replies, findings_replies, steps_reply
from bot.flow import inputs
from bot.flow.models import END, Dialog, Step
from bot.knowledge.loader import Knowledge

REVIEW = "_review"


class ReportConversation:
    def __init__(self, k: Knowledge, dialog: Dialog, today: dt.date, lang: str = "en"):
        self.k, self.dialog, self.today, self.lang = k, dialog, today, lang

    # screens ----------------------------------------------------------------------------------
    def t(self, key: str, **values: Any) -> str:
        return self.k.text(self.lang, key, **values)

    def labels(self, step: Step) -> dict[str, str]:
        return {o: self.t(f"{step.ask}.opt.{o}") for o in step.options}

    def screen(self, sid: str, data: dict[str, Any]) -> tuple[str, InlineKeyboardMarkup | None]:
        step = self.dialog.steps[sid]
        lines = [self.t(f"{step.ask}.q")]
        rows: list[list[InlineKeyboardButton]] = []
        labels = self.labels(step)
        if step.input == "choice":
            rows = [[InlineKeyboardButton(labels[o], callback_data=f"o:{o}")] for o in step.options]
        elif step.input == "multi":
            selected = data.get("_sel", [])
            rows = [[InlineKeyboardButton(("✓ " if o in selected else "") + labels[o], callback_data=f"o:{o}")]
                    for o in step.options]
            rows.append([InlineKeyboardButton(self.t("flow.done"), callback_data="c:done")])
            lines.append(self.t("flow.hint.multi"))
        elif step.input == "yesno":
            rows = [[InlineKeyboardButton(self.t("flow.yes"), callback_data="o:yes"),
                     InlineKeyboardButton(self.t("flow.no"), callback_data="o:no")]]
        controls = []
        if step.optional:
            controls.append(InlineKeyboardButton(self.t("flow.skip"), callback_data="c:skip"))
        if data.get("_history"):
            controls.append(InlineKeyboardButton(self.t("flow.back"), callback_data="c:back"))
        if controls:
            rows.append(controls)
        return "\n".join(lines), InlineKeyboardMarkup(rows) if rows else None

    def review(self, data: dict[str, Any]) -> tuple[str, InlineKeyboardMarkup]:
        lines = [self.t("flow.review.title", title=self.t(self.dialog.title)), ""]
        answers = data["answers"]
        for sid in self.dialog.path(answers):
            lines.append(f"• {sid}: {answers.get(self.dialog.slot(sid))}")
        rows = [[InlineKeyboardButton(self.t("flow.review.ok"), callback_data="c:ok")],
                [InlineKeyboardButton(self.t("flow.cancel"), callback_data="c:cancel")]]
        return "\n".join(lines), InlineKeyboardMarkup(rows)

    # handlers ---------------------------------------------------------------------------------
    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
        context.user_data.clear()
        context.user_data.update(answers={}, _history=[])
        await update.effective_message.reply_text(self.t(self.dialog.intro))
        return await self.ask(update, context, self.dialog.start)

    async def ask(self, update: Update, context: ContextTypes.DEFAULT_TYPE, sid: str) -> str:
        if sid == END:
            text, markup = self.review(context.user_data)
            await update.effective_chat.send_message(text, reply_markup=markup)
            return REVIEW
        text, markup = self.screen(sid, context.user_data)
        await update.effective_chat.send_message(text, reply_markup=markup)
        return sid

    async def advance(self, update: Update, context: ContextTypes.DEFAULT_TYPE, sid: str, value: Any) -> str:
        data = context.user_data
        slot = self.dialog.slot(sid)
        if value is None:
            data["answers"].pop(slot, None)
        else:
            data["answers"][slot] = value
        data.pop("_sel", None)
        data["_history"].append(sid)
        return await self.ask(update, context, self.dialog.next_step(sid, data["answers"]))

    def on_button(self, sid: str):
        async def handler(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
            query = update.callback_query
            await query.answer()
            kind, _, arg = query.data.partition(":")
            data = context.user_data
            step = self.dialog.steps[sid]
            if query.data == "c:back" and data["_history"]:
                await query.edit_message_reply_markup(None)
                previous = data["_history"].pop()
                return await self.ask(update, context, previous)
            if query.data == "c:skip" and step.optional:
                await query.edit_message_reply_markup(None)
                return await self.advance(update, context, sid, None)
            if query.data == "c:done" and step.input == "multi":
                await query.edit_message_reply_markup(None)
                return await self.advance(update, context, sid, data.get("_sel") or None)
            if kind == "o" and step.input == "yesno" and arg in ("yes", "no"):
                await query.edit_message_reply_markup(None)
                return await self.advance(update, context, sid, arg == "yes")
            if kind == "o" and arg in step.options:
                if step.input == "multi":
                    selected = set(data.get("_sel", [])) ^ {arg}
                    data["_sel"] = [o for o in step.options if o in selected]
                    text, markup = self.screen(sid, data)
                    await query.edit_message_text(text, reply_markup=markup)
                    return sid
                await query.edit_message_reply_markup(None)
                return await self.advance(update, context, sid, arg)
            return sid
        return handler

    def on_text(self, sid: str):
        async def handler(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
            step = self.dialog.steps[sid]
            text = update.message.text
            if step.input == "text":
                result = inputs.parse_text(step, text)
            elif step.input == "number":
                result = inputs.parse_number(step, text)
            elif step.input == "date":
                result = inputs.parse_date_answer(step, text, self.today)
            elif step.input == "yesno":
                result = inputs.parse_yesno(text)
            elif step.input == "choice":
                result = inputs.parse_choice(step, text, self.labels(step))
            else:
                result = inputs.parse_multi(step, text, self.labels(step))
            if isinstance(result, inputs.Ok):
                return await self.advance(update, context, sid, result.value)
            await update.message.reply_text(self.t(f"flow.bad.{result.reason}", **dict(result.values)))
            return await self.ask(update, context, sid)
        return handler

    async def on_review(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
        query = update.callback_query
        await query.answer()
        await query.edit_message_reply_markup(None)
        if query.data != "c:ok":
            await update.effective_chat.send_message(self.t("flow.cancelled"))
            return ConversationHandler.END
        outcome = compose(context.user_data["answers"], self.k, self.lang, self.today)
        replies = [*findings_replies(outcome, self.k, self.lang), steps_reply(outcome, self.k, self.lang),
                   *draft_replies(outcome, self.k, self.lang)]
        cases = context.user_data.setdefault("cases", [])
        cases.append({"answers": dict(context.user_data["answers"]), "drafts": outcome.drafts})
        for reply in replies:
            await update.effective_chat.send_message(reply.text)
        return ConversationHandler.END

    async def cancel(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        await update.effective_message.reply_text(self.t("flow.cancelled"))
        return ConversationHandler.END


def build_peer(token: str, request: BaseRequest, k: Knowledge, dialog: Dialog, today: dt.date, path: Path,
               update_interval: float = 60) -> Application:
    """The peer Application (sequential, PTB's default: ConversationHandler is not meant for
    concurrent updates)."""
    conv = ReportConversation(k, dialog, today)
    states: dict[object, list] = {
        sid: [CallbackQueryHandler(conv.on_button(sid)),
              MessageHandler(filters.TEXT & ~filters.COMMAND, conv.on_text(sid))]
        for sid in dialog.steps
    }
    states[REVIEW] = [CallbackQueryHandler(conv.on_review)]
    handler = ConversationHandler(
        entry_points=[CommandHandler("report", conv.start)],
        states=states,
        fallbacks=[CommandHandler("cancel", conv.cancel)],
        name="report",
        persistent=True,
    )
    persistence = PicklePersistence(filepath=path, update_interval=update_interval)
    app = (ApplicationBuilder().token(token).request(request).get_updates_request(request)
           .persistence(persistence).updater(None).build())
    app.add_handler(handler)
    return app

