"""Text normalisation: NFKC + casefold, optional kana folding, and the run-wise NFKC shortcut."""

import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatops.rules import normalize
from chatops.rules.normalize import STABLE_RANGES, fold_kana, is_word_char


def reference_normalize(text: str) -> str:
    """NFKC then casefold, repeated to a fixed point, on the whole text (no shortcuts)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    while (again := unicodedata.normalize("NFKC", folded).casefold()) != folded:
        folded = again
    return folded


# Characters where the shortcuts could go wrong: full-width and half-width forms, dakuten
# (combining and spacing), Hangul jamo, combining accents, letters whose casefold is not NFKC.
TRICKY = "ｱｶﾞﾞﾟﾊﾟｰあア゙゚゛゜がＡＢａ１！？가ᄀ하ᅡᆨé\u0301e\u0323\u0307ΐǰẞﬁ①㍿〜～ ΣςK漢字カー。「"
tricky_text = st.text(alphabet=st.sampled_from(TRICKY), max_size=12)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ＲＥＦＵＮＤ１２３", "refund123"),
        ("ﾛｸﾞｲﾝできない", "ログインできない"),
        ("ﾊﾟｽﾜｰﾄﾞ", "パスワード"),
        ("Double CHARGE", "double charge"),
        ("注文番号：１２３４５６", "注文番号:123456"),
        ("Straße", "strasse"),
        ("㍿", "株式会社"),
        ("", ""),
    ],
)
def test_normalize_folds_width_and_case(text, expected):
    assert normalize(text) == expected


def test_kana_folding_only_when_asked():
    assert normalize("ログイン") == "ログイン"
    assert normalize("ログイン", kana=True) == "ろぐいん"
    assert normalize("ﾛｸﾞｲﾝ", kana=True) == "ろぐいん"
    assert normalize("ヴァ", kana=True) == "ゔぁ"
    assert normalize("ー・ヷ", kana=True) == "ー・ヷ"  # outside ァ..ヶ: no hiragana counterpart


def test_fold_kana_keeps_everything_but_katakana():
    assert fold_kana("アプリ app 漢字 ぁ") == "あぷり app 漢字 ぁ"


def test_casefold_that_undoes_nfkc_reaches_a_fixed_point():
    assert normalize("あẞ\u0307ǰ") == reference_normalize("あẞ\u0307ǰ")
    assert normalize(normalize("あẞ\u0307ǰ")) == normalize("あẞ\u0307ǰ")


def test_word_characters():
    assert all(is_word_char(c) for c in "az09_éßΩж")
    assert not any(is_word_char(c) for c in " -!?#@あア漢ー。😀")


def test_stable_ranges_never_change_or_combine():
    """Every character of STABLE_RANGES is NFKC-stable, a starter, and never composes with a predecessor."""
    second_of_pair = set()
    for code in range(sys.maxunicode + 1):
        parts = unicodedata.decomposition(chr(code)).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            second_of_pair.add(chr(int(parts[1], 16)))
    for first, last in STABLE_RANGES:
        for code in range(ord(first), ord(last) + 1):
            char = chr(code)
            assert unicodedata.is_normalized("NFKC", char), hex(code)
            assert unicodedata.combining(char) == 0, hex(code)
            assert char not in second_of_pair, hex(code)


@given(st.text())
def test_normalize_matches_reference_on_any_text(text):
    assert normalize(text) == reference_normalize(text)


@given(tricky_text)
def test_normalize_matches_reference_on_tricky_text(text):
    assert normalize(text) == reference_normalize(text)


@given(st.one_of(st.text(), tricky_text), st.booleans())
def test_normalize_is_idempotent(text, kana):
    once = normalize(text, kana=kana)
    assert normalize(once, kana=kana) == once
