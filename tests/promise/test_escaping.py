"""Hostile customer/integration values through every Slack block builder and Teams card
builder: no `<!…>` / `<@…>` from customer data and no non-http link in any text, fallback
text included."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from chatops.slack import blocks
from chatops.slack.blocks import incident as incident_blocks
from chatops.slack.blocks import modals, pages
from chatops.slack.blocks.modals import RecentReplies, RecentReply
from chatops.slack.blocks.text import link
from chatops.slack.stats import stats_blocks
from chatops.stats.period import parse_query
from chatops.stats.query import compute
from chatops.teams import cards
from chatops.teams.text import link as teams_link
from chatops.views import CustomerView, TicketView

HOSTILE = "<!channel> <!here> <@U123> & > | <https://evil|click> <javascript:alert(1)|x>"
HOSTILE_URLS = ["https://shop.example/o/1?a=1&b=2><!channel>|x", "javascript:alert(1)", "<https://evil|click>"]
# Values a person or integration controls: a reply text, a Teams/API actor id, a tag.
HOSTILE_VALUES = ["<!channel>", "&", "<@U123>", "https://x.example/?a=1&b=2><!here>|x", HOSTILE]
NOW = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
# A Slack link or mention: `<` followed by anything but an entity-escaped text.
SLACK_TOKEN = re.compile(r"<([^>]*)>")


def texts(obj) -> list[str]:
    """Every string under a `text` key (mrkdwn, plain_text, fallback) of a Slack/Teams payload."""
    found: list[str] = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key in ("text", "value", "title") and isinstance(value, str):
                found.append(value)
            else:
                found.extend(texts(value))
    elif isinstance(obj, list):
        for item in obj:
            found.extend(texts(item))
    return found


def assert_slack_inert(payload) -> None:
    for text in texts(payload):
        for token in SLACK_TOKEN.findall(text):
            if token == "@U0AGENT1":
                continue  # the agent acting is ours to mention
            assert not token.startswith(("!", "@", "#")), text  # no mention from customer data
            target = token.split("|", 1)[0]
            assert target.startswith(("http://", "https://")), text  # only web links
            assert "<!" not in target and "|" not in target.split("|")[0]
        assert "<!" not in text and "<@U123" not in text, text


def card(url: str) -> TicketView:
    return TicketView.at(NOW, key="T-1", status="new", priority="red", level="L3", channel="support-urgent",
                      source="x", account=HOSTILE, text=HOSTILE, created_at=NOW, tags=(HOSTILE, "|", ">"),
                      customer=CustomerView(handle=HOSTILE, name=HOSTILE, flags=("vip",)), url=url,
                      first_response_due_at=NOW)


@pytest.mark.parametrize("url", HOSTILE_URLS)
@pytest.mark.parametrize("lang", ["ja", "en"])
def test_slack_builders_keep_hostile_values_inert(rules, lang, url):
    c = card(url)
    assert_slack_inert(blocks.ticket_message(c, rules, lang))
    assert_slack_inert(incident_blocks.incident_message(
        c, type("S", (), dict(count=3, authors=2, negative_share=0.5, rate_per_min=1.0, since=NOW,
                              key="post:x:1", closed_at=None))(), rules, lang))
    assert_slack_inert({"text": blocks.customer_line(HOSTILE, HOSTILE, url, lang)})
    assert_slack_inert({"text": blocks.reply_line("U0AGENT1", HOSTILE, lang)})
    assert_slack_inert(pages.page_message(c, {"page": "P-1", "step": 1, "round": 1}, rules, lang))
    assert_slack_inert({"text": pages.sla_notice("sla_breached", c, {"deadline": "first_response",
                                                                    "due_at": NOW.isoformat()}, rules, lang)})
    assert_slack_inert(modals.reply_modal("T-1", rules, lang, network="X", limit=280, account=HOSTILE))
    assert_slack_inert({"blocks": [blocks.home.ticket_row(c, rules, lang)]}
                       if hasattr(blocks, "home") else {})
    assert_slack_inert(modals.customer_modal(modals.CustomerSummary(
        handle=HOSTILE, name=HOSTILE, source="x", tier="normal", flags=(HOSTILE,), first_seen_at=NOW,
        tickets=(), csat=None, handles=(HOSTILE,)), rules, lang))
    for kind, payload in [("tagged", {"added": [HOSTILE], "removed": []}),
                          ("escalated", {"level_to": "L2", "note": HOSTILE}),
                          ("resolved", {"note": HOSTILE})]:
        assert_slack_inert({"text": blocks.event_line(kind, "U0AGENT1", payload, rules, lang)})


def test_the_channel_ping_url_becomes_one_safe_link():
    rendered = link("https://shop.example/o/1?a=1&b=2><!channel>|x", "T-1")
    assert rendered == "<https://shop.example/o/1?a=1&amp;b=2&gt;&lt;!channel&gt;%7Cx|T-1>"
    assert link("javascript:alert(1)", "<@U123>") == "&lt;@U123&gt;"


def teams_view(url: str) -> TicketView:
    return TicketView.at(NOW, id=1, key="T-1", status="new", priority="red", level="L3",
                         channel="support-urgent", source="x", account=HOSTILE, text=HOSTILE,
                         customer=CustomerView(handle=HOSTILE), assignee=HOSTILE, tags=(HOSTILE,), url=url,
                         created_at=NOW, first_response_due_at=NOW)


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_teams_cards_keep_hostile_values_inert(rules, url):
    view = teams_view(url)
    line = cards.event_line("escalated", HOSTILE, {"level_to": "L2", "note": HOSTILE}, rules, "ja")
    card = cards.ticket_card(view, line=line, quote=None, links={}, rules=rules, lang="ja")
    dumped = json.dumps(card, ensure_ascii=False)
    assert "<at>" not in dumped and "<!" not in dumped and "](" not in dumped
    message = cards.connector_card("https://example.test/hook", view, line=line, quote=None, links={},
                                   rules=rules, lang="ja", timeout=5)
    assert "<!" not in json.dumps(message.payload, ensure_ascii=False)
    assert teams_link("javascript:alert(1)", "x") == "x"
    assert teams_link("https://a.example/(x)", "[y]") == r"[\[y\]](https://a.example/%28x%29)"


@pytest.mark.parametrize("value", HOSTILE_VALUES)
@pytest.mark.parametrize("lang", ["ja", "en"])
def test_reply_collision_sections_keep_hostile_values_inert(rules, lang, value):
    others = (RecentReply(author_id="U0AGENT1", text=value, at=NOW, sending=True),
              RecentReply(author_id=value, text=f"{value}\n{value}", at=NOW))
    recent = RecentReplies(opened_at=NOW, last_id=7, replies=others)
    opened = modals.reply_modal("T-1", rules, lang, network="X", limit=280, account=value, recent=recent)
    assert_slack_inert(opened)
    assert any(b.get("block_id") == "reply.recent" for b in opened["blocks"])
    confirm = modals.reply_confirm_modal("T-1", rules, lang, network="X", limit=280, account=value, text=value,
                                         version=1, others=others, recent=recent)
    assert_slack_inert(confirm)
    shown = json.dumps(confirm, ensure_ascii=False)
    assert "<@U0AGENT1>" in shown  # the agent's own id stays a mention
    assert "&amp;" in shown or "&lt;" in shown  # the hostile value arrived, escaped


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_stats_blocks_keep_hostile_values_inert(flows, session_factory, rules, value):
    with session_factory() as session:
        figures = compute(session, rules, parse_query(["7d"], rules, NOW), NOW)
    metric = {"value": 1, "previous": 0}
    figures["agents"] = [{"agent": "U0AGENT1", "created": metric, "resolved": metric,
                          "first_response_mean": {"value": 5.0}},
                         {"agent": value, "created": metric, "resolved": metric, "first_response_mean": {"value": None}}]
    figures["top_tags"] = [{"name": value, "value": 2, "previous": 1}]
    figures["top_keywords"] = [{"name": value, "value": 2, "previous": 1}]
    figures["filter"] = {"tag": value}
    for lang in ("ja", "en"):
        rendered = stats_blocks(figures, lang)
        assert_slack_inert(rendered)
        assert "<@U0AGENT1>" in json.dumps(rendered, ensure_ascii=False)  # a Slack id stays a mention
