"""What Jira and GitHub share: the listener that turns ticket events into outbox items, what a
created issue says about its ticket, and the signed webhooks that close issues.

Outbox items (target `jira` or `github`, one lane per tracker so a 429's Retry-After rests it):
- `create_issue` for an `issue_requested` event (dedupe key `<tracker>:create:<event id>`);
- `remote_link` (Jira only) for an `issue_created` event whose ticket has a URL, the link back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chatops.db import session_scope
from chatops.outbox import DeliveryError
from chatops.tickets.events import EventNotice, OutboxRow
from chatops.tickets.models import Message, OutboxItem, SurfaceThread, Ticket
from integrations.base import WebhookError, WebhookResponse, WebhookSource
from integrations.http import retry_after_seconds

TRACKERS = ("jira", "github")


def lane(tracker: str) -> str:
    """The outbox ordering key of a tracker's calls."""
    return f"{tracker}:issues"


class TrackerPlanner:
    """Event listener: the outbox items a ticket's issue events need (see module docstring)."""

    def __call__(self, notice: EventNotice) -> list[OutboxRow]:
        payload = notice.payload
        tracker = payload.get("tracker")
        if tracker not in TRACKERS:
            return []
        if notice.kind == "issue_requested":
            return [OutboxRow(tracker, "create_issue", f"{tracker}:create:{notice.event_id}", lane(tracker),
                              {"ticket_id": notice.ticket_id, "event_id": notice.event_id,
                               "summary": payload["summary"], "actor": notice.actor})]
        if notice.kind == "issue_created" and tracker == "jira" and payload.get("ticket_url"):
            return [OutboxRow(tracker, "remote_link", f"jira:remotelink:{notice.event_id}", lane(tracker),
                              {"ticket_id": notice.ticket_id, "issue": payload["issue"],
                               "ticket_url": payload["ticket_url"]})]
        return []


@dataclass(frozen=True)
class TicketFacts:
    """What an issue says about its ticket: key, link, the customer and their first message."""

    key: str
    url: str | None
    customer: str
    network: str
    account: str
    text: str


def thread_url(channel: str, ts: str) -> str:
    """A Slack permalink to a thread's parent (the form chatops.slack.blocks.ticket makes)."""
    return f"https://slack.com/archives/{channel}/p{ts.replace('.', '')}"


def ticket_facts(session: Session, ticket_id: int) -> TicketFacts:
    """The ticket as an issue describes it, read at delivery (its Slack thread may be newer
    than the request)."""
    ticket = session.get(Ticket, ticket_id)
    first = session.scalars(select(Message).where(Message.ticket_id == ticket_id, Message.direction == "inbound")
                            .order_by(Message.id).limit(1)).first()
    thread = session.get(SurfaceThread, (ticket_id, "slack"))
    customer = ticket.customer
    return TicketFacts(key=ticket.key, url=thread_url(thread.channel, thread.ts) if thread else None,
                       customer=customer.handle or customer.name or customer.external_user_id or "?",
                       network=ticket.source, account=ticket.account,
                       text=first.text if first is not None else ticket.subject)


def marker(item: OutboxItem) -> str:
    """The reference an issue carries to the request that created it, so an attempt in doubt
    finds the issue an earlier attempt made instead of creating a second one."""
    return f"chatops {item.dedupe_key}"


def refused(tracker: str, response: requests.Response, what: str) -> DeliveryError:
    """The DeliveryError for a tracker's answer: 429/5xx retried (Retry-After honoured), other
    4xx permanent with the tracker's own error text."""
    status = response.status_code
    if status == 429 or status >= 500:
        return DeliveryError(f"{tracker} answered {status}", retry_after=retry_after_seconds(response),
                             answered=status == 429)
    return DeliveryError(f"{tracker} refused the {what}: {status} {error_text(response)}"[:1000], permanent=True,
                         answered=True)


def error_text(response: requests.Response) -> str:
    """The error words of a Jira or GitHub error body (their JSON shapes), else the raw text."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if not isinstance(body, dict):
        return str(body)[:300]
    parts = [str(m) for m in body.get("errorMessages") or []]  # Jira
    parts += [f"{field}: {message}" for field, message in (body.get("errors") or {}).items()] \
        if isinstance(body.get("errors"), dict) else []
    if body.get("message"):  # GitHub
        parts.append(str(body["message"]))
        parts += [f"{e.get('field', '')}: {e.get('code', '')} {e.get('message', '')}".strip()
                  for e in body.get("errors") or [] if isinstance(e, dict)]
    return "; ".join(parts)[:500] or response.text[:300]


class TrackerDeliverer:
    """Outbox deliverer base for one tracker: reads the ticket, calls `create` (or its in-doubt
    lookup first), and answers what the done hook stores."""

    target = ""

    def __init__(self, session_factory: sessionmaker[Session], *, lang: str) -> None:
        self.session_factory = session_factory
        self.lang = lang

    def __call__(self, item: OutboxItem) -> dict[str, Any]:
        if item.kind == "create_issue":
            with session_scope(self.session_factory) as session:
                facts = ticket_facts(session, item.payload["ticket_id"])
            try:
                found = self.find(item) if item.in_doubt else None
                created = found or self.create(item, facts)
            except requests.RequestException as exc:
                raise DeliveryError(f"{self.target} unreachable: {type(exc).__name__}") from None
            return {**created, "ticket_url": facts.url}
        handler = getattr(self, f"_{item.kind}", None)
        if handler is None:
            raise DeliveryError(f"unknown {self.target} item kind {item.kind!r}", permanent=True)
        try:
            return handler(item)
        except requests.RequestException as exc:
            raise DeliveryError(f"{self.target} unreachable: {type(exc).__name__}") from None

    def create(self, item: OutboxItem, facts: TicketFacts) -> dict[str, Any]:
        """Create the issue; {key, url, id}."""
        raise NotImplementedError

    def find(self, item: OutboxItem) -> dict[str, Any] | None:
        """The issue an earlier attempt of `item` created, if any."""
        raise NotImplementedError


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """Constant-time check of `sha256=<hex HMAC-SHA256 of the raw body>` (GitHub's
    X-Hub-Signature-256, Jira's X-Hub-Signature)."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return bool(header) and hmac.compare_digest(expected.encode(), header.strip().encode("utf-8", "replace"))


def field_at(body: Any, path: str, kind: type | tuple[type, ...] = str) -> Any:
    """The value at dotted `path` of a webhook body; WebhookError 400 naming the field when it
    is missing or of the wrong type."""
    value = body
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            raise WebhookError(400, "webhook.bad_field", field=path, message="missing")
        value = value[part]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise WebhookError(400, "webhook.bad_field", field=path, message="wrong type")
    return value


Outcome = Callable[[str, str], None]  # (tracker, outcome): counted in /metrics


class TrackerWebhook(WebhookSource):
    """`POST /webhooks/<tracker>`: a signed tracker event, parsed by `parse` into
    (action, issue key, status, who) and handed to the flows; unknown issues are answered 200
    and counted, so the tracker does not retry them."""

    name = ""
    header = ""

    def __init__(self, secret: str | None, flows, count: Outcome | None = None) -> None:
        self.secret = secret
        self.flows = flows
        self.count = count or (lambda tracker, outcome: None)

    def handle(self, *, method: str, headers: dict[str, str], query: dict[str, str], body: bytes) -> WebhookResponse:
        """Verify the signature, parse, close or reopen the linked issue's ticket."""
        if not self.secret:
            raise WebhookError(503, "tracker.webhook.not_configured", tracker=self.name,
                               setting=f"{self.name.upper()}_WEBHOOK_SECRET")
        if method != "POST":
            raise WebhookError(405, "webhook.bad_json", message="use POST")
        found = next((v for k, v in headers.items() if k.lower() == self.header.lower()), None)
        if not signature_ok(self.secret, body, found):
            self.count(self.name, "forged")
            raise WebhookError(401, "tracker.webhook.bad_signature", header=self.header)
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise WebhookError(400, "webhook.bad_json", message=str(exc)[:200]) from None
        if not isinstance(payload, dict):
            raise WebhookError(400, "webhook.bad_field", field="(body)", message="not an object")
        event = self.parse(headers, payload)
        if event is None:
            outcome = "skipped"
        else:
            action, key, status, who = event
            change = self.flows.issue_closed if action == "closed" else self.flows.issue_reopened
            outcome = change(self.name, key, status=status, by=who)
        self.count(self.name, outcome)
        return WebhookResponse(200, {"ok": True, "outcome": outcome})

    def parse(self, headers: dict[str, str], payload: dict) -> tuple[str, str, str, str | None] | None:
        """(closed|reopened, issue key, status name, who) or None for an event we do not act on."""
        raise NotImplementedError
