"""CSAT: the rating request leaves through the outbox on resolve, and ratings sent back are
recorded on the ticket without reopening it or opening a new one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from chatops.stats.csat import parse_rating
from chatops.tickets import service
from chatops.tickets.models import Message, OutboxItem, Ticket
from tests.helpers import BASE_TIME, inbound


@pytest.mark.parametrize("text, score", [("5", 5), ("５", 5), ("1!", 1), ("★★★", 3), ("👍", 5), ("👎🏽", 1),
                                         ("6", None), ("thanks 5", None), ("", None)])
def test_parse_rating(text, score):
    assert parse_rating(text) == score


def resolved_ticket(flows, clock, **fields) -> str:
    key = flows.ingest(inbound("使い方を教えてください", created_at=BASE_TIME.isoformat(), **fields)).ticket_key
    clock.advance(minutes=5)
    flows.reply(key, actor="U1", text="こちらです")
    clock.advance(minutes=5)
    flows.resolve(key, actor="U1")
    return key


def test_resolve_queues_the_request_as_a_reply_to_the_customer(flows, clock, session_factory):
    key = resolved_ticket(flows, clock)
    with session_factory() as session:
        ticket = service.get_ticket(session, key=key)
        items = session.scalars(select(OutboxItem).where(OutboxItem.ticket_id == ticket.id)
                                .order_by(OutboxItem.id)).all()
        assert ticket.csat_requested_at == clock.now and ticket.status == "resolved"
    request = items[-1]
    assert (request.target, request.kind) == ("network:x", "reply")
    assert request.payload["text"].startswith("お問い合わせありがとうございました")
    assert request.payload["in_reply_to"] == items[0].payload["in_reply_to"]  # the customer's post


def test_networks_not_listed_get_no_request(flows, clock, session_factory):
    key = resolved_ticket(flows, clock, source="mastodon")
    with session_factory() as session:
        assert service.get_ticket(session, key=key).csat_requested_at is None
        assert session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.kind == "reply")) == 1


def test_a_rating_reply_is_recorded_and_the_ticket_stays_resolved(flows, clock, session_factory):
    key = resolved_ticket(flows, clock)
    clock.advance(minutes=1)
    result = flows.ingest(inbound("👍", created_at=(BASE_TIME + timedelta(minutes=11)).isoformat()))
    assert (result.outcome, result.ticket_key) == ("rated", key)
    with session_factory() as session:
        ticket = service.get_ticket(session, key=key)
        assert (ticket.status, ticket.csat_score, ticket.reopened_count) == ("resolved", 5, 0)
        assert session.scalar(select(func.count()).select_from(Ticket)) == 1
        assert session.scalar(select(Message.text).where(Message.id == result.message_id)) == "👍"


def test_a_late_rating_after_the_thread_window_opens_no_ticket(flows, clock, session_factory):
    key = resolved_ticket(flows, clock)
    later = BASE_TIME + timedelta(days=3)  # past threading.window_minutes (1 day), within 7 days
    clock.now = later
    result = flows.ingest(inbound("4", created_at=later.isoformat()))
    assert (result.outcome, result.ticket_key) == ("rated", key)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 1


def test_words_after_resolve_still_reopen(flows, clock):
    key = resolved_ticket(flows, clock)
    result = flows.ingest(inbound("まだ届きません", created_at=(BASE_TIME + timedelta(minutes=20)).isoformat()))
    assert (result.outcome, result.ticket_key) == ("reopened", key)


def test_a_rating_from_someone_else_in_the_thread_is_an_ordinary_message(flows, clock, session_factory):
    key = resolved_ticket(flows, clock, conversation_id="c1")
    clock.advance(minutes=1)
    stranger = {"id": "u2", "handle": "@taro", "name": "Taro"}
    result = flows.ingest(inbound("5", author=stranger, conversation_id="c1",
                                  created_at=(BASE_TIME + timedelta(minutes=11)).isoformat()))
    assert result.outcome != "rated"
    with session_factory() as session:
        ticket = service.get_ticket(session, key=key)
        assert (ticket.csat_score, ticket.csat_rated_at) == (None, None)
        assert session.scalar(select(Message.author_handle).where(Message.id == result.message_id)) == "@taro"
