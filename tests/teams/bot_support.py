"""Teams bot fixtures: the fake identity service (OpenID metadata, JWKS, token endpoint) and the
fake Bot Connector, rules with a `teams_channel` per channel and Teams people, a runtime and app
with the bot as the only surface, signed activities, and the card schema check.

Import the fixtures into a test module with `from tests.teams.bot_support import *`."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy import select

from chatops.app import build_outbox, create_app
from chatops.rules.schema import TeamsPerson, TeamsSection
from chatops.runtime import Runtime
from chatops.settings import Settings
from chatops.tickets.models import OutboxItem
from tests.conftest import RULES_PATH
from tests.fakes.bot_connector import BotConnector
from tests.fakes.bot_identity import BotIdentity
from tests.teams.conftest import AGENT, GUEST, LEAD

__all__ = ["APP_ID", "ONCALL", "TENANT", "bot_client", "bot_connector", "bot_outbox", "bot_runtime",
           "bot_settings", "channel_of", "drain_bot", "identity", "install", "invoke", "message", "post",
           "validate_bot_card"]

APP_ID = "6f1d2c3b-0a9e-4c5d-8e7f-1a2b3c4d5e6f"
PASSWORD = "bot-client-secret-for-tests"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
TEAM = "19:teamacme0000000000000000000001@thread.tacv2"
ONCALL = {"user": "U0AGENT003", "aad": "aad-agent-3", "upn": "suzuki@acme.example", "name": "Suzuki"}


def channel_of(name: str) -> str:
    """The Teams channel id the test rules give a rules.yaml channel."""
    return f"19:{name.replace('-', '')}{'0' * 8}@thread.tacv2"


# -- the Adaptive Card schema with what bot cards add (1.4: Action.Execute, refresh) ---------

def _bot_schema() -> dict:
    """The bot-card schema (tests/teams/adaptive-card-1.4-bot.schema.json: the 1.4 elements,
    dialog inputs, Action.Submit and Action.Execute) with the card-level `refresh` of 1.4."""
    schema = json.loads((Path(__file__).parent / "adaptive-card-1.4-bot.schema.json").read_text("utf-8"))
    schema["properties"]["refresh"] = {
        "type": "object", "required": ["action"], "additionalProperties": False,
        "properties": {"action": {"$ref": "#/$defs/Action.Execute"},
                       "userIds": {"type": "array", "maxItems": 60, "items": {"type": "string", "minLength": 1}}}}
    return schema


BOT_SCHEMA = _bot_schema()


def validate_bot_card(card: dict, *, dialog: bool = False) -> dict:
    """Fail unless `card` is an Adaptive Card 1.4 with only what Teams bots may add; the card.
    On a message card (not a `dialog`'s), every Action.Submit opens a dialog."""
    jsonschema.Draft202012Validator(BOT_SCHEMA).validate(card)
    for action in [] if dialog else _all_actions(card):
        if action["type"] == "Action.Submit":
            assert action["data"]["msteams"] == {"type": "task/fetch"}, action
    return card


def _all_actions(card: dict) -> list[dict]:
    out = []
    for action in card.get("actions", []):
        out.append(action)
        if action["type"] == "Action.ShowCard":
            out.extend(_all_actions(action["card"]))
    return out


# -- fixtures -------------------------------------------------------------------------------

@pytest.fixture
def identity(clock):
    """The fake Bot Framework identity service, signing at the test's clock."""
    with BotIdentity(app_id=APP_ID, password=PASSWORD, clock=clock) as server:
        yield server


@pytest.fixture
def bot_connector(identity):
    """The fake Bot Connector (the activities' serviceUrl)."""
    with BotConnector(identity) as server:
        yield server


@pytest.fixture
def bot_settings(database_url, identity) -> Settings:
    """The bot configured against the fake identity service; no Slack, no webhooks."""
    return Settings(database_url=database_url, rules_path=RULES_PATH, webhook_secret="test-webhook-secret",
                    teams_app_id=APP_ID, teams_app_password=PASSWORD, teams_tenant_id=TENANT,
                    teams_openid_url=identity.openid_url, teams_token_url=identity.token_url,
                    teams_post_interval=0)


def with_bot(rules):
    """The shipped rules with every channel in a Teams channel and four Teams people."""
    channels = {name: channel.model_copy(update={"teams_channel": channel_of(name)})
                for name, channel in rules.channels.items()}
    people = TeamsSection(people=[TeamsPerson(**AGENT), TeamsPerson(**LEAD), TeamsPerson(**GUEST),
                                  TeamsPerson(**ONCALL)])
    return rules.model_copy(update={"channels": channels, "teams": people})


@pytest.fixture
def bot_runtime(bot_settings, rules, clock):
    """A runtime whose only surface is the Teams bot, on the hand-moved clock."""
    runtime = Runtime.build(bot_settings, upgrade_db=False, rules=with_bot(rules), clock=clock)
    assert not bot_settings.slack_enabled
    yield runtime
    runtime.close()


@pytest.fixture
def bot_client(bot_runtime):
    """The Flask app with `POST /api/messages`."""
    return create_app(bot_runtime).test_client()


@pytest.fixture
def bot_outbox(bot_runtime):
    """The outbox with the `teams_bot` deliverer."""
    outbox = build_outbox(bot_runtime)
    assert "teams_bot" in outbox.deliverers and "slack" not in outbox.deliverers
    return outbox


def drain_bot(outbox, rounds: int = 50) -> None:
    """Deliver until no due `teams_bot` item is left (items waiting on a Retry-After stay)."""
    for _ in range(rounds):
        if outbox.run_once() == 0:
            break
    with outbox.session_factory() as session:
        failed = session.scalars(select(OutboxItem).where(OutboxItem.target == "teams_bot",
                                                          OutboxItem.state == "dead")).all()
        assert not failed, [(item.kind, item.last_error) for item in failed]


# -- activities ------------------------------------------------------------------------------

def _base(connector: BotConnector, *, person: dict | None, conversation: dict, channel_data: dict,
          locale: str = "en-US") -> dict[str, Any]:
    person = person or AGENT
    return {"id": f"f:{uuid.uuid4().hex[:12]}", "timestamp": "2026-11-20T01:00:00.000Z",
            "serviceUrl": connector.service_url, "channelId": "msteams",
            "from": {"id": f"29:1{person['aad'].replace('-', '')}", "name": person.get("name", ""),
                     "aadObjectId": person["aad"]},
            "recipient": {"id": f"28:{APP_ID}", "name": "chatops"},
            "conversation": conversation, "channelData": channel_data, "locale": locale}


def _channel_conversation(channel: str, root: str | None = None) -> tuple[dict, dict]:
    conversation = {"isGroup": True, "conversationType": "channel", "tenantId": TENANT,
                    "id": f"{channel};messageid={root}" if root else channel}
    data = {"teamsChannelId": channel, "teamsTeamId": TEAM, "channel": {"id": channel}, "team": {"id": TEAM},
            "tenant": {"id": TENANT}}
    return conversation, data


def install(connector: BotConnector, channel: str | None = None, *, person: dict | None = None) -> dict[str, Any]:
    """The `conversationUpdate` Teams sends when the app is added to a team (`channel`), or the
    `installationUpdate` of a personal install (`person`)."""
    if channel is not None:
        conversation, data = _channel_conversation(channel)
        activity = _base(connector, person=LEAD, conversation=conversation, channel_data={
            **data, "eventType": "teamMemberAdded"})
        activity.update(type="conversationUpdate", membersAdded=[{"id": f"28:{APP_ID}"}])
        return activity
    conversation = {"conversationType": "personal", "tenantId": TENANT, "id": f"a:personal-{person['aad']}"}
    activity = _base(connector, person=person, conversation=conversation, channel_data={"tenant": {"id": TENANT}})
    activity.update(type="installationUpdate", action="add")
    return activity


def message(connector: BotConnector, text: str, *, person: dict | None = None, channel: str | None = None,
            locale: str = "en-US") -> dict[str, Any]:
    """A message to the bot: an @mention in a channel (`channel`), else in personal chat."""
    person = person or AGENT
    if channel is not None:
        conversation, data = _channel_conversation(channel, root="1764700000001")
        text = f"<at>chatops</at> {text}"
    else:
        conversation = {"conversationType": "personal", "tenantId": TENANT, "id": f"a:personal-{person['aad']}"}
        data = {"tenant": {"id": TENANT}}
    activity = _base(connector, person=person, conversation=conversation, channel_data=data, locale=locale)
    activity.update(type="message", text=text, textFormat="plain")
    return activity


def invoke(connector: BotConnector, name: str, value: dict, *, person: dict | None = None,
           conversation: str = "19:x@thread.tacv2;messageid=1", locale: str = "en-US") -> dict[str, Any]:
    """An invoke activity (`adaptiveCard/action`, `task/fetch`, `task/submit`) from a card."""
    channel = conversation.split(";")[0]
    conv, data = _channel_conversation(channel)
    conv["id"] = conversation
    activity = _base(connector, person=person, conversation=conv, channel_data=data, locale=locale)
    activity.update(type="invoke", name=name, value=value)
    return activity


def post(client, identity: BotIdentity, activity: dict, authorization: str | None = "sign"):
    """POST an activity to /api/messages, signed by the fake identity unless told otherwise."""
    headers = {}
    if authorization == "sign":
        headers["Authorization"] = identity.sign(activity)
    elif authorization is not None:
        headers["Authorization"] = authorization
    return client.post("/api/messages", data=json.dumps(activity), content_type="application/json", headers=headers)
