"""What every integration implements: a Source turns network payloads into InboundMessages,
a Sink sends an OutboundReply back through the account the ticket arrived on."""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chatops.inbound import KINDS, SOURCES, Author, InboundMessage
from chatops.outbox import DeliveryError

__all__ = ["KINDS", "SOURCES", "Author", "InboundMessage", "OutboundReply", "Sink", "WebhookError",
           "WebhookSource", "WebhookResponse"]


@dataclass(frozen=True)
class OutboundReply:
    """An agent's answer, addressed to the conversation and account it must leave from."""

    source: str
    account: str
    text: str
    in_reply_to: str | None = None
    conversation_id: str | None = None
    idempotency_key: str = ""
    ticket_key: str | None = None
    # The customer's message being answered: its InboundMessage.meta and author id (a LINE
    # push needs the user id once the reply token has expired).
    reply_meta: dict[str, Any] = field(default_factory=dict)
    customer_id: str | None = None
    # When the answered customer message was written and when the reply was queued: networks with
    # a reply window (Messenger, Instagram DMs) judge it on these, not on when a retry happens.
    answers_at: datetime | None = None
    queued_at: datetime | None = None


@dataclass(frozen=True)
class WebhookResponse:
    """What to answer the network: status, JSON body and the messages found in the request."""

    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    messages: list[InboundMessage] = field(default_factory=list)
    # A plain-text answer instead of JSON (Meta's handshake echoes hub.challenge as is).
    text: str | None = None
    # Entries for a brand account this deployment does not have (several accounts on one app).
    unrouted: int = 0


class WebhookError(Exception):
    """A refused webhook request: HTTP status, i18n key and parameters for the message."""

    def __init__(self, status: int, key: str, **params: object) -> None:
        self.status, self.key, self.params = status, key, params
        super().__init__(f"{status} {key} {params}")


class WebhookSource(abc.ABC):
    """A network that pushes to `POST /webhooks/<name>` (and may answer a GET handshake)."""

    name: str

    @abc.abstractmethod
    def handle(self, *, method: str, headers: dict[str, str], query: dict[str, str],
               body: bytes) -> WebhookResponse:
        """Authenticate and parse one request; raise WebhookError to refuse it."""

    def for_accounts(self, sources: list[WebhookSource], unknown: Callable[[str, str], None]) -> WebhookSource:
        """One endpoint for several brand accounts of this network (`sources`, one per account,
        this one first): each request is checked with and parsed by the account it is for;
        `unknown(network, id)` is told of a request or entry for an account not configured.
        Networks whose webhooks can tell accounts apart override this."""
        raise ValueError(f"{self.name}: the webhook serves one account only")


def moment(text: str | None) -> datetime | None:
    """An ISO time from an outbox payload as an aware UTC datetime, None when absent."""
    if not text:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Sink(abc.ABC):
    """Sends replies to one network. Raise chatops.outbox.DeliveryError to retry or give up."""

    target: str  # outbox target, e.g. "network:x"

    @abc.abstractmethod
    def send(self, reply: OutboundReply) -> str | None:
        """Deliver the reply; return the network's id for the posted message."""

    def moderate(self, item) -> dict[str, Any]:
        """An outbox `moderate` item (hide, unhide, delete, block): refused, final, unless the sink
        can moderate the network's comments."""
        raise DeliveryError(f"{self.target.removeprefix('network:')} comments cannot be moderated from chatops",
                            permanent=True, answered=True)

    def __call__(self, item) -> dict[str, Any]:
        """Outbox deliverer: an outbox `reply` item becomes an OutboundReply sent by this sink."""
        if getattr(item, "kind", "reply") == "moderate":
            return self.moderate(item)
        payload = item.payload
        reply = OutboundReply(
            source=self.target.removeprefix("network:"), account=payload["account"], text=payload["text"],
            in_reply_to=payload.get("in_reply_to"), conversation_id=payload.get("conversation_id"),
            idempotency_key=item.dedupe_key, ticket_key=f"T-{item.ticket_id}" if item.ticket_id else None,
            reply_meta=dict(payload.get("reply_meta") or {}), customer_id=payload.get("author_id"),
            answers_at=moment(payload.get("answers_at")), queued_at=getattr(item, "created_at", None),
        )
        return {"external_id": self.send(reply)}
