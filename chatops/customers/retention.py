"""rules.yaml `retention:` — the scheduler's pass that erases or anonymises customer text older
than `customer_text_days`, in batches, on the leader only (chatops.scheduler).

What it touches: inbound messages older than the cut-off that are not on an open ticket (an
agent still working a case keeps its words), the subjects of their tickets, and the ticket
events' and outbox items' payloads of those tickets. `anonymise` also drops the messages'
authors and, for customers last seen before the cut-off with no open ticket, their handle,
name and network id. Each batch writes one `retention_applied` audit row.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, or_, select, update
from sqlalchemy.engine import Connection

from chatops.customers.audit import record_audit
from chatops.customers.scrub import ERASED, pattern_of, secrets_of
from chatops.customers.service import scrub_ticket_rows
from chatops.tickets.models import Customer, Message, Ticket
from chatops.tickets.record import UnitOfWork

ACTOR = "chatops:retention"


def retention_pass(rules, conn: Connection, now: datetime, *, limit: int = 500) -> list[int]:
    """One batch of the retention rule; the ids of the messages whose text went."""
    config = rules.retention
    if not config.active:
        return []
    cutoff = now - timedelta(days=config.customer_text_days)
    anonymise = config.mode == "anonymise"
    uow = UnitOfWork(conn)
    pending = Message.text != ERASED
    if anonymise:
        pending = or_(pending, Message.author_id.is_not(None), Message.author_handle.is_not(None))
    rows = conn.execute(select(Message.id, Message.ticket_id, Message.text, Message.author_handle,
                               Message.author_name, Message.url)
                        .outerjoin(Ticket, Ticket.id == Message.ticket_id)
                        .where(Message.direction == "inbound", Message.created_at < cutoff, pending,
                               or_(Message.ticket_id.is_(None), Ticket.status == "resolved"))
                        .order_by(Message.id).limit(limit)).all()
    ids = [row.id for row in rows]
    ticket_ids = sorted({row.ticket_id for row in rows if row.ticket_id is not None})
    if ids:
        values = {"text": ERASED, "url": None, "meta": None}
        if anonymise:
            values.update(author_id=None, author_handle=None, author_name=None)
        conn.execute(update(Message).where(Message.id.in_(ids)).values(values))
    if ticket_ids:
        conn.execute(update(Ticket).where(Ticket.id.in_(ticket_ids)).values(subject=ERASED))
        words = [row.text for row in rows] + ([v for row in rows for v in (row.author_handle, row.author_name)]
                                              if anonymise else [])
        pattern = pattern_of(secrets_of(words))
        if pattern is not None:
            scrub_ticket_rows(uow, ticket_ids, pattern)
    customers = _anonymise_customers(conn, cutoff, limit) if anonymise else []
    if ids or customers:
        record_audit(uow, kind="retention_applied", actor=ACTOR, at=now, customer_id=None,
                     payload={"mode": config.mode, "days": config.customer_text_days, "messages": len(ids),
                              "tickets": len(ticket_ids), "customers": len(customers)})
    return ids + customers


def _anonymise_customers(conn: Connection, cutoff: datetime, limit: int) -> list[int]:
    """Customers last seen before `cutoff` with no open ticket lose handle, name and network id."""
    open_ticket = exists().where(Ticket.customer_id == Customer.id, Ticket.status != "resolved")
    ids = conn.scalars(select(Customer.id).where(Customer.last_seen_at < cutoff, ~open_ticket,
                                                 ~Customer.external_user_id.like("erased:%"))
                       .order_by(Customer.id).limit(limit)).all()
    for customer_id in ids:
        conn.execute(update(Customer).where(Customer.id == customer_id).values(
            handle=None, name=None, external_user_id=f"erased:{customer_id}"))
    return list(ids)
