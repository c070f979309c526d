"""Triage: keyword/regex conditions, normalisation, combination of rules, routing, and a naive oracle."""

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatops.rules import KINDS, SOURCES, RulesEngine, load_rules, normalize, parse_rules

ROOT = Path(__file__).resolve().parents[2]


def engine_for(keyword_rules: list[dict], routing: list | None = None, **defaults) -> RulesEngine:
    """An engine over the given keyword rules, four channels, and optional routing/defaults."""
    document = {
        "channels": {name: {"slack": f"#cs-{name}"} for name in ("support", "urgent", "returns", "sales")},
        "defaults": {"channel": "support", **defaults},
        "sla": {"policies": [{"priority": p, "first_response": "1h", "resolution": "1d"} for p in ("red", "orange", "green")]},
        "keyword_rules": keyword_rules,
        "routing": routing or [],
    }
    return RulesEngine(parse_rules(json.dumps(document, ensure_ascii=False)))


def matched(engine: RulesEngine, text: str, source: str = "x", kind: str = "mention") -> list[str]:
    """Ids of the rules text matches."""
    return engine.triage(text, source, kind).matched


@pytest.fixture(scope="module")
def shipped() -> RulesEngine:
    return RulesEngine(load_rules(ROOT / "rules.yaml"))


def test_any_all_exclude():
    engine = engine_for([
        {"id": "any", "any": ["refund", "返金"]},
        {"id": "all", "all": ["card", "twice"]},
        {"id": "excluded", "any": ["障害"], "exclude": ["障害者"]},
    ])
    assert matched(engine, "I want a refund") == ["any"]
    assert matched(engine, "返金してください") == ["any"]
    assert matched(engine, "my card was charged twice") == ["all"]
    assert matched(engine, "my card was charged") == []
    assert matched(engine, "サーバー障害です") == ["excluded"]
    assert matched(engine, "障害者割引について。障害ではありません") == []


def test_any_and_all_together_need_both():
    engine = engine_for([{"id": "both", "any": ["refund", "return"], "all": ["order"]}])
    assert matched(engine, "refund my order") == ["both"]
    assert matched(engine, "refund please") == []
    assert matched(engine, "my order") == []


def test_regex_alone_and_with_keywords():
    engine = engine_for([
        {"id": "order-number", "regex": [r"注文番号\D{0,4}\d{6,}", r"order\s*#?\d{6,}"]},
        {"id": "refund-with-number", "any": ["refund"], "regex": [r"\d{6,}"]},
        {"id": "capitals", "regex": ["ORDER-[A-Z]{3}"]},
    ])
    assert matched(engine, "注文番号：１２３４５６７") == ["order-number"]  # full-width digits and colon normalised
    assert matched(engine, "Order #1234567") == ["order-number"]
    assert matched(engine, "refund 1234567") == ["refund-with-number"]
    assert matched(engine, "refund please") == []
    assert matched(engine, "ref order-abc") == ["capitals"]  # a pattern with capitals matches case-insensitively


def test_sources_and_kinds_filters():
    engine = engine_for([{"id": "public", "any": ["refund"], "sources": ["x", "bluesky"], "kinds": ["mention", "reply"]}])
    assert matched(engine, "refund", "x", "mention") == ["public"]
    assert matched(engine, "refund", "bluesky", "reply") == ["public"]
    assert matched(engine, "refund", "line", "mention") == []
    assert matched(engine, "refund", "x", "dm") == []


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("Refund!", True), ("refund?", True), ("(refund)", True), ("refundしたい", True), ("返金refund", True),
        ("refunds", False), ("nonrefundable", False), ("refund_id", False), ("ad", True), ("already", False),
        ("an ad.", True), ("ＡＤ", True), ("double charge", True), ("double charged", False), ("double  charge", False),
    ],
)
def test_latin_keywords_match_whole_words(text, hit):
    engine = engine_for([{"id": "words", "any": ["refund", "ad", "double charge"]}])
    assert (matched(engine, text) == ["words"]) is hit


def test_japanese_keywords_match_anywhere_and_boundaries_skip_non_word_ends():
    engine = engine_for([{"id": "ja", "any": ["返品", "#acme", "down?"]}])
    assert matched(engine, "この商品を返品したい") == ["ja"]
    assert matched(engine, "love#acme") == ["ja"]  # '#' is not a word character: no boundary needed before it
    assert matched(engine, "is it down?") == ["ja"]
    assert matched(engine, "#acmestore") == []  # ...but after 'e' there must be one


def test_full_width_and_half_width_forms():
    engine = engine_for([{"id": "login", "any": ["ログイン", "login"]}])
    assert matched(engine, "ﾛｸﾞｲﾝできない") == ["login"]
    assert matched(engine, "ＬＯＧＩＮ ｆａｉｌｓ") == ["login"]
    assert matched(engine, "ろぐいんできない") == []


def test_kana_folding_only_for_rules_that_ask():
    engine = engine_for([
        {"id": "folded", "kana": True, "any": ["ログイン"]},
        {"id": "strict", "any": ["ろぐいん"]},
        {"id": "katakana", "any": ["パスワード"]},
    ])
    assert matched(engine, "ろぐいんできない") == ["folded", "strict"]
    assert matched(engine, "ログインできない") == ["folded"]
    assert matched(engine, "ロぐイン") == ["folded"]
    assert matched(engine, "ぱすわーど") == []
    assert matched(engine, "ﾊﾟｽﾜｰﾄﾞ") == ["katakana"]


def test_combination_of_matched_rules():
    engine = engine_for([
        {"id": "praise", "any": ["thanks"], "set": {"tags": ["praise"], "channel": "sales"}},
        {"id": "returns", "any": ["return"], "set": {"priority": "orange", "level": "L2", "tags": ["returns"],
                                                      "channel": "returns", "notify": ["@returns-lead", "U0LEAD"]}},
        {"id": "outage", "any": ["outage"], "set": {"priority": "red", "level": "L1", "tags": ["outage"], "notify": ["U0LEAD"]}},
        {"id": "urgent-too", "any": ["now"], "set": {"priority": "red", "channel": "urgent"}},
        {"id": "expert", "any": ["api"], "set": {"level": "L3", "tags": ["api", "outage"], "notify": ["@sre"]}},
    ])
    triage = engine.triage("thanks but the api outage means I must return this now", "x", "mention")
    assert triage.matched == ["praise", "returns", "outage", "urgent-too", "expert"]
    assert triage.keywords == ["thanks", "return", "outage", "now", "api"]
    assert (triage.priority, triage.level) == ("red", "L3")
    assert triage.tags == ["api", "outage", "praise", "returns"]
    assert triage.channel == "urgent"  # the most urgent rule naming a channel
    assert triage.notify == ["@returns-lead", "U0LEAD", "@sre"]
    assert triage.to_dict() == {
        "matched": triage.matched, "keywords": triage.keywords, "priority": "red", "level": "L3",
        "tags": triage.tags, "channel": "urgent", "notify": triage.notify,
    }
    # Equal priority: the rule higher up in the file names the channel.
    assert engine.triage("thanks, return it", "x", "mention").channel == "returns"
    assert engine.triage("thanks", "x", "mention").channel == "sales"


def test_keywords_are_reported_as_written_once_each():
    engine = engine_for([
        {"id": "a", "any": ["Refund", "返金"], "all": ["ＯＲＤＥＲ"]},
        {"id": "b", "any": ["refund"]},
    ])
    assert engine.triage("order refund 返金", "x", "dm").keywords == ["Refund", "返金", "ＯＲＤＥＲ", "refund"]


def test_routing_fallback_and_defaults():
    routing = [
        {"priorities": ["red"], "channel": "urgent"},
        {"tags": ["returns"], "channel": "returns"},
        {"sources": ["line"], "kinds": ["dm"], "channel": "sales"},
    ]
    engine = engine_for([
        {"id": "outage", "any": ["outage"], "set": {"priority": "red"}},
        {"id": "returns", "any": ["return"], "set": {"tags": ["returns"]}},
    ], routing, priority="orange", level="L2")
    assert engine.triage("outage", "x", "mention").channel == "urgent"
    assert engine.triage("return", "x", "mention").channel == "returns"
    assert engine.triage("hello", "line", "dm").channel == "sales"
    unmatched = engine.triage("hello", "line", "mention")
    assert (unmatched.matched, unmatched.priority, unmatched.level, unmatched.channel) == ([], "orange", "L2", "support")
    assert unmatched.tags == unmatched.keywords == unmatched.notify == []


def test_unknown_source_or_kind_is_a_programming_error():
    engine = engine_for([{"id": "a", "any": ["x"]}])
    with pytest.raises(ValueError):
        engine.triage("x", "myspace", "mention")
    with pytest.raises(ValueError):
        engine.triage("x", "x", "tweet")


def test_no_keyword_rules_at_all():
    assert engine_for([]).triage("anything", "x", "dm").channel == "support"


def test_returns_notify_the_returns_lead(shipped):
    triage = shipped.triage("先日買った靴を返品したいです", "x", "mention")
    assert "returns" in triage.matched and "returns" in triage.tags
    assert "@returns-lead" in triage.notify and triage.channel == "returns" and triage.priority == "orange"


@pytest.mark.parametrize(
    ("text", "priority", "level", "channel"),
    [
        ("二重請求されています", "red", "L3", "support-urgent"),
        ("ｻｲﾄにﾛｸﾞｲﾝできない", "red", "L3", "support-urgent"),
        ("ACME Cloud is down?", "red", "L3", "support-urgent"),
        ("違う商品が届きました", "red", "L2", "support-urgent"),
        ("訴えるぞ、消費者センターに言う", "red", "L3", "support-urgent"),
        ("まだ届かないんですが", "orange", "L2", "support"),
        ("在庫ありますか？", "orange", "L1", "sales"),
        ("使い方を教えてください", "green", "L1", "support"),
        ("障害者割引はありますか", "green", "L1", "support"),
        ("I already love it", "green", "L1", "support"),
    ],
)
def test_shipped_rules_triage(shipped, text, priority, level, channel):
    triage = shipped.triage(text, "x", "mention")
    assert (triage.priority, triage.level, triage.channel) == (priority, level, channel)


def test_examples_triage_realistically(shipped):
    messages = [json.loads(line) for line in (ROOT / "examples" / "mentions.jsonl").read_text("utf-8").splitlines()]
    assert len(messages) >= 45
    results = [shipped.triage(m["text"], m["source"], m["kind"]) for m in messages]
    assert {t.priority for t in results} == {"red", "orange", "green"}
    outage = [t for m, t in zip(messages, results, strict=True) if m["created_at"].startswith("2026-11-21T10:0")]
    assert len(outage) >= 8 and all(t.priority == "red" and "outage" in t.matched for t in outage)


# --- properties ---------------------------------------------------------------------------------

ALPHABET = "ab -!アあｱＡ漢ー"
words = st.text(alphabet=ALPHABET, min_size=1, max_size=4).filter(lambda w: normalize(w).strip())
WORD = r"[^\W\u2e80-\U0010ffff]"  # a word character outside the CJK blocks


def naive_hit(keyword: str, text: str, kana: bool) -> bool:
    """Does keyword occur in text, with `re` lookarounds for word boundaries (the oracle)."""
    needle, haystack = normalize(keyword, kana).strip(), normalize(text, kana)
    left = f"(?<!{WORD})" if re.match(WORD, needle[0]) else ""
    right = f"(?!{WORD})" if re.match(WORD, needle[-1]) else ""
    return re.search(left + re.escape(needle) + right, haystack) is not None


def naive_matched(rules: list[dict], text: str, source: str) -> list[str]:
    """Rule ids matched, evaluated keyword by keyword."""
    result = []
    for rule in rules:
        def hit(keyword: str, rule: dict = rule) -> bool:
            return naive_hit(keyword, text, rule.get("kana", False))

        if rule.get("sources") and source not in rule["sources"]:
            continue
        if rule.get("any") and not any(map(hit, rule["any"])):
            continue
        if not all(map(hit, rule.get("all", []))) or any(map(hit, rule.get("exclude", []))):
            continue
        result.append(rule["id"])
    return result


rule_specs = st.lists(
    st.fixed_dictionaries(
        {"any": st.lists(words, min_size=1, max_size=3)},
        optional={"all": st.lists(words, max_size=2), "exclude": st.lists(words, max_size=2),
                  "kana": st.booleans(), "sources": st.lists(st.sampled_from(["x", "line"]), min_size=1, max_size=2)},
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(rule_specs, st.lists(st.text(alphabet=ALPHABET, max_size=20), min_size=1, max_size=5), st.sampled_from(["x", "line"]))
def test_automaton_agrees_with_naive_matcher(specs, texts, source):
    rules = [{"id": f"r{index}", **spec} for index, spec in enumerate(specs)]
    engine = engine_for(rules)
    for text in texts:
        assert engine.triage(text, source, "mention").matched == naive_matched(rules, text, source)


@settings(deadline=None)
@given(st.text(), st.sampled_from(SOURCES), st.sampled_from(KINDS))
def test_triage_never_raises(shipped, text, source, kind):
    triage = shipped.triage(text, source, kind)
    assert triage.priority in ("red", "orange", "green") and triage.channel in shipped.rules.channels
