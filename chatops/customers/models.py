"""The audit log of actions on customers rather than on one ticket (link, erase, export, retention)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from chatops.db import Base, UTCDateTime, utcnow
from chatops.tickets.models import Id

# Audit kinds written to `audit_events` (docs/operations.md lists them with ticket events by people).
AUDIT_KINDS = ("customers_linked", "customers_unlinked", "customer_exported", "customer_erased", "retention_applied")


class AuditEvent(Base):
    """Append-only: who did what to which customer records, when. Payloads hold ids and counts
    only, never a customer's text, handle or name, so an erasure's own record survives it."""

    __tablename__ = "audit_events"
    __table_args__ = (Index(None, "at"), Index(None, "customer_id"))

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
