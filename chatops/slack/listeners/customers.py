"""The Customer modal's controls: flag buttons (set or clear vip, troll, blocked), the tier
select (the same as `/ticket tier`, with its permission), the linked records (Unlink buttons,
and the modal's Link submission), each redrawing the modal; and the Link button of ingest's
"possibly the same person" thread line. Linking takes the `link` role (rules.yaml permissions)."""

from __future__ import annotations

import re

from slack_bolt import App

from chatops.customers.service import link, unlink
from chatops.errors import DomainError
from chatops.i18n import t
from chatops.slack import blocks, ids
from chatops.slack.listeners.common import action_value, customer_of, guarded, tell
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

    @app.action(re.compile(rf"^{re.escape(ids.CUSTOMER_UNLINK)}\."))
    def unlink_record(ack, body, respond, client):
        ack()
        mine, other, key = action_value(body).split(":", 2)
        actor = body["user"]["id"]
        guarded(surface, body, respond, "link", lambda: unlink(surface.flows, f"#{mine}", f"#{other}", actor=actor))
        redraw(body, client, key)

    @app.view(ids.CUSTOMER_VIEW)
    def link_record(ack, body, view):
        """The modal's Link: the typed `network:handle` joins this customer's records; a refusal
        or an unknown key shows under the field."""
        typed = ((view["state"]["values"].get(ids.CUSTOMER_LINK_BLOCK) or {}).get(ids.CUSTOMER_LINK) or {}) \
            .get("value") or ""
        key, actor = view["private_metadata"], body["user"]["id"]
        if not typed.strip():
            ack()
            return
        if not surface.may(actor, "link"):
            ack(response_action="errors", errors={ids.CUSTOMER_LINK_BLOCK: surface.refusal("link")[:150]})
            return
        summary = surface.desk().read(customer_of, key=key)
        try:
            link(surface.flows, f"#{summary.customer_id}", typed.strip(), actor=actor)
        except DomainError as exc:
            ack(response_action="errors", errors={ids.CUSTOMER_LINK_BLOCK: surface.error_text(exc)[:150]})
            return
        surface.changed()
        ack(response_action="update", view=blocks.customer_modal(surface.desk().read(customer_of, key=key),
                                                                  surface.rules, surface.lang))

    @app.action(re.compile(rf"^{re.escape(ids.LINK_SUGGESTED)}\."))
    def link_suggested(ack, body, respond):
        ack()
        mine, other = action_value(body).split(":", 1)
        actor = body["user"]["id"]
        done = guarded(surface, body, respond, "link", lambda: link(surface.flows, f"#{mine}", f"#{other}",
                                                                     actor=actor))
        if done is not None:
            tell(surface, body, respond, t("customers.slack.linked", surface.lang, keys=", ".join(done.keys)))
