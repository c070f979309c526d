"""Shared fixtures: a migrated database per test (SQLite, and PostgreSQL when
CHATOPS_TEST_DATABASE_URL is set), the shipped rules, and a guard refusing any connection that
is not to 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Before numpy loads (here and in the serve and CLI processes tests start, which inherit the
# environment): the rules' examples classifier fits tiny matrices, and BLAS threads spinning
# for two shared cores made each fit several times slower than one thread.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

# Processes tests start (`python -m chatops ...`) import this checkout's code, not the one the
# shared virtualenv was installed from (a git worktree of it, for instance).
os.environ["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parent.parent),
                                            *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))])

import pytest
from sqlalchemy import text

from chatops import migrate
from chatops.customers import models as customer_models  # noqa: F401
from chatops.db import make_engine, make_session_factory
from chatops.oncall import models as oncall_models  # noqa: F401
from chatops.rules import load_rules
from chatops.runtime import Runtime
from chatops.settings import Settings
from chatops.stats import models as stats_models  # noqa: F401
from chatops.tickets import models  # noqa: F401
from chatops.tickets.flows import TicketFlows

ROOT = Path(__file__).resolve().parent.parent
RULES_PATH = ROOT / "rules.yaml"
PG_URL = os.environ.get("CHATOPS_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@pytest.fixture(autouse=True)
def only_loopback(monkeypatch):
    """Fail any test that tries to reach beyond 127.0.0.1."""
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def check(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in LOOPBACK:
            raise ConnectionRefusedError(f"tests may only connect to 127.0.0.1, not {address[0]}")

    def connect(sock, address):
        check(sock, address)
        return real_connect(sock, address)

    def connect_ex(sock, address):
        check(sock, address)
        return real_connect_ex(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is much faster)."""
    path = tmp_path_factory.mktemp("template") / "chatops.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


def _worker_database(url: str) -> str:
    """`url` itself, or under pytest-xdist (`-n 2`) a database of this worker's own beside it,
    created on first use: every worker resets and empties its database as if it ran alone."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"{base.database}_{worker}"
    engine = make_engine(base.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}) is None:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_ready() -> str:
    """The test PostgreSQL (a database per worker under pytest-xdist), reset to an empty public
    schema and migrated once per run."""
    url = _worker_database(PG_URL)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> str:
    """A migrated, empty database for this test."""
    if request.param == "sqlite":
        target = tmp_path / "chatops.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite:///{target}"
    url = request.getfixturevalue("pg_ready")
    engine = make_engine(url)
    # DELETE from every table the migrations made, then every sequence back to its start: what
    # TRUNCATE ... RESTART IDENTITY CASCADE leaves, without its new file per table (up to half a
    # second a test on these tiny tables). Without foreign-key triggers the order does not matter.
    with engine.begin() as conn:
        tables = conn.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                                   "AND tablename <> 'alembic_version'")).all()
        superuser = conn.scalar(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))
        if superuser:
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            for name in tables:
                conn.exec_driver_sql(f'DELETE FROM "{name}"')
            conn.execute(text("SELECT setval(format('%I.%I', schemaname, sequencename), start_value, false) "
                              "FROM pg_sequences WHERE schemaname = current_schema()"))
        else:  # only a superuser may turn the triggers off
            names = ", ".join(f'"{name}"' for name in tables)
            conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def rules():
    """The rules.yaml shipped at the repository root."""
    return load_rules(RULES_PATH)


class Clock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs) -> datetime:
        """Move forward by a timedelta given as keyword arguments."""
        self.now += timedelta(**kwargs)
        return self.now


@pytest.fixture
def clock() -> Clock:
    """Starts at 2026-11-20 10:00 JST (01:00 UTC), a Friday."""
    return Clock(datetime(2026, 11, 20, 1, 0, tzinfo=UTC))


@pytest.fixture
def engine(database_url):
    """An engine on this test's database."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine):
    """Sessions on this test's database."""
    return make_session_factory(engine)


@pytest.fixture
def flows(session_factory, rules, clock) -> TicketFlows:
    """Ticket flows over the shipped rules and a hand-moved clock."""
    return TicketFlows(session_factory, rules, clock=clock)


@pytest.fixture
def settings(database_url) -> Settings:
    """Settings for this test's database, the shipped rules and a known webhook secret."""
    return Settings(database_url=database_url, rules_path=RULES_PATH, webhook_secret="test-webhook-secret")


@pytest.fixture
def runtime(settings, rules, clock):
    """An assembled runtime (database already migrated by the fixture) on the hand-moved clock."""
    runtime = Runtime.build(settings, upgrade_db=False, rules=rules, clock=clock)
    yield runtime
    runtime.close()
