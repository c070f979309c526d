"""Prometheus metrics, one registry per app (so tests and several apps never share counters)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, sessionmaker

from chatops.db import utcnow
from chatops.tickets.models import OutboxItem


class OutboxCollector:
    """Outbox backlog and oldest pending age, read from the database at scrape time."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def collect(self):
        backlog = GaugeMetricFamily("chatops_outbox_backlog", "Outbox items waiting to be delivered",
                                    labels=["target"])
        retrying = GaugeMetricFamily("chatops_outbox_retrying", "Waiting items that already failed at least once",
                                     labels=["target"])
        dead = GaugeMetricFamily("chatops_outbox_dead", "Items given up on (see last_error)", labels=["target"])
        age = GaugeMetricFamily("chatops_outbox_oldest_age_seconds", "Age of the oldest pending item")
        pending = OutboxItem.state == "pending"
        with self.session_factory() as session:
            rows = session.execute(
                select(OutboxItem.target, OutboxItem.state, func.count(),
                       func.sum(case((OutboxItem.last_error.is_not(None), 1), else_=0)),
                       func.min(OutboxItem.created_at))
                .where(pending | (OutboxItem.state == "dead")).group_by(OutboxItem.target, OutboxItem.state)
            ).all()
        oldest = None
        for target, state, count, failed, created in rows:
            if state == "dead":
                dead.add_metric([target], count)
                continue
            backlog.add_metric([target], count)
            retrying.add_metric([target], failed or 0)
            oldest = created if oldest is None or created < oldest else oldest
        age.add_metric([], (utcnow() - oldest).total_seconds() if oldest else 0.0)
        yield from (backlog, retrying, dead, age)


class Metrics:
    """The counters chatops exports at /metrics."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.registry = CollectorRegistry()
        self.inbound = Counter("chatops_inbound_messages", "Inbound messages by network and outcome",
                               ["source", "outcome"], registry=self.registry)
        self.webhook_requests = Counter("chatops_webhook_requests", "Webhook requests by network and status",
                                        ["network", "status"], registry=self.registry)
        self.ingest_seconds = Histogram("chatops_ingest_seconds", "Time to store one webhook request's messages, waiting for its group commit included",
                                        registry=self.registry,
                                        buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0))
        self.registry.register(OutboxCollector(session_factory))
