"""The issue's scripted scenario against the fake Slack: a ticket arrives, an agent claims it,
replies with a canned answer, escalates to L2 with a note, the lead resolves, the customer
writes again and the ticket reopens — checking the parent message, the thread lines and the
stored events at every step."""

from __future__ import annotations

from sqlalchemy import select

from chatops.i18n import t
from chatops.slack import ids
from chatops.slack.blocks.modals import parse_reply_metadata
from chatops.tickets.models import Message, Ticket
from tests.fakes.http_recorder import Answer, RecordingServer
from tests.helpers import inbound
from tests.slack.conftest import LEAD

JA = "ja"


def parent_text(message) -> str:
    """Everything the parent shows: its blocks' texts and fields, flattened."""
    parts = [message.text]
    for attachment in message.attachments:
        for block in attachment.get("blocks", []):
            parts.append((block.get("text") or {}).get("text", ""))
            parts += [field["text"] for field in block.get("fields", [])]
            parts += [element.get("text", "") for element in block.get("elements", []) if block["type"] == "context"]
    return "\n".join(parts)


def buttons(message) -> list[str]:
    return [element["action_id"] for attachment in message.attachments for block in attachment["blocks"]
            if block["type"] == "actions" for element in block["elements"] if element["type"] == "button"]


def color(message) -> str:
    return message.attachments[0]["color"]


def test_arrive_claim_reply_escalate_resolve_reopen(desk, rules):
    slack = desk.slack
    with RecordingServer() as network:
        # Each post gets its own id, as the network gives it (the rating request's too).
        network.answers = [Answer(201, {"id": f"sent-{n}"}) for n in range(1, 10)]
        desk.replies_to(network)
        # The script keeps the ticket open after the reply (tests/promise/test_pending.py covers the default).
        desk.flows.rules = rules.model_copy(update={"sla": rules.sla.model_copy(update={"pending_after_reply": False})})

        # 1. A customer writes: one parent message in the routed channel, in its colour, with Claim.
        first = inbound("ポイントの使い方が分かりません。注文画面のどこで使えますか？", source="webhook", account="shop-form",
                        author={"id": "c-77", "handle": "@sato", "name": "佐藤"}, conversation_id="conv-1",
                        url="https://shop.example/posts/1")
        key = desk.flows.ingest(first).ticket_key
        desk.drain()
        with desk.runtime.session_factory() as session:
            ticket = session.scalar(select(Ticket))
        channel = slack.channel_id(rules.channels[ticket.channel].slack)
        [parent] = slack.parents()
        assert parent.channel == channel
        assert color(parent) == rules.priorities[ticket.priority].color
        shown = parent_text(parent)
        assert key in shown and "@sato" in shown and "ポイントの使い方" in shown and "shop-form" in shown
        assert buttons(parent) == [ids.CLAIM, ids.REPLY, ids.ESCALATE, ids.RESOLVE]
        assert t("slack.deadline.first_response", JA) in shown  # the SLA clock's deadline, in JST
        assert slack.thread(parent) == []
        assert desk.events(key) == ["created"]

        # 2. The agent claims: parent edited in place (Release now), one thread line.
        assert desk.click(ids.CLAIM, key).status_code == 200
        desk.drain()
        assert parent.edits == 1
        assert buttons(parent)[0] == ids.RELEASE
        assert "<@U0AGENT001>" in parent_text(parent)
        assert [m.text for m in slack.thread(parent)] == [t("slack.line.claimed", JA, who="<@U0AGENT001>")]
        assert desk.events(key) == ["created", "claimed"]

        # 3. Reply with a canned answer: the modal opens, picking the canned reply fills the box,
        #    the submission sends through the outbox to the network the ticket came from.
        desk.click(ids.REPLY, key)
        modal = desk.last_view(ids.REPLY_VIEW)
        assert parse_reply_metadata(modal["private_metadata"])[0] == key
        canned = rules.canned_replies[0]
        desk.click(ids.CANNED_SELECT, canned.id, selected=True, view={**modal, "type": "modal"})
        refilled = slack.views[-1]
        text_block = next(b for b in refilled["blocks"] if b.get("block_id", "").startswith(f"{ids.TEXT_BLOCK}."))
        assert text_block["element"]["initial_value"] == canned.text.ja
        response = desk.submit(refilled, {(text_block["block_id"], ids.TEXT_INPUT):
                                          {"type": "plain_text_input", "value": canned.text.ja}},
                               view_id=modal["id"])
        assert response.status_code == 200 and response.data in (b"", b"{}")
        # Slack resends the same submission (a double click): still one reply.
        desk.submit(refilled, {(text_block["block_id"], ids.TEXT_INPUT):
                               {"type": "plain_text_input", "value": canned.text.ja}}, view_id=modal["id"])
        desk.drain()
        assert [r.json()["text"] for r in network.requests] == [canned.text.ja]
        assert network.requests[0].json()["account"] == "shop-form"
        lines = [m.text for m in slack.thread(parent)]
        # One line for the reply: posted as sending, edited once the network accepted it.
        assert lines[-1].startswith(":white_check_mark:") and canned.text.ja in lines[-1]
        assert sum(canned.text.ja in line for line in lines) == 1 and slack.thread(parent)[-1].edits == 1
        assert desk.events(key) == ["created", "claimed", "replied", "reply_sent"]

        # 4. Escalate to L2 with a hand-off note: the L2 owners are mentioned.
        desk.click(ids.ESCALATE, key)
        modal = desk.last_view(ids.ESCALATE_VIEW)
        desk.submit(modal, {(ids.LEVEL_BLOCK, ids.LEVEL_SELECT): {"type": "static_select",
                                                                  "selected_option": {"value": "L2"}},
                            (ids.NOTE_BLOCK, ids.NOTE_INPUT): {"type": "plain_text_input",
                                                               "value": "ポイント残高の不整合。L2 で確認お願いします"}})
        desk.drain()
        shown = parent_text(parent)
        assert "*L2*" in shown
        line = slack.thread(parent)[-1].text
        assert "L2" in line and "ポイント残高の不整合" in line
        groups = {f"@{group['handle']}": group["id"] for group in slack.usergroups}
        assert all(f"<!subteam^{groups[owner]}>" in line if owner.startswith("@") else f"<@{owner}>" in line
                   for owner in rules.levels["L2"].owners)
        assert desk.events(key)[-1] == "escalated"

        # 5. The lead resolves with a note: the parent shows the resolution and only Reopen.
        desk.click(ids.RESOLVE, key, user=LEAD)
        modal = desk.last_view(ids.RESOLVE_VIEW)
        desk.submit(modal, {(ids.NOTE_BLOCK, ids.NOTE_INPUT): {"type": "plain_text_input",
                                                               "value": "再発送しました"}}, user=LEAD)
        desk.drain()
        assert buttons(parent) == [ids.REOPEN]
        assert t("status.resolved", JA) in parent_text(parent)
        assert slack.thread(parent)[-1].text == t("slack.line.resolved_note", JA, who="<@U0LEAD0001>",
                                                  note="再発送しました")
        assert desk.events(key)[-2:] == ["resolved", "reply_sent"]  # then the rating request went out

        # 6. The customer writes again: same ticket, open again, the message in the thread.
        again = inbound("まだポイントが使えません…", source="webhook", account="shop-form",
                        author={"id": "c-77", "handle": "@sato", "name": "佐藤"}, conversation_id="conv-1")
        outcome = desk.flows.ingest(again)
        assert outcome.ticket_key == key
        desk.drain()
        assert ids.CLAIM in buttons(parent) or ids.RELEASE in buttons(parent)
        last = slack.thread(parent)[-1].text
        assert "まだポイントが使えません" in last and t("slack.line.reopened_by_customer", JA) in last
        assert desk.events(key) == ["created", "claimed", "replied", "reply_sent", "escalated", "resolved",
                                    "reply_sent", "reopened"]  # the second reply_sent: the rating request

    # Still one parent, every line once, in order; nothing left in the outbox.
    assert len(slack.parents()) == 1
    assert len(slack.thread(parent)) == 5  # claimed, the reply (sent), escalated, resolved, reopened
    with desk.runtime.session_factory() as session:
        directions = list(session.scalars(select(Message.direction).order_by(Message.id)))
    # The reply, then the rating request rules.yaml asks for on resolve (stats.csat), then the customer.
    assert directions == ["inbound", "outbound", "outbound", "inbound"]
