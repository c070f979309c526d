"""Customer flags (vip, troll, blocked), set by agents from a ticket.

A flag change is a `customer_flagged` TicketEvent on the ticket it was made from, so surfaces
redraw the ticket (its card shows the flags) and the audit trail says who did it. A blocked
customer's later messages are still stored (ingest), but open no ticket. Linked records (the
same person on other networks, chatops.customers) share their flags: a flag is set on all of them.
"""

from __future__ import annotations

from chatops.customers.keys import group_of
from chatops.errors import InvalidValue
from chatops.tickets.flows import TicketFlows
from chatops.tickets.models import CUSTOMER_FLAGS, Customer


def flag_customer(flows: TicketFlows, key: str, *, actor: str, flag: str, on: bool = True) -> Customer:
    """Set (`on`) or clear one flag on the customer of ticket `key`; no event when nothing changes."""
    if flag not in CUSTOMER_FLAGS:
        raise InvalidValue(value=flag, field="flag", choices=", ".join(CUSTOMER_FLAGS))
    with flows.changing(key) as (session, ticket):
        customer = ticket.customer
        flags = set(customer.flags or ())
        if (flag in flags) == on:
            return customer
        for member in group_of(session, customer):
            mine = set(member.flags or ())
            member.flags = sorted(mine | {flag}) if on else sorted(mine - {flag})
        flows.event(session, ticket, "customer_flagged", actor, flag=flag, on=on, customer_id=customer.id)
        return customer
