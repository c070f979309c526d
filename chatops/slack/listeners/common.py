"""Helpers shared by listeners: telling a person something, running a guarded flow."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_sdk.errors import SlackApiError

from chatops.errors import DomainError
from chatops.i18n import t
from chatops.slack import blocks
from chatops.slack.cards import customer_summary
from chatops.slack.surface import SlackSurface
from chatops.tickets import service

log = logging.getLogger("chatops.slack")


def tell(surface: SlackSurface, body: dict, respond, text: str) -> None:
    """Show `text` to the person who acted: ephemerally in the channel, or as a modal when the
    click came from a modal or the Home tab (which have no ephemeral messages)."""
    if body.get("response_url") and not body.get("view"):
        respond(text=text, response_type="ephemeral", replace_original=False)
        return
    view = blocks.message_modal(t("slack.modal.notice", surface.lang), text, surface.lang)
    try:
        if body.get("view", {}).get("type") == "modal":
            surface.client.views_push(trigger_id=body["trigger_id"], view=view)
        else:
            surface.client.views_open(trigger_id=body["trigger_id"], view=view)
    except (SlackApiError, KeyError) as exc:
        log.warning("could not show a notice to %s: %s", body.get("user", {}).get("id"), exc)


def guarded(surface: SlackSurface, body: dict, respond, action: str, run: Callable[[], Any]) -> Any:
    """Check the role for `action`, run the flow, tell the person about a refusal.
    Returns the flow's result, or None when refused."""
    user_id = body["user"]["id"]
    if not surface.may(user_id, action):
        tell(surface, body, respond, f":no_entry: {surface.refusal(action)}")
        return None
    try:
        result = run()
    except DomainError as exc:
        tell(surface, body, respond, surface.error_text(exc))
        return None
    surface.changed()
    return result


def action_value(body: dict) -> str:
    """The value of the clicked element (a ticket key for ticket buttons)."""
    action = body["actions"][0]
    return action.get("value") or action.get("selected_option", {}).get("value", "")


def customer_of(session, *, key: str):
    """The Customer modal's summary of ticket `key`'s customer."""
    return customer_summary(session, service.get_ticket(session, key=key))
