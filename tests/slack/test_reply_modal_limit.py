"""The Reply modal counts as the network will: an X DM offers 10,000 (Slack's box holds 3,000),
a public X reply 280, and a submit over the limit is refused in the modal naming the count."""

from __future__ import annotations

from chatops.i18n import t
from chatops.slack import ids
from tests.helpers import inbound


def reply_view(desk, key: str) -> dict:
    assert desk.click(ids.REPLY, key).status_code == 200
    return desk.last_view(ids.REPLY_VIEW)


def text_box(view: dict) -> dict:
    return next(b for b in view["blocks"] if b.get("block_id", "").startswith(f"{ids.TEXT_BLOCK}."))


def test_reply_modal_shows_the_limit_of_the_reply_kind(desk):
    dm = desk.flows.ingest(inbound("返金について教えてください", kind="dm", meta={"mode": "dm"})).ticket_key
    public = desk.flows.ingest(inbound("使い方を教えてください", author={"id": "u2", "handle": "@jiro"})).ticket_key
    desk.drain()
    assert dm != public
    dm_box, public_box = text_box(reply_view(desk, dm)), text_box(reply_view(desk, public))
    assert dm_box["hint"]["text"] == t("slack.modal.limit", "ja", limit=10_000)
    assert dm_box["element"]["max_length"] == 3_000
    assert public_box["hint"]["text"] == t("slack.modal.limit", "ja", limit=280)


def test_a_public_x_reply_over_280_weighted_is_refused_in_the_modal(desk):
    key = desk.flows.ingest(inbound("使い方を教えてください")).ticket_key
    desk.drain()
    view = reply_view(desk, key)
    box = text_box(view)
    response = desk.submit(view, {(box["block_id"], ids.TEXT_INPUT): {"type": "plain_text_input",
                                                                      "value": "あ" * 141}})
    errors = response.get_json()["errors"]
    assert any("282" in message and "280" in message for message in errors.values()), errors
