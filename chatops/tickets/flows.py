"""Ticket flows: the state machine. Each action is one transaction that writes one TicketEvent.

Adapters (Slack, Teams, CLI, webhooks) call these; nothing here imports an adapter.
Status: new → open (claimed or answered) → pending (waiting on customer) → resolved;
a resolved ticket reopens to open.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from chatops.db import session_scope, utcnow
from chatops.errors import (
    AlreadyClaimed,
    EmptyText,
    EscalationNotUpward,
    InvalidTransition,
    InvalidValue,
    NotClaimedByYou,
    NoteRequired,
)
from chatops.oncall.pages import PageFlows
from chatops.rules import Rules, RulesEngine
from chatops.sla.clock import SlaClock
from chatops.sla.flows import SlaFlows
from chatops.stats.csat_hooks import CsatRequester
from chatops.stats.projector import StatsProjector
from chatops.tickets import service
from chatops.tickets.events import EventListener, EventNotice, Projector, announce, project
from chatops.tickets.flood import has_open_incident
from chatops.tickets.ingest import IngestFlows
from chatops.tickets.limits import check_reply_length
from chatops.tickets.models import Message, OutboxItem, Ticket, TicketEvent, TicketTag

_TAG = re.compile(r"^[\w\-:.+]{1,64}$")


def normalize_tag(tag: str) -> str:
    """A tag as stored: NFKC, lower case, no leading `#`; InvalidValue when unusable."""
    clean = unicodedata.normalize("NFKC", tag).strip().lstrip("#").casefold()
    if not _TAG.match(clean):
        raise InvalidValue(value=tag, field="tag", choices="letters, digits, - _ : . + (max 64)")
    return clean


class TicketFlows(IngestFlows, SlaFlows, PageFlows):
    """Every change to a ticket goes through here; see the module docstring for the states."""

    def __init__(self, session_factory: sessionmaker[Session], rules: Rules,
                 clock: Callable[[], datetime] = utcnow, engine: RulesEngine | None = None,
                 listeners: list[EventListener] | None = None,
                 projectors: list[Projector] | None = None) -> None:
        self.session_factory = session_factory
        self.rules = rules
        self.engine = engine or RulesEngine(rules)
        self.sla = SlaClock(rules)
        self.clock = clock
        self.listeners: list[EventListener] = list(listeners or [])
        # Read models kept in step inside the event's transaction (stats rollups).
        self.projectors: list[Projector] = (
            [CsatRequester(rules), StatsProjector(rules)] if projectors is None else list(projectors))

    # -- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def _ticket(self, key: str) -> Iterator[tuple[Session, Ticket]]:
        """One transaction holding the ticket row locked (FOR UPDATE; SQLite: BEGIN IMMEDIATE)."""
        with session_scope(self.session_factory) as session:
            yield session, service.get_ticket(session, key=key, for_update=True)

    def _event(self, session: Session, ticket: Ticket, kind: str, actor: str,
               **payload: Any) -> TicketEvent:
        now = self.clock()
        ticket.updated_at = now
        event = TicketEvent(ticket_id=ticket.id, kind=kind, actor=actor, at=now, payload=payload)
        session.add(event)
        if self.listeners or self.projectors:
            session.flush()  # the event id names the announcements (their dedupe keys)
            notice = EventNotice(
                event_id=event.id, ticket_id=ticket.id, kind=kind, actor=actor, at=now,
                channel=ticket.channel, assignee=ticket.assignee, payload=payload)
            announce(session, self.listeners, notice)
            project(session, self.projectors, notice)
        return event

    def _refuse(self, ticket: Ticket, action: str) -> InvalidTransition:
        return InvalidTransition(key=ticket.key, status=ticket.status, action=action)

    # -- people acting on tickets -----------------------------------------------------------

    def claim(self, key: str, *, actor: str) -> Ticket:
        """Take ownership. Racing claims: exactly one wins, the others get AlreadyClaimed."""
        with self._ticket(key) as (session, ticket):
            if ticket.assignee == actor:
                return ticket  # a double click is not a second claim
            if ticket.assignee is not None:
                raise AlreadyClaimed(key=ticket.key, by=ticket.assignee)
            if ticket.status == "resolved":
                raise self._refuse(ticket, "claimed")
            ticket.assignee = actor
            previous = ticket.status
            ticket.status = "open" if previous == "new" else previous
            self._event(session, ticket, "claimed", actor, status_from=previous, status_to=ticket.status)
            return ticket

    def release(self, key: str, *, actor: str) -> Ticket:
        """Give a claimed ticket back to the queue (only its owner may)."""
        with self._ticket(key) as (session, ticket):
            if ticket.assignee is None:
                return ticket
            if ticket.assignee != actor:
                raise NotClaimedByYou(key=ticket.key, by=ticket.assignee)
            ticket.assignee = None
            self._event(session, ticket, "released", actor)
            return ticket

    def assign(self, key: str, *, actor: str, assignee: str) -> Ticket:
        """Give the ticket to `assignee` (a lead's move; roles are checked by the surface)."""
        if not assignee.strip():
            raise InvalidValue(value=assignee, field="assignee", choices="a user id")
        with self._ticket(key) as (session, ticket):
            if ticket.status == "resolved":
                raise self._refuse(ticket, "assigned")
            if ticket.assignee == assignee:
                return ticket
            previous = ticket.assignee
            ticket.assignee = assignee
            status_from = ticket.status
            ticket.status = "open" if status_from == "new" else status_from
            self._event(session, ticket, "assigned", actor, assignee_from=previous, assignee_to=assignee,
                        status_from=status_from, status_to=ticket.status)
            return ticket

    def tag(self, key: str, *, actor: str, add: tuple[str, ...] | list[str] = (),
            remove: tuple[str, ...] | list[str] = ()) -> Ticket:
        """Add and remove tags; one event listing what changed, none when nothing did."""
        to_add = {normalize_tag(t) for t in add}
        to_remove = {normalize_tag(t) for t in remove} - to_add
        with self._ticket(key) as (session, ticket):
            current = set(ticket.tags)
            added, removed = sorted(to_add - current), sorted(to_remove & current)
            if not added and not removed:
                return ticket
            ticket.tag_rows = [row for row in ticket.tag_rows if row.tag not in removed]
            ticket.tag_rows.extend(TicketTag(tag=tag) for tag in added)
            self._event(session, ticket, "tagged", actor, added=added, removed=removed)
            return ticket

    def set_priority(self, key: str, *, actor: str, priority: str) -> Ticket:
        """Change priority to one defined in rules.yaml."""
        self._check_choice("priority", priority, self.rules.priorities)
        with self._ticket(key) as (session, ticket):
            if ticket.priority == priority:
                return ticket
            previous, ticket.priority = ticket.priority, priority
            self._sla_reprice(ticket, self.clock())
            self._event(session, ticket, "priority_changed", actor, priority_from=previous,
                        priority_to=priority)
            return ticket

    def escalate(self, key: str, *, actor: str, level: str, note: str,
                 assignee: str | None = None) -> Ticket:
        """Hand the ticket up a level with a required note; the level's owners are to be notified."""
        self._check_choice("level", level, self.rules.levels)
        note = (note or "").strip()
        with self._ticket(key) as (session, ticket):
            if not note:
                raise NoteRequired(key=ticket.key)
            if ticket.status == "resolved":
                raise self._refuse(ticket, "escalated")
            levels = self.rules.levels
            if levels[level].rank <= levels[ticket.level].rank:
                raise EscalationNotUpward(key=ticket.key, current=ticket.level)
            previous, ticket.level = ticket.level, level
            if assignee:
                ticket.assignee = assignee
            status_from = ticket.status
            ticket.status = "open" if status_from == "new" else status_from
            self._event(session, ticket, "escalated", actor, level_from=previous, level_to=level,
                        note=note, assignee=ticket.assignee, notify=list(levels[level].owners))
            return ticket

    def add_note(self, key: str, *, actor: str, text: str, external_id: str | None = None) -> Message:
        """Store an internal note (never sent to the customer). `external_id` (e.g. the Slack
        message it was typed as) makes a redelivery return the stored note instead of a copy."""
        try:
            with self._ticket(key) as (session, ticket):
                if not text.strip():
                    raise EmptyText(key=ticket.key, what="note")
                note = Message(ticket_id=ticket.id, direction="note", source=ticket.source,
                               account=ticket.account, author_id=actor, text=text, created_at=self.clock(),
                               external_id=external_id)
                session.add(note)
                session.flush()
                self._event(session, ticket, "note_added", actor, message_id=note.id)
                return note
        except IntegrityError:
            existing = self._existing_message("note", external_id)
            if existing is None:
                raise
            return existing

    def _existing_message(self, direction: str, external_id: str | None) -> Message | None:
        if external_id is None:
            return None
        with session_scope(self.session_factory) as session:
            return session.scalars(select(Message).where(
                Message.direction == direction, Message.external_id == external_id)).first()

    def reply(self, key: str, *, actor: str, text: str, idempotency_key: str | None = None) -> Message | None:
        """Record an agent's reply and queue it to the network and account the ticket came from.

        With `idempotency_key` (e.g. the Slack modal's view id), a second submission of the same
        reply sends nothing and returns None."""
        try:
            return self._reply(key, actor=actor, text=text, idempotency_key=idempotency_key)
        except IntegrityError:
            if idempotency_key is None:
                raise
            return None

    def _reply(self, key: str, *, actor: str, text: str, idempotency_key: str | None) -> Message:
        with self._ticket(key) as (session, ticket):
            if not text.strip():
                raise EmptyText(key=ticket.key, what="reply")
            check_reply_length(ticket.source, text, key=ticket.key)
            if ticket.status == "resolved":
                raise self._refuse(ticket, "replied to")
            now = self.clock()
            # On a flood incident the reply answers the ticket's own customer, not whoever wrote last.
            last_inbound = service.last_inbound(session, ticket_id=ticket.id, customer_id=ticket.customer_id
                                                if has_open_incident(session, ticket.id) else None)
            reply = Message(ticket_id=ticket.id, direction="outbound", source=ticket.source,
                            account=ticket.account, author_id=actor, text=text, created_at=now,
                            conversation_id=last_inbound.conversation_id if last_inbound else None,
                            in_reply_to=last_inbound.external_id if last_inbound else None,
                            delivery_state="queued")
            session.add(reply)
            session.flush()
            # Counted when queued; a reply the network refuses for good withdraws it (reply_failed),
            # so the first-response deadline keeps running.
            first = ticket.first_response_at is None
            if first:
                ticket.first_response_at = now
            status_from = ticket.status
            ticket.status = "open" if status_from == "new" else status_from
            session.add(OutboxItem(
                target=f"network:{ticket.source}", kind="reply",
                dedupe_key=f"reply:{idempotency_key}" if idempotency_key else f"reply:{reply.id}",
                ordering_key=f"{ticket.source}:{ticket.account}", ticket_id=ticket.id,
                created_at=now, next_attempt_at=now,
                payload={"message_id": reply.id, "account": ticket.account, "text": text,
                         "in_reply_to": reply.in_reply_to, "conversation_id": reply.conversation_id,
                         "reply_meta": (last_inbound.meta or {}) if last_inbound else {},
                         "author_id": last_inbound.author_id if last_inbound else None},
            ))
            self._event(session, ticket, "replied", actor, message_id=reply.id, first_response=first,
                        status_from=status_from, status_to=ticket.status)
            return reply

    def reply_delivered(self, session: Session, item: OutboxItem) -> None:
        """Outbox done hook for `reply`: the network accepted it — sent, first response now."""
        service.record_reply_delivered(session, item)
        message = session.get(Message, item.payload["message_id"])
        if message is None or message.ticket_id is None:
            return
        message.delivery_state, message.delivery_error = "sent", None
        ticket = session.get(Ticket, message.ticket_id, with_for_update=True)
        self._event(session, ticket, "reply_sent", message.author_id or "system", message_id=message.id)
        if not str(message.author_id or "").startswith("chatops:"):  # an agent's answer: their turn now
            self.next_reply_answered(ticket, self.clock())
            self.pending_after_delivery(session, ticket, self.clock())

    def reply_failed(self, session: Session, item: OutboxItem) -> None:
        """Outbox dead hook for `reply`: the network refused it for good — failed, with the reason;
        first_response_at stays unset so the SLA deadline keeps running."""
        message = session.get(Message, item.payload["message_id"])
        if message is None or message.ticket_id is None:
            return
        reason = (item.last_error or "")[:300]
        message.delivery_state, message.delivery_error = "failed", reason
        ticket = session.get(Ticket, message.ticket_id)
        others = session.scalar(select(Message.id).where(
            Message.ticket_id == ticket.id, Message.direction == "outbound", Message.id != message.id,
            Message.delivery_state.is_distinct_from("failed")).limit(1))
        if others is None:  # no other reply reached or may reach the customer: not answered
            ticket.first_response_at = None
        self._event(session, ticket, "reply_failed", message.author_id or "system", message_id=message.id,
                    reason=reason, network=ticket.source)

    def set_pending(self, key: str, *, actor: str) -> Ticket:
        """Mark the ticket as waiting on the customer."""
        return self._move(key, actor=actor, allowed=("new", "open"), to="pending", kind="pending",
                          action="set to pending")

    def resolve(self, key: str, *, actor: str, note: str | None = None) -> Ticket:
        """Close the ticket, with an optional resolution note."""
        return self._move(key, actor=actor, allowed=("new", "open", "pending"), to="resolved",
                          kind="resolved", action="resolved", note=(note or "").strip() or None)

    def reopen(self, key: str, *, actor: str, reason: str | None = None) -> Ticket:
        """Bring a resolved ticket back to open."""
        return self._move(key, actor=actor, allowed=("resolved",), to="open", kind="reopened",
                          action="reopened", reason=(reason or "").strip() or None)

    def _move(self, key: str, *, actor: str, allowed: tuple[str, ...], to: str, kind: str,
              action: str, **payload: Any) -> Ticket:
        with self._ticket(key) as (session, ticket):
            if ticket.status not in allowed:
                raise self._refuse(ticket, action)
            previous, ticket.status = ticket.status, to
            if to == "resolved":
                ticket.resolved_at = self.clock()
                self.close_incidents(session, ticket_id=ticket.id, now=ticket.resolved_at)
            elif previous == "resolved":
                ticket.resolved_at = None
                ticket.reopened_count += 1
            self._sla_moved(session, ticket, previous, to, self.clock())
            self._event(session, ticket, kind, actor, status_from=previous, status_to=to, **payload)
            return ticket

    @staticmethod
    def _check_choice(field: str, value: str, choices: dict) -> None:
        if value not in choices:
            raise InvalidValue(value=value, field=field, choices=", ".join(choices))
