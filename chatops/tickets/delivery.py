"""Replies to customers: queueing one (the only way a reply leaves), what an outbound message is,
and why its delivery gave up, as words every surface translates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert

from chatops.tickets.events import OutboxRow
from chatops.tickets.models import Message
from chatops.tickets.record import enqueue, unit

# The event a permanent delivery failure writes, by what was being sent (see `reply_kind`).
FAILED_EVENT = {"reply": "reply_failed", "csat": "csat_request_failed", "auto_reply": "auto_reply_failed"}
_HTTP_4XX = re.compile(r"\b4\d\d\b")


def reply_kind(message: Message) -> str:
    """What an outbound message is: an agent's `reply`, a `csat` rating request, or an
    `auto_reply` chatops wrote itself (the offline answer: authors `chatops` / `chatops:…`)."""
    if message.kind == "csat":
        return "csat"
    author = str(message.author_id or "")
    return "auto_reply" if author == "chatops" or author.startswith("chatops:") else "reply"


def failure_cause(reason: str) -> str:
    """The kind of a deliverer's reason for giving up (its text is the integration's, in English):
    `no_target` (nothing to reply to), `not_configured` (the account is not set up here),
    `too_long`, `window_closed` (Messenger's / Instagram's reply window is over), `refused` (the
    network said no), else `unreachable` (retries ran out)."""
    low = (reason or "").lower()
    if "window closed" in low:
        return "window_closed"
    if " to reply to" in low or " to push to" in low:
        return "no_target"
    if "is not configured" in low:
        return "not_configured"
    if " takes " in low and "long" in low:
        return "too_long"
    if "refused" in low or _HTTP_4XX.search(low):
        return "refused"
    return "unreachable"


@dataclass(frozen=True)
class ReplyTo:
    """What a reply answers: the customer's message (its id, thread, network extras, author)."""

    external_id: str | None = None
    conversation_id: str | None = None
    meta: dict[str, Any] | None = None
    author_id: str | None = None
    kind: str | None = None
    at: datetime | None = None  # when the customer wrote it (reply windows count from here)

    @classmethod
    def of(cls, message) -> ReplyTo:
        """From a stored inbound Message (or a row with the same columns); empty for None."""
        if message is None:
            return cls()
        return cls(message.external_id, message.conversation_id, dict(message.meta or {}), message.author_id,
                   getattr(message, "kind", None), getattr(message, "created_at", None))


def reply_payload(message_id: int, account: str, text: str, reply_to: ReplyTo) -> dict[str, Any]:
    """The outbox payload a network deliverer reads for one reply."""
    return {"message_id": message_id, "account": account, "text": text, "in_reply_to": reply_to.external_id,
            "conversation_id": reply_to.conversation_id, "reply_meta": reply_to.meta or {},
            "author_id": reply_to.author_id, "answers_kind": reply_to.kind,
            "answers_at": reply_to.at.isoformat() if reply_to.at else None}


def queue_reply(db, *, ticket_id: int, source: str, account: str, text: str, author_id: str, at: datetime,
                dedupe_key: str | None, reply_to: ReplyTo, kind: str | None = None,
                customer_id: int | None = None) -> int:
    """Store an outbound message (`queued`) and queue it to the network and account it answers,
    in the caller's transaction; the message id. Every reply chatops sends goes through here:
    an agent's, the offline auto-reply, a CSAT request. Without `dedupe_key` the message id names it."""
    uow = unit(db)
    message_id = uow.execute(_INSERT_MESSAGE, {
        "ticket_id": ticket_id, "customer_id": customer_id, "direction": "outbound", "source": source,
        "account": account, "kind": kind, "author_id": author_id, "text": text,
        "conversation_id": reply_to.conversation_id, "in_reply_to": reply_to.external_id,
        "created_at": at, "received_at": at, "delivery_state": "queued"}).scalar_one()
    enqueue(uow, [OutboxRow(target=f"network:{source}", kind="reply", dedupe_key=dedupe_key or f"reply:{message_id}",
                            ordering_key=f"{source}:{account}",
                            payload=reply_payload(message_id, account, text, reply_to))],
            ticket_id=ticket_id, at=at)
    return message_id


def requeue_reply(db, *, message, ticket, at: datetime, dedupe_key: str, payload: dict[str, Any]) -> None:
    """Queue a stored reply again (a retry after a failure) with the payload it was sent with."""
    enqueue(db, [OutboxRow(target=f"network:{ticket.source}", kind="reply", dedupe_key=dedupe_key,
                           ordering_key=f"{ticket.source}:{ticket.account}", payload=payload)],
            ticket_id=ticket.id, at=at)


_INSERT_MESSAGE = insert(Message).returning(Message.id)
