"""Text normalisation shared by keywords (at load) and messages (at triage).

NFKC turns full-width ASCII into ASCII and half-width katakana into full-width katakana;
casefold makes matching case-insensitive; kana folding (opt-in per rule) makes katakana and
hiragana spellings of the same word equal (ログイン, ろぐいん).
"""

import re
import unicodedata

# Characters NFKC leaves alone and that never combine with a neighbour: ASCII, 、。「」『』,
# hiragana, katakana and the CJK ideographs. NFKC of a text equals NFKC applied only to the
# runs of other characters, each taken with the one character before it (a dakuten ゙ may
# compose with it). Japanese posts are mostly such characters, so this is about 2x faster
# than normalising the whole post. tests/unit/test_normalize.py checks the set against unicodedata.
STABLE_RANGES = (
    ("\x00", "\x7f"),
    ("\u3001", "\u3002"),
    ("\u300c", "\u300f"),
    ("\u3041", "\u3096"),
    ("\u30a1", "\u30fe"),
    ("\u4e00", "\u9fff"),
)
_UNSTABLE = "[^" + "".join(f"{first}-{last}" for first, last in STABLE_RANGES) + "]"
# Spelled [x][x]* rather than [x]+: `re` only scans ahead for a pattern's first character when
# the pattern starts with a set, not with a repeat; that halves the cost of finding the runs.
_UNSTABLE_RUN = re.compile(_UNSTABLE + _UNSTABLE + "*")
# NFKC of recent runs (each with its character before): the same emoji, full-width and
# half-width bits come back post after post, and unicodedata.normalize costs ~5,000 instructions.
_RUN_CACHE: dict[str, str] = {}
_RUN_CACHE_LIMIT = 4096

# Katakana ァ (U+30A1) .. ヶ (U+30F6) map onto hiragana ぁ (U+3041) .. ゖ (U+3096).
_KATAKANA_TO_HIRAGANA = {code: code - 0x60 for code in range(0x30A1, 0x30F7)}
_KATAKANA_RUN = re.compile("[\u30a1-\u30f6][\u30a1-\u30f6]*")  # [x][x]*: see _UNSTABLE_RUN

# Word characters below U+2E80 (where the CJK blocks start) take part in word boundaries:
# "ad" must not hit "already", but "refund" does hit "refundしたい".
_CJK_START = 0x2E80
_ASCII_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def normalize(text: str, kana: bool = False) -> str:
    """Return text NFKC-normalised and casefolded; with kana=True, katakana also becomes hiragana."""
    if text.isascii():
        return text.lower()  # NFKC is the identity on ASCII, and casefold equals lower there
    normalized = text if unicodedata.is_normalized("NFKC", text) else _nfkc_by_runs(text)
    folded = normalized.casefold()
    # Casefolding can undo NFKC for a few letters (ẞ̇ -> ṡ after a second round); iterate to a
    # fixed point. It may stay un-NFKC (ǰ casefolds to j + caron, which NFKC composes back).
    while folded != normalized and not unicodedata.is_normalized("NFKC", folded):
        normalized = unicodedata.normalize("NFKC", folded)
        refolded = normalized.casefold()
        if refolded == folded:
            break
        folded = refolded
    return fold_kana(folded) if kana else folded


def fold_kana(normalized: str) -> str:
    """Return already-normalised text with katakana replaced by the matching hiragana."""
    if normalized.isascii():
        return normalized
    # Translating only the katakana runs is about 2x faster than translating the whole text.
    return _KATAKANA_RUN.sub(_fold_run, normalized)


def is_word_char(char: str) -> bool:
    """Tell whether char is a letter, digit or underscore of a non-CJK script."""
    if char in _ASCII_WORD:
        return True
    return not char.isascii() and ord(char) < _CJK_START and char.isalnum()


def _nfkc_by_runs(text: str) -> str:
    """NFKC of text, computed only over the runs of characters outside STABLE_RANGES."""
    pieces, done = [], 0
    for run in _UNSTABLE_RUN.finditer(text):
        start, end = run.span()
        start = max(start - 1, done)  # the character before may compose with the run
        run_text = text[start:end]
        normalized = _RUN_CACHE.get(run_text)
        if normalized is None:
            normalized = unicodedata.normalize("NFKC", run_text)
            if len(_RUN_CACHE) >= _RUN_CACHE_LIMIT:
                _RUN_CACHE.clear()
            _RUN_CACHE[run_text] = normalized
        pieces += (text[done:start], normalized)
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


def _fold_run(run: re.Match[str]) -> str:
    """Hiragana spelling of one run of katakana."""
    return run.group().translate(_KATAKANA_TO_HIRAGANA)
