"""A support desk wired to a fake Slack: the real Flask app with Bolt at /slack/events, signed
requests as Slack sends them, the outbox delivering to the fake Web API on a hand-moved clock."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest
from pydantic import SecretStr
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import select

from chatops.app import build_outbox, create_app
from chatops.runtime import Runtime
from chatops.slack import ids
from chatops.tickets.models import OutboxItem, OutboxLane, Ticket, TicketEvent
from tests.fakes.slack_api import FakeSlack

SIGNING_SECRET = "test-signing-secret"
AGENT, AGENT2, LEAD, MANAGER, STRANGER = "U0AGENT001", "U0AGENT002", "U0LEAD0001", "U0MANAGER1", "U0NOBODY99"


def sign(body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack adds to a request: timestamp and v0 HMAC-SHA256 signature."""
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    return {"X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)}


class Desk:
    """One workspace: the app, the fake Slack and the outbox, driven like Slack would."""

    def __init__(self, runtime: Runtime, slack: FakeSlack, clock) -> None:
        self.runtime, self.slack, self.clock = runtime, slack, clock
        self.flows = runtime.flows
        self.app = create_app(runtime)
        self.client = self.app.test_client()
        self._build_outbox()
        self._views = 0

    # -- the outbox --------------------------------------------------------------------------

    def _build_outbox(self) -> None:
        self.outbox = build_outbox(self.runtime)
        self.outbox.clock = self.clock
        self.outbox.deliverers["slack"].clock = self.clock

    def replies_to(self, network) -> None:
        """Send replies to customers through `network` (a fake reply webhook, RecordingServer)."""
        self.runtime.settings = self.runtime.settings.model_copy(
            update={"webhook_reply_url": network.url + "/replies"})
        self._build_outbox()

    def drain(self, *, max_rounds: int = 10_000) -> int:
        """Deliver everything due, moving the clock over pacing pauses and Retry-After waits."""
        delivered = 0
        for _ in range(max_rounds):
            done = self.outbox.run_once()
            delivered += done
            if done:
                continue
            waiting = self._next_due()
            if waiting is None:
                return delivered
            # Straight to the moment the next item may go: every moment before it is idle.
            self.clock.advance(seconds=max(waiting, 1))
        raise AssertionError("outbox did not drain")

    def _next_due(self) -> float | None:
        """Seconds until the outbox may claim a pending item (0 when it already may), None when
        none is pending. A lane goes in order: its head (urgent first, then oldest) and its pace decide."""
        now = self.clock()
        with self.runtime.session_factory() as session:
            items = session.execute(select(OutboxItem.ordering_key, OutboxItem.urgent, OutboxItem.id,
                                           OutboxItem.next_attempt_at, OutboxItem.locked_until)
                                    .where(OutboxItem.state == "pending")).all()
            if not items:
                return None
            rests = dict(session.execute(select(OutboxLane.key, OutboxLane.not_before)).all())
        heads: dict = {}
        for lane, urgent, item_id, due, locked in items:
            rank = (not urgent, item_id)
            if lane is None or lane not in heads or rank < heads[lane][0]:
                heads[lane if lane is not None else ("alone", item_id)] = (rank, due, locked, rests.get(lane))
        moments = [max(m for m in moments if m is not None) for _, *moments in heads.values()]
        return max(0.0, (min(moments) - now).total_seconds())

    # -- requests as Slack sends them --------------------------------------------------------

    def post(self, body: str, content_type: str, *, headers: dict | None = None):
        return self.client.post("/slack/events", data=body.encode(), content_type=content_type,
                                headers={**sign(body), **(headers or {})})

    def command(self, text: str, *, user: str = AGENT, command: str = ids.TICKET_COMMAND):
        body = urlencode({"token": "legacy", "team_id": "T0001", "team_domain": "acme", "channel_id": "C0CMD",
                          "channel_name": "cs-support", "user_id": user, "user_name": user.lower(),
                          "command": command, "text": text, "api_app_id": "A0001",
                          "response_url": self.slack.response_url("cmd"), "trigger_id": "trig.cmd"})
        return self.post(body, "application/x-www-form-urlencoded")

    def interact(self, payload: dict):
        return self.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")

    def click(self, action_id: str, value: str, *, user: str = AGENT, selected: bool = False,
              container: dict | None = None, view: dict | None = None):
        """Press a button (or pick an overflow option with `selected=True`)."""
        action = {"action_id": action_id, "block_id": "actions", "type": "overflow" if selected else "button",
                  "action_ts": "1763600000.1"}
        action.update({"selected_option": {"value": value}} if selected else {"value": value})
        payload = {"type": "block_actions", "team": {"id": "T0001"}, "user": {"id": user, "team_id": "T0001"},
                   "api_app_id": "A0001", "trigger_id": f"trig.{action_id}", "actions": [action],
                   "container": container or {"type": "message"}}
        if view is not None:
            payload["view"] = view
        else:
            payload.update(response_url=self.slack.response_url("act"), channel={"id": "C0CMD"})
        return self.interact(payload)

    def submit(self, view: dict, values: dict[tuple[str, str], dict], *, user: str = AGENT,
               view_id: str | None = None):
        """Submit a modal the app opened, with `values[(block_id, action_id)] = element state`."""
        state: dict[str, dict] = {}
        for (block_id, action_id), element in values.items():
            state.setdefault(block_id, {})[action_id] = element
        self._views += 1
        submitted = {**view, "id": view_id or view.get("id") or f"VS{self._views}", "state": {"values": state}}
        return self.interact({"type": "view_submission", "team": {"id": "T0001"},
                              "user": {"id": user, "team_id": "T0001"}, "api_app_id": "A0001",
                              "trigger_id": "trig.view", "view": submitted})

    def event(self, event: dict, *, event_id: str, retry: int | None = None):
        body = json.dumps({"token": "legacy", "team_id": "T0001", "api_app_id": "A0001", "type": "event_callback",
                           "event_id": event_id, "event_time": 1763600000, "event": event})
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else None
        return self.post(body, "application/json", headers=headers)

    # -- what is stored ----------------------------------------------------------------------

    def ticket(self, key: str) -> Ticket:
        """The ticket row as stored now."""
        with self.runtime.session_factory() as session:
            return session.get(Ticket, int(key.split("-")[1]))

    def events(self, key: str) -> list[str]:
        with self.runtime.session_factory() as session:
            ticket_id = int(key.split("-")[1])
            return list(session.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket_id)
                                        .order_by(TicketEvent.id)))

    def last_view(self, callback_id: str) -> dict:
        return next(v for v in reversed(self.slack.views) if v.get("callback_id") == callback_id)


@pytest.fixture
def fake_slack():
    with FakeSlack() as slack:
        yield slack


@pytest.fixture
def slack_settings(settings, fake_slack):
    return settings.model_copy(update={"slack_bot_token": SecretStr("xoxb-test"),
                                       "slack_signing_secret": SecretStr(SIGNING_SECRET),
                                       "slack_api_url": fake_slack.api_url, "slack_post_interval": 1.0})


@pytest.fixture
def desk(slack_settings, rules, clock, fake_slack):
    runtime = Runtime.build(slack_settings, upgrade_db=False, rules=rules, clock=clock)
    yield Desk(runtime, fake_slack, clock)
    runtime.close()
