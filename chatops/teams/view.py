"""Reading a ticket into a TicketView: plain data for the card builders in `cards.py`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from chatops.tickets import service
from chatops.tickets.models import Message, Ticket


@dataclass(frozen=True)
class TicketView:
    """What a Teams card shows of a ticket."""

    id: int
    key: str
    status: str
    priority: str
    level: str
    channel: str
    source: str
    account: str
    text: str
    customer: str
    assignee: str | None
    tags: tuple[str, ...]
    url: str | None
    created_at: datetime
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    first_response_at: datetime | None
    first_response_warn_at: datetime | None = None
    resolution_warn_at: datetime | None = None
    resolved_at: datetime | None = None
    next_response_warn_at: datetime | None = None
    next_response_due_at: datetime | None = None


def view_of(session: Session, ticket: Ticket) -> TicketView:
    """The view of a loaded ticket; its first customer message gives text and link."""
    first = session.scalars(select(Message).where(
        Message.ticket_id == ticket.id, Message.direction == "inbound",
        Message.source == ticket.source, Message.external_id == ticket.external_id).limit(1)).first()
    customer = ticket.customer
    return TicketView(
        id=ticket.id, key=ticket.key, status=ticket.status, priority=ticket.priority, level=ticket.level,
        channel=ticket.channel, source=ticket.source, account=ticket.account,
        text=first.text if first else ticket.subject,
        customer=customer.handle or customer.name or customer.external_user_id,
        assignee=ticket.assignee, tags=tuple(ticket.tags), url=first.url if first else None,
        created_at=ticket.created_at, first_response_due_at=ticket.first_response_due_at,
        resolution_due_at=ticket.resolution_due_at, first_response_at=ticket.first_response_at,
        first_response_warn_at=ticket.first_response_warn_at, resolution_warn_at=ticket.resolution_warn_at,
        resolved_at=ticket.resolved_at, next_response_warn_at=ticket.next_response_warn_at,
        next_response_due_at=ticket.next_response_due_at)


def load_view(session: Session, ticket_id: int) -> TicketView:
    """The view of ticket `T-<ticket_id>` (TicketNotFound when there is none)."""
    return view_of(session, service.get_ticket(session, key=f"T-{ticket_id}"))
