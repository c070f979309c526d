"""Ticket events reach Teams through the outbox: Adaptive Cards to Workflows, MessageCards to
legacy connectors, with 202 accepted, Retry-After honoured, pacing, and nothing duplicated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select

from chatops.app import build_outbox
from chatops.db import utcnow
from chatops.tickets.models import OutboxItem, OutboxLane
from tests.fakes.http_recorder import Answer
from tests.helpers import inbound
from tests.teams.conftest import PUBLIC_URL, buttons, card_text, cards_of, drain


def items(runtime, **where) -> list[OutboxItem]:
    with runtime.session_factory() as session:
        stmt = select(OutboxItem).where(OutboxItem.target == "teams").order_by(OutboxItem.id)
        for name, value in where.items():
            stmt = stmt.where(getattr(OutboxItem, name) == value)
        return list(session.scalars(stmt))


def test_new_ticket_posts_an_adaptive_card_with_signed_buttons(teams_runtime, outbox, workflows):
    outcome = teams_runtime.flows.ingest(inbound("二重請求されました！カードから2回引き落とされています",
                                                 url="https://x.com/hanako/status/1"))
    drain(outbox)
    [card] = cards_of(workflows)
    assert workflows.requests[0].path == "/hook/support-urgent"  # red money ticket → urgent channel
    text = card_text(card)
    assert f"🔴 大至急 · {outcome.ticket_key} · L3" in text
    assert "二重請求されました" in text and "@hanako" in text and "未割り当て" in text
    assert card["body"][0]["style"] == "attention"
    links = buttons(card)
    assert set(links) == {"担当する", "解決する", "ブラウザで開く"}
    assert links["ブラウザで開く"] == "https://x.com/hanako/status/1"
    claim = urlparse(links["担当する"])
    assert f"{claim.scheme}://{claim.netloc}" == PUBLIC_URL and claim.path == "/teams/act"
    assert parse_qs(claim.query)["token"][0]
    [item] = items(teams_runtime)
    assert item.state == "done" and item.result["status"] == 202 and item.ordering_key == "teams:support-urgent"


def test_each_change_posts_a_card_in_order_and_buttons_follow_the_state(teams_runtime, outbox, workflows):
    key = teams_runtime.flows.ingest(inbound("使い方を教えてください")).ticket_key
    flows = teams_runtime.flows
    flows.claim(key, actor="U0AGENT001")
    flows.add_note(key, actor="U0AGENT001", text="internal only")
    flows.resolve(key, actor="U0AGENT001", note="FAQ を案内")
    drain(outbox)
    created, claimed, resolved = cards_of(workflows)  # the note posts nothing
    assert "お客さまから新しいチケット" in card_text(created)
    assert "Sato さんがこのチケットを担当しました。" in card_text(claimed)
    assert "Sato さんがこのチケットを解決しました: FAQ を案内" in card_text(resolved)
    # rendered at delivery: every card shows the ticket as it is now, with the buttons that fit
    assert set(buttons(resolved)) == {"再オープン"}
    assert "internal only" not in "".join(r.body.decode() for r in workflows.requests)


def test_legacy_connector_gets_a_messagecard_through_pymsteams(teams_runtime, outbox, connector, workflows):
    key = teams_runtime.flows.ingest(inbound("返品したいのですが、交換もできますか")).ticket_key
    with teams_runtime.session_factory() as session:
        channel = session.scalar(select(OutboxItem.payload).where(OutboxItem.target == "teams"))["channel"]
    assert channel == "returns"
    drain(outbox)
    [request] = connector.requests
    assert request.path == "/hook/returns" and not workflows.requests
    card = request.json()
    assert card["title"] == f"🟠 至急 · {key} · L2" and card["themeColor"] == "ff9100"
    assert "返品したい" in card["text"]
    facts = {fact["name"]: fact["value"] for fact in card["sections"][0]["facts"]}
    assert facts["状態"] == "新規"
    names = [action["name"] for action in card["potentialAction"]]
    assert names == ["担当する", "解決する"] and all(a["@type"] == "ViewAction" for a in card["potentialAction"])


def test_429_waits_for_retry_after_then_posts_once(teams_runtime, outbox, workflows):
    workflows.answers.append(Answer(429, {"error": "too many"}, {"Retry-After": "7"}))
    teams_runtime.flows.ingest(inbound("使い方を教えてください"))
    before = utcnow()
    outbox.run_once()
    [item] = items(teams_runtime)
    assert item.state == "pending" and item.attempts == 1 and "429" in item.last_error and not item.in_doubt
    assert item.next_attempt_at >= before + timedelta(seconds=6.9)
    outbox.clock = lambda: utcnow() + timedelta(seconds=8)
    outbox.run_once()
    outbox.run_once()
    assert [item.state for item in items(teams_runtime)] == ["done"]
    assert len(workflows.requests) == 2 and len(cards_of(workflows)) == 2  # one refused, one accepted


@pytest.mark.parametrize("status, state", [(500, "pending"), (404, "dead"), (400, "dead")])
def test_failures_retry_or_give_up_with_the_reason(teams_runtime, outbox, workflows, status, state):
    workflows.answers.append(Answer(status, {"error": {"message": "flow not found"}}))
    teams_runtime.flows.ingest(inbound("使い方を教えてください"))
    outbox.run_once()
    [item] = items(teams_runtime)
    assert item.state == state and f"HTTP {status}" in item.last_error
    assert "127.0.0.1" not in item.last_error  # the webhook URL is a secret: errors name the channel
    assert "teams channel support" in item.last_error


def test_channel_lane_rests_between_posts(teams_settings, rules, workflows, connector):
    from chatops.runtime import Runtime
    from tests.teams.conftest import with_teams

    settings = teams_settings.model_copy(update={"teams_post_interval": 30.0})
    runtime = Runtime.build(settings, upgrade_db=False, rules=with_teams(rules, workflows.url))
    try:
        outbox = build_outbox(runtime)
        key = runtime.flows.ingest(inbound("使い方を教えてください")).ticket_key
        runtime.flows.claim(key, actor="U0AGENT001")
        outbox.run_once()
        outbox.run_once()
        assert len(workflows.requests) == 1  # the claim card waits for the lane
        with runtime.session_factory() as session:
            lane = session.get(OutboxLane, "teams:support")
        assert lane.not_before > utcnow() + timedelta(seconds=25)
        outbox.clock = lambda: utcnow() + timedelta(seconds=31)
        outbox.run_once()
        assert len(workflows.requests) == 2
    finally:
        runtime.close()


def test_one_row_per_event_even_if_announced_twice(teams_runtime):
    from chatops.teams.notifier import TeamsPlanner
    from chatops.tickets.events import EventNotice
    from chatops.tickets.record import Recorder

    key = teams_runtime.flows.ingest(inbound("使い方を教えてください")).ticket_key
    [row] = items(teams_runtime)
    assert row.dedupe_key.startswith("teams:")
    notice = EventNotice(event_id=int(row.dedupe_key.split(":")[1]), ticket_id=int(key[2:]), kind="created",
                         actor="customer:1", at=utcnow(), channel="support", assignee=None)
    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        with teams_runtime.session_factory.begin() as session:
            Recorder([TeamsPlanner(teams_runtime.rules)]).announce(session, notice)
    assert len(items(teams_runtime)) == 1


def test_without_public_url_cards_carry_no_action_links(teams_settings, rules, workflows):
    from chatops.app import create_app
    from chatops.runtime import Runtime
    from tests.teams.conftest import with_teams

    settings = teams_settings.model_copy(update={"teams_public_url": None})
    runtime = Runtime.build(settings, upgrade_db=False, rules=with_teams(rules, workflows.url))
    try:
        runtime.flows.ingest(inbound("使い方を教えてください", url="https://x.com/hanako/status/2"))
        drain(build_outbox(runtime))
        [card] = cards_of(workflows)
        assert buttons(card) == {"ブラウザで開く": "https://x.com/hanako/status/2"}
        assert create_app(runtime).test_client().get("/teams/act?token=x").status_code == 404
    finally:
        runtime.close()


def test_retry_after_as_seconds_or_an_http_date():
    """One reading of Retry-After for every deliverer (Teams webhooks, the bot, the networks)."""
    from email.utils import format_datetime

    from chatops.outbox import retry_after

    now = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    assert retry_after("12", now) == 12.0
    assert retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0.0
    assert retry_after("86400", now) == 3600.0  # at most an hour
    assert retry_after("soon", now) is None and retry_after(None, now) is None


def test_a_gateway_error_leaves_the_card_in_doubt_and_the_repeat_says_so(teams_runtime, outbox, workflows):
    workflows.answers.append(Answer(502, {"error": "bad gateway"}))
    teams_runtime.flows.ingest(inbound("使い方を教えてください"))
    outbox.run_once()
    [item] = items(teams_runtime)
    assert item.state == "pending" and item.in_doubt  # the flow may have posted before the 502
    outbox.clock = lambda: utcnow() + timedelta(minutes=5)
    outbox.run_once()
    first, second = [card_text(card) for card in cards_of(workflows)]
    assert "同じ内容が二度表示されている可能性があります" not in first
    assert "同じ内容が二度表示されている可能性があります" in second
    assert [item.state for item in items(teams_runtime)] == ["done"]


def test_refused_connection_and_429_are_not_in_doubt(teams_settings, rules, workflows):
    from chatops.runtime import Runtime
    from tests.teams.conftest import with_teams

    runtime = Runtime.build(teams_settings, upgrade_db=False, rules=with_teams(rules, "http://127.0.0.1:9"))
    try:
        runtime.flows.ingest(inbound("使い方を教えてください"))
        build_outbox(runtime).run_once()
        [item] = items(runtime)
        assert item.state == "pending" and not item.in_doubt and "ConnectionError" in item.last_error
    finally:
        runtime.close()


def test_assignment_and_breach_mention_the_teams_people_they_are_for(teams_runtime, outbox, workflows, clock):
    """A card for someone mentions them (`<at>` + an entity with their sign-in e-mail), so Teams
    notifies them; people rules.yaml maps to no Teams identity are named only."""
    flows = teams_runtime.flows
    key = flows.ingest(inbound("二重請求されました！カードから2回引き落とされています")).ticket_key  # red, L3
    flows.assign(key, actor="U0LEAD0001", assignee="U0AGENT001")
    clock.advance(hours=30)
    flows.sla_pass()  # first response breached: L3's lead hears of it
    drain(outbox)
    [assigned] = [card for card in cards_of(workflows) if "Sato さんに割り当てました" in card_text(card)]
    assert assigned["msteams"]["entities"] == [
        {"type": "mention", "text": "<at>Sato</at>", "mentioned": {"id": "sato@acme.example", "name": "Sato"}}]
    assert "宛先: <at>Sato</at>" in card_text(assigned)
    breached = [card for card in cards_of(workflows) if "期限を過ぎました" in card_text(card)]
    assert breached
    ids = {entity["mentioned"]["id"] for card in breached for entity in card["msteams"].get("entities", [])}
    assert ids == {"lead@acme.example", "sato@acme.example"}  # the level's lead and the assignee
    created = cards_of(workflows)[0]
    assert "entities" not in created["msteams"]  # a new ticket is for the channel, not for someone


def test_an_emoji_flood_is_sent_as_the_bytes_measured_and_within_28_kb(teams_runtime, outbox, workflows):
    teams_runtime.flows.ingest(inbound("使い方を教えてください" + "😡" * 5_000))
    drain(outbox)
    [request] = workflows.requests
    [item] = items(teams_runtime)
    # UTF-8 on the wire, not \uXXXX escapes: the received body is the one measured, clipped to fit.
    assert len(request.body) == item.result["bytes"] <= 28 * 1024
    assert request.headers["Content-Type"].startswith("application/json")
    assert b"\\ud83d" not in request.body and "😡" in card_text(cards_of(workflows)[0])


def test_a_messagecard_is_measured_as_pymsteams_sends_it(teams_runtime, outbox, connector, workflows):
    teams_runtime.flows.ingest(inbound("返金してください" + "😡" * 5_000))  # returns: the legacy connector
    drain(outbox)
    [request] = connector.requests
    [item] = items(teams_runtime)
    assert len(request.body) == item.result["bytes"] <= 28 * 1024
