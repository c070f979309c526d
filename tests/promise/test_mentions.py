"""Every notice names real people: rules.yaml group handles reach Slack as `<!subteam^S…>`,
user ids as `<@U…>`, a keyword rule's `notify` is delivered (thread line + DMs), a breach
reaches a group lead, and a handle Slack does not know raises one channel alert and a metric."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from chatops.rules import parse_rules
from chatops.slack import ids
from chatops.tickets.models import OutboxItem, Ticket
from tests.conftest import RULES_PATH
from tests.helpers import inbound

RETURNS = "返品したいです"


@pytest.fixture
def rules():
    """The bundled rules.yaml with a user group as the L2 lead (who hears of L2 breaches)."""
    text = RULES_PATH.read_text(encoding="utf-8").replace(
        'owners: ["@cs-l2"]\n', 'owners: ["@cs-l2"]\n    lead: "@cs-l2"\n', 1)
    assert 'lead: "@cs-l2"' in text
    return parse_rules(text, str(RULES_PATH))


def group(slack, handle: str) -> str:
    return next(f"<!subteam^{g['id']}>" for g in slack.usergroups if g["handle"] == handle)


def parent_of(desk, key: str):
    with desk.runtime.session_factory() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.id == int(key.split("-")[1])))
        channel = desk.slack.channel_id(desk.runtime.rules.channels[ticket.channel].slack)
    return next(m for m in desk.slack.parents(channel) if key in m.text or key in str(m.attachments))


def test_escalation_to_l2_mentions_the_group(desk):
    key = desk.flows.ingest(inbound("ポイントの使い方を教えてください")).ticket_key
    desk.drain()
    desk.click(ids.ESCALATE, key)
    modal = desk.last_view(ids.ESCALATE_VIEW)
    desk.submit(modal, {(ids.LEVEL_BLOCK, ids.LEVEL_SELECT): {"type": "static_select",
                                                              "selected_option": {"value": "L2"}},
                        (ids.NOTE_BLOCK, ids.NOTE_INPUT): {"type": "plain_text_input", "value": "お願いします"}})
    desk.drain()
    line = desk.slack.thread(parent_of(desk, key))[-1].text
    assert group(desk.slack, "cs-l2") in line
    assert "*@cs-l2*" not in line


def test_returns_rule_notifies_its_people(desk):
    key = desk.flows.ingest(inbound(RETURNS)).ticket_key
    desk.drain()
    lines = [m.text for m in desk.slack.thread(parent_of(desk, key))]
    [notify] = [line for line in lines if "<@U0RETURNS1>" in line]
    assert group(desk.slack, "returns-lead") in notify
    [dm] = desk.slack.dms("U0RETURNS1")
    assert key in dm.text and RETURNS in dm.text
    with desk.runtime.session_factory() as session:
        keys = set(session.scalars(select(OutboxItem.dedupe_key)))
    assert "slack:notify_dm:1:U0RETURNS1" in keys and not any(k.startswith("slack:unresolved:") for k in keys)


def test_breach_with_a_group_lead_mentions_the_group(desk):
    key = desk.flows.ingest(inbound(RETURNS)).ticket_key  # orange, L2: its lead is @cs-l2 here
    desk.drain()
    desk.clock.advance(days=10)
    assert (key, "sla_breached", "first_response") in desk.flows.sla_pass(desk.clock())
    desk.drain()
    breaches = [m.text for m in desk.slack.thread(parent_of(desk, key)) if m.text.startswith(":rotating_light:")]
    assert breaches and all(group(desk.slack, "cs-l2") in line for line in breaches)


def test_an_unknown_handle_is_reported_once(desk):
    desk.slack.usergroups = [g for g in desk.slack.usergroups if g["handle"] != "returns-lead"]
    keys = [desk.flows.ingest(inbound(RETURNS, author={"id": f"c{i}", "handle": f"@c{i}", "name": "C"})).ticket_key
            for i in range(2)]
    desk.drain()
    for key in keys:  # still shown, as text, next to the person who is mentioned
        [notify] = [m.text for m in desk.slack.thread(parent_of(desk, key)) if "<@U0RETURNS1>" in m.text]
        assert "*@returns-lead*" in notify
    returns = desk.slack.channel_id(desk.runtime.rules.channels["returns"].slack)
    alerts = [m for m in desk.slack.parents(returns) if "@returns-lead" in m.text]
    assert len(alerts) == 1 and alerts[0].text.startswith(":warning:")
    metrics = desk.client.get("/metrics").get_data(as_text=True)
    assert "chatops_unresolved_mentions 1.0" in metrics


def test_integrations_check_lists_handles_slack_does_not_know(monkeypatch, settings, fake_slack, capsys):
    from chatops.cli import main

    fake_slack.usergroups = [g for g in fake_slack.usergroups if g["handle"] != "returns-lead"]
    fake_slack.unknown_users.add("U0L3OWNER")
    monkeypatch.setenv("CHATOPS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret")
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    assert main(["--lang", "en", "integrations", "check"]) == 1
    out = capsys.readouterr().out
    assert "Slack does not know @returns-lead (rules.yaml rules.returns.notify)" in out
    assert "Slack does not know U0L3OWNER (rules.yaml levels.L3.owners)" in out
    assert "@cs-l2" not in out


def test_groups_slack_will_not_list_are_reported_as_such(desk, monkeypatch, settings, capsys):
    desk.slack.missing_scopes = {"usergroups.list": "usergroups:read"}
    key = desk.flows.ingest(inbound(RETURNS)).ticket_key
    desk.drain()
    [notify] = [m.text for m in desk.slack.thread(parent_of(desk, key)) if "<@U0RETURNS1>" in m.text]
    assert "*@returns-lead*" in notify  # still named, as text
    returns = desk.slack.channel_id(desk.runtime.rules.channels["returns"].slack)
    [alert] = [m.text for m in desk.slack.parents(returns) if "@returns-lead" in m.text]
    assert "missing_scope (usergroups:read)" in alert and "usergroups:read" in alert
    assert "chatops_unresolved_mentions 1.0" in desk.client.get("/metrics").get_data(as_text=True)

    from chatops.cli import main

    monkeypatch.setenv("CHATOPS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret")
    monkeypatch.setenv("SLACK_API_URL", desk.slack.api_url)
    assert main(["--lang", "en", "integrations", "check"]) == 1
    out = capsys.readouterr().out
    assert "Slack refused to list the user groups (missing_scope (usergroups:read))" in out
    assert "Slack does not know @returns-lead" in out
