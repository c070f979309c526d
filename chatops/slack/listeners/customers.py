"""The Customer modal's flag buttons: set or clear vip, troll, blocked, then redraw the modal."""

from __future__ import annotations

import re

from slack_bolt import App

from chatops.slack import blocks, ids
from chatops.slack.cards import customer_summary
from chatops.slack.listeners.common import action_value, guarded
from chatops.slack.surface import SlackSurface
from chatops.tickets import service
from chatops.tickets.customers import flag_customer


def register(app: App, surface: SlackSurface) -> None:
    """Attach the flag button listener."""

    @app.action(re.compile(rf"^{re.escape(ids.CUSTOMER_FLAG)}\."))
    def flag(ack, body, respond, client):
        ack()
        flag_name, state, key = action_value(body).split(":", 2)
        actor = body["user"]["id"]
        done = guarded(surface, body, respond, "flag", lambda: flag_customer(
            surface.flows, key, actor=actor, flag=flag_name, on=state == "on"))
        if done is None or not body.get("view"):
            return
        with surface.runtime.session_factory() as session:
            summary = customer_summary(session, service.get_ticket(session, key=key))
        view = body["view"]
        client.views_update(view_id=view["id"], view=blocks.customer_modal(summary, surface.rules, surface.lang))
