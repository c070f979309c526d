"""On-call schedules (rotations, handoffs in local time, overrides), `chatops oncall`, and
overdue tickets listed first."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from chatops.cli import main
from chatops.oncall.schedule import Cover, now_and_next, on_call, shifts
from chatops.rules.oncall import Schedule
from chatops.tickets import service
from tests.helpers import answer, inbound

JST = ZoneInfo("Asia/Tokyo")


def jst(*args) -> datetime:
    return datetime(*args, tzinfo=JST)


WEEKLY = Schedule(timezone="Asia/Tokyo", rotation="weekly", handoff="10:00", start=date(2026, 11, 2),
                  members=["UA", "UB", "UC"],
                  overrides=[{"user": "UX", "from": "2026-11-25T12:00", "until": "2026-11-25T18:00"}])


@pytest.mark.parametrize(("moment", "expected"), [
    (jst(2026, 11, 2, 10, 0), "UA"),
    (jst(2026, 11, 9, 9, 59), "UA"),      # hand-off is at 10:00 local
    (jst(2026, 11, 9, 10, 0), "UB"),
    (jst(2026, 11, 25, 13, 0), "UX"),     # rules.yaml override
    (jst(2026, 11, 16, 10, 0), "UC"),
    (jst(2026, 11, 25, 18, 0), "UA"),     # fourth week wraps around to the first member
])
def test_weekly_rotation_and_override(moment, expected):
    assert on_call(WEEKLY, moment).user == expected


def test_daily_rotation_across_dst():
    schedule = Schedule(timezone="America/New_York", rotation="daily", handoff="09:00", start=date(2026, 3, 6),
                        members=["UA", "UB"])
    # 2026-03-08 is a 23-hour day in New York: the hand-off stays at 09:00 local.
    current, following = now_and_next(schedule, datetime(2026, 3, 8, 12, 0, tzinfo=ZoneInfo("America/New_York")))
    assert (current.user, following.user) == ("UA", "UB")
    assert following.start == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)


def test_people_overrides_win_and_shifts_list_changes():
    extra = [Cover("UZ", jst(2026, 11, 24, 9, 0), jst(2026, 11, 24, 12, 0))]
    assert on_call(WEEKLY, jst(2026, 11, 24, 10, 0), extra).user == "UZ"
    now, following = now_and_next(WEEKLY, jst(2026, 11, 24, 10, 0), extra)
    assert (now.user, following.user, following.start) == ("UZ", "UA", jst(2026, 11, 24, 12, 0))
    listed = [(c.user, c.start.astimezone(JST).day) for c in shifts(WEEKLY, jst(2026, 11, 24, 0, 0),
                                                                     jst(2026, 11, 26, 0, 0), extra)]
    assert listed == [("UA", 24), ("UZ", 24), ("UA", 24), ("UX", 25), ("UA", 25)]


def test_cli_oncall_who_override_and_ack(settings, monkeypatch, capsys, flows, clock):
    monkeypatch.setenv("CHATOPS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CHATOPS_RULES", str(settings.rules_path))
    flows.ingest(inbound("二重請求されています"))
    assert main(["--lang", "en", "oncall", "override", "U0AGENT002", "2099-01-01 10:00", "--schedule", "primary"]) == 0
    assert main(["--lang", "en", "oncall", "who"]) == 0
    out = capsys.readouterr().out
    assert "U0AGENT002 covers primary until 01/01 Thu 10:00 JST" in out
    assert "primary: now U0AGENT002" in out
    assert main(["--lang", "en", "sla", "run"]) == 0
    assert main(["--lang", "en", "oncall", "pages"]) == 0
    assert "P-1 T-1 triggered → U0AGENT002 (notified 1×)" in capsys.readouterr().out
    assert main(["--lang", "en", "oncall", "ack", "P-1", "--as", "U0AGENT002"]) == 0
    assert "1 page acknowledged." in capsys.readouterr().out
    assert main(["--lang", "en", "oncall", "ack", "T-99"]) == 2
    assert "T-99" in capsys.readouterr().err


def test_overdue_tickets_are_listed_first(flows, clock, session_factory):
    flows.ingest(inbound("使い方を教えてください", author={"id": "a", "handle": "@a", "name": "a"}))  # green
    clock.advance(hours=1)
    flows.ingest(inbound("二重請求されています", author={"id": "b", "handle": "@b", "name": "b"},
                         created_at=clock.now.isoformat()))  # red, due in 1h
    with session_factory() as session:
        now = clock.now
        assert [t.key for t in service.list_tickets(session, open_only=True, now=now)] == ["T-2", "T-1"]
        later = jst(2026, 11, 24, 12, 0)  # green's 8h first response has passed; red's 1h too
        assert [t.key for t in service.list_tickets(session, open_only=True, now=later)] == ["T-2", "T-1"]
    answer(flows, "T-2", actor="U0AGENT001", text="確認します")
    with session_factory() as session:
        # red answered and its resolution (8h, due Tue) not yet passed; green's first response is overdue
        assert [t.key for t in service.list_tickets(session, open_only=True, now=jst(2026, 11, 24, 9, 30))] == [
            "T-1", "T-2"]


def test_text_answer_for_teams_mentions(flows, clock, session_factory):
    from types import SimpleNamespace

    from chatops.teams.commands import answer
    from chatops.teams.surface import TeamsSurface

    surface = TeamsSurface(SimpleNamespace(flows=flows, rules=flows.rules, session_factory=session_factory,
                                           clock=clock))
    flows.ingest(inbound("二重請求されています"))
    flows.page_pass()
    assert "primary: now U0AGENT003" in answer(surface, "U0AGENT003", "oncall", "en")
    assert "P-1 T-1 triggered → U0AGENT003" in answer(surface, "U0AGENT003", "oncall pages", "en")
    assert "P-1" in answer(surface, "U0AGENT003", "oncall ack P-1", "en")
    assert "P-1 T-1 acknowledged" in answer(surface, "U0AGENT003", "oncall pages", "en")


def test_bare_oncall_answers_who_with_weekdays_in_the_chosen_language(settings, monkeypatch, capsys):
    monkeypatch.setenv("CHATOPS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CHATOPS_RULES", str(settings.rules_path))
    assert main(["--lang", "ja", "oncall", "override", "U0AGENT002", "2099-01-01 10:00", "--schedule", "primary"]) == 0
    assert "01/01（木）10:00 JST" in capsys.readouterr().out  # 2099-01-01 is a Thursday
    assert main(["--lang", "ja", "oncall"]) == 0
    out = capsys.readouterr().out
    assert "primary：現在 U0AGENT002" in out and " Thu " not in out


def test_an_unknown_chatops_lang_is_refused(monkeypatch, capsys):
    monkeypatch.setenv("CHATOPS_LANG", "fr")
    assert main(["oncall"]) == 2
    assert "CHATOPS_LANG=fr" in capsys.readouterr().err
