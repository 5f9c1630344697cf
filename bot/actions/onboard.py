"""The /start dialog's completion: answer what the user said they need most."""

from __future__ import annotations

from bot.actions.registry import ActionContext, action
from bot.core import screens
from bot.core.models import Reply

# What each /start choice leads to: a topic answer (None: invite a typed question).
NEED_TOPIC = {
    "employer": "employer_contact",
    "contacts": "contacts_contact",
    "threats": "threats_violence",
    "calls": "call_hours_frequency",
    "complain": "complaint_channels",
    "ask": None,
}


def topic_for_need(need: str | None) -> str | None:
    return NEED_TOPIC.get(need or "ask")


@action("onboard")
def onboard(ctx: ActionContext) -> list[Reply]:
    topic = topic_for_need(ctx.slots.get("need"))
    engine = ctx.extra["engine"]
    if topic is None or topic not in ctx.knowledge.answers:
        return [Reply(text=ctx.t("start.ask_prompt"))]
    return [screens.answer(ctx.knowledge, topic, ctx.lang, engine.dialogs)]
