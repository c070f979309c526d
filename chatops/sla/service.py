"""The SLA service: deadlines when a ticket opens or changes, the scheduler's pass (warnings and
breaches, each once per deadline), and the offline auto-reply.

"Once" holds because the notice's TicketEvent and the advance of `sla_next_at` past it commit
in one transaction, with the ticket row locked; a second scheduler (or a restarted one)
re-reads `sla_next_at` and finds nothing left to say.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, object_session, sessionmaker

from chatops.customers.keys import group_of
from chatops.db import session_scope
from chatops.errors import InvalidValue
from chatops.i18n import t
from chatops.oncall.pages import RETRY_AFTER, PagingService
from chatops.rules.fields import CUSTOMER_TIERS
from chatops.sla.clock import SLOTS, SlaClock
from chatops.tickets import service
from chatops.tickets.delivery import ReplyTo, queue_reply
from chatops.tickets.models import Customer, OutboxItem, Ticket
from chatops.tickets.record import Recorder

SLA_ACTOR = "chatops:sla"
log = logging.getLogger("chatops.sla")
OFFLINE_ACTOR = "chatops:offline"
# Message kinds in which the customer addressed the brand; keyword-search hits did not.
ADDRESSED_KINDS = frozenset({"mention", "reply", "dm", "comment"})
AUTO_RESOLVE_ACTOR = "chatops:auto-resolve"
Fence = Callable[[Session], bool]


def _moments(ticket) -> dict[str, datetime | None]:
    return {slot: getattr(ticket, slot) for slot in SLOTS}


class SlaService:
    """Keeps a ticket's deadlines (priced by `SlaClock`) with its dependencies passed in: events
    go through `recorder`, pages through `paging`."""

    def __init__(self, session_factory: sessionmaker[Session], rules, recorder: Recorder, paging: PagingService,
                 clock: Callable[[], datetime]) -> None:
        self.session_factory = session_factory
        self.rules = rules
        self.recorder = recorder
        self.paging = paging
        self.clock = clock
        self.sla = SlaClock(rules)
        # False for a run that must not answer customers (`chatops ingest --no-replies`).
        self.auto_replies = True

    # -- deadlines ----------------------------------------------------------------------------

    def columns(self, priority: str, tier: str, start: datetime) -> dict[str, datetime]:
        """Deadline columns of a new ticket, `sla_next_at` included."""
        columns = self.sla.deadlines(priority, tier, start).as_dict()
        columns["sla_next_at"] = min(columns.values())
        return columns

    def apply(self, ticket: Ticket, now: datetime, reason: str | tuple[str, ...]) -> None:
        """Re-price a loaded ticket (status already changed) through `SlaClock.reprice`."""
        changes = self.sla.reprice(
            {**_moments(ticket), "sla_next_at": ticket.sla_next_at}, priority=ticket.priority,
            tier=ticket.customer.tier, created_at=ticket.created_at, status=ticket.status,
            paused_at=ticket.sla_paused_at, answered=ticket.first_response_at is not None, now=now, reason=reason)
        for column, value in changes.items():
            setattr(ticket, column, value)

    def repriced(self, ticket: Ticket, now: datetime) -> None:
        """Priority or tier changed: new deadlines from the ticket's start (a deadline moved into
        the past fires at the next pass)."""
        self.apply(ticket, now, "priced")
        self._page_if(ticket, "priority", now)

    def moved(self, session: Session, ticket: Ticket, previous: str, to: str, now: datetime) -> None:
        """Status changed by a person: pending pauses the resolution clock; resolving stops it
        and resolves the ticket's pages; reopening gives a new resolution time."""
        reasons = tuple(reason for reason, applies in (
            ("reopened", previous == "resolved"), ("paused", to == "pending" and previous != "pending"),
            ("resumed", previous == "pending" and to != "pending"), ("resolved", to == "resolved")) if applies)
        if reasons:
            self.apply(ticket, now, reasons)
        if to == "resolved":
            self.paging.resolve_pages_of(session, ticket, actor=SLA_ACTOR, now=now)

    def pending_after_delivery(self, session: Session, ticket: Ticket, now: datetime) -> None:
        """An agent's reply reached the customer: with rules.yaml `sla.pending_after_reply` the
        ticket now waits on them (resolution clock paused), announced like a person's move."""
        if not self.rules.sla.pending_after_reply or ticket.status not in ("new", "open"):
            return
        previous, ticket.status = ticket.status, "pending"
        self.moved(session, ticket, previous, "pending", now)
        self.recorder.record_ticket(session, ticket, "pending", SLA_ACTOR, now, status_from=previous,
                                    status_to="pending", after_reply=True)

    def next_reply_answered(self, ticket: Ticket, now: datetime) -> None:
        """An agent's reply reached the customer: the next reply they waited on is given."""
        if ticket.next_response_due_at is not None or ticket.next_response_warn_at is not None:
            self.apply(ticket, now, "answered")

    def continued(self, conn, ticket_id: int, status: str, changes: dict, now: datetime,
                       *, customer_wrote: bool = True) -> None:
        """Ingest hook for a follow-up (`status` is the ticket's before it): a raised priority
        re-prices the ticket, a customer answering a pending ticket restarts its resolution
        clock, one writing to a resolved ticket (a reopen) gets a new resolution deadline from
        now, and one writing again on an answered ticket waits on a next reply. Adds columns to
        `changes`."""
        if "priority" not in changes and status == "new":  # unanswered: the first response runs as it is
            return
        row = conn.execute(_SLA_ROW, {"tid": ticket_id}).one()
        reasons = tuple(reason for reason, applies in (
            ("priced", "priority" in changes), ("reopened", status == "resolved"),
            ("resumed", status == "pending"), ("customer_wrote", customer_wrote)) if applies)
        priority = changes.get("priority", row.priority)
        if reasons:
            changes.update(self._reprice_row(row, priority=priority, tier=row.tier,
                                             status=changes.get("status", status), now=now, reason=reasons))
        if "priority" in changes and self.rules.oncall.policy_for("priority", priority, row.tier):
            self.paging.open_page(conn, ticket_id=ticket_id, reason=f"T-{ticket_id}:priority:{priority}",
                            policy=self.rules.oncall.policy_for("priority", priority, row.tier), now=now)

    def _reprice_row(self, row, *, priority: str, tier: str, status: str, now: datetime,
                     reason: str | tuple[str, ...]) -> dict:
        """`SlaClock.reprice` of a `_SLA_ROW` (Core) row."""
        return self.sla.reprice(
            {**{slot: getattr(row, slot) for slot in SLOTS}, "sla_next_at": row.sla_next_at}, priority=priority,
            tier=tier, created_at=row.created_at, status=status, paused_at=row.sla_paused_at,
            answered=row.first_response_at is not None, now=now, reason=reason)

    def tier_changed(self, conn, *, customer_id: int, previous: str, tier: str,
                          actor: str, now: datetime) -> None:
        """Ingest hook: the customer's stored tier changed (webhook `author.tier`, rules.yaml
        `customers.premium`); each open ticket of theirs gets deadlines of the new tier and a
        `tier_changed` event, as `set_customer_tier` does for a person."""
        for row in conn.execute(_OPEN_OF_CUSTOMER, {"cid": customer_id}).all():
            changes = self._reprice_row(row, priority=row.priority, tier=tier, status=row.status, now=now,
                                        reason="priced")
            conn.execute(_UPDATE_SLA, {"tid": row.id, "now": now, **changes})
            policy = self.rules.oncall.policy_for("priority", row.priority, tier)
            if policy:
                self.paging.open_page(conn, ticket_id=row.id, reason=f"T-{row.id}:priority:{row.priority}",
                                policy=policy, now=now)
            self.recorder.record(conn, ticket_id=row.id, kind="tier_changed", actor=actor, at=now,
                               channel=row.channel, assignee=row.assignee,
                               payload={"tier_from": previous, "tier_to": tier})

    def set_customer_tier(self, key: str, *, actor: str, tier: str) -> Ticket:
        """Change the tier of the ticket's customer; every open ticket of theirs gets deadlines
        of the new tier (one `tier_changed` event on each)."""
        if tier not in CUSTOMER_TIERS:
            raise InvalidValue(value=tier, field="tier", choices=", ".join(CUSTOMER_TIERS))
        with session_scope(self.session_factory) as session:
            ticket = service.get_ticket(session, key=key, for_update=True)
            customer = ticket.customer
            if customer.tier == tier:
                return ticket
            previous = customer.tier
            group = group_of(session, customer)  # linked records share one tier (chatops.customers)
            for member in group:
                member.tier = tier
            now = self.clock()
            others = session.scalars(select(Ticket).where(Ticket.customer_id.in_([m.id for m in group]),
                                                          Ticket.status != "resolved")
                                     .order_by(Ticket.id).with_for_update(of=Ticket)).unique().all()
            for each in others:
                self.repriced(each, now)
                self.recorder.record_ticket(session, each, "tier_changed", actor, now, tier_from=previous,
                                            tier_to=tier)
            return ticket

    def pending_too_long(self, now: datetime, *, limit: int = 100) -> tuple[list[int], float | int]:
        """Ids of tickets pending longer than rules.yaml `sla.auto_resolve_pending` (none when it
        is absent), oldest first, and that period in days (as the resolve event states it)."""
        after = self.rules.sla.auto_resolve_pending
        if after is None:
            return [], 0
        with self.session_factory() as session:
            ids = session.scalars(select(Ticket.id).where(Ticket.status == "pending",
                                                          Ticket.sla_paused_at <= now - after)
                                  .order_by(Ticket.id).limit(limit)).all()
        days = round(after.total_seconds() / 86400, 1)
        return list(ids), int(days) if days == int(days) else days

    # -- the scheduler's pass -----------------------------------------------------------------

    def sla_pass(self, now: datetime | None = None, *, limit: int = 500, fence: Fence | None = None,
                 conn: Connection | None = None) -> list[tuple[str, str, str]]:
        """Post every warning and breach due by `now`; returns (ticket key, kind, deadline) fired.
        `fence` (the scheduler's lease check) runs first in the same transaction.

        Core statements, a handful per pass whatever the number due (one SELECT, one multi-row
        INSERT of events, one of outbox rows, one executemany UPDATE): a pass stays short, so
        it holds SQLite's single writer lock only briefly and ingest is not held up."""
        now = now or self.clock()
        if conn is None:  # on its own: one transaction; the scheduler passes its own (see Scheduler.tick)
            with self.session_factory.kw["bind"].begin() as own:
                return self.sla_pass(now, limit=limit, fence=fence, conn=own)
        if fence is not None and not fence(conn):
            return []
        due = conn.execute(_DUE.limit(limit), {"now": now}).all()
        if not due:
            return []
        try:  # the whole batch at once (a handful of statements) in a savepoint ...
            with conn.begin_nested():
                return self._sla_batch(conn, due, now)
        except Exception:  # noqa: BLE001 - ... and when it raises, ticket by ticket
            log.warning("SLA batch failed; retrying ticket by ticket", exc_info=True)
        fired = []
        for row in due:
            try:
                with conn.begin_nested():
                    fired.extend(self._sla_batch(conn, [row], now))
            except Exception as exc:  # noqa: BLE001 - one bad ticket must not stop the others' notices
                log.exception("SLA pass failed on T-%s", row.id)
                self.paging.scheduler_failed(conn, "sla", f"T-{row.id}", exc, now)
                conn.execute(_ADVANCE, [{"tid": row.id, "next": now + RETRY_AFTER}])
        return fired

    def _sla_batch(self, conn: Connection, due: list, now: datetime) -> list[tuple[str, str, str]]:
        """The notices of `due` ticket rows, their advance past `now`, and their events."""
        events, moved = [], []
        for row in due:
            events.extend(self._sla_notices(row, now))
            answered, paused = row.first_response_at is not None, row.status == "pending"
            next_at = None if row.status == "resolved" else SlaClock.next_at(
                {slot: getattr(row, slot) for slot in SLOTS}, answered=answered, paused=paused, after=now)
            moved.append({"tid": row.id, "next": next_at})
        conn.execute(_ADVANCE, moved)
        if events:
            self._write_events(conn, events, now)
        return [(f"T-{event['ticket_id']}", event["kind"], event["payload"]["deadline"]) for event in events]

    def _sla_notices(self, row, now: datetime) -> list[dict]:
        """The warning or breach of each live deadline whose moment lies in (last pass, now]."""
        if row.status == "resolved":
            return []
        since, out = row.sla_next_at, []
        answered, paused = row.first_response_at is not None, row.status == "pending"
        for deadline in ("first_response", "next_response", "resolution"):
            if not SlaClock.live(f"{deadline}_due_at", answered=answered, paused=paused):
                continue
            warn, due = getattr(row, f"{deadline}_warn_at"), getattr(row, f"{deadline}_due_at")
            base = {"ticket_id": row.id, "actor": SLA_ACTOR, "at": now, "channel": row.channel,
                    "assignee": row.assignee}
            if due is not None and since <= due <= now:
                out.append({**base, "kind": "sla_breached", "payload": {
                    "deadline": deadline, "due_at": due.isoformat(), "level": row.level,
                    "notify": self.level_leads(row.level), "assignee": row.assignee}, "row": row, "due": due})
            elif warn is not None and since <= warn <= now:
                out.append({**base, "kind": "sla_warning", "payload": {
                    "deadline": deadline, "due_at": due.isoformat(), "assignee": row.assignee}})
        return out

    def _write_events(self, conn: Connection, events: list[dict], now: datetime) -> None:
        """Record the notices (one INSERT for all) and open the pages premium breaches open."""
        conn.execute(_TOUCH, [{"tid": tid, "now": now} for tid in {event["ticket_id"] for event in events}])
        self.recorder.record_many(conn, events)
        for event in events:
            if event["kind"] != "sla_breached":
                continue
            row = event["row"]
            policy = self.rules.oncall.policy_for("breach", row.priority, row.tier)
            if policy:
                self.paging.open_page(conn, ticket_id=row.id, policy=policy, now=now,
                                      reason=f"T-{row.id}:breach:{event['payload']['deadline']}:"
                                             f"{event['due'].isoformat()}")

    def level_leads(self, level: str) -> list[str]:
        """Who hears of a breach at `level`: its lead, else its owners who are people, else the leads."""
        definition = self.rules.levels[level]
        if definition.lead:
            return [definition.lead]
        people = [owner for owner in definition.owners if not owner.startswith("@")]
        return people or list(self.rules.roles.leads)

    def _page_if(self, ticket: Ticket, on: str, now: datetime) -> None:
        policy = self.rules.oncall.policy_for(on, ticket.priority, ticket.customer.tier)
        if policy:
            self.paging.open_page(object_session(ticket), ticket_id=ticket.id, policy=policy, now=now,
                            reason=f"{ticket.key}:{on}:{ticket.priority}")

    # -- offline auto-reply -------------------------------------------------------------------

    def after_opened(self, conn, *, ticket_id: int, priority: str, tier: str, customer_id: int,
                      message, now: datetime, flags: tuple[str, ...] = (), channel: str | None = None,
                      new_customer: bool = False) -> None:
        """Ingest hook for a new ticket: page when its priority pages; answer the customer while
        the team is closed (see `wants_offline_reply`). `channel`: the ticket's, when the caller
        knows it; `new_customer`: the customer row was created in this transaction, so no offline
        reply to them is queued yet (customer rows are never deleted, their ids never reused)."""
        policy = self.rules.oncall.policy_for("priority", priority, tier)
        if policy:
            self.paging.open_page(conn, ticket_id=ticket_id, reason=f"T-{ticket_id}:priority:{priority}",
                            policy=policy, now=now)
        if not self.wants_offline_reply(message, flags, now):
            return
        back = self.sla.business.next_open(now)
        dedupe = f"offline:{customer_id}:{back.isoformat()}"  # once per customer per closed spell
        if not new_customer and conn.execute(_OUTBOX_BY_DEDUPE, {"dedupe": dedupe}).first() is not None:
            return
        lang = message.lang if message.lang in ("ja", "en") else self.rules.defaults.language
        text = self.offline_text(lang, back)
        reply_id = queue_reply(conn, ticket_id=ticket_id, source=message.source, account=message.account, text=text,
                               author_id=OFFLINE_ACTOR, at=now, dedupe_key=dedupe,
                               reply_to=ReplyTo(message.external_id, message.thread_id, dict(message.meta),
                                                message.author.id))
        self.recorder.record(conn, ticket_id=ticket_id, kind="auto_replied", actor=OFFLINE_ACTOR, at=now,
                             channel=channel if channel is not None
                             else conn.execute(_CHANNEL_OF, {"tid": ticket_id}).scalar(), assignee=None,
                             payload={"message_id": reply_id, "back_at": back.isoformat()})

    def wants_offline_reply(self, message, flags: tuple[str, ...], now: datetime) -> bool:
        """True when a new ticket's first message gets the offline auto-reply: it addressed the
        brand (not a keyword-search hit), arrived (`now`, not the post's own time) while the team
        is closed, was fresh on arrival (a backfill or an old file gets no promise about a time
        long past), and its author is not flagged troll or blocked."""
        hours = self.rules.business_hours
        if not self.auto_replies or message.kind not in ADDRESSED_KINDS:
            return False
        if {"troll", "blocked"} & set(flags) or self.sla.business.is_open(now):
            return False
        return now - message.created_at <= hours.offline_reply_max_age

    def offline_text(self, lang: str, back: datetime) -> str:
        """The offline auto-reply in `lang`, saying when the team is back (team's local time)."""
        local = back.astimezone(ZoneInfo(self.rules.business_hours.timezone))
        when = f"{local:%Y-%m-%d %H:%M} ({local.tzname()})"
        custom = self.rules.business_hours.offline_reply
        return custom.get(lang).format(back=when) if custom else t("sla.offline_reply", lang, back=when)


_SLA_COLUMNS = (Ticket.id, Ticket.status, Ticket.priority, Ticket.created_at, Ticket.first_response_at,
                Ticket.sla_paused_at, Ticket.sla_next_at, Ticket.channel, Ticket.assignee,
                *(getattr(Ticket, slot) for slot in SLOTS))
_SLA_ROW = select(*_SLA_COLUMNS, Customer.tier).join(Customer, Customer.id == Ticket.customer_id).where(
    Ticket.id == bindparam("tid"))
_OPEN_OF_CUSTOMER = (select(*_SLA_COLUMNS).where(Ticket.customer_id == bindparam("cid"), Ticket.status != "resolved")
                     .order_by(Ticket.id).with_for_update())
# SET columns come from the execution parameters; the version bump keeps ORM writers honest.
_UPDATE_SLA = update(Ticket).where(Ticket.id == bindparam("tid")).values(
    updated_at=bindparam("now"), version=Ticket.version + 1)
_OUTBOX_BY_DEDUPE = select(OutboxItem.id).where(OutboxItem.dedupe_key == bindparam("dedupe"))
_CHANNEL_OF = select(Ticket.channel).where(Ticket.id == bindparam("tid"))
_DUE = (select(Ticket.id, Ticket.status, Ticket.priority, Ticket.level, Ticket.channel, Ticket.assignee,
               Ticket.first_response_at, Ticket.sla_next_at, Customer.tier, *(getattr(Ticket, slot) for slot in SLOTS))
        .join(Customer, Customer.id == Ticket.customer_id)
        .where(Ticket.sla_next_at <= bindparam("now")).order_by(Ticket.sla_next_at, Ticket.id)
        .with_for_update(of=Ticket))
_ADVANCE = update(Ticket).where(Ticket.id == bindparam("tid")).values(sla_next_at=bindparam("next"))
_TOUCH = update(Ticket).where(Ticket.id == bindparam("tid")).values(updated_at=bindparam("now"),
                                                                       version=Ticket.version + 1)
