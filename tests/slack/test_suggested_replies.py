"""Issue 22, suggested answers: the Reply modal lists first the canned replies that fit the
ticket (by the rules it matched, then its tags), each with its reason, then the rest."""

from __future__ import annotations

from chatops.i18n import t
from chatops.slack import ids
from tests.helpers import inbound

JA = "ja"


def canned_picker(modal: dict) -> dict:
    return next(b for b in modal["blocks"] if b.get("block_id") == ids.CANNED_BLOCK)


def open_reply(desk, key: str) -> dict:
    assert desk.click(ids.REPLY, key).status_code == 200
    return desk.last_view(ids.REPLY_VIEW)


def test_double_charge_ticket_suggests_the_billing_reply_first_with_its_reason(desk, rules):
    key = desk.flows.ingest(inbound("同じ注文なのに二重請求されてます。返金してください")).ticket_key
    desk.drain()
    picker = canned_picker(open_reply(desk, key))
    options = picker["accessory"]["options"]
    reason = t("rules.suggest.rule", JA, rule="double-charge")
    assert options[0]["value"] == "billing-double-charge"
    assert options[0]["description"]["text"] == reason
    assert options[1] == {**options[1], "value": "ask-order-number-dm"}
    # The section says it too (every client shows it), then every other canned reply follows.
    billing = next(reply for reply in rules.canned_replies if reply.id == "billing-double-charge")
    assert picker["text"]["text"].splitlines()[:3] == [
        t("slack.modal.canned", JA), t("slack.modal.canned_suggested", JA), f"• *{billing.title.ja}*  _{reason}_"]
    assert sorted(option["value"] for option in options) == sorted(reply.id for reply in rules.canned_replies)
    unsuggested = [option for option in options if "description" not in option]
    assert unsuggested and options.index(unsuggested[0]) > 1


def test_a_tag_an_agent_adds_brings_its_rules_replies(desk, rules):
    key = desk.flows.ingest(inbound("こんにちは、ちょっと聞きたいことがあります")).ticket_key
    desk.drain()
    before = canned_picker(open_reply(desk, key))
    assert before["accessory"]["options"][0]["value"] != "billing-double-charge"
    desk.flows.tag(key, actor="U0AGENT001", add=["billing"], remove=[])
    picker = canned_picker(open_reply(desk, key))
    first = picker["accessory"]["options"][0]
    assert first["value"] == "billing-double-charge"
    assert first["description"]["text"] == t("rules.suggest.tag", JA, tag="billing", rule="double-charge")


def test_reply_modal_warns_before_answering_an_x_post_that_did_not_mention_us(desk):
    """X's self-serve tiers refuse a reply to a post found by keyword: the agent reads it first."""
    found = desk.flows.ingest(inbound("ACMEストアのセールっていつから？", kind="keyword")).ticket_key
    mentioned = desk.flows.ingest(inbound("@acme_jp セールはいつからですか？",
                                          author={"id": "u2", "handle": "@taro", "name": "Taro"})).ticket_key
    assert mentioned != found
    desk.drain()
    warning = "⚠️ " + t("slack.modal.warning.x_not_mentioned", JA, account="@acme_jp")
    texts = [element["text"] for block in open_reply(desk, found)["blocks"] if block["type"] == "context"
             for element in block["elements"]]
    assert warning in texts
    assert all(warning not in str(block) for block in open_reply(desk, mentioned)["blocks"])
