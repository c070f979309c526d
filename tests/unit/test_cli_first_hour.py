"""The CLI as a newcomer meets it (issue 23): tables aligned by display width, a file that is
not UTF-8 refused whole, every rules.yaml problem in one run, plurals, a light start."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from chatops.cli.common import table, width
from tests.conftest import ROOT, RULES_PATH
from tests.helpers import cli_env
from tests.helpers import run_cli as run

EXAMPLES = ROOT / "examples" / "mentions.jsonl"


@pytest.fixture
def env(monkeypatch, tmp_path, database_url):
    # A handler an earlier test left on a closed stream would write "Logging error" to stderr.
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    return cli_env(monkeypatch, tmp_path, database_url)


def columns_of(line: str, cells: list[str]) -> list[int]:
    """The display column where each of cells starts in line, searched left to right."""
    starts, position = [], 0
    for cell in cells:
        position = line.index(cell, position)
        starts.append(width(line[:position]))
        position += len(cell)
    return starts


def test_table_aligns_full_width_text():
    rows = [["T-1", "新規", "@さくら", "a"], ["T-22", "対応中", "@bob", "b"], ["T-333", "pending", "@たなかたろう", "c"]]
    lines = table(["KEY", "状態", "顧客", "件名"], rows)
    starts = {tuple(columns_of(line, row)) for line, row in zip(lines[1:], rows, strict=True)}
    assert len(starts) == 1
    assert columns_of(lines[0], ["KEY", "状態", "顧客", "件名"]) == list(starts.pop())


def test_tickets_list_columns_line_up_in_japanese(env, capsys):
    lines = EXAMPLES.read_text("utf-8").splitlines()[:4]
    extra = json.loads(lines[0])
    extra.update(external_id="w-1", conversation_id="w-1", author={"id": "9", "handle": "@さくらさくら"})
    jsonl = env / "wide.jsonl"
    jsonl.write_text("\n".join([*lines, json.dumps(extra, ensure_ascii=False)]) + "\n", "utf-8")
    assert run(capsys, "ingest", str(jsonl), "--no-replies")[0] == 0
    code, out, _ = run(capsys, "tickets", "list", "--json")
    tickets = [json.loads(line) for line in out.splitlines()]
    code, out, _ = run(capsys, "--lang", "ja", "tickets", "list")
    header, *rows = out.splitlines()
    assert code == 0 and len(rows) == len(tickets) >= 3 and any("新規" in row for row in rows)
    channel = columns_of(header, ["チャンネル", "顧客"])
    for row, ticket in zip(rows, tickets, strict=True):
        assert columns_of(row, [ticket["key"]])[0] == 0
        assert [columns_of(row, [ticket["channel"]])[0], columns_of(row, [ticket["customer"]])[0]] == channel, out


def test_ingest_refuses_a_file_that_is_not_utf8_and_stores_nothing(env, capsys):
    good = EXAMPLES.read_text("utf-8").splitlines()[0]
    latin = env / "latin1.jsonl"
    latin.write_bytes((good + "\n").encode() + '{"text": "café"}\n'.encode("latin-1") + (good + "\n").encode())
    code, out, err = run(capsys, "ingest", str(latin))
    assert code == 1 and f"{latin}:2: not UTF-8" in err and out == ""
    code, out, err = run(capsys, "--lang", "ja", "ingest", str(latin))
    assert code == 1 and f"{latin}:2: UTF-8 ではありません" in err
    assert run(capsys, "tickets", "list", "--json", "--all")[1] == ""
    code, _, err = run(capsys, "rules", "test", str(latin))
    assert code == 1 and f"{latin}:2: not UTF-8" in err


def test_rules_test_given_a_post_instead_of_a_file_says_to_use_text(env, capsys):
    code, out, err = run(capsys, "rules", "test", "明細に同じ額が二回載ってます")
    assert code == 2 and out == ""
    assert 'chatops rules test --text "明細に同じ額が二回載ってます"' in err and "No such file" not in err
    code, _, err = run(capsys, "--lang", "ja", "rules", "test", "明細に同じ額が二回載ってます")
    assert code == 2 and "はありません" in err and "--text" in err


def test_rules_check_reports_shape_and_cross_section_problems_in_one_run(env, capsys):
    text = RULES_PATH.read_text("utf-8")
    text = text.replace("priority: red", "priority: purple", 1)  # shape: keyword_rules[0]
    text = text.replace("  channel: support\n", "  channel: suport\n", 1)  # cross: defaults.channel
    routing = text.index("\nrouting:")
    text = text[:routing] + text[routing:].replace("channel: returns", "channel: refunds", 1)  # cross: routing
    broken = env / "three.yaml"
    broken.write_text(text, "utf-8")
    lines = text.splitlines()

    def line_of(word: str) -> int:
        return next(number for number, line in enumerate(lines, 1) if word in line)

    code, out, err = run(capsys, "rules", "check", str(broken))
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"{broken}:{line_of('channel: suport')}: defaults.channel: 'suport' is not a channel "
        "(defined: support-urgent, support, returns, sales, managers)",
        f"{broken}:{line_of('priority: purple')}: keyword_rules[0].set.priority: 'purple' is not a priority (red, orange, green)",
        f"{broken}:{line_of('channel: refunds')}: routing[1].channel: 'refunds' is not a channel "
        "(defined: support-urgent, support, returns, sales, managers)",
    ]


def test_a_broken_section_skips_only_the_checks_that_read_it(env, capsys):
    broken = env / "channels.yaml"
    broken.write_text(RULES_PATH.read_text("utf-8").replace("channels:\n", "channels:\n  Bad Name: {}\n", 1), "utf-8")
    code, _, err = run(capsys, "rules", "check", str(broken))
    assert code == 2 and "channels" in err
    assert "is not a channel" not in err  # channels did not validate: references are not judged against it


def test_plurals(env, capsys):
    one = env / "one.jsonl"
    one.write_text(EXAMPLES.read_text("utf-8").splitlines()[0] + "\n", "utf-8")
    code, out, _ = run(capsys, "ingest", str(one), "--no-replies")
    assert out.strip() == ("1 line: 1 new ticket, 0 follow-ups, 0 reopened, 0 duplicates, "
                           "0 stored without a ticket, 0 errors")
    code, out, _ = run(capsys, "ingest", str(one), "--no-replies")
    assert "1 duplicate," in out and "0 new tickets" in out


def test_parser_choices_match_the_models():
    from chatops.cli import tickets_cmd
    from chatops.rules.fields import CUSTOMER_TIERS
    from chatops.tickets.models import PRIORITIES, STATUSES

    assert (tickets_cmd.STATUSES, tickets_cmd.PRIORITIES, tickets_cmd.CUSTOMER_TIERS) == (
        STATUSES, PRIORITIES, CUSTOMER_TIERS)


HEAVY = ("slack_bolt", "flask", "sqlalchemy", "sklearn", "waitress", "alembic")


@pytest.mark.parametrize("argv", [["--help"], ["rules", "check", str(RULES_PATH)], ["--lang", "ja", "rules", "--help"]])
def test_help_and_rules_check_import_nothing_heavy(argv):
    probe = (
        "import sys\n"
        "from chatops.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
