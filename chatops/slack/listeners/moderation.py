"""Moderation from Slack: the card's "Moderate…" opens a form offering what the comment's network
allows (Instagram: no block); its submission asks the flows, which queue the Graph API call in the
outbox. Delete and block need the form's confirmation; each action needs its rules.yaml role
(`moderate`, `block`)."""

from __future__ import annotations

import json

from slack_bolt import App

from chatops.errors import DomainError
from chatops.i18n import t
from chatops.slack import ids
from chatops.slack.blocks.modals import moderate_modal
from chatops.slack.surface import SlackSurface
from chatops.tickets.moderation import PERMISSION, offered

# Actions that cannot be undone from chatops: the form asks for a confirmation first.
CONFIRMED = ("delete", "block")


def open_form(surface: SlackSurface, key: str) -> dict:
    """The moderation form of ticket `key` (a DomainError when it has no comment to moderate)."""
    network, actions = surface.desk().read(offered, key)
    return moderate_modal(key.upper(), network, actions, surface.lang)


def register(app: App, surface: SlackSurface) -> None:
    """Attach the moderation form's submission."""
    @app.view(ids.MODERATE_VIEW)
    def submitted(ack, body, view):
        actor = body["user"]["id"]
        meta = json.loads(view["private_metadata"])
        values = view["state"]["values"]
        action = ((values.get(ids.MODERATE_ACTION_BLOCK, {}).get(ids.MODERATE_ACTION_SELECT) or {})
                  .get("selected_option") or {}).get("value")
        if not action:
            ack(response_action="errors", errors={ids.MODERATE_ACTION_BLOCK: t("slack.modal.moderate_choose", surface.lang)})
            return
        if not surface.may(actor, PERMISSION[action]):
            ack(response_action="errors", errors={ids.MODERATE_ACTION_BLOCK: surface.refusal(PERMISSION[action])[:150]})
            return
        confirmed = ((values.get(ids.MODERATE_CONFIRM_BLOCK, {}).get(ids.MODERATE_CONFIRM_INPUT) or {})
                     .get("selected_option") or {}).get("value") == "yes"
        if action in CONFIRMED and not confirmed:
            ack(response_action="errors",
                errors={ids.MODERATE_CONFIRM_BLOCK: t("slack.modal.moderate_confirm_needed", surface.lang)})
            return
        try:
            surface.flows.moderate(meta["key"], actor=actor, action=action)
        except DomainError as exc:
            ack(response_action="errors", errors={ids.MODERATE_ACTION_BLOCK: surface.error_text(exc)[:150]})
            return
        ack()
        surface.changed()
