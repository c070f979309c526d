"""CSAT in the ticket transactions: the rating request queued on resolve, and a rating reply
recorded on its ticket by ingest (never reopening it, never opening a new one)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import insert, select, update

from chatops.i18n import t
from chatops.inbound import InboundMessage
from chatops.rules import Rules
from chatops.stats.csat import parse_rating
from chatops.tickets.delivery import ReplyTo, queue_reply
from chatops.tickets.events import EventNotice
from chatops.tickets.models import Customer, Message, Ticket

RATING_WINDOW = timedelta(days=7)  # a bare "5" this long after the request still counts as a rating


class CsatRequester:
    """Projector: when a ticket is resolved and rules.yaml `stats.csat` covers its network and the
    customer's tier, store the request as an outbound message and queue it like any reply."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules

    def __call__(self, db, notice: EventNotice) -> None:
        if notice.kind != "resolved":
            return
        row = db.execute(select(Ticket.source, Ticket.account, Ticket.lang, Ticket.customer_id, Customer.tier,
                                Customer.flags)
                         .join(Customer, Customer.id == Ticket.customer_id)
                         .where(Ticket.id == notice.ticket_id)).one()
        csat = self.rules.stats.csat
        if row.source not in csat.networks or row.tier not in csat.tiers:
            return
        if "troll" in (row.flags or []):  # a rating request only invites more abuse
            return
        last = db.execute(select(Message.external_id, Message.conversation_id, Message.meta, Message.author_id)
                          .where(Message.ticket_id == notice.ticket_id, Message.direction == "inbound")
                          .order_by(Message.created_at.desc(), Message.id.desc()).limit(1)).first()
        lang = row.lang if row.lang in ("ja", "en") else self.rules.defaults.language
        text = t("stats.csat.request", lang)
        queue_reply(db, ticket_id=notice.ticket_id, source=row.source, account=row.account, text=text,
                    author_id="chatops", at=notice.at, dedupe_key=f"csat:{notice.event_id}", reply_to=ReplyTo.of(last),
                    kind="csat", customer_id=row.customer_id)
        db.execute(update(Ticket).where(Ticket.id == notice.ticket_id).values(csat_requested_at=notice.at))


class Rated(NamedTuple):
    """A rating reply stored on its ticket."""

    ticket_id: int
    message_id: int
    score: int
    channel: str
    assignee: str | None


def record_rating_reply(conn, *, message: InboundMessage, customer_id: int, ticket_id: int | None,
                        message_row: dict) -> Rated | None:
    """If `message` is a rating for a resolved ticket of this customer that asked for one, store it
    (message and score) and return what was stored; else None (ingest carries on as usual)."""
    score = parse_rating(message.text)
    if score is None:
        return None
    if ticket_id is None:
        ticket_id = conn.scalar(
            select(Ticket.id).where(Ticket.customer_id == customer_id, Ticket.account == message.account,
                                    Ticket.status == "resolved",
                                    Ticket.csat_requested_at >= message.created_at - RATING_WINDOW)
            .order_by(Ticket.csat_requested_at.desc()).limit(1))
        if ticket_id is None:
            return None
    ticket = conn.execute(select(Ticket.status, Ticket.csat_requested_at, Ticket.channel, Ticket.assignee,
                                 Ticket.customer_id)
                          .where(Ticket.id == ticket_id).with_for_update()).one()
    if ticket.status != "resolved" or ticket.csat_requested_at is None:
        return None
    if ticket.customer_id != customer_id:  # only the person who was asked rates: anyone else's "5" is a message
        return None
    message_id = conn.execute(insert(Message).returning(Message.id), {**message_row, "ticket_id": ticket_id}
                              ).scalar_one()
    rated_at: datetime = message.created_at
    conn.execute(update(Ticket).where(Ticket.id == ticket_id).values(
        csat_score=score, csat_rated_at=rated_at, version=Ticket.version + 1))
    return Rated(ticket_id, message_id, score, ticket.channel, ticket.assignee)
