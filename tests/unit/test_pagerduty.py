"""Pages reach PagerDuty Events API v2 through the outbox: trigger, acknowledge, resolve under
the page id as dedup_key; 400 is final, 429 waits for Retry-After."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

from sqlalchemy import select

from chatops.app import build_outbox, create_app
from chatops.oncall.models import Page
from chatops.runtime import Runtime
from chatops.settings import Settings
from chatops.slack.blocks.pages import sla_line
from chatops.tickets.models import OutboxItem, TicketEvent
from tests.fakes.http_recorder import Answer, RecordingServer
from tests.helpers import inbound


def _runtime(settings, rules, url):
    settings = Settings(database_url=settings.database_url, rules_path=settings.rules_path,
                        pagerduty_routing_key="R0UTINGKEY", pagerduty_events_url=url)
    return Runtime.build(settings, upgrade_db=False, rules=rules)


def test_page_lifecycle_reaches_pagerduty(settings, rules):
    with RecordingServer() as pagerduty:
        pagerduty.default = Answer(202, {"status": "success", "message": "Event processed", "dedup_key": "P-1"})
        runtime = _runtime(settings, rules, pagerduty.url)
        try:
            flows, outbox = runtime.flows, build_outbox(runtime)
            flows.ingest(inbound("二重請求されています"))
            flows.page_pass()
            flows.page_pass(flows.clock().replace(year=2027))  # the next steps re-notify people, not PagerDuty
            flows.acknowledge_page("T-1", actor="U0AGENT003")
            flows.resolve("T-1", actor="U0AGENT003")  # resolving the ticket resolves its page
            while outbox.run_once():
                pass
        finally:
            runtime.close()
    bodies = [request.json() for request in pagerduty.requests]
    assert [request.path for request in pagerduty.requests] == ["/v2/enqueue"] * 3
    assert [(b["event_action"], b["dedup_key"], b["routing_key"]) for b in bodies] == [
        ("trigger", "P-1", "R0UTINGKEY"), ("acknowledge", "P-1", "R0UTINGKEY"), ("resolve", "P-1", "R0UTINGKEY")]
    assert bodies[0]["payload"]["severity"] == "critical"
    assert bodies[0]["payload"]["summary"].startswith("T-1 [red] 二重請求")


def test_refused_event_is_not_retried_and_rate_limit_waits(settings, rules):
    with RecordingServer() as pagerduty:
        pagerduty.answers = [Answer(429, {"status": "throttle"}, {"Retry-After": "30"}),
                             Answer(400, {"status": "invalid event", "errors": ["bad"]})]
        runtime = _runtime(settings, rules, pagerduty.url)
        try:
            outbox = build_outbox(runtime)
            runtime.flows.ingest(inbound("二重請求されています"))
            runtime.flows.page_pass()
            outbox.run_once()
            with runtime.session_factory() as session:
                item = session.scalars(select(OutboxItem).where(OutboxItem.target == "pagerduty")).one()
                assert item.state == "pending" and (item.next_attempt_at - item.created_at).total_seconds() >= 29
            outbox.clock = lambda: item.next_attempt_at
            outbox.run_once()
            with runtime.session_factory() as session:
                item = session.scalars(select(OutboxItem).where(OutboxItem.target == "pagerduty")).one()
                assert (item.state, item.attempts) == ("dead", 2)
        finally:
            runtime.close()
    assert len(pagerduty.requests) == 2


# -- acknowledging in PagerDuty comes back (V3 webhook) -----------------------------------------

SECRET = "pd-webhook-secret"


def _incident_event(event_type: str, incident_key: str | None, agent: str = "Hanako Sato") -> bytes:
    """A V3 webhook body shaped as PagerDuty's documentation shows it."""
    return json.dumps({"event": {
        "id": "01DEN8ZP3R4RRKHBY6U6NWT12N", "event_type": event_type, "resource_type": "incident",
        "occurred_at": "2026-12-04T01:02:03.456Z",
        "agent": {"html_url": "https://acme.pagerduty.com/users/PLH1HKV", "id": "PLH1HKV",
                  "self": "https://api.pagerduty.com/users/PLH1HKV", "summary": agent, "type": "user_reference"},
        "client": {"name": "PagerDuty"},
        "data": {"id": "PGR0VU2", "type": "incident", "self": "https://api.pagerduty.com/incidents/PGR0VU2",
                 "html_url": "https://acme.pagerduty.com/incidents/PGR0VU2", "number": 2,
                 "status": event_type.split(".")[1], "incident_key": incident_key,
                 "created_at": "2026-12-04T01:00:00Z", "title": "T-1 [red] 二重請求されています",
                 "urgency": "high", "resolve_reason": None}}}, ensure_ascii=False).encode()


def _signature(body: bytes, *secrets: str) -> str:
    return ",".join("v1=" + hmac.new(s.encode(), body, hashlib.sha256).hexdigest() for s in secrets)


def test_acknowledging_in_pagerduty_stops_our_escalation(settings, rules):
    with RecordingServer() as pagerduty:
        pagerduty.default = Answer(202, {"status": "success", "message": "Event processed", "dedup_key": "P-1"})
        settings = Settings(database_url=settings.database_url, rules_path=settings.rules_path,
                            pagerduty_routing_key="R0UTINGKEY", pagerduty_events_url=pagerduty.url,
                            pagerduty_webhook_secret=f"old-secret,{SECRET}")
        runtime = Runtime.build(settings, upgrade_db=False, rules=rules)
        try:
            flows, outbox = runtime.flows, build_outbox(runtime)
            client = create_app(runtime).test_client()
            flows.ingest(inbound("二重請求されています"))
            flows.page_pass()

            def post(body: bytes, signature: str, lang: str = "en"):
                return client.post("/webhooks/pagerduty", data=body, headers={
                    "Content-Type": "application/json", "X-PagerDuty-Signature": signature,
                    "Accept-Language": lang})

            ack = _incident_event("incident.acknowledged", "P-1")
            forged = post(ack, _signature(ack, "not-the-secret"), "ja")
            assert forged.status_code == 401 and "X-PagerDuty-Signature" in forged.get_json()["error"]
            assert "署名" in forged.get_json()["error"]
            malformed = json.dumps({"event": {"event_type": "incident.acknowledged"}}).encode()
            answer = post(malformed, _signature(malformed, SECRET))
            assert answer.status_code == 400 and "event.data" in answer.get_json()["error"]
            with runtime.session_factory() as session:
                assert session.scalars(select(Page)).one().status == "triggered"  # neither changed anything

            # PagerDuty signs with every secret during a rotation: one valid signature is enough
            answer = post(ack, f"v1={'0' * 64},{_signature(ack, SECRET)}")
            assert answer.status_code == 200 and answer.get_json() == {"ok": True, "outcome": "settled",
                                                                       "pages": ["P-1"]}
            again = post(ack, _signature(ack, SECRET))  # PagerDuty retries and echoes: nothing twice
            assert again.get_json()["outcome"] == "unchanged"
            other = _incident_event("incident.acknowledged", "another-tool-42")
            assert post(other, _signature(other, SECRET)).get_json()["outcome"] == "unknown_page"

            flows.page_pass(flows.clock() + timedelta(days=1))  # escalation stopped: nobody is notified again
            with runtime.session_factory() as session:
                page = session.scalars(select(Page)).one()
                assert (page.status, page.acknowledged_by, page.notified) == (
                    "acknowledged", "pagerduty:Hanako Sato", 1)
                event = session.scalars(select(TicketEvent).where(TicketEvent.kind == "page_acknowledged")).one()
                assert event.actor == "pagerduty:Hanako Sato"
            line = sla_line("page_acknowledged", event.actor, event.payload, rules, "ja")
            assert "Hanako Sato（PagerDuty）" in line and "P-1" in line

            resolved = _incident_event("incident.resolved", "P-1")
            assert post(resolved, _signature(resolved, SECRET)).get_json()["outcome"] == "settled"
            while outbox.run_once():
                pass
            metrics = client.get("/metrics").get_data(as_text=True)
        finally:
            runtime.close()
    # PagerDuty already knows what happened there: only the trigger was sent to it
    assert [request.json()["event_action"] for request in pagerduty.requests] == ["trigger"]
    assert ('chatops_pagerduty_webhook_events_total{event_type="incident.acknowledged",outcome="settled"} 1.0'
            in metrics)
    assert 'chatops_webhook_requests_total{network="pagerduty",status="401"} 1.0' in metrics
