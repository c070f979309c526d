"""Issue trackers end to end: a signed `/ticket issue` opens the form, its submission goes
through the outbox to the fake Jira (a valid ADF description, a remote link back) or the fake
GitHub (the request body checked against GitHub's OpenAPI schema), the thread and the card say
so, and the tracker's signed webhook closing the issue reopens the resolved ticket with a line
saying why. Forged webhooks change nothing; refusals show in the thread and in /metrics."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from chatops.i18n import t
from chatops.runtime import Runtime
from chatops.slack import ids
from chatops.slack.blocks.common import link
from chatops.tickets.models import IssueLink, OutboxItem, TicketEvent
from integrations.trackers import thread_url
from tests.fakes.github_api import FakeGitHub, github_error
from tests.fakes.github_api import sign as github_sign
from tests.fakes.http_recorder import Answer, RecordingServer
from tests.fakes.jira_api import FakeJira, adf_problems, jira_error
from tests.fakes.jira_api import sign as jira_sign
from tests.helpers import inbound
from tests.slack.conftest import AGENT, STRANGER, Desk
from tests.slack.test_block_limits import assert_within_slack_limits
from tests.slack.test_scenario import parent_text

JIRA_SECRET, GITHUB_SECRET = "jira-webhook-secret", "github-webhook-secret"
TEXT = "アプリが起動しません。\niPhone 15 で、アップデート後に落ちます <@U0EVIL> & <!channel>"


@pytest.fixture
def trackers():
    with FakeJira(project="ACME") as jira, FakeGitHub(repo="acme/app") as github:
        yield jira, github


@pytest.fixture
def network():
    """The customers' network (the generic reply webhook): rating requests after a resolve go there."""
    with RecordingServer() as server:
        server.default = Answer(201, {"id": "sent-1"})
        yield server


@pytest.fixture
def desk(slack_settings, rules, clock, fake_slack, trackers, network):
    jira, github = trackers
    settings = slack_settings.model_copy(update={
        "jira_base_url": jira.url, "jira_email": jira.email, "jira_api_token": SecretStr(jira.token),
        "jira_project": "ACME", "jira_webhook_secret": SecretStr(JIRA_SECRET),
        "github_api_url": github.url, "github_token": SecretStr(github.token), "github_repo": "acme/app",
        "github_webhook_secret": SecretStr(GITHUB_SECRET)})
    runtime = Runtime.build(settings, upgrade_db=False, rules=rules, clock=clock)
    desk = Desk(runtime, fake_slack, clock)
    desk.replies_to(network)
    yield desk
    runtime.close()


def arrive(desk: Desk) -> str:
    key = desk.flows.ingest(inbound(TEXT, source="webhook", account="shop-form", conversation_id="conv-9",
                                    author={"id": "c-9", "handle": "@sato", "name": "佐藤"})).ticket_key
    desk.drain()
    return key


def open_form(desk: Desk, text: str) -> dict:
    assert desk.command(text).status_code == 200
    return desk.last_view(ids.ISSUE_VIEW)


def submit(desk: Desk, form: dict, summary: str, tracker: str | None = None, *, user: str = AGENT):
    values = {(ids.ISSUE_SUMMARY_BLOCK, ids.ISSUE_SUMMARY_INPUT): {"type": "plain_text_input", "value": summary}}
    if tracker is not None:
        values[(ids.ISSUE_TRACKER_BLOCK, ids.ISSUE_TRACKER_SELECT)] = {
            "type": "static_select", "selected_option": {"value": tracker}}
    return desk.submit(form, values, user=user)


def webhook(desk: Desk, tracker: str, body: bytes, headers: dict):
    return desk.client.post(f"/webhooks/{tracker}", data=body, headers={"Content-Type": "application/json", **headers})


def lines(desk: Desk) -> list[str]:
    [parent] = desk.slack.parents()
    return [message.text for message in desk.slack.thread(parent)]


def metric(desk: Desk, name: str) -> str:
    body = desk.client.get("/metrics").get_data(as_text=True)
    return "\n".join(line for line in body.splitlines() if line.startswith(name))


def test_jira_issue_from_the_command_closes_back_into_the_thread(desk, trackers, rules):
    jira, _ = trackers
    lang = rules.defaults.language
    key = arrive(desk)
    [parent] = desk.slack.parents()

    # The form: summary prefilled with the first line, both trackers offered, within Block Kit limits.
    form = open_form(desk, f"issue {key} jira")
    assert_within_slack_limits(form["blocks"])
    summary = next(b for b in form["blocks"] if b.get("block_id") == ids.ISSUE_SUMMARY_BLOCK)
    assert summary["element"]["initial_value"] == "アプリが起動しません。"
    tracker = next(b for b in form["blocks"] if b.get("block_id") == ids.ISSUE_TRACKER_BLOCK)
    assert tracker["element"]["initial_option"]["value"] == "jira"
    assert [o["value"] for o in tracker["element"]["options"]] == ["jira", "github"]

    assert submit(desk, form, "アプリが起動しない (iPhone 15)", "jira").status_code == 200
    assert jira.calls_to("POST", "/rest/api/3/issue") == []  # nothing leaves outside the outbox
    desk.drain()

    [create] = jira.calls_to("POST", "/rest/api/3/issue")
    fields = create.json()["fields"]
    assert fields["project"] == {"key": "ACME"} and fields["issuetype"] == {"name": "Task"}
    assert fields["summary"] == "アプリが起動しない (iPhone 15)"
    assert adf_problems(fields["description"]) == []
    permalink = thread_url(parent.channel, parent.ts)
    nodes = [n for block in fields["description"]["content"] for n in block.get("content", [])]
    assert {"type": "link", "attrs": {"href": permalink}} in next(n for n in nodes if n.get("text") == key)["marks"]
    quote = next(b for b in fields["description"]["content"] if b["type"] == "blockquote")
    quoted = [n["text"] for n in quote["content"][0]["content"] if n["type"] == "text"]
    assert quoted == TEXT.splitlines()
    [remote] = jira.calls_to("POST", "/rest/api/3/issue/ACME-101/remotelink")
    assert remote.json()["globalId"] == f"chatops:ticket:{key}" and remote.json()["object"]["url"] == permalink

    browse = f"{jira.url}/browse/ACME-101"
    created = t("slack.line.issue_created", lang, tracker="Jira", issue=link(browse, "ACME-101"), who=f"<@{AGENT}>")
    assert lines(desk)[-1] == created
    assert "ACME-101" in parent_text(parent) and t("slack.field.issues", lang) in parent_text(parent)
    assert desk.events(key)[-2:] == ["issue_requested", "issue_created"]

    desk.flows.resolve(key, actor=AGENT)
    desk.drain()
    before = desk.events(key)

    # Forged and unsigned webhooks: 401, nothing changes.
    closed = jira.issue_updated("ACME-101", status="Done")
    assert webhook(desk, "jira", closed, {"X-Hub-Signature": jira_sign("wrong", closed)}).status_code == 401
    assert webhook(desk, "jira", closed, {}).status_code == 401
    assert desk.ticket(key).status == "resolved" and desk.events(key) == before

    # Malformed: 400 naming the field.
    broken = json.dumps({"webhookEvent": "jira:issue_updated", "issue": {"fields": {}}}).encode()
    answer = webhook(desk, "jira", broken, {"X-Hub-Signature": jira_sign(JIRA_SECRET, broken)})
    assert answer.status_code == 400 and "issue.key" in answer.get_json()["error"]

    # An issue no ticket has: answered 200, ignored, counted.
    other = jira.issue_updated("OTHER-1")
    answer = webhook(desk, "jira", other, {"X-Hub-Signature": jira_sign(JIRA_SECRET, other)})
    assert answer.status_code == 200 and answer.get_json()["outcome"] == "ignored"
    assert 'outcome="ignored",tracker="jira"} 1.0' in metric(desk, "chatops_tracker_webhooks_total")

    # Signed and closed: the ticket reopens and the thread says why.
    answer = webhook(desk, "jira", closed, {"X-Hub-Signature": jira_sign(JIRA_SECRET, closed)})
    assert answer.status_code == 200 and answer.get_json()["outcome"] == "closed"
    desk.drain()
    assert desk.ticket(key).status == "open"
    assert desk.events(key)[len(before):] == ["reopened", "issue_closed"]
    assert lines(desk)[-1] == t("slack.line.issue_closed_reopened", lang, issue=link(browse, "ACME-101"),
                                status="Done")
    with desk.runtime.session_factory() as session:
        assert session.scalar(select(IssueLink.state)) == "closed"
    # Told twice (Jira redelivers): nothing more.
    answer = webhook(desk, "jira", closed, {"X-Hub-Signature": jira_sign(JIRA_SECRET, closed)})
    assert answer.get_json()["outcome"] == "unchanged" and desk.events(key)[-1] == "issue_closed"


def test_github_issue_from_the_menu_after_a_rate_limit(desk, trackers, rules):
    _, github = trackers
    lang = rules.defaults.language
    key = arrive(desk)
    [parent] = desk.slack.parents()
    menu = next(block for block in parent.attachments[0]["blocks"] if block["type"] == "actions")["elements"][-1]
    assert f"issue::{key}" in [option["value"] for option in menu["options"]] and len(menu["options"]) <= 5

    assert desk.click(ids.MENU, f"issue::{key}", selected=True).status_code == 200
    form = desk.last_view(ids.ISSUE_VIEW)
    github.queue("POST", "/repos/acme/app/issues",
                 github_error(429, "You have exceeded a secondary rate limit.", headers={"Retry-After": "30"}))
    submit(desk, form, "Crash on start after update", "github")
    desk.drain()

    creates = github.calls_to("POST", "/repos/acme/app/issues")
    assert len(creates) == 2 and len(github.issues) == 1  # retried after Retry-After, created once
    call = creates[-1]
    assert call.headers["Accept"] == "application/vnd.github+json"
    assert call.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert call.json()["title"] == "Crash on start after update"
    assert f"[{key}]({thread_url(parent.channel, parent.ts)})" in call.json()["body"]
    assert f"```text\n{TEXT}\n```" in call.json()["body"]  # the customer's words, inert in a fenced block
    with desk.runtime.session_factory() as session:
        item = session.scalar(select(OutboxItem).where(OutboxItem.kind == "create_issue"))
        assert item.attempts == 2 and item.state == "done"
    issue_url = github.issues[0]["html_url"]
    assert lines(desk)[-1] == t("slack.line.issue_created", lang, tracker="GitHub",
                                issue=link(issue_url, "acme/app#41"), who=f"<@{AGENT}>")

    forged = github.issue_event(41, "closed")
    headers = {"X-GitHub-Event": "issues", "X-Hub-Signature-256": github_sign("nope", forged)}
    assert webhook(desk, "github", forged, headers).status_code == 401

    # Closed while the ticket is still open: the line, no state change.
    closed = github.issue_event(41, "closed", reason="completed")
    headers = {"X-GitHub-Event": "issues", "X-Hub-Signature-256": github_sign(GITHUB_SECRET, closed)}
    assert webhook(desk, "github", closed, headers).get_json()["outcome"] == "closed"
    desk.drain()
    assert desk.ticket(key).status == "new"  # unchanged: still waiting for the agent
    assert lines(desk)[-1] == t("slack.line.issue_closed_open", lang, issue=link(issue_url, "acme/app#41"),
                                status="completed")
    reopened = github.issue_event(41, "reopened")
    headers = {"X-GitHub-Event": "issues", "X-Hub-Signature-256": github_sign(GITHUB_SECRET, reopened)}
    assert webhook(desk, "github", reopened, headers).get_json()["outcome"] == "reopened"
    assert desk.events(key)[-1] == "issue_reopened"

    # Resolved meanwhile, then closed again on GitHub: the ticket reopens.
    desk.flows.resolve(key, actor=AGENT)
    desk.drain()
    closed_again = github.issue_event(41, "closed", reason="completed", sender="hubot")
    headers = {"X-GitHub-Event": "issues", "X-Hub-Signature-256": github_sign(GITHUB_SECRET, closed_again)}
    assert webhook(desk, "github", closed_again, headers).get_json()["outcome"] == "closed"
    desk.drain()
    assert desk.ticket(key).status == "open" and desk.events(key)[-2:] == ["reopened", "issue_closed"]
    assert lines(desk)[-1] == t("slack.line.issue_closed_reopened", lang, issue=link(issue_url, "acme/app#41"),
                                status="completed")
    with desk.runtime.session_factory() as session:
        actors = session.scalars(select(TicketEvent.actor).where(TicketEvent.kind == "reopened")).all()
    assert actors == ["github:hubot"]


def test_a_refused_jira_issue_shows_in_the_thread_and_metrics(desk, trackers, rules):
    jira, _ = trackers
    key = arrive(desk)
    jira.queue("POST", "/rest/api/3/issue",
               jira_error(400, errors={"customfield_10010": "Team is required."}))
    submit(desk, open_form(desk, f"issue {key}"), "Crash", "jira")
    desk.drain()
    assert jira.issues == {}
    line = lines(desk)[-1]
    assert line.startswith(":x:") and f"<@{AGENT}>" in line and "customfield_10010: Team is required." in line
    assert desk.events(key)[-1] == "issue_failed"
    # The refusal's "Try again" opens the form for the same tracker.
    [parent] = desk.slack.parents()
    button = desk.slack.thread(parent)[-1].blocks[-1]["elements"][0]
    assert button["action_id"] == ids.ISSUE_RETRY and button["value"] == f"{key}:jira"
    desk.click(ids.ISSUE_RETRY, button["value"])
    again = desk.last_view(ids.ISSUE_VIEW)
    assert json.loads(again["private_metadata"]) == {"key": key, "tracker": "jira"}
    submit(desk, again, "Crash", "jira")
    desk.drain()
    assert list(jira.issues) == ["ACME-101"]
    assert 'chatops_issues_failed{tracker="jira"} 1.0' in metric(desk, "chatops_issues_failed")


def test_the_form_is_refused_without_the_role_and_for_an_unknown_tracker(desk, trackers, rules):
    key = arrive(desk)
    assert desk.command(f"issue {key}", user=STRANGER).get_json()["text"].startswith(":no_entry:")
    assert "'trello'" in desk.command(f"issue {key} trello").get_json()["text"]
    assert t("error.ticket_not_found", rules.defaults.language, key="T-999") in \
        desk.command("issue T-999").get_json()["text"]
    form = open_form(desk, f"issue {key}")
    answer = submit(desk, form, "   ", "jira")
    assert answer.status_code == 200 and answer.get_json()["response_action"] == "errors"
    with desk.runtime.session_factory() as session:
        assert session.scalar(select(OutboxItem).where(OutboxItem.kind == "create_issue")) is None


def test_trackers_answer_in_both_languages(rules):
    for lang in ("ja", "en"):
        assert t("slack.line.issue_closed_reopened", lang, issue="ACME-1", status="Done")
        assert t("slack.menu.issue", lang) and t("tracker.none", lang)


def test_answers_are_the_vendors_shapes():
    assert github_error(422, "Validation Failed", []).body.keys() >= {"message", "documentation_url"}
    assert jira_error(400, errors={"summary": "x"}).body == {"errorMessages": [], "errors": {"summary": "x"}}
    assert isinstance(Answer(201).status, int)


def test_one_tracker_needs_no_choice_and_none_is_said(desk, trackers, rules):
    _, github = trackers
    lang = rules.defaults.language
    key = arrive(desk)
    only_github = desk.runtime.settings.model_copy(update={"jira_base_url": None})
    desk.runtime.settings = only_github
    form = open_form(desk, f"issue {key}")
    assert ids.ISSUE_TRACKER_BLOCK not in [b.get("block_id") for b in form["blocks"]]
    assert form["title"]["text"].startswith("GitHub")
    assert submit(desk, form, "Crash", user=STRANGER).get_json()["response_action"] == "errors"
    submit(desk, form, "Crash")  # no choice in the form: the tracker it was opened for
    desk.drain()
    assert [issue["title"] for issue in github.issues] == ["Crash"]
    desk.runtime.settings = only_github.model_copy(update={"github_token": None})
    assert desk.command(f"issue {key}").get_json()["text"] == f":warning: {t('tracker.none', lang)}"


def test_cli_shows_the_tickets_issues(desk, trackers, capsys, monkeypatch, tmp_path, rules):
    from tests.helpers import cli_env, run_cli

    key = arrive(desk)
    submit(desk, open_form(desk, f"issue {key} jira"), "Crash", "jira")
    desk.drain()
    cli_env(monkeypatch, tmp_path, desk.runtime.settings.database_url)
    code, out, _ = run_cli(capsys, "tickets", "show", key)
    assert code == 0 and t("cli.tickets.issue", "en", tracker="Jira", key="ACME-101", state="open",
                           url=f"{trackers[0].url}/browse/ACME-101") in out
    code, out, _ = run_cli(capsys, "tickets", "show", key, "--json")
    assert json.loads(out)["issues"] == [{"tracker": "jira", "key": "ACME-101", "url": f"{trackers[0].url}/browse/ACME-101",
                                          "state": "open"}]


def test_teams_cards_say_the_same():
    from chatops.rules import load_rules
    from chatops.teams.cards import event_line
    from tests.conftest import RULES_PATH

    rules = load_rules(RULES_PATH)
    for lang in ("ja", "en"):
        closed = event_line("issue_closed", "jira:Hanako", {"tracker": "jira", "issue": "ACME-1", "status": "Done",
                                                            "reopened": True}, rules, lang)
        assert closed == t("slack.line.issue_closed_reopened", lang, issue="ACME-1", status="Done").split(" ", 1)[1]
        failed = event_line("issue_failed", "U0AGENT001", {"tracker": "github", "reason": "github refused"}, rules, lang)
        assert "GitHub" in failed and "github refused" in failed
