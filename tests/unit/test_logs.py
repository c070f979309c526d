"""Logs: JSON lines with the ticket key as a field; no secret ever printed, whatever is logged."""

from __future__ import annotations

import json
import logging

import pytest
from pydantic import SecretStr

from chatops import logs
from chatops.outbox import DeliveryError, Outbox
from chatops.tickets.models import OutboxItem


@pytest.fixture
def root_logging():
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])


def test_json_lines_carry_the_ticket_and_never_a_secret(settings, session_factory, clock, capsys, root_logging):
    token, password = "xoxb-123456789-secret-token", "db-Pa55word!"
    configured = settings.model_copy(update={"log_format": "json", "slack_bot_token": SecretStr(token),
                                             "slack_signing_secret": SecretStr("signing-secret-value"),
                                             "database_url": f"postgresql+psycopg://u:{password}@127.0.0.1/x"})
    logs.configure(configured)
    with session_factory.begin() as session:
        session.add(OutboxItem(target="t", kind="k", dedupe_key="a", payload={}, next_attempt_at=clock.now))

    def deliver(item):
        raise DeliveryError(f"remote said: bad token {token}")

    Outbox(session_factory, {"t": deliver}, clock=clock).run_once()
    try:
        raise RuntimeError(f"connect failed for u:{password}@db with signing-secret-value")
    except RuntimeError:
        logging.getLogger("chatops.test").exception("database down")
    err = capsys.readouterr().err
    assert token not in err and password not in err and "signing-secret-value" not in err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    retry = next(line for line in lines if line["logger"] == "chatops.outbox")
    assert retry["level"] == "WARNING" and retry["target"] == "t" and "**********" in retry["message"]
    failure = next(line for line in lines if line["logger"] == "chatops.test")
    assert "**********" in failure["exc_info"]


def test_text_format_is_the_default(settings, capsys, root_logging):
    logs.configure(settings)
    logging.getLogger("chatops.test").warning("T-%s claimed", 12, extra={"ticket": "T-12"})
    assert "WARNING chatops.test T-12 claimed" in capsys.readouterr().err
