"""Issue 24's data lifecycle below the surfaces: rules.yaml `retention:` (validated, run by the
scheduler's leader, a failure recorded and announced), `network:handle` keys that are unknown or
ambiguous, linked records sharing tier and flags, and the audit export's checks."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select, text

from chatops.customers.models import AuditEvent
from chatops.oncall.models import SchedulerError
from chatops.rules import RulesError, load_rules
from chatops.scheduler import Lease, Scheduler
from chatops.tickets.customers import flag_customer
from chatops.tickets.flows import TicketFlows
from chatops.tickets.models import Customer, Message, OutboxItem, Ticket, TicketEvent
from tests.conftest import RULES_PATH
from tests.helpers import cli_env, inbound, run_cli

OLD = "古い問い合わせです。注文番号 B-7781 の件"
OPEN = "まだ対応中の問い合わせです"


def rules_with(tmp_path, section: str):
    path = tmp_path / "rules.yaml"
    # The shipped `retention:` section (its indented lines) gives way to the test's own.
    shipped = re.sub(r"\nretention:\n(?:[ #].*\n|\n)*", "\n", RULES_PATH.read_text("utf-8"))
    path.write_text(shipped + "\n" + section, "utf-8")
    return load_rules(path)


@pytest.mark.parametrize(("section", "field"), [
    ("retention:\n  customer_text_days: 0\n", "retention.customer_text_days"),
    ("retention:\n  customer_text_days: 30\n  mode: delete\n", "retention.mode"),
    ("retention:\n  customer_text_dayz: 30\n", "retention.customer_text_dayz"),
])
def test_a_bad_retention_section_is_refused_naming_the_field(tmp_path, section, field):
    with pytest.raises(RulesError) as caught:
        rules_with(tmp_path, section)
    assert any(field in line and "rules.yaml:" in line for line in caught.value.lines("en")), caught.value.lines("en")


@pytest.mark.parametrize("mode", ["anonymise", "erase"])
def test_the_retention_pass_clears_old_text_of_closed_tickets_only(tmp_path, session_factory, clock, mode):
    rules = rules_with(tmp_path, f"retention:\n  customer_text_days: 30\n  mode: {mode}\n")
    flows = TicketFlows(session_factory, rules, clock=clock)
    old = flows.ingest(inbound(OLD, author={"id": "u-old", "handle": "@old_customer", "name": "Old Name"}))
    flows.resolve(old.ticket_key, actor="U0AGENT001")
    still = flows.ingest(inbound(OPEN, author={"id": "u-open", "handle": "@open_customer", "name": "Open Name"}))
    scheduler = Scheduler(flows, Lease(session_factory, holder="leader", clock=clock))

    clock.advance(days=10)
    scheduler.tick(clock())
    with session_factory() as session:
        assert session.get(Message, old.message_id).text == OLD  # younger than 30 days: kept

    clock.advance(days=25)
    scheduler._retention_next = None  # the hourly gate is memory; this test moves weeks at once
    scheduler.tick(clock())
    with session_factory() as session:
        gone, kept = session.get(Message, old.message_id), session.get(Message, still.message_id)
        assert gone.text == "[erased]" and kept.text == OPEN  # an open ticket keeps its words
        assert session.get(Ticket, old.ticket_id).subject == "[erased]"
        old_customer = session.get(Ticket, old.ticket_id).customer
        if mode == "anonymise":
            assert gone.author_handle is None and old_customer.handle is None
            assert old_customer.external_user_id == f"erased:{old_customer.id}"
        else:
            assert gone.author_handle == "@old_customer" and old_customer.handle == "@old_customer"
        assert session.get(Ticket, still.ticket_id).customer.handle == "@open_customer"
        (audit,) = session.scalars(select(AuditEvent).where(AuditEvent.kind == "retention_applied")).all()
        assert audit.actor == "chatops:retention" and audit.payload["messages"] == 1 and audit.payload["mode"] == mode


def test_a_failing_retention_pass_is_recorded_and_announced(tmp_path, session_factory, clock, monkeypatch):
    rules = rules_with(tmp_path, "retention:\n  customer_text_days: 30\n")
    flows = TicketFlows(session_factory, rules, clock=clock)
    flows.ingest(inbound(OLD))

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("chatops.customers.retention.retention_pass", broken)
    Scheduler(flows, Lease(session_factory, holder="leader", clock=clock)).tick(clock())
    with session_factory() as session:
        error = session.scalars(select(SchedulerError).where(SchedulerError.pass_name == "retention")).one()
        assert "disk full" in error.error and error.count == 1
        alert = session.scalars(select(OutboxItem).where(OutboxItem.kind == "alert")).one()
        assert "disk full" in alert.payload["text"] and "データ保持期間" in alert.payload["text"]


def test_keys_unknown_ambiguous_and_malformed_are_named(flows, database_url, monkeypatch, tmp_path, capsys):
    flows.ingest(inbound("one", author={"id": "a1", "handle": "@dup", "name": "A"}))
    flows.ingest(inbound("two", author={"id": "a2", "handle": "@DUP", "name": "B"}))
    cli_env(monkeypatch, tmp_path, database_url)
    code, _, err = run_cli(capsys, "customers", "export", "x:@dup", "--json")
    assert code == 1 and "x:@dup: several customers match (x:a1, x:a2)" in err
    code, out, _ = run_cli(capsys, "customers", "export", "x:a2", "--json")
    assert code == 0 and json.loads(out)["customers"][0]["handle"] == "@DUP"
    code, _, err = run_cli(capsys, "customers", "link", "hanako", "x:a1")
    assert code == 1 and "hanako: a customer is named network:handle" in err
    code, _, err = run_cli(capsys, "customers", "unlink", "x:a1", "x:a2")
    assert code == 1 and "x:a1 and x:a2 are not linked" in err
    cli_env(monkeypatch, tmp_path, database_url, lang="ja")
    code, _, err = run_cli(capsys, "customers", "erase", "line:nobody")
    assert code == 1 and "line:nobody: その顧客は見つかりません" in err


def test_linked_records_share_the_highest_tier_and_every_flag(flows, database_url, monkeypatch, tmp_path, capsys):
    x = flows.ingest(inbound("二重請求されています。確認してください", author={"id": "x1", "handle": "@hanako", "name": "Hanako"}))
    line = flows.ingest(inbound("line", source="line", account="@acme", kind="dm",
                                author={"id": "U1", "handle": None, "name": "花子"}))
    flows.set_customer_tier(line.ticket_key, actor="U0LEAD0001", tier="premium")
    flag_customer(flows, x.ticket_key, actor="U0AGENT001", flag="vip")
    with flows.session_factory() as session:
        due_before = session.get(Ticket, x.ticket_id).first_response_due_at
    cli_env(monkeypatch, tmp_path, database_url)
    code, out, _ = run_cli(capsys, "customers", "link", "x:@hanako", "line:U1", "--by", "lead")
    assert code == 0 and "premium" in out
    with flows.session_factory() as session:
        assert {(c.tier, tuple(c.flags)) for c in session.scalars(select(Customer))} == {("premium", ("vip",))}
        # The X ticket's deadlines are premium's now, with the event saying so.
        assert session.get(Ticket, x.ticket_id).first_response_due_at < due_before
        assert session.scalars(select(TicketEvent.actor).where(TicketEvent.ticket_id == x.ticket_id,
                                                               TicketEvent.kind == "tier_changed")).all() == ["lead"]
    flag_customer(flows, line.ticket_key, actor="U0AGENT001", flag="troll")
    with flows.session_factory() as session:
        assert {tuple(c.flags) for c in session.scalars(select(Customer))} == {("troll", "vip")}
    code, _, err = run_cli(capsys, "customers", "link", "line:U1", "x:@hanako")
    assert code == 1 and "linked already" in err
    code, out, _ = run_cli(capsys, "customers", "unlink", "x:@hanako", "line:U1")
    assert code == 0
    with flows.session_factory() as session:
        assert all(c.linked_to_id is None for c in session.scalars(select(Customer)))


def test_audit_export_refuses_unreadable_or_empty_ranges(database_url, monkeypatch, tmp_path, capsys):
    cli_env(monkeypatch, tmp_path, database_url)
    code, _, err = run_cli(capsys, "audit", "export", "--since", "last tuesday", "--json")
    assert code == 2 and "--since: last tuesday is not an ISO 8601" in err
    code, _, err = run_cli(capsys, "audit", "export", "--since", "2026-12-02", "--until", "2026-12-01")
    assert code == 2 and "--until" in err


def test_scrubbing_takes_whole_tokens_and_every_script():
    from chatops.customers.scrub import pattern_of, scrub, secrets_of

    pattern = pattern_of(secrets_of(["12345", "@hanako", "山田花子"]))
    assert scrub("post 9123456 by user 12345", pattern) == "post 9123456 by user [erased]"
    assert scrub("@hanako and @hanako_fan", pattern) == "[erased] and @hanako_fan"
    assert scrub({"text": "山田花子さんより", "HANAKO": ["Hanako!"]}, pattern) == \
        {"text": "[erased]さんより", "[erased]": ["[erased]!"]}


def test_a_reply_still_queued_to_an_erased_customer_is_never_sent(flows, database_url, monkeypatch, tmp_path,
                                                                  capsys):
    key = flows.ingest(inbound("返金してください", author={"id": "x9", "handle": "@gone_soon", "name": "Gone"})).ticket_key
    flows.reply(key, actor="U0AGENT001", text="@gone_soon 様、確認いたします")
    cli_env(monkeypatch, tmp_path, database_url)
    code, out, _ = run_cli(capsys, "customers", "erase", "x:@gone_soon", "--yes", "--by", "dpo")
    assert code == 0 and "1 queued replies not sent" in out
    with flows.session_factory() as session:
        item = session.scalars(select(OutboxItem).where(OutboxItem.target == "network:x")).one()
        assert item.state == "dead" and item.last_error == "customer erased before delivery"
        assert "gone_soon" not in json.dumps(item.payload) and item.payload["author_id"] == "[erased]"
        reply = session.scalars(select(Message).where(Message.direction == "outbound")).one()
        assert reply.delivery_state == "failed" and reply.text == "[erased] 様、確認いたします"


def test_ingest_suggests_a_link_by_e_mail_once_per_pair(runtime):
    flows = runtime.flows
    flows.ingest(inbound("フォームからの問い合わせ", source="webhook", account="contact-form", kind="dm",
                         author={"id": "form-1", "handle": "hanako@example.com", "name": "Hanako"}))
    first = flows.ingest(inbound("Facebook からも", source="facebook", account="acme", kind="dm",
                                 author={"id": "fb-1", "handle": None, "name": "Hanako Y"},
                                 meta={"email": "HANAKO@example.com"}))
    second = flows.ingest(inbound("まだですか", source="facebook", account="acme", kind="dm",
                                  author={"id": "fb-1", "handle": None, "name": "Hanako Y"},
                                  created_at="2026-12-01T01:00:00+00:00", meta={"email": "hanako@example.com"}))
    with runtime.session_factory() as session:
        suggested = session.execute(select(TicketEvent.ticket_id, TicketEvent.payload)
                                    .where(TicketEvent.kind == "link_suggested")).all()
        form = session.scalar(select(Customer.id).where(Customer.source == "webhook"))
    assert second.ticket_id != first.ticket_id  # a new ticket, and still only the one suggestion
    assert [(ticket_id, payload["candidates"]) for ticket_id, payload in suggested] == [(first.ticket_id, [form])]


def test_erase_sweeps_a_table_no_model_of_this_process_knows(flows, engine):
    from chatops.customers.service import erase

    flows.ingest(inbound("退会したいです", author={"id": "x-4242", "handle": "@leaving_user", "name": "Leaving"}))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE other_feature (id INTEGER PRIMARY KEY, body TEXT, data JSON)")
        conn.execute(text("INSERT INTO other_feature VALUES (1, :body, :data)"), {  # JSON as json.dumps writes it
            "body": "copied from @leaving_user: 退会したいです",
            "data": json.dumps({"who": "@Leaving_User", "quote": "退会したいです"})})
    try:
        erase(flows, "x:@leaving_user", actor="dpo", confirm=True)
        with engine.connect() as conn:
            body, data = conn.exec_driver_sql("SELECT body, data FROM other_feature").one()
        assert body == "copied from [erased]: [erased]"
        assert (data if isinstance(data, dict) else json.loads(data)) == {"who": "[erased]", "quote": "[erased]"}
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE other_feature")
