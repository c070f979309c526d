"""Issue 24, one customer across networks and the data lifecycle, end to end: signed webhooks
in, a fake Slack for the thread, the suggestion button and the Customer modal, the CLI for link,
export, erase and the audit log; after the erasure, a dump of the whole database holds none of
the customer's text, handles or names (SQLite: iterdump; PostgreSQL: every row of every table)."""

from __future__ import annotations

import json
import sqlite3

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from chatops.customers.models import AuditEvent
from chatops.i18n import t
from chatops.slack import ids
from chatops.tickets.models import Customer, Message, Ticket, TicketEvent
from integrations.webhook import sign
from tests.helpers import cli_env, inbound, run_cli
from tests.slack.conftest import AGENT, LEAD

SECRET = "test-webhook-secret"
JA = "ja"
X_TEXT = "二重請求されました。注文番号 A-5521 の返金をお願いします"
IG_TEXT = "Instagram からも連絡します。返金はまだですか？"
LINE_TEXT = "LINE でも失礼します、山田花子です。返金の件どうなりましたか"
X_AUTHOR = {"id": "x-1187765", "handle": "@hanako_yamada", "name": "Hanako Yamada"}
IG_AUTHOR = {"id": "ig-5549001", "handle": "hanako_yamada", "name": "花子 (Hanako)"}
LINE_AUTHOR = {"id": "U4af4980629bbbbbbbbbbbbbbbbbbbbbb", "handle": None, "name": "山田花子"}
LINE_KEY = f"line:{LINE_AUTHOR['id']}"


def webhook(desk, message) -> str:
    """Post `message` to the signed generic webhook as a network bridge does; the ticket key."""
    body = message.model_dump_json().encode()
    response = desk.client.post("/webhooks/generic", data=body, content_type="application/json",
                                headers={"X-Chatops-Signature": sign(SECRET, body)})
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()["results"][0]["ticket"]


def parent_of(desk, key: str):
    """The ticket's parent message (its card) in the fake Slack, as last edited."""
    return next(p for p in desk.slack.parents() if f"*{key}*" in json.dumps(p.attachments, ensure_ascii=False)
                or f"<{key}" in p.text or p.text.startswith(key) or f" {key} " in f" {p.text} ")


def thread_messages(desk, key: str):
    return desk.slack.thread(parent_of(desk, key))


def thread_texts(desk, key: str) -> list[str]:
    return [m.text for m in thread_messages(desk, key)]


def open_customer(desk, key: str, user: str = LEAD) -> dict:
    desk.click(ids.MENU, f"customer::{key}", user=user, selected=True)
    return desk.last_view(ids.CUSTOMER_VIEW)


def group(desk) -> dict[str, int | None]:
    with desk.runtime.session_factory() as session:
        return {f"{c.source}:{c.external_user_id}": c.linked_to_id for c in session.scalars(select(Customer))}


def dump(database_url: str) -> str:
    """The whole database as text: SQLite's iterdump, or every row of every table on PostgreSQL."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        with sqlite3.connect(url.database) as conn:
            return "\n".join(conn.iterdump())
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")).scalars()
            return "\n".join(row for table in list(tables) for row in conn.execute(
                text(f'SELECT t::text FROM "{table}" t')).scalars())
    finally:
        engine.dispose()


def forms(secret: str) -> set[str]:
    """A secret as it may be stored: as written, lower-cased, and in JSON's \\uXXXX spelling."""
    return {secret, secret.lower(), json.dumps(secret)[1:-1], json.dumps(secret)[1:-1].lower()}


def test_one_customer_across_networks_then_erased_everywhere(desk, database_url, monkeypatch, tmp_path, capsys):
    # The same person writes on X, then on Instagram (same handle), then on LINE (a name only).
    x_key = webhook(desk, inbound(X_TEXT, author=X_AUTHOR, source="x", account="@acme_jp"))
    ig_key = webhook(desk, inbound(IG_TEXT, author=IG_AUTHOR, source="instagram", account="acme_jp", kind="dm"))
    line_key = webhook(desk, inbound(LINE_TEXT, author=LINE_AUTHOR, source="line", account="@acme", kind="dm"))
    desk.drain()

    # Ingest suggested the link on the Instagram ticket (same handle), with a Link button; not on LINE.
    suggestion = t("customers.line.link_suggested", JA, keys="x:@hanako_yamada")
    assert suggestion in thread_texts(desk, ig_key)
    assert not any("customers.line" in line or "同じ人" in line for line in thread_texts(desk, line_key))
    line = next(m for m in thread_messages(desk, ig_key) if m.text == suggestion)
    button = line.blocks[1]["elements"][0]
    assert button["text"]["text"] == t("customers.line.link_button", JA, key="x:@hanako_yamada")

    # An agent may not link (the `assign` role, as the tier): refused, nothing changes.
    desk.click(button["action_id"], button["value"], user=AGENT)
    assert all(linked is None for linked in group(desk).values())
    desk.click(button["action_id"], button["value"], user=LEAD)
    assert desk.slack.ephemerals()[-1] == t("customers.slack.linked", JA,
                                            keys="instagram:hanako_yamada, x:@hanako_yamada")
    with desk.runtime.session_factory() as session:
        x = session.scalar(select(Customer).where(Customer.source == "x"))
        ig = session.scalar(select(Customer).where(Customer.source == "instagram"))
        assert (ig.linked_to_id or ig.id) == (x.linked_to_id or x.id)  # one person now
    desk.drain()
    linked_line = t("customers.line.customers_linked", JA, who=f"<@{LEAD}>",
                    keys="instagram:hanako_yamada, x:@hanako_yamada")
    assert linked_line in thread_texts(desk, x_key) and linked_line in thread_texts(desk, ig_key)

    # The CLI links LINE too, by network:user-id; an unknown key is named in the error.
    cli_env(monkeypatch, tmp_path, database_url)
    code, _, err = run_cli(capsys, "customers", "link", "x:@nobody_here", LINE_KEY)
    assert code == 1 and "x:@nobody_here: no such customer" in err
    code, out, _ = run_cli(capsys, "customers", "link", "x:@hanako_yamada", LINE_KEY, "--by", "lead-cli")
    assert code == 0 and LINE_KEY in out

    # The modal shows the combined history (all three tickets) and the linked records.
    modal = open_customer(desk, x_key)
    shown = json.dumps(modal, ensure_ascii=False)
    assert all(key in shown for key in (x_key, ig_key, line_key))
    unlinks = [b for b in modal["blocks"] if b.get("accessory", {}).get("action_id", "").startswith(ids.CUSTOMER_UNLINK)]
    assert [b["text"]["text"] for b in unlinks] == ["instagram:hanako\\_yamada", LINE_KEY] or \
        [b["text"]["text"] for b in unlinks] == ["instagram:hanako_yamada", LINE_KEY]

    # Unlink LINE from the modal, then link it again by typing its key into the modal.
    line_button = unlinks[1]["accessory"]
    desk.click(line_button["action_id"], line_button["value"], user=LEAD, view={**modal, "id": "V1"})
    assert group(desk)[LINE_KEY] is None
    redrawn = desk.slack.views[-1]
    bad = desk.submit(redrawn, {(ids.CUSTOMER_LINK_BLOCK, ids.CUSTOMER_LINK): {"type": "plain_text_input",
                                                                              "value": "line:nobody"}}, user=LEAD)
    assert t("customers.error.not_found", JA, key="line:nobody") in bad.get_json()["errors"][ids.CUSTOMER_LINK_BLOCK]
    refused = desk.submit(redrawn, {(ids.CUSTOMER_LINK_BLOCK, ids.CUSTOMER_LINK): {"type": "plain_text_input",
                                                                                  "value": LINE_KEY}}, user=AGENT)
    assert t("verb.link", JA) in refused.get_json()["errors"][ids.CUSTOMER_LINK_BLOCK]
    assert group(desk)[LINE_KEY] is None
    good = desk.submit(redrawn, {(ids.CUSTOMER_LINK_BLOCK, ids.CUSTOMER_LINK): {"type": "plain_text_input",
                                                                               "value": LINE_KEY}}, user=LEAD)
    assert good.get_json()["response_action"] == "update" and LINE_KEY in json.dumps(good.get_json()["view"])
    assert group(desk)[LINE_KEY] is not None

    # The ticket cards (redrawn by the modal's link) name the other records and count all tickets.
    desk.drain()
    card = json.dumps(parent_of(desk, x_key).attachments, ensure_ascii=False)
    assert t("customers.card.linked", JA, keys=f"instagram:hanako_yamada, {LINE_KEY}", count=3) in card

    # Tier and flags span the records: premium set on the LINE ticket is every record's tier.
    code, _, _ = run_cli(capsys, "tickets", "tier", line_key, "premium", "--as", LEAD)
    assert code == 0
    with desk.runtime.session_factory() as session:
        assert {c.tier for c in session.scalars(select(Customer))} == {"premium"}

    # Export: everything about the person, across the three records.
    code, out, _ = run_cli(capsys, "customers", "export", "instagram:hanako_yamada", "--json", "--by", "dpo")
    exported = json.loads(out)
    assert code == 0 and len(exported["customers"]) == 3 and len(exported["tickets"]) == 3
    assert {X_TEXT, IG_TEXT, LINE_TEXT} <= {m["text"] for m in exported["messages"]}
    assert exported["events"] and all("kind" in e for e in exported["events"])

    # Erase refuses without --yes, says what it would erase, and changes nothing.
    code, _, err = run_cli(capsys, "customers", "erase", "x:@hanako_yamada")
    assert code == 1 and "Nothing was erased" in err and x_key in err
    assert X_TEXT in dump(database_url) or json.dumps(X_TEXT)[1:-1] in dump(database_url)

    code, out, _ = run_cli(capsys, "customers", "erase", "x:@hanako_yamada", "--yes", "--by", "dpo-ayumi")
    assert code == 0 and "Erased" in out
    desk.drain()  # the cards redraw anonymised; what that queues is in the database too

    everything = dump(database_url)
    secrets = [X_TEXT, IG_TEXT, LINE_TEXT, "hanako_yamada", "Hanako Yamada", "花子 (Hanako)", "山田花子",
               X_AUTHOR["id"], IG_AUTHOR["id"], LINE_AUTHOR["id"], "注文番号 A-5521"]
    for secret in secrets:
        for form in forms(secret):
            assert form not in everything, f"{secret!r} is still stored ({form!r})"
    with desk.runtime.session_factory() as session:
        tickets = session.scalars(select(Ticket).order_by(Ticket.id)).unique().all()
        assert [ticket.key for ticket in tickets] == [x_key, ig_key, line_key]
        assert {ticket.subject for ticket in tickets} == {"[erased]"}
        assert session.scalar(select(Message.text).where(Message.direction == "inbound").limit(1)) == "[erased]"
        erased = session.scalars(select(AuditEvent).where(AuditEvent.kind == "customer_erased")).one()
        assert erased.actor == "dpo-ayumi" and erased.payload["tickets"] == [x_key, ig_key, line_key]
        assert session.scalars(select(TicketEvent.actor).where(TicketEvent.kind == "customer_erased")).all() \
            == ["dpo-ayumi"] * 3

    # The audit log says who linked, exported and erased, and when.
    code, out, _ = run_cli(capsys, "audit", "export", "--since", "2000-01-01", "--until", "2100-01-01", "--json")
    entries = [json.loads(line) for line in out.splitlines()]
    kinds = {(e["kind"], e["actor"]) for e in entries}
    assert {("customers_linked", LEAD), ("customers_linked", "lead-cli"), ("customers_unlinked", LEAD),
            ("customer_exported", "dpo"), ("customer_erased", "dpo-ayumi"), ("tier_changed", LEAD)} <= kinds
    assert not any(e["actor"].startswith(("customer:", "chatops:")) for e in entries)
    code, out, _ = run_cli(capsys, "audit", "export", "--since", "2000-01-01", "--csv")
    assert code == 0 and out.splitlines()[0] == "at,kind,actor,ticket,customer,detail"
    for secret in ("hanako", "Hanako", "山田花子"):
        assert secret not in out
