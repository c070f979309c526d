"""Every Slack `/ticket` verb in Teams, through the real outgoing-webhook endpoint with HMAC-signed
activities: `ticket show/mine/queue/search` answer with the tickets' views (priority, status, the
SLA due time and state as the read model has them), `assign/tag/priority/tier/note` change what
is stored, each answer in the sender's language; the help and docs/teams.md list the same verbs."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from chatops import commands
from chatops.i18n import t
from chatops.teams import commands as teams_commands
from chatops.tickets.models import Message, Ticket, TicketEvent
from chatops.views import load_view
from tests.helpers import inbound
from tests.teams.conftest import AGENT, LEAD
from tests.teams.test_outgoing_webhook import reply_text, say

DOCS = Path(__file__).resolve().parents[2] / "docs" / "teams.md"
SLACK_ONLY_BEFORE = ("show", "mine", "queue", "search", "assign", "tag", "priority", "tier", "note")


def ask(client, text: str, *, who: dict = AGENT, locale: str = "en-US") -> str:
    """The bot's answer to `@chatops <text>` from `who`."""
    response = say(client, text, aad=who["aad"], locale=locale)
    assert response.status_code == 200
    return reply_text(response)


@pytest.fixture
def tickets(teams_runtime) -> tuple[str, str]:
    """An urgent billing ticket from @hanako and a normal question from @taro."""
    flows = teams_runtime.flows
    urgent = flows.ingest(inbound("二重請求されてます [詳細](http://evil.example)")).ticket_key
    normal = flows.ingest(inbound("使い方を教えてください",
                                  author={"id": "u2", "handle": "@taro", "name": "Taro"})).ticket_key
    return urgent, normal


def due(runtime, key: str, lang: str) -> str:
    """How the answer shows the ticket's live deadline: the view's due moment in the desk's zone
    and the view's SLA state, in `lang`."""
    with runtime.session_factory() as session:
        view = load_view(session, key, rules=runtime.rules, now=runtime.clock())
    when = view.sla.due_at.astimezone(runtime.rules.business_hours.tz).strftime("%Y-%m-%d %H:%M")
    return t("teams.cmd.due", lang, when=when, state=t(f"sla.state.{view.sla.state}", lang))


def stored(runtime, key: str) -> SimpleNamespace:
    """What the database holds of the ticket (read in a session of its own)."""
    with runtime.session_factory() as session:
        ticket = session.get(Ticket, int(key[2:]))
        return SimpleNamespace(id=ticket.id, assignee=ticket.assignee, priority=ticket.priority,
                               tags=list(ticket.tags), tier=ticket.customer.tier)


def test_every_slack_ticket_verb_is_offered_in_teams():
    teams = commands.verbs_of("teams")
    assert set(SLACK_ONLY_BEFORE) <= set(teams) <= set(commands.verbs_of("slack"))
    # in the same help order as Slack's
    assert [verb for verb in commands.verbs_of("slack") if verb in teams] == list(teams)


def test_show_renders_the_view_in_english_and_japanese(teams_runtime, client, tickets):
    urgent, _ = tickets
    text = ask(client, f"ticket show {urgent.lower()}")
    lines = text.splitlines()
    assert lines[0] == f"**🔴 Urgent · {urgent} · L3**"
    # the customer's words cannot form a link
    assert lines[1] == r"> 二重請求されてます \[詳細\](http://evil.example)"
    assert "- **Status**: New" in lines and "- **Assignee**: unassigned" in lines
    with teams_runtime.session_factory() as session:
        view = load_view(session, urgent, rules=teams_runtime.rules, now=teams_runtime.clock())
    when = view.sla.due_at.astimezone(teams_runtime.rules.business_hours.tz).strftime("%Y-%m-%d %H:%M")
    assert f"- **SLA due**: {when} (on time)" in lines
    japanese = ask(client, f"show {urgent}", locale="ja-JP").splitlines()
    assert japanese[0] == f"**🔴 大至急 · {urgent} · L3**"
    assert f"- **SLA 期限**: {when} (期限内)" in japanese and "- **状態**: 新規" in japanese
    assert ask(client, "ticket show T-99") == "⚠️ No ticket T-99."


def test_queue_lists_overdue_first_with_their_state(teams_runtime, client, tickets, clock):
    urgent, normal = tickets
    text = ask(client, "ticket queue")
    assert text.splitlines() == [
        "**Queue: overdue and unassigned (2)**",
        f"- **🔴 Urgent · {urgent} · L3** · New · unassigned · {due(teams_runtime, urgent, 'en')}"
        r" — @hanako: 二重請求されてます \[詳細\](http://evil.example)",
        f"- **🟢 Normal · {normal} · L1** · New · unassigned · {due(teams_runtime, normal, 'en')}"
        " — @taro: 使い方を教えてください",
    ]
    assert "(on time)" in text
    # the urgent ticket's deadline passes: the read model calls it breached, and it stays first
    with teams_runtime.session_factory() as session:
        view = load_view(session, urgent, rules=teams_runtime.rules, now=clock())
    clock.advance(seconds=(view.sla.due_at - clock()).total_seconds() + 60)
    japanese = ask(client, "ticket queue", locale="ja-JP").splitlines()
    assert japanese[0] == "**キュー: 期限超過と未割り当て（2）**"
    assert japanese[1].startswith(f"- **🔴 大至急 · {urgent} · L3** · 新規 · 未割り当て · 期限 ")
    assert japanese[1].endswith(r"（期限超過） — @hanako: 二重請求されてます \[詳細\](http://evil.example)")
    assert due(teams_runtime, urgent, "ja") in japanese[1]


def test_mine_and_search(teams_runtime, client, tickets):
    urgent, normal = tickets
    assert ask(client, "ticket mine") == "**Your open tickets (0)**\nNo tickets."
    assert ask(client, f"ticket claim {normal}") == f"✅ {normal} is yours."
    mine = ask(client, "ticket mine", locale="ja-JP").splitlines()
    assert mine == ["**自分の担当（1）**",
                    f"- **🟢 通常 · {normal} · L1** · 対応中 · Sato · {due(teams_runtime, normal, 'ja')}"
                    " — @taro: 使い方を教えてください"]
    found = ask(client, "ticket search 二重請求").splitlines()
    assert found[0] == "**Search “二重請求” (1)**" and found[1].startswith(f"- **🔴 Urgent · {urgent} · L3**")
    assert ask(client, "search nothing-like-this", locale="ja-JP") == \
        "**「nothing-like-this」の検索結果（0）**\nチケットはありません。"
    assert ask(client, "ticket search") == "⚠️ Usage: search WORDS"


def test_assign_by_email_mention_or_id_for_leads_only(teams_runtime, client, tickets):
    urgent, normal = tickets
    assert ask(client, f"ticket assign {urgent} sato@acme.example") == \
        "⛔ You need the lead role to assign tickets."
    assert stored(teams_runtime, urgent).assignee is None
    assert ask(client, f"ticket assign {urgent} SATO@acme.example", who=LEAD) == f"✅ {urgent} is now Sato's."
    assert stored(teams_runtime, urgent).assignee == AGENT["user"]
    # an @mention of the person, as Teams puts it in the message
    assert ask(client, f"ticket assign {normal} <at>Lead</at>", who=LEAD, locale="ja-JP") == \
        f"✅ {normal} を Lead さんの担当にしました。"
    assert stored(teams_runtime, normal).assignee == LEAD["user"]
    assert ask(client, f"ticket assign {normal} U0AGENT001", who=LEAD) == f"✅ {normal} is now Sato's."
    assert ask(client, f"ticket assign {normal} bob@elsewhere.example", who=LEAD) == \
        "⚠️ “bob@elsewhere.example” is nobody under teams.people in rules.yaml; name them by sign-in e-mail," \
        " @mention or user id."
    assert stored(teams_runtime, normal).assignee == AGENT["user"]


def test_tag_priority_tier_and_note_change_what_is_stored(teams_runtime, client, tickets):
    urgent, _ = tickets
    assert ask(client, f"ticket tag {urgent} returns -billing") == f"✅ Tags of {urgent} updated."
    assert ask(client, f"ticket priority {urgent} green", locale="ja-JP") == f"✅ {urgent} の優先度を更新しました。"
    assert ask(client, f"ticket priority {urgent} purple") == \
        "⚠️ 'purple' is not a valid priority (choose from: red, orange, green)."
    assert ask(client, f"ticket tier {urgent} premium") == "⛔ You need the lead role to change a customer's tier."
    assert ask(client, f"ticket tier {urgent} premium", who=LEAD, locale="ja-JP") == \
        f"✅ {urgent} のお客さまを premium にしました。未解決チケットの期限を再計算しました。"
    assert ask(client, f"ticket note {urgent} 返金は経理に確認中") == f"✅ Note added to {urgent}."
    ticket = stored(teams_runtime, urgent)
    assert ticket.tags == ["returns"] and ticket.priority == "green" and ticket.tier == "premium"
    with teams_runtime.session_factory() as session:
        notes = session.scalars(select(Message).where(Message.ticket_id == ticket.id,
                                                      Message.direction == "note")).all()
        kinds = [event.kind for event in session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id))]
    assert [(note.text, note.author_id) for note in notes] == [("返金は経理に確認中", AGENT["user"])]
    assert kinds[0] == "created" and {"tagged", "priority_changed", "tier_changed"} <= set(kinds)
    # the show answer reflects it all
    shown = ask(client, f"ticket show {urgent}")
    assert shown.startswith(f"**🟢 Normal · {urgent} · L3**") and "- **Tags**: #returns" in shown


def test_the_word_ticket_is_optional_and_alone_is_the_help(client, tickets):
    urgent, _ = tickets
    assert ask(client, f"<at>chatops</at> ticket claim {urgent}") == f"✅ {urgent} is yours."
    assert ask(client, "ticket") == ask(client, "help") == ask(client, "ticket help")


@pytest.mark.parametrize("lang, locale", [("en", "en-US"), ("ja", "ja-JP")])
def test_help_lists_every_verb_with_its_usage(client, lang, locale):
    text = ask(client, "help", locale=locale)
    for verb in teams_commands.all_verbs():
        assert f"- `{t(f'teams.cmd.usage.{verb}', lang)}` — {t(f'teams.cmd.about.{verb}', lang)}" in text


def test_docs_command_table_lists_every_verb_the_help_does():
    table = DOCS.read_text("utf-8").split("| @chatops … | does |", 1)[1].split("\n\n", 1)[0]
    documented = {match.split()[0] for match in re.findall(r"`(?:ticket )?([^`]+)`", table)}
    assert set(teams_commands.all_verbs()) <= documented
