"""Moderating customers' comments on Facebook and Instagram: hide, unhide, delete, and block the
author from the Page (Instagram has no block for businesses), asked for by a person or by a
rules.yaml `moderation:` screen; every step is a ticket event through the recorder and every call
to the network an outbox item (`moderate`) that the network's sink delivers.

- `ModerationService.request` records `moderation_requested` and queues the item in one transaction.
- The outbox's done hook (`done`) records `comment_moderated` (the thread says so, the card shows
  the comment's state); its dead hook (`failed`) records `moderation_failed` with the network's words.
- `screen` (called once by ingest): a comment matching a screen is hidden through the outbox, then
  stored without a ticket (`then: store`) or its ticket tagged (`then: tag`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from chatops.errors import DomainError
from chatops.rules.matcher import KeywordMatcher
from chatops.rules.moderation import ModerationConfig, ModerationRule
from chatops.rules.normalize import normalize
from chatops.tickets import service
from chatops.tickets.events import OutboxRow
from chatops.tickets.models import Message, OutboxItem, Ticket, TicketEvent
from chatops.tickets.record import Recorder, enqueue, unit

# What each network lets a Page or business account do to a comment (Instagram: no block API).
NETWORK_ACTIONS = {"facebook": ("hide", "unhide", "delete", "block"), "instagram": ("hide", "unhide", "delete")}
ACTIONS = ("hide", "unhide", "delete", "block")
# The rules.yaml permission each action needs: blocking a person is a lead's call by default.
PERMISSION = {"hide": "moderate", "unhide": "moderate", "delete": "moderate", "block": "block"}
# What a done action leaves the comment as, for the card.
STATE = {"hide": "hidden", "unhide": "visible", "delete": "deleted"}
KIND = "moderate"
DONE_EVENT, FAILED_EVENT, REQUESTED_EVENT = "comment_moderated", "moderation_failed", "moderation_requested"


class ModerationNotOffered(DomainError):
    """The network does not let a business do this (Instagram has no block API)."""

    key = "moderation.not_offered"


class NothingToModerate(DomainError):
    """The ticket has no Facebook or Instagram comment (a DM, or another network)."""

    key = "moderation.no_comment"


class AlreadyDeleted(DomainError):
    """The comment was deleted already: nothing on the network is left to act on."""

    key = "moderation.deleted"


@dataclass(frozen=True)
class ModerationState:
    """What the card shows: the comment's state (hidden / visible / deleted) and a block."""

    comment: str | None = None
    blocked: bool = False


def states_of(session: Session, ticket_ids: list[int]) -> dict[int, ModerationState]:
    """The moderation state per ticket id, from its `comment_moderated` events (only tickets that have any)."""
    found: dict[int, ModerationState] = {}
    if not ticket_ids:
        return found
    rows = session.execute(select(TicketEvent.ticket_id, TicketEvent.payload).where(
        TicketEvent.ticket_id.in_(ticket_ids), TicketEvent.kind == DONE_EVENT).order_by(TicketEvent.id))
    for ticket_id, payload in rows:
        state = found.get(ticket_id, ModerationState())
        action = (payload or {}).get("action")
        if action == "block":
            state = ModerationState(state.comment, True)
        elif action in STATE:
            state = ModerationState(STATE[action], state.blocked)
        found[ticket_id] = state
    return found


def is_comment(message) -> bool:
    """Whether a stored inbound message is a Facebook or Instagram comment chatops can moderate."""
    return message.source in NETWORK_ACTIONS and (
        (message.meta or {}).get("mode") == "comment" or message.kind == "comment")


def _comment_of(session: Session, ticket: Ticket) -> Message | None:
    """The ticket's first inbound Facebook or Instagram comment (the one that opened it)."""
    for message in session.scalars(select(Message).where(
            Message.ticket_id == ticket.id, Message.direction == "inbound",
            Message.source.in_(tuple(NETWORK_ACTIONS))).order_by(Message.id)):
        if is_comment(message):
            return message
    return None


def offered(session: Session, key: str) -> tuple[str, tuple[str, ...]]:
    """The network of ticket `key`'s comment and the actions it offers (a DomainError when none)."""
    ticket = service.get_ticket(session, key=key)
    comment = _comment_of(session, ticket)
    if comment is None:
        raise NothingToModerate(key=ticket.key)
    return comment.source, NETWORK_ACTIONS[comment.source]


def outbox_row(action: str, *, source: str, account: str, external_id: str, meta: dict | None,
               author_id: str | None, actor: str, dedupe: str, rule: str | None = None) -> OutboxRow:
    """The `moderate` item for one stored comment, on the lane of the account it arrived on."""
    payload = {"action": action, "comment_id": (meta or {}).get("comment_id") or external_id,
               "author_id": author_id, "account": account, "source": source, "external_id": external_id,
               "actor": actor, "rule": rule}
    return OutboxRow(target=f"network:{source}", kind=KIND, dedupe_key=dedupe, ordering_key=f"{source}:{account}",
                     payload=payload)


class ModerationService:
    """See the module docstring."""

    def __init__(self, session_factory: sessionmaker[Session], recorder: Recorder,
                 clock: Callable[[], datetime]) -> None:
        self.session_factory = session_factory
        self.recorder = recorder
        self.clock = clock

    def request(self, key: str, *, actor: str, action: str) -> int:
        """Ask the network to `action` the ticket's comment (its author for `block`); the event id."""
        with service.locked_ticket(self.session_factory, key) as (session, ticket):
            comment = _comment_of(session, ticket)
            if comment is None:
                raise NothingToModerate(key=ticket.key)
            if action not in NETWORK_ACTIONS[comment.source]:
                raise ModerationNotOffered(action=action, network=comment.source)
            if action != "block" and states_of(session, [ticket.id]).get(ticket.id, ModerationState()).comment \
                    == "deleted":
                raise AlreadyDeleted(key=ticket.key)
            now = self.clock()
            event = self.recorder.record_ticket(session, ticket, REQUESTED_EVENT, actor, now, action=action,
                                                network=comment.source, comment_id=(comment.meta or {}).get(
                                                    "comment_id") or comment.external_id)
            row = outbox_row(action, source=comment.source, account=comment.account,
                             external_id=comment.external_id, meta=comment.meta, author_id=comment.author_id,
                             actor=actor, dedupe=f"moderate:{event}")
            enqueue(session, [row], ticket_id=ticket.id, at=now)
            return event

    def done(self, session: Session, item: OutboxItem) -> None:
        """Outbox done hook of `moderate`: the ticket (if any) records `comment_moderated`; a
        comment stored without a ticket keeps its state in its message's meta."""
        payload = item.payload
        ticket, message = self._ticket_of(session, item)
        if message is not None and payload["action"] in STATE:
            message.meta = {**(message.meta or {}), "moderation": STATE[payload["action"]]}
        if ticket is not None:
            self.recorder.record_ticket(session, ticket, DONE_EVENT, payload["actor"], self.clock(),
                                        action=payload["action"], network=payload["source"],
                                        comment_id=payload["comment_id"], rule=payload.get("rule"))

    def failed(self, session: Session, item: OutboxItem) -> None:
        """Outbox dead hook of `moderate`: `moderation_failed` with the network's words."""
        payload = item.payload
        ticket, message = self._ticket_of(session, item)
        if message is not None and ticket is None:
            message.meta = {**(message.meta or {}), "moderation": "failed", "moderation_error": item.last_error}
        if ticket is not None:
            self.recorder.record_ticket(session, ticket, FAILED_EVENT, payload["actor"], self.clock(),
                                        action=payload["action"], network=payload["source"],
                                        reason=graph_reason(item.last_error or ""), rule=payload.get("rule"))

    @staticmethod
    def _ticket_of(session: Session, item: OutboxItem) -> tuple[Ticket | None, Message | None]:
        payload = item.payload
        message = session.scalars(select(Message).where(
            Message.source == payload["source"], Message.external_id == payload["external_id"],
            Message.direction == "inbound").limit(1)).first()
        ticket_id = item.ticket_id or (message.ticket_id if message is not None else None)
        return (session.get(Ticket, ticket_id) if ticket_id else None), message


_GRAPH_MESSAGE = re.compile(r'"message"\s*:\s*"((?:[^"\\]|\\.)*)"')


def graph_reason(error: str) -> str:
    """The Graph API's own `error.message` when the deliverer's reason carries its error body."""
    match = _GRAPH_MESSAGE.search(error)
    if not match:
        return error
    prefix = error.split(":", 1)[0]
    return f"{prefix}: {match.group(1)}"


# -- rules.yaml `moderation:` screens, applied at ingest ------------------------------------------

class _Screens:
    """One moderation config compiled: a keyword matcher per kana setting and the regexes."""

    def __init__(self, config: ModerationConfig) -> None:
        self.config = config
        entries = []
        self.owner: list[int] = []
        for index, rule in enumerate(config.rules):
            for keyword in rule.any_of:
                entries.append((normalize(keyword, kana=rule.kana), len(self.owner), rule.kana))
                self.owner.append(index)
        self.matcher = KeywordMatcher(entries) if entries else None
        self.patterns = [[re.compile(p, re.IGNORECASE) for p in rule.regex] for rule in config.rules]

    def match(self, text: str, source: str) -> ModerationRule | None:
        """The first screen (in rules.yaml order) that the text trips, for a comment on `source`."""
        normalized = normalize(text)
        hit: set[int] = set()
        if self.matcher is not None:
            self.matcher.find(normalized, hit)
        rules_hit = {self.owner[keyword] for keyword in hit}
        for index, rule in enumerate(self.config.rules):
            if source not in rule.networks:
                continue
            if index in rules_hit or any(p.search(text) or p.search(normalized) for p in self.patterns[index]):
                return rule
        return None


_COMPILED: dict[int, _Screens] = {}
_INSERT_MESSAGE = insert(Message).returning(Message.id)


def _screens(config: ModerationConfig) -> _Screens:
    screens = _COMPILED.get(id(config))
    if screens is None or screens.config is not config:
        screens = _COMPILED[id(config)] = _Screens(config)
    return screens


def screen(db, rules, message, message_row: dict[str, Any], triage, now: datetime) -> int | None:
    """In ingest's transaction: when a screen matches this comment, queue its hide and either
    store it without a ticket (the message id) or add the screen's tag to `triage` (None: go on)."""
    config = rules.moderation
    if not config.rules or message.source not in NETWORK_ACTIONS or (message.meta or {}).get("mode") != "comment":
        return None
    rule = _screens(config).match(message.text or "", message.source)
    if rule is None:
        return None
    uow = unit(db)
    message_row["meta"] = {**(message_row.get("meta") or {}), "moderation_rule": rule.id}
    actor = f"chatops:moderation:{rule.id}"
    row = outbox_row(rule.action, source=message.source, account=message.account, external_id=message.external_id,
                     meta=message_row["meta"], author_id=message.author.id, actor=actor, rule=rule.id,
                     dedupe=f"moderate:{message.source}:{message.external_id}:{rule.action}")
    enqueue(uow, [row], at=now)
    if rule.then == "store":
        message_row["meta"]["moderation"] = "stored"
        return uow.execute(_INSERT_MESSAGE, message_row).scalar_one()
    if rule.tag not in triage.tags:
        triage.tags.append(rule.tag)
    return None


def stored_count(session: Session) -> dict[str, dict[str, int]]:
    """Comments a screen kept without a ticket, by network: how many, and how many of their hides
    the network refused (`chatops moderation stored` shows both)."""
    counts: dict[str, dict[str, int]] = {}
    for source, meta in session.execute(select(Message.source, Message.meta).where(
            Message.ticket_id.is_(None), Message.direction == "inbound", Message.source.in_(tuple(NETWORK_ACTIONS)))):
        if (meta or {}).get("moderation_rule"):
            count = counts.setdefault(source, {"stored": 0, "hide_failed": 0})
            count["stored"] += 1
            count["hide_failed"] += (meta or {}).get("moderation") == "failed"
    return counts


__all__ = ["ACTIONS", "NETWORK_ACTIONS", "PERMISSION", "ModerationService", "ModerationState", "screen",
           "states_of", "stored_count"]
