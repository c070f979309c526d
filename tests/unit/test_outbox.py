"""The outbox: replies leave through it, in order, retried with backoff, honouring Retry-After,
never delivered twice; a generic-webhook ticket's reply reaches a real local HTTP server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from chatops.app import build_outbox
from chatops.outbox import DeliveryError, Outbox
from chatops.tickets.models import Message, OutboxItem, OutboxLane
from integrations.webhook import signature_ok
from tests.fakes.http_recorder import Answer, RecordingServer
from tests.helpers import inbound


def items(session_factory) -> list[OutboxItem]:
    with session_factory() as session:
        return list(session.scalars(select(OutboxItem).order_by(OutboxItem.id)))


@pytest.fixture
def webhook_ticket(flows) -> str:
    return flows.ingest(inbound("届かない", source="webhook", account="shop-form")).ticket_key


def test_reply_reaches_the_network_signed_once(runtime, flows, webhook_ticket):
    with RecordingServer() as server:
        server.default = Answer(201, {"id": "reply-77"})
        runtime.settings = runtime.settings.model_copy(update={"webhook_reply_url": server.url + "/replies"})
        outbox = build_outbox(runtime)
        reply = flows.reply(webhook_ticket, actor="U1", text="確認します。少々お待ちください。")
        assert outbox.run_once() == 1
        assert outbox.run_once() == 0
    assert len(server.requests) == 1
    sent = server.requests[0]
    assert sent.json()["text"] == "確認します。少々お待ちください。"
    assert sent.json()["account"] == "shop-form"
    assert sent.json()["ticket"] == webhook_ticket
    assert signature_ok("test-webhook-secret", sent.body, sent.headers["X-Chatops-Signature"])
    assert sent.headers["Idempotency-Key"] == f"reply:{reply.id}"
    with runtime.session_factory() as session:
        assert session.get(Message, reply.id).external_id == "reply-77"
    assert items(runtime.session_factory)[0].state == "done"


def test_retry_after_is_honoured_then_delivered(runtime, flows, clock, webhook_ticket):
    with RecordingServer() as server:
        server.answers = [Answer(429, {}, {"Retry-After": "30"}), Answer(503), Answer(200, {"id": 5})]
        runtime.settings = runtime.settings.model_copy(update={"webhook_reply_url": server.url})
        outbox = build_outbox(runtime)
        outbox.clock = clock
        flows.reply(webhook_ticket, actor="U1", text="hello")
        outbox.run_once()
        item = items(runtime.session_factory)[0]
        assert item.state == "pending" and item.next_attempt_at == clock.now + timedelta(seconds=30)
        clock.advance(seconds=29)
        assert outbox.run_once() == 0  # not due yet
        clock.advance(seconds=2)
        outbox.run_once()  # 503: backoff
        item = items(runtime.session_factory)[0]
        assert item.attempts == 2 and "503" in item.last_error
        clock.advance(seconds=10)
        outbox.run_once()
    assert [r.method for r in server.requests] == ["POST"] * 3
    assert items(runtime.session_factory)[0].state == "done"


def test_order_is_kept_per_ordering_key(session_factory, clock):
    delivered: list[str] = []
    failures = iter([DeliveryError("first try fails")])

    def deliver(item):
        if item.payload["n"] == 1:
            error = next(failures, None)
            if error:
                raise error
        delivered.append(item.payload["n"])

    with session_factory.begin() as session:
        for n in (1, 2, 3):
            session.add(OutboxItem(target="test", kind="post", dedupe_key=f"k{n}", ordering_key="C1",
                                   payload={"n": n}, next_attempt_at=clock.now))
        session.add(OutboxItem(target="test", kind="post", dedupe_key="other", ordering_key="C2",
                               payload={"n": 9}, next_attempt_at=clock.now))
    outbox = Outbox(session_factory, {"test": deliver}, clock=clock, base_delay=1)
    outbox.run_once()
    assert delivered == [9]  # C1 is held behind its failed first item
    clock.advance(minutes=1)
    for _ in range(3):
        outbox.run_once()
    assert delivered == [9, 1, 2, 3]


def test_permanent_failure_and_exhausted_retries_go_dead(session_factory, clock):
    with session_factory.begin() as session:
        session.add(OutboxItem(target="t", kind="k", dedupe_key="a", payload={}, next_attempt_at=clock.now))
        session.add(OutboxItem(target="t", kind="k", dedupe_key="b", payload={}, next_attempt_at=clock.now))

    def deliver(item):
        raise DeliveryError("400 bad request", permanent=item.dedupe_key == "a")

    outbox = Outbox(session_factory, {"t": deliver}, clock=clock, max_attempts=3, base_delay=1)
    for _ in range(5):
        outbox.run_once()
        clock.advance(minutes=5)
    states = {item.dedupe_key: (item.state, item.attempts) for item in items(session_factory)}
    assert states == {"a": ("dead", 1), "b": ("dead", 3)}


def test_unconfigured_targets_wait(runtime, flows):
    key = flows.ingest(inbound("届かない")).ticket_key  # an X ticket; no X sink configured yet
    flows.reply(key, actor="U1", text="hello")
    assert build_outbox(runtime).run_once() == 0
    assert items(runtime.session_factory)[0].state == "pending"


def test_a_failing_done_hook_never_causes_a_second_delivery(session_factory, clock):
    with session_factory.begin() as session:
        session.add(OutboxItem(target="t", kind="k", dedupe_key="a", payload={}, next_attempt_at=clock.now))
    sent = []

    def hook(session, row):
        raise RuntimeError("bookkeeping broke")

    outbox = Outbox(session_factory, {"t": lambda item: sent.append(item.id)}, on_done={"k": hook}, clock=clock,
                    lease=timedelta(seconds=1))
    outbox.run_once()
    clock.advance(minutes=5)
    outbox.run_once()
    [item] = items(session_factory)
    assert sent == [item.id]
    assert item.state == "done" and item.attempts == 1
    assert "done hook failed: RuntimeError: bookkeeping broke" in item.last_error


def test_attempts_count_when_taken_so_a_crash_mid_delivery_is_visible(session_factory, clock):
    with session_factory.begin() as session:
        session.add(OutboxItem(target="t", kind="k", dedupe_key="a", payload={}, next_attempt_at=clock.now))
    outbox = Outbox(session_factory, {"t": lambda item: None}, clock=clock, lease=timedelta(seconds=30))
    [taken] = outbox.claim()  # ... and the process dies here, before delivering
    assert taken.attempts == 1
    assert outbox.claim() == []  # leased
    clock.advance(seconds=31)
    [again] = outbox.claim()
    assert again.attempts == 2 and again.in_doubt  # the deliverer knows an earlier try may have gone out


def test_a_claim_takes_only_the_head_of_each_lane_behind_a_backlog(session_factory, clock):
    # A flood leaves thousands of items per Slack channel: a claim must hand out each lane's
    # oldest pending item (never one behind it), whatever is done or pending around it.
    with session_factory.begin() as session:
        for n in range(60):
            lane = f"C{n % 3}"
            session.add(OutboxItem(target="test", kind="post", dedupe_key=f"k{n}", ordering_key=lane,
                                   payload={"n": n}, next_attempt_at=clock.now, state="done" if n < 15 else "pending"))
        session.add(OutboxItem(target="test", kind="post", dedupe_key="free", payload={"n": 99},
                               next_attempt_at=clock.now))
    outbox = Outbox(session_factory, {"test": lambda item: None}, clock=clock)
    assert sorted(item.payload["n"] for item in outbox.claim()) == [15, 16, 17, 99]
    clock.advance(minutes=5)  # the leases end; nothing was delivered, so the same heads come back
    taken = outbox.claim()
    assert sorted(item.payload["n"] for item in taken) == [15, 16, 17, 99]
    for item in taken:
        outbox.deliver(item)
    assert sorted(item.payload["n"] for item in outbox.claim()) == [18, 19, 20]


def test_an_idle_worker_waits_until_the_next_lane_may_go(session_factory, clock):
    outbox = Outbox(session_factory, {"test": lambda item: None}, clock=clock)
    assert outbox.pause(0.5) == 0.5  # no lane rests: the usual idle pause
    with session_factory.begin() as session:
        session.add(OutboxLane(key="slack:C1", not_before=clock.now + timedelta(seconds=0.2)))
        session.add(OutboxLane(key="slack:C2", not_before=clock.now + timedelta(seconds=0.7)))
        session.add(OutboxLane(key="slack:C3", not_before=clock.now - timedelta(seconds=3)))
    assert outbox.pause(0.5) == pytest.approx(0.2)  # wakes when C1's rest ends, not later
    clock.advance(seconds=0.3)
    assert outbox.pause(0.5) == pytest.approx(0.4)


def test_a_claim_skips_lanes_of_targets_this_process_cannot_deliver(session_factory):
    """Items for a network this replica has not configured wait for one that has; they neither
    block nor get claimed by the deliverers that are here."""
    with session_factory.begin() as session:
        session.add(OutboxItem(target="network:x", kind="reply", dedupe_key="x-only", ordering_key="x:@acme",
                               payload={}))
    delivered = []
    outbox = Outbox(session_factory, {"network:webhook": lambda item: delivered.append(item.dedupe_key) or {}})
    with session_factory.begin() as session:
        session.add(OutboxItem(target="network:webhook", kind="reply", dedupe_key="hook-1",
                               ordering_key="webhook:shop-form", payload={}))
    assert outbox.run_once() == 1
    assert delivered == ["hook-1"]
    states = {item.dedupe_key: item.state for item in items(session_factory)}
    assert states == {"x-only": "pending", "hook-1": "done"}


def test_a_worker_with_nothing_to_deliver_idles_without_querying(session_factory):
    import threading

    claims = []
    outbox = Outbox(session_factory, {})
    outbox.claim = lambda limit=20: claims.append(limit) or []
    stop = threading.Event()
    worker = threading.Thread(target=outbox.run_forever, args=(stop,))
    worker.start()
    for _ in range(50):
        outbox.wake()
    stop.set()
    worker.join(timeout=5)
    assert not worker.is_alive() and claims == []


def test_an_urgent_item_goes_before_the_rest_of_its_lane(session_factory, clock):
    """An incident's parent post jumps the flood's first tickets queued in its channel; the lane
    then goes on in order, and an urgent item already sent is left alone."""
    from chatops.tickets.events import EventNotice, OutboxRow
    from chatops.tickets.record import Recorder

    def notice(n: int, kind: str = "created") -> EventNotice:
        return EventNotice(event_id=n, ticket_id=None, kind=kind, actor="t", at=clock.now, channel="c",
                           assignee=None, payload={})

    def post(n: int, *, urgent: bool = False):
        return lambda _notice: [OutboxRow("test", "post", f"post:{n}", "slack:C1", {"n": n}, urgent=urgent)]

    with session_factory.begin() as session:
        for n in range(5):
            Recorder([post(n)]).announce(session, notice(n))
        Recorder([post(3, urgent=True)]).announce(session, notice(3, "incident_opened"))  # queued: marked, not added
    delivered = []
    outbox = Outbox(session_factory, {"test": lambda item: delivered.append(item.payload["n"]) or {}}, clock=clock)
    while outbox.run_once():
        pass
    assert delivered == [3, 0, 1, 2, 4]
    assert [(item.dedupe_key, item.urgent, item.state) for item in items(session_factory)] == [
        ("post:0", False, "done"), ("post:1", False, "done"), ("post:2", False, "done"), ("post:3", True, "done"),
        ("post:4", False, "done")]
    with session_factory.begin() as session:  # sent already: nothing queued again, nothing marked
        assert Recorder([post(3, urgent=True)]).announce(session, notice(3, "incident_opened")) == 1
    assert len(items(session_factory)) == 5 and outbox.run_once() == 0


def test_an_incidents_update_of_the_second_does_not_wait_for_the_last_seconds_trailing_one(session_factory, rules):
    """The trailing render of second 0 is due at 1.25 s. The update of second 1, queued at 1.1 s,
    goes at once instead of holding the lane until then (updates every 1.25 s, a growing lane),
    and closes that trailing render, which has nothing left to show."""
    from datetime import UTC, datetime

    from chatops.slack.incident import incident_rows, retire_earlier_renders
    from chatops.tickets.events import EventNotice
    from chatops.tickets.record import Recorder

    start = datetime(2026, 11, 24, 1, 0, 0, tzinfo=UTC)

    def member(at: datetime) -> EventNotice:
        return EventNotice(event_id=1, ticket_id=None, kind="incident_message", actor="customer:1", at=at,
                           channel="support-urgent", assignee=None, payload={})

    with session_factory.begin() as session:
        for offset in (0.2, 0.6, 1.1):
            notice = member(start + timedelta(seconds=offset))
            Recorder([lambda n: [r for r in incident_rows(rules, n, "slack:#cs-urgent")
                                          if r.kind == "update_incident"]]).announce(session, notice)
    clock = [start + timedelta(seconds=0.3)]
    delivered = []
    outbox = Outbox(session_factory, {"slack": lambda item: delivered.append(item.dedupe_key) or {}},
                    on_done={"update_incident": retire_earlier_renders}, clock=lambda: clock[0])
    second = int(start.timestamp())
    assert outbox.run_once() == 1 and delivered == [f"slack:incident:None:{second}"]
    clock[0] = start + timedelta(seconds=1.15)  # second 0's trailing render is not due until 1.25 s
    assert outbox.run_once() == 1 and delivered[1:] == [f"slack:incident:None:{second + 1}"]
    # Second 0's trailing render has nothing left to show: closed with that update, not claimed later.
    states = {item.dedupe_key: (item.state, (item.result or {}).get("skipped")) for item in items(session_factory)}
    assert states[f"slack:incident:None:{second}:tail"] == ("done", "a later render showed it")
    assert states[f"slack:incident:None:{second + 1}:tail"] == ("pending", None)
