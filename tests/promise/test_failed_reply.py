"""A reply is sent only when the network accepted it. End to end with the fake Slack and a
network that refuses (403): the reply's one thread line goes from sending to failed (why, the
agent mentioned, Retry and Edit), the first-response deadline keeps running and breaches, App
Home lists the ticket on top; Retry against a network that now accepts makes the line sent and
counts the first response then. A refused rating request or auto-reply gets a line and a count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from chatops.i18n import t
from chatops.slack import ids
from chatops.slack.blocks.modals import parse_reply_metadata
from chatops.tickets.models import Message, OutboxItem, TicketEvent
from tests.fakes.http_recorder import Answer, RecordingServer
from tests.helpers import inbound
from tests.slack.conftest import AGENT

JA = "ja"
TEXT = "発送は明日になります"
FRIDAY_NIGHT = datetime(2026, 11, 20, 11, 30, tzinfo=UTC)  # 20:30 JST: the team is away


@pytest.fixture
def network(desk):
    """The generic reply webhook, refusing every reply (403) until a test says otherwise."""
    with RecordingServer() as server:
        server.default = Answer(403, {"error": "forbidden"})
        desk.replies_to(server)
        yield server


def _arrive(desk, text: str = "注文が届きません", author: str = "c-77") -> str:
    key = desk.flows.ingest(inbound(text, source="webhook", account="shop-form", created_at=desk.clock().isoformat(),
                                    author={"id": author, "handle": "@sato", "name": "佐藤"})).ticket_key
    desk.drain()
    return key



def _reply_lines(desk, text: str = TEXT):
    parent = desk.slack.parents()[0]  # the ticket's (an SLA breach adds a channel notice after it)
    return [m for m in desk.slack.thread(parent) if text in m.text]


def _buttons(blocks: list[dict]) -> dict[str, str]:
    return {element["action_id"]: element["value"] for block in blocks if block["type"] == "actions"
            for element in block["elements"] if element["type"] == "button"}


def _headers(view: dict) -> list[str]:
    return [block["text"]["text"] for block in view["blocks"] if block["type"] == "header"]


def _metrics(desk) -> str:
    return desk.client.get("/metrics").get_data(as_text=True)


def test_a_refused_reply_is_one_line_edited_to_failed_then_retried_to_sent(desk, network):
    key = _arrive(desk)
    desk.flows.claim(key, actor=AGENT)
    network.answers = [Answer(503, headers={"Retry-After": "60"})]  # busy first: the reply is on its way
    reply = desk.flows.reply(key, actor=AGENT, text=TEXT)
    for _ in range(30):  # deliver the Slack lane (paced) until the reply's line is there
        if desk.outbox.run_once() == 0:
            desk.clock.advance(seconds=1)
        if _reply_lines(desk):
            break
    [line] = _reply_lines(desk)
    assert line.text.startswith(":outbox_tray:") and t("slack.line.replied", JA, who=f"<@{AGENT}>") in line.text
    assert _buttons(line.blocks) == {}

    desk.drain()  # retried, then refused for good
    [line] = _reply_lines(desk)  # the same line, edited: never a second one
    value = f"{key}:{reply.id}"
    assert line.edits >= 1 and line.text.startswith(":x:")
    assert f"<@{AGENT}>" in line.text and t("slack.cause.refused", JA) in line.text and "403" in line.text
    assert _buttons(line.blocks) == {ids.REPLY_RETRY: value, ids.REPLY_EDIT: value}
    assert desk.events(key)[-1] == "reply_failed"
    ticket = desk.ticket(key)
    assert ticket.first_response_at is None  # nothing reached the customer
    # An edit notifies no one of its mention: the agent is told by DM, with the reason.
    [dm] = [m for m in desk.slack.dms(AGENT) if t("slack.dm.reply_failed", JA, key=key, channel="#cs-support")
            .split("（")[0] in m.text]
    assert "403" in dm.text

    # App Home: the ticket heads the agent's tab, with why and the same buttons.
    home = desk.slack.homes[AGENT]
    assert _headers(home)[0] == t("slack.home.failed", JA, count=1)
    top = home["blocks"][:6]
    assert _buttons(top) == {ids.REPLY_RETRY: value, ids.REPLY_EDIT: value}
    assert any(key in block.get("text", {}).get("text", "") for block in top)
    assert any(t("slack.cause.refused", JA) in str(block) for block in top)

    # The first-response deadline kept running: it breaches.
    due = ticket.first_response_due_at
    assert (key, "sla_breached", "first_response") in desk.flows.sla_pass(due + timedelta(minutes=1))

    # Edit: the Reply modal holds the refused text.
    desk.click(ids.REPLY_EDIT, value)
    modal = desk.last_view(ids.REPLY_VIEW)
    [box] = [b for b in modal["blocks"] if b.get("block_id", "").startswith(f"{ids.TEXT_BLOCK}.")]
    assert box["element"]["initial_value"] == TEXT and parse_reply_metadata(modal["private_metadata"])[0] == key

    # Retry, twice in a row (a double click), against a network that now accepts.
    network.default = Answer(201, {"id": "sent-1"})
    desk.clock.advance(minutes=5)
    clicked = desk.clock()
    desk.click(ids.REPLY_RETRY, value)
    desk.click(ids.REPLY_RETRY, value)
    assert t("error.reply_not_failed", JA, key=key) in desk.slack.ephemerals()[-1]
    with desk.runtime.session_factory() as session:
        retries = session.scalars(select(OutboxItem.dedupe_key).where(OutboxItem.dedupe_key.like(f"reply:{reply.id}:retry:%"))).all()
    assert retries == [f"reply:{reply.id}:retry:1"]
    desk.drain()
    [line] = _reply_lines(desk)
    assert line.text.startswith(":white_check_mark:") and _buttons(line.blocks) == {}
    assert [r.json()["text"] for r in network.requests][-1] == TEXT
    ticket = desk.ticket(key)
    assert ticket.first_response_at == clicked  # counted when the network accepted it
    with desk.runtime.session_factory() as session:
        sent = session.scalars(select(TicketEvent).where(TicketEvent.kind == "reply_sent")).one()
        assert sent.payload["first_response"] is True and sent.at == clicked
        assert session.get(Message, reply.id).delivery_state == "sent"
    assert t("slack.home.failed", JA, count=1) not in _headers(desk.slack.homes[AGENT])
    assert 'chatops_replies_failed{kind="reply",network="webhook"}' not in _metrics(desk)


def test_an_edited_reply_that_gets_through_clears_the_home_section(desk, network):
    key = _arrive(desk)
    desk.flows.claim(key, actor=AGENT)
    reply = desk.flows.reply(key, actor=AGENT, text=TEXT)
    desk.drain()
    assert _headers(desk.slack.homes[AGENT])[0] == t("slack.home.failed", JA, count=1)
    network.default = Answer(201, {"id": "sent-3"})
    desk.click(ids.REPLY_EDIT, f"{key}:{reply.id}")
    modal = desk.last_view(ids.REPLY_VIEW)
    [box] = [b for b in modal["blocks"] if b.get("block_id", "").startswith(f"{ids.TEXT_BLOCK}.")]
    edited = "発送は明後日になります"
    desk.submit(modal, {(box["block_id"], ids.TEXT_INPUT): {"type": "plain_text_input", "value": edited}})
    desk.drain()
    assert [r.json()["text"] for r in network.requests][-1] == edited
    assert _reply_lines(desk, edited)[0].text.startswith(":white_check_mark:")
    assert t("slack.home.failed", JA, count=1) not in _headers(desk.slack.homes[AGENT])
    with desk.runtime.session_factory() as session:
        assert session.get(Message, reply.id).delivery_state == "failed"  # the refused one stays as it was
    sent = len(network.requests)
    desk.click(ids.REPLY_RETRY, f"{key}:{reply.id}")  # the old line's Retry: the customer has the edit
    desk.drain()
    assert len(network.requests) == sent
    assert t("error.reply_superseded", JA, key=key) in desk.slack.ephemerals()[-1]


def test_retry_is_refused_on_a_resolved_ticket(desk, network):
    key = _arrive(desk)
    reply = desk.flows.reply(key, actor=AGENT, text=TEXT)
    desk.drain()
    network.default = Answer(201, {"id": "sent-2"})
    desk.flows.resolve(key, actor=AGENT)
    desk.drain()
    desk.click(ids.REPLY_RETRY, f"{key}:{reply.id}")
    assert key in desk.slack.ephemerals()[-1]
    with desk.runtime.session_factory() as session:
        assert session.get(Message, reply.id).delivery_state == "failed"


def test_a_refused_rating_request_shows_a_line_and_counts(desk, network):
    key = _arrive(desk)
    desk.flows.resolve(key, actor=AGENT)  # webhook + standard tier: a rating request goes out
    desk.drain()
    assert "csat_request_failed" in desk.events(key)
    [parent] = desk.slack.parents()
    lines = [m.text for m in desk.slack.thread(parent)]
    assert any(line.startswith(":x:") and t("slack.cause.refused", JA) in line and "Webhook" in line
               for line in lines if "満足度" in line)
    assert 'chatops_replies_failed{kind="csat",network="webhook"} 1.0' in _metrics(desk)


def test_a_refused_auto_reply_shows_a_line_and_counts(desk, network):
    desk.clock.now = FRIDAY_NIGHT
    key = _arrive(desk, "夜分にすみません", author="c-88")
    assert "auto_reply_failed" in desk.events(key)
    [parent] = desk.slack.parents()
    expected = t("slack.line.auto_reply_failed", JA, network="Webhook", reason="|").split("|")[0]
    assert any(expected in m.text and t("slack.cause.refused", JA) in m.text for m in desk.slack.thread(parent))
    assert 'chatops_replies_failed{kind="auto_reply",network="webhook"} 1.0' in _metrics(desk)
    assert desk.ticket(key).first_response_at is None


def test_a_deleted_sending_line_is_replaced_by_a_new_failed_line(desk, network):
    key = _arrive(desk)
    network.answers = [Answer(503, headers={"Retry-After": "60"})]
    desk.flows.reply(key, actor=AGENT, text=TEXT)
    for _ in range(30):
        if desk.outbox.run_once() == 0:
            desk.clock.advance(seconds=1)
        if _reply_lines(desk):
            break
    [line] = _reply_lines(desk)
    desk.slack.messages.remove(line)  # someone deleted it in Slack
    desk.drain()
    [line] = _reply_lines(desk)
    assert line.text.startswith(":x:") and _buttons(line.blocks)
