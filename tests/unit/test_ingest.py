"""Ingest: new tickets, follow-ups, reopen, duplicates, blocked customers, races."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select

from chatops.tickets import service
from chatops.tickets.models import Customer, Message, Ticket, TicketEvent
from tests.helpers import BASE_TIME, inbound


def count(session_factory, model) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(model))


def events(session_factory, ticket_id: int) -> list[str]:
    with session_factory() as session:
        return [e.kind for e in service.ticket_events(session, ticket_id=ticket_id)]


def ticket(session_factory, ticket_id: int) -> Ticket:
    with session_factory() as session:
        return session.get(Ticket, ticket_id)


def test_new_message_opens_triaged_ticket(flows, session_factory):
    result = flows.ingest(inbound("昨日の注文で二重請求されています!返金してください"))
    assert result.outcome == "created" and result.ticket_key == f"T-{result.ticket_id}"
    stored = ticket(session_factory, result.ticket_id)
    assert stored.status == "new"
    assert stored.priority == "red"
    assert stored.matched_rules
    assert stored.customer.handle == "@hanako"
    assert stored.subject.startswith("昨日の注文で二重請求")
    assert events(session_factory, result.ticket_id) == ["created"]


def test_same_message_twice_stores_nothing_new(flows, session_factory):
    message = inbound("届かないんですが")
    first, second = flows.ingest(message), flows.ingest(message)
    assert first.outcome == "created" and second.outcome == "duplicate"
    assert count(session_factory, Ticket) == 1
    assert count(session_factory, Message) == 1
    assert count(session_factory, TicketEvent) == 1


def test_reply_in_same_conversation_threads_into_ticket(flows, session_factory):
    root = inbound("商品が届かない", author={"id": "u1"})
    first = flows.ingest(root)
    follow = flows.ingest(inbound("まだですか?", author={"id": "u1"}, in_reply_to=root.external_id,
                                  conversation_id=root.external_id, kind="reply",
                                  created_at=(BASE_TIME + timedelta(days=3)).isoformat()))
    assert follow.outcome == "threaded" and follow.ticket_id == first.ticket_id
    assert events(session_factory, first.ticket_id) == ["created", "customer_message"]


def test_conversation_id_threads_even_from_another_author(flows):
    first = flows.ingest(inbound("ログインできない", conversation_id="conv-9", author={"id": "u1"}))
    other = flows.ingest(inbound("私もです", conversation_id="conv-9", author={"id": "u2"}))
    assert other.ticket_id == first.ticket_id


def test_same_customer_within_window_threads_outside_window_opens_new(flows, rules):
    window = rules.threading.window_minutes
    first = flows.ingest(inbound("注文について質問です"))
    near = flows.ingest(inbound("追記です", created_at=(BASE_TIME + timedelta(minutes=window - 1)).isoformat()))
    far = flows.ingest(inbound("別件です",
                               created_at=(BASE_TIME + timedelta(minutes=2 * window + 5)).isoformat()))
    assert near.ticket_id == first.ticket_id
    assert far.outcome == "created" and far.ticket_id != first.ticket_id


def test_same_customer_other_account_opens_new_ticket(flows):
    first = flows.ingest(inbound("質問です", account="@acme_jp"))
    other = flows.ingest(inbound("質問です", account="@acme_en"))
    assert other.outcome == "created" and other.ticket_id != first.ticket_id


def test_follow_up_raises_priority_and_adds_tags(flows, session_factory):
    first = flows.ingest(inbound("使い方を教えてください"))
    assert ticket(session_factory, first.ticket_id).priority == "green"
    flows.ingest(inbound("あと二重請求もされています"))
    stored = ticket(session_factory, first.ticket_id)
    assert stored.priority == "red"
    with session_factory() as session:
        last = service.ticket_events(session, ticket_id=first.ticket_id)[-1]
    assert last.payload["priority_from"] == "green" and last.payload["priority_to"] == "red"


def test_customer_writing_to_resolved_ticket_reopens_it(flows, session_factory):
    first = flows.ingest(inbound("届かない"))
    flows.resolve(first.ticket_key, actor="U1")
    again = flows.ingest(inbound("やっぱりまだ届きません"))
    assert again.outcome == "reopened" and again.ticket_id == first.ticket_id
    stored = ticket(session_factory, first.ticket_id)
    assert stored.status == "open" and stored.reopened_count == 1 and stored.resolved_at is None
    assert events(session_factory, first.ticket_id) == ["created", "resolved", "reopened"]


def test_customer_reply_moves_pending_back_to_open(flows, session_factory):
    first = flows.ingest(inbound("届かない"))
    flows.set_pending(first.ticket_key, actor="U1")
    flows.ingest(inbound("注文番号は 123456 です"))
    assert ticket(session_factory, first.ticket_id).status == "open"


def test_blocked_customer_messages_are_stored_without_ticket(flows, session_factory):
    flows.ingest(inbound("最初の投稿", author={"id": "troll"}))
    with session_factory.begin() as session:
        customer = session.scalars(select(Customer).where(Customer.external_user_id == "troll")).one()
        customer.flags = ["blocked"]
    result = flows.ingest(inbound("二重請求!!", author={"id": "troll"}, account="@acme_en"))
    assert result.outcome == "stored" and result.ticket_id is None
    assert count(session_factory, Ticket) == 1
    with session_factory() as session:
        assert session.get(Message, result.message_id).text == "二重請求!!"


def test_concurrent_deliveries_of_one_message_store_it_once(flows, session_factory):
    message = inbound("障害でログインできません")
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def deliver():
        barrier.wait()
        outcomes.append(flows.ingest(message).outcome)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created", "duplicate", "duplicate", "duplicate"]
    assert count(session_factory, Message) == 1
    assert count(session_factory, Ticket) == 1
