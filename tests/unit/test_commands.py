"""The command layer (chatops/commands.py): parse, permission, flow, result data — what Slack,
Teams and the CLI render."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from chatops import commands
from chatops.i18n import t
from chatops.oncall import commands as oncall_commands
from chatops.tickets import service
from tests.helpers import inbound


@pytest.fixture
def desk(flows, rules, session_factory, clock):
    runtime = SimpleNamespace(flows=flows, rules=rules, session_factory=session_factory, clock=clock)
    return commands.Desk(runtime)


def test_parse_reads_the_verb_and_its_words():
    command = commands.parse("Escalate T-12 l2 please look", surface="slack")
    assert (command.verb, command.args, command.usage) == ("escalate", ("T-12", "l2", "please", "look"), None)
    assert commands.parse("", surface="teams").verb == "help"
    assert commands.parse("ヘルプ").verb == "help"


def test_too_few_words_are_a_usage_error_naming_the_verb(desk):
    command = commands.parse("escalate T-1")
    assert command.usage == "escalate"
    result = commands.run(desk, command, actor="U0AGENT001")
    assert (result.kind, result.key, result.params) == ("error", "cmd.usage_line", {"verb": "escalate"})
    assert t("slack.cmd.usage.escalate", "ja") == "escalate T-12 L2 引き継ぎメモ"


def test_an_unknown_verb_is_help_with_the_word_as_typed(desk):
    result = commands.run(desk, commands.parse("Frobnicate T-1"), actor="U0AGENT001")
    assert (result.kind, result.key, result.params) == ("help", "cmd.unknown", {"word": "Frobnicate"})
    assert t(f"slack.{result.key}", "en", **result.params) == "Unknown command Frobnicate."


def test_a_verb_teams_does_not_offer_is_unknown_there(desk, monkeypatch):
    assert "assign" in commands.verbs_of("teams")
    monkeypatch.setitem(commands.VERBS, "slackonly", commands.Verb(None, 0, lambda d, a, w: commands.Result("done")))
    assert "slackonly" in commands.verbs_of("slack") and "slackonly" not in commands.verbs_of("teams")
    result = commands.run(desk, commands.parse("slackonly", surface="teams"), actor="U0LEAD0001")
    assert result.key == "cmd.unknown"


def test_refusal_names_the_role_before_looking_at_the_words(desk, rules):
    flows = desk.flows
    flows.ingest(inbound("二重請求されています"))
    result = commands.run(desk, commands.parse("assign T-1 <@U0AGENT002>"), actor="U0AGENT001")
    assert (result.kind, result.key) == ("error", "refused")
    assert result.params == {"action": "assign", "roles": ("leads",)}
    assert t("role.leads", "en") in rules.refusal(result.params["action"], "en")
    assert t("role.leads", "ja") in rules.refusal(result.params["action"], "ja")
    # Usage comes second: a person without the role hears about the role, not the words.
    assert commands.run(desk, commands.parse("assign"), actor="U0AGENT001").key == "refused"
    with desk.runtime.session_factory() as session:
        assert service.get_ticket(session, key="T-1").assignee is None


def test_user_groups_grant_roles_through_the_membership_callable(desk, rules):
    desk.flows.ingest(inbound("二重請求されています"))
    grouped = rules.model_copy(update={"roles": rules.roles.model_copy(
        update={"agents": [*rules.roles.agents, "@support"]})})
    desk = commands.Desk(SimpleNamespace(**{**vars(desk.runtime), "rules": grouped}))
    command = commands.parse("claim T-1")
    assert commands.run(desk, command, actor="U0OUTSIDER", in_group=lambda handle: False).key == "refused"
    result = commands.run(desk, command, actor="U0OUTSIDER", in_group=lambda handle: handle == "@support")
    assert (result.kind, result.key) == ("done", "cmd.done.claim")


def test_an_unmapped_person_is_told_so_before_anything_runs(desk):
    result = commands.run(desk, commands.parse("claim T-1", surface="teams"), actor=None)
    assert (result.kind, result.key) == ("error", "not_mapped")


def test_an_unknown_ticket_key_is_the_domain_error_naming_it(desk):
    result = commands.run(desk, commands.parse("claim T-999"), actor="U0AGENT001")
    assert (result.kind, result.key) == ("error", "error.ticket_not_found")
    assert "T-999" in result.error.message("en") and "T-999" in result.error.message("ja")
    shown = commands.run(desk, commands.parse("show T-999"), actor="U0AGENT001")
    assert shown.key == "error.ticket_not_found"


def test_a_flow_verb_runs_once_and_answers_done_with_its_params(desk):
    desk.flows.ingest(inbound("二重請求されています"))
    result = commands.run(desk, commands.parse("assign t-1 <@U0AGENT002|hana>"), actor="U0LEAD0001")
    assert (result.kind, result.key, result.params) == ("done", "cmd.done.assign", {"key": "T-1", "who": "U0AGENT002"})
    assert result.people == ("who",) and result.changed
    with desk.runtime.session_factory() as session:
        assert service.get_ticket(session, key="T-1").assignee == "U0AGENT002"


def test_lists_carry_what_the_surface_builds_of_each_ticket(desk, session_factory):
    desk.flows.ingest(inbound("二重請求されています"))
    desk.flows.claim("T-1", actor="U0AGENT001")
    keyed = commands.Desk(desk.runtime, summaries=lambda session, tickets: [("row", t.key) for t in tickets])
    result = commands.run(keyed, commands.parse("mine"), actor="U0AGENT001")
    assert (result.kind, result.key, result.params, result.tickets) == ("list", "home.mine", {"count": 1},
                                                                        (("row", "T-1"),))
    assert commands.run(keyed, commands.parse("mine"), actor="U0AGENT002").tickets == ()


def test_oncall_override_refuses_covering_someone_else_without_the_lead_role(desk):
    command = oncall_commands.parse_oncall("override <@U0AGENT002> until 3h")
    assert (command.verb, command.args) == ("override", ("<@U0AGENT002>", "3h"))
    result = oncall_commands.run_oncall(desk, command, actor="U0AGENT001")
    assert result.params == {"action": "assign", "roles": ("leads",)}
    mine = oncall_commands.run_oncall(desk, oncall_commands.parse_oncall("override <@U0AGENT001> until 3h"), actor="U0AGENT001")
    assert (mine.kind, mine.key, mine.params["who"]) == ("done", "oncall.override.done", "U0AGENT001")


def test_oncall_settles_pages_and_says_so_in_either_language(desk):
    desk.flows.ingest(inbound("二重請求されています"))
    desk.flows.page_pass()
    result = oncall_commands.run_oncall(desk, oncall_commands.parse_oncall("ack P-1"), actor="U0AGENT003")
    assert (result.kind, result.pages) == ("done", ("P-1",))
    assert oncall_commands.oncall_lines(result, "en") == [t("sla.page.acknowledged", "en", page="P-1", who="U0AGENT003")]
    desk.flows.ingest(inbound("パスワードの変え方を教えてください", author={"id": "u2", "handle": "@taro", "name": "Taro"}))
    again = oncall_commands.run_oncall(desk, oncall_commands.parse_oncall("resolve t-2"), actor="U0AGENT003")
    assert oncall_commands.oncall_lines(again, "ja") == [t("sla.page.nothing", "ja", ref="T-2")]
    wrong = oncall_commands.run_oncall(desk, oncall_commands.parse_oncall("resolve p-9"), actor="U0AGENT003")
    assert (wrong.kind, wrong.key) == ("error", "error.invalid_value")
    assert oncall_commands.parse_oncall("ack").verb == "help"


def test_the_core_command_modules_import_no_adapter():
    from tests.unit.test_import_direction import FORBIDDEN, PACKAGE, imported_modules

    for path in (PACKAGE / "commands.py", PACKAGE / "tickets" / "queries.py"):
        bad = [module for _, module in imported_modules(path)
               if any(module == name or module.startswith(name + ".") for name in FORBIDDEN)]
        assert bad == [], path
