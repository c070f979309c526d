"""A simulated week: tickets arrive, people act, the scheduler ticks every 5 minutes on a hand-moved
clock; warnings, breaches, offline auto-replies and pages come out exactly as the table says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from chatops.scheduler import Lease, Scheduler
from chatops.tickets.models import Customer, Message, TicketEvent
from tests.helpers import answer, inbound, open_after_reply

JST = ZoneInfo("Asia/Tokyo")


def jst(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=JST).astimezone(UTC)


def label(moment: datetime) -> str:
    local = moment.astimezone(JST)
    return f"{local:%a %H:%M}"


# Who writes what, when (JST). 11/21 is a Saturday; Monday 11/23 is 勤労感謝の日 (closed).
ARRIVALS = {
    "A": (jst(21, 3), "a", "@acme_jp", "使い方を教えてください"),                 # green, Saturday night
    "B": (jst(22, 10), "a", "@acme_help", "パスワードの変更方法は？"),           # same customer, Sunday
    "C": (jst(24, 10), "c", "@acme_jp", "二重請求されています"),                 # red, in hours
    "D": (jst(24, 20), "d", "@acme_jp", "注文した商品が届かない"),               # orange, premium, evening
    "E": (jst(25, 12), "e", "@acme_jp", "領収書の出し方を教えて"),               # green, goes pending
    "F": (jst(26, 17), "f", "@acme_jp", "ログインできない"),                     # red, late afternoon
}

EXPECTED = {
    "auto_replied": [("A", "Sat 03:00", "Tue 09:00"), ("D", "Tue 20:00", "Wed 09:00")],
    "sla_warning": [("A", "Tue 15:25", "first_response"), ("B", "Tue 15:25", "first_response"),
                    ("C", "Tue 10:50", "first_response"), ("D", "Wed 09:50", "first_response"),
                    ("F", "Thu 17:50", "first_response"), ("F", "Fri 14:25", "resolution")],
    "sla_breached": [("D", "Wed 10:00", "first_response"), ("F", "Thu 18:00", "first_response"),
                     ("F", "Fri 16:00", "resolution")],
    "paged": [("C", "Tue 10:00", "U0AGENT001"), ("D", "Wed 10:00", "U0AGENT001"),
              ("D", "Wed 10:15", "U0RETURNS1"), ("F", "Thu 17:00", "U0AGENT001"),
              ("F", "Thu 17:15", "U0LEAD0001")],
}


def test_a_week_of_tickets(flows, clock, session_factory):
    open_after_reply(flows)  # only E goes pending, by hand
    with session_factory.begin() as session:
        session.add(Customer(source="x", external_user_id="d", handle="@d", name="d", tier="premium",
                             flags=[], first_seen_at=jst(1, 0), last_seen_at=jst(1, 0)))
    keys: dict[str, str] = {}

    def arrive(name: str):
        at, author, account, text = ARRIVALS[name]
        keys[name] = flows.ingest(inbound(text, author={"id": author, "handle": f"@{author}", "name": author},
                                          account=account, created_at=at.isoformat())).ticket_key

    def act(name: str, verb: str, actor: str = "U0AGENT002"):
        def run():
            key = keys[name]
            if verb == "reply":
                answer(flows, key, actor=actor, text="確認いたします")  # accepted at once
            elif verb == "pending":
                flows.set_pending(key, actor=actor)
            elif verb == "resolve":
                flows.resolve(key, actor=actor)
            elif verb == "ack":
                assert flows.acknowledge_page(key, actor=actor)
        return run

    script = {jst(21, 3): [lambda: arrive("A")], jst(22, 10): [lambda: arrive("B")],
              jst(24, 10): [lambda: arrive("C")], jst(24, 10, 10): [act("C", "ack", "U0AGENT001")],
              jst(24, 10, 55): [act("C", "reply")], jst(24, 15): [act("C", "resolve")],
              jst(24, 16): [act("A", "reply"), act("B", "reply")], jst(24, 20): [lambda: arrive("D")],
              jst(25, 10, 20): [act("D", "ack", "U0RETURNS1"), act("D", "reply")],
              jst(25, 12): [lambda: arrive("E")], jst(25, 12, 30): [act("E", "reply")],
              jst(25, 12, 35): [act("E", "pending")], jst(25, 14): [act("D", "resolve")],
              jst(26, 17): [lambda: arrive("F")], jst(26, 17, 20): [act("F", "ack", "U0AGENT001")],
              jst(27, 9, 30): [act("F", "reply")]}
    scheduler = Scheduler(flows, Lease(session_factory, holder="week", clock=clock, ttl=timedelta(minutes=10)))
    clock.now = jst(21, 0)
    while clock.now < jst(28, 0):  # Saturday to Saturday
        for action in script.pop(clock.now, []):
            action()
        scheduler.tick(clock.now)
        clock.advance(minutes=5)
    assert script == {}

    name_of = {int(key[2:]): name for name, key in keys.items()}
    with session_factory() as session:
        found = {kind: [] for kind in EXPECTED}
        for event in session.scalars(select(TicketEvent).where(TicketEvent.kind.in_(EXPECTED))
                                     .order_by(TicketEvent.id)):
            payload = event.payload
            detail = {"auto_replied": lambda p: label(datetime.fromisoformat(p["back_at"])),
                      "paged": lambda p: p["target"]}.get(event.kind, lambda p: p["deadline"])(payload)
            found[event.kind].append((name_of[event.ticket_id], label(event.at), detail))
        auto_texts = [m.text for m in session.scalars(select(Message).where(Message.author_id == "chatops:offline"))]
    assert {kind: sorted(rows) for kind, rows in found.items()} == {k: sorted(v) for k, v in EXPECTED.items()}
    assert len(auto_texts) == 2 and "2026-11-24 09:00 (JST)" in auto_texts[0]
