"""Pages reach PagerDuty Events API v2 through the outbox: trigger, acknowledge, resolve under
the page id as dedup_key; 400 is final, 429 waits for Retry-After."""

from __future__ import annotations

from sqlalchemy import select

from chatops.app import build_outbox
from chatops.runtime import Runtime
from chatops.settings import Settings
from chatops.tickets.models import OutboxItem
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
