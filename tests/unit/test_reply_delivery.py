"""A reply the network refuses for good is marked failed and never counted as the first response."""

from __future__ import annotations

from prometheus_client import generate_latest

from chatops.metrics import Metrics
from chatops.outbox import DeliveryError, Outbox
from chatops.tickets import service
from chatops.tickets.models import Message
from tests.helpers import inbound


def _refuse(item):
    raise DeliveryError("403 not mentioned", permanent=True)


def test_refused_reply_is_failed_and_deadline_keeps_running(flows, session_factory, clock):
    key = flows.ingest(inbound("hi")).ticket_key
    reply = flows.reply(key, actor="U1", text="hello")
    Outbox(session_factory, {"network:x": _refuse}, on_done={"reply": flows.reply_delivered},
           on_dead={"reply": flows.reply_failed}, clock=clock).run_once()
    with session_factory() as session:
        ticket = service.get_ticket(session, key=key)
        message = session.get(Message, reply.id)
        events = service.ticket_events(session, ticket_id=ticket.id)
        assert ticket.first_response_at is None
        assert (message.delivery_state, message.delivery_error) == ("failed", "403 not mentioned")
        assert events[-1].kind == "reply_failed" and events[-1].payload["reason"] == "403 not mentioned"
    scraped = generate_latest(Metrics(session_factory).registry).decode()
    assert 'chatops_replies_failed{kind="reply",network="x"} 1.0' in scraped


def test_accepted_reply_is_sent(flows, session_factory, clock):
    key = flows.ingest(inbound("hi")).ticket_key
    reply = flows.reply(key, actor="U1", text="hello")
    Outbox(session_factory, {"network:x": lambda item: {"external_id": "x-9"}},
           on_done={"reply": flows.reply_delivered}, on_dead={"reply": flows.reply_failed}, clock=clock).run_once()
    with session_factory() as session:
        message = session.get(Message, reply.id)
        assert (message.delivery_state, message.external_id) == ("sent", "x-9")
        assert service.get_ticket(session, key=key).first_response_at is not None
