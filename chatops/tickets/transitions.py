"""Pure transitions of a ticket's status, priority and level, shared by ingest and people's flows."""

from __future__ import annotations

from typing import Any

from chatops.errors import InvalidTransition


def worked_on(status: str) -> str:
    """The status once someone works on the ticket (claims, is assigned, escalates, replies): a
    new ticket becomes open, any other keeps its status."""
    return "open" if status == "new" else status


def customer_wrote(status: str) -> tuple[str, str]:
    """(status after, event kind) when the customer writes on a ticket: a resolved ticket reopens,
    a pending one is open again (their turn is over), others keep their status."""
    if status == "resolved":
        return "open", "reopened"
    if status == "pending":
        return "open", "customer_message"
    return status, "customer_message"


def status_fields(previous: str, to: str, now, reopened_count: int) -> dict[str, Any]:
    """The ticket fields a status move sets besides `status`: resolving stamps `resolved_at`,
    leaving resolved clears it and counts the reopen (a customer's message or a person's button)."""
    if to == "resolved" and previous != "resolved":
        return {"resolved_at": now}
    if previous == "resolved" and to != "resolved":
        return {"resolved_at": None, "reopened_count": reopened_count + 1}
    return {}


def raised(current: str, proposed: str, ranks) -> str | None:
    """`proposed` when it is more urgent than `current` (by `ranks`, rules.yaml priorities or
    levels), else None: automatic changes only ever raise."""
    return proposed if ranks[proposed].rank > ranks[current].rank else None


def moved(key: str, status: str, *, allowed: tuple[str, ...], to: str, action: str) -> str:
    """`to` when a person may move a ticket in `status` there; InvalidTransition otherwise."""
    if status not in allowed:
        raise InvalidTransition(key=key, status=status, action=action)
    return to
