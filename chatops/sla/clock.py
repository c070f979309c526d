"""Deadlines of a ticket from its priority and customer tier, and the next moment the SLA
scheduler has something to say about it.

Six moments per ticket: first-response, next-reply and resolution, each a warning and a
deadline. The warning comes when `warn_at` of the allowed (business) time is used. The
scheduler only reads `sla_next_at` (indexed), so one pass costs what is due, not what is open.

`SlaClock.reprice` is the one place deadlines change after a ticket opens: every surface (a
person's action through the ORM, ingest and flood through Core) calls it, so a reopen, a
priority raise, a tier change or a resume gives the same deadlines whichever caused it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chatops.rules import Rules
from chatops.sla.calendar import AlwaysOpen, BusinessCalendar, Calendar

SLOTS = ("first_response_warn_at", "first_response_due_at", "next_response_warn_at", "next_response_due_at",
         "resolution_warn_at", "resolution_due_at")
NEXT_SLOTS = ("next_response_warn_at", "next_response_due_at")
# Why deadlines change, applied in this order when one change has several (a customer answering a
# pending ticket with "also, I was charged twice" is priced, resumed and customer_wrote at once).
REASONS = ("priced", "reopened", "paused", "resumed", "customer_wrote", "answered", "resolved")


@dataclass(frozen=True)
class Deadlines:
    """The SLA moments a ticket gets when it opens (UTC); the next-reply ones come later."""

    first_response_warn_at: datetime
    first_response_due_at: datetime
    resolution_warn_at: datetime
    resolution_due_at: datetime

    def as_dict(self) -> dict[str, datetime]:
        """Column name → value, ready for an INSERT or UPDATE of tickets."""
        return {slot: getattr(self, slot) for slot in SLOTS if slot not in NEXT_SLOTS}


class SlaClock:
    """SLA arithmetic over rules.yaml `sla` and `business_hours`."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.business = BusinessCalendar(rules.business_hours)
        self.always = AlwaysOpen()

    def calendar(self, priority: str, tier: str) -> Calendar:
        """The calendar the policy of (priority, tier) counts in."""
        policy = self.rules.sla.policy_for(priority, tier)
        return self.always if policy.calendar == "24x7" else self.business

    def deadlines(self, priority: str, tier: str, start: datetime) -> Deadlines:
        """Warnings and deadlines of a ticket opened at `start`."""
        policy = self.rules.sla.policy_for(priority, tier)
        calendar = self.always if policy.calendar == "24x7" else self.business
        warn = self.rules.sla.warn_at
        moments = calendar.add_all(start, [policy.first_response * warn, policy.first_response,
                                           policy.resolution * warn, policy.resolution])
        return Deadlines(*moments)

    def next_response(self, priority: str, tier: str, start: datetime) -> dict[str, datetime]:
        """Next-reply warning and deadline of a customer message that arrived at `start`."""
        policy = self.rules.sla.policy_for(priority, tier)
        calendar = self.always if policy.calendar == "24x7" else self.business
        allowed = policy.next_response or policy.first_response
        warn, due = calendar.add_all(start, [allowed * self.rules.sla.warn_at, allowed])
        return {"next_response_warn_at": warn, "next_response_due_at": due}

    @staticmethod
    def live(slot: str, *, answered: bool, paused: bool) -> bool:
        """Whether the scheduler acts on `slot`: first response until answered; next reply and
        resolution unless pending (the customer owes the answer)."""
        if slot.startswith("first"):
            return not answered
        return not paused

    @staticmethod
    def next_at(moments: dict[str, datetime | None], *, answered: bool, paused: bool,
                after: datetime | None) -> datetime | None:
        """The earliest live moment (see `live`) later than `after` (already handled up to there)."""
        values = [moments.get(slot) for slot in SLOTS if SlaClock.live(slot, answered=answered, paused=paused)]
        later = [value for value in values if value is not None and (after is None or value > after)]
        return min(later) if later else None

    def reprice(self, moments: dict[str, datetime | None], *, priority: str, tier: str, created_at: datetime,
                status: str, paused_at: datetime | None, answered: bool, now: datetime,
                reason: str | tuple[str, ...]) -> dict[str, datetime | None]:
        """The column changes (SLOTS, `sla_paused_at`, always `sla_next_at`) when a ticket's
        deadlines move for `reason` (one of REASONS or several, applied in REASONS order).

        `moments` holds the stored SLOTS and `sla_next_at`; `priority`/`tier` are the ticket's
        after the change, `status` its status after the change, `paused_at` the stored pause start.

        - priced: priority or tier changed: first response and resolution from the ticket's start
          (a pending ticket's resolution keeps its pause); a running next reply gets the new
          terms from now but never more time than it had.
        - reopened: a resolved ticket is open again: the full resolution time from now.
        - paused: pending from now; the customer owes the answer, so no next reply is owed.
        - resumed: back from pending: resolution pushed back by the open time spent pending.
        - customer_wrote: the customer wrote on an answered ticket not already waiting on a
          next reply: a next-reply deadline from now.
        - answered: an agent's reply reached the customer: no next reply owed.
        - resolved: nothing owed any more.

        `sla_next_at` is the earliest live moment that is still owed: later than now, not yet
        reached by the scheduler (at or after the stored `sla_next_at`), or moved by this change
        (a moment moved into the past fires at the next pass)."""
        reasons = (reason,) if isinstance(reason, str) else tuple(reason)
        unknown = set(reasons) - set(REASONS)
        if unknown:
            raise ValueError(f"unknown re-pricing reason(s): {sorted(unknown)}")
        old = {slot: moments.get(slot) for slot in SLOTS}
        new = dict(old)
        extra: dict[str, datetime | None] = {}
        if "priced" in reasons:
            new.update(self.deadlines(priority, tier, created_at).as_dict())
            if status == "pending" and paused_at is not None:
                new.update(self.resumed(new, priority, tier, paused_at, paused_at))
            if new["next_response_due_at"] is not None:
                fresh = self.next_response(priority, tier, now)
                if fresh["next_response_due_at"] < new["next_response_due_at"]:
                    new.update(fresh)
        if "reopened" in reasons:
            new.update(self.reopened(priority, tier, now))
        if "paused" in reasons:
            extra["sla_paused_at"] = now
            new.update(dict.fromkeys(NEXT_SLOTS))
        if "resumed" in reasons and paused_at is not None:
            new.update(self.resumed(new, priority, tier, paused_at, now))
            extra["sla_paused_at"] = None
        if "customer_wrote" in reasons and answered and new["next_response_due_at"] is None \
                and status not in ("pending", "resolved"):
            new.update(self.next_response(priority, tier, now))
        if "answered" in reasons or "resolved" in reasons:
            new.update(dict.fromkeys(NEXT_SLOTS))
        changes: dict[str, datetime | None] = {slot: value for slot, value in new.items() if value != old[slot]}
        changes.update(extra)
        if status == "resolved":
            changes["sla_next_at"] = None
            return changes
        since = moments.get("sla_next_at")
        paused = status == "pending"
        owed = [value for slot, value in new.items()
                if value is not None and self.live(slot, answered=answered, paused=paused)
                and (value > now or slot in changes or (since is not None and value >= since))]
        changes["sla_next_at"] = min(owed) if owed else None
        return changes

    def reopened(self, priority: str, tier: str, at: datetime) -> dict[str, datetime]:
        """A reopened ticket's new resolution moments: the full resolution time again from the
        moment it reopened (the old ones passed long ago; the first response keeps its own)."""
        fresh = self.deadlines(priority, tier, at)
        return {"resolution_warn_at": fresh.resolution_warn_at, "resolution_due_at": fresh.resolution_due_at}

    def resumed(self, moments: dict[str, datetime | None], priority: str, tier: str, paused_at: datetime,
                now: datetime) -> dict[str, datetime]:
        """Resolution moments pushed back by the open time spent pending (paused_at → now)."""
        calendar = self.calendar(priority, tier)
        out = {}
        for slot in ("resolution_warn_at", "resolution_due_at"):
            value = moments.get(slot)
            if value is None or value <= paused_at:  # passed before the pause: already handled
                if value is not None:
                    out[slot] = value
                continue
            left = calendar.between(paused_at, value) if value > paused_at else timedelta(0)
            out[slot] = calendar.add(now, left) if left else max(value, now)
        return out
