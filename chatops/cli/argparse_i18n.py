"""argparse's own words (usage:, options, its errors) in the language of the command line.

argparse looks its strings up through the module-level `_` and `ngettext` names (gettext) at
call time, so `speaking(lang)` swaps both for the length of one `chatops` run and puts them
back afterwards; other users of argparse in the same process (pytest) keep theirs.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

JA = {
    "usage: ": "使い方: ",
    "argument %(argument_name)s: %(message)s": "引数 %(argument_name)s: %(message)s",
    "unknown parser %(parser_name)r (choices: %(choices)s)": "%(parser_name)r というコマンドはありません(選択肢: %(choices)s)",
    "can't open '%(filename)s': %(error)s": "'%(filename)s' を開けません: %(error)s",
    "positional arguments": "位置引数",
    "options": "オプション",
    "show this help message and exit": "このヘルプを表示して終了します",
    "unrecognized arguments: %s": "認識できない引数です: %s",
    "not allowed with argument %s": "引数 %s と一緒には使えません",
    "ignored explicit argument %r": "値 %r は受け付けません",
    "the following arguments are required: %s": "次の引数が必要です: %s",
    "one of the arguments %s is required": "引数 %s のどれかが必要です",
    "expected one argument": "値が 1 つ必要です",
    "expected at most one argument": "値は 1 つまでです",
    "expected at least one argument": "値が 1 つ以上必要です",
    "ambiguous option: %(option)s could match %(matches)s": "あいまいなオプションです: %(option)s は %(matches)s のどれにも当てはまります",
    "unexpected option string: %s": "予期しないオプションです: %s",
    "invalid %(type)s value: %(value)r": "%(type)s の値として正しくありません: %(value)r",
    "invalid choice: %(value)r (choose from %(choices)s)": "%(value)r は選べません(選択肢: %(choices)s)",
    "%(prog)s: error: %(message)s\n": "%(prog)s: エラー: %(message)s\n",
    "show program's version number and exit": "バージョンを表示して終了します",
}
JA_PLURAL = {
    ("expected %s argument", "expected %s arguments"): "値が %s 個必要です",
}
# The names argparse puts in "invalid <type> value" for the standard types.
JA_TYPES = {"int": "整数", "float": "数値"}


@contextmanager
def speaking(lang: str) -> Iterator[None]:
    """argparse says its words in `lang` (ja or en) inside the block."""
    if lang != "ja":
        yield
        return
    saved = argparse._, argparse.ngettext

    def gettext(message: str) -> str:
        return JA.get(message, saved[0](message))

    def ngettext(singular: str, plural: str, count: int) -> str:
        return JA_PLURAL.get((singular, plural)) or saved[1](singular, plural, count)

    argparse._, argparse.ngettext = gettext, ngettext
    try:
        yield
    finally:
        argparse._, argparse.ngettext = saved
