"""PagerDuty Events API v2: pages leave as trigger / acknowledge / resolve events.

`POST {PAGERDUTY_EVENTS_URL}/v2/enqueue` with `routing_key`, `event_action`, `dedup_key` (our
page id, `P-7`, ≤ 255 chars) and, for trigger, `payload.summary` (≤ 1,024 chars),
`payload.source` and `payload.severity` (critical|error|warning|info). PagerDuty answers 202;
400 is never retried, 429 and 5xx are (about 120 events/min per routing key) — PLATFORMS.md.
"""

from __future__ import annotations

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
