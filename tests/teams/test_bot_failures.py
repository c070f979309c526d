"""What goes wrong around the bot is said where a person looks: a bad `teams_channel` in
rules.yaml names its file and line, a card Teams refuses goes dead with the reason and is counted
in /metrics, wrong bot credentials too, and a handler that raises answers with an error."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from chatops import sandbox
from chatops.app import create_app
from chatops.rules import RulesError, load_rules
from chatops.settings import Settings
from chatops.teams.bot import handlers
from chatops.tickets.models import OutboxItem
from tests.helpers import inbound
from tests.teams.bot_support import *  # noqa: F403 - fixtures and helpers
from tests.teams.bot_support import channel_of, install, invoke, message, post

RULES = """\
channels:
  support:
    slack: "#cs-support"
    teams_channel: "{channel}"
defaults:
  channel: support
sla:
  policies:
    - {{priority: red, first_response: 1h, resolution: 8h}}
    - {{priority: orange, first_response: 4h, resolution: 1d}}
    - {{priority: green, first_response: 8h, resolution: 3d}}
"""


def test_teams_channel_is_checked_in_rules_yaml(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(RULES.format(channel="19:abc0123@thread.tacv2"), "utf-8")
    assert load_rules(path).channels["support"].teams_channel == "19:abc0123@thread.tacv2"
    path.write_text(RULES.format(channel="https://teams.microsoft.com/l/channel/19%3Aabc"), "utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    [problem] = caught.value.problems
    assert problem.startswith(f"{path}:4:") and "channels.support.teams_channel" in problem
    assert "19:…@thread.tacv2" in problem
    assert "Teams のチャンネル ID" in caught.value.lines("ja")[0]


def dead(runtime) -> list[OutboxItem]:
    with runtime.session_factory() as session:
        return session.scalars(select(OutboxItem).where(OutboxItem.target == "teams_bot",
                                                        OutboxItem.state == "dead")).all()


def test_a_refused_card_goes_dead_with_the_reason_and_shows_in_metrics(
        bot_runtime, bot_client, bot_outbox, identity, bot_connector):
    bot_runtime.flows.ingest(inbound("使い方を教えてください"))
    post(bot_client, identity, install(bot_connector, channel_of(bot_runtime.rules.defaults.channel)))
    bot_connector.fail_next(403, None)  # e.g. the bot was removed from the team
    bot_outbox.run_once()
    [item] = dead(bot_runtime)
    assert item.kind == "card" and "HTTP 403" in item.last_error
    scrape = create_app(bot_runtime).test_client().get("/metrics").text
    assert 'chatops_outbox_dead{target="teams_bot"} 1.0' in scrape


def test_wrong_bot_credentials_go_dead_with_the_token_endpoints_reason(
        bot_runtime, bot_client, bot_outbox, identity, bot_connector):
    identity.password = "rotated-in-the-portal"
    bot_runtime.flows.ingest(inbound("使い方を教えてください"))
    post(bot_client, identity, install(bot_connector, channel_of(bot_runtime.rules.defaults.channel)))
    bot_outbox.run_once()
    [item] = dead(bot_runtime)
    assert "AADSTS7000215" in item.last_error and bot_connector.activities == {}
    assert bot_runtime.settings.teams_app_password.get_secret_value() not in item.last_error


def test_a_handler_that_raises_answers_with_an_error_not_a_500(bot_client, identity, bot_connector, monkeypatch):
    def broken(*args):
        raise RuntimeError("bug")

    for name in ("on_action", "on_task_fetch", "on_message"):
        monkeypatch.setattr(handlers, name, broken)
    action = post(bot_client, identity, invoke(bot_connector, "adaptiveCard/action", {
        "action": {"type": "Action.Execute", "verb": "claim", "data": {"ticket": "T-1"}}}, locale="ja-JP"))
    assert action.status_code == 200 and "何も変更されませんでした" in action.get_json()["value"]
    task = post(bot_client, identity, invoke(bot_connector, "task/fetch", {
        "data": {"msteams": {"type": "task/fetch"}, "dialog": "reply", "ticket": "T-1"}}))
    assert task.status_code == 200 and task.get_json()["task"]["type"] == "message"
    assert post(bot_client, identity, message(bot_connector, "help")).status_code == 200


def test_an_app_id_without_its_password_is_a_settings_error():
    with pytest.raises(ValidationError, match="TEAMS_APP_PASSWORD"):
        Settings(teams_app_id="6f1d2c3b-0a9e-4c5d-8e7f-1a2b3c4d5e6f")
    settings = Settings(teams_app_id="app", teams_app_password="secret", teams_tenant_id="tenant-1")
    assert settings.teams_bot_token_url == "https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token"
    assert Settings(teams_app_id="app", teams_app_password="secret").teams_bot_token_url == (
        "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token")
    # A bot deployment is real: `serve` must not start the sandbox, whose web page acts as anyone.
    assert not sandbox.wanted(settings) and sandbox.wanted(Settings())
