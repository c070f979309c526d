"""Waiting on the customer, end to end with the fake Slack: `/ticket pending`, the overflow
menu item and a delivered reply set a ticket pending; pending pauses the resolution clock and
the customer's next message resumes it with the time that was left."""

from __future__ import annotations

from chatops.i18n import t
from chatops.sla.state import sla_state
from chatops.slack import ids
from tests.fakes.http_recorder import Answer, RecordingServer
from tests.helpers import deliver_replies, inbound

JA = "ja"



def _arrive(desk, text: str = "注文が届きません", conversation: str = "conv-1") -> str:
    key = desk.flows.ingest(inbound(text, source="webhook", account="shop-form",
                                    author={"id": "c-77", "handle": "@sato", "name": "佐藤"},
                                    conversation_id=conversation)).ticket_key
    desk.drain()
    return key


def test_slash_command_sets_pending_and_thread_says_so(desk):
    key = _arrive(desk)
    assert desk.command(f"pending {key}").status_code == 200
    desk.drain()
    assert desk.ticket(key).status == "pending"
    [parent] = desk.slack.parents()
    assert t("slack.line.pending", JA, who="<@U0AGENT001>") in [m.text for m in desk.slack.thread(parent)]
    assert desk.events(key)[-1] == "pending"


def test_menu_item_sets_pending_and_leaves_the_menu(desk):
    key = _arrive(desk)
    [parent] = desk.slack.parents()
    menu = [element for attachment in parent.attachments for block in attachment["blocks"]
            if block["type"] == "actions" for element in block["elements"] if element["type"] == "overflow"]
    values = [option["value"] for option in menu[0]["options"]]
    assert values[0] == f"pending::{key}" and len(values) <= 5
    assert menu[0]["options"][0]["text"]["text"] == t("slack.menu.pending", JA)
    assert desk.click(ids.MENU, f"pending::{key}", selected=True).status_code == 200
    desk.drain()
    assert desk.ticket(key).status == "pending"
    assert desk.events(key)[-1] == "pending"


def test_pending_pauses_resolution_and_customer_resumes_with_time_left(desk):
    key = _arrive(desk)
    desk.flows.claim(key, actor="U0AGENT001")
    desk.flows.reply(key, actor="U0AGENT001", text="確認します")
    opened = desk.ticket(key)
    desk.clock.advance(seconds=600)
    deliver_replies(desk.flows)  # accepted: answered, and (sla.pending_after_reply) waiting on the customer
    paused = desk.ticket(key)
    assert paused.sla_paused_at is not None
    assert sla_state(paused, desk.clock()).state == "paused"
    left = desk.flows.sla.calendar(opened.priority, "standard").between(desk.clock(), opened.resolution_due_at)
    desk.clock.advance(days=2)
    desk.flows.ingest(inbound("まだ届きません", source="webhook", account="shop-form",
                              author={"id": "c-77", "handle": "@sato", "name": "佐藤"}, conversation_id="conv-1"))
    resumed = desk.ticket(key)
    assert resumed.status == "open" and resumed.sla_paused_at is None
    calendar = desk.flows.sla.calendar(resumed.priority, "standard")
    assert calendar.between(desk.clock(), resumed.resolution_due_at) == left
    assert resumed.resolution_due_at > opened.resolution_due_at


def test_delivered_reply_makes_ticket_pending(desk):
    with RecordingServer() as network:
        network.default = Answer(201, {"id": "sent-1"})
        desk.replies_to(network)
        key = _arrive(desk)
        desk.flows.reply(key, actor="U0AGENT001", text="発送済みです")
        assert desk.ticket(key).status == "open"  # queued, not yet delivered
        desk.drain()
        assert len(network.requests) == 1
    ticket = desk.ticket(key)
    assert ticket.status == "pending" and ticket.sla_paused_at is not None
    assert desk.events(key)[-3:] == ["replied", "reply_sent", "pending"]


def test_pending_after_reply_off_keeps_ticket_open(desk):
    rules = desk.flows.rules
    desk.flows.rules = rules.model_copy(update={"sla": rules.sla.model_copy(update={"pending_after_reply": False})})
    with RecordingServer() as network:
        network.default = Answer(201, {"id": "sent-1"})
        desk.replies_to(network)
        key = _arrive(desk)
        desk.flows.reply(key, actor="U0AGENT001", text="発送済みです")
        desk.drain()
    assert desk.ticket(key).status == "open"



def test_delivered_reply_thread_line(desk):
    with RecordingServer() as network:
        network.default = Answer(201, {"id": "sent-1"})
        desk.replies_to(network)
        key = _arrive(desk)
        desk.flows.reply(key, actor="U0AGENT001", text="発送済みです")
        desk.drain()
    [parent] = desk.slack.parents()
    lines = [m.text for m in desk.slack.thread(parent)]
    assert lines.count(t("slack.line.pending_after_reply", JA)) == 1
    assert desk.events(key).count("pending") == 1

