"""The Teams outgoing webhook: HMAC-signed requests run the same verbs as the Slack commands,
for the person mapped by their AAD object id, answered in their locale."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from chatops.teams.commands import plain_text
from chatops.tickets.models import Ticket, TicketEvent
from tests.helpers import inbound
from tests.teams.conftest import GUEST, LEAD, activity, sign_outgoing


def say(client, text: str, *, aad: str = "aad-agent-1", locale: str = "en-US", authorization: str = "auto"):
    body = activity(text, aad=aad, locale=locale)
    headers = {"Authorization": sign_outgoing(body) if authorization == "auto" else authorization}
    return client.post("/teams/outgoing", data=body, headers=headers, content_type="application/json")


def reply_text(response) -> str:
    data = response.get_json()
    assert data["type"] == "message"
    return data["text"]


def events(runtime) -> list[tuple[str, str]]:
    with runtime.session_factory() as session:
        return [(e.kind, e.actor) for e in session.scalars(select(TicketEvent).order_by(TicketEvent.id))]


@pytest.fixture
def key(teams_runtime) -> str:
    return teams_runtime.flows.ingest(inbound("使い方を教えてください")).ticket_key


def test_signed_claim_runs_the_flow_for_the_mapped_person(teams_runtime, client, key):
    response = say(client, f"claim {key.lower()}")
    assert response.status_code == 200 and reply_text(response) == f"✅ {key} is yours."
    with teams_runtime.session_factory() as session:
        assert session.get(Ticket, int(key[2:])).assignee == "U0AGENT001"


def test_forged_or_missing_signature_changes_nothing(teams_runtime, client, key):
    body = activity(f"claim {key}")
    forged = sign_outgoing(body, token="Zm9yZ2VkLXRva2Vu")  # base64 of another token
    tampered_body = activity(f"resolve {key}")
    for response in (say(client, f"claim {key}", authorization=forged),
                     say(client, f"claim {key}", authorization=""),
                     client.post("/teams/outgoing", data=tampered_body, content_type="application/json",
                                 headers={"Authorization": sign_outgoing(body)})):
        assert response.status_code == 401 and "Authorization: HMAC" in reply_text(response)  # team language
    assert events(teams_runtime) == [("created", events(teams_runtime)[0][1])]


def test_escalate_resolve_and_reopen_answer_in_japanese(teams_runtime, client, key):
    assert reply_text(say(client, f"escalate {key} l2 返金の判断をお願いします", locale="ja-JP")) \
        == f"✅ {key} を L2 にエスカレーションしました。"
    assert reply_text(say(client, f"resolve {key} 返金済み", locale="ja-JP")) == f"✅ {key} を解決しました。"
    assert reply_text(say(client, f"reopen {key} 再発", aad=LEAD["aad"], locale="ja-JP")) \
        == f"✅ {key} を再オープンしました。"
    with teams_runtime.session_factory() as session:
        escalated = session.scalars(select(TicketEvent).where(TicketEvent.kind == "escalated")).one()
    assert escalated.payload["note"] == "返金の判断をお願いします" and escalated.payload["level_to"] == "L2"
    assert [kind for kind, _ in events(teams_runtime)] == ["created", "escalated", "resolved", "reopened"]


def test_errors_and_refusals_are_explained(teams_runtime, client, key):
    assert reply_text(say(client, f"escalate {key}")) == "⚠️ Usage: escalate T-12 L2 hand-off note"
    assert reply_text(say(client, f"escalate {key} L2")) == f"⚠️ Escalating {key} needs a hand-off note."
    assert reply_text(say(client, "claim T-999")) == "⚠️ No ticket T-999."
    assert reply_text(say(client, f"claim {key}", aad=GUEST["aad"])) == \
        "⛔ You need the agent role to claim tickets."
    assert "not in rules.yaml (teams.people)" in reply_text(say(client, f"claim {key}", aad="aad-unknown"))
    unknown = reply_text(say(client, "dance", locale="ja-JP"))
    assert "「dance」というコマンドはありません。" in unknown and "claim T-12" in unknown
    assert [kind for kind, _ in events(teams_runtime)] == ["created"]


@pytest.mark.parametrize("locale, oncall, stats", [
    ("en-US", "primary: now U0AGENT003", "**Support stats** · "),  # Teams markdown bold, not Slack's *x*
    ("ja-JP", "primary：現在 U0AGENT003", "**サポート統計** · "),
])
def test_oncall_and_stats_answer_in_the_senders_language(client, locale, oncall, stats):
    assert oncall in reply_text(say(client, "oncall", locale=locale))
    assert stats in reply_text(say(client, "stats 7d", aad=LEAD["aad"], locale=locale))
    assert reply_text(say(client, "stats someday", aad=LEAD["aad"], locale=locale)).startswith("⚠️")
    # stats needs the lead role, as /stats does on Slack
    assert reply_text(say(client, "stats 7d", locale=locale)).startswith("⛔")


def test_help_lists_every_verb(client):
    text = reply_text(say(client, "help"))
    for usage in ("claim T-12", "resolve T-12 [note]", "escalate T-12 L2 hand-off note", "oncall", "stats 7d"):
        assert usage in text


def test_body_that_is_not_an_activity_is_a_400(client):
    body = json.dumps({"hello": "world"}).encode()
    response = client.post("/teams/outgoing", data=body, content_type="application/json",
                           headers={"Authorization": sign_outgoing(body), "Accept-Language": "en"})
    assert response.status_code == 400 and "nothing was done" in reply_text(response)


def test_mentions_html_and_entities_are_stripped():
    assert plain_text("<at>chatops</at>&nbsp;<p>claim&nbsp;T-3</p>\n") == "claim T-3"
    assert plain_text("<at>Chat Ops</at> resolve T-3 &lt;done&gt;") == "resolve T-3 <done>"


def test_without_token_the_endpoint_is_not_mounted(teams_settings, rules, workflows):
    from chatops.app import create_app
    from chatops.runtime import Runtime
    from tests.teams.conftest import with_teams

    settings = teams_settings.model_copy(update={"teams_outgoing_token": None})
    runtime = Runtime.build(settings, upgrade_db=False, rules=with_teams(rules, workflows.url))
    try:
        client = create_app(runtime).test_client()
        body = activity("claim T-1")
        response = client.post("/teams/outgoing", data=body, headers={"Authorization": sign_outgoing(body)})
        assert response.status_code == 404
        with runtime.session_factory() as session:
            assert session.scalar(select(func.count()).select_from(TicketEvent)) == 0
    finally:
        runtime.close()
