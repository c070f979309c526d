"""What the Slack surface reads besides ticket views (chatops.views): failed replies for Home,
counts, thread lookups and the customer record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from chatops.customers.keys import group_of, key_of
from chatops.rules import Rules
from chatops.sla.state import overdue_clause
from chatops.slack.blocks import CustomerSummary, FailedReply
from chatops.tickets import service
from chatops.tickets.models import Message, SurfaceThread, Ticket
from chatops.views import views_of


def failed_replies(session: Session, *, user_id: str, rules: Rules, now: datetime,
                   limit: int = 50) -> list[FailedReply]:
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
    latest: dict[int, tuple[Message, Ticket]] = {}
    for message, ticket in session.execute(stmt).unique():
        if ticket.id not in latest and len(latest) < limit:
            latest[ticket.id] = message, ticket
    views = views_of(session, [ticket for _, ticket in latest.values()], rules=rules, now=now)
    return [FailedReply(view, message.id, message.author_id, message.delivery_error or "")
            for view, (message, _) in zip(views, latest.values(), strict=True)]


def count_overdue(session: Session, *, now: datetime) -> int:
    """How many open tickets are past their live SLA deadline (all of them, not a page)."""
    return session.scalar(select(func.count()).select_from(Ticket).where(overdue_clause(now))) or 0


def count_tickets(session: Session, **filters) -> int:
    """How many tickets `views.list_views(**filters)` would list without its limit."""
    stmt = service.list_tickets_query(**filters).order_by(None)
    return session.scalar(select(func.count()).select_from(stmt.subquery())) or 0


def thread_of(session: Session, ticket_id: int) -> SurfaceThread | None:
    """Where the ticket's Slack thread is, once its parent message was posted."""
    return session.get(SurfaceThread, (ticket_id, "slack"))


def ticket_id_of_thread(session: Session, *, channel: str, ts: str) -> int | None:
    """The ticket whose Slack parent message is (channel, ts), if any."""
    return session.scalar(select(SurfaceThread.ticket_id).where(
        SurfaceThread.surface == "slack", SurfaceThread.channel == channel, SurfaceThread.ts == ts))


def customer_summary(session: Session, ticket: Ticket) -> CustomerSummary:
    """The ticket's customer with the history of all their linked records (tickets newest
    first, average CSAT, messages kept without a ticket while blocked) and those records."""
    customer = ticket.customer
    group = group_of(session, customer)
    people = [member.id for member in group]
    linked = [member for member in group if member.id != customer.id]
    rows = session.execute(select(Ticket.id, Ticket.status, Ticket.priority, Ticket.created_at)
                           .where(Ticket.customer_id.in_(people)).order_by(Ticket.id.desc()).limit(20)).all()
    csat = session.scalar(select(func.avg(Ticket.csat_score)).where(Ticket.customer_id.in_(people)))
    stored_only = session.scalar(select(func.count()).select_from(Message).where(
        Message.customer_id.in_(people), Message.direction == "inbound", Message.ticket_id.is_(None)))
    return CustomerSummary(
        handle=customer.handle, name=customer.name, source=customer.source, tier=customer.tier,
        flags=tuple(customer.flags or ()), first_seen_at=min(m.first_seen_at for m in group),
        tickets=tuple((f"T-{row.id}", row.status, row.priority, row.created_at) for row in rows),
        csat=float(csat) if csat is not None else None, key=ticket.key,
        handles=tuple(f"{row.handle or row.name or '?'} ({row.source})" for row in linked),
        stored_only=stored_only or 0, last_seen_at=max(m.last_seen_at for m in group),
        customer_id=customer.id, linked=tuple((row.id, key_of(row)) for row in linked))


def marked(messages: list[dict], mark: dict) -> str | None:
    """The ts of the message carrying our metadata `mark` (event type and payload), if any: how
    a retry in doubt finds what an earlier attempt already posted."""
    for message in messages:
        metadata = message.get("metadata") or {}
        if (metadata.get("event_type") == mark["event_type"]
                and metadata.get("event_payload") == mark["event_payload"]):
            return message["ts"]
    return None
