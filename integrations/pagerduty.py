"""PagerDuty: pages leave as Events API v2 trigger / acknowledge / resolve events, and an
acknowledgement or resolution made in PagerDuty comes back through a signed V3 webhook.

`POST {PAGERDUTY_EVENTS_URL}/v2/enqueue` with `routing_key`, `event_action`, `dedup_key` (our
page id, `P-7`, ≤ 255 chars) and, for trigger, `payload.summary` (≤ 1,024 chars),
`payload.source` and `payload.severity` (critical|error|warning|info). PagerDuty answers 202;
400 is never retried, 429 and 5xx are (about 120 events/min per routing key) — PLATFORMS.md.

V3 webhooks (`POST /webhooks/pagerduty`, a webhook subscription for `incident.acknowledged` and
`incident.resolved`): `X-PagerDuty-Signature` holds one or more `v1=<hex HMAC-SHA256 of the raw
body>`, one per signing secret during a rotation; `event.data.incident_key` is the `dedup_key` we
triggered with, so it names our page.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import requests

from chatops.outbox import DeliveryError
from chatops.tickets.events import EventNotice, OutboxRow
from chatops.tickets.models import OutboxItem
from integrations.http import make_http_session, retry_after_seconds

TARGET = "pagerduty"
DEFAULT_EVENTS_URL = "https://events.pagerduty.com"
SEVERITY = {"red": "critical", "orange": "error", "green": "warning"}
SUMMARY_LIMIT = 1024


# What a webhook event does to the page it names; other event types are answered and ignored.
SETTLES = {"incident.acknowledged": "acknowledged", "incident.resolved": "resolved"}
ACTOR_PREFIX = "pagerduty:"


class PagerDutyPlanner:
    """Event listener: a page's first notification triggers, its acknowledgement and
    resolution follow, all under the page id as `dedup_key`."""

    def __call__(self, notice: EventNotice) -> list[OutboxRow]:
        payload = notice.payload
        if notice.kind == "paged" and payload.get("first"):
            action = "trigger"
        elif notice.kind == "page_acknowledged":
            action = "acknowledge"
        elif notice.kind == "page_resolved":
            action = "resolve"
        else:
            return []
        if action != "trigger" and notice.actor.startswith(ACTOR_PREFIX):  # PagerDuty already knows
            return []
        page = payload["page"]
        body: dict[str, Any] = {"event_action": action, "dedup_key": page}
        if action == "trigger":
            summary = f"T-{notice.ticket_id} [{payload.get('priority', '')}] {payload.get('summary', '')}"
            body["payload"] = {"summary": summary[:SUMMARY_LIMIT], "source": "chatops",
                               "severity": SEVERITY.get(payload.get("priority"), "error"),
                               "custom_details": {"ticket": f"T-{notice.ticket_id}", "page": page}}
        # one lane per page: trigger, acknowledge and resolve reach PagerDuty in order
        return [OutboxRow(TARGET, "event", f"pagerduty:{page}:{action}", f"pagerduty:{page}", body)]


class PagerDutyDeliverer:
    """Outbox deliverer for target `pagerduty`."""

    target = TARGET

    def __init__(self, routing_key: str, events_url: str = DEFAULT_EVENTS_URL,
                 http: requests.Session | None = None) -> None:
        self.routing_key = routing_key
        self.url = events_url.rstrip("/") + "/v2/enqueue"
        self.http = http or make_http_session()

    def __call__(self, item: OutboxItem) -> dict[str, Any]:
        body = {"routing_key": self.routing_key, **item.payload}
        try:
            response = self.http.post(self.url, json=body)
        except requests.RequestException as exc:
            raise DeliveryError(f"pagerduty unreachable: {type(exc).__name__}") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise DeliveryError(f"pagerduty answered {response.status_code}",
                                retry_after=retry_after_seconds(response))
        if response.status_code >= 400:  # 400: invalid event; retrying cannot fix it
            raise DeliveryError(f"pagerduty refused the event: {response.status_code} {response.text[:300]}",
                                permanent=True)
        try:
            answer = response.json() or {}
        except ValueError:
            answer = {}
        return {"status": answer.get("status"), "dedup_key": answer.get("dedup_key", item.payload["dedup_key"])}


def signature_valid(secrets: list[str], body: bytes, header: str | None) -> bool:
    """True when one `v1=` signature of `header` is the HMAC-SHA256 of `body` under one of
    `secrets` (compared in constant time)."""
    offered = [part.strip()[3:] for part in (header or "").split(",") if part.strip().startswith("v1=")]
    expected = [hmac.new(secret.encode(), body, hashlib.sha256).hexdigest() for secret in secrets if secret]
    return any(hmac.compare_digest(mine, theirs) for mine in expected for theirs in offered)


@dataclass(frozen=True)
class WebhookEvent:
    """A V3 webhook event about one of our pages."""

    event_id: str
    event_type: str
    page: str | None  # the incident_key (our dedup_key), None for an incident chatops did not trigger
    agent: str        # who did it in PagerDuty, as a name
    settles: str | None  # "acknowledged" / "resolved", None for event types chatops ignores


class MalformedEvent(ValueError):
    """A webhook body without the fields a V3 event has; `field` names the first one missing."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


def parse_event(body: bytes) -> WebhookEvent:
    """The event of a V3 webhook body; MalformedEvent naming the field when it is not one."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise MalformedEvent("body") from None
    event = data.get("event") if isinstance(data, dict) else None
    if not isinstance(event, dict):
        raise MalformedEvent("event")
    event_type = event.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        raise MalformedEvent("event.event_type")
    incident = event.get("data")
    if not isinstance(incident, dict):
        raise MalformedEvent("event.data")
    agent = event.get("agent") if isinstance(event.get("agent"), dict) else {}
    key = incident.get("incident_key")
    return WebhookEvent(event_id=str(event.get("id", "")), event_type=event_type,
                        page=key if isinstance(key, str) and key else None,
                        agent=str(agent.get("summary") or agent.get("id") or "PagerDuty"),
                        settles=SETTLES.get(event_type))
