"""Shared by the network tests: a runtime whose networks point at local fakes, the outbox with
their sinks, an agent's reply made the way the Slack Reply modal makes it, and a desk on the fake
Slack with a network enabled (`wired`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from chatops.app import build_outbox, create_app
from chatops.runtime import Runtime
from chatops.tickets.models import Message, OutboxItem, Ticket
from integrations.registry import Networks
from tests.fakes.network_api import FakeNetwork
from tests.fakes.slack_api import FakeSlack
from tests.slack.conftest import SIGNING_SECRET, Desk

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str):
    """A JSON fixture of a network's real payload shape."""
    return json.loads((FIXTURES / name).read_text("utf-8"))


def fixture_bytes(name: str) -> bytes:
    """A fixture's raw bytes, as the network sends them (signatures cover these)."""
    return (FIXTURES / name).read_bytes()


@pytest.fixture
def fake():
    """A fake network API on 127.0.0.1."""
    with FakeNetwork() as server:
        yield server


def enable(runtime, name: str, config) -> Networks:
    """Enable one network on the runtime (instead of reading its settings from the environment)."""
    runtime.networks = Networks.for_runtime(runtime, configs={name: config})
    return runtime.networks


def agent_reply(runtime, key: str, text: str, view_id: str = "V0001") -> None:
    """What the Slack Reply modal's submission does: flows.reply keyed by the view id."""
    runtime.flows.reply(key, actor="U0AGENT001", text=text, idempotency_key=f"slack-view:{view_id}")


def deliver(runtime, rounds: int = 3) -> int:
    """Run the outbox a few rounds (one item per account lane per round); items attempted."""
    outbox = build_outbox(runtime)
    return sum(outbox.run_once() for _ in range(rounds))


def count(runtime, model, *where) -> int:
    """Rows of `model` matching `where`."""
    with runtime.session_factory() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def tickets(runtime) -> list[Ticket]:
    """Every ticket, oldest first."""
    with runtime.session_factory() as session:
        return list(session.scalars(select(Ticket).order_by(Ticket.id)).unique())


def reply_items(runtime) -> list[OutboxItem]:
    """The outbox rows of replies to customers."""
    with runtime.session_factory() as session:
        return list(session.scalars(select(OutboxItem).where(OutboxItem.kind == "reply").order_by(OutboxItem.id)))


def inbound_count(runtime) -> int:
    """Customer messages stored."""
    return count(runtime, Message, Message.direction == "inbound")


@pytest.fixture
def client_for():
    """A Flask test client over a runtime (after its networks are enabled)."""
    return lambda runtime: create_app(runtime).test_client()


@pytest.fixture
def fake_slack():
    """A fake Slack Web API on 127.0.0.1."""
    with FakeSlack() as slack:
        yield slack


@pytest.fixture
def wired(settings, rules, clock, fake_slack):
    """`wired(name, config, **settings)`: a desk on the fake Slack with one network enabled (and
    any settings changed, e.g. `public_url`)."""
    runtimes = []

    def build(name: str, config, **changed) -> Desk:
        runtime = Runtime.build(settings.model_copy(update={
            "slack_bot_token": SecretStr("xoxb-test"), "slack_signing_secret": SecretStr(SIGNING_SECRET),
            "slack_api_url": fake_slack.api_url, "slack_post_interval": 1.0, **changed}), upgrade_db=False,
            rules=rules, clock=clock)
        runtimes.append(runtime)
        enable(runtime, name, config)
        return Desk(runtime, fake_slack, clock)

    yield build
    for runtime in runtimes:
        runtime.close()
