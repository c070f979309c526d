"""One SLA truth for every surface: which deadline is live and how it stands, read only from the
moments stored on the ticket (tickets.*_warn_at / *_due_at, priced by chatops.sla.clock).

The scheduler warns at the stored warning moment; cards, App Home, Teams, the CLI and stats call
this function so they say "warning" at exactly that moment too, never at a recomputed fraction of
wall-clock time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

STATES = ("ok", "warning", "breached", "paused", "met")


@dataclass(frozen=True)
class SlaState:
    """How a ticket's SLA stands at one moment.

    `deadline` is `first_response` until the first answer, then `next_response` while the
    customer waits on a next reply that is due before the resolution, else `resolution` (None
    when the ticket has no stored deadline); `warn_at`/`due_at` are that deadline's stored moments.
    """

    deadline: str | None
    warn_at: datetime | None
    due_at: datetime | None
    state: str

    def as_dict(self) -> dict:
        """JSON-ready form (ISO 8601 moments) for the CLI and APIs."""
        return {"deadline": self.deadline, "state": self.state,
                "warn_at": self.warn_at.isoformat() if self.warn_at else None,
                "due_at": self.due_at.isoformat() if self.due_at else None}


def _get(ticket, name: str):
    return getattr(ticket, name, None)


def live_deadline(ticket) -> str | None:
    """Which stored deadline is live (see SlaState.deadline); None when there is none."""
    if _get(ticket, "first_response_at") is None and _get(ticket, "first_response_due_at") is not None:
        return "first_response"
    resolution, next_due = _get(ticket, "resolution_due_at"), _get(ticket, "next_response_due_at")
    if next_due is not None and _get(ticket, "status") not in ("pending", "resolved") and (
            resolution is None or next_due < resolution):
        return "next_response"
    return "resolution" if resolution is not None else None


def sla_state(ticket, now: datetime) -> SlaState:
    """The SLA state of `ticket` (a Ticket row or any object with its column names) at `now`:
    `met` once resolved on time, `paused` while pending on the resolution clock, else `breached`
    past the stored deadline, `warning` past the stored warning moment, `ok` before it."""
    deadline = live_deadline(ticket)
    if deadline is None:
        return SlaState(None, None, None, "met" if _get(ticket, "status") == "resolved" else "ok")
    warn_at = _get(ticket, f"{deadline}_warn_at")
    due_at = _get(ticket, f"{deadline}_due_at")
    status = _get(ticket, "status")
    if status == "resolved":
        resolved_at = _get(ticket, "resolved_at")
        late = resolved_at is not None and _get(ticket, "resolution_due_at") is not None \
            and resolved_at > ticket.resolution_due_at
        return SlaState("resolution", _get(ticket, "resolution_warn_at"), _get(ticket, "resolution_due_at"),
                        "breached" if late else "met")
    if deadline == "resolution" and status == "pending":
        return SlaState(deadline, warn_at, due_at, "paused")
    if now >= due_at:
        state = "breached"
    elif warn_at is not None and now >= warn_at:
        state = "warning"
    else:
        state = "ok"
    return SlaState(deadline, warn_at, due_at, state)


# The SQL form of "breached now" for open tickets, split by which deadline is live so each part
# reads its own partial index (tickets.models: ix_tickets_overdue_fr / _next / _res).
# The status terms are literal SQL, identical to the indexes' WHERE, because SQLite only uses a
# partial index whose WHERE terms appear verbatim (not as bound parameters) in the query.
OPEN_UNANSWERED_SQL = "status <> 'resolved' AND first_response_at IS NULL"
RUNNING_SQL = "status NOT IN ('resolved', 'pending')"
_OPEN_UNANSWERED_Q = "tickets.status <> 'resolved' AND tickets.first_response_at IS NULL"
_RUNNING_Q = "tickets.status NOT IN ('resolved', 'pending')"


def overdue_first_response_clause(now: datetime):
    """Open, unanswered tickets past their stored first-response deadline (sla_state: breached
    on the first_response deadline; pending does not pause it)."""
    from sqlalchemy import text

    from chatops.tickets.models import Ticket

    return text(_OPEN_UNANSWERED_Q) & (Ticket.first_response_due_at <= now)


def overdue_resolution_clause(now: datetime):
    """Tickets whose live deadline is resolution (answered, or no first-response deadline),
    not pending (its clock is paused) and past the stored resolution deadline."""
    from sqlalchemy import text

    from chatops.tickets.models import Ticket

    return text(_RUNNING_Q) & (Ticket.resolution_due_at <= now) & (
        Ticket.first_response_at.is_not(None) | Ticket.first_response_due_at.is_(None))


def overdue_next_response_clause(now: datetime):
    """Answered, running tickets past a next-reply deadline (one is stored only while the
    customer waits on it; pending ignores it)."""
    from sqlalchemy import text

    from chatops.tickets.models import Ticket

    return text(_RUNNING_Q) & (Ticket.next_response_due_at <= now) & Ticket.first_response_at.is_not(None)


def overdue_clause(now: datetime):
    """SQL truth of "past a live deadline" for a ticket not yet resolved: the one overdue
    definition shared by App Home, lists and stats. Exactly `sla_state(...).state == "breached"`:
    of next reply and resolution the earlier is live, so "either is past" is "the live one is past"."""
    return overdue_first_response_clause(now) | overdue_next_response_clause(now) | overdue_resolution_clause(now)
