"""Ingest: an InboundMessage becomes a new ticket, a follow-up, a reopen, or a duplicate (no-op).

Idempotent on (source, external_id): the unique key on messages decides, so two deliveries of
the same message racing each other still store it once.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, NamedTuple, TypeVar

from sqlalchemy import bindparam, insert, select, tuple_, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from chatops.inbound import InboundMessage
from chatops.oncall.pages import PagingService
from chatops.rules import RulesEngine
from chatops.sla.service import SlaService
from chatops.stats.csat_hooks import record_rating_reply
from chatops.stats.projector import TicketFacts
from chatops.tickets import moderation, service
from chatops.tickets.amend import AmendService, attachment_rows
from chatops.tickets.flood import FloodService
from chatops.tickets.followup import UPDATE_TICKET, Followups
from chatops.tickets.models import Customer, Message, Ticket, TicketTag
from chatops.tickets.record import Recorder, UnitOfWork
from chatops.tickets.transitions import customer_wrote, raised, status_fields

log = logging.getLogger("chatops.ingest")
_T = TypeVar("_T")

# "collected": stored on the open flood incident of its post or topic (chatops.tickets.flood).
Outcome = Literal["created", "threaded", "reopened", "duplicate", "stored", "rated", "collected", "edited",
                  "deleted", "ignored"]


@dataclass(frozen=True)
class IngestResult:
    """What ingest did with one message."""

    outcome: Outcome
    ticket_id: int | None = None
    message_id: int | None = None

    @property
    def ticket_key(self) -> str | None:
        """`T-<id>` of the ticket the message landed on, if any."""
        return f"T-{self.ticket_id}" if self.ticket_id is not None else None


def _subject(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 120 else line[:119] + "…"


class IngestService:
    """The inbound side of the state machine, with its dependencies passed in: triage by
    `engine`, deadlines by `sla`, pages by `paging`, incidents by `flood`, events by `recorder`."""

    def __init__(self, engine: Engine, rules, recorder: Recorder, triage: RulesEngine, sla: SlaService,
                 paging: PagingService, flood: FloodService, clock: Callable[[], datetime]) -> None:
        self.db_engine = engine
        self.rules = rules
        self.recorder = recorder
        self.engine = triage
        self.sla = sla
        self.paging = paging
        self.flood = flood
        self.clock = clock
        self.followups = Followups(rules, triage, sla)
        self.amend = AmendService(recorder, lambda: self.clock(), self.followups)

    def ingest(self, message: InboundMessage) -> IngestResult:
        """Store one inbound message and open, continue or reopen its ticket."""
        # Prebuilt Core statements on a plain connection, no ORM Session: ingest must keep up
        # with a flood of mentions, and the ORM's unit of work costs several times more per row.
        # A lone message is not looked up first: the unique key on messages refuses a second
        # delivery (IntegrityError below), which costs a rollback only for the rare duplicate.
        engine = self.db_engine
        for race in (1, 2):
            try:
                return self._in_transaction(lambda conn: self._store(UnitOfWork(conn), message, _Known()))
            except IntegrityError:
                # Lost a race: either another delivery of this very message (a duplicate), or
                # another message from the same new customer created the customer row first.
                with engine.connect() as conn:
                    if service.inbound_exists(conn, source=message.source, external_id=message.external_id):
                        return IngestResult("duplicate")
                if race == 2:
                    raise
        raise AssertionError("unreachable")

    def ingest_many(self, messages: Sequence[InboundMessage]) -> list[IngestResult | Exception]:
        """Group commit: store several messages in ONE transaction, in order, with the same
        outcome each would get from `ingest` (a duplicate inside the batch is a duplicate).

        One commit and one write per shared stats rollup row serve the whole batch, which is
        what lets a single SQLite writer keep up with a flood. A batch that lost a race to another
        replica goes again without the messages that replica stored. When anything else fails (a
        bad row), the batch is rolled back and every message goes through `ingest` on its own,
        so one message's error is its own: the result list then holds the exception in that
        message's place.
        """
        if len(messages) <= 1:
            return [self._ingest_or_error(message) for message in messages]
        try:
            return self._store_batch(messages)
        except IntegrityError as exc:
            failure: Exception = exc
            # Most often a lost race: another replica stored one of these messages (a network's
            # redelivery reached both) or created one of their new customers while this batch
            # was being written. Stored ones answer as duplicates and the rest go again together
            # (the customer rows now exist), instead of one transaction each.
            rest = self._not_stored(messages)
            if rest:
                try:
                    again, retried = iter(self._store_batch(rest)), {id(message) for message in rest}
                    return [next(again) if id(message) in retried else IngestResult("duplicate")
                            for message in messages]
                except Exception as retry_exc:  # noqa: BLE001 - then one by one, below
                    failure = retry_exc
        except Exception as exc:  # noqa: BLE001 - each message is retried alone and keeps its own error
            failure = exc
        log.info("group commit of %d messages failed (%s: %s); storing each alone", len(messages),
                 type(failure).__name__, str(failure)[:300])
        return [self._ingest_or_error(message) for message in messages]

    def _store_batch(self, messages: Sequence[InboundMessage]) -> list[IngestResult | Exception]:
        def store(conn: Connection) -> list[IngestResult | Exception]:
            with self.recorder.batch(conn) as uow:
                known = _Known.of_batch(uow, messages)
                results = [self._store(uow, message, known) for message in messages]
                self.flood.flush(uow)
                return results

        return self._in_transaction(store)

    def _in_transaction(self, work: Callable[[Connection], _T]) -> _T:
        """`work(conn)` in one ingest transaction, run again after a transient failure (a
        deadlock's victim, a serialization failure, a lock wait past LOCK_TIMEOUT_MS): nothing
        was written, and going again is the documented remedy."""
        engine = self.db_engine
        for attempt in range(1, _TRANSIENT_TRIES + 1):
            try:
                with _transaction(engine) as conn:
                    return work(conn)
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) not in _TRANSIENT or attempt == _TRANSIENT_TRIES:
                    raise
                time.sleep(random.uniform(0.01, 0.05) * attempt)
        raise AssertionError("unreachable")

    def _not_stored(self, messages: Sequence[InboundMessage]) -> list[InboundMessage]:
        with self.db_engine.connect() as conn:
            return [message for message in messages
                    if not service.inbound_exists(conn, source=message.source, external_id=message.external_id)]

    def _store(self, conn: UnitOfWork, message: InboundMessage, known: _Known) -> IngestResult:
        """In the caller's transaction: an edit or deletion, a duplicate, or the message stored
        with its ticket."""
        if message.action != "new" and (amended := self.amend.apply(conn, message)) is not None:
            return IngestResult(*amended)  # an edit or deletion (chatops.tickets.amend)
        if known.inbound is not None:  # a group commit: its stored ids were read for the batch
            key = (message.source, message.external_id)
            if key in known.inbound:
                return IngestResult("duplicate")
            known.inbound.add(key)  # every outcome but a duplicate stores the message
        return self._ingest_new(conn, message, known)

    def _ingest_or_error(self, message: InboundMessage) -> IngestResult | Exception:
        try:
            return self.ingest(message)
        except Exception as exc:  # noqa: BLE001 - handed to the caller of ingest_many
            return exc

    def _ingest_new(self, conn: UnitOfWork, message: InboundMessage, known: _Known) -> IngestResult:
        now = self.clock()
        customer_id, is_new, flags, tier = self._upsert_customer(conn, message, known)
        blocked = "blocked" in flags
        message_row = {
            "direction": "inbound", "source": message.source, "account": message.account,
            "kind": message.kind, "external_id": message.external_id,
            "conversation_id": message.thread_id, "in_reply_to": message.in_reply_to,
            "author_id": message.author.id, "author_handle": message.author.handle,
            "author_name": message.author.name, "text": message.text, "url": message.url,
            "lang": message.lang, "meta": dict(message.meta) or None, "created_at": message.created_at, "received_at": now,
            "customer_id": customer_id, "ticket_id": None,
            "attachments": attachment_rows(message),
        }
        if blocked:
            return IngestResult("stored", message_id=_insert(conn, Message, message_row))
        thread_rules = self.rules.threading
        window_start = message.created_at - timedelta(minutes=thread_rules.window_minutes)
        # The horizon runs from the message's arrival: a post's own time can be days old (a backfill).
        match = service.find_thread(conn, message=message, customer_id=customer_id, window_start=window_start,
                                    stale_before=now - timedelta(days=thread_rules.reopen_days), new_customer=is_new)
        ticket_id = match.ticket_id if match is not None and not match.stale else None
        follows = match.ticket_id if match is not None and match.stale else None
        rated = record_rating_reply(conn, message=message, customer_id=customer_id, ticket_id=ticket_id,
                                    message_row=message_row)
        if rated is not None:  # a CSAT rating: stored on its ticket, which stays resolved
            self.recorder.record(conn, ticket_id=rated.ticket_id, kind="csat_rated", actor=f"customer:{customer_id}",
                               at=now, channel=rated.channel, assignee=rated.assignee,
                               payload={"message_id": rated.message_id, "score": rated.score})
            return IngestResult("rated", rated.ticket_id, rated.message_id)
        triage = self.engine.triage(text=message.text, source=message.source, kind=message.kind)
        screened = moderation.screen(conn, self.rules, message, message_row, triage, now)
        if screened is not None:  # rules.yaml `moderation:` hid it and keeps it without a ticket
            return IngestResult("stored", message_id=screened)
        vip_floor = self.rules.customers.vip_priority
        if vip_floor and ticket_id is None and "vip" in flags and (
                raised(triage.priority, vip_floor, self.rules.priorities)):
            triage.priority = vip_floor  # a vip's new ticket opens at least this urgent, before deadlines are set
        flood = self.flood.plan(conn, message, ticket_id, triage, now) if self.rules.flood.active else None
        if flood is not None and flood.collect_on is not None:
            return IngestResult("collected", *self.flood.collect(conn, flood, message_row, now))
        opens = flood is not None and flood.open_key is not None
        if ticket_id is None:
            result = self._open_ticket(conn, message, customer_id, message_row,
                                       self.flood.raised_triage(flood, triage) if opens else triage, now, tier,
                                       incident=opens, flags=flags, follows=None if opens else follows,
                                       new_customer=is_new)
        else:
            result = self._continue_ticket(conn, message, ticket_id, message_row, triage)
        if opens:
            self.flood.open_incident(conn, flood, result.ticket_id, tier, now)
        return result

    def _upsert_customer(self, conn: UnitOfWork, message: InboundMessage,
                         known: _Known) -> tuple[int, bool, tuple[str, ...], str]:
        """(customer id, new?, flags, tier) for the author, creating or refreshing the customer row."""
        author = message.author
        # The sender's tier wins; else a rules.yaml `customers.premium` entry makes the author premium.
        listed = self.rules.customers.is_premium(message.source, author.id, author.handle)
        wanted = author.tier or ("premium" if listed else None)
        key = (message.source, author.id)
        if known.customers is not None:
            row = known.customers.get(key)
        else:
            row = conn.execute(_CUSTOMER_BY_USER, {"source": message.source, "user": author.id}).first()
        if row is None:
            # A concurrent first message from the same author makes this INSERT fail; ingest
            # then retries and finds the row.
            customer_id = _insert(conn, Customer, {
                "source": message.source, "external_user_id": author.id, "handle": author.handle,
                "name": author.name, "tier": wanted or "standard", "flags": [], "first_seen_at": message.created_at,
                "last_seen_at": message.created_at,
            })
            if known.customers is not None:
                known.customers[key] = _CustomerRow(customer_id, [], author.handle, author.name,
                                                    message.created_at, wanted or "standard")
            return customer_id, True, (), wanted or "standard"
        changes = {}
        if author.handle and author.handle != row.handle:
            changes["handle"] = author.handle
        if author.name and author.name != row.name:
            changes["name"] = author.name
        if message.created_at > row.last_seen_at:
            changes["last_seen_at"] = message.created_at
        if wanted and wanted != row.tier:
            changes["tier"] = wanted
        if changes:
            conn.execute(_UPDATE_CUSTOMER, {"cid": row.id, **changes})
            if known.customers is not None:
                known.customers[key] = row._replace(**changes)
        if "tier" in changes:  # rare: only then are the customer's open tickets read and re-priced
            self.sla.tier_changed(conn, customer_id=row.id, previous=row.tier, tier=changes["tier"],
                                   actor=f"chatops:{message.source}" if author.tier else "chatops:rules",
                                   now=self.clock())
        return row.id, False, tuple(row.flags or ()), changes.get("tier", row.tier)

    def _open_ticket(self, conn: UnitOfWork, message: InboundMessage, customer_id: int, message_row: dict,
                     triage, now: datetime, tier: str = "standard", incident: bool = False,
                     flags: tuple[str, ...] = (), follows: int | None = None,
                     new_customer: bool = False) -> IngestResult:
        deadlines = self.sla.columns(triage.priority, tier, message.created_at)
        ticket_id = _insert(conn, Ticket, {
            "source": message.source, "account": message.account, "external_id": message.external_id,
            "conversation_id": message.thread_id, "customer_id": customer_id, "status": "new",
            "priority": triage.priority, "level": triage.level, "channel": triage.channel,
            "assignee": None, "subject": _subject(message.summary), "lang": message.lang,
            "matched_rules": list(triage.matched), "keywords": list(triage.keywords),
            "notify": list(triage.notify), "created_at": message.created_at, "updated_at": now,
            "last_customer_message_at": message.created_at, "reopened_count": 0, "version": 1,
            "follows_ticket_id": follows, **deadlines,
        })
        if triage.tags:
            conn.execute(_INSERT_TAGS, [{"ticket_id": ticket_id, "tag": tag} for tag in triage.tags])
        message_id = _insert(conn, Message, {**message_row, "ticket_id": ticket_id})
        # What the stats projector would read back from the rows just written.
        facts = TicketFacts(
            channel=triage.channel, priority=triage.priority, source=message.source, assignee=None,
            keywords=list(triage.keywords), created_at=message.created_at, first_response_at=None, resolved_at=None,
            first_response_due_at=deadlines.get("first_response_due_at"),
            resolution_due_at=deadlines.get("resolution_due_at"), csat_score=None, csat_requested_at=None,
            csat_rated_at=None, tier=tier, tags=list(triage.tags))
        self.recorder.record(conn, ticket_id=ticket_id, kind="created", actor=f"customer:{customer_id}",
                           at=now, channel=triage.channel, assignee=None,
                           payload={"message_id": message_id, "triage": triage.to_dict(),
                                    **({"incident": True} if incident else {}),
                                    **({"follows": follows} if follows is not None else {})}, facts=facts)
        if follows is not None:
            # The old ticket stays resolved; its thread says where the customer's words went.
            # (`new_ticket_id`, not `ticket`: surfaces read an event_payload `ticket` as a parent post.)
            old = conn.execute(_TICKET_SURFACE, {"tid": follows}).one()
            self.recorder.record(conn, ticket_id=follows, kind="continued", actor=f"customer:{customer_id}",
                               at=now, channel=old.channel, assignee=old.assignee,
                               payload={"new_ticket_id": ticket_id})
        self.sla.after_opened(conn, ticket_id=ticket_id, priority=triage.priority, tier=tier,
                           customer_id=customer_id, message=message, now=now, flags=flags,
                           channel=triage.channel, new_customer=new_customer)
        return IngestResult("created", ticket_id, message_id)

    def _continue_ticket(self, conn: UnitOfWork, message: InboundMessage, ticket_id: int,
                         message_row: dict, triage) -> IngestResult:
        ticket = conn.execute(_TICKET_FOR_UPDATE, {"tid": ticket_id}).one()  # row lock on PostgreSQL
        message_id = _insert(conn, Message, {**message_row, "ticket_id": ticket_id})
        now = message_row["received_at"]
        changes: dict = {"last_customer_message_at": max(ticket.last_customer_message_at, message.created_at),
                         "updated_at": now}
        payload: dict = {"message_id": message_id}
        changes.update(self.followups.changes(conn, ticket_id, ticket.priority, triage, payload))
        status, kind = customer_wrote(ticket.status)
        outcome = "reopened" if kind == "reopened" else "threaded"
        changes.update(status_fields(ticket.status, status, now, ticket.reopened_count))
        if status != ticket.status:
            changes["status"] = status
            payload.update(status_from=ticket.status, status_to=status)
        self.sla.continued(conn, ticket_id, ticket.status, changes, now)
        conn.execute(UPDATE_TICKET, {"tid": ticket_id, **changes})
        self.recorder.record(conn, ticket_id=ticket_id, kind=kind, actor=f"customer:{ticket.customer_id}",
                           at=now, channel=ticket.channel, assignee=ticket.assignee, payload=payload)
        return IngestResult(outcome, ticket_id, message_id)


# SQLSTATEs a retry fixes: deadlock_detected, serialization_failure, lock_not_available.
_TRANSIENT = {"40P01", "40001", "55P03"}
_TRANSIENT_TRIES = 4
# How long an ingest transaction waits for a row another replica's transaction holds (the same
# new customer, a redelivered message, a flood counter) before it gives up and goes again. A
# group commit takes tens of milliseconds; a wait longer than this is most likely a deadlock
# between two replicas, which PostgreSQL would only break after `deadlock_timeout` (1 s) with
# both replicas' ingest stalled meanwhile.
LOCK_TIMEOUT_MS = 200


@contextmanager
def _transaction(engine: Engine) -> Iterator[Connection]:
    """An ingest transaction; on PostgreSQL its lock waits end after LOCK_TIMEOUT_MS."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}")
        yield conn


_INSERTS = {model: insert(model).returning(model.id) for model in (Customer, Ticket, Message)}
_INSERT_TAGS = insert(TicketTag)
_TICKET_FOR_UPDATE = select(
    Ticket.status, Ticket.priority, Ticket.customer_id, Ticket.last_customer_message_at, Ticket.reopened_count,
    Ticket.channel, Ticket.assignee,
).where(Ticket.id == bindparam("tid")).with_for_update()
_TICKET_SURFACE = select(Ticket.channel, Ticket.assignee).where(Ticket.id == bindparam("tid"))
_UPDATE_CUSTOMER = update(Customer).where(Customer.id == bindparam("cid"))
_CUSTOMER_BY_USER = select(
    Customer.id, Customer.flags, Customer.handle, Customer.name, Customer.last_seen_at, Customer.tier
).where(Customer.source == bindparam("source"), Customer.external_user_id == bindparam("user"))


_INBOUND_OF_BATCH = select(Message.source, Message.external_id).where(
    Message.direction == "inbound", Message.external_id.in_(bindparam("ids", expanding=True)))
_CUSTOMERS_OF_BATCH = select(*_CUSTOMER_BY_USER.selected_columns, Customer.source, Customer.external_user_id).where(
    tuple_(Customer.source, Customer.external_user_id).in_(bindparam("users", expanding=True)))


class _CustomerRow(NamedTuple):
    """The customer columns ingest reads (as `_CUSTOMER_BY_USER` returns them)."""

    id: int
    flags: list
    handle: str | None
    name: str | None
    last_seen_at: datetime
    tier: str


class _Known:
    """What a group commit read once for all its messages, kept current as it writes: the
    stored inbound ids, the authors' customer rows (both None for a lone message: the unique key
    refuses its second delivery, and it reads its own customer row)."""

    __slots__ = ("inbound", "customers")

    def __init__(self, inbound: set | None = None, customers: dict | None = None) -> None:
        self.inbound: set[tuple[str, str]] | None = inbound
        self.customers: dict[tuple[str, str], _CustomerRow] | None = customers

    @classmethod
    def of_batch(cls, conn: UnitOfWork, messages: Sequence[InboundMessage]) -> _Known:
        wanted = {(message.source, message.external_id) for message in messages}
        stored = {tuple(row) for row in conn.execute(
            _INBOUND_OF_BATCH, {"ids": sorted({external_id for _, external_id in wanted})})} & wanted
        users = sorted({(message.source, message.author.id) for message in messages})
        customers = {(row.source, row.external_user_id):
                     _CustomerRow(row.id, row.flags, row.handle, row.name, row.last_seen_at, row.tier)
                     for row in conn.execute(_CUSTOMERS_OF_BATCH, {"users": users})}
        return cls(stored, customers)


def _insert(conn: Connection, model, values: dict) -> int:
    """INSERT one row and return its id (RETURNING works on SQLite ≥ 3.35 and PostgreSQL).

    Values go in as parameters of a prebuilt statement: `.values(**row)` would build and
    compile a new statement per message.
    """
    return conn.execute(_INSERTS[model], values).scalar()
