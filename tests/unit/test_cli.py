"""The `chatops` command as a newcomer uses it: rules check/test, ingest, tickets list/show."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, RULES_PATH
from tests.helpers import cli_env
from tests.helpers import run_cli as run

EXAMPLES = ROOT / "examples" / "mentions.jsonl"


@pytest.fixture
def env(monkeypatch, tmp_path, database_url):
    return cli_env(monkeypatch, tmp_path, database_url)


def test_rules_check_accepts_shipped_rules(env, capsys):
    code, out, _ = run(capsys, "rules", "check", str(RULES_PATH))
    assert code == 0 and "OK" in out


def test_rules_check_names_file_and_line(env, capsys):
    broken = env / "broken.yaml"
    broken.write_text(RULES_PATH.read_text("utf-8").replace("priority: red", "priority: purple", 1), "utf-8")
    line = next(i for i, text in enumerate(broken.read_text("utf-8").splitlines(), 1) if "purple" in text)
    code, _, err = run(capsys, "rules", "check", str(broken))
    assert code == 2
    assert f"{broken}:{line}:" in err and "purple" in err


def test_rules_test_shows_triage_per_message(env, capsys):
    code, out, _ = run(capsys, "rules", "test", "--json", str(EXAMPLES))
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(rows) >= 40
    assert {"red", "orange", "green"} <= {row["priority"] for row in rows}
    assert all({"matched", "priority", "tags", "level", "channel"} <= set(row) for row in rows)


def test_ingest_examples_then_list_and_show(env, capsys):
    code, out, _ = run(capsys, "ingest", str(EXAMPLES))
    assert code == 0
    assert "duplicates" in out and " 0 errors" in out
    code, out, _ = run(capsys, "tickets", "list")
    assert code == 0 and "T-1 " in out and "red" in out
    first_data_line = out.splitlines()[1]
    assert " red " in first_data_line  # most urgent first
    code, out, _ = run(capsys, "tickets", "show", "T-1")
    assert code == 0 and "created" in out


def test_ingest_reports_bad_lines_and_keeps_good_ones(env, capsys):
    lines = EXAMPLES.read_text("utf-8").splitlines()
    bad = env / "mixed.jsonl"
    broken = json.loads(lines[0])
    del broken["author"]["id"]
    bad.write_text("\n".join([lines[0], json.dumps(broken), "{not json", lines[1]]) + "\n", "utf-8")
    code, out, err = run(capsys, "ingest", str(bad))
    assert code == 1
    assert f"{bad}:2: author.id: Field required" in err
    assert f"{bad}:3: not JSON" in err
    assert "2 errors" in out
    code, out, _ = run(capsys, "tickets", "list", "--json")
    assert len(out.splitlines()) >= 1


def test_unknown_ticket_is_an_error(env, capsys):
    code, _, err = run(capsys, "tickets", "show", "T-4242")
    assert code == 1 and "No ticket T-4242." in err


def test_japanese_output(env, capsys):
    code, _, err = run(capsys, "--lang", "ja", "tickets", "show", "T-4242")
    assert code == 1 and "チケット T-4242 は見つかりません" in err


def test_serve_refuses_broken_rules(env, capsys, monkeypatch):
    broken = env / "broken.yaml"
    broken.write_text("channels: [\n", "utf-8")
    monkeypatch.setenv("CHATOPS_RULES", str(broken))
    code, _, err = run(capsys, "serve", "--port", "0")
    assert code == 2 and f"{broken}:" in err


def test_serve_names_a_port_already_taken(env, capsys, monkeypatch):
    """One line naming the address and exit 2, not waitress's traceback."""
    import socket

    monkeypatch.setenv("CHATOPS_SANDBOX", "off")
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        code, _, err = run(capsys, "serve", "--port", str(port))
    assert code == 2
    # The last line says why; waitress's own traceback is gone. (Earlier tests in this process
    # may have left a log handler on a closed capture stream: its "Logging error" is theirs.)
    assert err.strip().splitlines()[-1].startswith(f"Cannot listen on 127.0.0.1:{port}: ")
    assert "waitress" not in err


def test_console_entry_point_runs(env):
    result = subprocess.run([sys.executable, "-m", "chatops", "rules", "check", str(RULES_PATH)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_db_upgrade_creates_schema_from_nothing(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHATOPS_DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    monkeypatch.setenv("CHATOPS_LANG", "en")
    code, _, err = run(capsys, "tickets", "list")
    assert code == 2 and "rules.yaml: file not found" in err  # no rules here yet
    monkeypatch.setenv("CHATOPS_RULES", str(RULES_PATH))
    code, out, _ = run(capsys, "db", "upgrade")
    assert code == 0 and "latest schema" in out
    code, out, _ = run(capsys, "tickets", "list")
    assert code == 0 and "No tickets." in out


def test_bad_setting_is_named(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHATOPS_DATABASE_URL", "mysql://nope")
    code, _, err = run(capsys, "tickets", "list")
    assert code == 2 and "CHATOPS_DATABASE_URL" in err
