"""Engine, session scope and declarative Base. SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import QueuePool
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with stable constraint names (Alembic relies on them)."""

    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive text otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """Now, timezone-aware in UTC."""
    return datetime.now(UTC)


LOCK_TIMEOUT = 30.0  # seconds, as SQLite's busy timeout below
# WalCheckpointer: a WAL this large is made to start over (the file keeps its size and is reused).
WAL_RESET_BYTES = 512 * 1024 * 1024


class _WriterLockedConnection(sqlite3.Connection):
    """A SQLite connection whose write transactions also hold an exclusive `flock` on a lock
    file beside the database, taken before BEGIN IMMEDIATE and released at COMMIT/ROLLBACK.

    SQLite itself lets one writer in at a time, but a writer that finds the database locked
    polls: its busy handler sleeps 1, 2, 5 … up to 100 ms between tries, so with several
    processes on one file (`chatops serve --workers N`) every collision cost tens of
    milliseconds. A waiter here looks again within 2 ms of the release. The kernel drops the
    lock with the process, so a killed worker never leaves it held.
    """

    def __init__(self, database, *args, **kwargs) -> None:
        super().__init__(database, *args, **kwargs)
        self._lock_fd = os.open(f"{os.fspath(database)}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        self._locked = False

    def begin_immediate(self) -> None:
        self._lock()
        try:
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._unlock()
            raise

    def commit(self) -> None:
        super().commit()  # a failed COMMIT keeps the lock until the rollback that follows
        self._unlock()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._unlock()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._unlock()
            if self._lock_fd >= 0:
                os.close(self._lock_fd)
                self._lock_fd = -1

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """Hold the writer lock outside a transaction: no process can begin a write meanwhile."""
        self._lock()
        try:
            yield
        finally:
            self._unlock()

    def _lock(self) -> None:
        """Take the lock: at once when free; else look again every 0.1–2 ms (a write holds it for
        a few milliseconds) for as long as SQLite's own busy timeout, then fail as SQLite would:
        a transaction that never ends elsewhere must not hang every writer forever."""
        deadline, pause = None, 0.0001
        while True:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._locked = True
                return
            except BlockingIOError:
                now = time.monotonic()
                deadline = deadline or now + LOCK_TIMEOUT
                if now > deadline:
                    raise sqlite3.OperationalError("database is locked (another process holds its write lock)") \
                        from None
            time.sleep(pause)
            pause = min(pause * 2, 0.002)

    def _unlock(self) -> None:
        if self._locked:
            self._locked = False
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout for concurrent writers."""
    if url.startswith("sqlite"):
        connect_args = {"timeout": LOCK_TIMEOUT, "check_same_thread": False}
        database = make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            connect_args["factory"] = _WriterLockedConnection
        kwargs.setdefault("connect_args", connect_args)
        # SQLite has one writer at a time. One pooled connection makes threads queue on the
        # pool's condition variable instead of SQLite's busy handler, which sleeps up to 100 ms
        # per retry and ruins tail latency. (Use PostgreSQL for concurrency across processes.)
        kwargs.setdefault("poolclass", QueuePool)
        kwargs.setdefault("pool_size", 1)
        kwargs.setdefault("max_overflow", 0)
        kwargs.setdefault("pool_timeout", 60)
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # pysqlite's own transaction handling would BEGIN lazily (DEFERRED), which lets two
            # writers deadlock on upgrade; we issue BEGIN IMMEDIATE ourselves in `begin`.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache (default 2 MiB)
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # Straight to the driver: this runs once per transaction, on the ingest hot path.
            driver = conn.connection.driver_connection
            try:
                if isinstance(driver, _WriterLockedConnection):
                    driver.begin_immediate()
                else:
                    driver.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:  # as SQLAlchemy raises driver errors (OperationalError, …)
                raise DBAPIError.instance("BEGIN IMMEDIATE", None, exc, sqlite3.Error) from exc

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


class WalCheckpointer:
    """Checkpoints a SQLite WAL from its own thread and connection (`chatops serve`).

    By default SQLite checkpoints inside the commit that crosses 1,000 WAL pages: that commit
    copies pages into the database file and fsyncs it, a few milliseconds that land on one
    unlucky webhook every second or so under load. Here the process's connections don't
    checkpoint (`wal_autocheckpoint=0`) and this thread does a PASSIVE checkpoint every
    `interval` seconds, which never takes the writer lock: commits only append to the WAL.

    A PASSIVE checkpoint copies the frames that were in the WAL when it began. Under sustained
    writes (a flood at a few hundred webhooks a second) more frames always arrive while it runs,
    so the WAL is never fully copied when the next write begins, SQLite never starts it over, and
    it grows by some 70 MB a second until the flood ends, while every read searches a longer
    WAL index. So once the WAL passes `reset_bytes`, the round checkpoints once more holding the
    writer lock: only the frames written during the first pass are left to copy, the WAL is then
    fully copied, and the next write starts it over.
    Writers wait for that second pass: measured 20-25 ms, once every 7 s or so at the ingest
    target's 500 webhooks a second, and never while the WAL is under `reset_bytes`. A lower
    threshold would put that wait on many more webhooks (64 MiB: ingest bench p99 up by about
    half), so it is set high. The file keeps its size and is reused: cutting a 450 MB WAL back
    (`journal_size_limit`) stalled commits some 300 ms.
    """

    def __init__(self, engine: Engine, interval: float = 0.5, reset_bytes: int = WAL_RESET_BYTES) -> None:
        self.engine = engine
        self.path = engine.url.database
        self.interval = interval
        self.reset_bytes = reset_bytes
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> WalCheckpointer:
        @event.listens_for(self.engine, "connect")
        def _no_autocheckpoint(dbapi_conn, _record):
            dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")

        self.engine.dispose()  # connections opened before this get the pragma too
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self._thread.start()
        return self

    def connect(self) -> _WriterLockedConnection:
        """The checkpointer's own connection (it takes the writer lock for a reset)."""
        return sqlite3.connect(self.path, timeout=LOCK_TIMEOUT, check_same_thread=False, isolation_level=None,
                               factory=_WriterLockedConnection)

    def checkpoint(self, conn: _WriterLockedConnection) -> None:
        """One round: a PASSIVE checkpoint, and a second one under the writer lock when the WAL
        has grown past `reset_bytes` (see the class docstring)."""
        _, frames, _ = self._passive(conn)
        if frames * self._page_size(conn) >= self.reset_bytes:
            with conn.write_lock():
                self._passive(conn)

    def _passive(self, conn: sqlite3.Connection) -> tuple[int, int, int]:
        """(busy, frames in the WAL, frames copied); frames are -1 when another checkpoint ran."""
        return conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()

    @staticmethod
    def _page_size(conn: sqlite3.Connection) -> int:
        return conn.execute("PRAGMA page_size").fetchone()[0]

    def _run(self) -> None:
        conn = self.connect()
        try:
            while not self._stop.wait(self.interval):
                try:
                    self.checkpoint(conn)
                except sqlite3.Error:  # a busy or missing file: the next round tries again
                    logging.getLogger("chatops.db").warning("WAL checkpoint failed", exc_info=True)
            self._passive(conn)
        finally:
            conn.close()

    def stop(self) -> None:
        """Checkpoint once more and end the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def background_checkpoints(engine: Engine) -> WalCheckpointer | None:
    """Start a WalCheckpointer for a file-backed SQLite engine; None for other databases."""
    if engine.dialect.name != "sqlite" or not engine.url.database or engine.url.database == ":memory:":
        return None
    return WalCheckpointer(engine).start()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory that keeps loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
