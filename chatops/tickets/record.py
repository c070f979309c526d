"""The one writer of ticket changes: the event row, the outbox rows the surfaces' listeners
derive from it, and the read-model projections, all in the caller's transaction.

Every flow (ingest, people's actions, the SLA clock, paging, flood, CSAT, pollers) writes
through `Recorder.record` and queues side effects through `enqueue`; nothing else inserts
TicketEvent or OutboxItem rows. A change and its announcements commit together or not at all.

A `UnitOfWork` is one transaction's handle: its `db` (an ORM Session or a Core Connection) and,
in a group commit (`Recorder.batch`), what is held until the batch's end (coalescing outbox
rows, projector deltas), so that state rides on the transaction, not on globals.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from chatops.tickets.events import EventListener, EventNotice, OutboxRow, Projector
from chatops.tickets.models import OutboxItem, TicketEvent

Db = Session | Connection


class UnitOfWork:
    """One transaction's writes: `db`, and in a group commit the rows held until its end."""

    def __init__(self, db: Db, *, batched: bool = False) -> None:
        self.db = db
        self.batched = batched
        # Coalescing outbox rows of a group commit by dedupe key, written once at its end.
        self.held_outbox: dict[str, dict[str, Any]] = {}
        # Per-projector state of a group commit (e.g. stats deltas), flushed at its end.
        self.deferred: dict[int, Any] = {}
        # What a service read once in this transaction and keeps current as it writes (flood's open incidents).
        self.cache: dict[str, Any] = {}

    def execute(self, stmt, params=None):
        """Run a Core statement in this transaction (a Session's on its connection: no ORM
        bulk machinery, the same statement forms on both kinds of `db`)."""
        conn = self.db.connection() if isinstance(self.db, Session) else self.db
        return conn.execute(stmt, params if params is not None else {})

    def scalar(self, stmt, params=None):
        """The first column of the first row of a Core statement run in this transaction."""
        return self.execute(stmt, params).scalar()

    @property
    def dialect(self):
        """The database's SQLAlchemy dialect."""
        bind = self.db.get_bind() if isinstance(self.db, Session) else self.db
        return bind.dialect

    @property
    def dialect_name(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.dialect.name


def unit(db: Db | UnitOfWork) -> UnitOfWork:
    """`db` as a UnitOfWork (a plain Session or Connection gets an unbatched one)."""
    return db if isinstance(db, UnitOfWork) else UnitOfWork(db)


class Recorder:
    """Writes ticket events with their announcements and projections (see the module docstring)."""

    def __init__(self, listeners: Iterable[EventListener] = (), projectors: Iterable[Projector] = ()) -> None:
        self.listeners: list[EventListener] = list(listeners)
        # Read models kept in step inside the event's transaction (stats rollups, CSAT requests).
        self.projectors: list[Projector] = list(projectors)

    def record(self, db: Db | UnitOfWork, *, ticket_id: int, kind: str, actor: str, at: datetime,
               channel: str, assignee: str | None, payload: dict[str, Any] | None = None,
               facts: Any = None, project: bool = True) -> int:
        """Insert one TicketEvent, queue what the listeners ask for, run the projectors (unless
        `project` is false: a flood incident's members, which the read models do not count); the event id."""
        uow = unit(db)
        payload = payload or {}
        if isinstance(uow.db, Session):
            uow.db.flush()  # ORM changes of the same transaction first: projectors read the rows
        event_id = uow.execute(_INSERT_EVENT, {"ticket_id": ticket_id, "kind": kind, "actor": actor, "at": at,
                                               "payload": payload}).scalar_one()
        self._follow(uow, EventNotice(event_id=event_id, ticket_id=ticket_id, kind=kind, actor=actor, at=at,
                                      channel=channel, assignee=assignee, payload=payload, facts=facts), project)
        return event_id

    def record_many(self, db: Db | UnitOfWork, events: list[dict[str, Any]]) -> list[int]:
        """`record` for several events (keys as `record`'s arguments) in one INSERT: a scheduler
        pass that fires hundreds of notices stays a handful of statements."""
        if not events:
            return []
        uow = unit(db)
        if isinstance(uow.db, Session):
            uow.db.flush()
        ids = uow.execute(_INSERT_EVENTS, [
            {"ticket_id": e["ticket_id"], "kind": e["kind"], "actor": e["actor"], "at": e["at"],
             "payload": e.get("payload") or {}} for e in events]).scalars().all()
        for event_id, e in zip(ids, events, strict=True):
            self._follow(uow, EventNotice(event_id=event_id, ticket_id=e["ticket_id"], kind=e["kind"], actor=e["actor"],
                                          at=e["at"], channel=e["channel"], assignee=e["assignee"],
                                          payload=e.get("payload") or {}, facts=e.get("facts")), True)
        return list(ids)

    def _follow(self, uow: UnitOfWork, notice: EventNotice, project: bool) -> None:
        """What follows a stored event: the listeners' outbox rows, then (unless not `project`) the projections."""
        self.announce(uow, notice)
        if project:
            for projector in self.projectors:
                projector(uow, notice)

    def record_ticket(self, db: Db | UnitOfWork, ticket, kind: str, actor: str, at: datetime,
                      **payload: Any) -> int:
        """`record` for a loaded ORM Ticket, whose `updated_at` moves to `at`."""
        ticket.updated_at = at
        return self.record(db, ticket_id=ticket.id, kind=kind, actor=actor, at=at, channel=ticket.channel,
                           assignee=ticket.assignee, payload=payload)

    def announce(self, db: Db | UnitOfWork, notice: EventNotice) -> int:
        """Queue the outbox rows the listeners derive from `notice` (no event row, no projections:
        for members of a flood incident, which the read models do not count)."""
        rows = [row for listener in self.listeners for row in listener(notice)]
        return enqueue(db, rows, ticket_id=notice.ticket_id, at=notice.at)

    @contextmanager
    def batch(self, db: Db) -> Iterator[UnitOfWork]:
        """Group commit: within, projectors that can (a `flush(uow)` method) hold their writes and
        coalescing outbox rows are held; both are written once at the end, in the same transaction.

        Held rows go in dedupe-key order, so two replicas' batches touching the same keys lock
        them in the same order and cannot deadlock each other."""
        uow = UnitOfWork(db, batched=True)
        yield uow
        for projector in self.projectors:
            flush = getattr(projector, "flush", None)
            if flush is not None:
                flush(uow)
        if uow.held_outbox:
            held = [uow.held_outbox[key] for key in sorted(uow.held_outbox)]
            uow.held_outbox.clear()
            uow.execute(_on_conflict(uow.dialect_name, urgent=False), held)


def enqueue(db: Db | UnitOfWork, rows: Iterable[OutboxRow], *, ticket_id: int | None = None,
            at: datetime) -> int:
    """Insert outbox rows in the caller's transaction; how many were queued.

    A plain row whose dedupe key exists fails the transaction (IntegrityError: a side effect is
    never queued twice); a coalescing one is dropped instead (and held to the end of a group
    commit); an urgent one marks the queued item urgent while it is still pending."""
    uow = unit(db)
    plain, coalescing, urgent = [], [], []
    for row in rows:
        values = {"target": row.target, "kind": row.kind, "dedupe_key": row.dedupe_key,
                  "ordering_key": row.ordering_key,
                  "ticket_id": row.ticket_id if row.ticket_id is not None else ticket_id,
                  "payload": dict(row.payload), "state": "pending", "attempts": 0, "in_doubt": False,
                  "urgent": row.urgent, "created_at": at, "next_attempt_at": row.not_before or at}
        (coalescing if row.coalesce else urgent if row.urgent else plain).append(values)
    for values in urgent:  # rare (one per incident), and first: the parent before its thread
        uow.execute(_on_conflict(uow.dialect_name, urgent=True), values)
    if plain:
        uow.execute(_INSERT_OUTBOX, plain)
    if coalescing:
        if uow.batched:
            for values in coalescing:
                uow.held_outbox.setdefault(values["dedupe_key"], values)
        else:
            uow.execute(_on_conflict(uow.dialect_name, urgent=False), coalescing)
    return len(plain) + len(coalescing) + len(urgent)


_INSERT_EVENT = insert(TicketEvent).returning(TicketEvent.id)
_INSERT_EVENTS = insert(TicketEvent).returning(TicketEvent.id, sort_by_parameter_order=True)
_INSERT_OUTBOX = insert(OutboxItem)
_CONFLICT_INSERTS: dict[tuple[str, bool], Any] = {}


def _on_conflict(dialect: str, *, urgent: bool):
    """INSERT INTO outbox … ON CONFLICT (dedupe_key): DO NOTHING for coalescing rows; for urgent
    ones, DO UPDATE SET urgent = true while the queued item is pending (one sent is left alone)."""
    key = (dialect, urgent)
    if key not in _CONFLICT_INSERTS:
        stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(OutboxItem)
        _CONFLICT_INSERTS[key] = (
            stmt.on_conflict_do_update(index_elements=["dedupe_key"], set_={"urgent": True},
                                       where=OutboxItem.state == "pending")
            if urgent else stmt.on_conflict_do_nothing(index_elements=["dedupe_key"]))
    return _CONFLICT_INSERTS[key]
