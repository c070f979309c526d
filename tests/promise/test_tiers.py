"""Tier and flags that act: the premium tier set from /ticket and the CLI re-prices the
customer's deadlines; a troll-flagged customer gets no CSAT request and pages nobody."""

from __future__ import annotations

from sqlalchemy import select

from chatops.cli import main
from chatops.i18n import t
from chatops.oncall.models import Page
from chatops.sla.clock import NEXT_SLOTS, SLOTS
from chatops.tickets.customers import flag_customer
from chatops.tickets.models import Customer, Message, Ticket
from tests.helpers import inbound
from tests.slack.conftest import AGENT, LEAD

JA = "ja"
RED = "二重請求されています。確認してください"


def _premium_deadlines(flows, ticket: Ticket) -> tuple:
    moments = flows.sla.deadlines(ticket.priority, "premium", ticket.created_at).as_dict()
    return tuple(sorted(moments.items()))


def _stored(ticket: Ticket) -> tuple:
    return tuple(sorted((slot, getattr(ticket, slot)) for slot in SLOTS if slot not in NEXT_SLOTS))


def test_ticket_tier_needs_the_assign_role_and_reprices_as_premium(desk):  # noqa: F811
    key = desk.flows.ingest(inbound(RED)).ticket_key
    refused = desk.command(f"tier {key} premium", user=AGENT).get_json()["text"]
    assert refused == ":no_entry: " + t("error.permission_denied", JA, action=t("verb.tier", JA),
                                         roles=t("role.leads", JA))
    assert desk.events(key) == ["created"]
    with desk.runtime.session_factory() as session:
        assert session.scalar(select(Customer.tier)) == "standard"
    done = desk.command(f"tier {key} premium", user=LEAD).get_json()["text"]
    assert done == ":white_check_mark: " + t("slack.cmd.done.tier", JA, key=key, tier="premium")
    assert desk.events(key)[-1] == "tier_changed"
    desk.drain()
    parent = desk.slack.parents()[0]
    line = t("slack.line.tier_changed", JA, who=f"<@{LEAD}>", tier=t("tier.premium", JA))
    assert line in [m.text for m in desk.slack.thread(parent)]
    with desk.runtime.session_factory() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert ticket.customer.tier == "premium"
        assert _stored(ticket) == _premium_deadlines(desk.flows, ticket)


def test_cli_tier_reprices_as_premium(runtime, settings, monkeypatch, capsys):
    key = runtime.flows.ingest(inbound(RED)).ticket_key
    monkeypatch.setenv("CHATOPS_DATABASE_URL", str(settings.database_url))
    code = main(["tickets", "tier", key, "premium", "--as", LEAD])
    assert code == 0, capsys.readouterr()
    with runtime.session_factory() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert ticket.customer.tier == "premium"
        assert _stored(ticket) == _premium_deadlines(runtime.flows, ticket)


def test_troll_gets_no_csat_request_and_pages_nobody(runtime):
    flows = runtime.flows
    control = flows.ingest(inbound(author={"id": "u2", "handle": "@taro", "name": "Taro"})).ticket_key
    flows.resolve(control, actor=AGENT)
    key = flows.ingest(inbound()).ticket_key
    flag_customer(flows, key, actor=LEAD, flag="troll")
    flows.resolve(key, actor=AGENT)
    with runtime.session_factory() as session:
        requested = dict(session.execute(select(Ticket.id, Ticket.csat_requested_at)).all())
        assert requested[int(control.split("-")[1])] is not None  # CSAT is on for this network and tier
        assert requested[int(key.split("-")[1])] is None
        assert session.scalars(select(Message).where(Message.kind == "csat",
                                                     Message.ticket_id == int(key.split("-")[1]))).all() == []
    red = flows.ingest(inbound(RED, conversation_id="c-new", external_id="m-red")).ticket_key
    with runtime.session_factory() as session:
        assert session.get(Ticket, int(red.split("-")[1])).priority == "red"
        assert session.scalars(select(Page)).all() == []


def test_signed_webhook_author_tier_opens_premium(runtime):
    from chatops.app import create_app
    from integrations.webhook import sign
    body = inbound(RED, author={"id": "crm-7", "handle": "@bigco", "name": "BigCo", "tier": "premium"}
                   ).model_dump_json().encode()
    response = create_app(runtime).test_client().post(
        "/webhooks/generic", data=body, content_type="application/json",
        headers={"X-Chatops-Signature": sign("test-webhook-secret", body)})
    assert response.status_code == 202, response.data
    with runtime.session_factory() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert ticket.customer.tier == "premium"
        assert _stored(ticket) == _premium_deadlines(runtime.flows, ticket)


def test_rules_premium_list_opens_premium_by_handle(runtime):
    runtime.flows.ingest(inbound(RED, author={"id": "u9", "handle": "@bigco_official", "name": "BigCo"}))
    with runtime.session_factory() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert ticket.customer.tier == "premium"
        assert _stored(ticket) == _premium_deadlines(runtime.flows, ticket)


def test_vip_green_post_opens_orange(runtime, clock):
    from datetime import timedelta

    from tests.helpers import BASE_TIME
    flows = runtime.flows
    first = flows.ingest(inbound()).ticket_key
    flag_customer(flows, first, actor=LEAD, flag="vip")
    flows.resolve(first, actor=AGENT)
    clock.advance(days=2)  # past the follow-up window: a new ticket, not a reopen
    second = flows.ingest(inbound(conversation_id="c-vip", external_id="m-vip",
                                  created_at=(BASE_TIME + timedelta(days=2)).isoformat())).ticket_key
    assert second != first
    with runtime.session_factory() as session:
        assert session.get(Ticket, int(first.split("-")[1])).priority == "green"
        ticket = session.get(Ticket, int(second.split("-")[1]))
        assert ticket.priority == "orange"
        assert ticket.first_response_due_at == flows.sla.deadlines(
            "orange", "standard", ticket.created_at).as_dict()["first_response_due_at"]
