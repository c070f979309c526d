"""Lemma and examples stages of triage, and how `rules test` explains a decision."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chatops.rules import RulesError, parse_rules
from tests.unit.test_rules_engine import engine_for

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_RULES = [
    {"id": "late", "lemmas": ["not:届く", "not:arrive"], "set": {"priority": "orange"}},
    {"id": "wrong", "lemmas": ["違う"], "set": {"priority": "red"}},
    {"id": "debit", "lemmas": ["引き落とす", "charge"], "set": {"priority": "red"}},
]


@pytest.mark.parametrize("text", ["届かない", "まだ届いていないです", "荷物が届きません", "it has not arrived"])
def test_negated_lemma_matches_every_negative_form(text):
    triage = engine_for(EXAMPLE_RULES).triage(text, "x", "mention")
    assert (triage.matched, triage.stage) == (["late"], "lemma")


def test_affirmative_form_does_not_match_a_negated_lemma():
    assert engine_for(EXAMPLE_RULES).triage("荷物が届きました", "x", "mention").matched == []


@pytest.mark.parametrize("text", ["色が違う", "色が違います", "色が違った"])
def test_conjugations_match_the_dictionary_form(text):
    assert engine_for(EXAMPLE_RULES).triage(text, "x", "mention").matched == ["wrong"]


def test_negated_form_does_not_match_an_affirmative_lemma():
    assert engine_for(EXAMPLE_RULES).triage("色は違わないです", "x", "mention").matched == []


@pytest.mark.parametrize("text", ["2回引き落とされた", "my card was charged two times"])
def test_passive_and_english_inflections_match(text):
    assert engine_for(EXAMPLE_RULES).triage(text, "x", "mention").matched == ["debit"]


def test_literal_rule_wins_before_analysis_and_keeps_its_outcome():
    engine = engine_for([{"id": "lit", "any": ["届かない"], "set": {"priority": "green"}}, *EXAMPLE_RULES])
    triage = engine.triage("届かない", "x", "mention")
    assert (triage.matched, triage.stage, triage.keywords) == (["lit"], "keyword", ["届かない"])


EXAMPLES = [
    {"id": "billing", "examples": ["同じ額が二回引かれてる", "明細に同額が2件ある", "charged two times for one order",
                                   "二重に請求されてる気がする"], "set": {"priority": "red"}},
    {"id": "thanks", "examples": ["ありがとうございました", "助かりました", "thanks a lot", "感謝です"],
     "set": {"priority": "green"}},
]


def test_examples_classifier_decides_when_no_keyword_fires():
    triage = engine_for(EXAMPLES).triage("明細に同じ額が2回あります", "x", "mention")
    assert (triage.matched, triage.priority, triage.stage) == (["billing"], "red", "examples")
    assert "score=" in triage.reason


def test_examples_below_the_minimum_score_leave_the_default():
    rules = [dict(rule, examples_min_score=0.99) for rule in EXAMPLES]
    triage = engine_for(rules).triage("明細に同じ額が2回あります", "x", "mention")
    assert (triage.matched, triage.priority, triage.stage) == ([], "green", "none")
    assert "below examples_min_score" in triage.reason


def test_examples_never_lower_a_keyword_decision():
    engine = engine_for([{"id": "urgent", "any": ["至急"], "set": {"priority": "red"}}, *EXAMPLES])
    triage = engine.triage("至急、ありがとうございました", "x", "mention")
    assert (triage.priority, triage.stage) == ("red", "keyword")


def _document(rule: dict) -> str:
    return json.dumps({
        "channels": {"support": {"slack": "#cs"}}, "defaults": {"channel": "support"},
        "sla": {"policies": [{"priority": "green", "first_response": "1h", "resolution": "1d"}]},
        "keyword_rules": [rule],
    }, ensure_ascii=False, indent=1)


@pytest.mark.parametrize("rule, message", [
    ({"id": "a", "lemmas": ["届かない"]}, "not:"),
    ({"id": "a", "lemmas": ["not: "]}, "must not be empty"),
    ({"id": "a", "examples": ["x", "yy", "zz"]}, "too short"),
    ({"id": "a", "examples": ["同じ", "同じ", "違う"]}, "twice"),
])
def test_bad_lemmas_and_examples_give_file_line_errors(rule, message):
    with pytest.raises(RulesError) as error:
        parse_rules(_document(rule), path="rules.yaml")
    assert any(problem.startswith("rules.yaml:") and message in problem for problem in error.value.problems)


def test_bundled_rules_triage_a_coupon_question_green():
    from chatops.rules import RulesEngine, load_rules
    triage = RulesEngine(load_rules(ROOT / "rules.yaml")).triage("このクーポンは使えないの?", "x", "mention")
    assert (triage.priority, triage.matched) == ("green", ["coupon-question"])


def test_rules_test_names_stage_and_reason():
    output = subprocess.run(
        [sys.executable, "-m", "chatops", "rules", "test", "--rules", str(ROOT / "rules.yaml"),
         "--text", "荷物がいつになっても来ない", "--json"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout
    row = json.loads(output)
    assert (row["stage"], row["matched"]) == ("lemma", ["not-delivered"])
    assert row["reason"] == "lemmas=not:来る"


def test_a_later_stage_deciding_over_a_tag_only_keyword_names_both():
    engine = engine_for([{"id": "praise", "any": ["ありがとう"], "set": {"tags": ["praise"]}}, *EXAMPLE_RULES])
    triage = engine.triage("ありがとう、でも2回引き落とされた", "x", "mention")
    assert (triage.stage, triage.priority, triage.matched, triage.tags) == ("lemma", "red", ["praise", "debit"], ["praise"])
    assert triage.reason == "lemmas=引き落とす  keywords=ありがとう"
