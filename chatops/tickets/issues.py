"""Tracker issues of a ticket (Jira, GitHub): asked for by a person, created by the outbox, closed
by the tracker's webhook — every step a ticket event through the recorder.

- `request` records `issue_requested`; the trackers' listener (integrations/trackers.py) turns it
  into the outbox item that creates the issue.
- The outbox's done hook (`created`) stores the link (`issue_links`) and records `issue_created`;
  its dead hook (`failed`) records `issue_failed` with the tracker's own words.
- `closed` (a tracker's webhook): a resolved ticket reopens (`reopened`, naming the issue), and
  `issue_closed` says so in the thread, so the agent closes the loop with the customer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chatops.errors import EmptyText, InvalidValue
from chatops.tickets import service
from chatops.tickets.models import IssueLink, OutboxItem, Ticket
from chatops.tickets.record import Recorder

TRACKERS = ("jira", "github")
TRACKER_NAMES = {"jira": "Jira", "github": "GitHub"}
SUMMARY_LIMIT = 255  # Jira's summary field; GitHub titles allow 256


@dataclass(frozen=True)
class IssueRef:
    """A linked issue as views show it."""

    tracker: str
    key: str
    url: str | None
    state: str


def issues_of(session: Session, ticket_ids: list[int]) -> dict[int, list[IssueRef]]:
    """Linked issues per ticket id, oldest first."""
    found: dict[int, list[IssueRef]] = {}
    if not ticket_ids:
        return found
    for link in session.scalars(select(IssueLink).where(IssueLink.ticket_id.in_(ticket_ids)).order_by(IssueLink.id)):
        found.setdefault(link.ticket_id, []).append(IssueRef(link.tracker, link.key, link.url, link.state))
    return found


def summary_of(text: str) -> str:
    """An issue summary from a ticket's text: its first line, clipped to what trackers accept."""
    first = next((line.strip() for line in (text or "").splitlines() if line.strip()), "")
    return first if len(first) <= SUMMARY_LIMIT else first[:SUMMARY_LIMIT - 1] + "…"


class IssueService:
    """See the module docstring."""

    def __init__(self, session_factory: sessionmaker[Session], recorder: Recorder, clock: Callable[[], datetime],
                 *, move: Callable[..., None]) -> None:
        self.session_factory = session_factory
        self.recorder = recorder
        self.clock = clock
        self.move = move  # TicketFlows.move: the one status move, so a closed issue reopens like a person's Reopen

    def request(self, key: str, *, actor: str, tracker: str, summary: str, available: tuple[str, ...]) -> int:
        """Ask for an issue in `tracker` (one of `available`, the configured ones); the event id."""
        if tracker not in available:
            raise InvalidValue(value=tracker, field="tracker", choices=", ".join(available) or "-")
        summary = " ".join((summary or "").split())
        with service.locked_ticket(self.session_factory, key) as (session, ticket):
            if not summary:
                raise EmptyText(key=ticket.key, what="summary")
            if len(summary) > SUMMARY_LIMIT:
                raise InvalidValue(value=summary[:40] + "…", field="summary", choices=f"≤ {SUMMARY_LIMIT}")
            return self.recorder.record_ticket(session, ticket, "issue_requested", actor, self.clock(),
                                               tracker=tracker, summary=summary)

    def created(self, session: Session, item: OutboxItem) -> None:
        """Outbox done hook of `create_issue`: store the link, record `issue_created`."""
        result, payload = item.result or {}, item.payload
        ticket = session.get(Ticket, payload["ticket_id"])
        now = self.clock()
        session.add(IssueLink(ticket_id=ticket.id, tracker=item.target, key=result["key"], url=result.get("url"),
                              state="open", created_by=payload["actor"], created_at=now))
        self.recorder.record_ticket(session, ticket, "issue_created", payload["actor"], now, tracker=item.target,
                                    issue=result["key"], url=result.get("url"), ticket_url=result.get("ticket_url"))

    def failed(self, session: Session, item: OutboxItem) -> None:
        """Outbox dead hook of `create_issue`: record `issue_failed` with the tracker's words."""
        payload = item.payload
        ticket = session.get(Ticket, payload["ticket_id"])
        self.recorder.record_ticket(session, ticket, "issue_failed", payload["actor"], self.clock(),
                                    tracker=item.target, reason=item.last_error or "", summary=payload.get("summary"))

    def closed(self, tracker: str, issue: str, *, status: str, by: str | None = None) -> str:
        """The tracker closed `issue`: `ignored` (no ticket has it), `unchanged` (told before),
        or `closed` (the thread is told; a resolved ticket reopens)."""
        link_id = self._link(tracker, issue)
        if link_id is None:
            return "ignored"
        with service.locked_ticket(self.session_factory, f"T-{link_id[1]}") as (session, ticket):
            link = session.get(IssueLink, link_id[0], with_for_update=True)
            if link.state == "closed":
                return "unchanged"
            now = self.clock()
            link.state, link.closed_at = "closed", now
            actor = f"{tracker}:{by}" if by else tracker
            reopened = ticket.status == "resolved"
            if reopened:
                self.move(session, ticket, actor=actor, allowed=("resolved",), to="open", kind="reopened",
                          action="reopened", tracker=tracker, issue=link.key)
            self.recorder.record_ticket(session, ticket, "issue_closed", actor, now, tracker=tracker, issue=link.key,
                                        url=link.url, status=status, reopened=reopened, ticket_status=ticket.status)
            return "closed"

    def reopened(self, tracker: str, issue: str, *, status: str, by: str | None = None) -> str:
        """The tracker reopened `issue`: `ignored`, `unchanged` (open already) or `reopened`."""
        link_id = self._link(tracker, issue)
        if link_id is None:
            return "ignored"
        with service.locked_ticket(self.session_factory, f"T-{link_id[1]}") as (session, ticket):
            link = session.get(IssueLink, link_id[0], with_for_update=True)
            if link.state == "open":
                return "unchanged"
            link.state, link.closed_at = "open", None
            self.recorder.record_ticket(session, ticket, "issue_reopened", f"{tracker}:{by}" if by else tracker,
                                        self.clock(), tracker=tracker, issue=link.key, url=link.url, status=status)
            return "reopened"

    def _link(self, tracker: str, issue: str) -> tuple[int, int] | None:
        with self.session_factory() as session:
            row = session.execute(select(IssueLink.id, IssueLink.ticket_id).where(
                IssueLink.tracker == tracker, IssueLink.key == issue)).first()
        return (row.id, row.ticket_id) if row else None
