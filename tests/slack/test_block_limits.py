"""Every block the builders make stays within Slack's limits for hostile tickets (40 long tags,
long names, 5,000 characters of text): slack_sdk's block models validate what they know, and
section fields (2,000) and section text (3,000) are checked beside them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.models.blocks import Block, SectionBlock
from slack_sdk.models.views import View

from chatops.i18n import t
from chatops.slack import blocks
from chatops.slack.blocks.modals import CustomerSummary
from chatops.views import CustomerView, TicketView

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
TAGS = [f"tag{n:02d}-" + "&<>長" * 30 for n in range(40)]
NAME = "🙂" * 300 + "<!channel>" * 50


def hostile_card() -> TicketView:
    return TicketView.at(NOW, key="T-42", status="open", priority="red", level="L2", channel="support",
                         source="x", account="@acme_" + "a" * 300, text="返金 & <!here> " + "長" * 5000,
                         created_at=NOW - timedelta(minutes=50), tags=tuple(TAGS),
                         customer=CustomerView(handle="@" + "h" * 400, name=NAME, flags=("vip", "troll")),
                         url="https://x.com/hanako/status/1", first_response_due_at=NOW + timedelta(minutes=10))


def hostile_customer() -> CustomerSummary:
    return CustomerSummary(handle="@" + "h" * 400, name=NAME, source="instagram", tier="premium",
                           flags=tuple(TAGS), first_seen_at=NOW - timedelta(days=9),
                           tickets=tuple((f"T-{n}", "resolved", "green", NOW) for n in range(40)), csat=4.5,
                           key="T-42", handles=tuple("@" + "&" * 300 + str(n) for n in range(20)))


def assert_within_slack_limits(block_list: list[dict]) -> None:
    for raw in block_list:
        block = Block.parse(raw)
        block.validate_json()  # slack_sdk's own length and count checks
        if isinstance(block, SectionBlock):
            assert all(len(f["text"]) <= 2000 for f in raw.get("fields", [])), raw
            assert len(raw.get("text", {}).get("text", "")) <= 3000
        element = raw.get("element") or {}
        if element.get("type") == "plain_text_input":  # Slack refuses a view whose box cannot hold its value
            limit = element.get("max_length", 3000)
            assert limit <= 3000 and len(element.get("initial_value", "")) <= limit, raw


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_ticket_message_with_40_long_tags_is_within_limits(rules, lang):
    message = blocks.ticket_message(hostile_card(), rules, lang)
    built = message["attachments"][0]["blocks"]
    assert_within_slack_limits(built)
    tags = next(f["text"] for f in built[1]["fields"] if t("slack.field.tags", lang) in f["text"])
    # Whole tags are shown, then what is left is counted, never a tag cut in half.
    assert "`tag00-" in tags and t("slack.more", lang, count=0).split("0")[0] in tags
    assert tags.count("`") % 2 == 0 and "&am…" not in tags


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_customer_modal_facts_are_clipped_within_limits(rules, lang):
    view = blocks.customer_modal(hostile_customer(), rules, lang)
    assert_within_slack_limits(view["blocks"])
    View(**view).validate_json()


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_home_rows_and_reply_modal_are_within_limits(rules, lang):
    assert_within_slack_limits([blocks.ticket_row(hostile_card(), rules, lang)])
    reply = blocks.reply_modal("T-42", rules, lang, network="x", limit=280, account="@" + "a" * 400)
    assert_within_slack_limits(reply["blocks"])
    View(**reply).validate_json()


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_tags_modal_opens_with_every_tag_of_a_heavily_tagged_ticket(lang):
    longest = [f"t{n:02d}" + "x" * 61 for n in range(40)]  # 40 tags of the longest kind a tag can be
    view = blocks.tags_modal("T-42", lang, tags=longest)
    assert_within_slack_limits(view["blocks"])
    View(**view).validate_json()
    assert view["blocks"][0]["element"]["initial_value"].split() == longest

