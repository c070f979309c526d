"""Issue 22, suggested answers: a rule's `replies:` is checked at load (file:line, ja and en),
suggest() ranks canned replies by matched rule, tag and the classifier's intent, and
`chatops rules test` shows the suggestion in text and JSON."""

from __future__ import annotations

import json

import pytest

from chatops.i18n import t
from chatops.rules.suggest import Suggestion, suggest
from tests.conftest import RULES_PATH
from tests.helpers import cli_env
from tests.helpers import run_cli as run


@pytest.fixture
def env(monkeypatch, tmp_path, database_url):
    return cli_env(monkeypatch, tmp_path, database_url)


def test_suggest_ranks_matched_rules_then_tags_then_intent(rules):
    found = suggest(rules, matched_rules=["double-charge"], tags=["shipping"], intent=("how-to", 0.3))
    assert [s.canned_id for s in found] == ["billing-double-charge", "ask-order-number-dm", "shipping-status",
                                            "help-center"]
    assert found[0] == Suggestion("billing-double-charge", "rule", "double-charge")
    assert found[2] == Suggestion("shipping-status", "tag", "not-delivered", tag="shipping")
    assert found[3].describe("en") == "looks like how-to, examples score 0.30"
    assert found[3].describe("ja") == "how-to に近い投稿・例文スコア 0.30"
    assert suggest(rules) == []


def test_rules_test_shows_the_suggestion(env, capsys):
    code, out, _ = run(capsys, "--lang", "en", "rules", "test", "--text", "I was charged twice for one order")
    assert code == 0
    assert "suggest=billing-double-charge (matches rule double-charge); ask-order-number-dm (matches rule " \
           "double-charge)" in out
    code, out, _ = run(capsys, "--lang", "ja", "rules", "test", "--text", "I was charged twice for one order")
    assert "定型文=billing-double-charge (ルール double-charge に一致)" in out
    code, out, _ = run(capsys, "rules", "test", "--json", "--text", "I was charged twice for one order")
    row = json.loads(out)
    assert row["suggested"][:2] == [{"canned_id": "billing-double-charge", "reason": "rule", "rule": "double-charge"},
                                    {"canned_id": "ask-order-number-dm", "reason": "rule", "rule": "double-charge"}]


def test_rules_test_names_the_classifier_score_when_examples_decided(env, capsys):
    code, out, _ = run(capsys, "rules", "test", "--json", "--text", "明細に同じ額が二回載ってます")
    row = json.loads(out)
    assert code == 0 and row["stage"] == "examples" and row["matched"] == ["double-charge"]
    first = row["suggested"][0]
    assert first["canned_id"] == "billing-double-charge" and first["reason"] == "examples"
    assert f"(rule {first['score']:.2f})" in row["reason"]


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_broken_replies_reference_is_reported_at_its_line(env, capsys, lang, rules):
    broken = env / "broken.yaml"
    text = RULES_PATH.read_text("utf-8").replace("replies: [billing-double-charge,", "replies: [billing-double,", 1)
    broken.write_text(text, "utf-8")
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "billing-double," in row)
    code, _, err = run(capsys, "--lang", lang, "rules", "check", str(broken))
    defined = ", ".join(reply.id for reply in rules.canned_replies)
    assert code == 2
    assert err.strip() == f"{broken}:{line}: keyword_rules[0].replies[0]: " + t(
        "rules.not_a_canned_reply", lang, value="billing-double", defined=defined)
