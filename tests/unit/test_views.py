"""The read model: one TicketView per ticket, with its first message, customer, threads and SLA
state at the moment the caller gives, read for a whole list in a fixed number of queries."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import event

from chatops.tickets import service
from chatops.tickets.models import SurfaceThread
from chatops.views import ThreadRef, list_views, load_view, views_of
from tests.helpers import inbound


@contextmanager
def statements(engine):
    """The SQL statements the engine runs inside the block."""
    seen: list[str] = []

    def record(conn, cursor, statement, *rest):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_view_shows_the_first_message_customer_thread_and_labels(flows, session_factory, rules, clock):
    first = inbound("二重請求されました", url="https://x.com/hanako/status/1")
    key = flows.ingest(first).ticket_key
    flows.ingest(inbound("まだですか", in_reply_to=first.external_id, conversation_id=first.external_id))
    with session_factory() as session:
        session.add(SurfaceThread(ticket_id=int(key[2:]), surface="slack", channel="C0SUPPORT", ts="1.000100"))
        session.commit()
        view = load_view(session, key, rules=rules, now=clock())
        assert load_view(session, view.id, rules=rules, now=clock()) == view
    assert view.text == "二重請求されました" and view.url == "https://x.com/hanako/status/1"
    assert view.customer.label == "@hanako"
    assert view.thread("slack") == ThreadRef("slack", "C0SUPPORT", "1.000100") and view.thread("teams") is None
    assert view.priority_label("ja") == rules.priorities[view.priority].label.ja
    assert view.priority_label("en") == rules.priorities[view.priority].label.en


def test_the_sla_state_is_the_one_of_the_moment_given(flows, session_factory, rules, clock):
    key = flows.ingest(inbound("返金してください")).ticket_key
    with session_factory() as session:
        now = load_view(session, key, rules=rules, now=clock())
        later = load_view(session, key, rules=rules, now=now.first_response_due_at + timedelta(seconds=1))
    assert (now.sla.deadline, now.sla.state) == ("first_response", "ok")
    assert later.sla.state == "breached" and later.due == ("first_response", now.first_response_due_at)


def test_a_list_is_read_in_the_same_number_of_queries_however_long(flows, session_factory, engine, rules, clock):
    def statements_for(count: int) -> tuple[int, int]:
        for n in range(count):
            flows.ingest(inbound(f"質問 {n}", author={"id": f"u{count}-{n}", "handle": f"@c{n}"}))
        with session_factory() as session:
            tickets = service.list_tickets(session, limit=100, open_only=True, now=clock())
            with statements(engine) as seen:
                views = views_of(session, tickets, rules=rules, now=clock())
        return len(seen), len(views)

    few, shown = statements_for(2)
    many, shown_many = statements_for(8)
    assert few == many and shown_many == shown + 8
    with session_factory() as session:
        assert [v.key for v in list_views(session, rules=rules, now=clock(), limit=100, open_only=True)] == \
            [t.key for t in service.list_tickets(session, limit=100, open_only=True, now=clock())]
