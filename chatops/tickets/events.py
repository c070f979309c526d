"""What surfaces hear about ticket changes, and what they ask for in return.

A listener is a pure function from an `EventNotice` to outbox rows (`OutboxRow`); the recorder
(chatops.tickets.record) inserts them in the transaction that writes the event. Surfaces (Slack,
Teams, paging) register listeners at start-up; flows never import them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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
    # The ticket the row is about when it is queued outside an event (an alert, a digest).
    ticket_id: int | None = None


EventListener = Callable[[EventNotice], Iterable[OutboxRow]]
# A read model kept in step with events (e.g. stats rollups): writes in the event's transaction,
# through the UnitOfWork (chatops.tickets.record) it is handed.
Projector = Callable[[Any, EventNotice], None]
