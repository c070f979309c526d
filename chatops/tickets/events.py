"""What surfaces hear about ticket changes, and how they turn it into outbox rows.

Every TicketEvent is announced to the registered listeners inside the transaction that writes
it. A listener is a pure function from an `EventNotice` to outbox rows (`OutboxRow`); the flow
inserts them in the same transaction, so a change and its announcements commit together or not
at all. Surfaces (Slack, Teams, paging) register listeners at start-up; flows never import them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from chatops import fastsql
from chatops.tickets.models import OutboxItem


@dataclass(frozen=True)
class EventNotice:
    """One ticket change as listeners see it."""

    event_id: int
    ticket_id: int
    kind: str
    actor: str
    at: datetime
    channel: str
    assignee: str | None
    payload: Mapping[str, Any] = field(default_factory=dict)
    # The ticket's columns as the stats projector reads them (chatops.stats.projector.TicketFacts),
    # when the flow that made the change has them at hand: ingest, for a ticket it just created.
    facts: Any = None


@dataclass(frozen=True)
class OutboxRow:
    """A side effect a listener asks for; `dedupe_key` must be unique for all time."""

    target: str
    kind: str
    dedupe_key: str
    ordering_key: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    # Coalescing rows (flood incidents): a row whose dedupe_key is queued already is dropped
    # instead of failing the transaction, and it is not delivered before `not_before`.
    coalesce: bool = False
    not_before: datetime | None = None
    # Goes before everything else pending in its lane. A row whose dedupe_key is queued already
    # marks that item urgent while it is still pending, instead of failing the transaction (an
    # incident opened on a ticket whose parent post has not left yet). A coalescing row is urgent
    # when it is the one inserted, and otherwise dropped like any coalescing row.
    urgent: bool = False


EventListener = Callable[[EventNotice], Iterable[OutboxRow]]
# A read model kept in step with events (e.g. stats rollups): writes in the event's transaction.
Projector = Callable[[Session | Connection, EventNotice], None]


def announce(db: Session | Connection, listeners: Iterable[EventListener], notice: EventNotice) -> int:
    """Run the listeners and insert the rows they ask for; returns how many were queued."""
    rows, coalescing, urgent = [], [], []
    for listener in listeners:
        for row in listener(notice):
            values = {"target": row.target, "kind": row.kind, "dedupe_key": row.dedupe_key,
                      "ordering_key": row.ordering_key, "ticket_id": notice.ticket_id, "payload": dict(row.payload),
                      "state": "pending", "attempts": 0, "in_doubt": False, "urgent": row.urgent,
                      "created_at": notice.at, "next_attempt_at": row.not_before or notice.at}
            (coalescing if row.coalesce else urgent if row.urgent else rows).append(values)
    for values in urgent:  # rare (one per incident), and first: the parent before its thread
        db.execute(_on_conflict(db, urgent=True), values)
    if rows:
        fastsql.execute_many(db, _INSERT_OUTBOX, rows)
    if coalescing:  # a flood's messages: hundreds a second, each through here (chatops.fastsql)
        held = db.info.get(_HELD_COALESCING)
        if held is not None:  # a group commit: written once, at its end (`batched`)
            for values in coalescing:
                held.setdefault(values["dedupe_key"], values)
        else:
            fastsql.execute_many(db, _on_conflict(db, urgent=False), coalescing)
    return len(rows) + len(coalescing) + len(urgent)


def _on_conflict(db: Session | Connection, *, urgent: bool):
    """INSERT INTO outbox … ON CONFLICT (dedupe_key): DO NOTHING for coalescing rows; for urgent
    ones, DO UPDATE SET urgent = true while the queued item is pending (one sent is left alone)."""
    bind = db.get_bind() if isinstance(db, Session) else db
    name = bind.dialect.name
    if (name, urgent) not in _CONFLICT_INSERTS:
        from sqlalchemy.dialects import postgresql, sqlite

        stmt = (postgresql.insert if name == "postgresql" else sqlite.insert)(OutboxItem)
        _CONFLICT_INSERTS[name, urgent] = (
            stmt.on_conflict_do_update(index_elements=["dedupe_key"], set_={"urgent": True},
                                       where=OutboxItem.state == "pending")
            if urgent else stmt.on_conflict_do_nothing(index_elements=["dedupe_key"]))
    return _CONFLICT_INSERTS[name, urgent]


def project(db: Session | Connection, projectors: Iterable[Projector], notice: EventNotice) -> None:
    """Run the projectors for one event, in the caller's transaction."""
    for projector in projectors:
        projector(db, notice)


_INSERT_OUTBOX = insert(OutboxItem)
_CONFLICT_INSERTS: dict[tuple[str, bool], Any] = {}
_HELD_COALESCING = "chatops.coalescing"  # Connection.info key of the rows a group commit holds


@contextmanager
def batched(db: Session | Connection, projectors: Iterable[Projector]) -> Iterator[None]:
    """Group commit: projectors that can (a `batch(db)` context manager) hold their writes for
    the events of the block and write them once at its end, in the same transaction.

    Coalescing outbox rows are held too, and written at the end once each, in dedupe-key order.
    Written as they came, two replicas' batches took the same keys (one incident's update of
    this second, its digest) in opposite orders, each waiting for the other's uncommitted row:
    a deadlock PostgreSQL breaks only after `deadlock_timeout` (1 s), stalling both replicas'
    ingest. 52 of them in four load runs; in key order they cannot happen."""
    held: dict[str, dict] = {}
    db.info[_HELD_COALESCING] = held
    try:
        with ExitStack() as stack:
            for projector in projectors:
                batch = getattr(projector, "batch", None)
                if batch is not None:
                    stack.enter_context(batch(db))
            yield
            if held:
                fastsql.execute_many(db, _on_conflict(db, urgent=False), [held[key] for key in sorted(held)])
    finally:
        db.info.pop(_HELD_COALESCING, None)
