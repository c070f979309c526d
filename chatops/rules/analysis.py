"""Lemma stage: Japanese morphological analysis (SudachiPy) and English lemmas (simplemma).

A post becomes a set of lemma terms: "届く" for an affirmative form (届いた, 届きます) and
"not:届く" for a negated one (届かない, 届いていない, 届きません); English words likewise
("charged" -> "charge", "wasn't delivered" -> "not:deliver"). Rules list such terms under
`lemmas:`. Both libraries ship their data in the wheel, so nothing is downloaded at run time.
SudachiPy was chosen over fugashi + unidic-lite: docs/rules.md has the measurements.
"""

import re
import threading
from functools import lru_cache

NEGATED = "not:"
# Auxiliaries and endings that negate the predicate before them.
_JA_NEGATORS = frozenset({"ない", "ず", "ぬ", "ん", "無い"})
# Tokens that may sit between a predicate and its negator (届いていない, 届きません, 使えなかった).
_JA_BRIDGE = frozenset({"て", "で", "居る", "いる", "ます", "れる", "られる", "せる", "させる", "得る",
                        "てる", "おる", "くる", "来る", "しまう", "ちゃう", "です", "だ"})
_EN_NEGATORS = frozenset({"not", "no", "never", "n't", "cannot", "nothing", "without"})
_EN_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_EN_CONTRACTION = re.compile(r"^(\w+)n't$")
_JA_CHAR = re.compile("[\u3041-\u30ff\u4e00-\u9fff]")
_local = threading.local()


def _tokenizer():
    """One Sudachi tokenizer per thread (a tokenizer is not thread-safe)."""
    tokenizer = getattr(_local, "tokenizer", None)
    if tokenizer is None:
        from sudachipy import SplitMode

        tokenizer = _local.tokenizer = _dictionary().tokenizer(mode=SplitMode.C)
    return tokenizer


@lru_cache(maxsize=1)
def _dictionary():
    """The Sudachi core dictionary, loaded on the first Japanese post (a fifth of a second)."""
    from sudachipy import Dictionary

    return Dictionary(dict="core")


def lemma_terms(text: str) -> frozenset[str]:
    """Return the lemma terms of a normalised post (Japanese and English parts)."""
    terms: set[str] = set()
    if _JA_CHAR.search(text):
        _japanese_terms(text, terms)
    if any("a" <= char <= "z" for char in text):
        _english_terms(text, terms)
    return frozenset(terms)


def _japanese_terms(text: str, terms: set[str]) -> None:
    morphemes = _tokenizer().tokenize(text)
    forms = [(m.normalized_form(), m.dictionary_form(), m.part_of_speech()[0]) for m in morphemes]
    for index, (normalized, dictionary_form, pos) in enumerate(forms):
        if pos in ("補助記号", "空白"):
            continue
        negated = False
        if pos in ("動詞", "形容詞", "名詞", "形状詞"):
            for following, following_dict, following_pos in forms[index + 1 : index + 5]:
                if following in _JA_NEGATORS or following_dict in _JA_NEGATORS:
                    negated = following_pos in ("助動詞", "形容詞")
                    break
                if following not in _JA_BRIDGE and following_dict not in _JA_BRIDGE:
                    break
        for form in {normalized, dictionary_form}:
            terms.add(NEGATED + form if negated else form)


def _english_terms(text: str, terms: set[str]) -> None:
    words: list[str] = []
    for word in _EN_WORD.findall(text.replace("\u2019", "'")):
        contraction = _EN_CONTRACTION.match(word)
        if contraction:
            words += [contraction.group(1), "n't"]
        else:
            words.append(word)
    negate_until = -1
    for index, word in enumerate(words):
        if word in _EN_NEGATORS:
            negate_until = index + 3
            continue
        lemma = _english_lemma(word)
        terms.add(NEGATED + lemma if index <= negate_until else lemma)


@lru_cache(maxsize=65536)
def _english_lemma(word: str) -> str:
    import simplemma  # its English tables load on the first English word

    return simplemma.lemmatize(word, lang="en")


def term_of(written: str) -> str:
    """Normalise a rule's lemma entry as written (`届かない` is not re-analysed: write `not:届く`)."""
    written = written.strip().lower()
    negated = written.startswith(NEGATED)
    body = written[len(NEGATED):].strip() if negated else written
    if is_english(body):
        body = " ".join(_english_lemma(word) for word in body.split())
    return NEGATED + body if negated else body


def is_english(text: str) -> bool:
    """Whether text needs the English lemmatiser: ASCII with a Latin letter (a number is its own lemma)."""
    return text.isascii() and any("a" <= char <= "z" for char in text.lower())


def entry_is_english(written: str) -> bool:
    """Whether a rule's lemma entry (as written, `not:` or not) is an English one."""
    return is_english(written.strip().lower().removeprefix(NEGATED).strip())
