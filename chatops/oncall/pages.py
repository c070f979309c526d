"""Paging flows, mixed into TicketFlows: open a page, escalate it step by step until someone
acknowledges, acknowledge and resolve it, and cover a schedule (overrides).

Each notification is a `paged` TicketEvent (Slack DM and PagerDuty listeners turn it into
outbox rows) written in the same transaction that advances the page's `step`/`next_at`, so a
restart neither loses a step nor repeats one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from chatops import fastsql
from chatops.db import session_scope
from chatops.errors import InvalidValue, TicketNotFound
from chatops.oncall.models import OnCallOverride, Page
from chatops.oncall.schedule import Cover, now_and_next, on_call
from chatops.tickets import service
from chatops.tickets.models import Customer, Ticket

PAGE_ACTOR = "chatops:oncall"
_PAGE_OF_REASON = select(Page.id).where(Page.reason == bindparam("reason"))
_FLAGS_OF_TICKET = (select(Customer.flags).join(Ticket, Ticket.customer_id == Customer.id)
                    .where(Ticket.id == bindparam("tid")))
_INSERT_PAGE = insert(Page)
_OVERRIDES = (select(OnCallOverride.user_id, OnCallOverride.starts_at, OnCallOverride.ends_at)
              .where(OnCallOverride.schedule == bindparam("schedule"), OnCallOverride.ends_at > bindparam("at"))
              .order_by(OnCallOverride.id))
_DUE_PAGES = (select(Page.id, Page.ticket_id, Page.policy, Page.step, Page.round, Page.notified)
              .where(Page.status == "triggered", Page.next_at <= bindparam("now"))
              .order_by(Page.next_at, Page.id).limit(bindparam("limit")).with_for_update())
_PAGED_TICKET = select(Ticket.channel, Ticket.assignee, Ticket.subject, Ticket.priority).where(
    Ticket.id == bindparam("tid")).with_for_update()
_UPDATE_PAGE = update(Page).where(Page.id == bindparam("pid"))
# The version bump keeps ORM writers of the ticket honest (its mapper checks `version`).
_TOUCH_TICKET = update(Ticket).where(Ticket.id == bindparam("tid")).values(version=Ticket.version + 1)


class PageFlows:
    """Mixed into TicketFlows (session_factory, rules, clock, _event)."""

    # -- opening ------------------------------------------------------------------------------

    @staticmethod
    def _open_page(db: Session | Connection, *, ticket_id: int, reason: str, policy: str, now: datetime) -> bool:
        """Queue a page for the next paging pass (at most one per reason); True when new.
        A troll-flagged customer's ticket never pages: nobody should be woken for them."""
        if "troll" in (fastsql.execute(db, _FLAGS_OF_TICKET, {"tid": ticket_id}).scalar() or []):
            return False
        if fastsql.execute(db, _PAGE_OF_REASON, {"reason": reason}).first() is not None:
            return False
        fastsql.execute(db, _INSERT_PAGE, {
            "ticket_id": ticket_id, "reason": reason, "policy": policy, "status": "triggered", "step": 0, "round": 0,
            "notified": 0, "next_at": now, "created_at": now}, columns=True)
        return True

    # -- who is on call -----------------------------------------------------------------------

    def overrides(self, db: Session | Connection, schedule: str, at: datetime) -> list[Cover]:
        """Overrides people set for `schedule` that have not ended, oldest first."""
        rows = fastsql.execute(db, _OVERRIDES, {"schedule": schedule, "at": at}).all()
        return [Cover(row.user_id, row.starts_at, row.ends_at) for row in rows]

    def who(self, session: Session, schedule: str, at: datetime) -> tuple[Cover, Cover]:
        """Who holds `schedule` now and who is next."""
        definition = self._schedule(schedule)
        return now_and_next(definition, at, self.overrides(session, schedule, at))

    def target_of(self, db: Session | Connection, notify: str, at: datetime) -> str:
        """The person a step notifies: a user id as written, or a schedule's current holder."""
        if notify.startswith("schedule:"):
            name = notify.removeprefix("schedule:")
            return on_call(self._schedule(name), at, self.overrides(db, name, at)).user
        return notify

    def _schedule(self, name: str):
        schedules = self.rules.oncall.schedules
        if name not in schedules:
            raise InvalidValue(value=name, field="schedule", choices=", ".join(schedules) or "-")
        return schedules[name]

    def add_override(self, *, schedule: str, user: str, start: datetime, end: datetime, actor: str) -> Cover:
        """`user` covers `schedule` from `start` until `end`."""
        self._schedule(schedule)
        if end <= start:
            raise InvalidValue(value=end.isoformat(), field="until", choices="a time after now")
        with session_scope(self.session_factory) as session:
            session.add(OnCallOverride(schedule=schedule, user_id=user, starts_at=start, ends_at=end,
                                       created_by=actor, created_at=self.clock()))
        return Cover(user, start, end)

    # -- the scheduler's pass -----------------------------------------------------------------

    def page_pass(self, now: datetime | None = None, *, limit: int = 200,
                  fence: Callable[[Connection], bool] | None = None,
                  conn: Connection | None = None) -> list[tuple[str, str, str]]:
        """Send every page notification due by `now`; returns (page key, ticket key, target).
        With `conn`, inside the caller's transaction (the scheduler's).

        Core statements on the driver (chatops.fastsql), like ingest: in a flood of red tickets
        every one of them pages, and this pass shares the process and SQLite's writer with ingest."""
        now = now or self.clock()
        if conn is None:
            with self.session_factory.kw["bind"].begin() as own:
                return self.page_pass(now, limit=limit, fence=fence, conn=own)
        if fence is not None and not fence(conn):
            return []
        due = fastsql.run(conn, _DUE_PAGES, {"now": now, "limit": limit}).all()
        return [self._notify_step(conn, page, now) for page in due]

    def _notify_step(self, conn: Connection, page, now: datetime) -> tuple[str, str, str]:
        page_key, ticket_key = f"P-{page.id}", f"T-{page.ticket_id}"
        policy = self.rules.oncall.policies.get(page.policy)
        ticket = fastsql.run(conn, _PAGED_TICKET, {"tid": page.ticket_id}).one()  # row lock on PostgreSQL
        if policy is None:  # the policy left rules.yaml: stop escalating, say nothing
            fastsql.run(conn, _UPDATE_PAGE, {"pid": page.id, "next_at": None}, columns=True)
            return page_key, ticket_key, ""
        step = policy.steps[page.step]
        target = self.target_of(conn, step.notify, now)
        fastsql.run(conn, _TOUCH_TICKET, {"tid": page.ticket_id, "updated_at": now}, columns=True)
        self._record_event(conn, ticket_id=page.ticket_id, kind="paged", actor=PAGE_ACTOR, at=now,
                           channel=ticket.channel, assignee=ticket.assignee,
                           payload={"page_id": page.id, "page": page_key, "target": target, "step": page.step + 1,
                                    "round": page.round + 1, "first": page.notified == 0,
                                    "summary": ticket.subject, "priority": ticket.priority})
        changes = {"notified": page.notified + 1, "last_target": target}
        next_step, next_round = page.step + 1, page.round
        if next_step == len(policy.steps):
            next_step, next_round = 0, page.round + 1
        if next_round >= policy.repeat:
            changes["next_at"] = None  # out of steps: it stays triggered, shown as unanswered
        else:
            changes.update(step=next_step, round=next_round, next_at=now + step.escalate_after)
        fastsql.run(conn, _UPDATE_PAGE, {"pid": page.id, **changes}, columns=True)
        return page_key, ticket_key, target

    # -- acknowledging and resolving ----------------------------------------------------------

    def acknowledge_page(self, ref: str, *, actor: str) -> list[Page]:
        """Acknowledge a page (`P-7`) or every open page of a ticket (`T-12`): the chain stops."""
        return self._settle(ref, actor=actor, to="acknowledged")

    def resolve_page(self, ref: str, *, actor: str) -> list[Page]:
        """Resolve a page or every open page of a ticket."""
        return self._settle(ref, actor=actor, to="resolved")

    def resolve_pages_of(self, session: Session, ticket: Ticket, *, actor: str, now: datetime) -> None:
        """Resolve the open pages of a ticket being resolved (inside the caller's transaction)."""
        pages = session.scalars(select(Page).where(Page.ticket_id == ticket.id, Page.status != "resolved")
                                .with_for_update()).all()
        for page in pages:
            self._set_status(session, ticket, page, "resolved", actor, now)

    def _settle(self, ref: str, *, actor: str, to: str) -> list[Page]:
        now = self.clock()
        with session_scope(self.session_factory) as session:
            pages = self._pages_of_ref(session, ref)
            changed = []
            for page in pages:
                if page.status == "resolved" or page.status == to:
                    continue
                ticket = service.get_ticket(session, key=f"T-{page.ticket_id}", for_update=True)
                self._set_status(session, ticket, page, to, actor, now)
                changed.append(page)
            return changed

    def _set_status(self, session: Session, ticket: Ticket, page: Page, to: str, actor: str, now: datetime) -> None:
        page.status, page.next_at = to, None
        if to == "acknowledged":
            page.acknowledged_by, page.acknowledged_at = actor, now
        else:
            page.resolved_at = now
        self._event(session, ticket, f"page_{to}", actor, page_id=page.id, page=page.key,
                    target=page.last_target, notified=page.notified)

    @staticmethod
    def _pages_of_ref(session: Session, ref: str) -> list[Page]:
        text = ref.strip().upper()
        if text.startswith("P-") and text[2:].isdigit():
            page = session.get(Page, int(text[2:]), with_for_update=True)
            if page is None:
                raise InvalidValue(value=ref, field="page", choices="P-<number> or a ticket key")
            return [page]
        ticket_id = service.parse_ticket_key(ref)
        if ticket_id is None or session.get(Ticket, ticket_id) is None:
            raise TicketNotFound(key=ref)
        return list(session.scalars(select(Page).where(Page.ticket_id == ticket_id, Page.status != "resolved")
                                    .order_by(Page.id).with_for_update()))

    def pages(self, session: Session, *, open_only: bool = True, limit: int = 50) -> list[Page]:
        """Pages, newest first (only triggered and acknowledged ones unless open_only=False)."""
        stmt = select(Page).order_by(Page.id.desc()).limit(limit)
        if open_only:
            stmt = stmt.where(Page.status != "resolved")
        return list(session.scalars(stmt))
