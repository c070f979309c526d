"""One-pass multi-keyword search over normalised text, with word boundaries for Latin words.

Why ahocorasick_rs (the Rust `aho-corasick` crate) with a DFA, MatchKind.Standard and
overlapping=True: Standard + overlapping reports every occurrence of every keyword, so a
Latin hit rejected for its boundary ("ad" inside "already") never hides a valid overlapping
one, and both "返金" and "返金されない" are seen, at no more cost than the non-overlapping kinds.
A DFA stays flat however varied the keywords' first characters are, where pyahocorasick's trie
nodes scan a list of children and collapse on CJK keyword sets (the measured comparison is in
docs/benchmarks.md, "Rules engine").

Kana folding (rules with `kana: true`) is done on the keywords, not on every post: such a
keyword is compiled in each of its katakana/hiragana spellings (ろぐいん, ログイン, ろグいン…:
2**k for k foldable kana), so the search runs over the plain normalised text and no post is
ever kana-folded, which would cost as much as the search itself. When the spellings would be
too many (a keyword with more than MAX_FOLDABLE foldable kana, or more than MAX_SPELLINGS in
all), the matcher searches the kana-folded text instead.
"""

import itertools
from collections.abc import Iterable

from ahocorasick_rs import AhoCorasick, Implementation, MatchKind

from chatops.rules.normalize import fold_kana, is_word_char

_LEFT, _RIGHT = 1, 2
# Spelling out kana keywords: at most 2**MAX_FOLDABLE spellings for one keyword, and at most
# MAX_SPELLINGS extra patterns over all keywords (the DFA grows with them); beyond either,
# posts are kana-folded instead.
MAX_FOLDABLE = 8
MAX_SPELLINGS = 20_000
# Hiragana ぁ (U+3041) .. ゖ (U+3096), the images of katakana ァ .. ヶ under fold_kana.
_FIRST_FOLDED, _LAST_FOLDED, _KATAKANA_OFFSET = "\u3041", "\u3096", 0x60


def spellings(folded: str) -> list[str]:
    """Every text that kana-folds to folded: each hiragana of ぁ..ゖ may also be its katakana."""
    choices = [
        (char, chr(ord(char) + _KATAKANA_OFFSET)) if _FIRST_FOLDED <= char <= _LAST_FOLDED else (char,)
        for char in folded
    ]
    return ["".join(spelling) for spelling in itertools.product(*choices)]


def _foldable(folded: str) -> int:
    """How many characters of folded have a katakana spelling too."""
    return sum(_FIRST_FOLDED <= char <= _LAST_FOLDED for char in folded)


class KeywordMatcher:
    """Find which of many normalised keywords occur in a normalised text, in one pass.

    Keywords of rules that fold kana are given kana-folded, with kana=True; a text is given
    normalised but not kana-folded, and each such keyword hits wherever the text, once
    folded, holds it.
    """

    def __init__(self, keywords: Iterable[tuple[str, int, bool]]):
        """Compile (normalised keyword, keyword id, kana-folded?) entries; keywords may repeat."""
        keywords = list(keywords)
        folded = [(keyword, _foldable(keyword)) for keyword, _, kana in keywords if kana]
        self._over_folded_text = any(count > MAX_FOLDABLE for _, count in folded) or (
            sum(2**count - 1 for _, count in folded) > MAX_SPELLINGS
        )
        # pattern -> ids, and for the folded-text fallback the exact text a plain keyword needs
        entries: dict[str, dict[int, str | None]] = {}
        for keyword, keyword_id, kana in keywords:
            if self._over_folded_text:
                pairs = [(keyword, None)] if kana else [(fold_kana(keyword), keyword)]
            else:
                pairs = [(spelling, None) for spelling in spellings(keyword)] if kana else [(keyword, None)]
            for pattern, exact in pairs:
                entries.setdefault(pattern, {})[keyword_id] = exact
        patterns = list(entries)
        self._automaton = AhoCorasick(
            patterns, matchkind=MatchKind.Standard, implementation=Implementation.DFA
        )
        self._entries = tuple(tuple(entries[pattern].items()) for pattern in patterns)
        # A keyword end that is a word character must sit on a word boundary in the text.
        self._edges = tuple(
            (_LEFT if is_word_char(pattern[0]) else 0) | (_RIGHT if is_word_char(pattern[-1]) else 0)
            for pattern in patterns
        )

    def find(self, text: str, found: set[int]) -> None:
        """Add to found the ids of keywords in text (normalised, not kana-folded)."""
        edges, entries, length = self._edges, self._entries, len(text)
        searched = fold_kana(text) if self._over_folded_text else text
        for index, start, end in self._automaton.find_matches_as_indexes(searched, overlapping=True):
            edge = edges[index]
            if edge and (
                (edge & _LEFT and start and is_word_char(text[start - 1]))
                or (edge & _RIGHT and end < length and is_word_char(text[end]))
            ):
                continue
            for keyword_id, exact in entries[index]:
                if exact is None or text[start:end] == exact:
                    found.add(keyword_id)
