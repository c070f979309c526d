"""Issue 18 item 10: two agents answering one customer. The Reply modal lists other agents'
replies of the last 15 minutes (still-sending ones marked), and a submit after someone else
replied while the modal was open shows their reply and asks "Send anyway" before sending."""

from __future__ import annotations

import json

from sqlalchemy import select

from chatops.i18n import t
from chatops.slack import ids
from chatops.slack.blocks.common import local_time
from chatops.slack.blocks.modals import parse_reply_metadata
from chatops.tickets.models import Message, OutboxItem
from tests.helpers import inbound
from tests.slack.conftest import AGENT, AGENT2

B_TEXT = "返金は3営業日以内に\n行います & <!channel>"


def text_block(view: dict) -> dict:
    return next(b for b in view["blocks"] if b.get("block_id", "").startswith(f"{ids.TEXT_BLOCK}."))


def typed(view: dict, text: str) -> dict:
    return {(text_block(view)["block_id"], ids.TEXT_INPUT): {"type": "plain_text_input", "value": text}}


def block(view: dict, block_id: str) -> dict | None:
    return next((b for b in view["blocks"] if b.get("block_id") == block_id), None)


def outbound(desk, key: str) -> list[tuple[str, str]]:
    with desk.runtime.session_factory() as session:
        return [(m.author_id, m.text) for m in session.scalars(
            select(Message).where(Message.ticket_id == int(key.split("-")[1]), Message.direction == "outbound")
            .order_by(Message.id))]


def queued_replies(desk) -> int:
    with desk.runtime.session_factory() as session:
        return len(session.scalars(select(OutboxItem.id).where(OutboxItem.kind == "reply")).all())


def open_reply(desk, key: str, user: str) -> dict:
    assert desk.click(ids.REPLY, key, user=user).status_code == 200
    return desk.last_view(ids.REPLY_VIEW)


def b_replies(desk, key: str) -> None:
    modal = open_reply(desk, key, AGENT2)
    response = desk.submit(modal, typed(modal, B_TEXT), user=AGENT2)
    assert response.status_code == 200 and response.data in (b"", b"{}")


def b_reply_time(desk, key: str) -> str:
    with desk.runtime.session_factory() as session:
        at = session.scalar(select(Message.created_at).where(Message.author_id == AGENT2))
    return local_time(at, desk.runtime.rules)


def test_a_reply_sent_while_the_modal_was_open_is_shown_before_sending(desk):
    lang = desk.runtime.rules.defaults.language
    key = desk.flows.ingest(inbound("返金してください")).ticket_key
    desk.drain()
    modal_a = open_reply(desk, key, AGENT)
    assert block(modal_a, ids.RECENT_BLOCK) is None  # nobody has replied yet
    desk.clock.advance(minutes=2)
    b_replies(desk, key)

    # A submits: nothing is sent, the modal becomes the confirmation with B's reply and A's text.
    response = desk.submit(modal_a, typed(modal_a, "A の返信です"), user=AGENT)
    answer = json.loads(response.data)
    assert answer["response_action"] == "update"
    confirm = answer["view"]
    assert outbound(desk, key) == [(AGENT2, B_TEXT)] and queued_replies(desk) == 1
    warning = block(confirm, ids.COLLISION_BLOCK)["text"]["text"]
    assert warning.startswith(t("slack.modal.collision_title", lang))
    assert "<@U0AGENT002>" in warning and b_reply_time(desk, key) in warning
    assert "返金は3営業日以内に 行います &amp; &lt;!channel&gt;" in warning  # one escaped line
    assert t("slack.modal.recent_sending", lang) in warning  # B's reply is still queued
    assert text_block(confirm)["element"]["initial_value"] == "A の返信です"
    assert confirm["submit"]["text"] == t("slack.modal.send_anyway", lang)
    assert confirm["callback_id"] == ids.REPLY_VIEW
    assert parse_reply_metadata(confirm["private_metadata"])[1].force

    # Send anyway, clicked twice (or resent by Slack): one reply, A's.
    for _ in range(2):
        response = desk.submit(confirm, typed(confirm, "A の返信です"), user=AGENT, view_id=modal_a["id"])
        assert response.status_code == 200 and response.data in (b"", b"{}")
    assert outbound(desk, key) == [(AGENT2, B_TEXT), (AGENT, "A の返信です")]
    assert queued_replies(desk) == 2


def test_the_first_submit_asks_again_on_a_double_click_and_sends_nothing(desk):
    key = desk.flows.ingest(inbound("返金してください")).ticket_key
    modal_a = open_reply(desk, key, AGENT)
    b_replies(desk, key)
    for _ in range(2):
        answer = json.loads(desk.submit(modal_a, typed(modal_a, "A"), user=AGENT, view_id=modal_a["id"]).data)
        assert answer["response_action"] == "update"
    assert outbound(desk, key) == [(AGENT2, B_TEXT)]


def test_opening_after_another_reply_lists_it_and_sends_without_asking(desk):
    lang = desk.runtime.rules.defaults.language
    key = desk.flows.ingest(inbound("返金してください")).ticket_key
    b_replies(desk, key)
    with desk.runtime.session_factory.begin() as session:  # the network accepted B's reply
        session.scalars(select(Message).where(Message.author_id == AGENT2)).one().delivery_state = "sent"
    desk.clock.advance(minutes=3)
    modal_a = open_reply(desk, key, AGENT)
    recent = block(modal_a, ids.RECENT_BLOCK)["text"]["text"]
    assert recent.startswith(t("slack.modal.recent_title", lang))
    assert t("slack.modal.recent_sending", lang) not in recent
    assert "<@U0AGENT002>" in recent and b_reply_time(desk, key) in recent and "返金は3営業日以内に" in recent
    assert "<!channel>" not in recent
    response = desk.submit(modal_a, typed(modal_a, "A"), user=AGENT)
    assert response.data in (b"", b"{}")  # A saw it when opening: sent at once
    assert [author for author, _ in outbound(desk, key)] == [AGENT2, AGENT]

    # B's own modal does not list B; after 15 minutes nobody's reply is listed any more.
    assert "<@U0AGENT002>" not in json.dumps(block(open_reply(desk, key, AGENT2), ids.RECENT_BLOCK) or {})
    desk.clock.advance(minutes=16)
    assert block(open_reply(desk, key, AGENT), ids.RECENT_BLOCK) is None


def test_ones_own_reply_in_the_meantime_is_no_collision(desk):
    key = desk.flows.ingest(inbound("返金してください")).ticket_key
    first = open_reply(desk, key, AGENT)
    second = open_reply(desk, key, AGENT)
    desk.submit(first, typed(first, "one"), user=AGENT)
    response = desk.submit(second, typed(second, "two"), user=AGENT)
    assert response.data in (b"", b"{}")
    assert outbound(desk, key) == [(AGENT, "one"), (AGENT, "two")]
