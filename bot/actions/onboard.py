"""The /start dialog's completion: answer what the user said they need most."""

from __future__ import annotations

from bot.actions.registry import ActionContext, Reads, action
from bot.core import screens
from bot.core.models import Reply
from bot.knowledge.loader import Knowledge


def topic_for_need(k: Knowledge, need: str | None) -> str | None:
    """What a /start choice leads to (content/menus.yaml `start`): a topic, or None to invite a
    typed question. The start-up check matches the choices with the dialog's options."""
    return k.menus.start.get(need or "ask") if k.menus else None


@action("onboard", reads=Reads(slots=("need",)))
def onboard(ctx: ActionContext) -> list[Reply]:
    topic = topic_for_need(ctx.knowledge, ctx.slots.get("need"))
    if topic is None or topic not in ctx.knowledge.answers:
        return [Reply(text=ctx.t("start.ask_prompt"))]
    return [screens.answer(ctx.knowledge, topic, ctx.lang, ctx.dialogs)]
