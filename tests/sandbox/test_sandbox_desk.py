"""The sandbox wired as `chatops serve` wires it, on a real local HTTP server: the embedded Web API
speaks Slack's wire format to the real Bolt app; what the page sends becomes signed Slack
payloads and signed webhooks; replies reach the customer panel; forged requests change nothing."""

from __future__ import annotations

import json
import re
import threading

import pytest
import requests
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import select
from werkzeug.serving import make_server

from chatops import sandbox
from chatops.app import build_outbox, create_app
from chatops.i18n import t
from chatops.oncall.models import Page
from chatops.runtime import Runtime
from chatops.sandbox.payloads import signed
from chatops.sandbox.web import Sandbox
from chatops.scheduler import Lease, Scheduler
from chatops.settings import Settings
from chatops.tickets.models import Message, TicketEvent
from tests.conftest import RULES_PATH
from tests.e2e.processes import Serve, free_port
from tests.fakes.http_recorder import stop
from tests.fakes.slack_api import FakeSlack
from tests.helpers import until

AGENT, LEAD = "U0AGENT001", "U0LEAD0001"


class Running:
    """A sandboxed app on 127.0.0.1 with its outbox worker."""

    def __init__(self, database_url: str, rules) -> None:
        base = Settings(database_url=database_url, rules_path=RULES_PATH, webhook_secret="test-webhook-secret",
                        port=free_port())
        self.config, overrides = sandbox.prepare(base)
        self.settings = Settings(database_url=database_url, rules_path=RULES_PATH,
                                 **{**overrides, "slack_post_interval": 0})
        self.runtime = Runtime.build(self.settings, upgrade_db=False, rules=rules)
        app = create_app(self.runtime)
        self.sandbox = Sandbox(self.runtime, self.config)
        self.sandbox.mount(app)
        self.ws = self.sandbox.workspace
        outbox = build_outbox(self.runtime)
        for target, deliverer in self.sandbox.deliverers().items():
            outbox.deliverers.setdefault(target, deliverer)
        self.server = make_server("127.0.0.1", self.settings.port, app, threaded=True)
        self.stop = threading.Event()
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.worker = threading.Thread(target=outbox.run_forever, args=(self.stop, 0.05), daemon=True)
        self.worker.start()
        self.url = self.config.base_url

    def close(self) -> None:
        self.stop.set()
        self.worker.join(10)  # its last delivery reaches the server before the server goes
        stop(self.server)
        self.runtime.close()

    def act(self, **body) -> requests.Response:
        return requests.post(f"{self.url}/sandbox/act", json=body, timeout=10)

    def state(self, user: str = AGENT) -> dict:
        return requests.get(f"{self.url}/sandbox/state", params={"user": user, "lang": "en"}, timeout=20).json()

    def parent(self, key: str):
        return next((m for m in self.ws.messages if (m.metadata or {}).get("event_payload", {}).get("ticket") == key),
                    None)

    def events(self, key: str) -> list[str]:
        with self.runtime.session_factory() as session:
            return list(session.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == int(key[2:]))
                                        .order_by(TicketEvent.id)))


@pytest.fixture
def running(database_url, rules):
    desk = Running(database_url, rules)
    yield desk
    desk.close()


def test_web_api_speaks_slack_wire_format_and_checks_the_token(running):
    client = WebClient(token=running.config.bot_token, base_url=f"{running.url}/sandbox/api/")
    posted = client.chat_postMessage(channel="#cs-support", text="hello", metadata={"event_type": "x",
                                                                                   "event_payload": {"a": 1}})
    assert posted["ok"] and posted["channel"].startswith("C0SBX") and float(posted["ts"]) > 0
    line = client.chat_postMessage(channel=posted["channel"], thread_ts=posted["ts"], text="in thread")
    replies = client.conversations_replies(channel=posted["channel"], ts=posted["ts"], include_all_metadata=True)
    assert [m["text"] for m in replies["messages"]] == ["hello", "in thread"]
    assert replies["messages"][0]["metadata"] == {"event_type": "x", "event_payload": {"a": 1}}
    assert line["ts"] != posted["ts"]
    with pytest.raises(SlackApiError) as refused:
        WebClient(token="xoxb-wrong", base_url=f"{running.url}/sandbox/api/").chat_postMessage(channel="#cs-support",
                                                                                               text="x")
    assert refused.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as stale:
        client.views_open(trigger_id="made-up", view={"type": "modal", "title": {"type": "plain_text", "text": "x"},
                                                      "blocks": []})
    assert stale.value.response["error"] == "expired_trigger_id"
    with pytest.raises(SlackApiError) as missing:
        client.chat_postMessage(channel="#nowhere", text="x")
    assert missing.value.response["error"] == "channel_not_found"


def test_files_upload_v2_shows_the_file_in_the_thread(running):
    client = WebClient(token=running.config.bot_token, base_url=f"{running.url}/sandbox/api/")
    parent = client.chat_postMessage(channel="#cs-support", text="weekly stats")
    png = b"\x89PNG\r\n\x1a\n" + b"chart" * 100
    uploaded = client.files_upload_v2(channel=parent["channel"], thread_ts=parent["ts"], content=png,
                                      filename="stats.png", title="Weekly stats", initial_comment="📊")
    assert uploaded["file"]["title"] == "Weekly stats"
    line = next(m for m in running.state()["channels"][1]["messages"] if m["ts"] == parent["ts"])["replies"][0]
    assert line["files"] == [{"name": "Weekly stats", "url": f"/sandbox/files/{uploaded['file']['id']}"}]
    served = requests.get(running.url + line["files"][0]["url"], timeout=5)
    assert served.content == png and served.headers["Content-Type"] == "image/png"


def test_forged_slack_payloads_are_refused(running):
    body = "payload=" + json.dumps({"type": "block_actions", "user": {"id": AGENT}, "actions": []})
    forged = requests.post(f"{running.url}/slack/events", data=body.encode(), timeout=10,
                           headers={"Content-Type": "application/x-www-form-urlencoded", **signed(body, "not-it")})
    assert forged.status_code == 401
    refused = running.act(user="UINTRUDER", kind="home")
    assert refused.status_code == 400 and "user" in refused.json()["error"]


def test_customer_message_to_reply_through_the_page(running):
    said = requests.post(f"{running.url}/sandbox/customer", timeout=10,
                         json={"network": "line", "handle": "@hanako", "text": "注文した商品が届きません"})
    assert said.status_code == 202 and said.json()["results"][0] == {"outcome": "created", "ticket": "T-1"}
    parent = until(lambda: running.parent("T-1"))
    assert parent.attachments and "届きません" in json.dumps(parent.attachments, ensure_ascii=False)

    claimed = running.act(user=AGENT, kind="action", channel=parent.channel, ts=parent.ts,
                          block_id="ticket:T-1", action_id="ticket.claim", value="T-1")
    assert claimed.json()["ok"]
    until(lambda: "ticket.release" in json.dumps(running.parent("T-1").attachments))

    running.act(user=AGENT, kind="action", channel=parent.channel, ts=parent.ts, block_id="ticket:T-1",
                action_id="ticket.reply", value="T-1")
    modal = until(lambda: running.state()["modal"])
    assert "T-1" in modal["title"]
    block_id = next(b["block_id"] for b in running.ws.views[modal["id"]]["blocks"] if b["type"] == "input")
    submitted = running.act(user=AGENT, kind="submit", view_id=modal["id"],
                            values={block_id: {"text.input": "ご連絡ありがとうございます。確認します。"}})
    assert submitted.json()["ok"]
    assert running.state()["modal"] is None
    # (outside business hours the team's offline auto-reply reaches the customer first)
    out = until(lambda: [p for p in running.ws.customer if p.direction == "out" and "確認します" in p.text])
    assert (out[0].network, out[0].ticket, out[0].text) == ("line", "T-1", "ご連絡ありがとうございます。確認します。")
    assert out[0].account == "@acmestore"

    # an internal note typed in the thread is stored, never sent to the customer
    running.act(user=AGENT, kind="message", channel=parent.channel, thread_ts=parent.ts, text="在庫を確認中")
    until(lambda: "note_added" in running.events("T-1"))
    with running.runtime.session_factory() as session:
        assert session.scalar(select(Message.text).where(Message.direction == "note")) == "在庫を確認中"
    assert not [p for p in running.ws.customer if p.direction == "out" and "在庫" in p.text]


def test_modal_errors_commands_and_home(running):
    requests.post(f"{running.url}/sandbox/customer", timeout=10, json={"network": "x", "text": "how do I log in?"})
    parent = until(lambda: running.parent("T-1"))
    running.act(user=AGENT, kind="action", channel=parent.channel, ts=parent.ts, block_id="ticket:T-1",
                action_id="ticket.escalate", value="T-1")
    modal = until(lambda: running.state()["modal"])
    refused = running.act(user=AGENT, kind="submit", view_id=modal["id"], values={"level": {"level.select": "L2"}})
    assert refused.json()["answer"]["response_action"] == "errors"
    still = running.state()["modal"]
    assert still["id"] == modal["id"] and still["errors"].get("note")
    running.act(user=AGENT, kind="close", view_id=modal["id"])
    assert running.state()["modal"] is None and "escalated" not in running.events("T-1")

    running.act(user=AGENT, kind="command", channel=parent.channel, text="/ticket claim T-1")
    running.act(user=AGENT, kind="command", channel=parent.channel, text="/nosuch thing")
    shown = until(lambda: len(running.state()["ephemerals"]) == 2 and running.state()["ephemerals"])
    assert "T-1" in shown[0]["html"] and "/nosuch" in shown[1]["html"]
    assert "claimed" in running.events("T-1")

    running.act(user=AGENT, kind="home")
    home = until(lambda: running.state()["home"])
    assert "T-1" in home
    assert running.state(LEAD)["ephemerals"] == []  # ephemerals are only for the person who acted


def test_replay_feeds_the_examples(running):
    started = requests.post(f"{running.url}/sandbox/replay", json={"speed": 50, "limit": 3}, timeout=10)
    assert started.status_code == 202 and started.json()["total"] == 3
    until(lambda: not running.ws.replay["running"])
    until(lambda: running.parent("T-2"))
    # the customers' posts (outside business hours the offline auto-replies follow them)
    assert [p.ticket for p in running.ws.customer if p.direction == "in"] == ["T-1", "T-1", "T-2"]


def test_sandbox_is_off_with_slack_credentials_or_teams(tmp_path, monkeypatch, rules):
    assert sandbox.wanted(Settings(rules_path=RULES_PATH), rules)
    assert not sandbox.wanted(Settings(rules_path=RULES_PATH, sandbox="off"))
    with_slack = Settings(rules_path=RULES_PATH, slack_bot_token="xoxb-1", slack_signing_secret="s")
    assert not sandbox.wanted(with_slack)
    # a Teams deployment is a real one too: nobody may act as its people from a web page
    channels = {name: channel.model_copy(update={"teams_webhook": "https://acme.webhook.office.com/webhookb2/x"})
                for name, channel in rules.channels.items()}
    assert not sandbox.wanted(Settings(rules_path=RULES_PATH), rules.model_copy(update={"channels": channels}))
    assert not sandbox.wanted(Settings(rules_path=RULES_PATH, teams_public_url="https://desk.example.com",
                                       teams_link_secret="x" * 16))
    with FakeSlack() as slack:
        for name in ("CHATOPS_WEBHOOK_SECRET", "CHATOPS_SANDBOX"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
        monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret")
        monkeypatch.setenv("SLACK_API_URL", slack.api_url)
        server = Serve(tmp_path, f"sqlite:///{tmp_path / 'real.db'}")
        try:
            assert requests.get(f"{server.url}/sandbox", timeout=5).status_code == 404
            assert requests.post(f"{server.url}/sandbox/api/auth.test", timeout=5).status_code == 404
        finally:
            server.stop()
        assert "/sandbox" not in (tmp_path / f"serve-{server.port}.log").read_text()


def test_a_page_reaches_a_sandbox_person_and_is_acknowledged_from_the_page(running):
    """Every person the bundled rotation can page is a sandbox user: the page DM arrives in their
    "Direct messages" pane, and its Acknowledge button stops the escalation."""
    said = requests.post(f"{running.url}/sandbox/customer", timeout=10,
                         json={"network": "x", "handle": "@angry", "text": "障害です、ログインできません"})
    assert said.status_code == 202
    until(lambda: running.parent("T-1"))
    Scheduler(running.runtime.flows, Lease(running.runtime.session_factory)).tick()  # the paging pass
    dm = until(lambda: next((m for m in running.ws.messages if m.channel.startswith("D")), None))
    person = dm.channel[1:]
    assert person in running.ws.users
    pane = next(c for c in running.state(person)["channels"] if c["id"] == dm.channel)
    assert pane["name"] == "Direct messages from chatops" and pane["messages"]
    button = next(e for block in dm.blocks or [] for e in block.get("elements", [])
                  if e.get("type") == "button" and "ack" in e.get("action_id", ""))
    acked = running.act(user=person, kind="action", channel=dm.channel, ts=dm.ts,
                        block_id=next(b.get("block_id") for b in dm.blocks if button in b.get("elements", [])),
                        action_id=button["action_id"], value=button.get("value"))
    assert acked.json()["ok"]

    def acknowledged():
        with running.runtime.session_factory() as session:
            return session.scalars(select(Page)).one().status == "acknowledged"
    until(acknowledged)

    # what the lead reads about it names people and groups, never their ids
    running.act(user=LEAD, kind="command", channel="#cs-support", text="/oncall pages")
    until(lambda: running.state(LEAD)["ephemerals"])
    seen = requests.get(f"{running.url}/sandbox/state", params={"user": LEAD, "lang": "ja"}, timeout=20).json()
    htmls = [e["html"] for e in seen["ephemerals"]] + [m["html"] for c in seen["channels"] for m in
                                                          c["messages"] + [r for m in c["messages"] for r in m["replies"]]]
    read = " ".join(re.sub(r"<[^>]+>", " ", html) for html in htmls)
    assert "呼び出し" in read and not re.search(r"\bU0[A-Z0-9]{8}\b|@subteam|:zzz:", read), read


def test_stats_name_priorities_by_their_labels(running):
    requests.post(f"{running.url}/sandbox/customer", timeout=10, json={"network": "x", "text": "how do I log in?"})
    until(lambda: running.parent("T-1"))
    running.act(user=LEAD, kind="command", channel="#cs-support", text="/stats 7d")
    shown = until(lambda: [e["html"] for e in running.state(LEAD)["ephemerals"] if "⏳" not in e["html"]])[0]
    labels = {p.label.get(lang) for p in running.runtime.rules.priorities.values() for lang in ("ja", "en")}
    assert any(label in shown for label in labels), shown
    assert not any(f"{color} " in shown for color in ("red", "orange", "green")), shown


def test_sample_brand_accounts_show_by_name(running):
    line = json.loads(sandbox_examples_line("instagram"))
    running.sandbox.replay([line], 0)
    parent = until(lambda: running.parent("T-1"))
    shown = json.dumps(parent.attachments, ensure_ascii=False)
    assert "Instagram · @acme.store" in shown and line["account"] not in shown


def sandbox_examples_line(network: str) -> str:
    from chatops.sandbox.web import examples_path
    return next(text for text in examples_path().read_text(encoding="utf-8").splitlines()
                if json.loads(text)["source"] == network)


def test_moderating_a_facebook_comment_shows_in_the_customer_panel(running):
    """The sandbox's Facebook does what the Graph API would: the comment is hidden, the thread says so."""
    requests.post(f"{running.url}/sandbox/customer", timeout=10,
                  json={"network": "facebook", "kind": "comment", "text": "この店最悪、二度と買わない"})
    parent = until(lambda: running.parent("T-1"))
    running.act(user=AGENT, kind="command", channel=parent.channel, text="/ticket hide T-1")
    until(lambda: "comment_moderated" in running.events("T-1"))
    shown = [p.text for p in running.ws.customer if p.direction == "out" and p.ticket == "T-1"]
    # once, after the offline auto-reply when the comment came outside business hours
    assert shown.count(t("sandbox.moderated.hide", running.runtime.rules.defaults.language)) == 1
    assert shown[-1] == t("sandbox.moderated.hide", running.runtime.rules.defaults.language)
    requests.post(f"{running.url}/sandbox/customer", timeout=10,
                  json={"network": "line", "text": "返品したいです"})
    line = until(lambda: running.parent("T-2"))
    running.act(user=AGENT, kind="command", channel=line.channel, text="/ticket hide T-2")
    answer = until(lambda: [e for e in running.state()["ephemerals"] if "T-2" in e["html"]])
    assert "T-2" in answer[-1]["html"] and "comment_moderated" not in running.events("T-2")
