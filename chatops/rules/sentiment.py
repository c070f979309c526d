"""Negativity of a post from a small Japanese/English lexicon, for flood detection.

A flood counts how many of its posts are negative; tags alone miss an angry post that no
keyword rule tags (「いい加減にして」, "this is ridiculous", 🤬). The lexicon is matched like
keywords (NFKC, casefolded, katakana = hiragana, Latin words on word boundaries) in one
automaton pass, so it costs about what one more keyword search does.
"""

from functools import lru_cache

from chatops.rules.matcher import KeywordMatcher
from chatops.rules.normalize import normalize

NEGATIVE_WORDS = (
    # 怒り・不満 / anger and dissatisfaction
    "最悪", "最低", "ひどい", "酷い", "ふざけ", "いい加減にして", "いいかげんにして", "ありえない", "あり得ない",
    "許せない", "許さない", "激怒", "怒って", "怒り", "むかつく", "腹立", "イライラ", "不満", "がっかり", "残念",
    "信じられない", "迷惑", "不便", "困って", "困る", "困ります", "どうなってる", "なんなの", "何なの", "金返せ",
    "返して", "二度と", "詐欺", "ゴミ", "くそ", "対応悪", "遅すぎ", "誠意", "不安", "怖い", "炎上", "晒",
    # 故障・不達 / things not working
    "障害", "不具合", "壊れ", "届かない", "届いてない", "繋がらない", "つながらない", "使えない", "できない", "出来ない",
    "エラー", "落ちてる",
    # English
    "terrible", "awful", "horrible", "worst", "angry", "furious", "ridiculous", "unacceptable", "disappointed",
    "disappointing", "useless", "garbage", "trash", "scam", "fraud", "broken", "not working", "doesn't work",
    "can't", "cannot", "still waiting", "fix this", "wtf", "smh", "never again", "hate", "annoying", "sucks",
    "pathetic", "rip off", "ripoff", "is down", "outage", "error",
    # 絵文字 / emoji
    "😡", "😠", "🤬", "💢", "😤", "👎", "😭", "😢",
)


@lru_cache(maxsize=1)
def _matcher() -> tuple[KeywordMatcher, tuple[str, ...]]:
    folded = {normalize(word, kana=True): word for word in reversed(NEGATIVE_WORDS)}  # first spelling wins
    words = tuple(folded.values())
    return KeywordMatcher((key, index, True) for index, key in enumerate(folded)), words


def negative_words(text: str) -> list[str]:
    """The lexicon's negative words found in a post (as the lexicon spells them); [] if none."""
    matcher, words = _matcher()
    found: set[int] = set()
    matcher.find(normalize(text), found)
    return sorted(words[index] for index in found)
