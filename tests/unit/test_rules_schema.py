"""rules.yaml loading: the shipped file, and every kind of mistake reported as `PATH:LINE: message`."""

from datetime import date, timedelta
from pathlib import Path

import pytest

from chatops.rules import Rules, RulesError, load_rules

ROOT = Path(__file__).resolve().parents[2]

MINIMAL = """\
channels:
  support: {slack: "#cs-support"}
  urgent: {slack: "#cs-urgent"}
defaults:
  channel: support
sla:
  policies:
    - {priority: red, first_response: 1h, resolution: 8h}
    - {priority: orange, first_response: 4h, resolution: 1d}
    - {priority: green, first_response: 8h, resolution: 3d}
"""


def problems_of(tmp_path: Path, text: str) -> tuple[str, list[str]]:
    """Write text as rules.yaml and return (path, the problems loading it reports)."""
    path = tmp_path / "rules.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    assert str(caught.value) == "\n".join(caught.value.problems)
    return str(path), caught.value.problems


def line_of(text: str, marker: str) -> int:
    """1-based number of the first line of text containing marker."""
    return next(number for number, line in enumerate(text.splitlines(), 1) if marker in line)


def test_shipped_rules_load():
    rules = load_rules(ROOT / "rules.yaml")
    assert set(rules.priorities) == {"red", "orange", "green"}
    assert rules.priorities["red"].rank > rules.priorities["orange"].rank > rules.priorities["green"].rank
    assert set(rules.levels) == {"L1", "L2", "L3"} and rules.levels["L3"].owners
    assert rules.defaults.channel in rules.channels
    assert rules.threading.window_minutes == 1440
    assert rules.sla.warn_at == 0.8
    assert rules.business_hours.timezone == "Asia/Tokyo" and rules.business_hours.holidays_country == "JP"
    assert date(2027, 1, 1) in rules.business_hours.closed_dates
    assert {reply.id for reply in rules.canned_replies} >= {"apology-investigating", "returns-procedure", "thanks"}
    assert all(reply.text.ja and reply.text.en for reply in rules.canned_replies)
    assert rules.keywords["x"]


def test_minimal_rules_get_defaults(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(MINIMAL, "utf-8")
    rules = load_rules(path)
    assert rules.defaults.priority == "green" and rules.defaults.level == "L1" and rules.defaults.language == "ja"
    assert rules.priorities["red"].label.get("en") == "Urgent"
    assert rules.business_hours.opening_hours(0) == [(540, 1080)] and rules.business_hours.opening_hours(6) == []
    assert rules.permissions["claim"] == ["agents"] and set(rules.permissions) >= {"stats", "reopen"}


def test_sla_policy_prefers_exact_tier(tmp_path):
    rules = load_rules(ROOT / "rules.yaml")
    premium = rules.sla.policy_for("red", "premium")
    assert (premium.tier, premium.first_response, premium.calendar) == ("premium", timedelta(minutes=15), "24x7")
    standard = rules.sla.policy_for("red", "standard")
    assert (standard.tier, standard.first_response, standard.resolution) == ("*", timedelta(hours=1), timedelta(hours=8))
    assert rules.sla.policy_for("green", "premium").resolution == timedelta(days=3)


def test_roles_and_permissions(tmp_path):
    text = MINIMAL + """\
roles:
  agents: [U0AGENT]
  leads: [U0LEAD]
  managers: [U0BOSS]
permissions:
  assign: [leads]
  stats: [everyone]
"""
    path = tmp_path / "rules.yaml"
    path.write_text(text, "utf-8")
    rules = load_rules(path)
    assert rules.roles_of("U0LEAD") == {"leads", "agents"}
    assert rules.roles_of("U0BOSS") == {"managers", "leads", "agents"}
    assert rules.roles_of("U0STRANGER") == set()
    assert rules.may("U0LEAD", "claim") and rules.may("U0LEAD", "assign")
    assert rules.may("U0AGENT", "claim") and not rules.may("U0AGENT", "assign")
    assert rules.may("U0BOSS", "reopen") and rules.may("U0STRANGER", "stats")
    assert not rules.may("U0STRANGER", "claim")


RULE_MISTAKES = [
    ("set: {priority: purple}", "purple", "keyword_rules[0].set.priority: 'purple' is not a priority (red, orange, green)"),
    ("set: {level: L4}", "L4", "keyword_rules[0].set.level: 'L4' is not a level (L1, L2, L3)"),
    ("sources: [x, myspace]", "myspace",
     "keyword_rules[0].sources[1]: 'myspace' is not a source (x, facebook, instagram, line, mastodon, bluesky, webhook)"),
    ("kinds: [tweet]", "tweet", "keyword_rules[0].kinds[0]: 'tweet' is not a kind (mention, reply, dm, comment, keyword)"),
    ("set: {notify: [someone]}", "someone",
     "keyword_rules[0].set.notify[0]: 'someone' is not a Slack user id (U012ABC) or group handle (@team)"),
    ("exlude: [テスト]", "exlude", "keyword_rules[0].exlude: unknown field (did you mean 'exclude'?)"),
    ("set: {channel: nowhere}", "nowhere", "keyword_rules[0].set.channel: 'nowhere' is not a channel (defined: support, urgent)"),
]


@pytest.mark.parametrize(("extra", "marker", "message"), RULE_MISTAKES)
def test_rule_mistakes_name_line_and_field(tmp_path, extra, marker, message):
    text = MINIMAL + f"keyword_rules:\n  - id: refund\n    any: [refund]\n    {extra}\n"
    path, problems = problems_of(tmp_path, text)
    assert problems == [f"{path}:{line_of(text, marker)}: {message}"]


def test_bad_regex_and_empty_keyword_point_at_their_own_lines(tmp_path):
    text = MINIMAL + """\
keyword_rules:
  - id: order
    regex:
      - 'order\\s*\\d+'
      - 'order(\\d+'
  - id: blank
    any:
      - refund
      - "  "
"""
    path, problems = problems_of(tmp_path, text)
    blank_line = line_of(text, '"  "')
    assert problems == [
        f"{path}:{line_of(text, 'order(')}: keyword_rules[0].regex[1]: bad regex 'order(\\\\d+': "
        "missing ), unterminated subpattern at position 5",
        f"{path}:{blank_line}: keyword_rules[1].any[1]: keyword '  ' is empty after normalisation",
    ]


def test_rule_without_condition_and_without_id(tmp_path):
    text = MINIMAL + "keyword_rules:\n  - id: nothing\n    set: {priority: red}\n  - any: [refund]\n"
    path, problems = problems_of(tmp_path, text)
    assert problems == [
        f"{path}:{line_of(text, 'id: nothing')}: keyword_rules[0]: a rule needs at least one of any, all, regex, lemmas or examples",
        f"{path}:{line_of(text, '- any: [refund]')}: keyword_rules[1].id: required field is missing",
    ]


def test_duplicate_rule_ids(tmp_path):
    text = MINIMAL + "keyword_rules:\n  - id: refund\n    any: [refund]\n  - id: refund\n    any: [返金]\n"
    path, problems = problems_of(tmp_path, text)
    second = line_of(text, "any: [返金]") - 1
    assert problems == [f"{path}:{second}: keyword_rules[1].id: duplicate id 'refund' (also keyword_rules[0])"]


def test_unknown_channels_in_defaults_and_routing(tmp_path):
    text = MINIMAL.replace("channel: support", "channel: helpdesk") + "routing:\n  - sources: [line]\n    channel: line-desk\n"
    path, problems = problems_of(tmp_path, text)
    assert problems == [
        f"{path}:{line_of(text, 'helpdesk')}: defaults.channel: 'helpdesk' is not a channel (defined: support, urgent)",
        f"{path}:{line_of(text, 'line-desk')}: routing[0].channel: 'line-desk' is not a channel (defined: support, urgent)",
    ]


def test_bad_durations_and_missing_sla_coverage(tmp_path):
    text = MINIMAL.replace("first_response: 4h", "first_response: 4 hours").replace(
        "resolution: 3d}", "resolution: 3d}\n    - {priority: green, first_response: 9h, resolution: 2h}"
    )
    path, problems = problems_of(tmp_path, text)
    assert problems == [
        f"{path}:{line_of(text, '4 hours')}: sla.policies[1].first_response: '4 hours' is not a duration "
        "(write e.g. 30m, 1h, 1h30m, 2d)",
        f"{path}:{line_of(text, '9h')}: sla.policies[3]: first_response must not be longer than resolution",
    ]
    text = MINIMAL.replace("    - {priority: green, first_response: 8h, resolution: 3d}\n", "")
    path, problems = problems_of(tmp_path, text)
    policies = line_of(text, "policies:")
    assert problems == [
        f"{path}:{policies}: sla.policies: no policy for green/standard (add tier 'standard' or '*')",
        f"{path}:{policies}: sla.policies: no policy for green/premium (add tier 'premium' or '*')",
    ]


def test_duplicate_sla_policy(tmp_path):
    text = MINIMAL + "    - {priority: red, tier: '*', first_response: 2h, resolution: 8h}\n"
    path, problems = problems_of(tmp_path, text)
    assert problems == [f"{path}:{line_of(text, '2h')}: sla.policies[3]: duplicate policy for red/* (also sla.policies[0])"]


def test_business_hours_mistakes(tmp_path):
    text = MINIMAL + """\
business_hours:
  timezone: Asia/Tokio
  holidays_country: XX
  weekly:
    mon: ["09:00-18:00", "17:00-20:00"]
    tue: ["18:00-09:00"]
    wed: ["9-18"]
    funday: []
  closed_dates: [2026-12-29..2026-12-01]
"""
    path, problems = problems_of(tmp_path, text)
    assert problems == [
        f"{path}:{line_of(text, 'Tokio')}: business_hours.timezone: 'Asia/Tokio' is not a known time zone (e.g. Asia/Tokyo, UTC)",
        f"{path}:{line_of(text, 'XX')}: business_hours.holidays_country: 'XX' is not a country the holidays package knows "
        "(e.g. JP, US)",
        f"{path}:{line_of(text, 'tue:')}: business_hours.weekly.tue[0]: '18:00-09:00': the range must start before it ends "
        "(00:00-24:00 at most)",
        f"{path}:{line_of(text, 'wed:')}: business_hours.weekly.wed[0]: '9-18' is not a time range "
        "(write HH:MM-HH:MM, e.g. 09:00-18:00)",
        f"{path}:{line_of(text, 'funday')}: business_hours.weekly.funday: 'funday' is not a day (mon, tue, wed, thu, fri, sat, sun)",
        f"{path}:{line_of(text, 'closed_dates')}: business_hours.closed_dates: '2026-12-29..2026-12-01': the range ends "
        "before it starts",
    ]


def test_overlapping_opening_hours_and_date_ranges(tmp_path):
    text = MINIMAL + 'business_hours:\n  weekly:\n    mon: ["09:00-18:00", "17:00-20:00"]\n'
    path, problems = problems_of(tmp_path, text)
    assert problems == [f"{path}:{line_of(text, 'weekly')}: business_hours.weekly: mon: opening hours overlap"]
    never_open = MINIMAL + "business_hours:\n  weekly: {mon: [], tue: [], wed: [], thu: [], fri: [], sat: [], sun: []}\n"
    path, problems = problems_of(tmp_path, never_open)
    assert problems == [f"{path}:{line_of(never_open, 'weekly')}: business_hours.weekly: no opening hours on any day "
                        "(a team open around the clock writes 00:00-24:00 on each day, or gives its SLA policies "
                        "calendar: 24x7)"]
    ok = tmp_path / "ok.yaml"
    ok.write_text(MINIMAL + "business_hours:\n  closed_dates: [2026-12-30..2027-01-02, 2027-03-31]\n", "utf-8")
    closed = load_rules(ok).business_hours.closed_dates
    assert closed == [date(2026, 12, 30), date(2026, 12, 31), date(2027, 1, 1), date(2027, 1, 2), date(2027, 3, 31)]


def test_permissions_and_priorities_mistakes(tmp_path):
    text = MINIMAL + """\
priorities:
  red: {rank: 1, color: "#d50000", emoji: ":red_circle:", label: {ja: 大至急, en: Urgent}}
  orange: {rank: 2, color: "#ff9100", emoji: ":large_orange_circle:", label: {ja: 至急, en: High}}
  green: {rank: 3, color: green, emoji: ":large_green_circle:", label: {ja: 通常}}
permissions:
  claim: [agents, interns]
  delete: [managers]
threading:
  window_minutes: 0
"""
    path, problems = problems_of(tmp_path, text)
    assert problems == [
        f"{path}:{line_of(text, 'green: {rank')}: priorities.green.color: 'green' is not a hex colour like #d50000",
        f"{path}:{line_of(text, 'green: {rank')}: priorities.green.label.en: required field is missing",
        f"{path}:{line_of(text, 'interns')}: permissions.claim[1]: 'interns' is not a role (agents, leads, managers, everyone)",
        f"{path}:{line_of(text, 'delete')}: permissions.delete: 'delete' is not an action "
        "(claim, reply, escalate, resolve, reopen, assign, stats, issue, moderate, block)",
        f"{path}:{line_of(text, 'window_minutes')}: threading.window_minutes: Input should be greater than or equal to 1 (got 0)",
    ]
    text = MINIMAL + 'priorities:\n  red: {rank: 1, color: "#d50000", emoji: x, label: {ja: a, en: b}}\n'
    path, problems = problems_of(tmp_path, text)
    assert problems == [f"{path}:{line_of(text, 'priorities')}: priorities: missing priorities orange, green "
                        "(all of red, orange, green are needed)"]
    text = MINIMAL + """\
priorities:
  red: {rank: 1, color: "#d50000", emoji: x, label: {ja: a, en: b}}
  orange: {rank: 2, color: "#d50000", emoji: x, label: {ja: a, en: b}}
  green: {rank: 3, color: "#d50000", emoji: x, label: {ja: a, en: b}}
"""
    path, problems = problems_of(tmp_path, text)
    assert problems == [f"{path}:{line_of(text, 'priorities')}: priorities: ranks must go down in the order "
                        "red, orange, green (got [1, 2, 3])"]


def test_missing_sections_and_wrong_types(tmp_path):
    text = "# nothing but channels\nchannels:\n  support: {slack: cs-support}\nkeyword_rules: {id: x}\n"
    path, problems = problems_of(tmp_path, text)
    assert problems == [
        f"{path}:2: defaults: required field is missing",
        f"{path}:2: sla: required field is missing",
        f"{path}:3: channels.support.slack: 'cs-support' is not a Slack channel id (C012ABC) or #name",
        f"{path}:4: keyword_rules: Input should be a valid list",
    ]


def test_duplicate_yaml_keys_are_reported(tmp_path):
    text = MINIMAL + "threading:\n  window_minutes: 60\n  window_minutes: 90\n"
    path, problems = problems_of(tmp_path, text)
    assert problems == [f"{path}:{line_of(text, '90')}: threading.window_minutes: duplicate key 'window_minutes'"]


def test_yaml_syntax_error(tmp_path):
    text = MINIMAL + "keyword_rules:\n  - id: x\n    any: [refund\n  - id: y\n"
    path, problems = problems_of(tmp_path, text)
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:{line_of(text, '- id: y')}: YAML syntax error: ")
    text = MINIMAL + "threading:\n  window_minutes: 60\x07\n"
    path, problems = problems_of(tmp_path, text)
    assert problems == [f"{path}:{line_of(text, '60')}: YAML syntax error: control characters are not allowed "
                        "(character #x0007)"]


def test_unreadable_files(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(RulesError) as caught:
        load_rules(missing)
    assert caught.value.problems == [f"{missing}: file not found"]
    path, problems = problems_of(tmp_path, "# only a comment\n")
    assert problems == [f"{path}:1: the file is empty"]
    path, problems = problems_of(tmp_path, "- just\n- a list\n")
    assert problems == [f"{path}:1: expected a mapping of sections (channels:, ...)"]


def test_problems_come_sorted_by_line(tmp_path):
    text = MINIMAL + "keyword_rules:\n  - id: a\n    any: [x]\n    set: {level: L9}\n  - id: B\n    any: [y]\n"
    text = text.replace("first_response: 8h", "first_response: soon")
    _, problems = problems_of(tmp_path, text)
    lines = [int(problem.split(":")[1]) for problem in problems]
    assert lines == sorted(lines) and len(problems) == 3


def test_rules_model_is_read_only():
    rules = load_rules(ROOT / "rules.yaml")
    with pytest.raises(ValueError):
        rules.defaults.channel = "elsewhere"
    assert isinstance(rules, Rules)
