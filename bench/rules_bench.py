"""Triage throughput: RulesEngine.triage over ~20,000 mixed ja/en posts, normalisation included.

Keyword sets of 10, 1,000 and 10,000 keywords (Latin, kanji-heavy, mixed) are generated from
a fixed seed, spread over rules the way a real rules.yaml uses them (any/all/exclude, kana,
source filters, one regex rule), and each set is timed over the same posts: CPU time, best
of 5 per chunk of 1,000 posts.
Targets: >= 50,000 msgs/s with 1,000 keywords, >= 15,000 msgs/s with 10,000.
"""

import json
import random
import sys
import time

from chatops.rules import RulesEngine, parse_rules

SEED = 20261120
POSTS = 20_000
ROUNDS = 5
CHUNK = 1_000
SIZES = (10, 1_000, 10_000)
TARGETS = {10: 50_000, 1_000: 50_000, 10_000: 15_000}

_CONSONANTS = "bcdfghjklmnprstvwyz"
_VOWELS = "aeiou"
_HIRAGANA = [chr(code) for code in range(0x3041, 0x3094)]
_KATAKANA = [chr(code) for code in range(0x30A1, 0x30F5)] + ["ー"]
_PARTICLES = [
    "が",
    "を",
    "に",
    "は",
    "で",
    "と",
    "の",
    "も",
    "から",
    "まで",
    "ですが",
    "ました",
    "ません",
    "ください",
]
_EN_WORDS = (
    "the my order please help thanks app login today is not working already where when why how can you "
    "i it was still again account payment delivery package item support team store new great love"
).split()
_EXTRAS = ["ＡＢＣ", "１２３４", "ＩＤ", "ﾛｸﾞｲﾝ", "ｱﾌﾟﾘ", "ｶｰﾄﾞ", "😡", "🙏", "😂", "✨", "！", "？", "。", "、"]
_SOURCES = ["x", "facebook", "instagram", "line", "mastodon", "bluesky", "webhook"]
_KINDS = ["mention", "reply", "dm", "comment", "keyword"]


def _latin_word(rng: random.Random) -> str:
    """An English-looking word of 3-10 letters."""
    syllables = [rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(rng.randint(2, 4))]
    word = "".join(syllables) + (rng.choice(_CONSONANTS) if rng.random() < 0.5 else "")
    return word[: rng.randint(3, 10)]


def _japanese_word(rng: random.Random, kanji: list[str]) -> str:
    """A 2-6 character kanji compound, kanji with okurigana, or katakana loanword."""
    roll = rng.random()
    if roll < 0.6:
        return "".join(rng.choices(kanji, k=rng.randint(2, 4)))
    if roll < 0.85:
        return "".join(rng.choices(kanji, k=rng.randint(1, 2))) + "".join(
            rng.choices(_HIRAGANA, k=rng.randint(1, 3))
        )
    return "".join(rng.choices(_KATAKANA, k=rng.randint(3, 6)))


def _keyword_set(rng: random.Random, kind: str, size: int, kanji: list[str]) -> list[str]:
    """size distinct keywords: Latin (some two-word phrases), Japanese, or half of each."""
    words: dict[str, None] = {}
    while len(words) < size:
        latin = kind == "latin" or (kind == "mixed" and len(words) % 2 == 0)
        if latin:
            word = _latin_word(rng) + (" " + _latin_word(rng) if rng.random() < 0.15 else "")
        else:
            word = _japanese_word(rng, kanji)
        words[word] = None
    return list(words)


def _filler_post(rng: random.Random, kanji: list[str]) -> str:
    """A 30-140 character post: mostly Japanese, some English, with full-width/half-width/emoji bits."""
    japanese = rng.random() < 0.6
    length = rng.randint(30, 140)
    parts: list[str] = []
    while sum(map(len, parts)) < length:
        roll = rng.random()
        if roll < 0.05:
            parts.append(rng.choice(_EXTRAS))
        elif japanese:
            parts.append(_japanese_word(rng, kanji) if roll < 0.5 else rng.choice(_PARTICLES))
            if roll > 0.95:
                parts.append(" " + rng.choice(_EN_WORDS) + " ")
        else:
            parts.append(" " + (rng.choice(_EN_WORDS) if roll < 0.8 else _latin_word(rng)))
    return "".join(parts).strip()[:length]


def _with_keywords(rng: random.Random, posts: list[str], keywords: list[str]) -> list[str]:
    """Copy posts, putting one or two of keywords into about a third of them."""
    result = []
    for post in posts:
        if rng.random() < 0.33:
            for keyword in rng.sample(keywords, k=min(len(keywords), rng.randint(1, 2))):
                cut = rng.randint(0, len(post))
                post = f"{post[:cut]} {keyword} {post[cut:]}"
        result.append(post)
    return result


def _rules_text(rng: random.Random, keywords: list[str]) -> str:
    """A rules document (JSON, which is YAML) with keywords spread over rules of ~10 each."""
    channels = ["urgent", "support", "returns", "sales"]
    rules = []
    for start in range(0, len(keywords), 10):
        chunk = keywords[start : start + 10]
        rule: dict = {"id": f"rule-{start // 10}", "any": chunk}
        roll = rng.random()
        if roll < 0.15 and len(chunk) >= 4:
            rule = {"id": rule["id"], "any": chunk[2:], "all": chunk[:2]}
        elif roll < 0.25:
            rule["exclude"] = [rng.choice(keywords)]
        if rng.random() < 0.1:
            rule["kana"] = True
        if rng.random() < 0.05:
            rule["sources"] = rng.sample(_SOURCES, k=3)
        rule["set"] = {
            "priority": rng.choice(["red", "orange", "green"]),
            "level": rng.choice(["L1", "L2", "L3"]),
            "tags": [f"tag-{rng.randint(0, 30)}"],
            **({"channel": rng.choice(channels)} if rng.random() < 0.3 else {}),
            **({"notify": ["@cs-leads"]} if rng.random() < 0.1 else {}),
        }
        rules.append(rule)
    # The same patterns as the shipped rules.yaml.
    order_number = [r"注文番号\D{0,4}\d{6,}", r"order\s*(?:number|no\.?)?\s*(?:is\s*)?[:#]?\s*\d{6,}"]
    rules.append({"id": "order-number", "regex": order_number, "set": {"tags": ["has-order-number"]}})
    document = {
        "channels": {name: {"slack": f"#cs-{name}"} for name in channels},
        "defaults": {"channel": "support"},
        "routing": [
            {"sources": ["line"], "channel": "support"},
            {"priorities": ["red"], "channel": "urgent"},
        ],
        "sla": {
            "policies": [
                {"priority": p, "first_response": "1h", "resolution": "1d"}
                for p in ("red", "orange", "green")
            ]
        },
        "keyword_rules": rules,
    }
    return json.dumps(document, ensure_ascii=False)


def _time(engine: RulesEngine, messages: list[tuple[str, str, str]]) -> float:
    """CPU seconds to triage every message once: per chunk of CHUNK, the best of ROUNDS.

    Per-chunk minima of process time keep a neighbour's burst of work on this shared
    machine out of the figure without hiding a slow engine.
    """
    triage = engine.triage
    total = 0.0
    for first in range(0, len(messages), CHUNK):
        chunk = messages[first : first + CHUNK]
        best = float("inf")
        for _ in range(ROUNDS):
            started = time.process_time()
            for text, source, kind in chunk:
                triage(text, source, kind)
            best = min(best, time.process_time() - started)
        total += best
    return total


def main() -> bool:
    """Run every keyword set, print the table and the summary line; True when all targets are met."""
    rng = random.Random(SEED)
    kanji = rng.sample([chr(code) for code in range(0x4E00, 0x9FA6)], k=2_500)
    filler = [_filler_post(rng, kanji) for _ in range(POSTS)]
    print(f"{'set':<7} {'keywords':>8} {'msgs/s':>10} {'µs/msg':>8} {'target':>8}  result")
    worst: dict[int, float] = {}
    for size in SIZES:
        for kind in ("latin", "kanji", "mixed"):
            keywords = _keyword_set(rng, kind, size, kanji)
            engine = RulesEngine(parse_rules(_rules_text(rng, keywords), f"<bench {kind} {size}>"))
            messages = [
                (post, rng.choice(_SOURCES), rng.choice(_KINDS))
                for post in _with_keywords(rng, filler, keywords)
            ]
            seconds = _time(engine, messages)
            rate = len(messages) / seconds
            worst[size] = min(worst.get(size, rate), rate)
            verdict = "PASS" if rate >= TARGETS[size] else "FAIL"
            print(
                f"{kind:<7} {size:>8,} {rate:>10,.0f} {seconds / len(messages) * 1e6:>8.2f} {TARGETS[size]:>8,}  {verdict}"
            )
    passed = all(worst[size] >= TARGETS[size] for size in SIZES)
    print(
        f"rules: {'PASS' if passed else 'FAIL'} min {worst[1_000]:,.0f} msgs/s @1k, {worst[10_000]:,.0f} msgs/s @10k"
    )
    return passed


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
