"""The ticket state machine: every action, its event, and the refusals people will see."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from chatops.errors import (
    AlreadyClaimed,
    EmptyText,
    EscalationNotUpward,
    InvalidTransition,
    InvalidValue,
    NotClaimedByYou,
    NoteRequired,
    TicketNotFound,
)
from chatops.i18n import t
from chatops.outbox import Outbox
from chatops.tickets import service
from chatops.tickets.models import Message, OutboxItem, TicketEvent
from tests.helpers import BASE_TIME, inbound


@pytest.fixture
def key(flows) -> str:
    """A fresh green L1 ticket."""
    return flows.ingest(inbound("使い方を教えてください")).ticket_key


def kinds(session_factory, key: str) -> list[str]:
    with session_factory() as session:
        ticket = service.get_ticket(session, key=key)
        return [event.kind for event in service.ticket_events(session, ticket_id=ticket.id)]


def last_event(session_factory, key: str) -> TicketEvent:
    with session_factory() as session:
        ticket = service.get_ticket(session, key=key)
        return service.ticket_events(session, ticket_id=ticket.id)[-1]


def test_claim_opens_and_double_click_is_one_claim(flows, session_factory, key):
    ticket = flows.claim(key, actor="U1")
    assert (ticket.status, ticket.assignee) == ("open", "U1")
    flows.claim(key, actor="U1")
    assert kinds(session_factory, key) == ["created", "claimed"]


def test_second_agent_is_told_who_has_it(flows, key):
    flows.claim(key, actor="U1")
    with pytest.raises(AlreadyClaimed) as caught:
        flows.claim(key, actor="U2")
    assert str(caught.value) == f"{key} is already claimed by U1."
    assert caught.value.message("ja") == f"{key} はすでに U1 が担当しています。"


def test_racing_claims_have_exactly_one_owner(flows, session_factory, key):
    barrier = threading.Barrier(6)
    won, lost = [], []

    def claim(agent: str):
        barrier.wait()
        try:
            flows.claim(key, actor=agent)
            won.append(agent)
        except AlreadyClaimed as exc:
            lost.append(exc.params["by"])

    threads = [threading.Thread(target=claim, args=(f"U{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and len(lost) == 5 and set(lost) == set(won)
    assert kinds(session_factory, key).count("claimed") == 1


def test_release_only_by_owner(flows, key):
    flows.claim(key, actor="U1")
    with pytest.raises(NotClaimedByYou):
        flows.release(key, actor="U2")
    assert flows.release(key, actor="U1").assignee is None


def test_assign_records_from_and_to(flows, session_factory, key):
    flows.assign(key, actor="LEAD", assignee="U7")
    event = last_event(session_factory, key)
    assert event.kind == "assigned" and event.payload["assignee_to"] == "U7"


def test_tags_are_normalised_and_only_changes_are_recorded(flows, session_factory, key):
    before = flows.tag(key, actor="U1").tags  # the rules' own tags (how-to)
    ticket = flows.tag(key, actor="U1", add=["#Returns", "ＶＩＰ"])
    assert ticket.tags == sorted([*before, "returns", "vip"])
    flows.tag(key, actor="U1", add=["returns"])
    ticket = flows.tag(key, actor="U1", remove=["vip"])
    assert ticket.tags == sorted([*before, "returns"])
    assert kinds(session_factory, key) == ["created", "tagged", "tagged"]
    with pytest.raises(InvalidValue):
        flows.tag(key, actor="U1", add=["two words"])


def test_priority_must_be_defined(flows, session_factory, key):
    with pytest.raises(InvalidValue) as caught:
        flows.set_priority(key, actor="U1", priority="purple")
    assert "red" in str(caught.value)
    flows.set_priority(key, actor="U1", priority="red")
    event = last_event(session_factory, key)
    assert event.payload == {"priority_from": "green", "priority_to": "red"}


def test_escalate_needs_note_goes_up_and_notifies_owners(flows, session_factory, rules, key):
    with pytest.raises(NoteRequired):
        flows.escalate(key, actor="U1", level="L2", note="   ")
    ticket = flows.escalate(key, actor="U1", level="L2", note="返金判断が必要", assignee="U9")
    assert (ticket.level, ticket.assignee) == ("L2", "U9")
    event = last_event(session_factory, key)
    assert event.payload["note"] == "返金判断が必要"
    assert event.payload["notify"] == list(rules.levels["L2"].owners)
    with pytest.raises(EscalationNotUpward):
        flows.escalate(key, actor="U1", level="L1", note="戻す")


def test_note_is_internal(flows, session_factory, key):
    note = flows.add_note(key, actor="U1", text="顧客に電話済み")
    with session_factory() as session:
        assert session.get(Message, note.id).direction == "note"
        assert session.scalars(select(OutboxItem)).all() == []
    with pytest.raises(EmptyText) as empty:
        flows.add_note(key, actor="U1", text=" ")
    assert t(empty.value.key, "ja", **empty.value.params) == f"{key} のメモが空です。"
    with pytest.raises(EmptyText) as empty:
        flows.reply(key, actor="U1", text="  ")
    assert t(empty.value.key, "ja", **empty.value.params) == f"{key} への返信が空です。"
    assert t(empty.value.key, "en", **empty.value.params) == f"The reply for {key} is empty."


def test_reply_goes_to_outbox_on_same_network_and_counts_first_response(flows, session_factory, clock, key):
    clock.advance(minutes=3)
    flows.reply(key, actor="U1", text="ご連絡ありがとうございます。")
    clock.advance(minutes=1)
    # Accepted by the network a minute after it was queued: that is the first response.
    Outbox(session_factory, {"network:x": lambda item: {"external_id": "x-1"}},
           on_done={"reply": flows.reply_delivered}, clock=clock).run_once()
    clock.advance(minutes=5)
    flows.reply(key, actor="U1", text="設定画面の右上からどうぞ。")
    with session_factory() as session:
        ticket = service.get_ticket(session, key=key)
        items = session.scalars(select(OutboxItem).order_by(OutboxItem.id)).all()
        events = service.ticket_events(session, ticket_id=ticket.id)
    assert ticket.first_response_at == BASE_TIME + timedelta(minutes=4)
    assert [e.payload.get("first_response") for e in events if e.kind == "reply_sent"] == [True]
    assert all("first_response" not in e.payload for e in events if e.kind == "replied")
    assert [i.target for i in items] == ["network:x", "network:x"]
    assert items[0].payload["account"] == "@acme_jp"
    assert items[0].payload["in_reply_to"] is not None
    assert len({i.dedupe_key for i in items}) == 2
    assert ticket.status == "pending"  # the first reply reached the customer: waiting on them


def test_resolve_reopen_and_refusals(flows, session_factory, key):
    flows.resolve(key, actor="U1", note="解決済み")
    with pytest.raises(InvalidTransition) as caught:
        flows.resolve(key, actor="U1")
    assert "resolved" in str(caught.value)
    with pytest.raises(InvalidTransition):
        flows.reply(key, actor="U1", text="hello")
    ticket = flows.reopen(key, actor="U1", reason="再発")
    assert ticket.status == "open" and ticket.reopened_count == 1
    assert kinds(session_factory, key) == ["created", "resolved", "reopened"]


def test_unknown_key_is_named(flows):
    with pytest.raises(TicketNotFound) as caught:
        flows.claim("T-99999", actor="U1")
    assert str(caught.value) == "No ticket T-99999."
    with pytest.raises(TicketNotFound):
        flows.claim("hello", actor="U1")


def test_keys_accept_common_spellings(flows, session_factory, key):
    number = key.removeprefix("T-")
    with session_factory() as session:
        for spelling in (key, key.lower(), number, f"T{number}", f"Ｔ-{number}"):
            assert service.get_ticket(session, key=spelling).key == key


def test_events_are_append_only(flows, session_factory, key):
    with session_factory() as session:
        event = session.scalars(select(TicketEvent)).first()
        event.actor = "someone else"
        with pytest.raises(RuntimeError, match="append-only"):
            session.flush()
