"""Flood (炎上) detection and incidents: a service ingest calls before a message lands (`plan`).

Keys: one post (`post:<source>:<account>:<conversation or replied-to id>`) and one topic
(`topic:<keyword rule id>` for the rules listed in `flood.topics`).

Counting works across replicas because it lives in the database, in the ingest transaction:
- the cheap count: one upsert per key on `flood_counts` (key, fixed bucket of `window`),
  returning the bucket's count and the count at which the next full check is due;
- the full check, only when that count is reached: messages, distinct authors and negative
  share over the sliding `window` from `flood_hits` (one row per message per key), since the
  key's last incident ended. A failed check is retried after another quarter of
  `min_messages`, so a busy key that is not a flood costs one upsert and one insert a message.
The upsert holds the bucket row locked until commit (PostgreSQL), which serialises the replicas
deciding about one key: the second one re-reads `incidents` after its upsert and joins the
incident the first one opened (`open_key` is unique besides).

While an incident is open, a message of its key that would open a new ticket, or that threads
into the incident ticket itself, is *collected*: stored on the incident ticket with one
`incident_message` event and no row lock on the ticket, no thread line, no page. Surfaces turn
those events into coalesced outbox rows (one per incident per second, see `OutboxRow.coalesce`).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Integer, bindparam, cast, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from chatops.inbound import InboundMessage
from chatops.oncall.models import Page
from chatops.oncall.pages import PagingService
from chatops.rules.flood import FloodConfig
from chatops.rules.sentiment import negative_words
from chatops.sla.service import SlaService
from chatops.tickets.models import FloodCount, FloodHit, Incident, Message, Ticket
from chatops.tickets.record import Recorder
from chatops.tickets.transitions import raised

FLOOD_ACTOR = "chatops:flood"


@dataclass(frozen=True)
class FloodPlan:
    """What the flood step decided for one message before it lands on a ticket."""

    keys: tuple[str, ...]
    negative: bool
    collect_on: int | None = None  # an open incident's ticket takes the message
    collect_channel: str | None = None  # that ticket's channel
    open_key: str | None = None  # this message's ticket becomes the incident of this key
    stats: dict | None = None  # what crossed the thresholds

    def collecting(self, incident) -> FloodPlan:
        """This plan, collected by `incident` (a row of its ticket id and channel)."""
        return replace(self, collect_on=incident.ticket_id, collect_channel=incident.channel)


@dataclass(frozen=True)
class IncidentStats:
    """The live figures an incident's parent message shows."""

    incident_id: int
    key: str
    count: int
    authors: int
    negative_share: float
    rate_per_min: int
    since: datetime
    closed_at: datetime | None


def flood_keys(config: FloodConfig, message: InboundMessage, matched: list[str]) -> tuple[str, ...]:
    """The flood keys of a message: its post (when it replies to one) and its topics."""
    keys = []
    post = message.conversation_id or message.in_reply_to
    if config.posts and post:
        keys.append(_short(f"post:{message.source}:{message.account}:{post}"))
    keys.extend(f"topic:{rule}" for rule in matched if rule in config.topics)
    return tuple(keys)


def _short(key: str) -> str:
    return key if len(key) <= 255 else key[:200] + ":" + hashlib.sha256(key.encode()).hexdigest()


class FloodService:
    """Counts flood keys and runs incidents; events through `recorder`, re-pricing through `sla`,
    pages through `paging`."""

    def __init__(self, rules, recorder: Recorder, sla: SlaService, paging: PagingService) -> None:
        self.rules = rules
        self.recorder = recorder
        self.sla = sla
        self.paging = paging

    # -- before landing: collect, or count and decide -----------------------------------------

    def plan(self, conn, message: InboundMessage, ticket_id: int | None, triage,
                    now: datetime) -> FloodPlan | None:
        config = self.rules.flood
        keys = flood_keys(config, message, triage.matched)
        if not keys:
            return None
        negative = bool(set(triage.tags) & set(config.negative_tags)) or (
            config.negative_words and bool(negative_words(message.text or "")))
        plan = FloodPlan(keys, negative)
        collect = self._collector(conn, keys, ticket_id)
        if collect is not None:
            return plan.collecting(collect)
        self._hits(conn, [{"key": key, "author": message.author.id, "negative": negative, "at": now}
                          for key in keys])
        window = config.window.total_seconds()
        bucket = int(now.timestamp() // window)
        for key in keys:
            eligible = ticket_id is None or key.startswith("post:")
            count, next_check = conn.execute(_upsert_count(conn), {
                "key": key, "bucket": bucket, "first_check": config.min_messages}).one()
            if not eligible or count < next_check:
                continue
            # Another replica may have opened the incident while we waited for the row lock.
            collect = self._collector(conn, keys, ticket_id, fresh=True)
            if collect is not None:
                return plan.collecting(collect)
            if ticket_id is not None and not self._ticket_of_post(conn, ticket_id, key):
                continue
            conn.execute(_SET_NEXT_CHECK, {"k": key, "b": bucket,
                                           "next": count + max(1, config.min_messages // 4)})
            stats = self._full_check(conn, key, now)
            if stats is not None:
                return replace(plan, open_key=key, stats=stats)
        return plan

    def _collector(self, conn, keys: tuple[str, ...], ticket_id: int | None, *, fresh: bool = False):
        """The incident that collects this message (a row of its ticket id and channel), if one
        of its keys has an open one. The transaction's open incidents are read once (they are
        few) and kept current by `open_incident`; `fresh` reads this message's keys again."""
        known = _open_incidents(conn)
        if fresh:
            known.update({row.open_key: row for row in conn.execute(_OPEN_INCIDENTS, {"keys": list(keys)})})
        open_tickets = {key: known[key] for key in keys if key in known}
        if not open_tickets:
            return None
        if ticket_id is not None:  # a follow-up lands on its own ticket (which may be the incident)
            return next((found for found in open_tickets.values() if found.ticket_id == ticket_id), None)
        return next(open_tickets[key] for key in keys if key in open_tickets)

    @staticmethod
    def _ticket_of_post(conn: Connection, ticket_id: int, key: str) -> bool:
        post = key.rsplit(":", 1)[-1]
        return conn.scalar(select(Ticket.id).where(
            Ticket.id == ticket_id, or_(Ticket.conversation_id == post, Ticket.external_id == post))) is not None

    def _full_check(self, conn: Connection, key: str, now: datetime) -> dict | None:
        """Messages, authors and negative share of `key` over the window (since its last incident
        ended); the figures when every threshold is met, else None."""
        config = self.rules.flood
        self.flush(conn)  # the held hits count too
        since = now - config.window
        ended = conn.scalar(select(func.max(Incident.closed_at)).where(Incident.key == key))
        if ended is not None and ended > since:
            since = ended
        count, authors, negatives, first = conn.execute(
            select(func.count(), func.count(FloodHit.author.distinct()),
                   func.coalesce(func.sum(cast(FloodHit.negative, Integer)), 0), func.min(FloodHit.at))
            .where(FloodHit.key == key, FloodHit.at > since)).one()
        share = negatives / count if count else 0.0
        if count < config.min_messages or authors < config.min_authors or share < config.min_negative_share:
            return None
        minutes = max((now - first).total_seconds(), 1.0) / 60 if first else 1.0
        return {"key": key, "count": count, "authors": authors, "negative_share": round(share, 3),
                "rate_per_min": math.ceil(count / minutes)}

    def raised_triage(self, plan: FloodPlan, triage):
        """The triage of a new ticket that opens an incident: raised, in the flood channel."""
        config = self.rules.flood
        changes = {}
        if raised(triage.priority, config.priority, self.rules.priorities):
            changes["priority"] = config.priority
        if config.channel:
            changes["channel"] = config.channel
        return replace(triage, **changes) if changes else triage

    # -- collecting ---------------------------------------------------------------------------

    def collect(self, conn, plan: FloodPlan, message_row: dict, now: datetime) -> tuple[int, int]:
        """Store the message on the incident ticket: (ticket id, message id). No ticket row lock:
        a flood writes here hundreds of times a second."""
        ticket_id = plan.collect_on
        message_id = conn.execute(_INSERT_MESSAGE, {**message_row, "ticket_id": ticket_id}).scalar()
        payload = {"message_id": message_id, "negative": plan.negative}
        self._hits(conn, [{"key": key, "author": message_row["author_id"], "negative": plan.negative, "at": now}
                          for key in plan.keys])
        # Members of an incident are not counted by the read models: announced, not projected.
        self.recorder.record(conn, ticket_id=ticket_id, kind="incident_message",
                             actor=f"customer:{message_row['customer_id']}", at=now, channel=plan.collect_channel,
                             assignee=None, payload=payload, project=False)
        return ticket_id, message_id

    # -- opening ------------------------------------------------------------------------------

    def open_incident(self, conn, plan: FloodPlan, ticket_id: int, tier: str, now: datetime) -> bool:
        """Make `ticket_id` the incident of `plan.open_key`: raise it, write `incident_opened`,
        and page once (unless the ticket has an open page already). False when another
        transaction opened it first."""
        config = self.rules.flood
        created = conn.execute(_insert_incident(conn), {
            "key": plan.open_key, "open_key": plan.open_key, "ticket_id": ticket_id, "opened_at": now,
            "stats": plan.stats}).first()
        if created is None:
            return False
        row = conn.execute(_TICKET_ROW, {"tid": ticket_id}).one()
        _open_incidents(conn)[plan.open_key] = _OpenIncident(plan.open_key, ticket_id, row.channel)
        payload = {**plan.stats, "incident_id": created.id}
        changes: dict = {}
        if raised(row.priority, config.priority, self.rules.priorities):
            changes["priority"] = config.priority
            payload.update(priority_from=row.priority, priority_to=config.priority)
            self.sla.continued(conn, ticket_id, row.status, changes, now,  # re-price (may page: the one page)
                              customer_wrote=False)
        if changes:
            conn.execute(_UPDATE_TICKET, {"tid": ticket_id, "now": now, **changes})
        policy = config.page or self.rules.oncall.policy_for("priority", config.priority, tier)
        if config.paging and policy and conn.scalar(_OPEN_PAGE, {"tid": ticket_id}) is None:
            self.paging.open_page(conn, ticket_id=ticket_id, reason=f"T-{ticket_id}:incident:{created.id}",
                            policy=policy, now=now)
        self.recorder.record(conn, ticket_id=ticket_id, kind="incident_opened", actor=FLOOD_ACTOR, at=now,
                           channel=row.channel, assignee=row.assignee, payload=payload)
        return True

    # -- hits held in a group commit -----------------------------------------------------------

    @staticmethod
    def _hits(conn, rows: list[dict]) -> None:
        """Insert flood hits; a group commit holds them to write in one statement (`flush`)."""
        if getattr(conn, "batched", False):
            conn.cache.setdefault(_HELD_HITS, []).extend(rows)
        else:
            conn.execute(_INSERT_HIT, rows)

    @staticmethod
    def flush(conn) -> None:
        """Write the hits a group commit holds (before a full check reads them, and at its end)."""
        held = conn.cache.pop(_HELD_HITS, None) if getattr(conn, "batched", False) else None
        if held:
            conn.execute(_INSERT_HIT, held)

    # -- ending and housekeeping --------------------------------------------------------------

    def prune(self, conn: Connection, now: datetime) -> None:
        """Forget counts and hits older than the window (the scheduler leader, every tick)."""
        window = self.rules.flood.window
        conn.execute(FloodHit.__table__.delete().where(FloodHit.at < now - window))
        bucket = int(now.timestamp() // window.total_seconds())
        conn.execute(FloodCount.__table__.delete().where(FloodCount.bucket < bucket - 1))


def close_incidents(db: Session | Connection, *, ticket_id: int, now: datetime) -> None:
    """The ticket was resolved: its incident ends; a later spike opens a new one."""
    db.execute(update(Incident).where(Incident.ticket_id == ticket_id, Incident.open_key.is_not(None))
               .values(open_key=None, closed_at=now))


def incident_stats(db: Session | Connection, ticket_id: int, now: datetime) -> IncidentStats | None:
    """Live figures of the ticket's incident: inbound messages on the ticket, distinct authors,
    negative share (of the key's counted messages since the incident began), messages in the
    last minute, and since when. None when the ticket never was an incident."""
    incident = db.execute(select(Incident.id, Incident.key, Incident.opened_at, Incident.closed_at)
                          .where(Incident.ticket_id == ticket_id).order_by(Incident.id.desc()).limit(1)).first()
    if incident is None:
        return None
    count, authors, first = db.execute(
        select(func.count(), func.count(Message.author_id.distinct()), func.min(Message.created_at))
        .where(Message.ticket_id == ticket_id, Message.direction == "inbound")).one()
    recent = db.scalar(select(func.count()).select_from(Message).where(
        Message.ticket_id == ticket_id, Message.direction == "inbound", Message.received_at > now - timedelta(minutes=1)))
    hits, negatives = db.execute(
        select(func.count(), func.coalesce(func.sum(cast(FloodHit.negative, Integer)), 0))
        .where(FloodHit.key == incident.key, FloodHit.at >= incident.opened_at)).one()
    return IncidentStats(incident_id=incident.id, key=incident.key, count=count, authors=authors,
                         negative_share=(negatives / hits) if hits else 0.0, rate_per_min=recent or 0,
                         since=min(first, incident.opened_at) if first else incident.opened_at,
                         closed_at=incident.closed_at)


def has_open_incident(db: Session | Connection, ticket_id: int) -> bool:
    """True while the ticket is an open flood incident."""
    return db.scalar(select(Incident.id).where(Incident.ticket_id == ticket_id, Incident.open_key.is_not(None))
                     .limit(1)) is not None


DIGEST_GRACE = 0.25  # a digest waits this long past its period for transactions in flight


def digest_period(config: FloodConfig, at: datetime) -> tuple[int, float, float]:
    """(index, start, end) as Unix times of the digest period `at` falls in."""
    every = config.digest_every.total_seconds()
    index = int(at.timestamp() // every)
    return index, index * every, (index + 1) * every


def collected_messages(db: Session | Connection, ticket_id: int, *, since: datetime | None, until: datetime,
                       limit: int = 5) -> tuple[int, list]:
    """(how many, newest `limit` rows) of the ticket's inbound messages received in [since, until)."""
    where = [Message.ticket_id == ticket_id, Message.direction == "inbound", Message.received_at < until]
    if since is not None:
        where.append(Message.received_at >= since)
    count = db.scalar(select(func.count()).select_from(Message).where(*where))
    rows = db.execute(select(Message.author_handle, Message.author_name, Message.text, Message.url)
                      .where(*where).order_by(Message.received_at.desc(), Message.id.desc()).limit(limit)).all()
    return count or 0, list(rows)


_INSERT_HIT = insert(FloodHit)
_HELD_HITS = "flood.hits"
_OPEN_INCIDENTS_KNOWN = "flood.open_incidents"
_ALL_OPEN_INCIDENTS = (select(Incident.open_key, Incident.ticket_id, Ticket.channel)
                       .join(Ticket, Ticket.id == Incident.ticket_id).where(Incident.open_key.is_not(None)))


class _OpenIncident(NamedTuple):
    open_key: str
    ticket_id: int
    channel: str


def _open_incidents(conn) -> dict:
    """The open incidents by key, read once per transaction (a UnitOfWork keeps them in `cache`)."""
    cache = getattr(conn, "cache", None)
    if cache is None:
        return {row.open_key: row for row in conn.execute(_ALL_OPEN_INCIDENTS)}
    if _OPEN_INCIDENTS_KNOWN not in cache:
        cache[_OPEN_INCIDENTS_KNOWN] = {row.open_key: row for row in conn.execute(_ALL_OPEN_INCIDENTS)}
    return cache[_OPEN_INCIDENTS_KNOWN]
_INSERT_MESSAGE = insert(Message).returning(Message.id)
# the incident's ticket and its channel in one round trip: every collected message needs both
_OPEN_INCIDENTS = (select(Incident.open_key, Incident.ticket_id, Ticket.channel)
                   .join(Ticket, Ticket.id == Incident.ticket_id)
                   .where(Incident.open_key.in_(bindparam("keys", expanding=True))))
_SET_NEXT_CHECK = update(FloodCount).where(FloodCount.key == bindparam("k"),
                                           FloodCount.bucket == bindparam("b")).values(
    next_check=bindparam("next"))
_TICKET_ROW = select(Ticket.status, Ticket.priority, Ticket.channel, Ticket.assignee).where(
    Ticket.id == bindparam("tid")).with_for_update()
_UPDATE_TICKET = update(Ticket).where(Ticket.id == bindparam("tid")).values(
    updated_at=bindparam("now"), version=Ticket.version + 1)
_OPEN_PAGE = select(Page.id).where(Page.ticket_id == bindparam("tid"), Page.status != "resolved").limit(1)


def _dialect_insert(conn: Connection):
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


_COUNT_UPSERTS: dict = {}


def _upsert_count(conn: Connection):
    """INSERT … ON CONFLICT DO UPDATE count + 1 RETURNING count, next_check (built once per dialect)."""
    name = conn.dialect.name
    if name not in _COUNT_UPSERTS:
        stmt = _dialect_insert(conn)(FloodCount).values(
            key=bindparam("key"), bucket=bindparam("bucket"), count=1, next_check=bindparam("first_check"))
        _COUNT_UPSERTS[name] = stmt.on_conflict_do_update(
            index_elements=["key", "bucket"], set_={"count": FloodCount.count + 1}
        ).returning(FloodCount.count, FloodCount.next_check)
    return _COUNT_UPSERTS[name]


_INCIDENT_INSERTS: dict = {}


def _insert_incident(conn: Connection):
    """INSERT an incident unless its key already has an open one (RETURNING id, or no row)."""
    name = conn.dialect.name
    if name not in _INCIDENT_INSERTS:
        _INCIDENT_INSERTS[name] = _dialect_insert(conn)(Incident).on_conflict_do_nothing(
            index_elements=["open_key"]).returning(Incident.id)
    return _INCIDENT_INSERTS[name]
