"""Replies to customers: an agent's reply queued, its delivery accepted (sent) or refused for
good (failed), and a failed one retried. What leaves goes through `delivery.queue_reply`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from chatops.errors import EmptyText, InvalidTransition, ReplyNotFailed, ReplySuperseded
from chatops.sla.service import SlaService
from chatops.tickets import service
from chatops.tickets.delivery import (
    FAILED_EVENT,
    ReplyTo,
    queue_reply,
    reply_kind,
    reply_payload,
    requeue_reply,
)
from chatops.tickets.flood import has_open_incident
from chatops.tickets.limits import check_reply_length
from chatops.tickets.models import Message, OutboxItem, Ticket, TicketEvent
from chatops.tickets.record import Recorder
from chatops.tickets.service import locked_ticket
from chatops.tickets.transitions import worked_on


def _failed_before(session: Session, message: Message) -> bool:
    """Whether a reply on this ticket failed before `message` was delivered (this one, retried,
    or an earlier one): App Home lists those until a reply gets through."""
    if session.scalar(select(TicketEvent.id).where(
            TicketEvent.ticket_id == message.ticket_id, TicketEvent.kind == "reply_retried").limit(1)):
        return True
    return session.scalar(select(Message.id).where(
        Message.ticket_id == message.ticket_id, Message.delivery_state == "failed", Message.id < message.id)
        .limit(1)) is not None


class ReplyService:
    """Agents' replies and their delivery outcomes, with the SLA consequences (`deadlines`)."""

    def __init__(self, session_factory: sessionmaker[Session], recorder: Recorder, deadlines: SlaService,
                 clock: Callable[[], datetime]) -> None:
        self.session_factory = session_factory
        self.recorder = recorder
        self.deadlines = deadlines
        self.clock = clock

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
        with locked_ticket(self.session_factory, key) as (session, ticket):
            if not text.strip():
                raise EmptyText(key=ticket.key, what="reply")
            if ticket.status == "resolved":
                raise InvalidTransition(key=ticket.key, status=ticket.status, action="replied to")
            now = self.clock()
            # On a flood incident the reply answers the ticket's own customer, not whoever wrote last.
            last_inbound = service.last_inbound(session, ticket_id=ticket.id, customer_id=ticket.customer_id
                                                if has_open_incident(session, ticket.id) else None)
            check_reply_length(ticket.source, text, key=ticket.key, kind=last_inbound.kind if last_inbound else None,
                               meta=last_inbound.meta if last_inbound else None)
            status_from = ticket.status
            ticket.status = worked_on(status_from)
            session.flush()
            message_id = queue_reply(
                session, ticket_id=ticket.id, source=ticket.source, account=ticket.account, text=text,
                author_id=actor, at=now, reply_to=ReplyTo.of(last_inbound),
                # The outbox's unique dedupe key then refuses a second submission of the same reply.
                dedupe_key=f"reply:{idempotency_key}" if idempotency_key else None)
            reply = session.get(Message, message_id)
            # First response is counted when the network accepts a reply (reply_delivered), not here.
            self.recorder.record_ticket(session, ticket, "replied", actor, now, message_id=message_id,
                                        status_from=status_from, status_to=ticket.status)
            return reply

    def delivered(self, session: Session, item: OutboxItem) -> None:
        """Outbox done hook for `reply`: the network accepted it — sent; an agent's first
        delivered reply is the ticket's first response, timed now."""
        service.record_reply_delivered(session, item)
        message = session.get(Message, item.payload["message_id"])
        if message is None or message.ticket_id is None:
            return
        message.delivery_state, message.delivery_error = "sent", None
        ticket = session.get(Ticket, message.ticket_id, with_for_update=True)
        now, agent = self.clock(), reply_kind(message) == "reply"
        first = agent and ticket.first_response_at is None
        if first:
            ticket.first_response_at = now
        flags = {"first_response": first, "after_failure": agent and _failed_before(session, message)}
        self.recorder.record_ticket(session, ticket, "reply_sent", message.author_id or "system", now,
                                    message_id=message.id, **{name: True for name, on in flags.items() if on})
        if agent:  # an agent's answer: the customer's turn now
            self.deadlines.next_reply_answered(ticket, now)
            self.deadlines.pending_after_delivery(session, ticket, now)

    def failed(self, session: Session, item: OutboxItem) -> None:
        """Outbox dead hook for `reply`: the network refused it for good — failed, with the reason.
        Nothing was counted as answered (that waits for acceptance), so the deadlines keep running."""
        message = session.get(Message, item.payload["message_id"])
        if message is None or message.ticket_id is None:
            return
        reason = (item.last_error or "")[:300]
        message.delivery_state, message.delivery_error = "failed", reason
        ticket = session.get(Ticket, message.ticket_id)
        self.recorder.record_ticket(session, ticket, FAILED_EVENT[reply_kind(message)], message.author_id or "system",
                                    self.clock(), message_id=message.id, reason=reason, network=ticket.source)

    def retry(self, key: str, *, actor: str, message_id: int) -> Message:
        """Queue a failed agent reply again, same text, as a new attempt (a new outbox item).
        Refused when the ticket is resolved or the reply is not failed (sent, or already being
        sent again: a double click queues once)."""
        with locked_ticket(self.session_factory, key) as (session, ticket):
            message = session.get(Message, message_id)
            if message is None or message.ticket_id != ticket.id or reply_kind(message) != "reply":
                raise ReplyNotFailed(key=ticket.key)
            if ticket.status == "resolved":
                raise InvalidTransition(key=ticket.key, status=ticket.status, action="replied to")
            if message.delivery_state != "failed":
                raise ReplyNotFailed(key=ticket.key)
            later = session.scalar(select(Message.id).where(
                Message.ticket_id == ticket.id, Message.direction == "outbound", Message.id > message.id,
                Message.delivery_state.in_(("queued", "sent")),
                ~Message.author_id.startswith("chatops")).limit(1))  # chatops' own: auto-replies, CSAT requests
            if later is not None:
                raise ReplySuperseded(key=ticket.key)
            earlier = [item for item in session.scalars(select(OutboxItem).where(
                OutboxItem.ticket_id == ticket.id, OutboxItem.kind == "reply").order_by(OutboxItem.id))
                if (item.payload or {}).get("message_id") == message.id]
            attempt = sum(1 for item in earlier if ":retry:" in item.dedupe_key) + 1
            now = self.clock()
            message.delivery_state, message.delivery_error = "queued", None
            requeue_reply(session, message=message, ticket=ticket, at=now,
                          dedupe_key=f"reply:{message.id}:retry:{attempt}",
                          payload=dict(earlier[-1].payload) if earlier else reply_payload(
                              message.id, ticket.account, message.text,
                              ReplyTo(message.in_reply_to, message.conversation_id)))
            self.recorder.record_ticket(session, ticket, "reply_retried", actor, now, message_id=message.id,
                                        attempt=attempt)
            return message
