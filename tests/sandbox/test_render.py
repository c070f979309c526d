"""The sandbox's Block Kit renderer, on every block and element the app produces: nothing is
left undrawn, what a person reads is there, interactive elements carry what a click sends back,
and customer text stays inert."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from chatops.i18n import t
from chatops.sandbox.render import Renderer
from chatops.slack import blocks, ids
from chatops.slack.blocks import CustomerSummary
from chatops.slack.blocks.modals import moderate_modal
from chatops.slack.blocks.saved_views import saved_section, saved_view_modal
from chatops.tickets.saved_views import Saved, ViewFilters
from chatops.views import CustomerView, ThreadRef, TicketView

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
NAMES = {"U0AGENT001": "Sato (agent)", "U0LEAD0001": "Suzuki (lead)"}


def card(**fields) -> TicketView:
    data = dict(key="T-42", status="new", priority="red", level="L1", channel="support", source="x",
                account="@acme_jp", text="二重請求されています", created_at=NOW - timedelta(minutes=50),
                customer=CustomerView(handle="@hanako"), url="https://x.com/hanako/status/1",
                first_response_due_at=NOW + timedelta(minutes=10))
    data.update(fields)
    return TicketView.at(NOW, **data)


def visible(html: str) -> str:
    """The text a person reads: tags dropped, entities resolved."""
    import html as htmllib
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", html))


def every_view(rules, lang: str) -> dict[str, dict]:
    """Every modal, Home tab and list the app can show."""
    claimed = card(status="open", assignee="U0AGENT001", tags=("billing", "vip"), matched_rules=("double-charge",),
                   threads=(ThreadRef("slack", "C0SBX0001", "1763600000.000001"),))
    summary = CustomerSummary(handle="@hanako", name="花子", source="x", tier="premium", flags=("vip",),
                              first_seen_at=NOW - timedelta(days=30), key="T-42", handles=("@hanako_fb",),
                              tickets=(("T-42", "open", "red", NOW), ("T-7", "resolved", "green", NOW)), csat=4.5)
    return {
        "reply": blocks.reply_modal("T-42", rules, lang, network="x", limit=280, account="@acme_jp"),
        "reply_refilled": blocks.reply_modal("T-42", rules, lang, network="x", limit=280, account="@acme_jp",
                                             text="ありがとうございます", version=2),
        "escalate": blocks.escalate_modal("T-42", rules, lang, current_level="L1"),
        "resolve": blocks.resolve_modal("T-42", lang),
        "tags": blocks.tags_modal("T-42", lang, tags=["billing"]),
        "notice": blocks.message_modal("Notice", ":no_entry: *no*", lang),
        "ticket": blocks.ticket_modal(claimed, rules, lang),
        "customer": blocks.customer_modal(summary, rules, lang),
        "moderate": moderate_modal("T-42", "instagram", ("hide", "unhide", "delete"), lang),
        "home": blocks.home_view(user_id="U0AGENT001", overdue=[card(first_response_due_at=NOW - timedelta(1))],
                                 mine=[claimed], unassigned=[], rules=rules, lang=lang, now=NOW),
        "saved_view": saved_view_modal(rules, lang, view_id=3, name="請求", tags=["billing", "refund"],
                                       filters=ViewFilters(channels=("support",), tags=("billing",),
                                                           assignee="mine", overdue=True)),
        "home_saved": blocks.home_view(
            user_id="U0AGENT001", overdue=[], mine=[claimed], unassigned=[], rules=rules, lang=lang, now=NOW,
            saved=saved_section([Saved(3, "請求", ViewFilters(tags=("billing",)), 12)],
                                Saved(3, "請求", ViewFilters(tags=("billing",)), 12), [claimed], rules, lang, limit=10)),
    }


def block_types(node) -> set[str]:
    found = set()
    if isinstance(node, dict):
        if isinstance(node.get("type"), str):
            found.add(node["type"])
        for value in node.values():
            found |= block_types(value)
    elif isinstance(node, list):
        for item in node:
            found |= block_types(item)
    return found


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_ticket_messages_in_every_state_render_completely(rules, lang):
    states = [card(), card(status="open", assignee="U0AGENT001", tags=("billing",)),
              card(status="resolved", resolved_at=NOW), card(priority="green", first_response_due_at=NOW - timedelta(1))]
    for shown in states:
        renderer = Renderer(NAMES)
        message = blocks.ticket_message(shown, rules, lang)
        html = str(renderer.message(text=message["text"], blocks=[], attachments=message["attachments"]))
        assert renderer.unknown == []
        colour = rules.priorities[shown.priority].color
        assert f'border-left-color:{colour}' in html
        text = visible(html)
        assert "T-42" in text and "二重請求されています" in text and "@hanako" in text
        assert t(f"status.{shown.status}", lang) in text
        if shown.status == "resolved":
            assert 'data-action-id="ticket.reopen"' in html and t("slack.button.reopen", lang) in text
        else:
            for action in (ids.REPLY, ids.ESCALATE, ids.RESOLVE):
                assert f'data-action-id="{action}"' in html and 'data-value="T-42"' in html
            assert ("@Sato (agent)" in text) == (shown.assignee is not None)
        # the overflow menu: every option a click can send back
        overflow = re.search(r'<select class="bk-select bk-overflow"[^>]*>(.*?)</select>', html).group(1)
        assert "value=\"tags::T-42\"" in overflow and "value=\"customer::T-42\"" in overflow
        assert 'href="https://x.com/hanako/status/1"' in html


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_modal_home_tab_and_list_renders_without_unknown_blocks(rules, lang):
    views = every_view(rules, lang)
    produced = set()
    for name, view in views.items():
        renderer = Renderer(NAMES)
        html = str(renderer.view(view))
        assert renderer.unknown == [], name
        produced |= block_types(view["blocks"])
        assert "bk-unknown" not in html, name
    message = blocks.ticket_message(card(), rules, lang)
    renderer = Renderer(NAMES)
    renderer.message(text=message["text"], blocks=[], attachments=message["attachments"])
    assert renderer.unknown == []
    produced |= block_types(message["attachments"])
    # every block and element type the app builds was drawn above
    assert {"section", "context", "actions", "header", "divider", "input", "button", "overflow", "static_select",
            "users_select", "plain_text_input", "mrkdwn", "plain_text",
            "multi_static_select", "radio_buttons", "checkboxes"} <= produced


def test_modal_inputs_carry_their_block_and_action_ids(rules):
    renderer = Renderer(NAMES)
    views = every_view(rules, "ja")
    reply = str(renderer.view(views["reply_refilled"]))
    assert re.search(r'<textarea[^>]*data-action-id="text.input"[^>]*data-block-id="text.2"[^>]*'
                     r'data-dispatch="0"[^>]*maxlength="280"[^>]*>ありがとうございます</textarea>', reply)
    assert 'data-action-id="reply.canned"' in reply and 'data-dispatch="1"' in reply  # refills the box
    escalate = str(renderer.view(views["escalate"]))
    assert re.search(r'<option value="L2" selected>', escalate)  # the next level is preselected
    assert '<option value="U0LEAD0001">Suzuki (lead)</option>' in escalate  # users_select lists people
    assert 'data-error-for="note"' in escalate
    tags = str(renderer.view(views["tags"]))
    assert re.search(r'<input class="bk-textbox" type="text"[^>]*value="billing">', tags)
    ticket = str(renderer.view(views["ticket"]))  # its thread link stays on the page
    assert 'data-goto-channel="C0SBX0001" data-goto-ts="1763600000.000001"' in ticket and "slack.com" not in ticket
    home = str(renderer.view(views["home"]))
    assert home.count('data-action-id="home.open"') == 2 and "<hr" in home and 'class="bk-block bk-header"' in home


def test_customer_text_is_inert_html(rules):
    hostile = '<script>alert(1)</script> <!channel> <https://evil.example|公式> "quote" <img src=x onerror=alert(1)>'
    renderer = Renderer(NAMES)
    message = blocks.ticket_message(card(text=hostile, customer=CustomerView(handle="<b>x</b>")), rules, "ja")
    html = str(renderer.message(text=message["text"], blocks=[], attachments=message["attachments"]))
    assert "<script" not in html and "<img" not in html and "<b>x</b>" not in html
    assert "&lt;script&gt;" in html
    assert 'href="https://evil.example"' not in html  # escaped by the app, so shown as text
    assert "&lt;!channel&gt;" in html


def test_mrkdwn_formatting_links_mentions_and_emoji():
    renderer = Renderer(NAMES)
    html = str(renderer.mrkdwn("*bold* _it_ ~gone~ `code` :red_circle: <@U0AGENT001> <!here> <#C1|cs-urgent>\n"
                               "> quoted &lt;b&gt;\n<https://example.com/a?b=1&amp;c=2|link> <javascript:alert(1)|bad>"))
    assert "<b>bold</b>" in html and "<i>it</i>" in html and "<s>gone</s>" in html and "<code>code</code>" in html
    assert "🔴" in html and "@Sato (agent)" in html and "@here" in html and "#cs-urgent" in html
    assert "<blockquote>quoted &lt;b&gt;</blockquote>" in html
    assert 'href="https://example.com/a?b=1&amp;c=2"' in html
    assert "javascript:" not in html.split("bad")[0].rsplit("<", 1)[-1] and 'href="javascript' not in html


def test_unknown_blocks_are_shown_as_such():
    renderer = Renderer()
    html = str(renderer.blocks([{"type": "video", "title": {"type": "plain_text", "text": "v"}}]))
    assert "unsupported block video" in html and renderer.unknown == ["block:video"]


def test_optional_inputs_say_so_in_the_page_language(rules):
    shown = {lang: " ".join(visible(str(Renderer(NAMES, lang=lang).view(view))) for view in every_view(rules, lang).values())
             for lang in ("ja", "en")}
    assert "optional" not in shown["ja"] and "（任意）" in shown["ja"]
    assert "(optional)" in shown["en"]


def test_customer_modal_names_the_network_and_tier(rules):
    shown = visible(str(Renderer(NAMES, lang="ja").view(every_view(rules, "ja")["customer"])))
    assert "X" in shown and "プレミアム" in shown
    assert "premium" not in shown and not re.search(r"\bx\b", shown)


def test_group_mentions_and_the_offline_emoji_show_as_slack_shows_them():
    renderer = Renderer({**NAMES, "S0CSL3": "cs-l3"})
    shown = visible(str(renderer.mrkdwn(":zzz: <!subteam^S0CSL3> <!subteam^S0OTHER|@billing> <!here>")))
    assert "💤" in shown and "@cs-l3" in shown and "@billing" in shown and "@here" in shown
    assert "subteam" not in shown and ":zzz:" not in shown
