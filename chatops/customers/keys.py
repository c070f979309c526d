"""Customers named `network:handle` (or `network:user-id`) where people type them: the CLI."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from chatops.errors import DomainError
from chatops.tickets.models import Customer


class CustomerKeyInvalid(DomainError):
    """A customer key without its network part."""

    key = "customers.error.bad_key"


class CustomerNotFound(DomainError):
    """No customer answers to this key."""

    key = "customers.error.not_found"


class CustomerAmbiguous(DomainError):
    """Several customers answer to this key."""

    key = "customers.error.ambiguous"


def key_of(customer: Customer) -> str:
    """How the CLI names a customer: `network:@handle`, else `network:user-id`."""
    return f"{customer.source}:{customer.handle or customer.external_user_id}"


def id_key(customer: Customer) -> str:
    """The key that names exactly one customer: `network:user-id` (unique per network)."""
    return f"{customer.source}:{customer.external_user_id}"


def resolve(session: Session, key: str) -> Customer:
    """The one customer `key` names: its network's user id first (unique), else its handle with
    or without `@`, case-insensitively, else its display name; `#12` is record 12.
    CustomerNotFound / CustomerAmbiguous name the key."""
    if key.startswith("#") and key[1:].isdigit():  # a record's number, as Slack's buttons carry it
        found = session.get(Customer, int(key[1:]))
        if found is None:
            raise CustomerNotFound(key=key)
        return found
    network, _, who = key.strip().partition(":")
    if not network or not who:
        raise CustomerKeyInvalid(key=key)
    by_id = session.scalar(select(Customer).where(Customer.source == network, Customer.external_user_id == who))
    if by_id is not None:
        return by_id
    bare = who.removeprefix("@")
    spellings = {bare.lower(), f"@{bare.lower()}"}
    found = session.scalars(select(Customer).where(Customer.source == network, or_(
        func.lower(Customer.handle).in_(spellings), Customer.name == who)).order_by(Customer.id)).all()
    found = [c for c in found if (c.handle or "").removeprefix("@").casefold() == bare.casefold() or c.name == who]
    if not found:
        raise CustomerNotFound(key=key)
    if len(found) > 1:
        raise CustomerAmbiguous(key=key, matches=", ".join(id_key(c) for c in found))
    return found[0]


def group_of(session: Session, customer: Customer) -> list[Customer]:
    """Every record of the same person: the root (`linked_to_id` NULL) and the records linked
    to it, root first. Links are one level deep: linking re-points a whole group at one root."""
    root_id = customer.linked_to_id or customer.id
    members = session.scalars(select(Customer).where(
        (Customer.id == root_id) | (Customer.linked_to_id == root_id)).order_by(Customer.id)).all()
    return sorted(members, key=lambda c: (c.id != root_id, c.id))


def group_ids(session: Session, customer: Customer) -> list[int]:
    """Ids of `group_of(customer)`."""
    return [member.id for member in group_of(session, customer)]
