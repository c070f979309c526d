"""rules.yaml `assignment:`: a valid section loads, a broken one is refused naming file:line and
field in Japanese and English; and the pure picking order (rotation, least-loaded, cap)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from chatops.rules import RulesError, load_rules
from chatops.rules.schema import ChannelAssignment
from chatops.tickets.assignment import OpenRoster, choose, rotation

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = (ROOT / "rules.yaml").read_text(encoding="utf-8")


def load(tmp_path: Path, section: str):
    path = tmp_path / "rules.yaml"
    path.write_text(f"{SHIPPED}\nassignment:\n{section}", "utf-8")
    return path, load_rules(path)


def refused(tmp_path: Path, section: str) -> tuple[Path, RulesError]:
    path = tmp_path / "rules.yaml"
    path.write_text(f"{SHIPPED}\nassignment:\n{section}", "utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    return path, caught.value


def line_of(path: Path, marker: str) -> int:
    lines = path.read_text("utf-8").splitlines()
    return max(number for number, line in enumerate(lines, 1) if marker in line)


def test_the_shipped_rules_have_no_assignment_and_a_section_loads(tmp_path):
    assert load_rules(ROOT / "rules.yaml").assignment == {}
    _, rules = load(tmp_path, '  support:\n    people: "@cs-l1"\n    mode: least_loaded\n    cap: 5\n'
                              '    shift: schedule:primary\n    reassign_after: 1h30m\n')
    entry = rules.assignment["support"]
    assert entry.people == ["@cs-l1"] and entry.mode == "least_loaded" and entry.cap == 5
    assert entry.schedule == "primary" and entry.reassign_after == timedelta(minutes=90)


@pytest.mark.parametrize(("section", "marker", "field", "en", "ja"), [
    ("  support:\n    people: [\"@cs-l1\"]\n    mode: fastest\n", "mode: fastest", "assignment.support.mode",
     "Input should be 'round_robin' or 'least_loaded'", "'round_robin', 'least_loaded'"),
    ("  support:\n    people: [\"@cs-l1\"]\n    shift: nights\n", "shift: nights", "assignment.support.shift",
     "'nights' is not a shift", "'nights' はシフトとして使えません"),
    ("  support:\n    people: [\"@cs-l1\"]\n    shift: schedule:nights\n", "shift: schedule:nights",
     "assignment.support.shift", "'nights' is not an oncall schedule", "'nights' という oncall のスケジュールはありません"),
    ("  support:\n    people: [\"@cs-l1\"]\n    cap: 0\n", "cap: 0", "assignment.support.cap", "", ""),
    ("  support:\n    people: [\"@cs-l1\"]\n    reassign_after: soon\n", "reassign_after: soon",
     "assignment.support.reassign_after", "soon", "soon"),
    ("  support:\n    people: [\"cs team\"]\n", "cs team", "assignment.support.people[0]", "", ""),
    ("  support:\n    mode: round_robin\n", "  support:", "assignment.support.people", "", ""),
    ("  nowhere:\n    people: [\"@cs-l1\"]\n", "nowhere:", "assignment.nowhere",
     "'nowhere' is not a channel", "'nowhere'"),
    ("  support:\n    people: [\"@cs-l1\"]\n    caps: 3\n", "caps: 3", "assignment.support.caps", "cap", "cap"),
])
def test_a_broken_section_is_refused_naming_the_field(tmp_path, section, marker, field, en, ja):
    path, error = refused(tmp_path, section)
    [english] = [line for line in error.lines("en") if field in line]
    [japanese] = [line for line in error.lines("ja") if field in line]
    assert english.startswith(f"{path}:{line_of(path, marker)}: {field}: ")
    assert japanese.startswith(f"{path}:{line_of(path, marker)}: {field}: ")
    assert en in english and ja in japanese
    assert english != japanese or not ja


def entry(**fields) -> ChannelAssignment:
    return ChannelAssignment(people=["@team"], **fields)


def test_rotation_starts_after_the_last_pick_and_wraps():
    assert rotation(["a", "b", "c"], None) == ["a", "b", "c"]
    assert rotation(["a", "b", "c"], "b") == ["c", "a", "b"]
    assert rotation(["a", "b", "c"], "gone") == ["a", "b", "c"]


def test_choose_round_robin_skips_whoever_is_not_eligible():
    assert choose(entry(), ["a", "b", "c"], ["a", "c"], {}, "a") == "c"
    assert choose(entry(), ["a", "b", "c"], [], {}, "a") is None


def test_choose_least_loaded_breaks_ties_round_the_rotation():
    loads = {"a": 3, "b": 1, "c": 1}
    assert choose(entry(mode="least_loaded"), ["a", "b", "c"], ["a", "b", "c"], loads, None) == "b"
    assert choose(entry(mode="least_loaded"), ["a", "b", "c"], ["a", "b", "c"], loads, "b") == "c"


def test_without_a_directory_user_ids_stand_for_themselves():
    roster = OpenRoster()
    assert roster.members("U0AGENT001") == ["U0AGENT001"] and roster.members("@team") == []


def test_teams_cards_say_an_automatic_assignment_in_both_languages():
    from chatops.i18n import t
    from chatops.teams import cards
    from chatops.tickets.assignment import ASSIGNMENT_ACTOR

    rules = load_rules(ROOT / "rules.yaml")
    first = {"assignee_to": "U0AGENT001", "auto": {"mode": "least_loaded"}}
    handed = {"assignee_to": "U0AGENT002", "auto": {"mode": "round_robin", "reassigned_from": "U0AGENT001",
                                                     "after_minutes": 30}}
    for lang in ("ja", "en"):
        assert cards.event_line("assigned", ASSIGNMENT_ACTOR, first, rules, lang) == t(
            "teams.line.assigned_auto", lang, to="U0AGENT001", mode=t("assign.mode.least_loaded", lang))
        assert cards.event_line("assigned", ASSIGNMENT_ACTOR, handed, rules, lang) == t(
            "teams.line.reassigned_auto", lang, to="U0AGENT002", previous="U0AGENT001", minutes=30)
    assert cards.event_line("assigned", ASSIGNMENT_ACTOR, first, rules, "en") == \
        "Assigned automatically to U0AGENT001 (fewest open tickets)."
