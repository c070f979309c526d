"""What a customer's words change on a ticket they already have: a follow-up or an edited message
can only make it more urgent ("also, I was charged twice") and add the tags it lacked, said in the
event's payload. Ingest applies it to a follow-up (with the status move), amend to an edit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, update
from sqlalchemy.dialects import postgresql, sqlite

from chatops.inbound import InboundMessage
from chatops.rules import RulesEngine
from chatops.sla.service import SlaService
from chatops.tickets.models import Ticket, TicketTag
from chatops.tickets.record import UnitOfWork
from chatops.tickets.transitions import raised

# SET columns come from the execution parameters; the version bump keeps ORM writers honest.
UPDATE_TICKET = update(Ticket).where(Ticket.id == bindparam("tid")).values(version=Ticket.version + 1)
_ADD_TAGS: dict[str, object] = {}


def _add_tags(dialect: str):
    """INSERT ticket tags … ON CONFLICT DO NOTHING RETURNING tag (built once per dialect)."""
    if dialect not in _ADD_TAGS:
        stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(TicketTag)
        _ADD_TAGS[dialect] = stmt.on_conflict_do_nothing(index_elements=["ticket_id", "tag"]).returning(TicketTag.tag)
    return _ADD_TAGS[dialect]


class Followups:
    """A customer's further words on their ticket, triaged by `engine`, re-priced by `sla`."""

    def __init__(self, rules, engine: RulesEngine, sla: SlaService) -> None:
        self.rules = rules
        self.engine = engine
        self.sla = sla

    def changes(self, uow: UnitOfWork, ticket_id: int, priority: str, triage, payload: dict) -> dict:
        """The ticket columns `triage` raises (a higher priority), after adding the tags the ticket
        lacked; both said in `payload`."""
        changes = {}
        if raised(priority, triage.priority, self.rules.priorities):
            payload.update(priority_from=priority, priority_to=triage.priority)
            changes["priority"] = triage.priority
        if triage.tags:  # the tags the ticket lacked: the rows this insert did not find
            new_tags = sorted(uow.execute(_add_tags(uow.dialect_name), [
                {"ticket_id": ticket_id, "tag": tag} for tag in sorted(set(triage.tags))]).scalars())
            if new_tags:
                payload["tags_added"] = new_tags
        return changes

    def edited(self, uow: UnitOfWork, ticket_id: int, ticket, message: InboundMessage, payload: dict,
               now: datetime) -> None:
        """An edited message counts with its new words, on a ticket still being worked (new or
        open): a pending or resolved one is the customer's next message's to bring back."""
        if ticket.status not in ("new", "open"):
            return
        triage = self.engine.triage(text=message.text, source=message.source, kind=message.kind)
        changes = self.changes(uow, ticket_id, ticket.priority, triage, payload)
        if "priority" in changes:
            self.sla.continued(uow, ticket_id, ticket.status, changes, now, customer_wrote=False)
        if changes:
            uow.execute(UPDATE_TICKET, {"tid": ticket_id, "updated_at": now, **changes})
