"""Ticket flows: the state machine. Each action is one transaction that writes one TicketEvent.

Adapters (Slack, Teams, CLI, webhooks) call these; nothing here imports an adapter.
Status: new → open (claimed or answered) → pending (waiting on customer) → resolved;
a resolved ticket reopens to open.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
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
from chatops.inbound import InboundMessage
from chatops.oncall.models import Page
from chatops.oncall.pages import PagingService
from chatops.rules import Rules, RulesEngine
from chatops.sla.service import AUTO_RESOLVE_ACTOR, SlaService
from chatops.stats.csat_hooks import CsatRequester
from chatops.stats.projector import StatsProjector
from chatops.tickets import service
from chatops.tickets.assignment import AssignmentService
from chatops.tickets.events import EventListener, Projector
from chatops.tickets.flood import FloodService, close_incidents
from chatops.tickets.ingest import IngestResult, IngestService
from chatops.tickets.issues import IssueService
from chatops.tickets.models import Message, OutboxItem, Ticket, TicketTag
from chatops.tickets.moderation import ModerationService
from chatops.tickets.record import Recorder
from chatops.tickets.replies import ReplyService
from chatops.tickets.transitions import moved, raised, status_fields, worked_on

_TAG = re.compile(r"^[\w\-:.+]{1,64}$")


def normalize_tag(tag: str) -> str:
    """A tag as stored: NFKC, lower case, no leading `#`; InvalidValue when unusable."""
    clean = unicodedata.normalize("NFKC", tag).strip().lstrip("#").casefold()
    if not _TAG.match(clean):
        raise InvalidValue(value=tag, field="tag", choices="letters, digits, - _ : . + (max 64)")
    return clean


class TicketFlows:
    """Every change to a ticket goes through here; see the module docstring for the states.

    Composed of services, each given its dependencies: `recorder` (the one writer of events and
    outbox rows), `paging`, `deadlines` (the SLA service; `sla` is its pricing clock), `flood` and
    `inbound` (ingest). People's actions live here; the rest delegates."""

    def __init__(self, session_factory: sessionmaker[Session], rules: Rules,
                 clock: Callable[[], datetime] = utcnow, engine: RulesEngine | None = None,
                 listeners: list[EventListener] | None = None,
                 projectors: list[Projector] | None = None) -> None:
        self.session_factory = session_factory
        self._rules = rules
        self.engine = engine or RulesEngine(rules)
        self.recorder = Recorder(listeners or [], [CsatRequester(rules), StatsProjector(rules)]
                                 if projectors is None else projectors)
        self.paging = PagingService(session_factory, rules, self.recorder, clock)
        self.deadlines = SlaService(session_factory, rules, self.recorder, self.paging, clock)
        self.sla = self.deadlines.sla
        self.flood = FloodService(rules, self.recorder, self.deadlines, self.paging)
        self.replies = ReplyService(session_factory, self.recorder, self.deadlines, clock)
        self.inbound = IngestService(session_factory.kw["bind"], rules, self.recorder, self.engine, self.deadlines,
                                     self.paging, self.flood, clock)
        self.amend = self.inbound.amend  # edits triaged by ingest's engine (chatops.tickets.followup)
        self.issues = IssueService(session_factory, self.recorder, clock, move=self.move)
        self.assignment = AssignmentService(session_factory, rules, assign=self.assign,
                                            calendar=lambda: self.deadlines.sla.business, who=self.paging.who,
                                            failed=self._assignment_failed, clock=clock)
        self.moderation = ModerationService(session_factory, self.recorder, clock)
        self._clock = clock

    @property
    def clock(self) -> Callable[[], datetime]:
        """The one source of "now" of these flows and their services."""
        return self._clock

    @clock.setter
    def clock(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        for part in (self.paging, self.deadlines, self.replies, self.inbound, self.issues, self.amend,
                     self.assignment, self.moderation):
            part.clock = clock

    @property
    def rules(self) -> Rules:
        """The loaded rules.yaml these flows and their services decide by."""
        return self._rules

    @rules.setter
    def rules(self, rules: Rules) -> None:
        self._rules = rules
        for part in (self.paging, self.deadlines, self.flood, self.inbound, self.assignment):
            part.rules = rules

    @property
    def auto_replies(self) -> bool:
        """Whether new tickets may get the offline auto-reply (off for `chatops ingest --no-replies`)."""
        return self.deadlines.auto_replies

    @auto_replies.setter
    def auto_replies(self, on: bool) -> None:
        self.deadlines.auto_replies = on

    # -- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def changing(self, key: str) -> Iterator[tuple[Session, Ticket]]:
        """One transaction holding the ticket row locked (FOR UPDATE; SQLite: BEGIN IMMEDIATE)."""
        with service.locked_ticket(self.session_factory, key) as (session, ticket):
            yield session, ticket

    def event(self, session: Session, ticket: Ticket, kind: str, actor: str, **payload: Any) -> None:
        """Record one change of a loaded ticket, now (through the recorder)."""
        self.recorder.record_ticket(session, ticket, kind, actor, self.clock(), **payload)

    def _refuse(self, ticket: Ticket, action: str) -> InvalidTransition:
        return InvalidTransition(key=ticket.key, status=ticket.status, action=action)

    # -- people acting on tickets -----------------------------------------------------------

    def claim(self, key: str, *, actor: str) -> Ticket:
        """Take ownership. Racing claims: exactly one wins, the others get AlreadyClaimed."""
        with self.changing(key) as (session, ticket):
            if ticket.assignee == actor:
                return ticket  # a double click is not a second claim
            if ticket.assignee is not None:
                raise AlreadyClaimed(key=ticket.key, by=ticket.assignee)
            if ticket.status == "resolved":
                raise self._refuse(ticket, "claimed")
            ticket.assignee = actor
            previous = ticket.status
            ticket.status = worked_on(previous)
            self.event(session, ticket, "claimed", actor, status_from=previous, status_to=ticket.status)
            return ticket

    def release(self, key: str, *, actor: str) -> Ticket:
        """Give a claimed ticket back to the queue (only its owner may)."""
        with self.changing(key) as (session, ticket):
            if ticket.assignee is None:
                return ticket
            if ticket.assignee != actor:
                raise NotClaimedByYou(key=ticket.key, by=ticket.assignee)
            ticket.assignee = None
            self.event(session, ticket, "released", actor)
            return ticket

    def assign(self, key: str, *, actor: str, assignee: str, auto: dict[str, Any] | None = None,
               only_from: tuple[str | None, ...] | None = None) -> Ticket:
        """Give the ticket to `assignee` (a lead's move; roles are checked by the surface).
        `auto` marks an automatic pick (its mode, whom it replaces) in the event; with
        `only_from`, AlreadyClaimed unless the ticket is still held by one of those."""
        if not assignee.strip():
            raise InvalidValue(value=assignee, field="assignee", choices="a user id")
        with self.changing(key) as (session, ticket):
            if only_from is not None and ticket.assignee not in only_from:
                raise AlreadyClaimed(key=ticket.key, by=ticket.assignee or "-")
            if ticket.status == "resolved":
                raise self._refuse(ticket, "assigned")
            if ticket.assignee == assignee:
                return ticket
            previous = ticket.assignee
            ticket.assignee = assignee
            status_from = ticket.status
            ticket.status = worked_on(status_from)
            self.event(session, ticket, "assigned", actor, assignee_from=previous, assignee_to=assignee,
                        status_from=status_from, status_to=ticket.status, **({"auto": auto} if auto else {}))
            return ticket

    def tag(self, key: str, *, actor: str, add: tuple[str, ...] | list[str] = (),
            remove: tuple[str, ...] | list[str] = ()) -> Ticket:
        """Add and remove tags; one event listing what changed, none when nothing did."""
        to_add = {normalize_tag(t) for t in add}
        to_remove = {normalize_tag(t) for t in remove} - to_add
        with self.changing(key) as (session, ticket):
            current = set(ticket.tags)
            added, removed = sorted(to_add - current), sorted(to_remove & current)
            if not added and not removed:
                return ticket
            ticket.tag_rows = [row for row in ticket.tag_rows if row.tag not in removed]
            ticket.tag_rows.extend(TicketTag(tag=tag) for tag in added)
            self.event(session, ticket, "tagged", actor, added=added, removed=removed)
            return ticket

    def set_priority(self, key: str, *, actor: str, priority: str) -> Ticket:
        """Change priority to one defined in rules.yaml."""
        self._check_choice("priority", priority, self.rules.priorities)
        with self.changing(key) as (session, ticket):
            if ticket.priority == priority:
                return ticket
            previous, ticket.priority = ticket.priority, priority
            self.deadlines.repriced(ticket, self.clock())
            self.event(session, ticket, "priority_changed", actor, priority_from=previous,
                        priority_to=priority)
            return ticket

    def escalate(self, key: str, *, actor: str, level: str, note: str,
                 assignee: str | None = None) -> Ticket:
        """Hand the ticket up a level with a required note; the level's owners are to be notified."""
        self._check_choice("level", level, self.rules.levels)
        note = (note or "").strip()
        with self.changing(key) as (session, ticket):
            if not note:
                raise NoteRequired(key=ticket.key)
            if ticket.status == "resolved":
                raise self._refuse(ticket, "escalated")
            levels = self.rules.levels
            if not raised(ticket.level, level, levels):
                raise EscalationNotUpward(key=ticket.key, current=ticket.level)
            previous, ticket.level = ticket.level, level
            if assignee:
                ticket.assignee = assignee
            status_from = ticket.status
            ticket.status = worked_on(status_from)
            self.event(session, ticket, "escalated", actor, level_from=previous, level_to=level,
                        note=note, assignee=ticket.assignee, notify=list(levels[level].owners))
            return ticket

    def add_note(self, key: str, *, actor: str, text: str, external_id: str | None = None) -> Message:
        """Store an internal note (never sent to the customer). `external_id` (e.g. the Slack
        message it was typed as) makes a redelivery return the stored note instead of a copy."""
        try:
            with self.changing(key) as (session, ticket):
                if not text.strip():
                    raise EmptyText(key=ticket.key, what="note")
                note = Message(ticket_id=ticket.id, direction="note", source=ticket.source,
                               account=ticket.account, author_id=actor, text=text, created_at=self.clock(),
                               external_id=external_id)
                session.add(note)
                session.flush()
                self.event(session, ticket, "note_added", actor, message_id=note.id)
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
        """Record an agent's reply and queue it to the network (see ReplyService.reply)."""
        return self.replies.reply(key, actor=actor, text=text, idempotency_key=idempotency_key)

    def reply_delivered(self, session: Session, item: OutboxItem) -> None:
        """Outbox done hook for `reply` (see ReplyService.delivered)."""
        self.replies.delivered(session, item)

    def reply_failed(self, session: Session, item: OutboxItem) -> None:
        """Outbox dead hook for `reply` (see ReplyService.failed)."""
        self.replies.failed(session, item)

    def retry_reply(self, key: str, *, actor: str, message_id: int) -> Message:
        """Queue a failed agent reply again (see ReplyService.retry)."""
        return self.replies.retry(key, actor=actor, message_id=message_id)

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
        with self.changing(key) as (session, ticket):
            self.move(session, ticket, actor=actor, allowed=allowed, to=to, kind=kind, action=action, **payload)
            return ticket

    def move(self, session: Session, ticket: Ticket, *, actor: str, allowed: tuple[str, ...], to: str, kind: str,
             action: str, **payload: Any) -> None:
        """Move a locked ticket's status in the caller's transaction: the timestamps and reopen
        count, the SLA deadlines and the event, the same for people and services (a tracker
        closing an issue)."""
        previous = ticket.status
        ticket.status = moved(ticket.key, previous, allowed=allowed, to=to, action=action)
        now = self.clock()
        for name, value in status_fields(previous, to, now, ticket.reopened_count).items():
            setattr(ticket, name, value)
        if to == "resolved":
            close_incidents(session, ticket_id=ticket.id, now=now)
        self.deadlines.moved(session, ticket, previous, to, now)
        self.event(session, ticket, kind, actor, status_from=previous, status_to=to, **payload)

    def record_rating(self, key: str, *, score: int, actor: str) -> Ticket:
        """Store the customer's rating of a ticket (the latest one wins)."""
        if not 1 <= score <= 5:
            raise InvalidValue(value=str(score), field="rating", choices="1-5")
        with self.changing(key) as (session, ticket):
            ticket.csat_score = score
            ticket.csat_rated_at = self.clock()
            self.event(session, ticket, "csat_rated", actor, score=score)
            return ticket

    def set_customer_tier(self, key: str, *, actor: str, tier: str) -> Ticket:
        """Change the tier of the ticket's customer; every open ticket of theirs is re-priced."""
        return self.deadlines.set_customer_tier(key, actor=actor, tier=tier)

    def auto_resolve_pass(self, now: datetime | None = None, *, limit: int = 100) -> list[str]:
        """Resolve tickets pending longer than rules.yaml `sla.auto_resolve_pending`; their keys.
        Each resolves in its own transaction, locked like a person's resolve, so a customer
        writing meanwhile wins (the ticket is no longer pending)."""
        ids, days = self.deadlines.pending_too_long(now or self.clock(), limit=limit)
        done = []
        for ticket_id in ids:
            try:
                self._move(f"T-{ticket_id}", actor=AUTO_RESOLVE_ACTOR, allowed=("pending",), to="resolved",
                           kind="resolved", action="resolved", auto_resolved_after_days=days)
            except InvalidTransition:  # the customer answered in between: it is open again
                continue
            done.append(f"T-{ticket_id}")
        return done

    # -- delegated to the services ----------------------------------------------------------

    def ingest(self, message: InboundMessage) -> IngestResult:
        """Store one inbound message and open, continue or reopen its ticket."""
        return self.inbound.ingest(message)

    def ingest_many(self, messages: Sequence[InboundMessage]) -> list[IngestResult | Exception]:
        """Group commit of several inbound messages (see IngestService.ingest_many)."""
        return self.inbound.ingest_many(messages)

    def sla_pass(self, now: datetime | None = None, **options: Any) -> list[tuple[str, str, str]]:
        """The scheduler's SLA pass: every warning and breach due by `now`."""
        return self.deadlines.sla_pass(now, **options)

    def sla_columns(self, priority: str, tier: str, start: datetime) -> dict[str, datetime]:
        """Deadline columns of a new ticket."""
        return self.deadlines.columns(priority, tier, start)

    def page_pass(self, now: datetime | None = None, **options: Any) -> list[tuple[str, str, str]]:
        """The scheduler's paging pass: every page notification due by `now`."""
        return self.paging.page_pass(now, **options)

    def acknowledge_page(self, ref: str, *, actor: str) -> list[Page]:
        """Acknowledge a page (`P-7`) or every open page of a ticket (`T-12`)."""
        return self.paging.acknowledge_page(ref, actor=actor)

    def resolve_page(self, ref: str, *, actor: str) -> list[Page]:
        """Resolve a page or every open page of a ticket."""
        return self.paging.resolve_page(ref, actor=actor)

    def add_override(self, **cover: Any):
        """`user` covers `schedule` from `start` until `end` (see PagingService.add_override)."""
        return self.paging.add_override(**cover)

    def who(self, session: Session, schedule: str, at: datetime):
        """Who holds `schedule` now and who is next."""
        return self.paging.who(session, schedule, at)

    def overrides(self, session: Session, schedule: str, at: datetime):
        """Overrides set for `schedule` that have not ended."""
        return self.paging.overrides(session, schedule, at)

    def pages(self, session: Session, **options: Any) -> list[Page]:
        """Pages, newest first."""
        return self.paging.pages(session, **options)

    def scheduler_failed(self, conn, pass_name: str, item: str, exc: BaseException, now: datetime) -> None:
        """Record that `item` of a scheduler pass raised (counted, announced once)."""
        self.paging.scheduler_failed(conn, pass_name, item, exc, now)

    def flood_prune(self, conn, now: datetime) -> None:
        """Forget flood counts and hits older than the window."""
        self.flood.prune(conn, now)

    def request_issue(self, key: str, *, actor: str, tracker: str, summary: str,
                      available: tuple[str, ...]) -> int:
        """Ask for a tracker issue of the ticket (see IssueService.request)."""
        return self.issues.request(key, actor=actor, tracker=tracker, summary=summary, available=available)

    def issue_created(self, session: Session, item: OutboxItem) -> None:
        """Outbox done hook for `create_issue` (see IssueService.created)."""
        self.issues.created(session, item)

    def issue_failed(self, session: Session, item: OutboxItem) -> None:
        """Outbox dead hook for `create_issue` (see IssueService.failed)."""
        self.issues.failed(session, item)

    def issue_closed(self, tracker: str, issue: str, *, status: str, by: str | None = None) -> str:
        """A tracker's webhook closed a linked issue (see IssueService.closed)."""
        return self.issues.closed(tracker, issue, status=status, by=by)

    def issue_reopened(self, tracker: str, issue: str, *, status: str, by: str | None = None) -> str:
        """A tracker's webhook reopened a linked issue (see IssueService.reopened)."""
        return self.issues.reopened(tracker, issue, status=status, by=by)

    def moderate(self, key: str, *, actor: str, action: str) -> int:
        """Hide, unhide or delete the ticket's comment, or block its author (see ModerationService.request)."""
        return self.moderation.request(key, actor=actor, action=action)

    def moderated(self, session: Session, item: OutboxItem) -> None:
        """Outbox done hook for `moderate` (see ModerationService.done)."""
        self.moderation.done(session, item)

    def moderation_failed(self, session: Session, item: OutboxItem) -> None:
        """Outbox dead hook for `moderate` (see ModerationService.failed)."""
        self.moderation.failed(session, item)

    @staticmethod
    def _check_choice(field: str, value: str, choices: dict) -> None:
        if value not in choices:
            raise InvalidValue(value=value, field=field, choices=", ".join(choices))

    def assignment_pass(self, now: datetime | None = None, **options: Any) -> list[tuple[str, str]]:
        """The scheduler's assignment pass (see AssignmentService.assignment_pass)."""
        return self.assignment.assignment_pass(now, **options)

    def assign_auto(self, key: str, *, actor: str) -> str:
        """`assign T-12 auto`: assign by the channel's rule now; the assignee (see AssignmentService.pick_for)."""
        return self.assignment.pick_for(key, actor=actor)

    def _assignment_failed(self, item: str, exc: BaseException, now: datetime) -> None:
        with self.session_factory.kw["bind"].begin() as conn:
            self.scheduler_failed(conn, "assignment", item, exc, now)
