"""`POST /webhooks/pagerduty`: PagerDuty's V3 webhook, so that acknowledging or resolving the
incident in PagerDuty (its app, a phone call, Slack's PagerDuty app) settles our page and stops
our escalation, exactly as the Acknowledge button does."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request

from chatops.errors import DomainError
from chatops.i18n import t
from chatops.runtime import Runtime
from chatops.webhooks import language_of
from integrations.pagerduty import ACTOR_PREFIX, MalformedEvent, parse_event, signature_valid

log = logging.getLogger("chatops.pagerduty")

PATH = "/webhooks/pagerduty"


def mount_pagerduty(app: Flask, runtime: Runtime, metrics) -> None:
    """Answer PagerDuty's webhook when PAGERDUTY_WEBHOOK_SECRET is set (comma-separated during a
    secret rotation)."""
    secret = runtime.settings.pagerduty_webhook_secret
    if secret is None:
        return
    secrets = [part.strip() for part in secret.get_secret_value().split(",") if part.strip()]
    events = metrics.pagerduty_events

    def answer(status: int, body: dict):
        metrics.webhook_requests.labels("pagerduty", str(status)).inc()
        return jsonify(body), status

    @app.post(PATH)
    def pagerduty_webhook():
        lang = language_of(request.environ)
        body = request.get_data(cache=False)
        if not signature_valid(secrets, body, request.headers.get("X-PagerDuty-Signature")):
            return answer(401, {"ok": False, "error": t("sla.pagerduty.bad_signature", lang)})
        try:
            event = parse_event(body)
        except MalformedEvent as exc:
            return answer(400, {"ok": False, "error": t("sla.pagerduty.bad_field", lang, field=exc.field)})
        if event.settles is None:
            events.labels(event.event_type, "ignored").inc()
            return answer(200, {"ok": True, "outcome": "ignored"})
        if event.page is None:
            events.labels(event.event_type, "unknown_page").inc()
            return answer(200, {"ok": True, "outcome": "unknown_page"})
        settle = (runtime.flows.acknowledge_page if event.settles == "acknowledged"
                  else runtime.flows.resolve_page)
        try:
            changed = settle(event.page, actor=f"{ACTOR_PREFIX}{event.agent}")
        except DomainError:  # an incident_key that is not one of our pages (another integration's)
            events.labels(event.event_type, "unknown_page").inc()
            return answer(200, {"ok": True, "outcome": "unknown_page"})
        outcome = "settled" if changed else "unchanged"  # unchanged: settled here first, PagerDuty echoes it
        events.labels(event.event_type, outcome).inc()
        if changed:
            runtime.outbox_wakeup.set()
        return answer(200, {"ok": True, "outcome": outcome, "pages": [page.key for page in changed]})
