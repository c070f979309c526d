"""KeywordMatcher: kana keywords spelled out in katakana and hiragana, and the folded-text fallback."""

import re
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatops.rules import matcher as matcher_module
from chatops.rules import normalize
from chatops.rules.engine import _literal_prefix
from chatops.rules.matcher import KeywordMatcher, spellings
from tests.unit.test_rules_engine import ALPHABET, engine_for, naive_matched, rule_specs


def test_spellings_of_a_folded_keyword():
    assert sorted(spellings("ろぐ")) == ["ろぐ", "ろグ", "ロぐ", "ログ"]
    assert spellings("漢ー") == ["漢ー"]  # nothing to spell: ー has no hiragana
    assert all(normalize(spelling, kana=True) == "ゔぁい" for spelling in spellings("ゔぁい"))


def hits(matcher: KeywordMatcher, text: str) -> set[int]:
    found: set[int] = set()
    matcher.find(normalize(text), found)
    return found


@pytest.mark.parametrize("fallback", [False, True])
def test_kana_keywords_hit_any_spelling_and_plain_ones_only_their_own(monkeypatch, fallback):
    if fallback:
        monkeypatch.setattr(matcher_module, "MAX_FOLDABLE", 0)
    matcher = KeywordMatcher([("ろぐいん", 0, True), ("パスワード", 1, False), ("ad", 2, False)])
    assert matcher._over_folded_text is fallback
    assert hits(matcher, "ﾛｸﾞｲﾝできない") == {0}
    assert hits(matcher, "ろグイん パスワード") == {0, 1}
    assert hits(matcher, "ぱすわーど already ad!") == {2}


def test_too_many_spellings_fall_back_to_folding_posts(monkeypatch):
    monkeypatch.setattr(matcher_module, "MAX_SPELLINGS", 10)
    matcher = KeywordMatcher([("ろぐいん", 0, True)])  # 16 spellings
    assert matcher._over_folded_text
    assert hits(matcher, "ログイン") == {0}


@settings(max_examples=150, deadline=None)
@given(rule_specs, st.lists(st.text(alphabet=ALPHABET, max_size=20), min_size=1, max_size=5), st.sampled_from(["x", "line"]))
def test_folded_text_fallback_agrees_with_naive_matcher(specs, texts, source):
    rules = [{"id": f"r{index}", **spec} for index, spec in enumerate(specs)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(matcher_module, "MAX_FOLDABLE", 0)
        engine = engine_for(rules)
    for text in texts:
        assert engine.triage(text, source, "mention").matched == naive_matched(rules, text, source)


def test_regex_of_a_kana_rule_sees_the_folded_text():
    engine = engine_for([
        {"id": "folded", "kana": True, "regex": ["ろぐいん\\d+"]},
        {"id": "plain", "regex": ["ログイン\\d+"]},
    ])
    assert engine.triage("ログイン123", "x", "mention").matched == ["folded", "plain"]
    assert engine.triage("ろぐいん123", "x", "mention").matched == ["folded"]


def compiles(pattern: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # "possible nested set"
            re.compile(pattern)
    except re.error:
        return False
    return True


@pytest.mark.filterwarnings("ignore::FutureWarning")
@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet="ab |()[]^*+?{}\\.1,-", max_size=10).filter(compiles),
    st.lists(st.text(alphabet="ab |()[]^*+?{}\\.1,-", max_size=12), min_size=1, max_size=5),
)
def test_regex_literal_prefix_is_in_every_text_the_regex_matches(pattern, texts):
    prefix = _literal_prefix(pattern)
    assert pattern.startswith(prefix)
    for text in texts:
        if re.search(pattern, text):
            assert prefix in text


def test_regex_literal_prefixes():
    assert _literal_prefix(r"注文番号\D{0,4}\d{6,}") == "注文番号"
    assert _literal_prefix(r"order\s*(?:number|no\.?)?\s*[:#]?\d{6,}") == "order"
    assert _literal_prefix("refunds?") == "refund"
    assert _literal_prefix("ab(c)|d") == _literal_prefix("ab[]|]|c") == _literal_prefix("(?i)ab") == ""
