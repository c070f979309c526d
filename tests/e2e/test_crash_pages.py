"""kill -9 of `chatops serve` while a page DM is in flight, with the scheduler on, then a restart:
the on-call person is paged once (one DM, one PagerDuty trigger under the page's dedup_key), the
escalation to the next step still happens after the restart, and the SLA warning and breach
notices are each posted once."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import requests
from sqlalchemy import select, update

from chatops.db import make_engine, make_session_factory
from chatops.oncall.models import Page
from chatops.tickets.models import OutboxItem, TicketEvent
from integrations.webhook import sign
from tests.conftest import RULES_PATH
from tests.e2e.processes import Serve, scheduler_ticks
from tests.fakes.http_recorder import Answer, RecordingServer
from tests.fakes.slack_api import FakeSlack
from tests.helpers import inbound, until

SECRET = "page-crash-secret"
RED_POLICY = '- {priority: red,    tier: "*",     first_response: 1h,  resolution: 8h,  calendar: business}'
# One minute to answer a red ticket, round the clock: a message written 50 s ago is past its
# warning (80%) on arrival and breaches 10 s later.
SHORT_RED = '- {priority: red,    tier: "*",     first_response: 1m,  resolution: 1d,  calendar: 24x7}'


def marked(slack: FakeSlack, event_type: str) -> list:
    return [m for m in slack.messages if (m.metadata or {}).get("event_type") == event_type]


def test_kill_9_mid_page_dm_pages_once_and_escalates_after_restart(tmp_path, database_url):
    rules = RULES_PATH.read_text(encoding="utf-8")
    assert RED_POLICY in rules
    (tmp_path / "rules.yaml").write_text(rules.replace(RED_POLICY, SHORT_RED), encoding="utf-8")
    engine = make_engine(database_url)
    session_factory = make_session_factory(engine)
    with FakeSlack(token="xoxb-page") as slack, RecordingServer() as pagerduty:
        pagerduty.default = Answer(202, {"status": "success", "message": "Event processed"})
        env = {"CHATOPS_WEBHOOK_SECRET": SECRET, "SLACK_BOT_TOKEN": "xoxb-page", "SLACK_SIGNING_SECRET": "s",
               "SLACK_API_URL": slack.api_url, "SLACK_POST_INTERVAL": "0.05", "CHATOPS_OUTBOX_LEASE_SECONDS": "11",
               "CHATOPS_SCHEDULER": "true", "CHATOPS_SCHEDULER_INTERVAL": "0.5", "CHATOPS_LEASE_SECONDS": "3",
               "CHATOPS_RULES": str(tmp_path / "rules.yaml"),
               "PAGERDUTY_ROUTING_KEY": "pd-routing-key", "PAGERDUTY_EVENTS_URL": pagerduty.url}
        # Slack carries out the page DM, and its answer never comes: the moment to kill.
        slack.hang_when = lambda method, args: (method == "chat.postMessage"
                                                and (args.get("metadata") or {}).get("event_type") == "chatops_page")
        first = Serve(tmp_path, database_url, **env)
        second = None
        try:
            written = datetime.now(UTC) - timedelta(seconds=50)
            body = inbound("障害です、ログインできません", external_id="page-1", source="webhook", account="form",
                           created_at=written.isoformat(),
                           author={"id": "c1", "handle": "@c1", "name": "C1"}).model_dump_json().encode()
            response = requests.post(first.url + "/webhooks/generic", data=body, timeout=10, headers={
                "X-Chatops-Signature": sign(SECRET, body), "Content-Type": "application/json"})
            assert response.status_code == 202
            assert slack.hung.wait(60), "the page DM never went out"
            first.kill()  # SIGKILL with the DM posted in Slack and its answer lost
            slack.release.set()
            second = Serve(tmp_path, database_url, **env)

            def settled(kind: str | None = None):
                def check():
                    with session_factory() as session:
                        chosen = OutboxItem.kind == kind if kind else OutboxItem.target.in_(["slack", "pagerduty"])
                        items = session.scalars(select(OutboxItem).where(chosen)).all()
                        return items if items and all(item.state == "done" for item in items) else None
                check.__name__ = f"{kind or 'every Slack and PagerDuty item'} delivered"
                return check

            # The lease of the killed process's items runs out (11 s); the restarted one finds the DM.
            until(settled("page_dm"), timeout=60, every=0.2)
            # The killed process held the scheduler lease (3 s): the restarted one takes over and
            # sends the breach notice.
            until(lambda: [m for m in marked(slack, "chatops_sla") if m.channel.startswith("D")], timeout=90,
                  every=0.2)
            with session_factory() as session:
                page = session.scalars(select(Page)).one()
                assert (page.status, page.step, page.notified) == ("triggered", 1, 1)
                assert page.next_at is not None  # the escalation is on the row, not in a memory lost with the process
            # Move the escalation moment to now instead of waiting 15 minutes for it.
            with session_factory.begin() as session:
                session.execute(update(Page).values(next_at=datetime.now(UTC)))
            until(lambda: len(marked(slack, "chatops_page")) >= 2, timeout=30, every=0.2)
            until(settled(), timeout=60, every=0.2)
            # The scheduler's next rounds would page or warn again now; whatever they queue is delivered.
            until(scheduler_ticks(session_factory), timeout=30)
            until(settled(), timeout=60, every=0.2)
        finally:
            slack.release.set()
            for serve in (first, second):
                if serve is not None:
                    serve.stop()

    try:
        with session_factory() as session:
            paged = session.scalars(select(TicketEvent).where(TicketEvent.kind == "paged").order_by(TicketEvent.id)).all()
            assert [event.payload["step"] for event in paged] == [1, 2]
            first_dm = session.scalars(select(OutboxItem).where(OutboxItem.kind == "page_dm")
                                       .order_by(OutboxItem.id)).first()
            assert first_dm.in_doubt and first_dm.result.get("found")
            states = Counter(session.scalars(select(OutboxItem.state).where(OutboxItem.target.in_(["slack", "pagerduty"]))))
            assert states == Counter({"done": sum(states.values())})
    finally:
        engine.dispose()

    # One DM per page step, to the person of that step: the one in flight at the kill is not repeated.
    page_dms = marked(slack, "chatops_page")
    assert sorted(m.metadata["event_payload"]["event"] for m in page_dms) == sorted(e.id for e in paged)
    assert [m.channel for m in page_dms] == [slack.dm_channel(e.payload["target"]) for e in paged]
    # One PagerDuty trigger, under the page's own dedup_key.
    events = [json.loads(r.body) for r in pagerduty.requests]
    assert [(e["event_action"], e["dedup_key"]) for e in events] == [("trigger", "P-1")]
    # The warning (to the channel: nobody has claimed the ticket) and the breach (a DM to the L3 lead), once each.
    notices = marked(slack, "chatops_sla")
    assert len({m.metadata["event_payload"]["event"] for m in notices}) == len(notices) == 2
    assert sorted(m.channel[0] for m in notices) == ["C", "D"]
    assert [m.channel for m in notices if m.channel.startswith("D")] == [slack.dm_channel("U0LEAD0001")]
    # Every thread line once, the ticket posted once.
    lines = Counter(m.metadata["event_payload"]["event"] for m in marked(slack, "chatops_line"))
    assert lines and max(lines.values()) == 1
    assert len(marked(slack, "chatops_ticket")) == 1
