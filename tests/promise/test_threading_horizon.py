"""Threading with a horizon, end to end with the fake Slack: LINE keeps one conversation id per
customer forever, so a message long after its ticket was resolved opens a new ticket linked to
the old one (both threads say so) instead of reopening it with its old assignee and tags."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import select

from chatops.cli import main
from chatops.i18n import t
from chatops.slack.blocks.text import link
from chatops.slack.blocks.ticket import thread_permalink
from chatops.teams import cards as teams_cards
from chatops.tickets.models import TicketEvent
from tests.conftest import RULES_PATH
from tests.helpers import inbound

JA = "ja"
AGENT = "U0AGENT001"
CUSTOMER = {"id": "U-line-77", "handle": "佐藤", "name": "佐藤"}


@pytest.fixture
def rules(rules):
    """The shipped rules without rating requests on resolve: no LINE deliverer runs here."""
    csat = rules.stats.csat.model_copy(update={"networks": []})
    return rules.model_copy(update={"stats": rules.stats.model_copy(update={"csat": csat})})


def _dm(desk, text: str):
    """A LINE DM from the same customer in their one conversation, posted now."""
    return inbound(text, source="line", account="acme-line", kind="dm", author=CUSTOMER,
                   conversation_id="line-conv-77", created_at=desk.clock().isoformat())



def _parent(desk, key: str):
    return next(p for p in desk.slack.parents() if (p.metadata or {}).get("event_payload", {}).get("ticket") == key)


def _lines(desk, key: str) -> list[str]:
    return [m.text for m in desk.slack.thread(_parent(desk, key))]


def _payload(desk, key: str, kind: str) -> dict:
    with desk.runtime.session_factory() as session:
        return session.scalars(select(TicketEvent.payload).where(
            TicketEvent.ticket_id == int(key.split("-")[1]), TicketEvent.kind == kind)).one()


def _worked_and_resolved(desk) -> str:
    """A ticket claimed, tagged and resolved on Tuesday 2026-11-24 10:00 JST (a working day)."""
    key = desk.flows.ingest(_dm(desk, "注文の配送状況を教えてください")).ticket_key
    desk.flows.claim(key, actor=AGENT)
    desk.flows.tag(key, actor=AGENT, add=["needs-followup"])
    desk.clock.advance(days=4)
    desk.flows.resolve(key, actor=AGENT)
    desk.drain()
    assert "needs-followup" in desk.ticket(key).tags
    return key


def _assert_linked(desk, old: str, new: str) -> None:
    fresh, closed = desk.ticket(new), desk.ticket(old)
    assert new != old
    assert fresh.status == "new" and fresh.assignee is None and "needs-followup" not in fresh.tags
    assert fresh.follows_ticket_id == closed.id
    assert fresh.first_response_due_at is not None and fresh.first_response_due_at > desk.clock()
    assert closed.status == "resolved" and closed.assignee == AGENT and closed.reopened_count == 0
    assert desk.events(old)[-1] == "continued"
    assert _payload(desk, old, "continued") == {"new_ticket_id": fresh.id}
    assert _payload(desk, new, "created")["follows"] == closed.id


def test_message_long_after_resolve_opens_a_new_linked_ticket(desk):
    old = _worked_and_resolved(desk)
    desk.clock.advance(days=8)  # Wednesday 2026-12-02
    result = desk.flows.ingest(_dm(desk, "また別の注文について質問があります"))
    assert result.outcome == "created"
    desk.drain()
    new = result.ticket_key
    _assert_linked(desk, old, new)
    old_parent, new_parent = _parent(desk, old), _parent(desk, new)
    old_url = thread_permalink(old_parent.channel, old_parent.ts)
    new_url = thread_permalink(new_parent.channel, new_parent.ts)
    assert t("slack.line.follows", JA, ticket=link(old_url, old)) in _lines(desk, new)
    assert t("slack.line.continued", JA, ticket=link(new_url, new)) in _lines(desk, old)
    context = [element["text"] for attachment in new_parent.attachments for block in attachment["blocks"]
               if block["type"] == "context" for element in block["elements"]]
    assert any(t("slack.follows", JA, ticket=old) in text for text in context)
    # The customer's next message joins the new ticket, not the old one.
    desk.clock.advance(minutes=5)
    assert desk.flows.ingest(_dm(desk, "追加の情報です")).ticket_key == new


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_tickets_show_names_the_link_both_ways(desk, lang, database_url, monkeypatch, tmp_path, capsys):
    old = _worked_and_resolved(desk)
    desk.clock.advance(days=8)
    new = desk.flows.ingest(_dm(desk, "また別の注文について質問があります")).ticket_key
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHATOPS_DATABASE_URL", database_url)
    monkeypatch.setenv("CHATOPS_RULES", str(RULES_PATH))
    monkeypatch.setenv("CHATOPS_LANG", lang)
    assert main(["tickets", "show", new]) == 0
    assert t("cli.tickets.follows", lang, ticket=old) in capsys.readouterr().out
    assert main(["tickets", "show", old]) == 0
    assert t("cli.tickets.continued", lang, tickets=new) in capsys.readouterr().out
    assert main(["tickets", "show", "--json", old]) == 0
    assert json.loads(capsys.readouterr().out)["continued_in"] == [new]


def test_message_soon_after_resolve_reopens_the_ticket(desk):
    old = _worked_and_resolved(desk)
    desk.clock.advance(days=3)  # Friday 2026-11-27
    result = desk.flows.ingest(_dm(desk, "やはりまだ届いていません"))
    assert (result.outcome, result.ticket_key) == ("reopened", old)
    reopened = desk.ticket(old)
    assert reopened.status == "open" and reopened.assignee == AGENT and reopened.follows_ticket_id is None
    assert "continued" not in desk.events(old)


def test_open_ticket_months_old_still_takes_the_message(desk):
    key = desk.flows.ingest(_dm(desk, "注文の配送状況を教えてください")).ticket_key
    desk.flows.claim(key, actor=AGENT)
    desk.clock.advance(days=89)  # Wednesday 2027-02-17: the horizon is about resolved tickets only
    result = desk.flows.ingest(_dm(desk, "まだ返事がありません"))
    assert (result.outcome, result.ticket_key) == ("threaded", key)
    assert desk.ticket(key).assignee == AGENT


def test_reopen_days_zero_always_opens_a_new_ticket_after_resolve(desk, rules):
    desk.flows.rules = rules.model_copy(update={"threading": rules.threading.model_copy(update={"reopen_days": 0})})
    old = _worked_and_resolved(desk)
    desk.clock.advance(minutes=10)
    result = desk.flows.ingest(_dm(desk, "もう一つ質問です"))
    assert result.outcome == "created"
    desk.drain()
    _assert_linked(desk, old, result.ticket_key)


def test_group_commit_gives_the_same_outcome(desk, caplog):
    caplog.set_level(logging.INFO, logger="chatops.ingest")
    old = _worked_and_resolved(desk)
    desk.clock.advance(days=8)
    other = inbound("はじめて問い合わせます", source="line", account="acme-line", kind="dm",
                    author={"id": "U-line-88", "handle": "鈴木", "name": "鈴木"}, conversation_id="line-conv-88",
                    created_at=desk.clock().isoformat())
    first, stale = desk.flows.ingest_many([other, _dm(desk, "また別の注文について質問があります")])
    assert first.outcome == "created" and stale.outcome == "created"
    assert "group commit" not in caplog.text  # stored in one transaction, not one by one
    desk.drain()
    _assert_linked(desk, old, stale.ticket_key)
    assert any(line.startswith(":link:") for line in _lines(desk, stale.ticket_key))


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_teams_cards_say_the_link_both_ways(rules, lang):
    created = teams_cards.event_line("created", "customer:7", {"message_id": 1, "follows": 12}, rules, lang)
    continued = teams_cards.event_line("continued", "customer:7", {"new_ticket_id": 13}, rules, lang)
    assert created == t("teams.line.created_follows", lang, ticket="T-12")
    assert continued == t("teams.line.continued", lang, ticket="T-13")
    assert teams_cards.event_line("created", "customer:7", {"message_id": 1}, rules, lang) == t(
        "teams.line.created", lang)
