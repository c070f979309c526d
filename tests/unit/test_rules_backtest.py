"""`chatops rules backtest NEW.yaml`: a rules change tried on the sandbox's sample history."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.conftest import ROOT, RULES_PATH
from tests.helpers import cli_env
from tests.helpers import run_cli as run

EXAMPLES = ROOT / "examples" / "mentions.jsonl"
# The sample history is from November 2026; ten years back reaches it from any test clock.
SINCE = "3650d"


@pytest.fixture
def history(monkeypatch, tmp_path, capsys):
    """A temp SQLite database holding the sample mentions, ingested without auto-replies."""
    cli_env(monkeypatch, tmp_path, f"sqlite:///{tmp_path / 'history.db'}")
    assert run(capsys, "ingest", "--no-replies", str(EXAMPLES))[0] == 0
    return tmp_path


def _new_rules(tmp_path, old: str, new: str):
    text = RULES_PATH.read_text("utf-8")
    assert old in text
    path = tmp_path / "new.yaml"
    path.write_text(text.replace(old, new, 1), "utf-8")
    return path


# Purchase questions demoted from orange to green, in their own channel still.
SALES_OLD = "set: {priority: orange, level: L1, tags: [sales], channel: sales}"
SALES_NEW = "set: {priority: green, level: L1, tags: [sales], channel: sales}"


def _counts(path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        tables = [name for (name,) in conn.execute("select name from sqlite_master where type = 'table'")]
        return {table: conn.execute(f'select count(*) from "{table}"').fetchone()[0] for table in tables}


def test_backtest_reports_what_a_change_would_do_and_writes_nothing(history, capsys):
    new = _new_rules(history, SALES_OLD, SALES_NEW)
    before = _counts(history / "history.db")
    code, out, _ = run(capsys, "rules", "backtest", str(new), "--since", SINCE, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["messages"] >= 40 and report["changed"] >= 1
    priority = report["counts"]["priority"]
    moved = priority["before"]["orange"] - priority["after"]["orange"]
    assert moved >= 1 and priority["after"]["green"] - priority["before"]["green"] == moved
    assert report["counts"]["channel"]["before"] == report["counts"]["channel"]["after"]
    [change] = report["changes"]
    assert (change["field"], change["before"], change["after"], change["count"]) == ("priority", "orange", "green", moved)
    assert 1 <= len(change["samples"]) <= 5
    assert all(sample["ticket"].startswith("T-") and sample["text"] for sample in change["samples"])
    assert all("purchase-intent" in sample["rules_after"] for sample in change["samples"])
    assert _counts(history / "history.db") == before


def test_backtest_prints_counts_and_samples_in_both_languages(history, capsys):
    new = _new_rules(history, SALES_OLD, SALES_NEW)
    code, out, _ = run(capsys, "rules", "backtest", str(new), "--since", SINCE)
    assert code == 0
    assert "would triage differently" in out and "priority orange → green" in out and "T-" in out
    code, out, _ = run(capsys, "--lang", "ja", "rules", "backtest", str(new), "--since", SINCE)
    assert code == 0
    assert "振り分けが変わります" in out and "優先度 orange → green" in out


def test_unchanged_rules_change_nothing(history, capsys):
    code, out, _ = run(capsys, "rules", "backtest", str(RULES_PATH), "--since", SINCE, "--json")
    report = json.loads(out)
    assert code == 0 and report["messages"] >= 40 and report["changed"] == 0 and report["changes"] == []


def test_since_limits_the_period_by_the_runtime_clock(history, capsys):
    new = _new_rules(history, SALES_OLD, SALES_NEW)
    code, out, _ = run(capsys, "rules", "backtest", str(new), "--since", "1m", "--json")
    assert code == 0 and json.loads(out)["messages"] == 0


def test_broken_new_rules_name_file_and_line(history, capsys):
    broken = _new_rules(history, "priority: red", "priority: purple")
    line = next(i for i, text in enumerate(broken.read_text("utf-8").splitlines(), 1) if "purple" in text)
    code, out, err = run(capsys, "rules", "backtest", str(broken), "--since", SINCE)
    assert code == 2 and out == ""
    assert f"{broken}:{line}:" in err and "purple" in err


def test_bad_since_is_a_usage_error(history, capsys):
    code, _, err = run(capsys, "rules", "backtest", str(RULES_PATH), "--since", "soon")
    assert code == 2 and "--since soon" in err
