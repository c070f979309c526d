"""Socket Mode: with SLACK_APP_TOKEN and no signing secret, the app opens a WebSocket from
apps.connections.open, answers slash commands in the envelope's ack, and mounts no HTTP route."""

from __future__ import annotations

from pydantic import SecretStr

from chatops.app import create_app
from chatops.i18n import t
from chatops.runtime import Runtime
from chatops.slack.app import start_socket_mode
from chatops.tickets import service
from tests.fakes.socket_mode import FakeSocketMode
from tests.helpers import inbound
from tests.slack.conftest import AGENT


def test_slash_command_over_socket_mode(settings, rules, fake_slack):
    socket_settings = settings.model_copy(update={
        "slack_bot_token": SecretStr("xoxb-test"), "slack_app_token": SecretStr("xapp-test"),
        "slack_signing_secret": None, "slack_api_url": fake_slack.api_url})
    runtime = Runtime.build(socket_settings, upgrade_db=False, rules=rules)
    try:
        app = create_app(runtime)
        assert app.test_client().post("/slack/events", data="x").status_code == 404
        key = runtime.flows.ingest(inbound()).ticket_key
        with FakeSocketMode() as ws:
            fake_slack.socket_url = ws.url
            handler = start_socket_mode(runtime, app.extensions["chatops.slack"])
            try:
                ws.send({"envelope_id": "env-1", "type": "slash_commands", "accepts_response_payload": True,
                         "payload": {"command": "/ticket", "text": f"claim {key}", "user_id": AGENT,
                                     "team_id": "T0001", "channel_id": "C0CMD", "api_app_id": "A0001",
                                     "response_url": fake_slack.response_url(), "trigger_id": "t1"}})
                ack = ws.ack("env-1")
            finally:
                handler.close()
        assert ack["payload"]["text"] == ":white_check_mark: " + t("slack.cmd.done.claim", "ja", key=key)
        assert [c.method for c in fake_slack.calls if c.token == "xapp-test"] == ["apps.connections.open"]
        with runtime.session_factory() as session:
            assert service.get_ticket(session, key=key).assignee == AGENT
    finally:
        runtime.close()
