"""One-pass multi-keyword search over normalised text, with word boundaries for Latin words.

Why ahocorasick_rs (the Rust `aho-corasick` crate) with a DFA, MatchKind.Standard and
overlapping=True: Standard + overlapping reports every occurrence of every keyword, so a
Latin hit rejected for its boundary ("ad" inside "already") never hides a valid overlapping
one, and both "返金" and "返金されない" are seen. It costs no more than the non-overlapping
kinds (10k keywords, msgs/s: Standard overlapping 330-690k, Standard 310-600k, LeftmostLongest
300-510k). Search alone over 20,000 normalised mixed ja/en posts of 30-140 characters, on the
2-CPU development machine, msgs/s (two runs, rounded):

    keywords           ahocorasick_rs DFA   rs ContiguousNFA   rs NoncontiguousNFA   pyahocorasick
    1k Latin             695,000-825,000    580,000-640,000               440,000   215,000-400,000
    1k kanji-heavy       520,000-840,000    380,000-690,000               455,000     23,000-29,000
    10k Latin            345,000-365,000    340,000-435,000               273,000   180,000-235,000
    10k kanji-heavy      400,000-510,000    345,000-435,000               284,000       2,900-3,200
    10k mixed            450,000-480,000    430,000-460,000               257,000      8,000-9,600

pyahocorasick's trie nodes scan a list of children, so CJK keywords with varied first
characters collapse it; the Rust DFA stays flat (build: 80-110 ms for 10k kanji keywords).
A search is 1-3 µs per post; normalisation and the rule logic around it cost more
(bench/rules_bench.py measures the whole triage).
"""

from collections.abc import Iterable

from ahocorasick_rs import AhoCorasick, Implementation, MatchKind

from chatops.rules.normalize import is_word_char

_LEFT, _RIGHT = 1, 2


class KeywordMatcher:
    """Find which of many normalised keywords occur in a normalised text, in one pass.

    When some rules fold kana, the search runs over the kana-folded text: each keyword is
    given as the pattern to search for there, plus, for keywords of rules that do not fold
    kana, the exact text that must stand at the same place in the unfolded text (folding
    maps character to character, so positions agree).
    """

    def __init__(self, keywords: Iterable[tuple[str, int, str | None]]):
        """Compile (pattern, keyword id, exact text or None) entries; patterns may repeat."""
        entries: dict[str, list[tuple[int, str | None]]] = {}
        for pattern, keyword_id, exact in keywords:
            entries.setdefault(pattern, []).append((keyword_id, exact))
        patterns = list(entries)
        self._automaton = AhoCorasick(
            patterns, matchkind=MatchKind.Standard, implementation=Implementation.DFA
        )
        self._entries = tuple(tuple(entries[pattern]) for pattern in patterns)
        # A keyword end that is a word character must sit on a word boundary in the text.
        self._edges = tuple(
            (_LEFT if is_word_char(pattern[0]) else 0) | (_RIGHT if is_word_char(pattern[-1]) else 0)
            for pattern in patterns
        )

    def find(self, text: str, original: str, found: set[int]) -> None:
        """Add to found the ids of keywords in text (original: the same text before kana folding)."""
        edges, entries, length = self._edges, self._entries, len(text)
        for index, start, end in self._automaton.find_matches_as_indexes(text, overlapping=True):
            edge = edges[index]
            if edge and (
                (edge & _LEFT and start and is_word_char(text[start - 1]))
                or (edge & _RIGHT and end < length and is_word_char(text[end]))
            ):
                continue
            for keyword_id, exact in entries[index]:
                if exact is None or original[start:end] == exact:
                    found.add(keyword_id)
