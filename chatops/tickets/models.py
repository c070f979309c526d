"""SQLAlchemy models: customers, tickets, messages, append-only ticket events, outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chatops.db import Base, UTCDateTime, utcnow
from chatops.sla.state import OPEN_UNANSWERED_SQL, RUNNING_SQL

# BigInteger ids on PostgreSQL, but SQLite only auto-increments a plain INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")

STATUSES = ("new", "open", "pending", "resolved")
PRIORITIES = ("red", "orange", "green")
LEVELS = ("L1", "L2", "L3")
DIRECTIONS = ("inbound", "outbound", "note")
TIERS = ("standard", "premium")
CUSTOMER_FLAGS = ("vip", "troll", "blocked")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Customer(Base):
    """One person on one network; `linked_to_id` joins the same person across networks."""

    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("source", "external_user_id"),
        CheckConstraint(_in("tier", TIERS), name="tier"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    external_user_id: Mapped[str] = mapped_column(String(255))
    # Indexed: ingest's link suggestion looks the same handle up on the other networks.
    handle: Mapped[str | None] = mapped_column(String(255), index=True)
    name: Mapped[str | None] = mapped_column(String(255))
    tier: Mapped[str] = mapped_column(String(16), default="standard")
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Indexed: a record's linked records are found by it (chatops.customers.keys.group_of).
    linked_to_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def blocked(self) -> bool:
        """True when agents flagged this customer as blocked (messages kept, no ticket)."""
        return "blocked" in (self.flags or [])


class Ticket(Base):
    """A customer's case: one thread in a team channel, worked to resolution."""

    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint(_in("priority", PRIORITIES), name="priority"),
        CheckConstraint(_in("level", LEVELS), name="level"),
        Index(None, "source", "account", "conversation_id"),
        Index(None, "customer_id", "account", "last_customer_message_at"),
        Index(None, "status", "priority", "created_at"),
        Index(None, "created_at"),
        Index(None, "assignee", "status"),
        Index(None, "sla_next_at"),
        # Overdue-now counts (chatops.sla.state.overdue_clause) read only open tickets, by priority.
        Index("ix_tickets_overdue_fr", "first_response_due_at", "priority",
              sqlite_where=text(OPEN_UNANSWERED_SQL), postgresql_where=text(OPEN_UNANSWERED_SQL)),
        Index("ix_tickets_overdue_res", "resolution_due_at", "priority",
              sqlite_where=text(RUNNING_SQL), postgresql_where=text(RUNNING_SQL)),
        Index("ix_tickets_overdue_next", "next_response_due_at", "priority",
              sqlite_where=text(RUNNING_SQL), postgresql_where=text(RUNNING_SQL)),
        # Saved views count tickets by channel (chatops.tickets.saved_views) from the index alone.
        Index("ix_tickets_channel_status", "channel", "status", "priority"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(255))
    external_id: Mapped[str] = mapped_column(String(255))
    conversation_id: Mapped[str | None] = mapped_column(String(255))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    status: Mapped[str] = mapped_column(String(16), default="new")
    priority: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(4))
    channel: Mapped[str] = mapped_column(String(80))
    assignee: Mapped[str | None] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200))
    lang: Mapped[str | None] = mapped_column(String(8))
    matched_rules: Mapped[list[str]] = mapped_column(JSON, default=list)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    notify: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    last_customer_message_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # SLA clock (chatops.sla): warning moments, the next moment the scheduler acts, pause start.
    first_response_warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set while a customer who wrote again on an answered ticket waits on the next answer.
    next_response_warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_next_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopened_count: Mapped[int] = mapped_column(Integer, default=0)
    csat_score: Mapped[int | None] = mapped_column(Integer)
    csat_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # rating request sent
    csat_rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The customer's earlier, long-resolved ticket this one continues (rules.yaml `threading.reopen_days`).
    follows_ticket_id: Mapped[int | None] = mapped_column(Id, ForeignKey("tickets.id"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    customer: Mapped[Customer] = relationship(lazy="joined", innerjoin=True)
    tag_rows: Mapped[list[TicketTag]] = relationship(
        cascade="all, delete-orphan", order_by="TicketTag.tag", lazy="selectin"
    )

    # Concurrent writers to one ticket conflict (StaleDataError) instead of losing an update.
    __mapper_args__ = {"version_id_col": version}

    @property
    def key(self) -> str:
        """The short key people type and read, e.g. `T-1042`."""
        return f"T-{self.id}"

    @property
    def tags(self) -> list[str]:
        """Tags in alphabetical order."""
        return sorted(row.tag for row in self.tag_rows)


class TicketTag(Base):
    """One tag on one ticket (a table, so stats can filter by tag on an index)."""

    __tablename__ = "ticket_tags"
    __table_args__ = (Index(None, "tag", "ticket_id"),)

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)


FAILED_SQL = "delivery_state = 'failed'"


class Message(Base):
    """What the customer wrote (inbound), what we sent (outbound), or an agent's internal note."""

    __tablename__ = "messages"
    __table_args__ = (
        # Ingest idempotency: one inbound row per (network, network's message id).
        UniqueConstraint("direction", "source", "external_id"),
        CheckConstraint(_in("direction", DIRECTIONS), name="direction"),
        Index(None, "ticket_id", "created_at"),
        # Threading by conversation takes the newest message of it (`id` last: a backward index
        # scan reads one row, where (source, conversation_id) read every reply under a busy post).
        Index(None, "source", "conversation_id", "id"),
        Index(None, "source", "external_id"),
        # Failed replies (App Home's top section, /metrics) are few: read them without a scan.
        Index("ix_messages_failed", "ticket_id", sqlite_where=text(FAILED_SQL), postgresql_where=text(FAILED_SQL)),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    direction: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str | None] = mapped_column(String(16))
    external_id: Mapped[str | None] = mapped_column(String(255))
    conversation_id: Mapped[str | None] = mapped_column(String(255))
    in_reply_to: Mapped[str | None] = mapped_column(String(255))
    author_id: Mapped[str | None] = mapped_column(String(255))
    author_handle: Mapped[str | None] = mapped_column(String(255))
    author_name: Mapped[str | None] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(2048))
    lang: Mapped[str | None] = mapped_column(String(8))
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # network reply context (InboundMessage.meta)
    # Inbound media (InboundMessage.attachments as dicts: type, url, alt, ref, name).
    attachments: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # The customer edited (text is the latest; the earlier one is in the `message_edited` event)
    # or deleted the message on the network; the row stays, as the ticket does.
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Outbound only: queued → sent (the network accepted it) | failed (with the deliverer's reason).
    delivery_state: Mapped[str | None] = mapped_column(String(16))
    delivery_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    ticket: Mapped[Ticket | None] = relationship()
    customer: Mapped[Customer | None] = relationship()


class TicketEvent(Base):
    """Append-only audit: one row for every change to a ticket, with actor, time and payload."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index(None, "ticket_id", "id"), Index(None, "kind", "at"))

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


@event.listens_for(TicketEvent, "before_update")
@event.listens_for(TicketEvent, "before_delete")
def _events_are_append_only(_mapper, _conn, target: TicketEvent) -> None:
    raise RuntimeError(f"ticket event {target.id} is append-only")


class OutboxItem(Base):
    """A side effect waiting to leave (Slack post, network reply, page): durable and deduplicated."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("dedupe_key"),
        CheckConstraint(_in("state", ("pending", "done", "dead")), name="state"),
        Index(None, "state", "next_attempt_at"),
        Index(None, "ordering_key", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    target: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    dedupe_key: Mapped[str] = mapped_column(String(255))
    ordering_key: Mapped[str | None] = mapped_column(String(255))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    # An earlier attempt may have been carried out by the remote without us learning it (a crash
    # mid-call, a timeout): deliverers that can look (Slack) check before sending again.
    in_doubt: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Goes before every other pending item of its lane (an incident's parent post: a channel
    # that fills with the flood's first tickets must show the incident first, not 30 s later).
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxLane(Base):
    """Pacing per ordering key (a Slack channel, a network account): nothing in the lane is
    delivered before `not_before`. A row, not memory, so several replicas share the pace."""

    __tablename__ = "outbox_lanes"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)


class SurfaceThread(Base):
    """Where a ticket's thread lives on a chat surface (Slack channel + parent message ts)."""

    __tablename__ = "surface_threads"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    surface: Mapped[str] = mapped_column(String(16), primary_key=True)
    channel: Mapped[str] = mapped_column(String(80))
    ts: Mapped[str] = mapped_column(String(64))
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("surface", "channel", "ts"),)


class SeenDelivery(Base):
    """Inbound deliveries already handled (Slack event ids, LINE webhookEventIds, ...): a
    platform's retry of one finds its row and changes nothing."""

    __tablename__ = "seen_deliveries"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class IntegrationState(Base):
    """Durable state of an integration: poll cursors, tokens, health alerts raised.
    Survives restarts; `name` is e.g. `x:mentions:<account>`."""

    __tablename__ = "integration_state"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Incident(Base):
    """A flood (炎上) collected on one ticket. `open_key` is the flood key while the incident is
    open and NULL once it ends: unique, so two replicas racing to open one open exactly one."""

    __tablename__ = "incidents"
    __table_args__ = (UniqueConstraint("open_key"), Index(None, "ticket_id"), Index(None, "key", "closed_at"))

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(255))
    open_key: Mapped[str | None] = mapped_column(String(255))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # what crossed the thresholds


class FloodCount(Base):
    """Messages per flood key per time bucket (the cheap count, upserted by ingest), and the count
    at which the next full check runs (so a hot key is not re-checked on every message)."""

    __tablename__ = "flood_counts"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    next_check: Mapped[int] = mapped_column(Integer, default=0)


class FloodHit(Base):
    """One message of a flood key: what the full check counts (authors, negative share)."""

    __tablename__ = "flood_hits"
    __table_args__ = (Index(None, "key", "at"), Index(None, "at"))

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(255))
    author: Mapped[str] = mapped_column(String(255))
    negative: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class BotConversation(Base):
    """A conversation the Teams bot can post into without being spoken to first (a conversation
    reference, stored from `conversationUpdate` / `installationUpdate`): a team channel, a
    group chat or a person's chat with the bot, with the Bot Connector's `serviceUrl` for it."""

    __tablename__ = "bot_conversations"
    __table_args__ = (Index(None, "channel_id"), Index(None, "user_aad"))

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # the conversation id
    kind: Mapped[str] = mapped_column(String(16))  # channel | groupChat | personal
    service_url: Mapped[str] = mapped_column(String(512))
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    team_id: Mapped[str | None] = mapped_column(String(255))
    channel_id: Mapped[str | None] = mapped_column(String(255))
    user_aad: Mapped[str | None] = mapped_column(String(64))  # personal: the person's AAD object id
    user_id: Mapped[str | None] = mapped_column(String(255))  # personal: their Teams id (`29:…`)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BotThread(Base):
    """Where the Teams bot posted a ticket's card: the channel thread's conversation and the
    card's activity id (updated in place; the change log goes in as replies)."""

    __tablename__ = "bot_threads"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(255))
    activity_id: Mapped[str] = mapped_column(String(255))
    service_url: Mapped[str] = mapped_column(String(512))
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IssueLink(Base):
    """A tracker issue created from a ticket (Jira `ACME-123`, GitHub `acme/app#45`): the
    ticket's side of the two-way link, and how a tracker's webhook finds its ticket."""

    __tablename__ = "issue_links"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    tracker: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="open")
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("tracker", "key"),
                      CheckConstraint("state IN ('open', 'closed')", name="state"))


class SavedView(Base):
    """One agent's saved ticket filter (App Home, `/ticket views`): a name and the filters
    (chatops.tickets.saved_views.ViewFilters as JSON), in the agent's own order."""

    __tablename__ = "saved_views"
    __table_args__ = (UniqueConstraint("user_id", "name"), Index(None, "user_id", "position"))

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(Integer, default=0)
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SavedViewUser(Base):
    """An agent's saved-views state: when their default views were given (once, so deleting
    them all does not bring them back) and which view their Home tab shows."""

    __tablename__ = "saved_view_users"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seeded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    shown_view_id: Mapped[int | None] = mapped_column(Id, ForeignKey("saved_views.id", ondelete="SET NULL"))
