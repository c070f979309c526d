"""Planner statistics when PostgreSQL's autovacuum is off (as on this project's CI machine):
the scheduler leader analyses the tables ingest has grown, and leaves them to autovacuum when it
is on."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from chatops.maintenance import Analyzer
from tests.helpers import inbound


def analysed_at(engine, table: str):
    with engine.connect() as conn:
        return conn.scalar(text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = :t"), {"t": table})


def test_grown_tables_are_analysed_once_when_autovacuum_is_off(engine, flows, database_url):
    if not database_url.startswith("postgresql"):
        assert Analyzer(engine, autovacuum=False).run() == []  # SQLite: nothing to do
        return
    analyzer = Analyzer(engine, autovacuum=False)
    analyzer.run()  # whatever earlier tests left
    before = analysed_at(engine, "messages")
    for n in range(300):
        flows.ingest(inbound(f"届かない #{n}", external_id=f"m-{n}", author={"id": f"a{n}", "handle": f"@a{n}"}))
    # A server process reports its row counts when it ends (else up to seconds later, when idle):
    # closing the pool's connections makes every count arrive before the analysis, none after it.
    engine.dispose()
    deadline = time.monotonic() + 5  # the server publishes its row counts within about a second
    analysed: list[str] = []
    while "messages" not in analysed and time.monotonic() < deadline:
        analysed = analyzer.run()
        time.sleep(0.2)
    assert {"messages", "tickets", "customers", "ticket_events"} <= set(analysed)
    after = analysed_at(engine, "messages")
    assert after is not None and (before is None or after > before)
    assert "messages" not in analyzer.run()  # nothing changed since: not again


def test_nothing_is_analysed_when_autovacuum_is_on(engine, flows, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's autovacuum")
    for n in range(100):
        flows.ingest(inbound(f"返品 #{n}", external_id=f"r-{n}", author={"id": f"r{n}", "handle": f"@r{n}"}))
    assert Analyzer(engine, autovacuum=True).run() == []


def test_autovacuum_is_asked_of_the_server_and_off_is_said_once(engine, database_url, caplog):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's autovacuum")
    with engine.connect() as conn:
        on = conn.scalar(text("SELECT current_setting('autovacuum')")) == "on"
    analyzer = Analyzer(engine)
    analyzer.run()
    analyzer.run()
    assert analyzer.autovacuum is on
    warnings = [r for r in caplog.records if r.name == "chatops.maintenance" and r.levelname == "WARNING"]
    assert len(warnings) == (0 if on else 1) and all("autovacuum is off" in r.getMessage() for r in warnings)
