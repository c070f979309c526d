"""Ingest's link suggestion: a projector that, when a ticket is created, looks for the same
handle or e-mail address on the other networks and records a `link_suggested` event on the new
ticket (its thread line carries a Link button on Slack). Outside ingest's own code, through
the Recorder, so ingest stays as it is.
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import and_, false, or_, select

from chatops.tickets.events import EventNotice
from chatops.tickets.models import Customer, Message, Ticket, TicketEvent
from chatops.tickets.record import Recorder, unit

ACTOR = "chatops:customers"
KIND = "link_suggested"
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
MIN_HANDLE = 3  # shorter handles match too many strangers to be worth a suggestion


def bare_handle(handle: str | None) -> str:
    """A handle compared across networks: NFKC, no leading `@`, case-folded."""
    return unicodedata.normalize("NFKC", handle or "").strip().removeprefix("@").casefold()


def emails_in(*values: str | None) -> set[str]:
    """The e-mail addresses written in these values, lower-cased."""
    return {found.lower() for value in values if value for found in _EMAIL.findall(value)}


class LinkSuggester:
    """Projector: on `created`, the records on other networks that look like the same person."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def __call__(self, db, notice: EventNotice) -> None:
        if notice.kind != "created":
            return
        uow = unit(db)
        # One indexed read on ingest's path: the new ticket's customer and its first message's meta.
        me = uow.execute(select(Customer.id, Customer.source, Customer.handle, Customer.name, Customer.linked_to_id,
                                Message.meta)
                         .join(Ticket, Ticket.customer_id == Customer.id)
                         .outerjoin(Message, (Message.ticket_id == Ticket.id) & (Message.direction == "inbound"))
                         .where(Ticket.id == notice.ticket_id).limit(1)).first()
        if me is None:
            return
        handle = bare_handle(me.handle)
        emails = emails_in(me.handle, me.name, str((me.meta or {}).get("email") or ""))
        spellings = {handle, f"@{handle}"} if len(handle) >= MIN_HANDLE else set()
        spellings |= emails
        if not spellings:
            return
        root = me.linked_to_id or me.id
        candidates = uow.execute(select(Customer.id, Customer.handle, Customer.name).where(
            Customer.source != me.source, Customer.id != root,
            or_(Customer.linked_to_id.is_(None), Customer.linked_to_id != root),
            or_(Customer.handle.in_(spellings), Customer.name.in_(emails) if emails else false()))
            .order_by(Customer.id).limit(5)).all()
        matches = [c.id for c in candidates
                   if bare_handle(c.handle) == handle and len(handle) >= MIN_HANDLE
                   or emails & emails_in(c.handle, c.name)]
        if not matches:
            return
        already = uow.execute(select(TicketEvent.payload).join(Ticket, Ticket.id == TicketEvent.ticket_id).where(
            and_(TicketEvent.kind == KIND, Ticket.customer_id == me.id))).scalars().all()
        offered = {other for payload in already for other in (payload or {}).get("candidates", [])}
        fresh = [other for other in matches if other not in offered]
        if not fresh:  # suggested once per pair: a declined suggestion is not repeated on every ticket
            return
        self.recorder.record(uow, ticket_id=notice.ticket_id, kind=KIND, actor=ACTOR, at=notice.at,
                             channel=notice.channel, assignee=notice.assignee,
                             payload={"customer_id": me.id, "candidates": fresh})
