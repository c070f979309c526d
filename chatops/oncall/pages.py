"""Paging: open a page, escalate it step by step until someone acknowledges, acknowledge and
resolve it, and cover a schedule (overrides).

Each notification is a `paged` TicketEvent (Slack DM and PagerDuty listeners turn it into
outbox rows) written in the same transaction that advances the page's `step`/`next_at`, so a
restart neither loses a step nor repeats one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from chatops.db import session_scope
from chatops.errors import InvalidValue, TicketNotFound
from chatops.i18n import t
from chatops.oncall.models import OnCallOverride, Page, SchedulerError
from chatops.oncall.schedule import Cover, now_and_next, on_call
from chatops.tickets import service
from chatops.tickets.events import OutboxRow
from chatops.tickets.models import Customer, Ticket
from chatops.tickets.record import Recorder, enqueue

PAGE_ACTOR = "chatops:oncall"
RETRY_AFTER = timedelta(minutes=5)  # a page or ticket whose scheduler item failed is tried again then
log = logging.getLogger("chatops.oncall")
_PAGE_OF_REASON = select(Page.id).where(Page.reason == bindparam("reason"))
_FLAGS_OF_TICKET = (select(Customer.flags).join(Ticket, Ticket.customer_id == Customer.id)
                    .where(Ticket.id == bindparam("tid")))
_INSERT_PAGE = insert(Page)
_OVERRIDES = (select(OnCallOverride.user_id, OnCallOverride.starts_at, OnCallOverride.ends_at)
              .where(OnCallOverride.schedule == bindparam("schedule"), OnCallOverride.ends_at > bindparam("at"))
              .order_by(OnCallOverride.id))
_DUE_PAGES = (select(Page.id, Page.ticket_id, Page.policy, Page.step, Page.round, Page.notified,
                     Page.policy_snapshot)
              .where(Page.status == "triggered", Page.next_at <= bindparam("now"))
              .order_by(Page.next_at, Page.id).limit(bindparam("limit")).with_for_update())
_PAGED_TICKET = select(Ticket.channel, Ticket.assignee, Ticket.subject, Ticket.priority).where(
    Ticket.id == bindparam("tid")).with_for_update()
_UPDATE_PAGE = update(Page).where(Page.id == bindparam("pid"))
# The version bump keeps ORM writers of the ticket honest (its mapper checks `version`).
_TOUCH_TICKET = update(Ticket).where(Ticket.id == bindparam("tid")).values(version=Ticket.version + 1)


def policy_snapshot(rules, name: str) -> dict[str, Any] | None:
    """The escalation policy `name` as plain JSON (steps with targets and escalate_after in
    seconds, repeat), stored on a page when it opens; None when rules.yaml has no such policy."""
    policy = rules.oncall.policies.get(name)
    if policy is None:
        return None
    return {"steps": [{"notify": step.notify, "escalate_after": step.escalate_after.total_seconds()}
                      for step in policy.steps], "repeat": policy.repeat}


class PagingService:
    """Pages and on-call cover, with their dependencies passed in; events go through `recorder`."""

    def __init__(self, session_factory: sessionmaker[Session], rules, recorder: Recorder,
                 clock: Callable[[], datetime]) -> None:
        self.session_factory = session_factory
        self.rules = rules
        self.recorder = recorder
        self.clock = clock

    # -- opening ------------------------------------------------------------------------------

    def open_page(self, db, *, ticket_id: int, reason: str, policy: str,
                   now: datetime) -> bool:
        """Queue a page for the next paging pass (at most one per reason), keeping a snapshot of
        its policy as rules.yaml says now; True when new. A troll-flagged customer's ticket never
        pages: nobody should be woken for them."""
        if "troll" in (db.execute(_FLAGS_OF_TICKET, {"tid": ticket_id}).scalar() or []):
            return False
        if db.execute(_PAGE_OF_REASON, {"reason": reason}).first() is not None:
            return False
        db.execute(_INSERT_PAGE, {
            "ticket_id": ticket_id, "reason": reason, "policy": policy, "status": "triggered", "step": 0, "round": 0,
            "notified": 0, "next_at": now, "created_at": now,
            "policy_snapshot": policy_snapshot(self.rules, policy)})
        return True

    # -- who is on call -----------------------------------------------------------------------

    def overrides(self, db: Session | Connection, schedule: str, at: datetime) -> list[Cover]:
        """Overrides people set for `schedule` that have not ended, oldest first."""
        rows = db.execute(_OVERRIDES, {"schedule": schedule, "at": at}).all()
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

        Core statements: in a flood of red tickets every one of them pages, and this pass shares
        SQLite's single writer with ingest."""
        now = now or self.clock()
        if conn is None:
            with self.session_factory.kw["bind"].begin() as own:
                return self.page_pass(now, limit=limit, fence=fence, conn=own)
        if fence is not None and not fence(conn):
            return []
        due = conn.execute(_DUE_PAGES, {"now": now, "limit": limit}).all()
        out = []
        for page in due:
            # Each page in a savepoint: one that raises is rolled back alone, recorded (counted,
            # announced once) and retried later; the others still go out.
            try:
                with conn.begin_nested():
                    out.append(self._notify_step(conn, page, now))
            except Exception as exc:  # noqa: BLE001 - any failure of one page must not stop the pass
                log.exception("paging P-%s failed", page.id)
                self.scheduler_failed(conn, "paging", f"P-{page.id}", exc, now)
                conn.execute(_UPDATE_PAGE, {"pid": page.id, "next_at": now + RETRY_AFTER})
        return out

    def _notify_step(self, conn: Connection, page, now: datetime) -> tuple[str, str, str]:
        page_key, ticket_key = f"P-{page.id}", f"T-{page.ticket_id}"
        ticket = conn.execute(_PAGED_TICKET, {"tid": page.ticket_id}).one()  # row lock on PostgreSQL
        snapshot = page.policy_snapshot
        if snapshot is None:  # opened before pages kept a snapshot: take the live policy, once
            snapshot = policy_snapshot(self.rules, page.policy)
            if snapshot is None:  # the policy left rules.yaml: stop escalating, say nothing
                conn.execute(_UPDATE_PAGE, {"pid": page.id, "next_at": None})
                return page_key, ticket_key, ""
            conn.execute(_UPDATE_PAGE, {"pid": page.id, "policy_snapshot": snapshot})
        steps, repeat = snapshot["steps"], snapshot["repeat"]
        if page.round >= repeat:  # out of range (a policy shortened under an old page): end cleanly
            conn.execute(_TOUCH_TICKET, {"tid": page.ticket_id, "updated_at": now})
            self._exhausted(conn, page, ticket, now)
            return page_key, ticket_key, ""
        index = min(page.step, len(steps) - 1)
        step = steps[index]
        target = self.target_of(conn, step["notify"], now)
        conn.execute(_TOUCH_TICKET, {"tid": page.ticket_id, "updated_at": now})
        self.recorder.record(conn, ticket_id=page.ticket_id, kind="paged", actor=PAGE_ACTOR, at=now,
                           channel=ticket.channel, assignee=ticket.assignee,
                           payload={"page_id": page.id, "page": page_key, "target": target, "step": index + 1,
                                    "round": page.round + 1, "first": page.notified == 0,
                                    "summary": ticket.subject, "priority": ticket.priority})
        changes = {"notified": page.notified + 1, "last_target": target}
        next_step, next_round = index + 1, page.round
        if next_step >= len(steps):
            next_step, next_round = 0, page.round + 1
        if next_round >= repeat:  # out of steps: it stays triggered, shown as unanswered
            conn.execute(_UPDATE_PAGE, {"pid": page.id, **changes})
            self._exhausted(conn, page, ticket, now)
        else:
            changes.update(step=next_step, round=next_round,
                           next_at=now + timedelta(seconds=step["escalate_after"]))
            conn.execute(_UPDATE_PAGE, {"pid": page.id, **changes})
        return page_key, ticket_key, target

    def _exhausted(self, conn: Connection, page, ticket, now: datetime) -> None:
        """Nobody acknowledged after every step and round: stop escalating and say so in the thread
        (the page stays triggered, shown as unanswered)."""
        self.recorder.record(conn, ticket_id=page.ticket_id, kind="page_exhausted", actor=PAGE_ACTOR, at=now,
                           channel=ticket.channel, assignee=ticket.assignee,
                           payload={"page_id": page.id, "page": f"P-{page.id}"})
        conn.execute(_UPDATE_PAGE, {"pid": page.id, "next_at": None})

    # -- failures of the scheduler's passes ---------------------------------------------------

    def scheduler_failed(self, conn: Connection, pass_name: str, item: str, exc: BaseException,
                         now: datetime) -> None:
        """Record that `item` of `pass_name` raised (inside the pass's transaction, after its
        savepoint rolled back): counted every time (/metrics), announced to a channel once."""
        error = f"{type(exc).__name__}: {exc}"[:500]
        seen = conn.execute(update(SchedulerError).where(
            SchedulerError.pass_name == pass_name, SchedulerError.item == item,
        ).values(count=SchedulerError.count + 1, last_at=now, error=error))
        if seen.rowcount:
            return
        conn.execute(insert(SchedulerError).values(pass_name=pass_name, item=item, count=1, error=error,
                                                   first_at=now, last_at=now))
        channel = self._alert_channel()
        if channel is None:
            return
        # The outbox's hooks run after a delivery: their failure is the record, not a pass, that broke.
        key = "sla.alert.outbox_hook_failed" if pass_name == "outbox" else "sla.alert.scheduler_failed"
        text = "\n".join(t(key, lang, job=t(f"sla.alert.pass.{pass_name}", lang), item=item, error=error)
                         for lang in ("ja", "en"))
        enqueue(conn, [OutboxRow(target="slack-stats", kind="alert", dedupe_key=f"scheduler-error:{pass_name}:{item}",
                                 ordering_key=f"slack:{self.rules.channels[channel].slack}",
                                 payload={"channel": channel, "text": text})], at=now)

    def _alert_channel(self) -> str | None:
        """Where scheduler failures are announced: the stats digest's channel, else the first channel."""
        digest = self.rules.stats.digest
        if digest is not None:
            return digest.channel
        return next(iter(self.rules.channels), None)

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
        self.recorder.record_ticket(session, ticket, f"page_{to}", actor, now, page_id=page.id, page=page.key,
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
