"""Slack side of SLA and paging, through real signed requests and a local Web API: the page
DM and its Acknowledge button, `/oncall`, warning and breach notices."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode
from zoneinfo import ZoneInfo

import pytest
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import select

from chatops.app import build_outbox, create_app
from chatops.oncall.models import Page
from chatops.runtime import Runtime
from chatops.settings import Settings
from tests.fakes.http_recorder import Answer, RecordingServer
from tests.helpers import inbound

SECRET = "test-signing-secret"
JST = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def slack(settings, rules, clock):
    with RecordingServer() as api:
        api.default = Answer(200, {"ok": True, "channel": "C0URGENT", "ts": "1700000000.000100"})
        runtime = Runtime.build(Settings(database_url=settings.database_url, rules_path=settings.rules_path,
                                         slack_bot_token="xoxb-test", slack_signing_secret=SECRET,
                                         slack_api_url=api.url + "/api/", slack_post_interval=0),
                                upgrade_db=False, rules=rules)
        runtime.flows.clock = clock  # Friday 2026-11-20 10:00 JST, moved by hand
        try:
            yield runtime, api, create_app(runtime).test_client(), build_outbox(runtime)
        finally:
            runtime.close()


def signed(client, body: bytes, content_type: str):
    stamp = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=stamp, body=body)
    return client.post("/slack/events", data=body, content_type=content_type, headers={
        "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature})


def calls(api, method: str) -> list[dict]:
    out = []
    for request in api.requests:
        if request.path == f"/api/{method}":
            fields = parse_qs(request.body.decode())
            out.append({k: v[0] for k, v in fields.items()} if fields else request.json())
    return out


def drain(outbox) -> None:
    while outbox.run_once():
        pass


def test_page_dm_acknowledge_button_and_oncall_command(slack):
    runtime, api, client, outbox = slack
    runtime.flows.ingest(inbound("二重請求されています"))
    runtime.flows.page_pass()
    drain(outbox)
    dms = [call for call in calls(api, "chat.postMessage") if call.get("channel") == "U0AGENT003"]
    assert len(dms) == 1
    blocks = dms[0]["blocks"]
    buttons = blocks[-1]["elements"]
    assert [(b["action_id"], b["value"]) for b in buttons] == [("page.ack", "P-1"), ("page.resolve", "P-1")]
    assert "P-1" in dms[0]["text"] and "T-1" in dms[0]["text"]
    thread_lines = [call["text"] for call in calls(api, "chat.postMessage") if call.get("thread_ts")]
    assert any("<@U0AGENT003>" in line and "P-1" in line for line in thread_lines)

    payload = {"type": "block_actions", "user": {"id": "U0AGENT003"}, "team": {"id": "T1"},
               "api_app_id": "A1", "token": "x", "trigger_id": "1.2", "response_url": api.url + "/respond",
               "container": {"type": "message"}, "channel": {"id": "D1"},
               "actions": [{"action_id": "page.ack", "block_id": "page:P-1", "value": "P-1", "type": "button"}]}
    response = signed(client, urlencode({"payload": json.dumps(payload)}).encode(),
                      "application/x-www-form-urlencoded")
    assert response.status_code == 200
    with runtime.session_factory() as session:
        page = session.scalars(select(Page)).one()
        assert (page.status, page.acknowledged_by, page.next_at) == ("acknowledged", "U0AGENT003", None)
    responded = [r.json() for r in api.requests if r.path == "/respond"]
    assert responded[-1]["replace_original"] is True and "P-1" in responded[-1]["text"]

    command = urlencode({"command": "/oncall", "text": "who", "user_id": "U0AGENT001", "team_id": "T1",
                         "channel_id": "C1", "response_url": api.url + "/respond", "trigger_id": "1.3"}).encode()
    answer = signed(client, command, "application/x-www-form-urlencoded").get_json()
    assert "*primary*" in answer["text"] and "<@U0AGENT003>" in answer["text"]  # weekly, third week
    assert "*leads*" in answer["text"]


def test_warning_goes_to_the_channel_when_unassigned_and_breach_to_the_lead(slack):
    runtime, api, client, outbox = slack
    runtime.flows.ingest(inbound("二重請求されています"))
    drain(outbox)
    runtime.flows.sla_pass(datetime(2026, 11, 20, 10, 48, tzinfo=JST).astimezone(UTC))
    runtime.flows.sla_pass(datetime(2026, 11, 20, 11, 0, tzinfo=JST).astimezone(UTC))
    drain(outbox)
    posts = calls(api, "chat.postMessage")
    channel_notices = [p for p in posts if p["channel"] == "#cs-urgent" and not p.get("thread_ts")
                       and "T-1" in p["text"] and ":hourglass" in p["text"]]
    assert len(channel_notices) == 1
    lead_dms = [p for p in posts if p["channel"] == "U0LEAD0001"]
    assert len(lead_dms) == 1 and ":rotating_light:" in lead_dms[0]["text"]
    lines = [p["text"] for p in posts if p.get("thread_ts")]
    assert sum("SLA" in line for line in lines) == 2
