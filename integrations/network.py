"""What the social networks share: a Sink that knows its account, checks length and finds an
already-sent reply on retry, and a Poller whose cursors advance only after ingest.
"""

from __future__ import annotations

import hmac
import html
import logging
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from chatops.outbox import DeliveryError
from chatops.tickets.limits import over_limit
from integrations.base import InboundMessage, OutboundReply, Sink, moment
from integrations.calls import NetworkAPI

log = logging.getLogger("chatops.integrations")


def same_secret(expected: str, given: str | None) -> bool:
    """Constant-time comparison of a signature or token; any header value (non-ASCII too) is safe."""
    # Bytes, not str: compare_digest raises on non-ASCII strings, and a forged header may be anything.
    return bool(given) and hmac.compare_digest(expected.encode(), given.strip().encode("utf-8", "replace"))


class NetworkSink(Sink):
    """Sends replies from one brand account. Subclasses implement `send` and may implement
    `find_sent` (look on the network for a reply an earlier, unanswered attempt posted)."""

    network: str

    def __init__(self, api: NetworkAPI) -> None:
        self.api = api
        self.account = api.account
        self.target = f"network:{self.network}"

    def find_sent(self, reply: OutboundReply) -> str | None:
        """The id of this reply if an earlier attempt already posted it (None: not found)."""
        return None

    def pace(self, item) -> float:
        """Rest the account's lane when the network said its rate limit is spent."""
        return self.api.last_pause or 0.0

    def moderate(self, item) -> dict[str, Any]:
        """An outbox `moderate` item (hide, unhide, delete, block); networks that offer it override this."""
        raise DeliveryError(f"{self.network} comments cannot be moderated from chatops", permanent=True,
                            answered=True)

    def __call__(self, item) -> dict[str, Any]:
        payload = item.payload
        if payload["account"] != self.account:
            raise DeliveryError(f"{self.network} account {payload['account']!r} is not configured "
                                f"(this deployment sends as {self.account!r})", permanent=True, answered=True)
        if getattr(item, "kind", "reply") == "moderate":
            return self.moderate(item)
        broken = over_limit(self.network, payload["text"], payload.get("answers_kind"), payload.get("reply_meta"))
        if broken is not None:
            rule, count = broken
            raise DeliveryError(f"reply is {count} {rule.unit} long, {self.network} takes {rule.most}",
                                permanent=True, answered=True)
        reply = OutboundReply(
            source=self.network, account=payload["account"], text=payload["text"],
            in_reply_to=payload.get("in_reply_to"), conversation_id=payload.get("conversation_id"),
            idempotency_key=item.dedupe_key, ticket_key=f"T-{item.ticket_id}" if item.ticket_id else None,
            reply_meta=dict(payload.get("reply_meta") or {}), customer_id=payload.get("author_id"),
            answers_at=moment(payload.get("answers_at")), queued_at=getattr(item, "created_at", None))
        if getattr(item, "in_doubt", False):
            # An earlier attempt may have posted and lost the answer (timeout, crash): look first.
            found = self.find_sent(reply)
            if found:
                return {"external_id": found, "found_on_retry": True}
        return {"external_id": self.send(reply)}


class AccountSinks:
    """The outbox deliverer of a network with several brand accounts: each item goes to the sink of
    the account its ticket arrived on, so a reply never leaves from another brand."""

    def __init__(self, network: str, sinks: list[NetworkSink]) -> None:
        self.network = network
        self.target = f"network:{network}"
        self.by_account = {sink.account: sink for sink in sinks}

    def _sink(self, item) -> NetworkSink:
        account = item.payload.get("account")
        sink = self.by_account.get(account)
        if sink is None:
            raise DeliveryError(f"{self.network} account {account!r} is not configured (this deployment sends as "
                                f"{', '.join(map(repr, self.by_account))})", permanent=True, answered=True)
        return sink

    def pace(self, item) -> float:
        """The resting time of the account that sent this item."""
        sink = self.by_account.get(item.payload.get("account"))
        return sink.pace(item) if sink is not None else 0.0

    def __call__(self, item) -> dict[str, Any]:
        return self._sink(item)(item)


@dataclass
class PollResult:
    """Messages fetched by one poll and the cursors to store once they are ingested."""

    messages: list[InboundMessage] = field(default_factory=list)
    cursors: dict[str, str | None] = field(default_factory=dict)


class Poller:
    """A network feed polled on an interval (mentions, notifications, keyword search)."""

    network: str
    account: str
    interval: float = 60.0
    api: NetworkAPI
    # Every brand account of the network when it has several (this one too): their posts are
    # never a customer's, though another account's feed finds them.
    brand_accounts: frozenset[str] = frozenset()

    def take_pause(self) -> float | None:
        """Seconds the API asked us to wait during the last poll (rate limit spent)."""
        return self.api.take_pause()

    def poll(self, cursors: dict[str, Any]) -> PollResult:
        """Fetch what is new since `cursors`; raise DeliveryError when the API refused."""
        raise NotImplementedError

    def for_accounts(self, pollers: list[Poller]) -> None:
        """Told every poller of the network (several brand accounts, this one among them): their
        accounts' posts are the brand's, never a customer's."""
        self.brand_accounts = frozenset(poller.account for poller in pollers)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag == "p":
            self.parts.append("\n\n")

    def handle_data(self, data):
        self.parts.append(data)


def html_to_text(content: str) -> str:
    """Plain text of a Mastodon status's HTML content (paragraphs and line breaks kept)."""
    parser = _Text()
    parser.feed(content or "")
    parser.close()
    return html.unescape("".join(parser.parts)).strip()
