"""The read model: what people see of a ticket, read once per render and shared by every surface.

Slack blocks, Teams cards, `/ticket show`, the CLI and the sandbox render a `TicketView`; none of
them reads the database or decides SLA state itself. The SLA state is computed here, once, from
the moments stored on the ticket (chatops.sla.state) at the moment the caller passes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from chatops.customers.keys import key_of
from chatops.rules import Rules
from chatops.sla.state import SlaState, sla_state
from chatops.tickets import service
from chatops.tickets.issues import IssueRef, issues_of
from chatops.tickets.models import Customer, Message, SurfaceThread, Ticket
from chatops.tickets.moderation import ModerationState, is_comment, states_of
from chatops.tickets.queries import overdue_tickets

NO_SLA = SlaState(None, None, None, "ok")
BATCH = 500  # tickets per look-up of their first messages and threads (bound parameters stay few)


@dataclass(frozen=True)
class CustomerView:
    """The ticket's customer as surfaces name them."""

    handle: str | None = None
    name: str | None = None
    user_id: str | None = None
    tier: str = "standard"
    flags: tuple[str, ...] = ()
    # The same person's records on other networks (`network:handle`), and the tickets of all of
    # them together (chatops.customers): empty and 0 for a customer with no linked records.
    linked: tuple[str, ...] = ()
    tickets_all: int = 0

    @property
    def label(self) -> str:
        """How every surface names the customer: handle, else name, else their network id."""
        return self.handle or self.name or self.user_id or "?"


@dataclass(frozen=True)
class ThreadRef:
    """Where the ticket's thread lives on one chat surface (Slack: channel id + parent ts)."""

    surface: str
    channel: str
    ts: str


@dataclass(frozen=True)
class TicketView:
    """What people see of one ticket: its fields, its SLA state at the render's moment and
    where its threads are. Built by `load_view`/`views_of` (or `TicketView.at` from plain values)."""

    key: str
    status: str
    priority: str
    level: str
    channel: str
    source: str
    account: str
    text: str  # the customer's first message (the subject when it is gone)
    created_at: datetime
    id: int = 0
    subject: str = ""
    customer: CustomerView = CustomerView()
    assignee: str | None = None
    tags: tuple[str, ...] = ()
    url: str | None = None
    matched_rules: tuple[str, ...] = ()
    notify: tuple[str, ...] = ()
    follows: str | None = None  # key of the customer's earlier ticket this one continues
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    first_response_warn_at: datetime | None = None
    first_response_due_at: datetime | None = None
    next_response_warn_at: datetime | None = None
    next_response_due_at: datetime | None = None
    resolution_warn_at: datetime | None = None
    resolution_due_at: datetime | None = None
    priority_labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    threads: tuple[ThreadRef, ...] = ()
    sla: SlaState = NO_SLA
    issues: tuple[IssueRef, ...] = ()  # tracker issues created from the ticket, oldest first
    # The first message's media (type, url, alt, ref, name) and whether the customer has since
    # edited or deleted it on the network.
    attachments: tuple[Mapping[str, Any], ...] = ()
    edited: bool = False
    deleted: bool = False
    moderation: ModerationState | None = None  # of its Facebook / Instagram comment (None: not from one)

    @classmethod
    def at(cls, now: datetime, **fields) -> TicketView:
        """A view of plain field values with its SLA state at `now` (previews and tests)."""
        view = cls(**fields)
        return replace(view, sla=sla_state(view, now))

    @property
    def due(self) -> tuple[str, datetime] | None:
        """The live deadline and its due moment while the ticket is open (None once resolved or
        without a stored deadline)."""
        if self.status == "resolved" or self.sla.deadline is None or self.sla.due_at is None:
            return None
        return self.sla.deadline, self.sla.due_at

    def priority_label(self, lang: str) -> str:
        """The priority's label from rules.yaml in `lang` (its id when the rules have none)."""
        return self.priority_labels.get("ja" if lang == "ja" else "en", self.priority)

    def thread(self, surface: str) -> ThreadRef | None:
        """The ticket's thread on `surface`, once its parent message was posted there."""
        return next((ref for ref in self.threads if ref.surface == surface), None)


def _labels(rules: Rules | None, priority: str) -> Mapping[str, str]:
    definition = rules.priorities.get(priority) if rules is not None else None
    if definition is None:
        return MappingProxyType({})
    return MappingProxyType({"ja": definition.label.get("ja"), "en": definition.label.get("en")})


def _view(ticket: Ticket, first: Message | None, threads: Sequence[ThreadRef], rules: Rules | None,
          now: datetime, issues: Sequence[IssueRef] = (),
          linked: tuple[tuple[str, ...], int] = ((), 0), moderation: ModerationState | None = None) -> TicketView:
    customer = ticket.customer
    return TicketView.at(
        now, id=ticket.id, key=ticket.key, status=ticket.status, priority=ticket.priority, level=ticket.level,
        channel=ticket.channel, source=ticket.source, account=ticket.account, subject=ticket.subject,
        text=first.text if first is not None else ticket.subject, url=first.url if first is not None else None,
        customer=CustomerView(handle=customer.handle, name=customer.name, user_id=customer.external_user_id,
                              tier=customer.tier, flags=tuple(customer.flags or ()), linked=linked[0],
                              tickets_all=linked[1]),
        assignee=ticket.assignee, tags=tuple(ticket.tags), matched_rules=tuple(ticket.matched_rules or ()),
        notify=tuple(ticket.notify or ()),
        follows=f"T-{ticket.follows_ticket_id}" if ticket.follows_ticket_id else None,
        created_at=ticket.created_at, first_response_at=ticket.first_response_at, resolved_at=ticket.resolved_at,
        first_response_warn_at=ticket.first_response_warn_at, first_response_due_at=ticket.first_response_due_at,
        next_response_warn_at=ticket.next_response_warn_at, next_response_due_at=ticket.next_response_due_at,
        resolution_warn_at=ticket.resolution_warn_at, resolution_due_at=ticket.resolution_due_at,
        priority_labels=_labels(rules, ticket.priority), threads=tuple(threads), issues=tuple(issues),
        attachments=tuple((first.attachments or ()) if first is not None else ()),
        edited=first is not None and first.edited_at is not None,
        deleted=first is not None and first.deleted_at is not None,
        moderation=moderation or (ModerationState() if first is not None and is_comment(first) else None))


def views_of(session: Session, tickets: Iterable[Ticket], *, rules: Rules | None, now: datetime) -> list[TicketView]:
    """Views of loaded tickets, in their order, with first messages and threads read in one query
    each per batch of tickets (customers and tags come with the tickets)."""
    tickets = list(tickets)
    firsts: dict[int, Message] = {}
    threads: dict[int, list[ThreadRef]] = {}
    issues: dict[int, list[IssueRef]] = {}
    moderated: dict[int, ModerationState] = {}
    for start in range(0, len(tickets), BATCH):
        batch = tickets[start:start + BATCH]
        ids = [ticket.id for ticket in batch]
        for message in session.scalars(select(Message).where(
                Message.direction == "inbound", Message.ticket_id.in_(ids),
                tuple_(Message.source, Message.external_id).in_([(t.source, t.external_id) for t in batch]))
                .order_by(Message.id)):
            firsts.setdefault(message.ticket_id, message)
        for row in session.execute(select(SurfaceThread.ticket_id, SurfaceThread.surface, SurfaceThread.channel,
                                          SurfaceThread.ts).where(SurfaceThread.ticket_id.in_(ids))
                                   .order_by(SurfaceThread.surface)):
            threads.setdefault(row.ticket_id, []).append(ThreadRef(row.surface, row.channel, row.ts))
        issues.update(issues_of(session, ids))
        moderated.update(states_of(session, ids))
    linked = _linked_records(session, {ticket.customer for ticket in tickets})
    return [_view(ticket, firsts.get(ticket.id), threads.get(ticket.id, ()), rules, now, issues.get(ticket.id, ()),
                  linked.get(ticket.customer_id, ((), 0)), moderated.get(ticket.id)) for ticket in tickets]


def _linked_records(session: Session, customers: set[Customer]) -> dict[int, tuple[tuple[str, ...], int]]:
    """Per customer with linked records: the others' keys and the tickets of the whole group. One
    indexed query for customers that have none (the usual case), two more when some do."""
    roots = {customer.linked_to_id or customer.id for customer in customers}
    if not roots:
        return {}
    members: dict[int, list[Customer]] = {}
    for start in range(0, len(roots), BATCH):
        chunk = sorted(roots)[start:start + BATCH]
        for record in session.scalars(select(Customer).where(
                Customer.linked_to_id.in_(chunk) | (Customer.id.in_(chunk) & Customer.linked_to_id.is_(None)))):
            members.setdefault(record.linked_to_id or record.id, []).append(record)
    groups = {root: records for root, records in members.items() if len(records) > 1}
    if not groups:
        return {}
    counts = dict(session.execute(select(Ticket.customer_id, func.count()).where(
        Ticket.customer_id.in_([r.id for records in groups.values() for r in records]))
        .group_by(Ticket.customer_id)).all())
    found = {}
    for customer in customers:
        records = groups.get(customer.linked_to_id or customer.id)
        if records:
            found[customer.id] = (tuple(sorted(key_of(r) for r in records if r.id != customer.id)),
                                  sum(counts.get(r.id, 0) for r in records))
    return found


def load_view(session: Session, key_or_id: str | int, *, rules: Rules | None, now: datetime) -> TicketView:
    """The view of one ticket by key (`T-12`, as people type it) or id (TicketNotFound when none)."""
    key = f"T-{key_or_id}" if isinstance(key_or_id, int) else key_or_id
    return views_of(session, [service.get_ticket(session, key=key)], rules=rules, now=now)[0]


def list_views(session: Session, *, rules: Rules | None, now: datetime, limit: int = 20,
               **filters) -> list[TicketView]:
    """Views of tickets as `service.list_tickets` lists them (overdue at `now` first)."""
    tickets = service.list_tickets(session, limit=limit, now=now, **filters)
    return views_of(session, tickets, rules=rules, now=now)


def overdue_views(session: Session, *, rules: Rules | None, now: datetime, limit: int = 20) -> list[TicketView]:
    """Open tickets past their live stored deadline at `now` (a pending ticket's resolution clock
    is paused), most overdue first."""
    return views_of(session, overdue_tickets(session, now=now, limit=limit), rules=rules, now=now)
