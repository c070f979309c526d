"""What Slack users see from /ticket, buttons, thread messages and the Home tab, sent as signed
requests (Flask's test client and a real HTTP server); forged requests change nothing."""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import urlencode

import requests
from sqlalchemy import select
from werkzeug.serving import make_server

from chatops.i18n import t
from chatops.slack import ids
from chatops.tickets.models import Message, Ticket
from tests.fakes.http_recorder import stop
from tests.helpers import inbound
from tests.slack.conftest import AGENT, AGENT2, LEAD, STRANGER, sign

JA = "ja"


def answer_text(response) -> str:
    assert response.status_code == 200, response.data
    return response.get_json()["text"]


def test_help_lists_every_verb_in_the_workspace_language(desk):
    text = answer_text(desk.command("help"))
    assert t("slack.cmd.help_title", JA) in text
    for verb in ("show", "claim", "assign", "tag", "priority", "escalate", "resolve", "reopen", "search", "mine",
                 "queue", "note"):
        assert f"`/ticket {t(f'slack.cmd.usage.{verb}', JA)}`" in text
    unknown = answer_text(desk.command("dance T-1"))
    assert unknown.startswith(":warning: " + t("slack.cmd.unknown", JA, word="dance"))


def test_unknown_ticket_key_and_bad_usage_are_named(desk):
    assert answer_text(desk.command("claim T-999")) == ":warning: " + t("error.ticket_not_found", JA, key="T-999")
    assert t("slack.cmd.usage.escalate", JA) in answer_text(desk.command("escalate"))
    key = desk.flows.ingest(inbound()).ticket_key
    refused = answer_text(desk.command(f"escalate {key} L2"))
    assert refused == ":warning: " + t("error.note_required", JA, key=key)
    assert desk.events(key) == ["created"]


def test_roles_refuse_with_the_role_needed_and_store_nothing(desk):
    key = desk.flows.ingest(inbound()).ticket_key
    refused = answer_text(desk.command(f"assign {key} <@{AGENT2}|b>", user=AGENT))
    assert refused == ":no_entry: " + t("error.permission_denied", JA, action=t("verb.assign", JA),
                                         roles=t("role.leads", JA))
    assert desk.events(key) == ["created"]
    done = answer_text(desk.command(f"assign {key} <@{AGENT2}|b>", user=LEAD))
    assert done == ":white_check_mark: " + t("slack.cmd.done.assign", JA, key=key, who=f"<@{AGENT2}>")
    with desk.runtime.session_factory() as session:
        assert session.scalar(select(Ticket.assignee)) == AGENT2
    # A button from someone with no role: told ephemerally (response_url), nothing changes.
    assert desk.click(ids.RESOLVE, key, user=STRANGER).status_code == 200
    assert desk.slack.responses[-1]["text"].startswith(":no_entry: ")
    assert t("role.agents", JA) in desk.slack.responses[-1]["text"]
    assert desk.events(key) == ["created", "assigned"]


def test_user_groups_in_roles_come_from_slack(desk, rules):
    rules.roles.leads.append("@cs-leads")
    try:
        desk.slack.usergroups = [{"id": "S1", "handle": "cs-leads", "users": ["U0GROUPLEAD"]}]
        key = desk.flows.ingest(inbound()).ticket_key
        assert answer_text(desk.command(f"assign {key} <@{AGENT}>", user="U0GROUPLEAD")).startswith(
            ":white_check_mark:")
    finally:
        rules.roles.leads.remove("@cs-leads")


def test_double_click_and_a_racing_colleague_claim_once(desk):
    key = desk.flows.ingest(inbound()).ticket_key
    desk.click(ids.CLAIM, key)
    desk.click(ids.CLAIM, key)
    desk.click(ids.CLAIM, key, user=AGENT2)
    assert desk.events(key) == ["created", "claimed"]
    told = desk.slack.responses[-1]["text"]
    assert told == ":warning: " + t("error.already_claimed", JA, key=key, by=f"<@{AGENT}>")
    desk.drain()  # the claimer's Home tab is refreshed with the ticket under "mine"
    assert key in json.dumps(desk.slack.homes[AGENT], ensure_ascii=False)


def test_agent_messages_in_the_thread_are_notes_once_despite_retries(desk):
    key = desk.flows.ingest(inbound()).ticket_key
    desk.drain()
    [parent] = desk.slack.parents()
    message = {"type": "message", "channel": parent.channel, "user": AGENT, "text": "在庫を確認中です",
               "ts": "1763600100.000200", "thread_ts": parent.ts}
    assert desk.event(message, event_id="Ev1").status_code == 200
    assert desk.event(message, event_id="Ev1", retry=1).status_code == 200
    desk.event({**message, "ts": "1763600100.000300", "bot_id": "B0001", "text": "bot line"}, event_id="Ev2")
    desk.event({**message, "ts": "1763600100.000400", "thread_ts": None, "text": "channel chatter"}, event_id="Ev3")
    with desk.runtime.session_factory() as session:
        notes = list(session.scalars(select(Message).where(Message.direction == "note")))
    assert [(n.text, n.author_id) for n in notes] == [("在庫を確認中です", AGENT)]
    assert desk.events(key) == ["created", "note_added"]
    desk.drain()
    assert len(desk.slack.thread(parent)) == 0  # a note is already visible in the thread: no echo line


def test_home_tab_shows_mine_and_unassigned(desk):
    mine = desk.flows.ingest(inbound()).ticket_key
    waiting = desk.flows.ingest(inbound("ポイントについて", author={"id": "u9", "handle": "@k", "name": "K"})).ticket_key
    desk.flows.claim(mine, actor=AGENT)
    desk.event({"type": "app_home_opened", "user": AGENT, "channel": "D0001", "tab": "home"}, event_id="EvH")
    desk.drain()
    home = json.dumps(desk.slack.homes[AGENT], ensure_ascii=False)
    assert t("slack.home.mine", JA, count=1) in home and t("slack.home.unassigned", JA, count=1) in home
    assert mine in home and waiting in home


def test_forged_stale_and_unsigned_requests_are_refused(desk):
    key = desk.flows.ingest(inbound()).ticket_key
    body = urlencode({"command": "/ticket", "text": f"claim {key}", "user_id": AGENT, "team_id": "T0001",
                      "response_url": desk.slack.response_url()})
    forged = sign(body, secret="not-the-secret")
    stale = sign(body, timestamp=int(time.time()) - 600)
    for headers in (forged, stale, {}):
        response = desk.client.post("/slack/events", data=body, headers=headers,
                                    content_type="application/x-www-form-urlencoded")
        assert response.status_code == 401
    assert desk.events(key) == ["created"]


def test_a_signed_command_over_http(desk):
    key = desk.flows.ingest(inbound()).ticket_key
    server = make_server("127.0.0.1", 0, desk.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        body = urlencode({"command": "/ticket", "text": f"claim {key}", "user_id": AGENT, "team_id": "T0001",
                          "response_url": desk.slack.response_url(), "trigger_id": "t"})
        response = requests.post(f"http://127.0.0.1:{server.server_port}/slack/events", data=body.encode(),
                                 headers={**sign(body), "Content-Type": "application/x-www-form-urlencoded"},
                                 timeout=10)
    finally:
        stop(server)
    assert response.status_code == 200
    assert response.json()["text"] == ":white_check_mark: " + t("slack.cmd.done.claim", JA, key=key)
    assert desk.events(key) == ["created", "claimed"]
