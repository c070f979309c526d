"""Amend: a customer edited or deleted a message we stored (InboundMessage.action `edit` /
`delete`).

The stored message takes the new text and media (its earlier text and media go into the
`message_edited` event's payload, the message's history) or is marked deleted; the ticket keeps
its status, and the event gives Slack and Teams their thread line through their planners. An
edit's new words may raise the ticket's priority and add tags, as a follow-up's do
(chatops.tickets.followup).
Idempotent: a redelivered edit whose text and media are already stored, or a deletion of a
message already marked deleted, is a duplicate.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import bindparam, select, update

from chatops.inbound import InboundMessage
from chatops.tickets.followup import Followups
from chatops.tickets.models import Message, Ticket
from chatops.tickets.record import Recorder, UnitOfWork

# What amend did: (ingest outcome, ticket id, message id); None when nothing is stored to amend.
Amended = tuple[str, int | None, int | None]
EDITED_EVENT = "message_edited"
DELETED_EVENT = "message_deleted"


def attachment_rows(message: InboundMessage) -> list[dict] | None:
    """The message's attachments as the `messages.attachments` column stores them (None: none)."""
    return [item.model_dump(exclude_none=True) for item in message.attachments] or None


class AmendService:
    """Edits and deletions of stored inbound messages, written through `recorder`."""

    def __init__(self, recorder: Recorder, clock: Callable[[], datetime], followups: Followups | None = None) -> None:
        self.recorder = recorder
        self.clock = clock
        self.followups = followups

    def apply(self, uow: UnitOfWork, message: InboundMessage) -> Amended | None:
        """In the caller's transaction: amend the stored message `message.target`. None when no
        such message is stored (an edit of one we never saw is then ingested as a new message)."""
        row = uow.execute(_STORED, {"source": message.source, "external_id": message.target}).first()
        if row is None:
            return None if message.action == "edit" else ("ignored", None, None)
        now = self.clock()
        if message.action == "delete":
            if row.deleted_at is not None:
                return "duplicate", row.ticket_id, row.id
            uow.execute(_UPDATE, {"mid": row.id, "deleted_at": now})
            payload = {"message_id": row.id, "text": row.text}
            kind, outcome = DELETED_EVENT, "deleted"
        else:
            # An edit that names no media changes the text only (Messenger's `message_edit` carries none).
            media = attachment_rows(message) or row.attachments or None
            if row.deleted_at is not None or (row.text == message.text and (row.attachments or None) == media):
                return "duplicate", row.ticket_id, row.id
            uow.execute(_UPDATE, {"mid": row.id, "text": message.text, "attachments": media, "edited_at": now})
            payload = {"message_id": row.id, "text_from": row.text, "text_to": message.text,
                       **({"attachments_from": row.attachments} if (row.attachments or None) != media else {})}
            kind, outcome = EDITED_EVENT, "edited"
        if row.ticket_id is None:  # a blocked customer's message: stored, no ticket to tell
            return "stored", None, row.id
        ticket = uow.execute(_TICKET, {"tid": row.ticket_id}).one()
        if kind == EDITED_EVENT and self.followups is not None:
            self.followups.edited(uow, row.ticket_id, ticket, message, payload, now)
        self.recorder.record(uow, ticket_id=row.ticket_id, kind=kind, actor=f"customer:{ticket.customer_id}",
                             at=now, channel=ticket.channel, assignee=ticket.assignee, payload=payload)
        return outcome, row.ticket_id, row.id


_STORED = select(Message.id, Message.ticket_id, Message.text, Message.attachments, Message.deleted_at).where(
    Message.direction == "inbound", Message.source == bindparam("source"),
    Message.external_id == bindparam("external_id"))
# SET columns come from the execution parameters.
_UPDATE = update(Message).where(Message.id == bindparam("mid"))
_TICKET = select(Ticket.channel, Ticket.assignee, Ticket.customer_id, Ticket.status, Ticket.priority).where(
    Ticket.id == bindparam("tid")).with_for_update()
