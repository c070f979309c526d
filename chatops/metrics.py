"""Prometheus metrics, one registry per app (so tests and several apps never share counters)."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, sessionmaker

from chatops.db import utcnow
from chatops.oncall.models import Page, SchedulerError
from chatops.stats.models import StatsDaily
from chatops.tickets.models import IssueLink, Message, OutboxItem
from chatops.tickets.moderation import stored_count


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
        failed_replies = GaugeMetricFamily(
            "chatops_replies_failed", "Messages to customers the network refused and not sent again: agents' "
            "replies (kind=reply), rating requests (csat), automatic replies (auto_reply)", labels=["network", "kind"])
        unresolved = GaugeMetricFamily("chatops_unresolved_mentions",
                                       "rules.yaml people and groups Slack did not know when a notice named them")
        pending = OutboxItem.state == "pending"
        with self.session_factory() as session:
            rows = session.execute(
                select(OutboxItem.target, OutboxItem.state, func.count(),
                       func.sum(case((OutboxItem.last_error.is_not(None), 1), else_=0)),
                       func.min(OutboxItem.created_at))
                .where(pending | (OutboxItem.state == "dead")).group_by(OutboxItem.target, OutboxItem.state)
            ).all()
            # One alert row per handle, for all time (chatops/slack/mentions.py).
            unresolved.add_metric([], session.scalar(select(func.count()).select_from(OutboxItem).where(
                OutboxItem.dedupe_key.like("slack:unresolved:%"))) or 0)
            # The same kinds as chatops.tickets.flows.reply_kind.
            kind = case((Message.kind == "csat", "csat"),
                        ((Message.author_id == "chatops") | Message.author_id.like("chatops:%"), "auto_reply"),
                        else_="reply")
            for network, what, count in session.execute(
                    select(Message.source, kind, func.count()).where(Message.delivery_state == "failed")
                    .group_by(Message.source, kind)):
                failed_replies.add_metric([network, what], count)
        oldest = None
        for target, state, count, failed, created in rows:
            if state == "dead":
                dead.add_metric([target], count)
                continue
            backlog.add_metric([target], count)
            retrying.add_metric([target], failed or 0)
            oldest = created if oldest is None or created < oldest else oldest
        age.add_metric([], (utcnow() - oldest).total_seconds() if oldest else 0.0)
        yield from (backlog, retrying, dead, age, unresolved, failed_replies)


class SlaCollector:
    """SLA breaches (from the stats rollups, so every replica reports the same totals) and pages
    by status, read at scrape time; both are small indexed reads even at a million tickets."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def collect(self):
        breached = CounterMetricFamily("chatops_sla_breached", "Tickets answered or resolved after their SLA deadline",
                                       labels=["deadline"])
        pages = GaugeMetricFamily("chatops_pages", "On-call pages by status", labels=["status"])
        notified = CounterMetricFamily("chatops_page_notifications", "Notifications sent for pages (every step)")
        with self.session_factory() as session:
            first, resolution = session.execute(
                select(func.coalesce(func.sum(StatsDaily.fr_breached), 0),
                       func.coalesce(func.sum(StatsDaily.res_breached), 0))
                .where(StatsDaily.fdim == "all", StatsDaily.fval == "", StatsDaily.gdim == "pt")).one()
            by_status = dict(session.execute(
                select(Page.status, func.count()).group_by(Page.status)).all())
            sent = session.scalar(select(func.coalesce(func.sum(Page.notified), 0)))
        breached.add_metric(["first_response"], first)
        breached.add_metric(["resolution"], resolution)
        for status in ("triggered", "acknowledged", "resolved"):
            pages.add_metric([status], by_status.get(status, 0))
        notified.add_metric([], sent)
        yield from (breached, pages, notified)


class SchedulerErrorCollector:
    """Scheduler pass/item failures (rows of `scheduler_errors`, so every replica reports the
    same): every failed attempt, and the distinct items that ever failed, by pass."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def collect(self):
        failures = CounterMetricFamily("chatops_scheduler_errors", "Scheduler items or passes that raised (each attempt)",
                                       labels=["pass"])
        items = GaugeMetricFamily("chatops_scheduler_failed_items", "Distinct items a scheduler pass failed on",
                                  labels=["pass"])
        with self.session_factory() as session:
            rows = session.execute(select(SchedulerError.pass_name, func.sum(SchedulerError.count), func.count())
                                   .group_by(SchedulerError.pass_name)).all()
        by_pass = {name: (total, distinct) for name, total, distinct in rows}
        for name in dict.fromkeys(("sla", "paging", "digest", "assignment", "retention", "outbox", *by_pass)):
            total, distinct = by_pass.get(name, (0, 0))
            failures.add_metric([name], total)
            items.add_metric([name], distinct)
        yield from (failures, items)


class TrackerCollector:
    """Tracker issues linked to tickets by state, and issue creations the tracker refused for
    good (each also said in its ticket's thread), read at scrape time."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def collect(self):
        links = GaugeMetricFamily("chatops_issue_links", "Tracker issues linked to tickets", labels=["tracker", "state"])
        failed = GaugeMetricFamily("chatops_issues_failed", "Issue creations the tracker refused or that gave up",
                                   labels=["tracker"])
        with self.session_factory() as session:
            for tracker, state, count in session.execute(
                    select(IssueLink.tracker, IssueLink.state, func.count()).group_by(IssueLink.tracker, IssueLink.state)):
                links.add_metric([tracker, state], count)
            for tracker, count in session.execute(
                    select(OutboxItem.target, func.count()).where(OutboxItem.kind == "create_issue",
                                                                  OutboxItem.state == "dead")
                    .group_by(OutboxItem.target)):
                failed.add_metric([tracker], count)
        yield from (links, failed)


class ModerationCollector:
    """Moderation calls the network refused for good or that gave up (each also said in its
    ticket's thread), and those done, by network and action, read at scrape time."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def collect(self):
        failed = GaugeMetricFamily("chatops_moderation_failed", "Hides, deletes and blocks the network refused "
                                   "or that gave up", labels=["network", "action"])
        done = GaugeMetricFamily("chatops_moderation_done", "Hides, unhides, deletes and blocks the network did",
                                 labels=["network", "action"])
        with self.session_factory() as session:
            rows = session.execute(select(OutboxItem.target, OutboxItem.state, OutboxItem.payload).where(
                OutboxItem.kind == "moderate", OutboxItem.state.in_(("dead", "done"))))
            counts: dict[tuple[str, str, str], int] = {}
            for target, state, payload in rows:
                key = (state, target.removeprefix("network:"), (payload or {}).get("action", "?"))
                counts[key] = counts.get(key, 0) + 1
        for (state, network, action), count in sorted(counts.items()):
            (failed if state == "dead" else done).add_metric([network, action], count)
        stored = GaugeMetricFamily("chatops_moderation_stored", "Comments moderation screens hid and kept "
                                   "without a ticket", labels=["network"])
        with self.session_factory() as session:
            for network, count in sorted(stored_count(session).items()):
                stored.add_metric([network], count["stored"])
        yield from (failed, done, stored)


class Metrics:
    """The counters chatops exports at /metrics.

    Under `chatops serve --workers N` serve sets PROMETHEUS_MULTIPROC_DIR for its gunicorn
    workers: each process's counters go to files there and every process's /metrics shows the
    sum over all of them (prometheus_client's multiprocess mode), whichever worker answers."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.registry = CollectorRegistry()
        shared = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        own = None if shared else self.registry  # shared: values live in the directory's files
        if shared:
            MultiProcessCollector(self.registry)
        self.inbound = Counter("chatops_inbound_messages", "Inbound messages by network and outcome",
                               ["source", "outcome"], registry=own)
        self.webhook_requests = Counter("chatops_webhook_requests", "Webhook requests by network and status",
                                        ["network", "status"], registry=own)
        self.webhook_unrouted = Counter("chatops_webhook_unrouted_entries",
                                        "Webhook entries for a brand account this deployment does not have "
                                        "(acknowledged, not stored; the team channel is alerted)",
                                        ["network"], registry=own)
        self.media_requests = Counter("chatops_media_requests",
                                      "Customers' media fetched for agents through /media (by answer status)",
                                      ["network", "status"], registry=own)
        self.pagerduty_events = Counter("chatops_pagerduty_webhook_events",
                                        "PagerDuty webhook events by type and what chatops did with them",
                                        ["event_type", "outcome"], registry=own)
        self.ingest_seconds = Histogram("chatops_ingest_seconds",
                                        "Time to store one webhook request's messages (its group commit included)",
                                        registry=own,
                                        buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0))
        self.tracker_webhooks = Counter("chatops_tracker_webhooks", "Issue tracker webhooks by tracker and outcome "
                                        "(closed, reopened, unchanged, ignored: no ticket has the issue, skipped, "
                                        "forged)", ["tracker", "outcome"], registry=own)
        self.registry.register(TrackerCollector(session_factory))
        self.registry.register(ModerationCollector(session_factory))
        self.registry.register(OutboxCollector(session_factory))
        self.registry.register(SlaCollector(session_factory))
        self.registry.register(SchedulerErrorCollector(session_factory))
