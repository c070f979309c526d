"""Durable delivery of side effects: Slack posts, network replies, pages.

Flows insert OutboxItem rows in the same transaction as the change they announce; a worker
claims due items, delivers them outside any transaction, and records the outcome.

- Order: per `ordering_key` (a Slack channel, a network account) only the oldest pending item
  is eligible, so a thread's lines never overtake each other; an `urgent` item (an incident's
  parent post) goes before the rest of its lane.
- Pacing: a deliverer may say how long its lane must rest after a delivery (`pace(item)`,
  e.g. Slack's one post per second per channel); the rest is an `outbox_lanes` row, shared by
  every worker and replica.
- Retries: exponential backoff with jitter; a `Retry-After` from the remote wins.
- Several workers (threads or replicas): PostgreSQL claims with FOR UPDATE SKIP LOCKED; SQLite
  serialises writers with BEGIN IMMEDIATE. A claim is a lease (`locked_until`), so the items of
  a worker that died are picked up again when the lease ends.
- Never duplicated: the `dedupe_key` is unique, and deliverers pass it to remotes that accept an
  idempotency key.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from chatops.db import session_scope, utcnow
from chatops.tickets.models import OutboxItem, OutboxLane

log = logging.getLogger("chatops.outbox")

Deliverer = Callable[[OutboxItem], dict[str, Any] | None]
DoneHook = Callable[[Session, OutboxItem], None]
HookFailure = Callable[[Session, OutboxItem, BaseException], None]


# The longest wait a Retry-After may impose; a larger figure is a broken header, not a plan.
RETRY_AFTER_MOST = 3600.0


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds a `Retry-After` header asks for (delta-seconds or an HTTP date, measured from
    `now`), between 0 and an hour; None when absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - now).total_seconds()
        except (TypeError, ValueError):
            return None
    return max(0.0, min(seconds, RETRY_AFTER_MOST))


class DeliveryError(Exception):
    """A failed delivery: retried later (after `retry_after` seconds if the remote said so),
    or never again when `permanent`."""

    def __init__(self, message: str, *, retry_after: float | None = None, permanent: bool = False,
                 answered: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent
        # True when the remote answered that it did not act (Slack's `ok: false`, a 429): the
        # next attempt need not check whether this one went through.
        self.answered = answered


class Outbox:
    """Claims due items, hands each to the deliverer registered for its exact target
    (e.g. `network:webhook`, `slack`), and records results."""

    def __init__(self, session_factory: sessionmaker[Session], deliverers: dict[str, Deliverer], *,
                 on_done: dict[str, DoneHook] | None = None, on_dead: dict[str, DoneHook] | None = None,
                 clock: Callable[[], datetime] = utcnow,
                 max_attempts: int = 10, base_delay: float = 2.0, max_delay: float = 900.0,
                 lease: timedelta = timedelta(seconds=120), wakeup: threading.Event | None = None,
                 on_hook_failure: HookFailure | None = None) -> None:
        self.session_factory = session_factory
        self.deliverers = deliverers
        self.on_done = on_done or {}
        # Called inside the transaction that marks an item dead, so a failure becomes visible
        # (e.g. a refused reply's thread line) atomically with giving up.
        self.on_dead = on_dead or {}
        # Told when a done/dead hook raised (the delivery stands, its record does not): counted at
        # /metrics and announced to people, since a log line alone reaches nobody.
        self.on_hook_failure = on_hook_failure
        self.clock = clock
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.lease = lease
        self._wake = wakeup or threading.Event()

    def wake(self) -> None:
        """Ask the worker to look for due items now instead of after its idle pause."""
        self._wake.set()

    def claim(self, limit: int = 20) -> list[OutboxItem]:
        """Lease up to `limit` due items that are first in their ordering key."""
        now = self.clock()
        # The head of each lane: its oldest pending item, computed once per claim (one pass over
        # the pending rows); a per-candidate "no earlier pending item" probe walks every done
        # item of the lane for every pending one, which a backlog makes slower than the pace.
        # Only lanes of targets this process delivers: items nobody here can deliver (a network
        # not configured on this replica) must not make every claim walk them.
        # An urgent item (an incident's parent post) is its lane's head while it is pending: it
        # is always a ticket's first post, so no line of its own thread is overtaken.
        targets = list(self.deliverers)
        head = func.coalesce(func.min(OutboxItem.id).filter(OutboxItem.urgent), func.min(OutboxItem.id))
        heads = (select(head).where(OutboxItem.state == "pending",
                                                        OutboxItem.ordering_key.is_not(None),
                                                        OutboxItem.target.in_(targets))
                 .group_by(OutboxItem.ordering_key))
        resting_lane = exists().where(
            and_(OutboxLane.key == OutboxItem.ordering_key, OutboxLane.not_before > now))
        stmt = (
            select(OutboxItem)
            .where(OutboxItem.state == "pending", OutboxItem.next_attempt_at <= now,
                   # Items for targets nobody here can deliver wait (visible in /metrics) until
                   # a process that has the integration configured picks them up.
                   OutboxItem.target.in_(targets),
                   (OutboxItem.locked_until.is_(None)) | (OutboxItem.locked_until < now),
                   (OutboxItem.ordering_key.is_(None)) | (OutboxItem.id.in_(heads) & ~resting_lane))
            .order_by(OutboxItem.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with session_scope(self.session_factory) as session:
            items = list(session.scalars(stmt))
            for item in items:
                if item.locked_until is not None:  # taken before and never finished: a crash
                    item.in_doubt = True
                item.locked_until = now + self.lease
                item.attempts += 1  # counted when taken, so a crash mid-delivery counts too
        return items

    def deliver(self, item: OutboxItem) -> bool:
        """Deliver one claimed item and record the outcome; True when it is done."""
        deliverer = self.deliverers[item.target]
        try:
            result = deliverer(item)
        except DeliveryError as exc:
            self._failed(item, exc)
            return False
        except Exception as exc:  # a bug or an unexpected library error: retry, and say so
            log.exception("outbox item %s (%s) raised", item.id, item.target, extra=_about(item))
            self._failed(item, DeliveryError(f"{type(exc).__name__}: {exc}"))  # in doubt: not answered
            return False
        with session_scope(self.session_factory) as session:
            row = session.get(OutboxItem, item.id)
            row.state, row.delivered_at, row.locked_until = "done", self.clock(), None
            row.result = result or {}
            # The remote has acted: a failing hook must not turn into a second delivery.
            _run_hook(session, row, self.on_done.get(row.kind), "delivered; done hook failed", self.on_hook_failure)
            pace = getattr(deliverer, "pace", None)
            rest = pace(row) if pace and row.ordering_key else 0.0
            if rest > 0:
                self._rest_lane(session, row.ordering_key, self.clock() + timedelta(seconds=rest))
        return True

    @staticmethod
    def _rest_lane(session: Session, key: str, until: datetime) -> None:
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(OutboxLane).values(key=key, not_before=until)
        session.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"not_before": until}))

    def run_once(self, limit: int = 20) -> int:
        """Claim and deliver one batch; returns how many items were attempted."""
        items = self.claim(limit)
        for item in items:
            self.deliver(item)
        return len(items)

    def run_forever(self, stop: threading.Event, idle_seconds: float = 0.5, coalesce: float = 0.1) -> None:
        """Drain until `stop` is set, sleeping briefly when nothing is due.

        Wakes are coalesced: after an empty claim the worker looks again at most every
        `coalesce` seconds, however often it is woken, since every stored webhook wakes it and a
        claim per wake would cost more than the deliveries under a flood."""
        if not self.deliverers:  # nothing this process can deliver: items wait for a replica that can
            stop.wait()
            return
        while not stop.is_set():
            try:
                if self.run_once() == 0:
                    self._wake.wait(self.pause(idle_seconds))
                    self._wake.clear()
                    stop.wait(coalesce)
            except Exception:  # the database may be briefly unavailable; keep the worker alive
                log.exception("outbox worker loop failed; retrying")
                stop.wait(idle_seconds * 4)

    def pause(self, idle_seconds: float) -> float:
        """How long an idle worker waits: until the soonest resting lane may go again, at most
        `idle_seconds`. Waking only every `idle_seconds` made a paced lane (Slack: 1 s per
        channel) post every 1.0–1.5 s, a third of its throughput lost behind a backlog."""
        now = self.clock()
        with self.session_factory() as session:
            soonest = session.scalar(select(func.min(OutboxLane.not_before)).where(OutboxLane.not_before > now))
        if soonest is None:
            return idle_seconds
        return min(idle_seconds, max(0.01, (soonest - now).total_seconds()))

    def _failed(self, item: OutboxItem, exc: DeliveryError) -> None:
        with session_scope(self.session_factory) as session:
            row = session.get(OutboxItem, item.id)
            row.last_error = str(exc)[:2000]
            row.in_doubt = row.in_doubt or not exc.answered
            row.locked_until = None
            if exc.permanent or row.attempts >= self.max_attempts:
                row.state = "dead"
                log.error("outbox item %s (%s) gave up after %s attempts: %s", row.id, row.target,
                          row.attempts, exc, extra=_about(row))
                _run_hook(session, row, self.on_dead.get(row.kind), f"{row.last_error}; dead hook failed",
                          self.on_hook_failure)
                return
            delay = exc.retry_after if exc.retry_after is not None else self.backoff(row.attempts)
            row.next_attempt_at = self.clock() + timedelta(seconds=delay)
            log.warning("outbox item %s (%s) attempt %s failed, retry in %.1fs: %s", row.id, row.target,
                        row.attempts, delay, exc, extra=_about(row))

    def backoff(self, attempts: int) -> float:
        """Seconds before the next try: exponential, capped, with ±20% jitter."""
        delay = min(self.max_delay, self.base_delay * 2 ** (attempts - 1))
        return delay * random.uniform(0.8, 1.2)


def _run_hook(session: Session, row: OutboxItem, hook: DoneHook | None, failure: str,
              told: HookFailure | None = None) -> None:
    """Run an on_done/on_dead hook in a savepoint; a hook that raises is logged, noted on the row
    (`failure: error`) and `told`, without undoing the row's own change."""
    if hook is None:
        return
    try:
        with session.begin_nested():
            hook(session, row)
    except Exception as exc:
        log.exception("outbox item %s: %s", row.id, failure, extra=_about(row))
        row.last_error = f"{failure}: {type(exc).__name__}: {exc}"[:2000]
        if told is not None:
            try:
                with session.begin_nested():
                    told(session, row, exc)
            except Exception:  # the row's own change must still commit
                log.exception("outbox item %s: reporting the failed hook failed", row.id, extra=_about(row))


def _about(item: OutboxItem) -> dict[str, Any]:
    """Structured log fields of an outbox item (JSON logs show them as keys)."""
    fields: dict[str, Any] = {"outbox_id": item.id, "target": item.target, "kind": item.kind}
    if item.ticket_id is not None:
        fields["ticket"] = f"T-{item.ticket_id}"
    return fields
