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
