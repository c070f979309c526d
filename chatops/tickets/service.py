"""Ticket queries. Functions take `session` first and keyword-only arguments; they never commit."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, bindparam, case, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from chatops.db import session_scope, utcnow
from chatops.errors import TicketNotFound
from chatops.inbound import InboundMessage
from chatops.sla.state import overdue_clause as sla_overdue_clause
from chatops.tickets.models import Customer, Message, Ticket, TicketEvent

_KEY = re.compile(r"^(?:t-?)?(\d{1,18})$")

# Overdue (an SLA deadline passed) first, then most urgent priority, then oldest.
_PRIORITY_ORDER = {"red": 0, "orange": 1, "green": 2}


def parse_ticket_key(key: str) -> int | None:
    """The ticket id in `T-1042`, `t1042`, `１０４２` or `1042`; None when it is not a key."""
    match = _KEY.match(unicodedata.normalize("NFKC", key).strip().lower())
    return int(match.group(1)) if match else None


def get_ticket(session: Session, *, key: str, for_update: bool = False) -> Ticket:
    """The ticket with this key, or TicketNotFound naming the key."""
    ticket_id = parse_ticket_key(key)
    stmt = select(Ticket).where(Ticket.id == ticket_id)
    if for_update:
        stmt = stmt.with_for_update(of=Ticket)
    ticket = session.scalars(stmt).unique().one_or_none() if ticket_id is not None else None
    if ticket is None:
        raise TicketNotFound(key=key)
    return ticket


# Ingest runs these for every message: prebuilt with bind parameters, so they compile once.
_INBOUND_ID = select(Message.id).where(
    Message.direction == "inbound", Message.source == bindparam("source"),
    Message.external_id == bindparam("external_id"),
)
# Each lookup also reads the found ticket's status and resolved_at (a primary-key join), so the
# reopen horizon is decided without another round trip.
_TICKET_OF_PARENT = select(Message.ticket_id, Ticket.status, Ticket.resolved_at).join(
    Ticket, Ticket.id == Message.ticket_id,
).where(
    Message.source == bindparam("source"), Message.external_id == bindparam("parent"),
).limit(1)
_TICKET_OF_CONVERSATION = select(Message.ticket_id, Ticket.status, Ticket.resolved_at).join(
    Ticket, Ticket.id == Message.ticket_id,
).where(
    Message.source == bindparam("source"), Message.account == bindparam("account"),
    Message.conversation_id == bindparam("conversation"),
).order_by(Message.id.desc()).limit(1)
_TICKET_OF_CUSTOMER = select(Ticket.id, Ticket.status, Ticket.resolved_at).where(
    Ticket.customer_id == bindparam("customer"), Ticket.account == bindparam("account"),
    Ticket.last_customer_message_at >= bindparam("since"),
).order_by(Ticket.last_customer_message_at.desc()).limit(1)


@dataclass(frozen=True, slots=True)
class ThreadMatch:
    """The ticket an inbound message belongs to. `stale`: that ticket was resolved too long ago
    (rules.yaml `threading.reopen_days`), so the message opens a new ticket following it."""

    ticket_id: int
    stale: bool = False


def inbound_exists(db: Session | Connection, *, source: str, external_id: str) -> bool:
    """True when the inbound message with this network id is stored already."""
    return _scalar(db, _INBOUND_ID, {"source": source, "external_id": external_id}) is not None


def _scalar(db: Session | Connection, stmt, params: dict):
    """A prebuilt query's first column: on the driver for ingest's Core connection."""
    return db.execute(stmt, params).scalar()


def find_thread(db: Session | Connection, *, message: InboundMessage, customer_id: int,
                window_start: datetime, stale_before: datetime | None = None,
                new_customer: bool = False) -> ThreadMatch | None:
    """The ticket an inbound message continues: by reply, by conversation, then by customer window
    (skipped for a customer seen for the first time: they have no earlier ticket).

    A ticket resolved at or before `stale_before` takes no more messages: the next lookup is
    tried, and when none finds a live ticket the first stale one is returned with `stale=True`.
    """
    stale: ThreadMatch | None = None
    lookups = []
    if message.in_reply_to:
        lookups.append((_TICKET_OF_PARENT, {"source": message.source, "parent": message.in_reply_to}))
    if message.conversation_id:
        lookups.append((_TICKET_OF_CONVERSATION, {
            "source": message.source, "account": message.account, "conversation": message.conversation_id}))
    if not new_customer:
        lookups.append((_TICKET_OF_CUSTOMER, {
            "customer": customer_id, "account": message.account, "since": window_start}))
    for stmt, params in lookups:
        row = db.execute(stmt, params).first()
        if row is None:
            continue
        ticket_id, status, resolved_at = row
        if (stale_before is None or status != "resolved" or resolved_at is None
                or resolved_at > stale_before):
            return ThreadMatch(ticket_id)
        stale = stale or ThreadMatch(ticket_id, stale=True)
    return stale


def following_ticket_ids(session: Session, *, ticket_id: int) -> list[int]:
    """The tickets that continue this one (opened after it was resolved too long ago), oldest first."""
    return list(session.scalars(select(Ticket.id).where(Ticket.follows_ticket_id == ticket_id).order_by(Ticket.id)))


def overdue_clause(now: datetime):
    """SQL truth of "the live SLA deadline of this ticket has passed" (see
    `chatops.sla.state.overdue_clause`: a pending ticket's resolution clock is paused)."""
    return sla_overdue_clause(now)


def list_tickets_query(*, status: str | None = None, assignee: str | None = None,
                       priority: str | None = None, open_only: bool = False,
                       unassigned: bool = False, now: datetime | None = None) -> Select[tuple[Ticket]]:
    """Tickets filtered: overdue first, then most urgent priority, then oldest first."""
    stmt = select(Ticket)
    if unassigned:
        stmt = stmt.where(Ticket.assignee.is_(None))
    if status:
        stmt = stmt.where(Ticket.status == status)
    elif open_only:
        stmt = stmt.where(Ticket.status != "resolved")
    if assignee:
        stmt = stmt.where(Ticket.assignee == assignee)
    if priority:
        stmt = stmt.where(Ticket.priority == priority)

    rank = case(_PRIORITY_ORDER, value=Ticket.priority, else_=9)
    overdue = case((overdue_clause(now or utcnow()), 0), else_=1)
    return stmt.order_by(overdue, rank, Ticket.created_at, Ticket.id)


def list_tickets(session: Session, *, limit: int = 50, **filters) -> list[Ticket]:
    """See `list_tickets_query`; at most `limit` rows."""
    return list(session.scalars(list_tickets_query(**filters).limit(limit)).unique())


def ticket_events(session: Session, *, ticket_id: int) -> list[TicketEvent]:
    """The ticket's audit trail, oldest first."""
    return list(session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
    ))


def ticket_messages(session: Session, *, ticket_id: int) -> list[Message]:
    """Inbound, outbound and note messages of a ticket, in order."""
    return list(session.scalars(
        select(Message).where(Message.ticket_id == ticket_id).order_by(Message.created_at, Message.id)
    ))


def last_inbound(session: Session, *, ticket_id: int, customer_id: int | None = None) -> Message | None:
    """The customer's latest message on a ticket (what a reply answers); with `customer_id`, that
    customer's latest (a flood incident collects other people's messages too)."""
    stmt = select(Message).where(Message.ticket_id == ticket_id, Message.direction == "inbound")
    if customer_id is not None:
        stmt = stmt.where(Message.customer_id == customer_id)
    # A message the customer deleted cannot be answered on most networks: the latest one still there.
    return session.scalars(stmt.order_by(Message.deleted_at.is_(None).desc(), Message.created_at.desc(),
                                         Message.id.desc()).limit(1)).first()


def record_reply_delivered(session: Session, item) -> None:
    """Outbox hook: keep the network's id of a delivered reply (customers reply to it). An id
    another stored reply already has (a network's placeholder, e.g. an accepted retry's request
    id) is kept in the message's meta instead, so recording the delivery never fails on it."""
    external_id = (item.result or {}).get("external_id")
    message = session.get(Message, item.payload["message_id"])
    if message is None or not external_id or message.external_id == external_id:
        return
    with session.no_autoflush:
        taken = session.scalar(select(Message.id).where(
            Message.direction == message.direction, Message.source == message.source,
            Message.external_id == str(external_id), Message.id != message.id))
    if taken is None:
        message.external_id = str(external_id)
    else:
        message.meta = {**(message.meta or {}), "network_id": str(external_id)}


def search_tickets(session: Session, *, query: str, limit: int = 20) -> list[Ticket]:
    """Tickets whose key, subject, customer handle or any message contains `query`, newest first."""
    ticket_id = parse_ticket_key(query)
    if ticket_id is not None:
        found = session.get(Ticket, ticket_id)
        return [found] if found else []
    needle = f"%{query.strip()}%"
    in_messages = select(Message.ticket_id).where(Message.text.ilike(needle), Message.ticket_id.is_not(None))
    stmt = (select(Ticket).join(Ticket.customer)
            .where(Ticket.subject.ilike(needle) | Customer.handle.ilike(needle) | Ticket.id.in_(in_messages))
            .order_by(Ticket.id.desc()).limit(limit))
    return list(session.scalars(stmt).unique())


@contextmanager
def locked_ticket(session_factory: sessionmaker[Session], key: str) -> Iterator[tuple[Session, Ticket]]:
    """One transaction holding the ticket row locked (FOR UPDATE; SQLite: BEGIN IMMEDIATE)."""
    with session_scope(session_factory) as session:
        yield session, get_ticket(session, key=key, for_update=True)
