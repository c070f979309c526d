"""Recompute the stats facts and rollups from the tickets and their events, e.g. after upgrading
a database that already held tickets (the projector only sees events from then on)."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session, sessionmaker

from chatops.db import session_scope
from chatops.rules import Rules
from chatops.stats.models import StatsDaily, StatsDuration, StatsFact
from chatops.stats.projector import _TICKET, StatsProjector, contribute, write
from chatops.tickets.events import EventNotice
from chatops.tickets.models import Customer, Ticket, TicketEvent, TicketTag

_EVENT_KINDS = ("reopened", "escalated")


def rebuild(session_factory: sessionmaker[Session], rules: Rules, *, batch: int = 5000) -> int:
    """Replace every stats row by what the tickets say now; returns the number of tickets counted."""
    projector = StatsProjector(rules)
    columns = list(_TICKET.selected_columns)
    with session_scope(session_factory) as session:
        for model in (StatsDaily, StatsDuration, StatsFact):
            session.execute(delete(model))
        last, total = 0, 0
        while True:
            rows = session.execute(select(Ticket.id, *columns).join(Customer, Customer.id == Ticket.customer_id)
                                   .where(Ticket.id > last).order_by(Ticket.id).limit(batch)).all()
            if not rows:
                return total
            ids = [row.id for row in rows]
            tags: dict[int, list[str]] = defaultdict(list)
            for ticket_id, tag in session.execute(select(TicketTag.ticket_id, TicketTag.tag)
                                                  .where(TicketTag.ticket_id.in_(ids))):
                tags[ticket_id].append(tag)
            extras: dict[int, list] = defaultdict(list)
            for event in session.execute(select(TicketEvent.ticket_id, TicketEvent.kind, TicketEvent.at,
                                                TicketEvent.payload)
                                         .where(TicketEvent.ticket_id.in_(ids), TicketEvent.kind.in_(_EVENT_KINDS))):
                notice = EventNotice(event_id=0, ticket_id=event.ticket_id, kind=event.kind, actor="", at=event.at,
                                     channel="", assignee=None, payload=event.payload or {})
                extras[event.ticket_id] += projector.event_counters(notice, event.at.astimezone(projector.tz)
                                                                     .date().toordinal())
            daily: dict = defaultdict(lambda: defaultdict(int))
            hist: dict = defaultdict(int)
            facts = []
            for row in rows:
                fact = projector.fact(row, tags[row.id])
                contribute(fact, 1, daily, hist, extras[row.id])
                facts.append({"ticket_id": row.id, **fact})
            write(session, daily, hist)
            session.execute(insert(StatsFact), facts)
            last, total = ids[-1], total + len(rows)
