"""A delivery whose record fails (its done hook raises) is not a silent log line: the team hears
of it once, with the ticket and the error, and /metrics counts it."""

from __future__ import annotations

from sqlalchemy import select

from chatops.i18n import t
from chatops.oncall.models import SchedulerError
from chatops.tickets.models import OutboxItem
from tests.helpers import inbound


def test_a_failing_done_hook_is_announced_and_counted(desk):
    def record_it(session, row):  # a done hook that breaks, as a bug or a lost row would
        raise RuntimeError("the ticket row is locked")

    desk.outbox.on_done["post_ticket"] = record_it
    key = desk.flows.ingest(inbound("注文した商品が届きません")).ticket_key
    desk.drain()
    with desk.runtime.session_factory() as session:
        item = session.scalars(select(OutboxItem).where(OutboxItem.kind == "post_ticket")).one()
        failure = session.scalars(select(SchedulerError)).one()
    assert item.state == "done"  # Slack has the post: it is never sent twice
    assert "done hook failed: RuntimeError: the ticket row is locked" in item.last_error
    assert (failure.pass_name, failure.item) == ("outbox", f"{key} post_ticket")
    alerts = [m.text for m in desk.slack.messages if "the ticket row is locked" in m.text]
    expected = t("sla.alert.outbox_hook_failed", "en", item=f"{key} post_ticket",
                 error="RuntimeError: the ticket row is locked")
    assert len(alerts) == 1 and expected in alerts[0]
    metrics = desk.client.get("/metrics").get_data(as_text=True)
    assert 'chatops_scheduler_errors_total{pass="outbox"} 1.0' in metrics
    assert 'chatops_scheduler_failed_items{pass="outbox"} 1.0' in metrics


def test_a_network_id_given_twice_still_records_both_replies(desk):
    """A network may answer two deliveries with the same id (a placeholder for an accepted retry):
    both replies are still sent and the first one counts as the first response."""
    from chatops.tickets.models import Message, Ticket
    from tests.fakes.http_recorder import Answer, RecordingServer

    with RecordingServer() as network:
        network.default = Answer(201, {"id": "accepted"})
        desk.replies_to(network)
        key = desk.flows.ingest(inbound("返品したいです", source="webhook", account="shop-form",
                                        author={"id": "c-9", "handle": "@kato", "name": "加藤"})).ticket_key
        for number, text in enumerate(("確認します", "返送先をお送りします")):
            desk.flows.reply(key, actor="U0AGENT001", text=text, idempotency_key=f"slack-view:V{number}")
        desk.drain()
    assert [r.json()["text"] for r in network.requests] == ["確認します", "返送先をお送りします"]
    with desk.runtime.session_factory() as session:
        replies = list(session.scalars(select(Message).where(Message.direction == "outbound").order_by(Message.id)))
        ticket = session.get(Ticket, int(key.removeprefix("T-")))
        failures = list(session.scalars(select(SchedulerError)))
    assert [m.delivery_state for m in replies] == ["sent", "sent"]
    assert replies[0].external_id == "accepted" and replies[1].meta["network_id"] == "accepted"
    assert ticket.first_response_at is not None and failures == []
    assert desk.events(key).count("reply_sent") == 2
