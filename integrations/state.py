"""Durable integration state (table `integration_state`): poll cursors, sessions, rate-limit
pauses and health. Rows, not memory, so restarts and several replicas share them.

Cursors only move forward (integrations.polling compares them under the row lock of `update`), so
two replicas polling at once cannot move a cursor back; what they both fetched is ingested once, because ingest is
idempotent on (source, external id).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from chatops.db import session_scope, utcnow
from chatops.tickets.events import OutboxRow
from chatops.tickets.models import IntegrationState
from chatops.tickets.record import enqueue

# Consecutive 401/403 answers before a network counts as "stopped delivering".
AUTH_FAILURES_BEFORE_ALERT = 3


class StateStore:
    """Read and write `integration_state` rows by name."""

    def __init__(self, session_factory: sessionmaker[Session], clock: Callable[[], datetime] = utcnow) -> None:
        self.session_factory = session_factory
        self.clock = clock

    def get(self, name: str) -> dict[str, Any]:
        """The stored value, or {} when nothing was stored yet."""
        with self.session_factory() as session:
            row = session.get(IntegrationState, name)
            return dict(row.value) if row else {}

    def update(self, name: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> dict[str, Any]:
        """Read-modify-write one row under a lock (FOR UPDATE; SQLite: BEGIN IMMEDIATE)."""
        with session_scope(self.session_factory) as session:
            self.ensure(session, name)
            row = session.scalars(select(IntegrationState).where(IntegrationState.name == name)
                                  .with_for_update()).one()
            value = dict(row.value or {})
            new = change(value)
            if new is not None:
                row.value, row.updated_at = new, self.clock()
                value = new
            return value

    def merge(self, name: str, **fields: Any) -> dict[str, Any]:
        """Set some fields of the stored value."""
        return self.update(name, lambda value: {**value, **fields})

    def ensure(self, session: Session, name: str) -> None:
        """Create the row `name` (empty) unless it exists, in the caller's transaction."""
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        session.execute(insert(IntegrationState).values(name=name, value={}, updated_at=self.clock())
                        .on_conflict_do_nothing(index_elements=["name"]))


class Health:
    """Counts consecutive auth failures per network account and raises one team-channel alert
    per outage (not one per poll): the alert's outbox dedupe key names the outage number."""

    def __init__(self, store: StateStore, *, alert_channel: str | None, slack_channel: str | None) -> None:
        self.store = store
        self.alert_channel = alert_channel  # rules.yaml channel name
        self.slack_channel = slack_channel  # its Slack id, for the outbox lane
        # Accounts this process saw healthy: a success then costs no database write.
        self._healthy: set[tuple[str, str]] = set()
        self._unknown_told: set[tuple[str, str]] = set()

    def unknown_account(self, network: str, ident: str) -> None:
        """A webhook named a brand account this deployment does not have (a Page, channel or user
        id missing from the settings): one team-channel alert per account id, so its customers'
        messages are not lost unnoticed."""
        if (network, ident) in self._unknown_told or not self.alert_channel:
            return
        with session_scope(self.store.session_factory) as session:
            enqueue(session, [OutboxRow(
                target="slack", kind="channel_alert", dedupe_key=f"alert:unknown-account:{network}:{ident}",
                ordering_key=f"slack:{self.slack_channel}", coalesce=True,
                payload={"channel": self.alert_channel, "key": "networks.alert.unknown_account",
                         "params": {"network": network, "id": ident}})], at=self.store.clock())
        self._unknown_told.add((network, ident))  # alerted: no further writes from this process

    def ok(self, network: str, account: str) -> None:
        """A successful call: the outage (if any) is over."""
        if (network, account) in self._healthy:
            return
        name = f"health:{network}:{account}"

        def change(value: dict[str, Any]) -> dict[str, Any] | None:
            if not value.get("failures"):
                return None
            return {"failures": 0, "outage": value.get("outage", 0) + (1 if value.get("alerted") else 0),
                    "alerted": False, "last_ok": self.store.clock().isoformat()}

        self.store.update(name, change)
        self._healthy.add((network, account))

    def auth_failed(self, network: str, account: str, status: int) -> bool:
        """Record a 401/403; True when this failure raised the alert."""
        self._healthy.discard((network, account))
        name, raised = f"health:{network}:{account}", []
        with session_scope(self.store.session_factory) as session:
            self.store.ensure(session, name)
            row = session.scalars(select(IntegrationState).where(IntegrationState.name == name)
                                  .with_for_update()).one()
            value = dict(row.value or {})
            value["failures"] = value.get("failures", 0) + 1
            value["last_status"] = status
            if value["failures"] >= AUTH_FAILURES_BEFORE_ALERT and not value.get("alerted"):
                value["alerted"] = True
                raised.append(True)
                if self.alert_channel:
                    now = self.store.clock()
                    enqueue(session, [OutboxRow(
                        target="slack", kind="channel_alert",
                        dedupe_key=f"alert:auth:{network}:{account}:{value.get('outage', 0)}",
                        ordering_key=f"slack:{self.slack_channel}",
                        payload={"channel": self.alert_channel, "key": "networks.alert.auth",
                                 "params": {"network": network, "account": account, "status": status,
                                            "count": value["failures"]}})], at=now)
            row.value, row.updated_at = value, self.store.clock()
        return bool(raised)
