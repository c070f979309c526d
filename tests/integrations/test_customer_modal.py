"""The Customer modal: handle, history with outcomes, CSAT placeholder, flags, and the flag
buttons driven by a signed Slack interaction against a local Slack API."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import select

from chatops.app import create_app
from chatops.rules import load_rules
from chatops.runtime import Runtime
from chatops.settings import Settings
from chatops.slack import blocks
from chatops.slack.cards import customer_summary
from chatops.tickets import service
from chatops.tickets.models import Customer, Message
from tests.conftest import RULES_PATH
from tests.fakes.http_recorder import RecordingServer
from tests.helpers import inbound

SIGNING_SECRET = "slack-signing-secret"


@pytest.fixture
def slack_api():
    with RecordingServer() as server:
        yield server


@pytest.fixture
def slack_runtime(database_url, slack_api):
    settings = Settings(database_url=database_url, rules_path=RULES_PATH, slack_bot_token="xoxb-test",
                        slack_signing_secret=SIGNING_SECRET, slack_api_url=slack_api.url + "/")
    runtime = Runtime.build(settings, upgrade_db=False, rules=load_rules(RULES_PATH))
    yield runtime
    runtime.close()


def click(client, action_id: str, value: str, user: str = "U0AGENT001"):
    payload = {"type": "block_actions", "user": {"id": user}, "team": {"id": "T1"}, "trigger_id": "trig",
               "api_app_id": "A1", "token": "t", "container": {"type": "view", "view_id": "V123"},
               "view": {"id": "V123", "type": "modal", "hash": "h1", "callback_id": "view.customer",
                        "private_metadata": value.split(":", 2)[2], "blocks": [], "state": {"values": {}}},
               "actions": [{"type": "button", "action_id": action_id, "block_id": "customer.flags", "value": value,
                            "action_ts": str(time.time())}]}
    body = urlencode({"payload": json.dumps(payload)})
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=timestamp, body=body)
    return client.post("/slack/events", data=body, content_type="application/x-www-form-urlencoded",
                       headers={"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature})


def test_modal_shows_history_csat_placeholder_and_flag_buttons(runtime):
    first = runtime.flows.ingest(inbound("二重請求されました"))
    runtime.flows.resolve(first.ticket_key, actor="U0AGENT001")
    runtime.flows.ingest(inbound("また届かない", created_at="2026-11-25T01:00:00+00:00"))
    with runtime.session_factory() as session:
        summary = customer_summary(session, service.get_ticket(session, key=first.ticket_key))
    view = blocks.customer_modal(summary, runtime.rules, "ja")
    text = json.dumps(view, ensure_ascii=False)
    assert "@hanako" in text and "解決済み" in text and "アンケート未回答" in text
    assert [t[0] for t in summary.tickets] == ["T-2", "T-1"]
    buttons = view["blocks"][-1]["elements"]
    assert [b["value"] for b in buttons] == [f"{flag}:on:{first.ticket_key}" for flag in ("vip", "troll", "blocked")]
    assert len(view["blocks"]) <= 100 and all(len(b["text"]["text"]) <= 75 for b in buttons)


def test_agent_blocks_customer_from_the_modal(slack_runtime, slack_api):
    runtime = slack_runtime
    key = runtime.flows.ingest(inbound("二重請求されました")).ticket_key
    client = create_app(runtime).test_client()
    response = click(client, "customer.flag.blocked", f"blocked:on:{key}")
    assert response.status_code == 200
    with runtime.session_factory() as session:
        assert session.scalars(select(Customer)).one().flags == ["blocked"]
    update = next(r for r in slack_api.requests if r.path.endswith("views.update"))
    form = dict(item.split("=", 1) for item in update.body.decode().split("&")) if b"view_id=" in update.body \
        else update.json()
    view = json.loads(form["view"]) if isinstance(form["view"], str) and form["view"].startswith("{") else form["view"]
    if isinstance(view, str):
        from urllib.parse import unquote_plus
        view = json.loads(unquote_plus(view))
    values = [b["value"] for b in view["blocks"][-1]["elements"]]
    assert f"blocked:off:{key}" in values
    later = runtime.flows.ingest(inbound("返金して", created_at="2026-11-21T01:00:00+00:00"))
    assert later.outcome == "stored"
    with runtime.session_factory() as session:
        assert session.scalar(select(Message.ticket_id).where(Message.id == later.message_id)) is None


def test_someone_without_a_role_cannot_flag(slack_runtime, slack_api):
    runtime = slack_runtime
    key = runtime.flows.ingest(inbound("二重請求されました")).ticket_key
    click(create_app(runtime).test_client(), "customer.flag.vip", f"vip:on:{key}", user="U0STRANGER")
    with runtime.session_factory() as session:
        assert session.scalars(select(Customer)).one().flags == []
