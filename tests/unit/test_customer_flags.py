"""Customer flags: set from a ticket, audited, and a blocked customer opens no new ticket."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from chatops.errors import InvalidValue
from chatops.tickets.customers import flag_customer
from chatops.tickets.models import Customer, Message, TicketEvent
from tests.helpers import inbound


def test_blocked_customer_messages_are_stored_without_ticket(flows, session_factory, clock):
    first = flows.ingest(inbound("二重請求されました"))
    key = first.ticket_key
    flows.resolve(key, actor="U1")
    customer = flag_customer(flows, key, actor="U1", flag="blocked")
    assert customer.flags == ["blocked"]
    clock.advance(days=3)
    later = flows.ingest(inbound("まだ返金されない！", created_at=clock.now.isoformat()))
    assert later.outcome == "stored" and later.ticket_id is None
    with session_factory() as session:
        stored = session.scalars(select(Message).where(Message.id == later.message_id)).one()
        assert stored.text == "まだ返金されない！" and stored.ticket_id is None
        events = session.scalars(select(TicketEvent).where(TicketEvent.kind == "customer_flagged")).all()
        assert [(e.actor, e.payload["flag"], e.payload["on"]) for e in events] == [("U1", "blocked", True)]


def test_flags_toggle_and_repeat_is_no_event(flows, session_factory):
    key = flows.ingest(inbound("使い方を教えて")).ticket_key
    flag_customer(flows, key, actor="U1", flag="vip")
    flag_customer(flows, key, actor="U1", flag="vip")
    flag_customer(flows, key, actor="U1", flag="troll")
    assert flag_customer(flows, key, actor="U1", flag="vip", on=False).flags == ["troll"]
    with session_factory() as session:
        assert session.scalars(select(Customer)).one().flags == ["troll"]
        assert len(session.scalars(select(TicketEvent).where(TicketEvent.kind == "customer_flagged")).all()) == 3


def test_unknown_flag_is_refused(flows):
    key = flows.ingest(inbound("使い方を教えて")).ticket_key
    with pytest.raises(InvalidValue, match="flag"):
        flag_customer(flows, key, actor="U1", flag="spammer")
