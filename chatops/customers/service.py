"""Linking the same person's records across networks, exporting and erasing what is stored
about them. Each action is one transaction that also writes its audit row.

Linked records share one tier and one set of flags: linking gives every record the highest
tier of the group (tiers ranked as `TIERS`, standard < premium; open tickets are re-priced) and
the union of the flags; a tier or flag set later on any record is set on all of them. Unlinking
leaves each record with the values it has then.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from chatops.customers.audit import record_audit
from chatops.customers.keys import group_of, key_of, resolve
from chatops.customers.models import AuditEvent
from chatops.customers.scrub import ERASED, pattern_of, scrub, secrets_of, sweep
from chatops.db import session_scope
from chatops.errors import DomainError
from chatops.oncall.models import Page
from chatops.stats.models import StatsFact
from chatops.tickets.models import TIERS, Customer, Message, OutboxItem, Ticket, TicketEvent
from chatops.tickets.record import UnitOfWork


class CannotLinkSelf(DomainError):
    """A customer linked to themself."""

    key = "customers.error.same"


class AlreadyLinked(DomainError):
    """The two records are one person already."""

    key = "customers.error.already_linked"


class NotLinked(DomainError):
    """Unlinking records that are not linked."""

    key = "customers.error.not_linked"


def default_actor() -> str:
    """Who runs the CLI when `--by` is not given: the operating system's user."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry (a container): the environment's word
        return os.environ.get("USER") or "cli"


def highest_tier(tiers) -> str:
    """The effective tier of linked records: the highest by `TIERS` order."""
    return max(tiers, key=TIERS.index)


def open_tickets(session: Session, customer_ids: list[int]) -> list[Ticket]:
    """The unresolved tickets of these customers, locked, in id order."""
    return list(session.scalars(select(Ticket).where(Ticket.customer_id.in_(customer_ids),
                                                     Ticket.status != "resolved")
                                .order_by(Ticket.id).with_for_update(of=Ticket)).unique())


@dataclass
class LinkResult:
    """The group after a link or unlink: its records (root first)."""

    keys: list[str]
    tier: str
    flags: list[str] = field(default_factory=list)


def align(flows, session: Session, members: list[Customer], actor: str, now: datetime) -> None:
    """Give every record of a group the highest tier and the union of flags (open tickets of a
    record whose tier rises get that tier's deadlines, each with a `tier_changed` event)."""
    tier = highest_tier(member.tier for member in members)
    flags = sorted({flag for member in members for flag in (member.flags or ())})
    for member in members:
        if sorted(member.flags or ()) != flags:
            member.flags = flags
        if member.tier != tier:
            previous, member.tier = member.tier, tier
            for ticket in open_tickets(session, [member.id]):
                flows.deadlines.repriced(ticket, now)
                flows.recorder.record_ticket(session, ticket, "tier_changed", actor, now, tier_from=previous,
                                             tier_to=tier)


def _announce(flows, session: Session, customer_ids: list[int], kind: str, actor: str, now: datetime,
              **payload: Any) -> None:
    """One event of `kind` on every open ticket of these customers (the card and thread say it)."""
    for ticket in open_tickets(session, customer_ids):
        flows.recorder.record_ticket(session, ticket, kind, actor, now, **payload)


def link(flows, key_a: str, key_b: str, *, actor: str) -> LinkResult:
    """Make B's records (its whole group) the same person as A's."""
    now = flows.clock()
    with session_scope(flows.session_factory) as session:
        a, b = resolve(session, key_a), resolve(session, key_b)
        if a.id == b.id:
            raise CannotLinkSelf(key=key_a)
        group_a, group_b = group_of(session, a), group_of(session, b)
        if group_a[0].id == group_b[0].id:
            raise AlreadyLinked(a=key_a, b=key_b)
        root, members = group_a[0], group_a + group_b
        for member in members:
            member.linked_to_id = None if member.id == root.id else root.id
        session.flush()
        align(flows, session, members, actor, now)
        ids = [member.id for member in members]
        _announce(flows, session, ids, "customers_linked", actor, now, customers=[a.id, b.id])
        record_audit(session, kind="customers_linked", actor=actor, at=now, customer_id=root.id,
                     payload={"customers": [a.id, b.id], "group": ids})
        return LinkResult([key_of(m) for m in members], root.tier, list(root.flags or ()))


def unlink(flows, key_a: str, key_b: str, *, actor: str) -> LinkResult:
    """Take B out of A's group (B keeps the tier and flags it has now); the group left behind."""
    now = flows.clock()
    with session_scope(flows.session_factory) as session:
        a, b = resolve(session, key_a), resolve(session, key_b)
        members = group_of(session, a)
        if a.id == b.id or b.id not in {m.id for m in members}:
            raise NotLinked(a=key_a, b=key_b)
        rest = [m for m in members if m.id != b.id]
        new_root = min(rest, key=lambda m: m.id) if b.id == members[0].id else members[0]
        for member in rest:
            member.linked_to_id = None if member.id == new_root.id else new_root.id
        b.linked_to_id = None
        session.flush()
        _announce(flows, session, [m.id for m in members], "customers_unlinked", actor, now, customers=[a.id, b.id])
        record_audit(session, kind="customers_unlinked", actor=actor, at=now, customer_id=new_root.id,
                     payload={"customers": [a.id, b.id]})
        return LinkResult([key_of(m) for m in sorted(rest, key=lambda m: (m.id != new_root.id, m.id))],
                          new_root.tier, list(new_root.flags or ()))


# -- export ---------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _row(obj, columns: tuple[str, ...]) -> dict[str, Any]:
    return {name: (_iso(v) if isinstance(v := getattr(obj, name), datetime) else v) for name in columns}


CUSTOMER_COLUMNS = ("id", "source", "external_user_id", "handle", "name", "tier", "flags", "linked_to_id",
                    "first_seen_at", "last_seen_at")
TICKET_COLUMNS = ("id", "source", "account", "external_id", "conversation_id", "customer_id", "status", "priority",
                  "level", "channel", "assignee", "subject", "lang", "matched_rules", "keywords", "created_at",
                  "first_response_at", "resolved_at", "csat_score", "csat_requested_at", "csat_rated_at",
                  "follows_ticket_id")
MESSAGE_COLUMNS = ("id", "ticket_id", "customer_id", "direction", "source", "account", "kind", "external_id",
                   "conversation_id", "in_reply_to", "author_id", "author_handle", "author_name", "text", "url",
                   "lang", "meta", "delivery_state", "created_at", "received_at")


def export(flows, key: str, *, actor: str) -> dict[str, Any]:
    """Everything stored about the person `key` names, across their linked records; the export
    itself is recorded (`customer_exported`)."""
    now = flows.clock()
    with session_scope(flows.session_factory) as session:
        members = group_of(session, resolve(session, key))
        ids = [m.id for m in members]
        tickets = list(session.scalars(select(Ticket).where(Ticket.customer_id.in_(ids)).order_by(Ticket.id)).unique())
        ticket_ids = [t.id for t in tickets]
        messages = session.scalars(select(Message).where(or_(Message.customer_id.in_(ids),
                                                             Message.ticket_id.in_(ticket_ids)))
                                   .order_by(Message.id)).all()
        events = session.scalars(select(TicketEvent).where(TicketEvent.ticket_id.in_(ticket_ids))
                                 .order_by(TicketEvent.id)).all()
        outbox = session.scalars(select(OutboxItem).where(OutboxItem.ticket_id.in_(ticket_ids))
                                 .order_by(OutboxItem.id)).all()
        audit = session.scalars(select(AuditEvent).where(AuditEvent.customer_id.in_(ids)).order_by(AuditEvent.id)).all()
        data = {
            "key": key, "exported_at": now.isoformat(),
            "customers": [{**_row(m, CUSTOMER_COLUMNS), "key": key_of(m)} for m in members],
            "tickets": [{**_row(t, TICKET_COLUMNS), "key": t.key, "tags": t.tags} for t in tickets],
            "messages": [_row(m, MESSAGE_COLUMNS) for m in messages],
            "events": [{"id": e.id, "ticket": f"T-{e.ticket_id}", "kind": e.kind, "actor": e.actor,
                        "at": _iso(e.at), "payload": e.payload} for e in events],
            "ratings": [{"ticket": t.key, "score": t.csat_score, "requested_at": _iso(t.csat_requested_at),
                         "rated_at": _iso(t.csat_rated_at)} for t in tickets if t.csat_requested_at or t.csat_score],
            "outbox": [{"id": o.id, "ticket": f"T-{o.ticket_id}", "target": o.target, "kind": o.kind,
                        "state": o.state, "payload": o.payload, "created_at": _iso(o.created_at)} for o in outbox],
            "audit": [{"kind": a.kind, "actor": a.actor, "at": _iso(a.at), "payload": a.payload} for a in audit],
        }
        record_audit(session, kind="customer_exported", actor=actor, at=now, customer_id=members[0].id,
                     payload={"customers": ids, "tickets": len(tickets), "messages": len(messages)})
        return data


# -- erase ----------------------------------------------------------------------------------


@dataclass
class ErasePlan:
    """What an erasure removes (or removed): counts and the ticket keys kept as anonymised records."""

    customers: list[str]
    tickets: list[str]
    messages: int
    events: int
    outbox: int
    erased: bool = False
    rows_swept: int = 0
    cancelled: int = 0  # replies to the customer still queued: not sent after the erasure


CANCELLED = "customer erased before delivery"


def _cancel_replies(session: Session, ticket_ids: list[int], now: datetime) -> int:
    """Replies to the person still waiting in the outbox go dead, and their messages show as
    failed (App Home lists them): once erased, nothing more is sent to that account."""
    items = session.scalars(select(OutboxItem).where(OutboxItem.ticket_id.in_(ticket_ids),
                                                     OutboxItem.state == "pending",
                                                     OutboxItem.target.like("network:%"))).all()
    for item in items:
        item.state, item.last_error, item.locked_until = "dead", CANCELLED, None
        message = session.get(Message, (item.payload or {}).get("message_id"))
        if message is not None and message.delivery_state == "queued":
            message.delivery_state, message.delivery_error = "failed", CANCELLED
    return len(items)


def erase(flows, key: str, *, actor: str, confirm: bool) -> ErasePlan:
    """Remove the text, handles and names of the person `key` names from every table (their
    records across networks); their tickets stay as anonymised records. Without `confirm`,
    nothing changes and the plan says what would go."""
    now = flows.clock()
    with session_scope(flows.session_factory) as session:
        members = group_of(session, resolve(session, key))
        ids = [m.id for m in members]
        tickets = list(session.scalars(select(Ticket).where(Ticket.customer_id.in_(ids)).order_by(Ticket.id)).unique())
        ticket_ids = [t.id for t in tickets]
        messages = session.scalars(select(Message).where(or_(Message.customer_id.in_(ids),
                                                             Message.ticket_id.in_(ticket_ids)))).all()
        theirs = [m for m in messages if m.direction == "inbound"]
        plan = ErasePlan(customers=[key_of(m) for m in members], tickets=[t.key for t in tickets],
                         messages=len(theirs),
                         events=session.scalar(select(func.count()).select_from(TicketEvent).where(
                             TicketEvent.ticket_id.in_(ticket_ids))) or 0,
                         outbox=session.scalar(select(func.count()).select_from(OutboxItem).where(
                             OutboxItem.ticket_id.in_(ticket_ids))) or 0)
        if not confirm:
            return plan
        secrets = secrets_of([*(v for m in members for v in (m.handle, m.name, m.external_user_id)),
                              *(v for m in theirs for v in (m.text, m.author_handle, m.author_name, m.author_id,
                                                            m.url)),
                              *(t.subject for t in tickets)])
        pattern = pattern_of(secrets)
        exact = frozenset(v for m in members for v in (m.handle, m.name, m.external_user_id) if v) | frozenset(
            v for m in theirs for v in (m.author_id, m.author_handle, m.author_name) if v)
        for message in messages:
            if message in theirs:
                message.text, message.url, message.meta = ERASED, None, None
                message.author_id = message.author_handle = message.author_name = None
            elif pattern is not None:  # agents' replies and notes: their words stay, the customer's go
                message.text = scrub(message.text, pattern)
                message.meta = None
                if message.delivery_error:
                    message.delivery_error = scrub(message.delivery_error, pattern)
        for ticket in tickets:
            ticket.subject = ERASED
        plan.cancelled = _cancel_replies(session, ticket_ids, now)
        for member in members:
            member.handle = member.name = None
            member.external_user_id = f"erased:{member.id}"
        session.flush()
        uow = UnitOfWork(session)
        rows = scrub_ticket_rows(uow, ticket_ids, pattern, exact)
        rows += sweep(uow, secrets)
        for ticket in tickets:
            flows.recorder.record_ticket(session, ticket, "customer_erased", actor, now, customers=ids)
        record_audit(session, kind="customer_erased", actor=actor, at=now, customer_id=members[0].id,
                     payload={"customers": ids, "tickets": plan.tickets, "messages": plan.messages,
                              "events": plan.events, "outbox": plan.outbox})
        plan.erased, plan.rows_swept = True, rows
        return plan


def scrub_ticket_rows(uow: UnitOfWork, ticket_ids: list[int], pattern, exact: frozenset[str] = frozenset()) -> int:
    """The payloads tied to these tickets (events, outbox items in any state, pages, stats facts)."""
    changed = 0
    for model, columns in ((TicketEvent, ("payload",)), (OutboxItem, ("payload", "result", "last_error")),
                           (Page, ("policy_snapshot",)), (StatsFact, ("tags", "keywords"))):
        key = model.__table__.primary_key.columns.values()[0]
        rows = uow.execute(select(key, *(getattr(model, c) for c in columns))
                           .where(model.ticket_id.in_(ticket_ids))).all()
        for row_key, *values in rows:
            cleaned = {c: scrub(v, pattern, exact) for c, v in zip(columns, values, strict=True)}
            if cleaned != dict(zip(columns, values, strict=True)):
                uow.execute(update(model.__table__).where(key == row_key).values(cleaned))
                changed += 1
    return changed
