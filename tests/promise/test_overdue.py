"""Managers see open overdue work: `chatops stats` counts tickets past their deadline now (and as
breaches), and App Home headers count every matching ticket, not the loaded page."""

from __future__ import annotations

import json

import pytest

from chatops.i18n import t
from chatops.stats.format import render_lines
from chatops.stats.period import parse_query
from chatops.stats.query import compute
from chatops.tickets.models import Ticket
from chatops.views import overdue_views
from tests.helpers import inbound
from tests.slack.conftest import AGENT
from tests.unit.test_cli import run


@pytest.fixture
def cli_env(monkeypatch, tmp_path, database_url):
    """`chatops` on this test's database and the shipped rules, in English."""
    from tests.conftest import RULES_PATH

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHATOPS_DATABASE_URL", database_url)
    monkeypatch.setenv("CHATOPS_RULES", str(RULES_PATH))
    monkeypatch.setenv("CHATOPS_LANG", "en")


def _left_unanswered(flows, clock) -> list[str]:
    keys = [flows.ingest(inbound("二重請求されています", author={"id": "r1", "handle": "@r", "name": "R"})).ticket_key,
            flows.ingest(inbound()).ticket_key,
            flows.ingest(inbound("使い方？", author={"id": "g2", "handle": "@g", "name": "G"})).ticket_key]
    clock.advance(days=5)  # past every first-response deadline, business hours included
    return keys


def test_stats_count_open_tickets_past_deadline_as_overdue_and_breached(flows, clock, rules, session_factory,
                                                                         cli_env, capsys):
    _left_unanswered(flows, clock)
    with session_factory() as session:
        figures = compute(session, rules, parse_query(["30d"], rules, clock()), clock())
    by_priority = figures["overdue_now"]["by_priority"]
    assert figures["overdue_now"]["total"] == 3
    assert by_priority["red"]["first_response"] == 1 and by_priority["green"]["first_response"] == 2
    assert figures["sla"]["first_response"]["value"] == 0.0  # nothing met, three breached
    assert figures["sla"]["breaches_by_priority"]["red"]["value"] == 1
    assert figures["sla"]["breaches_by_priority"]["green"]["value"] == 2
    text = "\n".join(render_lines(figures, "en"))
    assert t("stats.overdue_now", "en", total=3, parts="red 1, orange 0, green 2") in text
    assert "Overdue now" in t("stats.overdue_now", "en", total=0, parts="")
    ja = "\n".join(render_lines(figures, "ja"))
    assert "現在の期限超過: 3" in ja

    # The CLI reads the same figures (its now is the real clock, later than these deadlines).
    code, out, _ = run(capsys, "stats", "30d", "--json")
    assert code == 0
    cli = json.loads(out)
    assert cli["overdue_now"]["total"] == 3
    assert cli["sla"]["first_response"]["value"] < 100
    code, out, _ = run(capsys, "stats", "30d")
    assert code == 0 and "Overdue now: 3 — red 1, orange 0, green 2" in out
    code, out, _ = run(capsys, "stats", "30d", "--csv")
    assert "overdue_now,red,first_response,1,," in out


def test_pending_ticket_on_the_resolution_clock_is_not_overdue(flows, clock, session_factory, rules):
    key = flows.ingest(inbound()).ticket_key
    flows.claim(key, actor=AGENT)
    with session_factory() as session:  # answered, then waiting on the customer: resolution clock paused
        ticket = session.get(Ticket, int(key.split("-")[1]))
        ticket.first_response_at = clock()
        ticket.status = "pending"
        ticket.resolution_due_at = clock()
        session.commit()
    clock.advance(days=10)
    with session_factory() as session:
        assert overdue_views(session, rules=rules, now=clock()) == []


def test_app_home_counts_every_unassigned_ticket_and_says_how_many_more(desk):  # noqa: F811
    for n in range(25):
        desk.flows.ingest(inbound(f"使い方 {n}", author={"id": f"c{n}", "handle": f"@c{n}", "name": f"C{n}"}))
    desk.event({"type": "app_home_opened", "user": AGENT, "channel": "D0001", "tab": "home"}, event_id="EvH25")
    desk.drain()
    home = json.dumps(desk.slack.homes[AGENT], ensure_ascii=False)
    assert t("slack.home.unassigned", "ja", count=25) in home
    shown = sum(1 for block in desk.slack.homes[AGENT]["blocks"]  # ticket rows (saved views have buttons too)
                if block.get("accessory", {}).get("action_id") == "home.open")
    assert shown < 25
    assert t("slack.list.more", "ja", count=25 - shown) in home
