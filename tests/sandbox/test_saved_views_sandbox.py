"""Saved views from the sandbox page: the Home tab's New view button opens the modal, whose
multi-selects, radio buttons and checkbox the page draws and submits as Slack would."""

from __future__ import annotations

import re

from sqlalchemy import select

from chatops.i18n import t
from chatops.sandbox.render import Renderer
from chatops.slack import ids
from chatops.slack.blocks.saved_views import saved_section
from chatops.tickets.models import SavedView
from chatops.tickets.saved_views import Saved, ViewFilters
from tests.helpers import until
from tests.sandbox.test_sandbox_desk import AGENT, running  # noqa: F401  (the fixture)


def block_of(view: dict, action_id: str) -> str:
    for block in view["blocks"]:
        elements = block.get("elements", []) + ([block["accessory"]] if "accessory" in block else [])
        if any(element.get("action_id") == action_id for element in elements):
            return block["block_id"]
    raise AssertionError(f"no {action_id} in the view")


def test_a_saved_view_made_in_the_sandbox(running):  # noqa: F811
    running.act(user=AGENT, kind="home")
    until(lambda: running.ws.homes.get(AGENT))
    home = running.ws.homes[AGENT]
    running.act(user=AGENT, kind="action", home=True, block_id=block_of(home, ids.SAVED_NEW),
                action_id=ids.SAVED_NEW, value="new")
    modal = until(lambda: running.state()["modal"])
    shown = running.ws.views[modal["id"]]
    renderer = Renderer({})
    html = str(renderer.view(shown))
    assert renderer.unknown == [] and "<select multiple" in html
    answer = running.act(user=AGENT, kind="submit", view_id=modal["id"], values={
        ids.SAVED_NAME_BLOCK: {ids.SAVED_NAME_INPUT: "Urgent billing"},
        ids.SAVED_CHANNELS_BLOCK: {ids.SAVED_INPUT: ["support-urgent", "support"]},
        ids.SAVED_PRIORITIES_BLOCK: {ids.SAVED_INPUT: ["red"]},
        ids.SAVED_ASSIGNEE_BLOCK: {ids.SAVED_INPUT: "unassigned"},
        ids.SAVED_OVERDUE_BLOCK: {ids.SAVED_INPUT: ["overdue"]}})
    assert answer.status_code == 200, answer.text
    with running.runtime.session_factory() as session:
        view = session.scalars(select(SavedView).where(SavedView.name == "Urgent billing")).one()
    assert view.filters["channels"] == ["support-urgent", "support"] and view.filters["priorities"] == ["red"]
    assert view.filters["assignee"] == "unassigned" and view.filters["overdue"] is True
    until(lambda: "Urgent billing" in (running.state()["home"] or ""))


def test_the_delete_button_asks_first_on_the_page(rules):
    saved = Saved(3, "請求", ViewFilters(), 2)
    html = str(Renderer({}).blocks(saved_section([saved], saved, [], rules, "en", limit=10), in_view=True))
    asks = re.search(r'data-action-id="home.saved.delete"[^>]*data-confirm="([^"]*)"', html)
    assert asks and t("savedviews.confirm.title", "en") in asks.group(1)
