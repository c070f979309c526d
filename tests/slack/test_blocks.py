"""Block Kit builders: customer text is inert, Slack's limits hold for any input and both
languages, SLA states show, and the Home tab puts overdue tickets first."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chatops.i18n import t
from chatops.slack import blocks
from chatops.slack.blocks.common import BUTTON_TEXT_LIMIT, MODAL_TITLE_LIMIT, SECTION_LIMIT
from chatops.views import CustomerView, TicketView

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
HOSTILE = "<!channel> 返金して &amp; <https://evil.example|公式サイト> <@U0MANAGER1> " + "長" * 9000


def card(**fields) -> TicketView:
    data = dict(key="T-42", status="new", priority="red", level="L1", channel="support", source="x",
                account="@acme_jp", text="二重請求されています", created_at=NOW - timedelta(minutes=50),
                customer=CustomerView(handle="@hanako"), url="https://x.com/hanako/status/1",
                first_response_due_at=NOW + timedelta(minutes=10))
    data.update(fields)
    return TicketView.at(NOW, **data)


def texts(node) -> list[str]:
    """Every `text` string anywhere in a Block Kit structure."""
    found = []
    if isinstance(node, dict):
        for name, value in node.items():
            if name == "text" and isinstance(value, str):
                found.append(value)
            else:
                found += texts(value)
    elif isinstance(node, list):
        for item in node:
            found += texts(item)
    return found


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_customer_text_cannot_ping_or_link_and_stays_within_limits(rules, lang):
    message = blocks.ticket_message(card(text=HOSTILE, customer=CustomerView(handle="<!here>")), rules, lang)
    shown = texts(message)
    assert not any("<!channel>" in s or "<!here>" in s or "<https://evil" in s or "<@U0MANAGER1>" in s
                   for s in shown)
    assert any("&lt;!channel&gt;" in s for s in shown)
    assert all(len(s) <= SECTION_LIMIT for s in shown)
    assert len(json.dumps(message, ensure_ascii=False)) < 8_000


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_modals_and_buttons_respect_slack_limits(rules, lang):
    views = [blocks.reply_modal("T-123456", rules, lang, network="x", limit=280, account="@acme_jp"),
             blocks.escalate_modal("T-123456", rules, lang, current_level="L1"),
             blocks.resolve_modal("T-123456", lang), blocks.tags_modal("T-123456", lang, tags=["returns"])]
    for view in views:
        assert len(view["title"]["text"]) <= MODAL_TITLE_LIMIT, view["title"]
        assert view["private_metadata"] == "T-123456"
    actions = blocks.ticket_actions(card(), rules, lang)
    assert all(len(e["text"]["text"]) <= BUTTON_TEXT_LIMIT for e in actions["elements"] if e["type"] == "button")
    overflow = next(e for e in actions["elements"] if e["type"] == "overflow")
    assert 2 <= len(overflow["options"]) <= 5


def test_sla_state_in_the_parent(rules):
    ok = texts(blocks.ticket_message(card(created_at=NOW, first_response_due_at=NOW + timedelta(hours=1)),
                                     rules, "ja"))
    late = texts(blocks.ticket_message(card(first_response_due_at=NOW - timedelta(minutes=1)), rules, "ja"))
    assert any(":clock3:" in s and t("slack.deadline.first_response", "ja") in s for s in ok)
    assert any(":rotating_light:" in s and t("slack.overdue", "ja") in s for s in late)
    # The stored warning moment decides, not a fraction of wall-clock time since created_at.
    before = texts(blocks.ticket_message(card(first_response_warn_at=NOW + timedelta(minutes=1)), rules, "en"))
    assert not any(":hourglass_flowing_sand:" in s for s in before)
    warning = texts(blocks.ticket_message(card(first_response_warn_at=NOW), rules, "en"))
    assert any(":hourglass_flowing_sand:" in s for s in warning)


def test_home_tab_lists_overdue_first(rules):
    late = card(key="T-1", first_response_due_at=NOW - timedelta(minutes=5))
    mine = card(key="T-2", assignee="U0AGENT001")
    waiting = card(key="T-3")
    view = blocks.home_view(user_id="U0AGENT001", overdue=[late], mine=[mine], unassigned=[waiting],
                            rules=rules, lang="en", now=NOW)
    shown = "\n".join(texts(view))
    assert view["type"] == "home" and len(view["blocks"]) <= 100
    assert shown.index("Overdue (1)") < shown.index("*T-1*") < shown.index("My tickets (1)") < shown.index("*T-2*")
    assert shown.index("Unassigned (1)") < shown.index("*T-3*")


def test_thread_lines_follow_the_workspace_language(rules):
    payload = {"level_to": "L2", "note": "<!channel> 確認", "notify": ["@cs-l2", "U0L3OWNER"]}
    ja = blocks.event_line("escalated", "U0AGENT001", payload, rules, "ja")
    en = blocks.event_line("escalated", "U0AGENT001", payload, rules, "en")
    assert "エスカレーション" in ja and "escalated to L2" in en
    for line in (ja, en):
        assert "<@U0AGENT001>" in line and "<@U0L3OWNER>" in line and "*@cs-l2*" in line
        assert "<!channel>" not in line
