"""Flood (炎上) detection: thresholds, one incident per spike, collection, follow-ups, paging,
the end of an incident, and replicas racing (PostgreSQL when configured)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from chatops.oncall.models import Page
from chatops.rules.flood import FloodConfig
from chatops.rules.loader import RulesError, parse_rules
from chatops.tickets.flows import TicketFlows
from chatops.tickets.models import Incident, Message, Ticket, TicketEvent
from tests.conftest import RULES_PATH
from tests.helpers import inbound

NEGATIVE = "アプリでエラーが出ます"  # app-error: orange, tag `app` (negative)
NEUTRAL = "使い方を教えてください"  # how-to: green, not negative


@pytest.fixture
def flood_rules(rules):
    config = FloodConfig(window="10m", min_messages=10, min_authors=5, min_negative_share=0.5,
                         negative_tags=["app", "outage"], topics=["outage"], channel="support-urgent")
    return rules.model_copy(update={"flood": config})


@pytest.fixture
def fflows(session_factory, flood_rules, clock):
    return TicketFlows(session_factory, flood_rules, clock=clock)


def reply(n: int, text: str = NEGATIVE, *, post: str = "P1", author: str | None = None):
    who = author or f"a{n}"
    return inbound(text, kind="reply", conversation_id=post, in_reply_to=post,
                   author={"id": who, "handle": f"@{who}", "name": who})


def topic(n: int, text: str = "ログインできません"):
    return inbound(text, author={"id": f"t{n}", "handle": f"@t{n}", "name": f"T{n}"})


def incidents(session_factory) -> list[Incident]:
    with session_factory() as session:
        return list(session.scalars(select(Incident).order_by(Incident.id)))


def ingest_all(flows, messages, clock):
    results = []
    for message in messages:
        results.append(flows.ingest(message))
        clock.advance(seconds=1)
    return results


def test_below_the_count_no_incident_replies_thread_as_before(fflows, session_factory, clock):
    results = ingest_all(fflows, [reply(n) for n in range(9)], clock)
    assert [r.outcome for r in results] == ["created"] + ["threaded"] * 8
    assert incidents(session_factory) == []


def test_too_few_authors_no_incident(fflows, session_factory, clock):
    ingest_all(fflows, [reply(n, author=f"a{n % 4}") for n in range(20)], clock)
    assert incidents(session_factory) == []


def test_not_negative_enough_no_incident(fflows, session_factory, clock):
    texts = [NEGATIVE if n % 3 == 0 else NEUTRAL for n in range(20)]
    ingest_all(fflows, [reply(n, text) for n, text in enumerate(texts)], clock)
    assert incidents(session_factory) == []


def test_window_too_slow_no_incident(fflows, session_factory, clock):
    for n in range(12):
        fflows.ingest(reply(n))
        clock.advance(minutes=2)  # 5 messages per 10 minutes
    assert incidents(session_factory) == []


def test_replies_to_one_post_make_its_ticket_the_incident(fflows, session_factory, clock):
    results = ingest_all(fflows, [reply(n) for n in range(40)], clock)
    first = results[0].ticket_id
    assert [r.outcome for r in results[:10]] == ["created"] + ["threaded"] * 9
    assert {r.outcome for r in results[10:]} == {"collected"}
    assert {r.ticket_id for r in results} == {first}
    [incident] = incidents(session_factory)
    assert incident.ticket_id == first and incident.open_key == incident.key == "post:x:@acme_jp:P1"
    with session_factory() as session:
        ticket = session.get(Ticket, first)
        assert ticket.priority == "red"  # raised from orange
        kinds = list(session.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == first)))
        opened = session.scalar(select(TicketEvent).where(TicketEvent.kind == "incident_opened"))
        pages = session.scalars(select(Page)).all()
        stored = session.scalar(select(func.count()).select_from(Message).where(Message.ticket_id == first))
    assert kinds.count("incident_opened") == 1 and kinds.count("incident_message") == 30
    assert opened.payload["count"] == 10 and opened.payload["authors"] == 10
    assert opened.payload["negative_share"] == 1.0 and opened.payload["priority_to"] == "red"
    assert [page.ticket_id for page in pages] == [first]  # exactly one page, none per member
    assert stored == 40


def test_a_topic_across_conversations_opens_one_new_incident_ticket(fflows, session_factory, clock):
    results = ingest_all(fflows, [topic(n) for n in range(30)], clock)
    assert [r.outcome for r in results[:10]] == ["created"] * 10
    assert {r.outcome for r in results[10:]} == {"collected"}
    [incident] = incidents(session_factory)
    assert incident.key == "topic:outage" and incident.ticket_id == results[9].ticket_id
    assert {r.ticket_id for r in results[10:]} == {incident.ticket_id}
    with session_factory() as session:
        ticket = session.get(Ticket, incident.ticket_id)
        assert ticket.channel == "support-urgent" and ticket.priority == "red"
        pages = session.scalars(select(Page).where(Page.ticket_id == incident.ticket_id)).all()
    assert len(pages) == 1


def test_follow_ups_during_an_incident_land_on_their_own_tickets(fflows, session_factory, clock):
    own = fflows.ingest(inbound("ログインできません", author={"id": "vip", "handle": "@vip", "name": "V"},
                                conversation_id="C-vip", external_id="vip-1"))
    ingest_all(fflows, [topic(n) for n in range(15)], clock)
    [incident] = incidents(session_factory)
    # The same customer again (same conversation, then a fresh post within the threading window).
    again = fflows.ingest(inbound("まだログインできません", author={"id": "vip", "handle": "@vip", "name": "V"},
                                  conversation_id="C-vip", in_reply_to="vip-1"))
    fresh = fflows.ingest(inbound("障害はいつ直りますか", author={"id": "vip", "handle": "@vip", "name": "V"}))
    newcomer = fflows.ingest(topic(99))
    assert (again.outcome, again.ticket_id) == ("threaded", own.ticket_id)
    assert (fresh.outcome, fresh.ticket_id) == ("threaded", own.ticket_id)
    assert (newcomer.outcome, newcomer.ticket_id) == ("collected", incident.ticket_id)


def test_resolving_ends_the_incident_and_a_later_spike_opens_a_new_one(fflows, session_factory, clock):
    ingest_all(fflows, [topic(n) for n in range(12)], clock)
    [first] = incidents(session_factory)
    fflows.resolve(f"T-{first.ticket_id}", actor="U0AGENT001")
    clock.advance(seconds=5)
    after = fflows.ingest(topic(100))
    assert after.outcome == "created"  # stragglers right after the end are ordinary tickets
    ingest_all(fflows, [topic(200 + n) for n in range(12)], clock)
    closed, second = incidents(session_factory)
    assert closed.open_key is None and closed.closed_at is not None
    assert second.open_key == "topic:outage" and second.ticket_id != first.ticket_id


def test_flood_section_errors_name_the_line():
    text = RULES_PATH.read_text(encoding="utf-8").replace("topics: [outage, flame-risk,", "topics: [nope, flame-risk,")
    text = text.replace("min_negative_share: 0.5 ", "min_negative_share: 1.5 ")
    with pytest.raises(RulesError) as caught:
        parse_rules(text, "rules.yaml")
    problems = "\n".join(caught.value.problems)
    assert "flood.min_negative_share" in problems and "rules.yaml:" in problems
    text = RULES_PATH.read_text(encoding="utf-8").replace("topics: [outage, flame-risk,", "topics: [nope, flame-risk,")
    with pytest.raises(RulesError) as caught:
        parse_rules(text, "rules.yaml")
    [problem] = caught.value.problems
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "topics: [nope" in row)
    assert problem.startswith(f"rules.yaml:{line}: flood.topics[0]:") and "'nope' is not a keyword rule id" in problem


def test_racing_ingests_open_exactly_one_incident(fflows, session_factory, clock, database_url):
    if database_url.startswith("sqlite"):
        pytest.skip("the race matters with several writers: PostgreSQL")
    ingest_all(fflows, [topic(n) for n in range(8)], clock)  # just under the count
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def one(n: int) -> None:
        barrier.wait()
        outcomes.append(fflows.ingest(topic(1000 + n)).outcome)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    [incident] = incidents(session_factory)
    assert sorted(outcomes).count("collected") >= 5
    with session_factory() as session:
        pages = session.scalars(select(Page).where(Page.ticket_id == incident.ticket_id)).all()
    assert len(pages) == 1


def test_a_reply_on_an_incident_answers_its_own_customer_not_the_last_member(fflows, session_factory, clock):
    results = ingest_all(fflows, [reply(n) for n in range(15)], clock)
    key = f"T-{results[0].ticket_id}"
    assert results[-1].outcome == "collected"
    sent = fflows.reply(key, actor="U0AGENT001", text="ご不便をおかけしております。")
    with session_factory() as session:
        first = session.get(Message, results[0].message_id)
        stored = session.get(Message, sent.id)
    assert stored.in_reply_to == first.external_id


def test_the_scheduler_forgets_counts_older_than_the_window(fflows, session_factory, clock, engine):
    from chatops.tickets.models import FloodCount, FloodHit

    ingest_all(fflows, [reply(n) for n in range(3)], clock)
    clock.advance(minutes=25)
    fflows.ingest(reply(99, post="P2"))
    with engine.begin() as conn:
        fflows.flood_prune(conn, clock())
    with session_factory() as session:
        assert set(session.scalars(select(FloodHit.key))) == {"post:x:@acme_jp:P2"}
        assert set(session.scalars(select(FloodCount.key))) == {"post:x:@acme_jp:P2"}


def test_a_flood_in_group_commits_opens_and_collects_as_one_by_one_ingest_does(session_factory, flood_rules,
                                                                               clock, tmp_path, sqlite_template):
    """Group commits hold their flood hits and keep the open incidents in memory: the incident
    opens at the same message, and the rest of the same batch and later batches are collected,
    with a redelivery (stored before its batch) still a duplicate."""
    import shutil

    from chatops.db import make_engine, make_session_factory

    shutil.copy(sqlite_template, tmp_path / "alone.db")
    alone = make_engine(f"sqlite:///{tmp_path / 'alone.db'}")
    alone_factory = make_session_factory(alone)
    messages = [reply(n) for n in range(30)]
    messages.append(messages[3])  # a redelivery
    expected = [TicketFlows(alone_factory, flood_rules, clock=clock).ingest(message).outcome for message in messages]

    batched = TicketFlows(session_factory, flood_rules, clock=clock)
    outcomes = [result.outcome for start in range(0, len(messages), 8)
                for result in batched.ingest_many(messages[start:start + 8])]

    assert outcomes == expected
    assert expected[:10] == ["created"] + ["threaded"] * 9 and set(expected[10:30]) == {"collected"}
    assert expected[30] == "duplicate"
    [incident] = incidents(session_factory)
    with session_factory() as session:
        hits = session.execute(select(func.count()).select_from(Message).where(
            Message.ticket_id == incident.ticket_id)).scalar()
        kinds = sorted(session.scalars(select(TicketEvent.kind)))
    with alone_factory() as session:
        assert kinds == sorted(session.scalars(select(TicketEvent.kind)))
    assert hits == 30
    alone.dispose()
