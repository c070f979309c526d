"""The next-reply deadline, end to end with the fake Slack: a customer writing again on an
answered ticket waits on the next answer; the thread warns and reports the breach once each,
and an agent's delivered reply ends the wait. A tier the webhook sends re-prices the customer's
other open tickets."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import select

from chatops.app import create_app
from chatops.i18n import t
from chatops.sla.state import sla_state
from chatops.slack.blocks.pages import sla_line
from chatops.teams import cards as teams_cards
from chatops.tickets.models import Ticket
from integrations.webhook import sign
from tests.fakes.http_recorder import Answer, RecordingServer
from tests.helpers import inbound

JA = "ja"
AUTHOR = {"id": "c-77", "handle": "@sato", "name": "佐藤"}



def _arrive(desk, text: str, conversation: str = "conv-1", **author) -> str:
    key = desk.flows.ingest(inbound(text, source="webhook", account="shop-form", author={**AUTHOR, **author},
                                    conversation_id=conversation)).ticket_key
    desk.drain()
    return key


@contextmanager
def _network(desk):
    """Agent replies go to a fake network that accepts them."""
    with RecordingServer() as network:
        network.answers = [Answer(201, {"id": f"sent-{n}"}) for n in range(1, 5)]
        desk.replies_to(network)
        yield network


def _next_reply_lines(desk, emoji: str) -> list[str]:
    parent = desk.slack.parents()[0]  # the ticket's; later top-level ones are notices to the channel
    name = t("sla.deadline.next_response", JA)
    return [m.text for m in desk.slack.thread(parent) if m.text.startswith(emoji) and name in m.text]


def _parent_text(desk) -> str:
    parent = desk.slack.parents()[0]
    return str(parent.attachments) + str(parent.text)


def test_customer_writing_again_waits_on_a_next_reply_warned_and_breached_once(desk):
    with _network(desk) as network:
        key = _arrive(desk, "注文が届きません")
        desk.flows.reply(key, actor="U0AGENT001", text="確認します")
        desk.drain()
        assert desk.ticket(key).status == "pending"  # the reply reached the customer: their turn
        assert desk.ticket(key).next_response_due_at is None

        desk.clock.advance(minutes=30)
        _arrive(desk, "まだ届いていません")
        waiting = desk.ticket(key)
        assert waiting.status == "open" and waiting.sla_paused_at is None
        assert waiting.next_response_due_at is not None and waiting.next_response_warn_at < waiting.next_response_due_at
        assert sla_state(waiting, desk.clock()).deadline == "next_response"
        assert t("slack.deadline.next_response", JA) in _parent_text(desk)

        desk.clock.now = waiting.next_response_warn_at
        assert desk.flows.sla_pass(desk.clock()) == [(key, "sla_warning", "next_response")]
        desk.drain()
        assert len(_next_reply_lines(desk, ":hourglass_flowing_sand:")) == 1
        assert sla_state(desk.ticket(key), desk.clock()).state == "warning"

        desk.clock.now = waiting.next_response_due_at
        assert desk.flows.sla_pass(desk.clock()) == [(key, "sla_breached", "next_response")]
        desk.drain()
        assert len(_next_reply_lines(desk, ":rotating_light:")) == 1
        assert sla_state(desk.ticket(key), desk.clock()).state == "breached"

        assert [fired for fired in desk.flows.sla_pass(desk.clock()) if fired[2] == "next_response"] == []
        desk.drain()
        assert len(_next_reply_lines(desk, ":hourglass_flowing_sand:")) == 1
        assert len(_next_reply_lines(desk, ":rotating_light:")) == 1

        desk.flows.reply(key, actor="U0AGENT001", text="再送いたしました")
        desk.drain()
        assert len(network.requests) == 2
    answered = desk.ticket(key)
    assert answered.next_response_warn_at is None and answered.next_response_due_at is None
    assert answered.status == "pending"
    assert sla_state(answered, desk.clock()).deadline == "resolution"


def test_next_reply_lines_name_the_deadline_in_both_languages_on_slack_and_teams(rules):
    payload = {"deadline": "next_response", "due_at": "2026-11-20T05:00:00+00:00", "notify": [], "assignee": None}
    for lang, name in (("ja", "次回回答"), ("en", "next reply")):
        assert t("sla.deadline.next_response", lang) == name
        for kind in ("sla_warning", "sla_breached"):
            assert name in sla_line(kind, "chatops:sla", payload, rules, lang)
            assert name in teams_cards.event_line(kind, "chatops:sla", payload, rules, lang)


def test_webhook_tier_on_a_second_ticket_reprices_the_customers_first_open_ticket(desk):
    first = _arrive(desk, "二重請求されています")
    before = desk.ticket(first)
    assert before.customer.tier == "standard"
    desk.clock.advance(minutes=5)
    body = inbound("別件で、ポイントが消えました", source="webhook", account="shop-app",  # another desk: a new ticket
                   author={**AUTHOR, "tier": "premium"}, conversation_id="conv-2").model_dump_json().encode()
    response = create_app(desk.runtime).test_client().post(
        "/webhooks/generic", data=body, content_type="application/json",
        headers={"X-Chatops-Signature": sign("test-webhook-secret", body)})
    assert response.status_code == 202, response.data
    desk.drain()
    after = desk.ticket(first)
    assert after.customer.tier == "premium"
    premium = desk.flows.sla.deadlines(after.priority, "premium", after.created_at).as_dict()
    assert {slot: getattr(after, slot) for slot in premium} == premium
    assert after.first_response_due_at < before.first_response_due_at
    assert "tier_changed" in desk.events(first)
    with desk.runtime.session_factory() as session:
        keys = [ticket.key for ticket in session.scalars(select(Ticket).order_by(Ticket.id))]
    assert len(keys) == 2 and "tier_changed" not in desk.events(keys[1])  # opened premium: nothing to re-price
    parents = desk.slack.parents()
    lines = [m.text for parent in parents for m in desk.slack.thread(parent)]
    assert t("slack.line.tier_changed", JA, who=t("slack.system", JA), tier=t("tier.premium", JA)) in lines
    # the same tier again changes nothing
    desk.flows.ingest(inbound("追伸", source="webhook", account="shop-app", author={**AUTHOR, "tier": "premium"},
                              conversation_id="conv-2"))
    assert desk.events(first).count("tier_changed") == 1
