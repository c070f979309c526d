"""Thread lines of the events about a ticket's customer records: linked, unlinked, erased, and
ingest's "possibly the same person" suggestion with its Link button. Rendered at delivery from
the records as they are then (the events hold record ids only, never a handle)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from chatops.customers.keys import key_of
from chatops.i18n import t
from chatops.slack import ids
from chatops.slack.blocks.common import clip_mrkdwn, plain, user
from chatops.slack.blocks.text import escape
from chatops.tickets.models import Customer, TicketEvent

KINDS = ("customers_linked", "customers_unlinked", "customer_erased", "link_suggested")


def _keys(session: Session, customer_ids) -> str:
    records = [session.get(Customer, customer_id) for customer_id in customer_ids or ()]
    return ", ".join(escape(key_of(record)) for record in records if record is not None) or "-"


def line_text(session: Session, event: TicketEvent, lang: str) -> str:
    """The line's text: who linked, unlinked or erased which records."""
    payload = event.payload or {}
    if event.kind == "customer_erased":
        return t("customers.line.customer_erased", lang, who=user(event.actor, lang))
    if event.kind == "link_suggested":
        return t("customers.line.link_suggested", lang, keys=_keys(session, payload.get("candidates")))
    return t(f"customers.line.{event.kind}", lang, who=user(event.actor, lang),
             keys=_keys(session, payload.get("customers")))


def suggestion_message(session: Session, event: TicketEvent, lang: str) -> dict:
    """The suggestion line with one Link button per candidate record."""
    text = line_text(session, event, lang)
    mine = (event.payload or {}).get("customer_id")
    buttons = []
    for other in ((event.payload or {}).get("candidates") or [])[:5]:
        record = session.get(Customer, other)
        if record is None:
            continue
        buttons.append({"type": "button", "action_id": f"{ids.LINK_SUGGESTED}.{other}",
                        "text": plain(t("customers.line.link_button", lang, key=key_of(record)), 75),
                        "value": f"{mine}:{other}"})
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": clip_mrkdwn(text, 3000)}}]
    if buttons:
        blocks.append({"type": "actions", "block_id": "customer.suggestion", "elements": buttons})
    return {"text": text, "blocks": blocks}
