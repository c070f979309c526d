"""An edited message counts with its new words: a customer who edits "how do I use points?" into
"I was charged twice" raises the ticket's priority and tags as a follow-up would, re-prices its
deadlines, and the thread says so, in Slack end to end; a resolved ticket is left to the
customer's next message."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from chatops.i18n import t
from chatops.tickets.models import Ticket, TicketEvent
from integrations.facebook import FacebookConfig
from integrations.meta import signature
from tests.slack.conftest import Desk

PAGE = "106000000000001"
POST = f"{PAGE}_900000000000001"
COMMENT = "900000000000001_1100000000000001"
ASKED = "ポイントの使い方を教えてください"
REFUND = "カードに二重請求されています"


@pytest.fixture
def desk(wired, fake):
    return wired("facebook", FacebookConfig(
        graph_url=fake.url + "/v21.0", app_secret="meta-app-secret", verify_token="verify-me", page_id=PAGE,
        page_access_token="page-token", page_name="ACME Japan", _env_file=None))


def comment(clock, text: str, verb: str) -> bytes:
    """A Page feed webhook: Hanako's comment on the Page's post, added or edited."""
    return json.dumps({"object": "page", "entry": [{"id": PAGE, "time": int(clock.now.timestamp()), "changes": [{
        "field": "feed", "value": {
            "from": {"id": "7200000000000001", "name": "Hanako Yamada"}, "message": text, "post_id": POST,
            "comment_id": COMMENT, "created_time": int(clock.now.timestamp()), "item": "comment",
            "parent_id": POST, "verb": verb}}]}]}, ensure_ascii=False).encode()


def send(desk: Desk, body: bytes) -> str:
    response = desk.client.post("/webhooks/facebook", data=body, content_type="application/json",
                                headers={"X-Hub-Signature-256": signature("meta-app-secret", body)})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["results"][0]["outcome"]


def the_ticket(desk: Desk) -> Ticket:
    with desk.runtime.session_factory() as session:
        return session.scalars(select(Ticket)).unique().one()


def thread_texts(desk: Desk) -> list[str]:
    (parent,) = [m for m in desk.slack.messages if m.thread_ts is None and m.metadata]
    return [m.text for m in desk.slack.messages if m.thread_ts == parent.ts]


def test_an_edit_into_a_billing_complaint_raises_the_ticket(desk, clock):
    assert send(desk, comment(clock, ASKED, "add")) == "created"
    desk.drain()
    before = the_ticket(desk)
    assert before.priority == "green" and "billing" not in before.tags
    clock.advance(minutes=5)
    assert send(desk, comment(clock, REFUND, "edited")) == "edited"
    desk.drain()
    after = the_ticket(desk)
    assert after.priority == "red" and {"billing", "coupon", "how-to"} <= set(after.tags)
    assert after.first_response_due_at < before.first_response_due_at  # red answers sooner
    assert after.status == before.status
    with desk.runtime.session_factory() as session:
        (event,) = session.scalars(select(TicketEvent).where(TicketEvent.kind == "message_edited"))
    assert event.payload["priority_from"] == before.priority and event.payload["priority_to"] == "red"
    assert event.payload["tags_added"] == ["billing"]
    lang = desk.runtime.rules.defaults.language
    red = desk.runtime.rules.priorities["red"]
    [line] = [text for text in thread_texts(desk) if REFUND in text]
    assert line.endswith(t("slack.line.edit_raised_priority", lang, label=f"{red.emoji} {red.label.get(lang)}"))


def test_an_edit_on_a_resolved_ticket_leaves_it_to_the_next_message(desk, clock):
    send(desk, comment(clock, ASKED, "add"))
    key = the_ticket(desk).key
    desk.flows.resolve(key, actor="U0AGENT001")
    before = the_ticket(desk)
    clock.advance(minutes=5)
    assert send(desk, comment(clock, REFUND, "edited")) == "edited"
    after = the_ticket(desk)
    assert (after.status, after.priority, after.first_response_due_at) == \
        ("resolved", before.priority, before.first_response_due_at)
