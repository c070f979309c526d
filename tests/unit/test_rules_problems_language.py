"""Every rules.yaml problem `rules check` prints is said in Japanese under --lang ja (or
CHATOPS_LANG=ja) and in English otherwise, always as PATH:LINE: message."""

from __future__ import annotations

import pytest

from chatops.rules.loader import describe
from tests.conftest import RULES_PATH
from tests.helpers import cli_env, run_cli
from tests.unit.test_cli_japanese import ALLOWED, english_words, rules_words

SHIPPED = RULES_PATH.read_text("utf-8")
RED = "  red:\n    rank: 3\n"
RED_LINE = SHIPPED[: SHIPPED.index(RED)].count("\n") + 2  # the line of `rank: 3`
WARN_LINE = SHIPPED[: SHIPPED.index("warn_at: 0.8")].count("\n") + 1

# name -> (rules.yaml text, the line, words of the English message, words of the Japanese one)
BROKEN = {
    "yaml syntax": (SHIPPED.replace(RED, "  red:\n    rank: 3: top\n", 1), RED_LINE,
                    "YAML syntax error: mapping values are not allowed", "ここに「キー: 値」は書けません"),
    # YAML notices an unclosed bracket on the line after it.
    "unclosed bracket": (SHIPPED.replace(RED, "  red:\n    rank: [3\n", 1), RED_LINE + 1,
                         "YAML syntax error: did not find expected ',' or ']' (in a [ list ])", "YAML の構文エラー ([ ] のリストの中)"),
    "wrong type": (SHIPPED.replace(RED, "  red:\n    rank: three\n", 1), RED_LINE,
                   "priorities.red.rank: Input should be a valid integer (got 'three')", "priorities.red.rank: 整数にしてください"),
    "unknown field": (SHIPPED.replace(RED, "  red:\n    rank: 3\n    colour: red\n", 1), RED_LINE + 1,
                      "priorities.red.colour: unknown field (did you mean 'color'?)", "'color' のことですか"),
    "missing field": (SHIPPED.replace('    color: "#d50000"\n', "", 1), RED_LINE - 1,
                      "priorities.red.color: required field is missing", "priorities.red.color: 必須の項目がありません"),
    "out of range": (SHIPPED.replace("warn_at: 0.8", "warn_at: 1.5", 1), WARN_LINE,
                     "sla.warn_at: Input should be less than 1.0 (got 1.5)", "sla.warn_at: 1.0 より小さくしてください"),
    "tab indent": (SHIPPED.replace(RED, "  red:\n\trank: 3\n", 1), RED_LINE,
                   "YAML syntax error: found character that cannot start any token", "字下げはタブではなくスペースで"),
    "tagged value": (SHIPPED.replace(RED, "  red:\n    rank: !!int three\n", 1), RED_LINE,
                     "the tagged value cannot be read", "タグ付きの値が読めません"),
    "bad regex": (SHIPPED.replace("keyword_rules:\n", "keyword_rules:\n  - {id: broken, regex: ['(unclosed']}\n", 1),
                  SHIPPED[: SHIPPED.index("keyword_rules:\n")].count("\n") + 2,
                  "bad regex '(unclosed': missing ), unterminated subpattern at position 0",
                  "正規表現 '(unclosed' が正しくありません (1 文字目)"),
    "choice": (SHIPPED.replace("    teams_format: workflows\n", "    teams_format: cards\n", 1)
               if "    teams_format: workflows\n" in SHIPPED else
               SHIPPED.replace("channels:\n", "channels:\n  extra: {slack: '#cs-extra', teams_format: cards}\n", 1),
               None, "Input should be 'workflows' or 'messagecard' (got 'cards')", "'workflows', 'messagecard' のどれか"),
    "too long": (SHIPPED.replace("    - {priority: red,    tier: \"*\",     first_response: 1h,",
                                 "    - {priority: red,    tier: \"*\",     first_response: 9999999999d,", 1), None,
                 "'9999999999d' is too long a duration", "'9999999999d' は長すぎる時間です"),
}
NAMES = rules_words() | {"colour", "three", "unclosed", "cards", "broken", "extra", "top"}


@pytest.fixture
def env(monkeypatch, tmp_path, database_url):
    return cli_env(monkeypatch, tmp_path, database_url)


@pytest.mark.parametrize("case", BROKEN)
@pytest.mark.parametrize("how", ["--lang", "CHATOPS_LANG"])
def test_a_problem_is_said_in_japanese_and_in_english(case, how, env, capsys, monkeypatch):
    text, line, english, japanese = BROKEN[case]
    path = env / "rules.yaml"
    path.write_text(text, "utf-8")
    code, out, err = run_cli(capsys, "rules", "check", str(path))
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and english in err, err
    where = err.split(": ", 1)[0]
    assert where.startswith(f"{path}:") and (line is None or where == f"{path}:{line}")
    if how == "--lang":
        code, out, err = run_cli(capsys, "--lang", "ja", "rules", "check", str(path))
    else:
        monkeypatch.setenv("CHATOPS_LANG", "ja")
        code, out, err = run_cli(capsys, "rules", "check", str(path))
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith(f"{where}: ") and japanese in err, err
    assert not english_words(err, ALLOWED, NAMES), err


def test_unreadable_files_are_said_in_japanese(env, capsys):
    latin = env / "latin1.yaml"
    latin.write_bytes("channels: {}\n# caf\u00e9\n".encode("latin-1"))
    for path, japanese in ((latin, "UTF-8 のテキストではありません"), (env, "フォルダです")):
        code, _, err = run_cli(capsys, "--lang", "ja", "rules", "check", str(path))
        assert code == 2 and err.startswith(f"{path}: ") and japanese in err, err
        assert not english_words(err, ALLOWED), err


def test_any_other_pydantic_error_still_says_something_in_japanese():
    error = {"type": "some_future_type", "loc": ("defaults", "channel"), "msg": "Input should be shiny",
             "input": "dull", "ctx": {}}
    assert describe(error).render("en") == "Input should be shiny (got 'dull')"
    assert not english_words(describe(error).render("ja"), ALLOWED, {"dull"})


def test_backtest_says_rules_problems_in_japanese(env, capsys):
    broken = env / "new.yaml"
    broken.write_text(BROKEN["wrong type"][0], "utf-8")
    code, _, err = run_cli(capsys, "--lang", "ja", "rules", "backtest", str(broken), "--since", "1d")
    assert code == 2 and f"{broken}:{RED_LINE}: priorities.red.rank: 整数にしてください" in err, err
    code, _, err = run_cli(capsys, "--lang", "ja", "rules", "backtest", str(RULES_PATH), "--since", "soon")
    assert code == 2 and not english_words(err, ALLOWED, {"soon"}), err
