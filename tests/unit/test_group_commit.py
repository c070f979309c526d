"""Group commit (several webhooks' messages in one transaction) stores exactly what one-by-one
ingest stores — tickets, threading, duplicates and the stats rollups — and one message's failure
stays its own. Also the driver-level statements (chatops.fastsql) and the WAL checkpointer."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from contextlib import closing
from datetime import UTC, timedelta, timezone

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from chatops import fastsql, migrate
from chatops.db import WalCheckpointer, background_checkpoints, make_engine, make_session_factory
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


def test_driver_statements_read_and_write_like_sqlalchemy(engine, flows, session_factory):
    result = flows.ingest(inbound("二重請求", external_id="f1", meta={"絵文字": "👩‍👩‍👧"}))
    with session_factory() as session:
        stored = session.get(Message, result.message_id)
    with engine.connect() as conn:
        row = fastsql.run(conn, select(Message.created_at, Message.meta, Message.text)
                          .where(Message.id == result.message_id)).one()
    assert row.created_at == stored.created_at and row.created_at.tzinfo is not None
    assert row.meta == {"絵文字": "👩‍👩‍👧"} and row.text == "二重請求"
    # the driver's unique violation surfaces as SQLAlchemy's, so callers catch one exception type
    with engine.begin() as conn, pytest.raises(IntegrityError):
        fastsql.run(conn, _CUSTOMER_INSERT, {
            "source": "x", "external_user_id": "u1", "handle": "@h", "name": "H", "tier": "standard",
            "flags": [], "first_seen_at": BASE_TIME, "last_seen_at": BASE_TIME}, columns=True)


def test_python_side_defaults_must_be_given():
    with make_engine("sqlite://").connect() as conn, pytest.raises(ValueError, match="supply"):
        fastsql.run(conn, _CUSTOMER_INSERT, {"source": "x", "external_user_id": "u9"}, columns=True)


_CUSTOMER_INSERT = Customer.__table__.insert()


def test_wal_is_checkpointed_in_the_background_not_by_commits(tmp_path, flows):
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    migrate.upgrade(engine)
    checkpointer = background_checkpoints(engine)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        factory = make_session_factory(engine)
        busy = TicketFlows(factory, flows.rules, clock=flows.clock)
        busy.ingest_many([inbound(f"届かない {n}", external_id=f"k{n}") for n in range(300)])
        probe = sqlite3.connect(tmp_path / "wal.db")

        def caught_up():
            _, frames, done = probe.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            return frames == done

        from tests.helpers import until
        until(caught_up, timeout=10)
        assert probe.execute("SELECT count(*) FROM messages").fetchone()[0] == 300
        probe.close()
    finally:
        checkpointer.stop()
        engine.dispose()
    assert background_checkpoints(make_engine("sqlite://")) is None


def test_a_wal_growing_under_constant_writes_is_made_to_start_over(tmp_path, flows):
    """A flood writes while every PASSIVE checkpoint runs, so the WAL is never fully copied when
    the next write begins and SQLite never starts it over: past `reset_bytes` the round copies
    the rest holding the writer lock, and the next commit starts the WAL from its beginning."""

    def wal_bytes_after_a_flood(name: str, reset_bytes: int) -> int:
        engine = make_engine(f"sqlite:///{tmp_path / name}")
        migrate.upgrade(engine)
        engine.dispose()
        with closing(sqlite3.connect(tmp_path / name)) as fresh:  # the flood starts on an empty WAL
            fresh.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        busy = TicketFlows(make_session_factory(engine), flows.rules, clock=flows.clock)
        written = iter(range(10_000))

        def write(count: int) -> None:
            busy.ingest_many([inbound(f"届かない {n}", external_id=f"w{n}")
                              for n in (next(written) for _ in range(count))])

        class DuringFlood(WalCheckpointer):
            unlocked_pass = False

            def checkpoint(self, conn):
                self.unlocked_pass = True  # a round's first pass runs without the writer lock
                super().checkpoint(conn)

            def _passive(self, conn):
                if not self.unlocked_pass:
                    return super()._passive(conn)
                self.unlocked_pass = False
                # Webhooks commit while the unlocked pass runs: the pass copies only what was in
                # the WAL when it began (here: what a reader's snapshot, taken before, still sees).
                began = sqlite3.connect(tmp_path / name, isolation_level=None)
                began.execute("BEGIN")
                began.execute("SELECT count(*) FROM messages").fetchone()
                write(3)
                try:
                    return super()._passive(conn)
                finally:
                    began.execute("ROLLBACK")
                    began.close()

        checkpointer = DuringFlood(engine, reset_bytes=reset_bytes)
        conn = checkpointer.connect()
        try:
            for _ in range(10):
                write(10)
                checkpointer.checkpoint(conn)
            with engine.connect() as check:
                assert check.exec_driver_sql("SELECT count(*) FROM messages").scalar() == 10 * 13
            return (tmp_path / f"{name}-wal").stat().st_size
        finally:
            conn.close()
            engine.dispose()

    grown = wal_bytes_after_a_flood("sqlite-alone.db", reset_bytes=1 << 40)
    bounded = wal_bytes_after_a_flood("reset.db", reset_bytes=1)
    # SQLite alone: every round's frames stay in the WAL; reset: only about one round's do.
    assert bounded * 4 < grown, (bounded, grown)


def test_a_deadlock_victim_is_stored_on_the_next_try(flows, engine, session_factory):
    """PostgreSQL picks the first try as a deadlock victim, as it does when two replicas' group
    commits take the same rows in another order; the message is stored on the next."""
    if engine.dialect.name != "postgresql":
        pytest.skip("deadlock_detected is PostgreSQL's SQLSTATE")
    with failing_inserts(engine, "dl1", times=1, sqlstate="40P01") as tries:
        assert flows.ingest(inbound("二重請求です", external_id="dl1")).outcome == "created"
        assert tries() == 2
    assert [m[0] for m in snapshot(session_factory)["messages"]] == ["dl1"]


def _try_lock(path: str) -> bool:
    """Whether another process could take the writer lock of the SQLite file at `path` now."""
    import subprocess
    import sys

    code = ("import fcntl, os, sys\nfd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
            "try:\n    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\nexcept BlockingIOError:\n    sys.exit(1)\n")
    return subprocess.run([sys.executable, "-c", code, path + ".lock"], check=False).returncode == 0


def test_a_write_transaction_holds_the_cross_process_writer_lock_until_it_ends(tmp_path):
    """Several `chatops serve` processes on one SQLite file queue for writes on a kernel lock
    (woken at once) instead of SQLite's sleeping busy handler; commit and rollback release it,
    and so does the end of the process."""
    path = str(tmp_path / "locked.db")
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            conn.commit()
        assert _try_lock(path)
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
            assert not _try_lock(path)  # another process waits for this transaction
        assert _try_lock(path)  # committed: released
        with pytest.raises(RuntimeError), engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (2)")
            raise RuntimeError("rolled back")
        assert _try_lock(path)  # rolled back: released, and nothing half-written
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT x FROM t").scalars().all() == [1]
    finally:
        engine.dispose()


@given(st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=9)), timezone(timedelta(hours=-5))])))
def test_the_fused_sqlite_date_form_is_what_sqlalchemy_stores(value):
    """fastsql's one-step UTC date text equals UTCDateTime + SQLite DATETIME's two steps: SQLite
    compares dates as text, so one differing character would misorder deadlines."""
    from sqlalchemy.dialects import sqlite

    from chatops.db import UTCDateTime, sqlite_utc_text

    dialect = sqlite.dialect()
    column = UTCDateTime()
    assume(value.astimezone(UTC).year >= 1)
    expected = column.dialect_impl(dialect).bind_processor(dialect)(value)  # what conn.execute stores
    assert sqlite_utc_text(value) == expected


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
    monkeypatch.setattr(ingest.IngestFlows, "ingest", lambda self, message: alone.append(message))
    outcomes = [r.outcome for r in flows.ingest_many(messages)]
    assert outcomes == ["created", "duplicate", "created", "created"]
    assert alone == []
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Message)
                              .where(Message.direction == "inbound")) == 4


def test_a_writer_waits_for_another_process_and_gives_up_like_sqlite(tmp_path, monkeypatch):
    """A write waits while another process holds the lock and goes ahead once it is released;
    one held for longer than the busy timeout fails as 'database is locked', not a hang."""
    import subprocess
    import sys

    from sqlalchemy.exc import OperationalError

    from chatops import db

    path = str(tmp_path / "held.db")
    engine = make_engine(f"sqlite:///{path}")
    holder = ("import fcntl, os, sys, time\nfd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
              "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(float(sys.argv[2]))\n")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        brief = subprocess.Popen([sys.executable, "-c", holder, path + ".lock", "0.5"], stdout=subprocess.PIPE,
                                 text=True)
        assert brief.stdout.readline().strip() == "held"
        with engine.begin() as conn:  # waits about half a second, then writes
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        assert brief.wait(timeout=10) == 0
        monkeypatch.setattr(db, "LOCK_TIMEOUT", 0.3)
        stuck = subprocess.Popen([sys.executable, "-c", holder, path + ".lock", "30"], stdout=subprocess.PIPE,
                                 text=True)
        try:
            assert stuck.stdout.readline().strip() == "held"
            with pytest.raises(OperationalError, match="database is locked"), engine.begin() as conn:
                conn.exec_driver_sql("INSERT INTO t VALUES (2)")
        finally:
            stuck.kill()
            stuck.wait()
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT x FROM t").scalars().all() == [1]
    finally:
        engine.dispose()


def test_a_group_commit_writes_its_coalescing_rows_once_each_at_its_end_in_key_order(engine):
    """Two replicas' batches taking one incident's keys in opposite orders deadlocked on
    PostgreSQL; a batch now holds its coalescing rows and writes each key once, sorted, last."""
    from chatops.outbox import OutboxItem
    from chatops.tickets.events import EventNotice, OutboxRow, announce, batched

    def coalescing(*keys):
        return lambda notice: [OutboxRow("slack", "update_incident", key, f"lane-{key}", {"k": key}, coalesce=True)
                               for key in keys]

    notice = EventNotice(event_id=1, ticket_id=None, kind="incident_message", actor="t", at=BASE_TIME, channel="c",
                         assignee=None, payload={})
    with engine.begin() as conn, batched(conn, []):
        announce(conn, [coalescing("incident:2", "digest:1")], notice)
        announce(conn, [coalescing("incident:1", "incident:2")], notice)
        assert conn.scalar(select(func.count()).select_from(OutboxItem)) == 0  # held
    with engine.begin() as conn:
        announce(conn, [coalescing("incident:1", "incident:3")], notice)  # outside a batch: at once
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
