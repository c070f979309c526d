"""The audit log: customer-level actions (`audit_events`) and ticket events by people, by date range.

A ticket event counts as audit when a person did it: its actor is neither a customer
(`customer:<id>`) nor chatops itself (`chatops:<part>`). Customer-level rows are all audit.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from chatops.customers.models import AuditEvent
from chatops.tickets.models import TicketEvent
from chatops.tickets.record import Db, unit

AUDIT_COLUMNS = ("at", "kind", "actor", "ticket", "customer", "detail")


def record_audit(db: Db, *, kind: str, actor: str, at: datetime, customer_id: int | None,
                 payload: dict[str, Any]) -> None:
    """Append one customer-level audit row in the caller's transaction."""
    unit(db).execute(insert(AuditEvent).values(kind=kind, actor=actor, at=at, customer_id=customer_id,
                                               payload=payload))


def by_person(actor: str) -> bool:
    """Whether a ticket event's actor is a person (not a customer, not chatops)."""
    return not actor.startswith(("customer:", "chatops:")) and actor not in ("", "chatops")


def audit_rows(session: Session, *, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Every audit entry with `since` <= at < `until`, oldest first."""
    rows: list[dict[str, Any]] = []
    for event in session.scalars(select(AuditEvent).where(AuditEvent.at >= since, AuditEvent.at < until)):
        rows.append({"at": event.at, "kind": event.kind, "actor": event.actor, "ticket": None,
                     "customer": event.customer_id, "detail": dict(event.payload or {})})
    events = session.execute(select(TicketEvent.at, TicketEvent.kind, TicketEvent.actor, TicketEvent.ticket_id,
                                    TicketEvent.payload)
                             .where(TicketEvent.at >= since, TicketEvent.at < until,
                                    ~TicketEvent.actor.like("customer:%"), ~TicketEvent.actor.like("chatops:%")))
    for at, kind, actor, ticket_id, payload in events:
        if by_person(actor):
            rows.append({"at": at, "kind": kind, "actor": actor, "ticket": f"T-{ticket_id}", "customer": None,
                         "detail": {k: v for k, v in (payload or {}).items() if k != "triage"}})
    rows.sort(key=lambda row: (row["at"], row["kind"]))
    return rows


def as_json_lines(rows: list[dict[str, Any]]) -> str:
    """One JSON object per line, times in ISO 8601."""
    return "".join(json.dumps({**row, "at": row["at"].isoformat()}, ensure_ascii=False) + "\n" for row in rows)


def as_csv(rows: list[dict[str, Any]]) -> str:
    """CSV with a header row; `detail` as JSON."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(AUDIT_COLUMNS)
    for row in rows:
        writer.writerow([row["at"].isoformat(), row["kind"], row["actor"], row["ticket"] or "",
                         row["customer"] if row["customer"] is not None else "",
                         json.dumps(row["detail"], ensure_ascii=False, sort_keys=True)])
    return out.getvalue()
