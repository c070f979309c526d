"""`chatops stats` as a manager uses it: text, --json, --csv, a chart file, and named errors."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.unit.test_cli import run
from tests.unit.test_stats_figures import dataset  # noqa: F401  (the hand-computed data set)


@pytest.fixture
def env(monkeypatch, tmp_path, database_url, dataset):  # noqa: F811
    from tests.conftest import RULES_PATH

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHATOPS_DATABASE_URL", database_url)
    monkeypatch.setenv("CHATOPS_RULES", str(RULES_PATH))
    monkeypatch.setenv("CHATOPS_LANG", "en")
    return tmp_path


def test_json_has_every_figure_of_the_month(env, capsys):
    code, out, _ = run(capsys, "stats", "2026-11", "--json")
    assert code == 0
    figures = json.loads(out)
    assert figures["period"]["start"] == "2026-11-01" and figures["period"]["previous_start"] == "2026-10-01"
    assert figures["volume"]["created"] == {"value": 5, "previous": 0, "status": None}
    assert figures["csat"]["ratings"]["value"] == 2 and figures["csat"]["average"]["value"] == 3.5
    assert figures["escalations"]["L2"]["value"] == 1


def test_csv_is_one_row_per_figure(env, capsys):
    code, out, _ = run(capsys, "stats", "2026-11", "network:line", "--csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["section", "figure", "key", "value", "previous", "status"]
    assert ["volume", "created", "", "1", "0", ""] in rows
    assert ["sla", "first_response", "percent", "0.0", "", "red"] in rows


def test_text_in_japanese_with_colours(env, capsys):
    code, out, _ = run(capsys, "--lang", "ja", "stats", "2026-11")
    assert code == 0
    assert "サポート統計" in out and "初回応答: 中央値 🟢 3分" in out


def test_chart_file_is_a_png(env, capsys, tmp_path):
    code, _, _ = run(capsys, "stats", "2026-11", "--chart", str(tmp_path / "c.png"))
    assert code == 0
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("words, problem", [
    (["fortnight"], "'fortnight' is not a valid period"),
    (["channel:nowhere"], "'nowhere' is not a valid channel"),
    (["tag:a", "agent:U1"], "'agent:U1' is not a valid filter"),
])
def test_bad_words_are_named(env, capsys, words, problem):
    code, out, err = run(capsys, "stats", *words)
    assert code == 2 and problem in err and out == ""


def test_rebuild_gives_back_exactly_the_incremental_rollups(env, capsys, database_url):
    from sqlalchemy import select

    from chatops.db import make_engine
    from chatops.stats.models import StatsDaily, StatsDuration, StatsFact

    def nonzero_rows():
        engine = make_engine(database_url)
        with engine.connect() as conn:
            tables = [sorted(tuple(r) for r in conn.execute(select(model)) if any(r[5:]) or model is StatsFact)
                      for model in (StatsDaily, StatsFact)]
            tables.append(sorted(tuple(r) for r in conn.execute(select(StatsDuration)) if r.count))
        engine.dispose()
        return tables

    before, (_, json_before, _) = nonzero_rows(), run(capsys, "stats", "2026-11", "--json")
    code, out, _ = run(capsys, "stats", "rebuild")
    assert code == 0 and "5 tickets" in out
    assert nonzero_rows() == before
    assert run(capsys, "stats", "2026-11", "--json")[1] == json_before
