"""CSAT: asking a customer to rate a resolved ticket, and recording the rating they send back.

A rating is a reply of `1`–`5` (full-width digits and ★ counts too), 👍 (counted as 5) or
👎 (counted as 1). It is stored on the ticket (`csat_score`, `csat_rated_at`) with a
`csat_rated` event; it never reopens the ticket or opens a new one.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

from chatops.errors import InvalidValue

if TYPE_CHECKING:
    from chatops.tickets.flows import TicketFlows
    from chatops.tickets.models import Ticket

_THUMBS = {"👍": 5, "👍🏻": 5, "👍🏼": 5, "👍🏽": 5, "👍🏾": 5, "👍🏿": 5, "👎": 1, "👎🏻": 1, "👎🏼": 1,
           "👎🏽": 1, "👎🏾": 1, "👎🏿": 1}


def parse_rating(text: str) -> int | None:
    """1–5 from a customer's reply, or None when the reply is not a rating."""
    clean = unicodedata.normalize("NFKC", text or "").strip().rstrip("!.。！")
    if clean in _THUMBS:
        return _THUMBS[clean]
    if clean.isdigit() and 1 <= int(clean) <= 5:
        return int(clean)
    stars = clean.replace(" ", "")
    if stars and set(stars) == {"★"} and len(stars) <= 5:
        return len(stars)
    return None


def wants_rating(flows: TicketFlows, *, source: str, tier: str) -> bool:
    """rules.yaml `stats.csat`: whether a resolved ticket from this network and tier is asked."""
    csat = flows.rules.stats.csat
    return source in csat.networks and tier in csat.tiers


def mark_requested(flows: TicketFlows, key: str, *, actor: str = "chatops") -> Ticket:
    """Record that a rating request went to the customer (once per resolution)."""
    with flows._ticket(key) as (session, ticket):
        ticket.csat_requested_at = flows.clock()
        flows._event(session, ticket, "csat_requested", actor)
        return ticket


def record_rating(flows: TicketFlows, key: str, *, score: int, actor: str) -> Ticket:
    """Store the customer's rating (the latest one wins)."""
    if not 1 <= score <= 5:
        raise InvalidValue(value=str(score), field="rating", choices="1-5")
    with flows._ticket(key) as (session, ticket):
        ticket.csat_score = score
        ticket.csat_rated_at = flows.clock()
        flows._event(session, ticket, "csat_rated", actor, score=score)
        return ticket
