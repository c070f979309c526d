"""Reads the chat surfaces need around a command: a ticket's few fields a modal shows, a failed
reply's text, the ticket behind a thread, overdue tickets. Functions take `session` first and
keyword-only arguments, return plain data (or loaded rows for the caller's own session) and
never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chatops.sla.state import overdue_clause
from chatops.tickets import service
from chatops.tickets.models import Message, SurfaceThread, Ticket


@dataclass(frozen=True)
class TicketBrief:
    """What a modal about a ticket needs of it, readable after its session closed."""

    id: int
    key: str
    status: str
    level: str
    tags: tuple[str, ...]
    source: str
    account: str | None
    matched_rules: tuple[str, ...] = ()
    answers_kind: str | None = None  # the kind of the customer's last message (what a reply answers)
    answers_meta: dict | None = None


def ticket_brief(session: Session, *, key: str) -> TicketBrief:
    """The brief of the ticket with this key (TicketNotFound naming the key otherwise)."""
    ticket = service.get_ticket(session, key=key)
    last = service.last_inbound(session, ticket_id=ticket.id)
    return TicketBrief(id=ticket.id, key=ticket.key, status=ticket.status, level=ticket.level,
                       tags=tuple(ticket.tags or ()), source=ticket.source, account=ticket.account,
                       matched_rules=tuple(ticket.matched_rules or ()),
                       answers_kind=last.kind if last else None, answers_meta=dict(last.meta or {}) if last else None)


def failed_reply_text(session: Session, *, key: str, message_id: int) -> str | None:
    """The text of message `message_id` when it belongs to ticket `key` (what an Edit of a failed
    reply prefills), else None."""
    message = session.get(Message, message_id)
    if message is None or message.ticket_id != service.parse_ticket_key(key):
        return None
    return message.text


def ticket_id_of_thread(session: Session, *, surface: str, channel: str, ts: str) -> int | None:
    """The ticket whose parent message on `surface` is (channel, ts), if any."""
    return session.scalar(select(SurfaceThread.ticket_id).where(
        SurfaceThread.surface == surface, SurfaceThread.channel == channel, SurfaceThread.ts == ts))


def overdue_tickets(session: Session, *, now: datetime, limit: int = 20) -> list[Ticket]:
    """Open tickets whose live SLA deadline has passed, most overdue first."""
    stmt = (select(Ticket).where(overdue_clause(now))
            .order_by(func.coalesce(Ticket.first_response_due_at, Ticket.resolution_due_at), Ticket.id).limit(limit))
    return list(session.scalars(stmt).unique())
