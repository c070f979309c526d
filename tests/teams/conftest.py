"""Teams fixtures: a fake Workflows webhook and a fake legacy connector (local HTTP servers that
record what they get), the shipped rules with Teams channels and people added, a runtime with
Teams as the only surface (no Slack token), and helpers to sign outgoing-webhook requests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import select

from chatops.app import build_outbox, create_app
from chatops.rules.schema import TeamsPerson, TeamsSection
from chatops.runtime import Runtime
from chatops.settings import Settings
from chatops.tickets.models import OutboxItem
from tests.conftest import RULES_PATH
from tests.fakes.http_recorder import Answer, RecordingServer

SCHEMA = json.loads((Path(__file__).parent / "adaptive-card-1.4.schema.json").read_text("utf-8"))
OUTGOING_TOKEN = base64.b64encode(b"teams-outgoing-webhook-security-token").decode()
LINK_SECRET = "teams-link-secret-for-tests-0123456789"
PUBLIC_URL = "https://chatops.example.test"
AGENT = {"user": "U0AGENT001", "aad": "aad-agent-1", "upn": "sato@acme.example", "name": "Sato"}
LEAD = {"user": "U0LEAD0001", "aad": "aad-lead-1", "upn": "lead@acme.example", "name": "Lead"}
GUEST = {"user": "U0GUEST001", "aad": "aad-guest-1", "upn": "guest@acme.example"}  # no role


def validate_card(card: dict) -> None:
    """Fail unless `card` is an Adaptive Card 1.4 a Teams webhook accepts."""
    jsonschema.Draft202012Validator(SCHEMA).validate(card)


def cards_of(server: RecordingServer) -> list[dict]:
    """The Adaptive Cards a fake Workflows webhook received, each checked for the envelope,
    the schema and the 28 KB limit."""
    found = []
    for request in server.requests:
        assert len(request.body) <= 28 * 1024
        message = request.json()
        assert message["type"] == "message" and len(message["attachments"]) == 1
        attachment = message["attachments"][0]
        assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
        validate_card(attachment["content"])
        found.append(attachment["content"])
    return found


def card_text(card: dict) -> str:
    """Every text a person reads on a card, one string."""
    parts = []

    def walk(elements):
        for element in elements:
            if element["type"] == "TextBlock":
                parts.append(element["text"])
            elif element["type"] == "FactSet":
                parts.extend(f"{fact['title']}: {fact['value']}" for fact in element["facts"])
            elif element["type"] == "Container":
                walk(element["items"])

    walk(card["body"])
    return "\n".join(parts)


def buttons(card: dict) -> dict[str, str]:
    """Button title → URL."""
    return {action["title"]: action["url"] for action in card.get("actions", [])}


def sign_outgoing(body: bytes, token: str = OUTGOING_TOKEN) -> str:
    """`Authorization` header Teams sends with an outgoing-webhook call."""
    digest = hmac.new(base64.b64decode(token), body, hashlib.sha256).digest()
    return "HMAC " + base64.b64encode(digest).decode()


def activity(text: str, *, aad: str = AGENT["aad"], locale: str = "en-US") -> bytes:
    """An outgoing-webhook message activity as Teams posts it."""
    return json.dumps({
        "type": "message", "id": "1485983408511", "timestamp": "2026-11-20T01:00:00.000Z",
        "localTimestamp": "2026-11-20T10:00:00.000+09:00", "serviceUrl": "https://smba.trafficmanager.net/jp/",
        "channelId": "msteams", "from": {"id": "29:1XJKJMvc5GBtc2JwZq0oj8tHZmzrQgFmB", "name": "Sato",
                                         "aadObjectId": aad},
        "conversation": {"isGroup": True, "id": "19:abc@thread.skype;messageid=1485983408511",
                         "name": None, "conversationType": "channel"},
        "recipient": None, "textFormat": "plain", "attachmentLayout": None,
        "text": f"<at>chatops</at>&nbsp;{text}\n", "attachments": [], "entities": [],
        "channelData": {"teamsChannelId": "19:abc@thread.skype", "teamsTeamId": "19:team@thread.skype",
                        "channel": {"id": "19:abc@thread.skype"}, "team": {"id": "19:team@thread.skype"},
                        "tenant": {"id": "72f988bf-86f1-41af-91ab-2d7cd011db47"}},
        "locale": locale,
    }, ensure_ascii=False).encode()


@pytest.fixture
def workflows():
    """A fake Workflows webhook: answers 202 like Power Automate does."""
    with RecordingServer() as server:
        server.default = Answer(202, {})
        yield server


@pytest.fixture
def connector():
    """A fake legacy Office 365 connector: answers 200 `1`."""
    with RecordingServer() as server:
        server.default = Answer(200, {})
        yield server


def with_teams(rules, workflows_url: str, connector_url: str | None = None):
    """The shipped rules with every channel posting to the fake Workflows webhook (`returns` to
    the legacy connector when given) and three Teams people (an agent, a lead, a guest)."""
    channels = {}
    for name, channel in rules.channels.items():
        legacy = connector_url is not None and name == "returns"
        channels[name] = channel.model_copy(update={
            "teams_webhook": f"{connector_url if legacy else workflows_url}/hook/{name}",
            "teams_format": "messagecard" if legacy else "workflows"})
    people = TeamsSection(people=[TeamsPerson(**AGENT), TeamsPerson(**LEAD), TeamsPerson(**GUEST)])
    return rules.model_copy(update={"channels": channels, "teams": people})


@pytest.fixture
def teams_settings(database_url) -> Settings:
    """Teams configured, Slack not: no SLACK_* token at all."""
    return Settings(database_url=database_url, rules_path=RULES_PATH, teams_public_url=PUBLIC_URL,
                    teams_link_secret=LINK_SECRET, teams_outgoing_token=OUTGOING_TOKEN,
                    teams_post_interval=0, webhook_secret="test-webhook-secret")


@pytest.fixture
def teams_runtime(teams_settings, rules, workflows, connector, clock):
    """A runtime whose only surface is Teams, on the hand-moved clock."""
    runtime = Runtime.build(teams_settings, upgrade_db=False,
                            rules=with_teams(rules, workflows.url, connector.url), clock=clock)
    assert not teams_settings.slack_enabled
    yield runtime
    runtime.close()


@pytest.fixture
def client(teams_runtime):
    """The Flask app with the Teams endpoints mounted."""
    return create_app(teams_runtime).test_client()


@pytest.fixture
def outbox(teams_runtime):
    """The outbox with the Teams deliverer (and nothing for Slack)."""
    outbox = build_outbox(teams_runtime)
    assert "teams" in outbox.deliverers and "slack" not in outbox.deliverers
    return outbox


def drain(outbox, timeout: float = 30.0) -> None:
    """Deliver until no Teams item is pending (or fail after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        outbox.run_once()
        with outbox.session_factory() as session:
            pending = session.scalars(select(OutboxItem.id).where(
                OutboxItem.target == "teams", OutboxItem.state == "pending")).first()
        if pending is None:
            return
        time.sleep(0.02)
    raise AssertionError("Teams outbox items still pending")
