"""A page escalates along the policy it opened with (a rules edit changes new pages only) and
ends cleanly past its last step; a scheduler item that raises is skipped, counted at /metrics
and announced once while the other work goes on."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest
from sqlalchemy import select, update

from chatops.app import build_outbox
from chatops.metrics import Metrics
from chatops.oncall.models import Page, SchedulerError
from chatops.rules.oncall import EscalationPolicy, Step
from chatops.runtime import Runtime
from chatops.scheduler import Lease, Scheduler
from chatops.settings import Settings
from chatops.tickets.models import OutboxItem, TicketEvent
from tests.fakes.http_recorder import Answer, RecordingServer
from tests.helpers import inbound

SECRET = "test-signing-secret"
RED = "二重請求されています"


class SlackApi(RecordingServer):
    """Answers every call ok, each post with a timestamp of its own (threads are keyed by it)."""

    def respond(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        answer = super().respond(method, path, headers, body)
        self.posted = getattr(self, "posted", 0) + 1
        return Answer(answer.status, {**answer.body, "ts": f"1700000000.{self.posted:06d}"})


@pytest.fixture
def slack(settings, rules, clock):
    with SlackApi() as api:
        api.default = Answer(200, {"ok": True, "channel": "C0URGENT"})
        runtime = Runtime.build(Settings(database_url=settings.database_url, rules_path=settings.rules_path,
                                         slack_bot_token="xoxb-test", slack_signing_secret=SECRET,
                                         slack_api_url=api.url + "/api/", slack_post_interval=0),
                                upgrade_db=False, rules=rules)
        runtime.flows.clock = clock  # Friday 2026-11-20 10:00 JST, moved by hand
        try:
            yield runtime, api, build_outbox(runtime)
        finally:
            runtime.close()


def posts(api) -> list[dict]:
    out = []
    for request in api.requests:
        if request.path == "/api/chat.postMessage":
            from urllib.parse import parse_qs
            fields = parse_qs(request.body.decode())
            out.append({k: v[0] for k, v in fields.items()} if fields else request.json())
    return out


def drain(outbox) -> None:
    while outbox.run_once():
        pass


def test_page_keeps_its_policy_ends_cleanly_and_a_poisoned_page_is_skipped(slack, clock):
    runtime, api, outbox = slack
    flows = runtime.flows
    first = flows.ingest(inbound(RED)).ticket_key
    second = flows.ingest(inbound(RED, author={"id": "u2", "handle": "@taro", "name": "Taro"})).ticket_key
    with runtime.session_factory.begin() as session:
        pages = session.scalars(select(Page).order_by(Page.id)).all()
        assert [len(p.policy_snapshot["steps"]) for p in pages] == [3, 3]  # the bundled policy, as opened
        # The second page's snapshot names a schedule rules.yaml never had: that item raises.
        session.execute(update(Page).where(Page.id == pages[1].id).values(policy_snapshot={
            "steps": [{"notify": "schedule:nowhere", "escalate_after": 900}], "repeat": 1}))
    scheduler = Scheduler(flows, Lease(runtime.session_factory, holder="a", clock=clock))

    scheduler.tick()  # 10:00: P-1 notifies the primary; P-2 fails
    edited = flows.rules.model_copy(deep=True)
    edited.oncall.policies["default"] = EscalationPolicy(steps=[Step(notify="U0MANAGER1")], repeat=1)
    flows.rules = edited  # a rules edit: one step only, for new pages
    for minutes in (15, 15, 30, 15, 15):  # 10:15 … 11:30, P-1's steps 2, 3, then round 2
        clock.advance(minutes=minutes)
        assert scheduler.tick() is not None
    drain(outbox)

    with runtime.session_factory() as session:
        p1, p2 = session.scalars(select(Page).order_by(Page.id)).all()
        assert (p1.status, p1.notified, p1.next_at) == ("triggered", 6, None)
        assert p2.notified == 0
        targets = [e.payload["target"] for e in session.scalars(
            select(TicketEvent).where(TicketEvent.kind == "paged").order_by(TicketEvent.id))]
        assert targets == ["U0AGENT003", "U0LEAD0001", "U0MANAGER1"] * 2
        ended = session.scalars(select(TicketEvent).where(TicketEvent.kind == "page_exhausted")).all()
        assert [(e.payload["page"], e.ticket_id) for e in ended] == [("P-1", p1.ticket_id)]
        # The other ticket's SLA notice (10:48's warning is overtaken by 11:00's breach) still fired
        # while its page kept failing.
        warned = {e.ticket_id for e in session.scalars(select(TicketEvent).where(
            TicketEvent.kind.in_(("sla_warning", "sla_breached"))))}
        assert p2.ticket_id in warned
        error = session.scalars(select(SchedulerError)).one()
        assert (error.pass_name, error.item) == ("paging", "P-2") and error.count >= 2
        alerts = session.scalars(select(OutboxItem).where(OutboxItem.kind == "alert")).all()
        assert len(alerts) == 1 and alerts[0].state == "done"

    sent = posts(api)
    lines = [p["text"] for p in sent if p.get("thread_ts")]
    assert any("P-1" in line and ("呼び出しを終了" in line or "escalation ended" in line) for line in lines)
    announced = [p["text"] for p in sent if "P-2" in p["text"] and "nowhere" in p["text"]]
    assert len(announced) == 1
    assert "呼び出し" in announced[0] and "paging" in announced[0]  # bilingual, names the pass
    text = generate_latest(Metrics(runtime.session_factory).registry).decode()
    assert f'chatops_scheduler_errors_total{{pass="paging"}} {float(error.count)}' in text
    assert 'chatops_scheduler_failed_items{pass="paging"} 1.0' in text
    assert first != second
