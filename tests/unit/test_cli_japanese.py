"""`--lang ja` leaves no English: every command and sub-command of the parser, its --help,
a usage error and a run, are read for ASCII words; names, ids, options and paths may stay.

The commands are enumerated from the parser itself, so a new command is covered (and fails
here until RUN says how to run it).
"""

from __future__ import annotations

import argparse
import json
import logging
import re

import pytest
import yaml

from chatops.cli import build_parser, main
from chatops.rules import Rules
from tests.conftest import ROOT, RULES_PATH
from tests.helpers import cli_env, run_cli

EXAMPLES = ROOT / "examples" / "mentions.jsonl"

# Words that are names, not English sentences, in Japanese text too.
ALLOWED = {
    "jst", "utc", "sla", "csat", "url", "json", "jsonl", "csv", "png", "yaml", "utf", "http", "https", "hmac",
    "sha", "slack", "teams", "webhook", "facebook", "instagram", "line", "mastodon", "bluesky", "sqlite",
    "postgresql", "chatops", "inboundmessage", "true", "false", "null", "today", "rebuild", "asia", "tokyo",
    "acme", "gram", "gunicorn",
}

# How to run each command (by its path of sub-command names); None: not run (said why).
RUN: dict[tuple[str, ...], list[str] | None] = {
    ("serve",): None,  # serves until interrupted; its help and a usage error are still read
    ("teams", "package"): None,  # needs the bot's settings; tests/teams/test_package.py reads its Japanese
    ("db", "upgrade"): [],
    ("rules", "check"): [str(RULES_PATH)],
    ("rules", "test"): ["--text", "二重請求されてます"],
    ("rules", "backtest"): [str(RULES_PATH), "--since", "3650d"],
    ("ingest",): ["{jsonl}", "--no-replies"],
    ("tickets", "list"): [],
    ("tickets", "show"): ["T-1"],
    ("tickets", "tier"): ["T-1", "premium"],
    ("integrations", "check"): [],
    ("stats",): [],
    ("oncall",): [],
    ("oncall", "who"): [],
    ("oncall", "schedule"): ["--days", "2"],
    ("oncall", "pages"): [],
    ("oncall", "override"): ["U0AGENT003", "3h"],
    ("oncall", "ack"): ["P-1"],
    ("oncall", "resolve"): ["P-1"],
    ("sla", "run"): [],
    ("customers", "link"): ["x:@nobody", "line:nobody"],
    ("customers", "unlink"): ["x:@nobody", "line:nobody"],
    ("customers", "export"): ["x:@nobody", "--json"],
    ("customers", "erase"): ["x:@nobody"],
    ("audit", "export"): ["--since", "2000-01-01", "--until", "2000-01-02", "--json"],
    ("moderation", "stored"): [],
}


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """(path, parser) of every command and sub-command, depth first."""
    found = [(path, parser)] if path else []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += commands(child, (*path, name))
    return found


def leaves() -> list[tuple[str, ...]]:
    """Commands that do something (a group without a default handler only lists its actions)."""
    return [path for path, parser in commands(build_parser("ja"))
            if not any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)
            or parser.get_default("handler") is not None]


def parser_words() -> set[str]:
    """Every option, metavar, choice, dest and command name of the parser: ids, not English."""
    words: set[str] = set()
    for path, parser in [((), build_parser("ja")), *commands(build_parser("ja"))]:
        words.update(path)
        for action in parser._actions:
            words.update(str(choice) for choice in action.choices or ())
            words.update(str(value) for value in (action.dest, action.metavar, action.default) if value)
            words.update(str(action.dest).upper().split("_"))
    return {word.lower() for text in words for word in re.findall(r"[A-Za-z]+", text)}


# The rules.yaml fields whose values are names (channels, rule ids, tags, people, schedules).
_NAME_FIELDS = {"id", "channel", "tags", "notify", "owners", "lead", "members", "policy", "page", "topics", "tier",
                "priority", "level", "calendar", "rotation", "timezone", "country", "user", "notify_channel"}


def rules_words() -> set[str]:
    """The names rules.yaml defines: its keys (channel, schedule, policy names) and the values
    of its name fields; not its keywords, examples or texts."""
    words: set[str] = set()

    def walk(node, key=None):
        if isinstance(node, dict):
            for name, value in node.items():
                words.add(str(name))
                walk(value, name)
        elif isinstance(node, list):
            for item in node:
                walk(item, key)
        elif isinstance(node, str) and key in _NAME_FIELDS:
            words.add(node)

    walk(yaml.safe_load(RULES_PATH.read_text("utf-8")))
    words |= set(Rules.model_fields)  # every section name, also those the bundled file leaves out
    return {word for word in words if re.fullmatch(r"[\w@#:.-]+", word)}


_NOT_WORDS = [
    re.compile(r"https?://\S+"),
    re.compile(r"[^\s(（「]*/[^\s)）」,、]*"),  # paths, source/kind, Asia/Tokyo
    re.compile(r"[@#][\w.-]+"),  # handles, groups, channels, tags
    re.compile(r"(?<![\w-])--?[A-Za-z][\w-]*"),  # options
    re.compile(r"[A-Za-z0-9]*_[A-Za-z0-9_]*"),  # snake_case ids and field names
    re.compile(r"[\w\[\]]+(?:[.:][\w\[\]]+)+"),  # dotted and colon ids: keyword_rules[0].set, customer:1
    re.compile(r"'[^'\s]*'"),  # quoted values the reader typed
]
_ENGLISH = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z][A-Za-z'’]{2,}(?![A-Za-z0-9_])")


def english_words(text: str, allowed: set[str], names: set[str] = frozenset()) -> list[str]:
    """ASCII words of three letters or more left in text once names (whole ids such as
    `double-charge`), paths and options are cut."""
    if names:
        ids = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
        text = re.sub(rf"(?<![\w-])(?:{ids})(?![\w-])", " ", text)
    for pattern in _NOT_WORDS:
        text = pattern.sub(" ", text)
    return sorted({word for word in _ENGLISH.findall(text) if word.lower().strip("'’") not in allowed})


def run(capsys, *argv) -> tuple[int, str]:
    code, out, err = run_cli(capsys, *argv)
    return code, out + err


@pytest.fixture
def env(monkeypatch, tmp_path, database_url):
    # A handler an earlier test left on a closed stream would write "Logging error" to stderr.
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    cli_env(monkeypatch, tmp_path, database_url, lang="ja")
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    jsonl = tmp_path / "ja.jsonl"
    lines = EXAMPLES.read_text("utf-8").splitlines()[:3]
    extra = json.loads(lines[0])
    extra.update(external_id="ja-4", conversation_id="ja-4", text="@acme_jp 返品の方法を教えてください",
                 author={"id": "555", "handle": "@さくら"})
    jsonl.write_text("\n".join([*lines, json.dumps(extra, ensure_ascii=False)]) + "\n", "utf-8")
    return tmp_path, jsonl


def test_every_command_has_arguments_to_run_with():
    assert set(leaves()) == set(RUN), "add the new command to RUN in tests/unit/test_cli_japanese.py"


def test_every_command_speaks_only_japanese(env, capsys):
    tmp_path, jsonl = env
    allowed, names = ALLOWED | parser_words(), rules_words()
    assert run(capsys, "ingest", str(jsonl), "--no-replies")[0] == 0
    main(["tickets", "show", "T-1", "--json"])
    allowed |= {key.lower() for event in json.loads(capsys.readouterr().out)["events"] for key in event}
    outputs: dict[str, str] = {}
    outputs["chatops --help"] = run(capsys, "--lang", "ja", "--help")[1]
    outputs["chatops"] = run(capsys, "--lang", "ja")[1]
    for path, _parser in commands(build_parser("ja")):
        name = " ".join(path)
        code, outputs[f"{name} --help"] = run(capsys, "--lang", "ja", *path, "--help")
        assert code == 0
        code, outputs[f"{name} (usage error)"] = run(capsys, "--lang", "ja", *path, "--no-such-option")
        assert code == 2 and "エラー" in outputs[f"{name} (usage error)"]
        argv = RUN.get(path)
        if path in RUN and argv is not None:
            argv = [arg.format(jsonl=jsonl) for arg in argv]
            code, outputs[name] = run(capsys, "--lang", "ja", *path, *argv)
            assert code in (0, 1), (name, outputs[name])
    outputs["tickets list --limit x"] = run(capsys, "--lang", "ja", "tickets", "list", "--limit", "x")[1]
    outputs["tickets list --status x"] = run(capsys, "--lang", "ja", "tickets", "list", "--status", "x")[1]
    outputs["tickets show T-999"] = run(capsys, "--lang", "ja", "tickets", "show", "T-999")[1]
    outputs["rules test (nothing)"] = run(capsys, "--lang", "ja", "rules", "test")[1]
    outputs["stats (bad word)"] = run(capsys, "--lang", "ja", "stats", "channel:nowhere")[1]
    outputs["CHATOPS_LANG=ja"] = run(capsys, "tickets", "list")[1]
    assert "番号" in outputs["CHATOPS_LANG=ja"] and "大至急" in outputs["tickets list"]
    leftovers = {name: words for name, text in outputs.items() if (words := english_words(text, allowed, names))}
    assert not leftovers, leftovers


def test_rules_check_problems_in_japanese(env, capsys):
    tmp_path, _ = env
    broken = tmp_path / "broken.yaml"
    text = RULES_PATH.read_text("utf-8").replace("priority: red", "priority: purple", 1)
    broken.write_text(text.replace("  channel: support\n", "  channel: suport\n", 1)
                      .replace("rank: 3", "rank: three", 1) + "\nunknown_section: 1\n", "utf-8")
    code, out = run(capsys, "--lang", "ja", "rules", "check", str(broken))
    assert code == 2 and len(out.splitlines()) == 4
    assert not english_words(out, ALLOWED | {"purple", "suport", "three"}, rules_words()), out


def test_ingest_line_errors_in_japanese(env, capsys):
    tmp_path, _ = env
    good = json.loads(EXAMPLES.read_text("utf-8").splitlines()[0])
    missing = {k: v for k, v in good.items() if k != "account"}
    wrong = {**good, "source": "myspace", "created_at": "yesterday", "extra": 1}
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(["{not json", json.dumps(missing), json.dumps(wrong),
                              json.dumps({**good, "text": "  "})]) + "\n", "utf-8")
    code, out = run(capsys, "--lang", "ja", "ingest", str(bad))
    assert code == 1 and f"{bad}:1: JSON ではありません" in out and f"{bad}:2: account: 必須" in out
    assert not english_words(out, ALLOWED | {"myspace", "yesterday", "extra", "account", "source", "text"}), out
