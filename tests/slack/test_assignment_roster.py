"""The Slack roster over the emulated Web API: group members from usergroups.list, presence and
do-not-disturb as Slack answers them, a short cache, and a refused read raised, never guessed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from chatops.slack.roster import RosterUnavailable, SlackRoster

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def roster(fake_slack):
    return SlackRoster(WebClient(token="xoxb-test", base_url=fake_slack.api_url, retry_handlers=[]),
                       monotonic=Ticks())


def test_group_members_in_slacks_order_and_user_ids_as_themselves(roster, fake_slack):
    assert roster.members("@cs-l1") == ["U0AGENT001", "U0AGENT002"]
    assert roster.members("@CS-L2") == ["U0AGENT003", "U0LEAD0001"]
    assert roster.members("U0AGENT009") == ["U0AGENT009"]
    [call] = [c for c in fake_slack.calls if c.method == "usergroups.list"]
    assert call.args["include_users"] in ("1", "true")  # else Slack leaves `users` out


def test_presence_and_do_not_disturb(roster, fake_slack):
    now = NOW.timestamp()
    fake_slack.presence["U0AGENT002"] = "away"
    fake_slack.dnd["U0AGENT003"] = (now - 60, now + 60)
    fake_slack.dnd["U0AGENT004"] = (now + 60, now + 3600)  # later tonight: available now
    assert roster.available("U0AGENT001", NOW) is True
    assert roster.available("U0AGENT002", NOW) is False
    assert roster.available("U0AGENT003", NOW) is False
    assert roster.available("U0AGENT004", NOW) is True


def test_answers_are_cached_for_a_minute(roster, fake_slack):
    assert roster.available("U0AGENT001", NOW) is True
    fake_slack.presence["U0AGENT001"] = "away"
    assert roster.available("U0AGENT001", NOW) is True
    roster.monotonic.now += 61
    assert roster.available("U0AGENT001", NOW) is False


def test_a_refused_read_raises(fake_slack):
    broken = SlackRoster(WebClient(token="xoxb-wrong", base_url=fake_slack.api_url, retry_handlers=[]))
    with pytest.raises(RosterUnavailable, match="invalid_auth"):
        broken.members("@cs-l1")
    with pytest.raises(RosterUnavailable, match="users.getPresence U0AGENT001: invalid_auth"):
        broken.available("U0AGENT001", NOW)
    with pytest.raises(RosterUnavailable, match="no user group @nobody"):
        SlackRoster(WebClient(token="xoxb-test", base_url=fake_slack.api_url)).members("@nobody")
    fake_slack.unknown_users.add("U0GONE")
    with pytest.raises(RosterUnavailable, match="user_not_found"):
        SlackRoster(WebClient(token="xoxb-test", base_url=fake_slack.api_url)).available("U0GONE", NOW)


def test_the_integrations_check_covers_assignment_people():
    from pathlib import Path

    from chatops.rules.loader import parse_rules
    from chatops.slack.mentions import rules_handles

    text = (Path(__file__).resolve().parents[2] / "rules.yaml").read_text(encoding="utf-8")
    rules = parse_rules(text + '\nassignment:\n  support:\n    people: ["@cs-l1", U0AGENT003]\n')
    assert ("@cs-l1", "assignment.support.people") in rules_handles(rules)
    assert ("U0AGENT003", "assignment.support.people") in rules_handles(rules)


def test_the_emulator_answers_group_reads_as_slack_does(fake_slack):
    client = WebClient(token="xoxb-test", base_url=fake_slack.api_url, retry_handlers=[])
    assert "users" not in client.usergroups_list()["usergroups"][0]  # only with include_users
    assert client.usergroups_users_list(usergroup="S0CSL1")["users"] == ["U0AGENT001", "U0AGENT002"]
    with pytest.raises(SlackApiError, match="no_such_subteam"):
        client.usergroups_users_list(usergroup="S0NONE")
    answer = client.dnd_info(user="U0AGENT001").data
    assert answer["ok"] is True and answer["dnd_enabled"] is False
    assert set(answer) == {"ok", "dnd_enabled", "next_dnd_start_ts", "next_dnd_end_ts"}
    assert client.users_getPresence(user="U0AGENT001").data == {"ok": True, "presence": "active"}
