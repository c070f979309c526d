"""Card builders: Adaptive Card 1.4 shape, the 28 KB limit, both languages, rules.yaml Teams fields."""

from __future__ import annotations

from datetime import UTC, datetime

import jsonschema
import pytest

from chatops.i18n import t
from chatops.rules import RulesError, load_rules
from chatops.teams import cards
from chatops.views import CustomerView, TicketView
from tests.conftest import RULES_PATH
from tests.teams.conftest import card_text, validate_card

LINKS = {"claim": "https://chatops.example.test/teams/act?token=a.b.c",
         "resolve": "https://chatops.example.test/teams/act?token=d.e.f",
         "open": "https://x.com/hanako/status/1"}


def view(text: str = "二重請求されました", **fields) -> TicketView:
    base = dict(id=12, key="T-12", status="new", priority="red", level="L3", channel="support-urgent",
                source="x", account="@acme_jp", text=text, customer=CustomerView(handle="@hanako"), assignee=None,
                tags=("billing",), url="https://x.com/hanako/status/1",
                created_at=datetime(2026, 11, 20, 1, 0, tzinfo=UTC),
                first_response_due_at=datetime(2026, 11, 20, 1, 30, tzinfo=UTC))
    base.update(fields)
    return TicketView.at(datetime(2026, 11, 20, 1, 5, tzinfo=UTC), **base)


@pytest.mark.parametrize("lang, expected", [
    ("ja", ["🔴 大至急 · T-12 · L3", "状態: 新規", "SLA 期限: 2026-11-20 10:30", "タグ: #billing"]),
    ("en", ["🔴 Urgent · T-12 · L3", "Status: New", "SLA due: 2026-11-20 10:30", "Tags: #billing"]),
])
def test_ticket_card_is_valid_and_readable_in_both_languages(rules, lang, expected):
    card = cards.ticket_card(view(), line=cards.event_line("created", "customer:1", {}, rules, lang),
                             quote="二重請求されました", links=LINKS, rules=rules, lang=lang)
    validate_card(card)
    assert card["version"] == "1.4"
    text = card_text(card)
    for part in expected:
        assert part in text  # times in the team's time zone (Asia/Tokyo)
    assert [a["type"] for a in card["actions"]] == ["Action.OpenUrl"] * 3


def test_the_schema_refuses_what_webhooks_do_not_take(rules):
    card = cards.ticket_card(view(), line=None, quote=None, links=LINKS, rules=rules, lang="en")
    card["actions"].append({"type": "Action.Submit", "title": "Claim", "data": {"ticket": "T-12"}})
    with pytest.raises(jsonschema.ValidationError):
        validate_card(card)
    with pytest.raises(jsonschema.ValidationError):
        validate_card({**card, "version": "1.5", "actions": []})


def test_huge_texts_are_cut_to_fit_28_kb(rules):
    huge = "炎上しそうです。" * 3000  # about 72 KB of UTF-8
    message = cards.fit(lambda budget: cards.workflows_message(cards.ticket_card(
        view(huge), line="line " * 2000, quote=huge, links=LINKS, rules=rules, lang="ja", text_budget=budget)))
    assert cards.message_size(message) <= cards.MAX_MESSAGE_BYTES
    card = message["attachments"][0]["content"]
    validate_card(card)
    assert "炎上しそうです。" in card_text(card) and "…" in card_text(card)


def test_an_edit_that_raised_the_priority_says_so(rules):
    payload = {"text_from": "ポイントの使い方を教えてください", "text_to": "カードに二重請求されています",
               "priority_from": "green", "priority_to": "red"}
    line = cards.event_line("message_edited", "customer:1", payload, rules, "ja")
    assert line == t("teams.line.message_edited_raised", "ja", label=cards.priority_label("red", rules, "ja"),
                     text="カードに二重請求されています")
    plain = cards.event_line("message_edited", "customer:1", {"text_to": "訂正です"}, rules, "en")
    assert plain == t("teams.line.message_edited", "en", text="訂正です")


def test_a_message_that_cannot_fit_is_an_error():
    with pytest.raises(ValueError, match="28672 bytes"):
        cards.fit(lambda budget: {"text": "x" * 40000})


def test_unknown_event_kinds_still_get_a_line(rules):
    assert cards.event_line("page_triggered", "system", {}, rules, "en") == "chatops: page_triggered"
    assert cards.event_line("sla_breached", "system", {}, rules, "ja") == "🚨 SLA の期限を過ぎました。"


def test_rules_yaml_teams_fields_load_and_bad_ones_name_the_line(tmp_path):
    text = RULES_PATH.read_text("utf-8")
    text = text.replace('    slack: "#cs-support"\n',
                        '    slack: "#cs-support"\n    teams_webhook: https://acme.example/workflows/1\n'
                        '    teams_format: messagecard\n', 1)
    good = text + ("\nteams:\n  people:\n    - {user: U0AGENT001, aad: 0f1e2d3c, upn: sato@acme.example, "
                   "name: 佐藤}\n")
    path = tmp_path / "rules.yaml"
    path.write_text(good, "utf-8")
    rules = load_rules(path)
    assert rules.channels["support"].teams_format == "messagecard"
    assert rules.teams.person(upn="SATO@acme.example").user == "U0AGENT001"
    assert rules.teams.person(aad="0F1E2D3C").name == "佐藤"
    bad = text + "\nteams:\n  people:\n    - {user: U0AGENT001, name: 佐藤}\n"
    path.write_text(bad, "utf-8")
    with pytest.raises(RulesError) as error:
        load_rules(path)
    lines = len(bad.splitlines())
    assert f"rules.yaml:{lines}:" in str(error.value) and "aad, upn or both" in str(error.value)


def test_one_teams_identity_for_two_people_is_refused(tmp_path):
    text = RULES_PATH.read_text("utf-8") + (
        "\nteams:\n  people:\n    - {user: U0AGENT001, upn: sato@acme.example}\n"
        "    - {user: U0AGENT002, upn: SATO@acme.example}\n")
    path = tmp_path / "rules.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(RulesError, match="listed for two people"):
        load_rules(path)


@pytest.mark.parametrize("variable, value", [("TEAMS_LINK_SECRET", "short"), ("TEAMS_PUBLIC_URL", "chatops.example"),
                                             ("TEAMS_LINK_TTL", "5"), ("TEAMS_OUTGOING_TOKEN", "not base64!")])
def test_bad_teams_settings_name_the_variable(monkeypatch, variable, value):
    from pydantic import ValidationError

    from chatops.settings import load_settings

    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as error:
        load_settings(_env_file=None)
    assert variable in str(error.value)


def test_chatops_own_actors_are_named_as_chatops(rules):
    """The SLA clock, an integration or rules.yaml acting: the card names chatops, not an actor id."""
    assert cards.event_line("pending", "chatops:sla", {}, rules, "en") == "chatops is waiting on the customer."
    assert "chatops:webhook" not in cards.event_line("tier_changed", "chatops:webhook", {"tier_to": "premium"},
                                                     rules, "ja")
