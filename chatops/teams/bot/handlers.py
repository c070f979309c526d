"""What a person's message, card action or dialog does: the command layer and the ticket flows,
with the sender's roles checked as on Slack."""

from __future__ import annotations

from typing import Any

from chatops.teams.bot.context import BotContext, Outcome
from chatops.teams.commands import answer


def on_message(ctx: BotContext, text: str) -> Outcome:
    """An @mention in a channel or a personal chat message: `ticket …`, `oncall …`, `stats …`."""
    return Outcome(text=answer(ctx.surface, ctx.actor, text, ctx.lang))


def on_action(ctx: BotContext, verb: str, data: dict[str, Any]) -> Outcome:
    """An `Action.Execute` from a ticket or page card (`adaptiveCard/action` invoke)."""
    raise NotImplementedError(verb)


def on_task_fetch(ctx: BotContext, data: dict[str, Any]) -> Outcome:
    """Open a dialog (`task/fetch`): Reply, Escalate or Customer for `data["ticket"]`."""
    raise NotImplementedError(data.get("dialog"))


def on_task_submit(ctx: BotContext, data: dict[str, Any]) -> Outcome:
    """A dialog's submit (`task/submit`): run the flow, or show the dialog again with the problem."""
    raise NotImplementedError(data.get("dialog"))
