"""The Customer modal's controls: flag buttons (set or clear vip, troll, blocked) and the tier
select (the same as `/ticket tier`, with its permission), each redrawing the modal."""

from __future__ import annotations

import re

from slack_bolt import App

from chatops.slack import blocks, ids
from chatops.slack.listeners.common import action_value, customer_of, guarded
from chatops.slack.surface import SlackSurface
from chatops.tickets.customers import flag_customer


def register(app: App, surface: SlackSurface) -> None:
    """Attach the flag button and tier select listeners."""

    def redraw(body: dict, client, key: str) -> None:
        if not body.get("view"):
            return
        summary = surface.desk().read(customer_of, key=key)
        client.views_update(view_id=body["view"]["id"], view=blocks.customer_modal(summary, surface.rules,
                                                                                     surface.lang))

    @app.action(re.compile(rf"^{re.escape(ids.CUSTOMER_FLAG)}\."))
    def flag(ack, body, respond, client):
        ack()
        flag_name, state, key = action_value(body).split(":", 2)
        actor = body["user"]["id"]
        done = guarded(surface, body, respond, "flag", lambda: flag_customer(
            surface.flows, key, actor=actor, flag=flag_name, on=state == "on"))
        if done is not None:
            redraw(body, client, key)

    @app.action(ids.CUSTOMER_TIER)
    def tier(ack, body, respond, client):
        ack()
        tier_name, key = action_value(body).split(":", 1)
        actor = body["user"]["id"]
        guarded(surface, body, respond, "tier", lambda: surface.flows.set_customer_tier(
            key, actor=actor, tier=tier_name))
        # Redrawn even when refused, so the select shows the tier the customer really has.
        redraw(body, client, key)
