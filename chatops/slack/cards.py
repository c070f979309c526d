"""Reading tickets into TicketCards (plain data for the Block Kit builders)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from chatops.sla.state import overdue_clause
from chatops.slack.blocks import CustomerSummary, FailedReply, TicketCard
from chatops.tickets import service
from chatops.tickets.models import Customer, Message, SurfaceThread, Ticket
from chatops.tickets.queries import overdue_tickets


def card_of(session: Session, ticket: Ticket) -> TicketCard:
    """The card of a loaded ticket: its first customer message gives text and link."""
    first = session.scalars(select(Message).where(
        Message.ticket_id == ticket.id, Message.direction == "inbound",
        Message.source == ticket.source, Message.external_id == ticket.external_id).limit(1)).first()
    customer = ticket.customer
    return TicketCard(
        key=ticket.key, status=ticket.status, priority=ticket.priority, level=ticket.level,
        channel=ticket.channel, source=ticket.source, account=ticket.account,
        text=first.text if first else ticket.subject, created_at=ticket.created_at, tags=tuple(ticket.tags),
        assignee=ticket.assignee, customer_handle=customer.handle, customer_name=customer.name,
        customer_flags=tuple(customer.flags or ()), url=first.url if first else None,
        first_response_at=ticket.first_response_at, first_response_due_at=ticket.first_response_due_at,
        resolution_due_at=ticket.resolution_due_at, resolved_at=ticket.resolved_at,
        first_response_warn_at=ticket.first_response_warn_at, resolution_warn_at=ticket.resolution_warn_at,
        matched_rules=tuple(ticket.matched_rules or ()),
        next_response_warn_at=ticket.next_response_warn_at, next_response_due_at=ticket.next_response_due_at,
        follows=f"T-{ticket.follows_ticket_id}" if ticket.follows_ticket_id else None,
    )


def load_card(session: Session, ticket_id: int) -> TicketCard:
    """The card of the ticket with this id (TicketNotFound when there is none)."""
    return card_of(session, service.get_ticket(session, key=f"T-{ticket_id}"))


def cards(session: Session, *, limit: int = 20, **filters) -> list[TicketCard]:
    """Cards of tickets listed as `service.list_tickets` lists them."""
    return [card_of(session, ticket) for ticket in service.list_tickets(session, limit=limit, **filters)]


def overdue_cards(session: Session, *, now: datetime, limit: int = 20) -> list[TicketCard]:
    """Open tickets whose live SLA deadline has passed (`sla_state` breached: a pending ticket's
    resolution clock is paused), most overdue first."""
    return [card_of(session, ticket) for ticket in overdue_tickets(session, now=now, limit=limit)]


def failed_replies(session: Session, *, user_id: str, limit: int = 50) -> list[FailedReply]:
    """Open tickets (written to by `user_id` or assigned to them) whose latest failed agent reply
    no later delivered reply followed, newest failure first: what Home lists on top."""
    later = aliased(Message)
    delivered_since = exists().where(and_(later.ticket_id == Message.ticket_id, later.direction == "outbound",
                                          later.delivery_state == "sent", later.id > Message.id))
    stmt = (select(Message, Ticket).join(Ticket, Ticket.id == Message.ticket_id)
            .where(Message.direction == "outbound", Message.delivery_state == "failed",
                   Message.kind.is_distinct_from("csat"), ~Message.author_id.like("chatops%"),
                   Ticket.status != "resolved", (Message.author_id == user_id) | (Ticket.assignee == user_id),
                   ~delivered_since)
            .order_by(Message.id.desc()).limit(limit * 4))
    found: dict[int, FailedReply] = {}
    for message, ticket in session.execute(stmt).unique():
        if ticket.id not in found and len(found) < limit:
            found[ticket.id] = FailedReply(card_of(session, ticket), message.id, message.author_id,
                                           message.delivery_error or "")
    return list(found.values())


def count_overdue(session: Session, *, now: datetime) -> int:
    """How many open tickets are past their live SLA deadline (all of them, not a page)."""
    return session.scalar(select(func.count()).select_from(Ticket).where(overdue_clause(now))) or 0


def count_tickets(session: Session, **filters) -> int:
    """How many tickets `cards(**filters)` would list without its limit."""
    stmt = service.list_tickets_query(**filters).order_by(None)
    return session.scalar(select(func.count()).select_from(stmt.subquery())) or 0


def thread_of(session: Session, ticket_id: int) -> SurfaceThread | None:
    """Where the ticket's Slack thread is, once its parent message was posted."""
    return session.get(SurfaceThread, (ticket_id, "slack"))


def customer_summary(session: Session, ticket: Ticket) -> CustomerSummary:
    """The ticket's customer with their tickets (newest first), average CSAT, linked handles
    and how many of their messages were kept without a ticket (while blocked)."""
    customer = ticket.customer
    people = [customer.id] + ([customer.linked_to_id] if customer.linked_to_id else [])
    linked = session.execute(select(Customer.source, Customer.handle, Customer.name).where(
        Customer.id != customer.id, (Customer.id.in_(people)) | (Customer.linked_to_id.in_(people)))).all()
    rows = session.execute(select(Ticket.id, Ticket.status, Ticket.priority, Ticket.created_at)
                           .where(Ticket.customer_id == customer.id).order_by(Ticket.id.desc()).limit(20)).all()
    csat = session.scalar(select(func.avg(Ticket.csat_score)).where(Ticket.customer_id == customer.id))
    stored_only = session.scalar(select(func.count()).select_from(Message).where(
        Message.customer_id == customer.id, Message.direction == "inbound", Message.ticket_id.is_(None)))
    return CustomerSummary(
        handle=customer.handle, name=customer.name, source=customer.source, tier=customer.tier,
        flags=tuple(customer.flags or ()), first_seen_at=customer.first_seen_at,
        tickets=tuple((f"T-{row.id}", row.status, row.priority, row.created_at) for row in rows),
        csat=float(csat) if csat is not None else None, key=ticket.key,
        handles=tuple(f"{row.handle or row.name or '?'} ({row.source})" for row in linked),
        stored_only=stored_only or 0, last_seen_at=customer.last_seen_at)


def marked(messages: list[dict], mark: dict) -> str | None:
    """The ts of the message carrying our metadata `mark` (event type and payload), if any: how
    a retry in doubt finds what an earlier attempt already posted."""
    for message in messages:
        metadata = message.get("metadata") or {}
        if (metadata.get("event_type") == mark["event_type"]
                and metadata.get("event_payload") == mark["event_payload"]):
            return message["ts"]
    return None
