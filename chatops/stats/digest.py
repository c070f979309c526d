"""The weekly digest: when rules.yaml `stats.digest` says it is due, queue one outbox row.

Idempotent: the dedupe key names the ISO week, so a scheduler tick that runs twice, or two
replicas, queue it once. The deliverer renders the figures at delivery (they are current then).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from chatops.db import session_scope
from chatops.rules import Rules
from chatops.rules.fields import DAYS
from chatops.tickets.events import OutboxRow
from chatops.tickets.record import enqueue

TARGET = "slack-stats"


def digest_due_at(rules: Rules, now: datetime) -> datetime | None:
    """This week's digest time (UTC) if it has come, else None; None when no digest is set."""
    digest = rules.stats.digest
    if digest is None:
        return None
    tz = rules.business_hours.tz
    local = now.astimezone(tz)
    monday = local.date() - timedelta(days=local.weekday())
    day = monday + timedelta(days=DAYS.index(digest.weekday))
    hour, minute = (int(x) for x in digest.time.split(":"))
    due = datetime.combine(day, time(hour, minute), tzinfo=tz)
    return due if local >= due else None


def queue_digest(session_factory: sessionmaker[Session], rules: Rules, now: datetime) -> bool:
    """Queue this week's digest when due and not queued yet; True when it was queued now."""
    due = digest_due_at(rules, now)
    if due is None:
        return False
    year, week, _ = due.isocalendar()
    digest = rules.stats.digest
    try:
        with session_scope(session_factory) as session:
            enqueue(session, [OutboxRow(
                target=TARGET, kind="digest", dedupe_key=f"stats-digest:{year}-W{week:02d}",
                ordering_key=f"slack:{rules.channels[digest.channel].slack}",
                payload={"channel": digest.channel, "words": [digest.period]})], at=now)
    except IntegrityError:
        return False
    return True
