"""Auto-assignment (rules.yaml `assignment:`): per channel, one of the channel's agents who is on
shift, available (presence and do-not-disturb, through a `Roster`) and under the cap takes a new
ticket, round-robin or least-loaded; an automatic assignee who has not replied within
`reassign_after` hands the ticket on. Every assignment goes through the assign flow, so the
thread line, card and event are those of a person's assignment (payload `auto`).

The core knows people only through the `Roster` protocol; Slack's is `chatops.slack.roster`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from chatops.errors import AlreadyClaimed, DomainError, InvalidTransition
from chatops.rules import Rules
from chatops.rules.schema import ChannelAssignment
from chatops.tickets import service
from chatops.tickets.models import Ticket, TicketEvent

ASSIGNMENT_ACTOR = "chatops:assignment"
_OPEN = ("new", "open", "pending")  # what counts against an agent's cap
_WAITING = ("new", "open")  # a ticket waiting on an agent (pending waits on the customer)
_HANDOVERS = ("assigned", "claimed", "released", "escalated")  # events that set who holds a ticket
_HISTORY = 200  # recent assignments read to find where a channel's rotation stands


class Roster(Protocol):
    """Who the people of rules.yaml are and whether they can take a ticket now."""

    def members(self, ref: str) -> list[str]:
        """The user ids `ref` stands for: a `@group`'s members in order, a user id itself.
        Raises when the directory cannot be read (the pass records it)."""

    def available(self, user_id: str, at: datetime) -> bool:
        """Whether the person is reachable at `at` (present, not in do-not-disturb)."""


class OpenRoster:
    """The roster without a chat directory (sandbox, Teams only): user ids stand for themselves,
    a group has no known members, and everyone listed counts as available."""

    def members(self, ref: str) -> list[str]:
        return [] if ref.startswith("@") else [ref]

    def available(self, user_id: str, at: datetime) -> bool:
        return True


class NoAssignmentRule(DomainError):
    """`assign T-12 auto` on a ticket whose channel has no `assignment:` entry."""

    key = "error.no_assignment_rule"


class NoAgentAvailable(DomainError):
    """Nobody of the channel's agents is on shift, available and under the cap."""

    key = "error.no_agent_available"


class RosterFailed(DomainError):
    """The chat directory could not say who is in the group or available (nobody was picked by a guess)."""

    key = "error.roster_failed"


def rotation(members: Sequence[str], last: str | None) -> list[str]:
    """`members` starting after `last` (the previous pick), wrapping round; as listed when
    `last` is not among them."""
    if last not in members:
        return list(members)
    start = members.index(last) + 1
    return [*members[start:], *members[:start]]


def choose(entry: ChannelAssignment, members: Sequence[str], eligible: Iterable[str],
           loads: dict[str, int], last: str | None) -> str | None:
    """The agent to assign: the next in the rotation among `eligible`, or for least-loaded the
    one holding fewest open tickets (ties go round the rotation)."""
    allowed = set(eligible)
    ranked = [person for person in rotation(members, last) if person in allowed]
    if entry.mode == "least_loaded":
        ranked.sort(key=lambda person: loads.get(person, 0))  # stable: the rotation breaks ties
    return ranked[0] if ranked else None


class AssignmentService:
    """Picks assignees by rules.yaml `assignment:` and hands tickets on that wait too long.

    `assign` is the assign flow (`TicketFlows.assign`), `calendar()` the team's business-hours
    calendar, `who(session, schedule, at)` the on-call holder, `failed(item, exc, now)` records
    a roster failure visibly (the scheduler's failure alert, counted in /metrics)."""

    def __init__(self, session_factory: sessionmaker[Session], rules: Rules, *, assign: Callable[..., Ticket],
                 calendar: Callable[[], Any], who: Callable[[Session, str, datetime], Any],
                 failed: Callable[[str, BaseException, datetime], None], clock: Callable[[], datetime],
                 roster: Roster | None = None) -> None:
        self.session_factory = session_factory
        self.rules = rules
        self.assign = assign
        self.calendar = calendar
        self.who = who
        self.failed = failed
        self.clock = clock
        self.roster: Roster = roster or OpenRoster()

    # -- picking --------------------------------------------------------------------------

    def members(self, entry: ChannelAssignment) -> list[str]:
        """Every agent of the entry, in the order rules.yaml and the groups list them."""
        return list(dict.fromkeys(person for ref in entry.people for person in self.roster.members(ref)))

    def on_shift(self, session: Session, entry: ChannelAssignment, members: Sequence[str], at: datetime) -> list[str]:
        """Those of `members` whose shift covers `at`."""
        if entry.shift == "always":
            return list(members)
        if entry.shift == "business_hours":
            return list(members) if self.calendar().is_open(at) else []
        holder = self.who(session, entry.schedule, at)[0].user
        return [person for person in members if person == holder]

    def loads(self, session: Session, people: Sequence[str]) -> dict[str, int]:
        """Open tickets each of `people` holds (every channel counts towards the cap)."""
        if not people:
            return {}
        rows = session.execute(select(Ticket.assignee, func.count()).where(
            Ticket.assignee.in_(list(people)), Ticket.status.in_(_OPEN)).group_by(Ticket.assignee))
        return {assignee: count for assignee, count in rows}

    def last_pick(self, session: Session, channel: str) -> str | None:
        """The agent the channel's latest automatic assignment went to (where the rotation stands)."""
        rows = session.execute(select(TicketEvent.payload).join(Ticket, Ticket.id == TicketEvent.ticket_id).where(
            Ticket.channel == channel, TicketEvent.kind == "assigned").order_by(TicketEvent.id.desc()).limit(_HISTORY))
        return next((payload.get("assignee_to") for (payload,) in rows if (payload or {}).get("auto")), None)

    def candidates(self, session: Session, entry: ChannelAssignment, at: datetime, exclude: Iterable[str] = (),
                   problems: list[tuple[str, Exception]] | None = None) -> tuple[list[str], list[str], dict[str, int]]:
        """(members, those eligible now, open tickets per member): on shift, available, under
        the cap, and not in `exclude`. A person whose availability cannot be read is left out
        and listed in `problems` (a group that cannot be read raises)."""
        members = self.members(entry)
        left_out = set(exclude)
        loads = self.loads(session, members)
        eligible = []
        for person in self.on_shift(session, entry, members, at):
            if person in left_out or (entry.cap is not None and loads.get(person, 0) >= entry.cap):
                continue
            try:
                if self.roster.available(person, at):
                    eligible.append(person)
            except Exception as exc:  # noqa: BLE001 - one unreadable person must not block the others
                if problems is None:
                    raise
                problems.append((person, exc))
        return members, eligible, loads

    def pick_for(self, key: str, *, actor: str) -> str:
        """`assign T-12 auto`: assign the ticket now by its channel's rule (whoever holds it);
        the assignee's user id. NoAssignmentRule / NoAgentAvailable when that cannot be done."""
        now, problems = self.clock(), []
        with self.session_factory() as session:
            ticket = service.get_ticket(session, key=key)
            key, channel, holder = ticket.key, ticket.channel, ticket.assignee
            entry = self.rules.assignment.get(channel)
            if entry is None:
                raise NoAssignmentRule(key=key, channel=channel)
            try:
                members, eligible, loads = self.candidates(session, entry, now, exclude=[holder] if holder else [],
                                                           problems=problems)
            except Exception as exc:  # noqa: BLE001 - said to the person and recorded below
                problems.append(("", exc))
                members, eligible, loads = [], [], {}
            person = choose(entry, members, eligible, loads, self.last_pick(session, channel))
        self._report(channel, problems, now)
        if person is None and problems:
            raise RosterFailed(key=key, channel=channel, error=str(problems[0][1])[:200])
        if person is None:
            raise NoAgentAvailable(key=key, channel=channel)
        self.assign(key, actor=actor, assignee=person, auto={"mode": entry.mode})
        return person

    # -- the scheduler's pass ---------------------------------------------------------------

    def assignment_pass(self, now: datetime | None = None, *, limit: int = 50) -> list[tuple[str, str]]:
        """Assign waiting unassigned tickets of configured channels and hand on those whose
        automatic assignee has not replied in time; (ticket key, assignee) of each change.
        What cannot be done is recorded (`failed`) and tried next tick: a group that cannot be
        read (`roster:<channel>`), a person (`roster:<channel>:<user>`), a ticket (`T-12`)."""
        now = now or self.clock()
        done: list[tuple[str, str]] = []
        for channel, entry in self.rules.assignment.items():
            try:
                done += self._channel_pass(channel, entry, now, limit)
            except Exception as exc:  # noqa: BLE001 - one channel must not stop the others
                self.failed(f"channel:{channel}", exc, now)
        return done

    def _channel_pass(self, channel: str, entry: ChannelAssignment, now: datetime, limit: int) -> list[tuple[str, str]]:
        with self.session_factory() as session:
            waiting = list(session.scalars(select(Ticket.id).where(
                Ticket.channel == channel, Ticket.assignee.is_(None), Ticket.status.in_(_WAITING))
                .order_by(Ticket.id).limit(limit)))
            overdue = self._unanswered(session, channel, entry, now, limit) if entry.wait else []
            if not waiting and not overdue:
                return []
            problems: list[tuple[str, Exception]] = []
            try:
                members, eligible, loads = self.candidates(session, entry, now, problems=problems)
            except Exception as exc:  # noqa: BLE001 - the group's members: recorded, not guessed
                problems.append(("", exc))
                members, eligible, loads = [], [], {}
            last = self.last_pick(session, channel)
        self._report(channel, problems, now)  # after the read closed: a write of its own
        done = []
        for ticket_id, holder in [(ticket_id, None) for ticket_id in waiting] + overdue:
            person = choose(entry, members, [p for p in eligible if p != holder], loads, last)
            if person is None:
                continue
            auto: dict[str, Any] = {"mode": entry.mode}
            if holder is not None:
                auto.update(reassigned_from=holder, after_minutes=int(entry.wait.total_seconds() // 60))
            try:
                self.assign(f"T-{ticket_id}", actor=ASSIGNMENT_ACTOR, assignee=person, auto=auto, only_from=(holder,))
            except (AlreadyClaimed, InvalidTransition):  # a person took or closed it meanwhile
                continue
            except Exception as exc:  # noqa: BLE001 - one ticket must not stop the others
                self.failed(f"T-{ticket_id}", exc, now)
                continue
            last = person
            loads[person] = loads.get(person, 0) + 1
            if holder is not None:
                loads[holder] = max(0, loads.get(holder, 0) - 1)
            if entry.cap is not None and loads[person] >= entry.cap:
                eligible = [p for p in eligible if p != person]
            done.append((f"T-{ticket_id}", person))
        return done

    def _report(self, channel: str, problems: list[tuple[str, Exception]], now: datetime) -> None:
        """Record each unreadable person (or group) visibly: announced once, counted in /metrics."""
        for who, exc in problems:
            self.failed(f"roster:{channel}:{who}" if who else f"roster:{channel}", exc, now)

    def _unanswered(self, session: Session, channel: str, entry: ChannelAssignment, now: datetime,
                    limit: int) -> list[tuple[int, str]]:
        """(ticket id, assignee) of the channel's tickets whose latest hand-over is an
        automatic assignment older than `reassign_after` that the assignee has not replied to."""
        latest = (select(TicketEvent.ticket_id, func.max(TicketEvent.id).label("event_id"))
                  .where(TicketEvent.kind.in_(_HANDOVERS)).group_by(TicketEvent.ticket_id).subquery())
        rows = session.execute(
            select(Ticket.id, Ticket.assignee, TicketEvent.id, TicketEvent.payload)
            .join(latest, latest.c.ticket_id == Ticket.id).join(TicketEvent, TicketEvent.id == latest.c.event_id)
            .where(Ticket.channel == channel, Ticket.status.in_(_WAITING), Ticket.assignee.is_not(None),
                   TicketEvent.kind == "assigned", TicketEvent.at <= now - entry.wait)
            .order_by(TicketEvent.at).limit(limit)).all()
        found = []
        for ticket_id, assignee, event_id, payload in rows:
            if not (payload or {}).get("auto") or payload.get("assignee_to") != assignee:
                continue
            answered = session.scalar(select(TicketEvent.id).where(
                TicketEvent.ticket_id == ticket_id, TicketEvent.id > event_id, TicketEvent.kind == "replied",
                TicketEvent.actor == assignee).limit(1))
            if answered is None:
                found.append((ticket_id, assignee))
        return found
