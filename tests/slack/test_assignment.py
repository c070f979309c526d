"""Auto-assignment end to end: tickets arrive, the scheduler pass (on the hand-moved clock)
assigns them by rules.yaml `assignment:` among the people of a Slack user group who are on
shift and available in the fake Slack (users.getPresence, dnd.info), the thread and card say
so in ja or en, an assignee who does not reply in time is replaced, a signed `/ticket assign
T-1 auto` picks now, and a group Slack does not know is shown to people and in /metrics."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from chatops.i18n import t
from chatops.oncall.models import SchedulerError
from chatops.rules.loader import parse_rules
from chatops.runtime import Runtime
from chatops.scheduler import Lease, Scheduler
from chatops.tickets.models import Ticket
from tests.fakes.http_recorder import Answer, RecordingServer
from tests.helpers import inbound
from tests.slack.conftest import AGENT, AGENT2, LEAD, Desk
from tests.slack.test_scenario import parent_text

ROOT = Path(__file__).resolve().parents[2]
AGENT3 = "U0AGENT003"
TEXT = (ROOT / "rules.yaml").read_text(encoding="utf-8")


def rules_with(section: str, *, language: str = "ja"):
    """The shipped rules.yaml with an `assignment:` section (and the team language) of the test's own."""
    text = TEXT.replace("  language: ja ", f"  language: {language} ", 1)
    return parse_rules(f"{text}\nassignment:\n{section}", "rules.yaml")


ROUND_ROBIN = """\
  support:
    people: ["@cs-l1", U0AGENT003]
    shift: always
"""


@pytest.fixture
def network():
    with RecordingServer() as server:
        server.default = Answer(201, {"id": "sent-1"})
        yield server


@pytest.fixture
def rules(request):
    section, language = getattr(request, "param", (ROUND_ROBIN, "ja"))
    return rules_with(section, language=language)


@pytest.fixture
def desk(slack_settings, rules, clock, fake_slack, network):
    runtime = Runtime.build(slack_settings, upgrade_db=False, rules=rules, clock=clock)
    desk = Desk(runtime, fake_slack, clock)
    desk.replies_to(network)
    yield desk
    runtime.close()


def arrive(desk: Desk, number: int) -> str:
    key = desk.flows.ingest(inbound("注文の配送状況を教えてください", source="webhook", account="shop-form",
                                    conversation_id=f"conv-{number}", author={
        "id": f"c{number}", "handle": f"@customer{number}", "name": f"Customer {number}"})).ticket_key
    assert desk.ticket(key).channel == "support"
    return key


def tick(desk: Desk) -> None:
    """One scheduler round (one replica, holding the lease throughout), then deliver."""
    if not hasattr(desk, "scheduler"):
        desk.scheduler = Scheduler(desk.flows, Lease(desk.runtime.session_factory, clock=desk.clock))
    assert desk.scheduler.tick() is not None
    desk.drain()


def assignees(desk: Desk, keys: list[str]) -> list[str | None]:
    return [desk.ticket(key).assignee for key in keys]


def thread(desk: Desk, key: str) -> list[str]:
    parent = next(p for p in desk.slack.parents() if key in parent_text(p))
    return [message.text for message in desk.slack.thread(parent)]


def card(desk: Desk, key: str) -> str:
    return parent_text(next(p for p in desk.slack.parents() if key in parent_text(p)))


def metric(desk: Desk, name: str) -> str:
    body = desk.client.get("/metrics").get_data(as_text=True)
    return "\n".join(line for line in body.splitlines() if line.startswith(name))


def test_round_robin_goes_round_the_group_and_says_so_in_the_thread(desk):
    keys = [arrive(desk, n) for n in range(4)]
    desk.drain()
    tick(desk)
    assert assignees(desk, keys) == [AGENT, AGENT2, AGENT3, AGENT]
    mode = t("assign.mode.round_robin", "ja")
    assert t("slack.line.assigned_auto", "ja", to=f"<@{AGENT}>", mode=mode) in thread(desk, keys[0])
    assert t("slack.line.assigned_auto", "ja", to=f"<@{AGENT2}>", mode=mode) in thread(desk, keys[1])
    assert f"<@{AGENT3}>" in card(desk, keys[2])  # the card shows the assignee as for a person's assignment
    assert desk.events(keys[0]) == ["created", "assigned"]
    # The rotation carries on from where it stopped, on the next tick too.
    later = arrive(desk, 9)
    tick(desk)
    assert desk.ticket(later).assignee == AGENT2
    assert desk.ticket(later).status == "open"


@pytest.mark.parametrize("rules", [(ROUND_ROBIN, "en")], indirect=True)
def test_the_thread_line_in_english(desk):
    key = arrive(desk, 1)
    tick(desk)
    assert thread(desk, key)[-1] == t("slack.line.assigned_auto", "en", to=f"<@{AGENT}>",
                                      mode=t("assign.mode.round_robin", "en"))
    assert thread(desk, key)[-1] == f":robot_face: Assigned automatically to <@{AGENT}> (round-robin)."


LEAST_LOADED = """\
  support:
    people: ["@cs-l1", U0AGENT003]
    mode: least_loaded
    cap: 2
    shift: always
"""


@pytest.mark.parametrize("rules", [(LEAST_LOADED, "ja")], indirect=True)
def test_least_loaded_with_a_cap(desk):
    held = [arrive(desk, n) for n in range(2)]
    for key in held:
        desk.flows.assign(key, actor=LEAD, assignee=AGENT)  # AGENT is at the cap already
    keys = [arrive(desk, n) for n in range(10, 15)]
    tick(desk)
    assert assignees(desk, keys) == [AGENT2, AGENT3, AGENT2, AGENT3, None]  # everyone at the cap: waits
    assert thread(desk, keys[0])[-1] == t("slack.line.assigned_auto", "ja", to=f"<@{AGENT2}>",
                                          mode=t("assign.mode.least_loaded", "ja"))
    desk.flows.resolve(keys[0], actor=AGENT2)  # AGENT2 is under the cap again
    tick(desk)
    assert desk.ticket(keys[4]).assignee == AGENT2


BUSINESS_HOURS = """\
  support:
    people: ["@cs-l1", U0AGENT003]
    shift: business_hours
"""


@pytest.mark.parametrize("rules", [(BUSINESS_HOURS, "ja")], indirect=True)
def test_off_shift_away_and_do_not_disturb_are_skipped(desk, fake_slack, clock):
    clock.advance(days=1)  # Saturday 10:00 JST: closed
    key = arrive(desk, 1)
    tick(desk)
    assert desk.ticket(key).assignee is None
    clock.advance(days=2)  # Monday 11-23 is a public holiday (勤労感謝の日): still closed
    tick(desk)
    assert desk.ticket(key).assignee is None
    clock.advance(days=1)  # Tuesday 10:00 JST: open
    now = clock().timestamp()
    fake_slack.dnd[AGENT] = (now - 60, now + 3600)  # in do-not-disturb now
    fake_slack.presence[AGENT2] = "away"
    tick(desk)
    assert desk.ticket(key).assignee == AGENT3
    assert {"users.getPresence", "dnd.info", "usergroups.list"} <= set(desk.slack.methods())


ON_CALL = """\
  support:
    people: ["@cs-l1", U0AGENT003]
    shift: schedule:primary
"""


@pytest.mark.parametrize("rules", [(ON_CALL, "ja")], indirect=True)
def test_an_on_call_shift_takes_the_holder_only(desk):
    keys = [arrive(desk, n) for n in range(2)]
    tick(desk)
    # primary hands off weekly from Monday 2026-11-02: the third week (from 11-16) is U0AGENT003's.
    assert assignees(desk, keys) == [AGENT3, AGENT3]


REASSIGN = """\
  support:
    people: ["@cs-l1", U0AGENT003]
    shift: always
    reassign_after: 30m
"""


@pytest.mark.parametrize("rules", [(REASSIGN, "ja")], indirect=True)
def test_reassigned_when_the_assignee_does_not_reply_and_not_after_a_reply(desk, clock):
    key = arrive(desk, 1)
    tick(desk)
    assert desk.ticket(key).assignee == AGENT
    clock.advance(minutes=29)
    tick(desk)
    assert desk.ticket(key).assignee == AGENT  # not yet
    clock.advance(minutes=2)
    tick(desk)
    assert desk.ticket(key).assignee == AGENT2
    assert thread(desk, key)[-1] == t("slack.line.reassigned_auto", "ja", to=f"<@{AGENT2}>",
                                      previous=f"<@{AGENT}>", minutes=30)
    desk.flows.reply(key, actor=AGENT2, text="確認します。少々お待ちください。")
    desk.drain()
    clock.advance(hours=2)
    tick(desk)
    assert desk.ticket(key).assignee == AGENT2  # answered: stays
    # A person's own assignment is never handed on by the pass.
    other = arrive(desk, 2)
    desk.flows.assign(other, actor=LEAD, assignee=AGENT3)
    clock.advance(hours=2)
    tick(desk)
    assert desk.ticket(other).assignee == AGENT3


def test_ticket_assign_auto_from_slack(desk, fake_slack):
    key = arrive(desk, 1)
    desk.drain()
    refused = desk.command(f"assign {key} auto", user=AGENT)
    assert refused.get_json()["text"].startswith(":no_entry:")
    assert desk.ticket(key).assignee is None
    done = desk.command(f"assign {key} auto", user=LEAD)
    assert done.status_code == 200
    assert done.get_json()["text"] == ":white_check_mark: " + t("slack.cmd.done.assign", "ja", key=key,
                                                                  who=f"<@{AGENT}>")
    desk.drain()
    assert thread(desk, key)[-1] == t("slack.line.assigned_auto_by", "ja", who=f"<@{LEAD}>", to=f"<@{AGENT}>",
                                      mode=t("assign.mode.round_robin", "ja"))
    # Asked again: someone else (the one holding it is passed over).
    desk.command(f"assign {key} auto", user=LEAD)
    assert desk.ticket(key).assignee == AGENT2
    # Nobody available: said, nothing changes.
    for person in (AGENT, AGENT2, AGENT3):
        fake_slack.presence[person] = "away"
    desk.flows.assignment.roster._people.clear()  # the roster's short cache, as after its minute
    answer = desk.command(f"assign {key} auto", user=LEAD).get_json()["text"]
    assert answer == ":warning: " + t("error.no_agent_available", "ja", key=key, channel="support")
    assert desk.ticket(key).assignee == AGENT2


def test_ticket_assign_auto_without_a_rule_for_the_channel(desk):
    key = arrive(desk, 7)
    with desk.runtime.session_factory() as session:
        session.get(Ticket, int(key[2:])).channel = "sales"
        session.commit()
    answer = desk.command(f"assign {key} auto", user=LEAD).get_json()["text"]
    assert answer == ":warning: " + t("error.no_assignment_rule", "ja", key=key, channel="sales")


UNKNOWN_GROUP = """\
  support:
    people: ["@no-such-team"]
    shift: always
"""


@pytest.mark.parametrize("rules", [(UNKNOWN_GROUP, "ja")], indirect=True)
def test_a_group_slack_does_not_know_is_shown_and_counted(desk, rules):
    key = arrive(desk, 1)
    tick(desk)
    tick(desk)
    assert desk.ticket(key).assignee is None
    with desk.runtime.session_factory() as session:
        [error] = session.scalars(select(SchedulerError)).all()
    assert (error.pass_name, error.item, error.count) == ("assignment", "roster:support", 2)
    assert "@no-such-team" in error.error
    alert = t("sla.alert.pass.assignment", "ja")
    assert any(alert in (p.text or "") for p in desk.slack.parents())  # announced once to people
    assert 'chatops_scheduler_errors_total{pass="assignment"} 2.0' in metric(desk, "chatops_scheduler_errors")


def test_a_person_slack_cannot_answer_for_is_passed_over_and_recorded(desk, fake_slack):
    fake_slack.unknown_users.add(AGENT)  # users.getPresence: user_not_found
    key = arrive(desk, 1)
    tick(desk)
    assert desk.ticket(key).assignee == AGENT2
    with desk.runtime.session_factory() as session:
        [error] = session.scalars(select(SchedulerError)).all()
    assert (error.pass_name, error.item) == ("assignment", f"roster:support:{AGENT}")
    assert "user_not_found" in error.error


def test_ticket_assign_auto_when_slack_cannot_answer(desk, fake_slack):
    key = arrive(desk, 1)
    for person in (AGENT, AGENT2, AGENT3):
        fake_slack.unknown_users.add(person)
    answer = desk.command(f"assign {key} auto", user=LEAD).get_json()["text"]
    assert answer.startswith(":warning: " + t("error.roster_failed", "ja", key=key, channel="support",
                                              error="x").split("（")[0])
    assert "user_not_found" in answer
    assert desk.ticket(key).assignee is None
    assert 'chatops_scheduler_errors_total{pass="assignment"} 3.0' in metric(desk, "chatops_scheduler_errors")
