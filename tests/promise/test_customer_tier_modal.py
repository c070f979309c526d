"""Issue 18 item 7: the Customer modal's tier select runs `/ticket tier` (the `assign` role):
a lead's premium re-prices the deadlines and says so in the thread; an agent is refused."""

from __future__ import annotations

from sqlalchemy import select

from chatops.i18n import t
from chatops.slack import ids
from chatops.teams import cards
from chatops.tickets.models import Customer, Ticket
from tests.helpers import inbound
from tests.slack.conftest import AGENT, LEAD

JA = "ja"
RED = "二重請求されています。確認してください"


def open_customer(desk, key: str, user: str) -> dict:
    desk.click(ids.MENU, f"customer::{key}", user=user, selected=True)
    return desk.last_view(ids.CUSTOMER_VIEW)


def tier_select(view: dict) -> dict:
    return next(b for b in view["blocks"] if b.get("block_id") == ids.CUSTOMER_TIER_BLOCK)["accessory"]


def pick_tier(desk, view: dict, key: str, tier: str, user: str):
    return desk.click(ids.CUSTOMER_TIER, f"{tier}:{key}", user=user, selected=True, view={**view, "type": "modal"})


def due(desk) -> tuple:
    with desk.runtime.session_factory() as session:
        ticket = session.scalars(select(Ticket)).one()
        return ticket.customer.tier, ticket.first_response_due_at


def test_a_lead_sets_premium_from_the_customer_modal(desk):
    key = desk.flows.ingest(inbound(RED)).ticket_key
    desk.drain()
    modal = open_customer(desk, key, LEAD)
    select_ = tier_select(modal)
    assert [o["value"] for o in select_["options"]] == [f"standard:{key}", f"premium:{key}"]
    assert select_["initial_option"]["value"] == f"standard:{key}"
    tier_before, due_before = due(desk)
    assert tier_before == "standard"

    assert pick_tier(desk, modal, key, "premium", LEAD).status_code == 200
    tier_after, due_after = due(desk)
    assert tier_after == "premium" and due_after < due_before  # red premium answers within 15 minutes
    assert desk.events(key)[-1] == "tier_changed"
    redrawn = desk.slack.views[-1]
    assert redrawn["callback_id"] == ids.CUSTOMER_VIEW
    assert tier_select(redrawn)["initial_option"]["value"] == f"premium:{key}"
    desk.drain()
    line = t("slack.line.tier_changed", JA, who=f"<@{LEAD}>", tier=t("tier.premium", JA))
    assert line in [m.text for m in desk.slack.thread(desk.slack.parents()[0])]


def test_an_agent_without_the_role_is_refused_and_nothing_changes(desk):
    key = desk.flows.ingest(inbound(RED)).ticket_key
    modal = open_customer(desk, key, AGENT)  # agents may open the modal (flags need `claim`)
    before = due(desk)
    views = len(desk.slack.views)
    assert pick_tier(desk, modal, key, "premium", AGENT).status_code == 200
    assert due(desk) == before and desk.events(key) == ["created"]
    shown = [block["text"]["text"] for view in desk.slack.views[views:] if view.get("callback_id") is None
             for block in view["blocks"]]
    assert shown == [":no_entry: " + t("error.permission_denied", JA, action=t("verb.tier", JA),
                                       roles=t("role.leads", JA))]
    # The select is drawn back to the customer's real tier.
    assert tier_select(desk.slack.views[-1])["initial_option"]["value"] == f"standard:{key}"
    with desk.runtime.session_factory() as session:
        assert session.scalar(select(Customer.tier)) == "standard"


def test_teams_draws_the_tier_change_in_both_languages(rules):
    payload = {"tier_from": "standard", "tier_to": "premium"}
    for lang in ("ja", "en"):
        line = cards.event_line("tier_changed", LEAD, payload, rules, lang)
        assert line == t("teams.line.tier_changed", lang, who=LEAD, tier=t("tier.premium", lang))
        assert line != t("teams.line.other", lang, who=LEAD, kind="tier_changed")
