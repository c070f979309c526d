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

    `deadline` is `first_response` until the first answer, then `resolution` (None when the
    ticket has no stored deadline); `warn_at`/`due_at` are that deadline's stored moments.
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


def sla_state(ticket, now: datetime) -> SlaState:
    """The SLA state of `ticket` (a Ticket row or any object with its column names) at `now`:
    `met` once resolved on time, `paused` while pending on the resolution clock, else `breached`
    past the stored deadline, `warning` past the stored warning moment, `ok` before it."""
    answered = _get(ticket, "first_response_at") is not None
    if not answered and _get(ticket, "first_response_due_at") is not None:
        deadline = "first_response"
    elif _get(ticket, "resolution_due_at") is not None:
        deadline = "resolution"
    else:
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
