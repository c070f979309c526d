"""Group commit (several webhooks' messages in one transaction) stores exactly what one-by-one
ingest stores — tickets, threading, duplicates and the stats rollups — and one message's failure
stays its own."""

from __future__ import annotations

import shutil
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from chatops.db import make_engine, make_session_factory
from chatops.stats.models import StatsDaily, StatsDuration, StatsFact
from chatops.tickets.flows import TicketFlows
from chatops.tickets.group_commit import GroupCommit
from chatops.tickets.models import Customer, Message, Ticket, TicketTag
from tests.helpers import BASE_TIME, failing_inserts, inbound


def burst() -> list:
    """New tickets, a follow-up in the same conversation, a
    duplicate delivery inside the batch, a mix of networks, priorities and channels."""
    first = inbound("二重請求されています", external_id="b1", conversation_id="c1",
                    author={"id": "a1", "handle": "@a1", "name": "A1"})
    return [
        first,
        inbound("注文した商品が届かない", external_id="b2", source="instagram",
                author={"id": "a2", "handle": "@a2", "name": "A2"}),
        inbound("あと、返品もしたいです", external_id="b3", conversation_id="c1",
                created_at=(BASE_TIME + timedelta(minutes=1)).isoformat(),
                author={"id": "a1", "handle": "@a1", "name": "A1"}),
        first,  # the network delivered it twice
        inbound("How do I change my shipping address?", external_id="b4", lang="en",
                author={"id": "a3", "handle": "@a3", "name": "A3"}),
        inbound("ログインできません、障害ですか?", external_id="b5",
                author={"id": "a2", "handle": "@a2b", "name": "A2"}),
    ]


def snapshot(session_factory) -> dict:
    """Everything ingest writes that a person or /stats reads, without ids and clocks."""
    with session_factory() as session:
        tickets = [(t.source, t.external_id, t.status, t.priority, t.channel, t.level, sorted(t.matched_rules))
                   for t in session.scalars(select(Ticket).order_by(Ticket.id))]
        messages = [(m.external_id, m.ticket_id is not None, m.text)
                    for m in session.scalars(select(Message).order_by(Message.id))]
        tags = sorted(session.execute(select(TicketTag.tag)).scalars())
        customers = sorted(session.execute(select(Customer.source, Customer.external_user_id, Customer.handle)))
        daily = sorted(tuple(row) for row in session.execute(select(StatsDaily.__table__)))
        durations = sorted(tuple(row) for row in session.execute(select(StatsDuration.__table__)))
        facts = len(session.scalars(select(StatsFact.ticket_id)).all())
    return {"tickets": tickets, "messages": messages, "tags": tags, "customers": customers,
            "daily": daily, "durations": durations, "facts": facts}


def test_a_batch_stores_what_one_by_one_ingest_stores(flows, session_factory, rules, clock, tmp_path, sqlite_template):
    shutil.copy(sqlite_template, tmp_path / "alone.db")  # migrated, as every test's database is
    alone = make_engine(f"sqlite:///{tmp_path / 'alone.db'}")
    alone_factory = make_session_factory(alone)
    one_by_one = TicketFlows(alone_factory, rules, clock=clock)
    expected = [one_by_one.ingest(message).outcome for message in burst()]

    results = flows.ingest_many(burst())

    assert [r.outcome for r in results] == expected == [
        "created", "created", "threaded", "duplicate", "created", "created"]
    assert results[2].ticket_id == results[0].ticket_id  # the follow-up joined its conversation's ticket
    assert snapshot(session_factory) == snapshot(alone_factory)
    assert snapshot(session_factory)["daily"], "the rollups were written"
    alone.dispose()


@pytest.mark.parametrize("bad_row", [True, False], ids=["constraint", "server-error"])
def test_one_failing_message_fails_alone(flows, engine, session_factory, bad_row):
    """The database refuses one message, as a bad row or a driver error would."""
    with failing_inserts(engine, "b2", bad_row=bad_row):
        results = flows.ingest_many(burst())
        assert isinstance(results[1], DBAPIError)
        assert isinstance(results[1], IntegrityError) is bad_row
        assert [r.outcome for i, r in enumerate(results) if i != 1] == [
            "created", "threaded", "duplicate", "created", "created"]
        stored = snapshot(session_factory)
        assert [m[0] for m in stored["messages"]] == ["b1", "b3", "b4", "b5"]  # nothing of b2, nothing lost

        committer = GroupCommit(flows)
        with pytest.raises(DBAPIError):
            committer.ingest([inbound("届かない", external_id="b2")])
        assert committer.ingest([inbound("届かない", external_id="b6")])[0].outcome == "created"


def test_concurrent_webhooks_share_batches_and_store_each_message_once(flows, session_factory):
    committer = GroupCommit(flows, max_batch=16)
    outcomes: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def webhook(worker: int) -> None:
        try:
            for n in range(25):
                # every message twice, from two workers: a network redelivering
                message = inbound(f"届かない {n}", external_id=f"w{(worker // 2) * 100 + n}",
                                  author={"id": f"c{worker // 2}-{n}", "handle": "@c", "name": "C"})
                result = committer.ingest([message])[0]
                outcomes.setdefault(message.external_id, []).append(result.outcome)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=webhook, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert len(outcomes) == 100
    assert all(sorted(found) == ["created", "duplicate"] for found in outcomes.values())
    with session_factory() as session:
        assert len(session.scalars(select(Message.id)).all()) == 100
        assert len(session.scalars(select(Ticket.id)).all()) == 100




def test_a_deadlock_victim_is_stored_on_the_next_try(flows, engine, session_factory):
    """PostgreSQL picks the first try as a deadlock victim, as it does when two replicas' group
    commits take the same rows in another order; the message is stored on the next."""
    if engine.dialect.name != "postgresql":
        pytest.skip("deadlock_detected is PostgreSQL's SQLSTATE")
    with failing_inserts(engine, "dl1", times=1, sqlstate="40P01") as tries:
        assert flows.ingest(inbound("二重請求です", external_id="dl1")).outcome == "created"
        assert tries() == 2
    assert [m[0] for m in snapshot(session_factory)["messages"]] == ["dl1"]




def test_a_batch_that_lost_a_race_goes_again_without_the_other_replicas_messages(flows, session_factory,
                                                                                 monkeypatch):
    """Another replica stored m2 while this batch was being written (its duplicate check had
    passed): the batch fails on the unique key, m2 answers as a duplicate, and the others are
    stored together in one more transaction, not one transaction each."""
    from chatops.tickets import ingest, service

    messages = [inbound(f"届かない #{n}", external_id=f"m{n}", author={"id": f"a{n}"}) for n in range(1, 5)]
    assert flows.ingest(messages[1]).outcome == "created"  # the other replica's work
    real = service.inbound_exists
    raced = {"m2"}

    def exists(db, *, source, external_id):
        if external_id in raced:  # checked before the other replica committed
            raced.discard(external_id)
            return False
        return real(db, source=source, external_id=external_id)

    monkeypatch.setattr(service, "inbound_exists", exists)
    alone = []
    monkeypatch.setattr(ingest.IngestService, "ingest", lambda self, message: alone.append(message))
    outcomes = [r.outcome for r in flows.ingest_many(messages)]
    assert outcomes == ["created", "duplicate", "created", "created"]
    assert alone == []
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Message)
                              .where(Message.direction == "inbound")) == 4


def test_a_group_commit_writes_its_coalescing_rows_once_each_at_its_end_in_key_order(engine):
    """Two replicas' batches taking one incident's keys in opposite orders deadlocked on
    PostgreSQL; a batch now holds its coalescing rows and writes each key once, sorted, last."""
    from chatops.outbox import OutboxItem
    from chatops.tickets.events import OutboxRow
    from chatops.tickets.record import Recorder, enqueue

    def coalescing(*keys):
        return [OutboxRow("slack", "update_incident", key, f"lane-{key}", {"k": key}, coalesce=True) for key in keys]

    with engine.begin() as conn, Recorder().batch(conn) as uow:
        enqueue(uow, coalescing("incident:2", "digest:1"), at=BASE_TIME)
        enqueue(uow, coalescing("incident:1", "incident:2"), at=BASE_TIME)
        assert conn.scalar(select(func.count()).select_from(OutboxItem)) == 0  # held
    with engine.begin() as conn:
        enqueue(conn, coalescing("incident:1", "incident:3"), at=BASE_TIME)  # outside a batch: at once
        rows = conn.execute(select(OutboxItem.dedupe_key, OutboxItem.payload).order_by(OutboxItem.id)).all()
    assert [key for key, _ in rows] == ["digest:1", "incident:1", "incident:2", "incident:3"]
    assert rows[2].payload == {"k": "incident:2"}  # the first row asked for wins, as before


def test_a_batch_in_a_deadlock_with_another_replica_gives_way_and_goes_again(flows, session_factory, database_url,
                                                                             caplog):
    """PostgreSQL: another replica's transaction holds customer b's new row and then wants
    customer a's, which this batch holds while it waits for b: a deadlock. The batch stops
    waiting after its lock timeout, rolls back and goes again as one batch once the other has
    committed, instead of stalling both for `deadlock_timeout` or falling back to one
    transaction per message."""
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks between replicas: PostgreSQL")
    import logging

    from sqlalchemy import text

    engine = session_factory.kw["bind"]
    other = engine.connect()
    customer = ("INSERT INTO customers (source, external_user_id, handle, name, tier, flags, first_seen_at, "
                "last_seen_at) VALUES ('x', :u, :handle, :name, 'standard', '[]', now(), now())")
    other.execute(text(customer), {"u": "b", "handle": "@b", "name": "b"})  # another replica's row, uncommitted
    messages = [inbound(f"届かない #{n}", external_id=f"d{n}", author={"id": user, "handle": f"@{user}"})
                for n, user in enumerate("ab")]
    outcome: list = []
    batch = threading.Thread(target=lambda: outcome.extend(flows.ingest_many(messages)))
    caplog.set_level(logging.INFO, "chatops.ingest")
    # Polled from its own autocommit connection: inside a transaction pg_stat_activity is a
    # snapshot taken at its first read, so `other` would never see the batch start waiting.
    watcher = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    batch.start()
    try:
        deadline, give_up = threading.Event(), time.monotonic() + 60
        while not deadline.wait(0.02):  # until the batch waits for b (it holds a by then)
            assert time.monotonic() < give_up and batch.is_alive(), "the batch never waited for b's row"
            waiting = watcher.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO customers%'")).scalar()
            if waiting:
                break
        other.execute(text(customer), {"u": "a", "handle": "@a", "name": "a"})  # waits for the batch: it gives way
        other.commit()
    finally:
        watcher.close()
        other.close()
        batch.join(30)
    assert [result.outcome for result in outcome] == ["created", "created"]
    assert not [r for r in caplog.records if "storing each alone" in r.getMessage()]
    with session_factory() as session:
        assert sorted(session.scalars(select(Customer.external_user_id))) == ["a", "b"]
        assert session.scalar(select(func.count()).select_from(Message)) == 2
