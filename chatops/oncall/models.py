"""Rows of the on-call side: pages with their escalation position, overrides set from Slack
or the CLI, and the scheduler's leadership lease."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chatops.db import Base, UTCDateTime, utcnow
from chatops.tickets.models import Id

PAGE_STATUSES = ("triggered", "acknowledged", "resolved")


class Page(Base):
    """An on-call notification for a ticket. `step`/`round` say which escalation step is next;
    `next_at` when it is due (NULL once acknowledged, resolved or out of steps). All the
    escalation state lives here, so a restarted or new scheduler leader carries on."""

    __tablename__ = "pages"
    __table_args__ = (
        UniqueConstraint("reason"),
        CheckConstraint("status IN ('triggered', 'acknowledged', 'resolved')", name="status"),
        Index(None, "status", "next_at"),
        Index(None, "ticket_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    reason: Mapped[str] = mapped_column(String(255))  # e.g. `T-12:priority:red`: one page per reason
    policy: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="triggered")
    step: Mapped[int] = mapped_column(Integer, default=0)
    round: Mapped[int] = mapped_column(Integer, default=0)
    notified: Mapped[int] = mapped_column(Integer, default=0)  # how many notifications went out
    last_target: Mapped[str | None] = mapped_column(String(64))
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The escalation policy as it was when the page opened ({"steps": [{"notify", "escalate_after"
    # (seconds)}], "repeat"}): a rules edit changes new pages only.
    policy_snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    @property
    def key(self) -> str:
        """The page id people and PagerDuty see (`P-7`; PagerDuty's dedup_key)."""
        return f"P-{self.id}"


class OnCallOverride(Base):
    """Someone covers a schedule for a while (set with `/oncall override` or the CLI)."""

    __tablename__ = "oncall_overrides"
    __table_args__ = (Index(None, "schedule", "ends_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    schedule: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SchedulerLease(Base):
    """Leadership among replicas: the holder may run scheduled jobs until `expires_at`."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class SchedulerError(Base):
    """A scheduler pass or item (`pass_name`, `item` such as `P-3` or `T-12`) that raised: counted
    per round at /metrics, and announced to people once (the first time it fails)."""

    __tablename__ = "scheduler_errors"
    __table_args__ = (UniqueConstraint("pass_name", "item"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    pass_name: Mapped[str] = mapped_column(String(32))
    item: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer, default=1)
    error: Mapped[str] = mapped_column(String(500))
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)
