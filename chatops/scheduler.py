"""The scheduler: APScheduler jobs that are thin wrappers over flows (SLA and paging passes,
the weekly stats digest), run by one leader.

Leadership is a lease row (`scheduler_leases`), so it works on SQLite and PostgreSQL alike:
a replica becomes leader when the lease is free or expired, renews it every tick, and a
replica that dies is replaced once its lease runs out (`ttl`: CHATOPS_LEASE_SECONDS, 30 s by
default; ticks every 10 s, so within a minute). Every pass also *fences* on the lease inside its own transaction
(UPDATE … WHERE holder = me AND not expired; on PostgreSQL that row stays locked until the pass
commits), so a leader that lost its lease mid-way writes nothing. The job store is memory
only: all clock state (deadlines, next notice, page step) lives on ticket and page rows, so a
new leader carries on where the last one stopped (PLATFORMS.md, APScheduler 3).
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from chatops.db import session_scope, utcnow
from chatops.maintenance import Analyzer
from chatops.oncall.models import SchedulerLease
from chatops.tickets.flows import TicketFlows

log = logging.getLogger("chatops.scheduler")


class Lease:
    """A named lease row: at most one holder whose `expires_at` is in the future."""

    def __init__(self, session_factory: sessionmaker[Session], *, name: str = "scheduler",
                 holder: str | None = None, ttl: timedelta = timedelta(seconds=30),
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.session_factory = session_factory
        self.name = name
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.ttl = ttl
        self.clock = clock

    def acquire(self, conn=None) -> bool:
        """Take or renew the lease; True when this process holds it now. With `conn`, inside
        the caller's transaction (on PostgreSQL the lease row then stays locked until it commits)."""
        if conn is None:
            with session_scope(self.session_factory) as session:
                return self.acquire(session)
        now = self.clock()
        session = conn
        dialect = (session.get_bind() if isinstance(session, Session) else session).dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        session.execute(insert(SchedulerLease).values(
            name=self.name, holder=self.holder, expires_at=now + self.ttl, meta={})
            .on_conflict_do_nothing(index_elements=["name"]))
        taken = session.execute(update(SchedulerLease).where(
            SchedulerLease.name == self.name,
            (SchedulerLease.holder == self.holder) | (SchedulerLease.expires_at < now),
        ).values(holder=self.holder, expires_at=now + self.ttl))
        return taken.rowcount == 1

    def fence(self, session: Session) -> bool:
        """Inside a pass's transaction: still the holder? (Renews, and locks the row on PostgreSQL.)"""
        now = self.clock()
        held = session.execute(update(SchedulerLease).where(
            SchedulerLease.name == self.name, SchedulerLease.holder == self.holder,
            SchedulerLease.expires_at > now).values(expires_at=now + self.ttl))
        return held.rowcount == 1

    def release(self) -> None:
        """Give the lease up (clean shutdown) so another replica takes over at once."""
        with session_scope(self.session_factory) as session:
            session.execute(update(SchedulerLease).where(
                SchedulerLease.name == self.name, SchedulerLease.holder == self.holder,
            ).values(expires_at=self.clock() - timedelta(seconds=1)))


class Scheduler:
    """The SLA and paging passes on an interval, only while this replica holds the lease."""

    def __init__(self, flows: TicketFlows, lease: Lease, *, interval: float = 10.0,
                 wake: Callable[[], None] = lambda: None, batch: int = 100, page_batch: int = 20,
                 max_batches: int = 50, pause: float = 0.0) -> None:
        self.batch = batch
        self.page_batch = page_batch
        self.pause = pause  # seconds between batches: lets ingest's writers in during a backlog
        self.max_batches = max_batches
        self.flows = flows
        self.lease = lease
        self.interval = interval
        self.wake = wake
        self.analyzer = Analyzer(flows.session_factory.kw["bind"])  # planner statistics, if autovacuum is off
        self._aps = None
        # The retention pass's next run (memory: any leader may run it early, which is harmless).
        self.retention_every = timedelta(hours=1)
        self._retention_next: datetime | None = None

    def tick(self, now: datetime | None = None) -> dict[str, int] | None:
        """One round: become or stay leader, then the SLA pass and the paging pass.
        Returns what fired, or None when another replica leads."""
        fired = {"sla": 0, "pages": 0}
        engine = self.flows.session_factory.kw["bind"]
        for _ in range(self.max_batches):
            # Each pass in its own transaction, opened by the lease UPDATE that fences it (on
            # PostgreSQL it holds the lease row until that pass commits; SQLite has one writer at a
            # time), so a paging failure never rolls back SLA notices. Small batches keep the
            # writer lock short, so a backlog is worked off between ingest's transactions.
            with engine.begin() as conn:
                if not self.lease.acquire(conn):
                    return None if fired == {"sla": 0, "pages": 0} else fired
                notices = self._guarded(conn, "sla", lambda: self.flows.sla_pass(now, conn=conn, limit=self.batch))
            fired["sla"] += len(notices)
            with engine.begin() as conn:
                pages = self._guarded(conn, "paging", lambda: self.flows.page_pass(
                    now, conn=conn, limit=self.page_batch)) if self.lease.fence(conn) else []
            fired["pages"] += len(pages)
            if notices or pages:
                self.wake()
            if len(notices) < self.batch and len(pages) < self.page_batch:
                break
            if self.pause:
                time.sleep(self.pause)
        if self.flows.rules.sla.auto_resolve_pending is not None and self.lease.acquire():
            if self.flows.auto_resolve_pass(now):
                self.wake()
        if self.flows.rules.assignment and self.lease.acquire():
            if self._assign(now):
                self.wake()
        if self.flows.rules.flood.active:  # forget flood counts older than the window
            with self.flows.session_factory.kw["bind"].begin() as conn:
                if self.lease.fence(conn):
                    self.flows.flood_prune(conn, now or self.flows.clock())
        if self.flows.rules.retention.active:
            self.retention(now)
        self.analyzer.run()
        return fired

    def retention(self, now: datetime | None = None) -> int:
        """rules.yaml `retention:` on the leader: a batch at most every `retention_every`, at once
        again while batches come back full (a backlog); a failure is recorded like any pass's."""
        from chatops.customers.retention import retention_pass

        now = now or self.flows.clock()
        if self._retention_next is not None and now < self._retention_next:
            return 0
        with self.flows.session_factory.kw["bind"].begin() as conn:
            if not self.lease.fence(conn):
                return 0
            done = self._guarded(conn, "retention", lambda: retention_pass(self.flows.rules, conn, now,
                                                                           limit=self.batch * 5))
        self._retention_next = None if len(done) >= self.batch * 5 else now + self.retention_every
        return len(done)

    def _guarded(self, conn, pass_name: str, run: Callable[[], list]) -> list:
        """Run a pass in a savepoint; when the pass itself raises (not one of its items, which
        each pass isolates), record it (counted, announced once) and report nothing fired."""
        try:
            with conn.begin_nested():
                return run()
        except Exception as exc:  # noqa: BLE001 - the other passes must still run
            log.exception("scheduler %s pass failed", pass_name)
            self.flows.scheduler_failed(conn, pass_name, "pass", exc, self.flows.clock())
            return []

    def _assign(self, now: datetime | None) -> list:
        """The assignment pass (each ticket its own transaction, like a person's assignment);
        when the pass itself raises, recorded like the other passes' failures."""
        try:
            return self.flows.assignment_pass(now, limit=self.batch)
        except Exception as exc:  # noqa: BLE001 - the scheduler must keep ticking
            log.exception("scheduler assignment pass failed")
            with self.flows.session_factory.kw["bind"].begin() as conn:
                self.flows.scheduler_failed(conn, "assignment", "pass", exc, self.flows.clock())
            return []

    def _job(self) -> None:
        try:
            self.tick()
        except Exception:  # a database hiccup must not kill the job; the next tick retries
            log.exception("scheduler tick failed")

    def digest(self, now: datetime | None = None) -> bool:
        """Queue the weekly stats digest when rules.yaml says it is due, only on the leader
        (and idempotent per ISO week anyway); True when it was queued now."""
        from chatops.stats.digest import queue_digest

        if not self.lease.acquire():
            return False
        try:
            queued = queue_digest(self.flows.session_factory, self.flows.rules, now or self.flows.clock())
        except Exception as exc:  # noqa: BLE001 - recorded, counted and announced once
            log.exception("could not queue the stats digest")
            with self.flows.session_factory.kw["bind"].begin() as conn:
                self.flows.scheduler_failed(conn, "digest", "digest", exc, now or self.flows.clock())
            return False
        if queued:
            self.wake()
        return queued

    def _digest_job(self) -> None:
        try:
            self.digest()
        except Exception:  # a database hiccup must not end the job
            log.exception("could not queue the stats digest")

    def start(self) -> None:
        """Run `tick` every `interval` seconds in a background thread (APScheduler 3)."""
        from apscheduler.schedulers.background import BackgroundScheduler

        # coalesce + one instance: a slow tick is never run twice at once or caught up in a burst;
        # misfire grace raised from APScheduler's 1 s default (a busy host must not skip ticks).
        self._aps = BackgroundScheduler(timezone="UTC", job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": max(30, int(self.interval * 3))})
        self._aps.add_job(self._job, "interval", seconds=self.interval, id="sla-and-paging",
                          next_run_time=utcnow())
        # First look a minute after start: at start the sandbox's embedded Slack (served
        # by this process) is not listening yet, and a due digest would fail its first attempt.
        self._aps.add_job(self._digest_job, "interval", seconds=60, id="stats-digest",
                          next_run_time=utcnow() + timedelta(seconds=60))
        self._aps.start()

    def shutdown(self) -> None:
        """Stop the jobs and hand the lease over."""
        if self._aps is not None:
            self._aps.shutdown(wait=True)
            self._aps = None
        try:
            self.lease.release()
        except Exception:  # shutting down anyway; the lease expires on its own
            log.warning("could not release the scheduler lease", exc_info=True)
