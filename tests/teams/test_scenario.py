"""Done when: the Slack scenario (arrive, claim, escalate, resolve, reopen) runs with Teams as the
only surface, and stores the same events, in kind and order, as the same scenario run on flows."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from sqlalchemy import select

from chatops.tickets.flows import TicketFlows
from chatops.tickets.models import OutboxItem, TicketEvent
from integrations.webhook import sign
from tests.helpers import inbound
from tests.teams.conftest import activity, buttons, card_text, cards_of, drain, sign_outgoing

TEXT = "注文した商品が届かないのですが、配送状況を教えてください"


def stored_events(session_factory, key: str) -> list[tuple[str, str, dict]]:
    """(kind, actor, payload) of a ticket's events; customers and row ids made comparable."""
    with session_factory() as session:
        rows = session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == int(key[2:]))
                               .order_by(TicketEvent.id))
        return [(row.kind, "customer" if row.actor.startswith("customer:") else row.actor,
                 {name: value for name, value in (row.payload or {}).items() if not name.endswith("_id")})
                for row in rows]


def via_flows(flows: TicketFlows) -> str:
    """The scenario called straight on the flows."""
    key = flows.ingest(inbound(TEXT, author={"id": "f1", "handle": "@flows", "name": "Flows"})).ticket_key
    flows.claim(key, actor="U0AGENT001")
    flows.escalate(key, actor="U0AGENT001", level="L3", note="配送業者に確認が必要")
    flows.resolve(key, actor="U0AGENT001", note="再配達を手配")
    flows.reopen(key, actor="U0LEAD0001", reason="まだ届かないとのこと")
    return key


def click(client, url: str, **form) -> str:
    """Open a card button like a browser would (GET the page), then confirm (POST the form)."""
    parts = urlparse(url)
    page = client.get(f"{parts.path}?{parts.query}", headers={"Accept-Language": "ja"})
    assert page.status_code == 200
    done = client.post(parts.path, data={"token": parse_qs(parts.query)["token"][0], **form},
                       headers={"Accept-Language": "ja"})
    assert done.status_code == 200, done.text
    return done.text


def test_slack_scenario_with_teams_as_the_only_surface(teams_runtime, client, outbox, workflows, flows):
    assert not teams_runtime.settings.slack_enabled
    baseline = stored_events(flows.session_factory, via_flows(flows))

    # arrive: a signed generic-webhook message becomes a ticket and a card in Teams
    body = inbound(TEXT, author={"id": "t1", "handle": "@teams", "name": "Teams"}).model_dump_json().encode()
    arrived = client.post("/webhooks/generic", data=body, content_type="application/json",
                          headers={"X-Chatops-Signature": sign("test-webhook-secret", body)})
    key = arrived.get_json()["results"][0]["ticket"]
    drain(outbox)
    [card] = cards_of(workflows)
    # claim: the Claim button on the card, confirmed on our page
    assert f"{key} を担当しました。" in click(client, buttons(card)["担当する"], upn="sato@acme.example")
    # escalate: @mention the bot in the channel
    escalate = activity(f"escalate {key} L3 配送業者に確認が必要", locale="ja-JP")
    answer = client.post("/teams/outgoing", data=escalate, content_type="application/json",
                         headers={"Authorization": sign_outgoing(escalate)}).get_json()
    assert answer == {"type": "message", "text": f"✅ {key} を L3 にエスカレーションしました。"}
    drain(outbox)
    # resolve: the Resolve button on the latest card, with a note
    latest = cards_of(workflows)[-1]
    assert "担当する" not in buttons(latest)  # claimed already: no Claim button any more
    click(client, buttons(latest)["解決する"], upn="sato@acme.example", note="再配達を手配")
    drain(outbox)
    # reopen: the Reopen button on the resolved card, by the lead
    click(client, buttons(cards_of(workflows)[-1])["再オープン"], upn="lead@acme.example",
          note="まだ届かないとのこと")
    drain(outbox)

    teams = stored_events(teams_runtime.session_factory, key)
    assert [kind for kind, _, _ in teams] == ["created", "claimed", "escalated", "resolved", "reopened"]
    assert teams == baseline
    # every event reached the channel as a valid card, in order, and nothing went to Slack
    lines = [card_text(card) for card in cards_of(workflows)]
    assert len(lines) == 5
    for line, expected in zip(lines, ["新しいチケット", "Sato さんがこのチケットを担当しました",
                                      "Sato さんが L3 にエスカレーションしました。引き継ぎメモ: 配送業者に確認が必要",
                                      "解決しました: 再配達を手配",
                                      "Lead さんがこのチケットを再オープンしました: まだ届かないとのこと"],
                              strict=True):
        assert expected in line
    with teams_runtime.session_factory() as session:
        targets = set(session.scalars(select(OutboxItem.target)))
        states = set(session.scalars(select(OutboxItem.state).where(OutboxItem.target == "teams")))
    assert targets == {"teams"} and states == {"done"}
