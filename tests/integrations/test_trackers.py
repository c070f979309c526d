"""The Jira and GitHub integrations on their own: signatures as the vendors document them, the
ADF description and GitHub body against the vendored schemas for hostile ticket text, an
attempt in doubt finding the issue instead of creating a second, rate limits and refusals, the
webhooks' answers, and the issue form within Block Kit's limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.models.views import View
from sqlalchemy import select

from chatops.outbox import DeliveryError
from chatops.slack.blocks.modals import issue_modal
from chatops.tickets.events import EventNotice
from chatops.tickets.models import IssueLink, OutboxItem
from integrations.base import WebhookError
from integrations.github import GitHubDeliverer, GitHubWebhook, body_markdown
from integrations.jira import JiraDeliverer, JiraWebhook, description
from integrations.trackers import TicketFacts, TrackerPlanner, signature_ok
from tests.fakes.github_api import FakeGitHub, github_error, request_problems
from tests.fakes.github_api import sign as github_sign
from tests.fakes.http_recorder import Answer
from tests.fakes.jira_api import FakeJira, adf_problems, jira_error
from tests.fakes.jira_api import sign as jira_sign
from tests.helpers import inbound
from tests.slack.test_block_limits import assert_within_slack_limits

HOSTILE = ["", "   ", "\n\n\n", "一行目\n\n三行目\n", "<script>@here [x](javascript:1) `rm` *b*" * 50, "長" * 40_000]


def facts(text: str, url: str | None = "https://slack.com/archives/C1/p1") -> TicketFacts:
    return TicketFacts(key="T-7", url=url, customer="@sato", network="x", account="@acme_jp", text=text)


def test_signatures_as_the_vendors_document_them():
    # GitHub's documented test vector (docs: "Validating webhook deliveries").
    body = b"Hello, World!"
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert github_sign("It's a Secret to Everybody", body) == expected
    assert signature_ok("It's a Secret to Everybody", body, expected)
    # Jira's admin webhooks with a secret use the same WebSub form in X-Hub-Signature.
    assert signature_ok("s", b"{}", jira_sign("s", b"{}"))
    assert not signature_ok("s", b"{}", jira_sign("t", b"{}"))
    assert not signature_ok("s", b"{}", None) and not signature_ok("s", b"{}", "sha256=ü")


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("url", [None, "https://slack.com/archives/C1/p1"])
def test_descriptions_are_valid_for_any_text(text, url):
    document = description(facts(text, url), actor="U0AGENT001", reference="chatops jira:create:1", lang="ja")
    assert adf_problems(document) == []
    body = {"title": "x", "body": body_markdown(facts(text, url), actor="U0AGENT001", reference="ref", lang="en")}
    assert request_problems(body) == [] and len(body["body"]) <= 65_536


def test_github_body_quotes_the_customer_inertly():
    text = "hi @octocat [click](https://evil)\n<img src=x> ```` fence"
    body = body_markdown(facts(text), actor="U1", reference="r", lang="en")
    fenced = body.split("`````text\n", 1)[1].split("\n`````", 1)
    assert fenced[0] == text and "@octocat" not in fenced[1] and "@octocat" not in body.split("`````text")[0]
    assert "[T-7](https://slack.com/archives/C1/p1)" in body


class Item:
    """An outbox item as deliverers see it."""

    def __init__(self, dedupe: str, ticket_id: int, *, in_doubt: bool = False, kind: str = "create_issue",
                 payload: dict | None = None) -> None:
        self.dedupe_key, self.kind, self.in_doubt = dedupe, kind, in_doubt
        self.payload = payload or {"ticket_id": ticket_id, "summary": "Crash", "actor": "U0AGENT001", "event_id": 1}


@pytest.fixture
def ticket_id(flows):
    return int(flows.ingest(inbound("落ちます")).ticket_key.split("-")[1])


def test_jira_in_doubt_finds_the_issue_an_earlier_attempt_made(session_factory, ticket_id):
    with FakeJira() as jira:
        deliverer = JiraDeliverer(session_factory, base_url=jira.url, email=jira.email, token=jira.token,
                                  project="ACME")
        first = deliverer(Item("jira:create:5", ticket_id))
        again = deliverer(Item("jira:create:5", ticket_id, in_doubt=True))
        other = deliverer(Item("jira:create:6", ticket_id, in_doubt=True))
    assert again["key"] == first["key"] == "ACME-101" and again["found"]
    assert other["key"] == "ACME-102" and len(jira.issues) == 2


def test_jira_refusals_keep_jiras_words_and_rate_limits_wait(session_factory, ticket_id):
    with FakeJira() as jira:
        deliverer = JiraDeliverer(session_factory, base_url=jira.url, email=jira.email, token="wrong", project="ACME")
        with pytest.raises(DeliveryError) as refused:
            deliverer(Item("jira:create:1", ticket_id))
        assert refused.value.permanent and "401" in str(refused.value) and "authenticated" in str(refused.value)
        deliverer = JiraDeliverer(session_factory, base_url=jira.url, email=jira.email, token=jira.token,
                                  project="NOPE")
        with pytest.raises(DeliveryError) as wrong:
            deliverer(Item("jira:create:2", ticket_id))
        assert wrong.value.permanent and "project: Specify a valid project ID or key" in str(wrong.value)
        jira.queue("POST", "/rest/api/3/issue", jira_error(429, ["Rate limit exceeded."], headers={"Retry-After": "17"}))
        deliverer.project = "ACME"
        with pytest.raises(DeliveryError) as limited:
            deliverer(Item("jira:create:3", ticket_id))
        assert not limited.value.permanent and limited.value.retry_after == 17


def test_github_in_doubt_rate_limits_and_refusals(session_factory, ticket_id):
    with FakeGitHub() as github:
        deliverer = GitHubDeliverer(session_factory, token=github.token, repo="acme/app", api_url=github.url)
        first = deliverer(Item("github:create:5", ticket_id))
        assert deliverer(Item("github:create:5", ticket_id, in_doubt=True))["key"] == first["key"] == "acme/app#41"
        assert len(github.issues) == 1
        github.queue("POST", "/repos/acme/app/issues",
                     github_error(403, "API rate limit exceeded", headers={"x-ratelimit-remaining": "0",
                                                                           "x-ratelimit-reset": "0"}),
                     github_error(403, "Resource not accessible by personal access token"),
                     github_error(410, "Issues are disabled for this repo"))
        with pytest.raises(DeliveryError) as limited:
            deliverer(Item("github:create:6", ticket_id))
        assert not limited.value.permanent and limited.value.retry_after == 0
        for words in ("Resource not accessible by personal access token", "Issues are disabled for this repo"):
            with pytest.raises(DeliveryError) as refused:
                deliverer(Item("github:create:7", ticket_id))
            assert refused.value.permanent and words in str(refused.value)


def test_remote_link_only_when_the_ticket_has_a_url():
    at = datetime(2026, 12, 4, tzinfo=UTC)
    notice = EventNotice(1, 7, "issue_created", "U1", at, "support", None,
                         {"tracker": "jira", "issue": "ACME-1", "url": "u", "ticket_url": None})
    assert TrackerPlanner()(notice) == []
    linked = EventNotice(2, 7, "issue_created", "U1", at, "support", None, {**notice.payload, "ticket_url": "https://s"})
    [row] = TrackerPlanner()(linked)
    assert (row.target, row.kind, row.dedupe_key) == ("jira", "remote_link", "jira:remotelink:2")
    assert TrackerPlanner()(EventNotice(3, 7, "issue_created", "U1", at, "support", None,
                                        {**linked.payload, "tracker": "github"})) == []


class Flows:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def issue_closed(self, tracker, key, *, status, by=None):
        self.calls.append(("closed", tracker, key, status, by))
        return "closed"

    def issue_reopened(self, tracker, key, *, status, by=None):
        self.calls.append(("reopened", tracker, key, status, by))
        return "reopened"


def test_webhooks_parse_sign_and_refuse():
    flows, counted = Flows(), []
    github = GitHubWebhook("sec", flows, lambda tracker, outcome: counted.append(outcome))
    with FakeGitHub() as fake:
        body = fake.issue_event(41, "closed", reason="not_planned")
    answer = github.handle(method="POST", headers={"X-GitHub-Event": "issues", "X-Hub-Signature-256": github_sign("sec", body)},
                           query={}, body=body)
    assert answer.status == 200 and flows.calls == [("closed", "github", "acme/app#41", "not_planned", "octocat")]
    ping = b'{"zen": "Keep it logically awesome.", "hook_id": 1}'
    assert github.handle(method="POST", headers={"X-GitHub-Event": "ping", "X-Hub-Signature-256": github_sign("sec", ping)},
                         query={}, body=ping).body["outcome"] == "skipped"
    with pytest.raises(WebhookError) as missing:
        github.handle(method="POST", headers={"X-Hub-Signature-256": github_sign("sec", ping)}, query={}, body=ping)
    assert missing.value.status == 400 and missing.value.params["field"] == "X-GitHub-Event"
    with pytest.raises(WebhookError) as bad:
        broken = b'{"action": "closed", "issue": {"number": "41"}, "repository": {"full_name": "a/b"}}'
        github.handle(method="POST", headers={"X-GitHub-Event": "issues", "X-Hub-Signature-256": github_sign("sec", broken)},
                      query={}, body=broken)
    assert bad.value.status == 400 and bad.value.params["field"] == "issue.number"
    with pytest.raises(WebhookError) as unsigned:
        JiraWebhook("sec", flows).handle(method="POST", headers={}, query={}, body=b"{}")
    assert unsigned.value.status == 401
    with pytest.raises(WebhookError) as off:
        JiraWebhook(None, flows).handle(method="POST", headers={}, query={}, body=b"{}")
    assert off.value.status == 503 and off.value.params["setting"] == "JIRA_WEBHOOK_SECRET"
    with FakeJira() as fake:
        moved = fake.issue_updated("ACME-7", status="In Progress", category="indeterminate")
    jira = JiraWebhook("sec", flows)
    jira.handle(method="POST", headers={"x-hub-signature": jira_sign("sec", moved)}, query={}, body=moved)
    assert flows.calls[-1] == ("reopened", "jira", "ACME-7", "In Progress", "Hanako Jira")
    assert counted == ["closed", "skipped"]


def test_closing_an_issue_twice_and_an_unknown_one(flows, session_factory, clock):
    key = flows.ingest(inbound("落ちます")).ticket_key
    with session_factory.begin() as session:
        session.add(IssueLink(ticket_id=int(key[2:]), tracker="jira", key="ACME-9", url=None, state="open",
                              created_by="U1", created_at=clock()))
    assert flows.issue_closed("jira", "ACME-404", status="Done") == "ignored"
    assert flows.issue_reopened("jira", "ACME-9", status="To Do") == "unchanged"
    assert flows.issue_closed("jira", "ACME-9", status="Done") == "closed"
    assert flows.issue_closed("jira", "ACME-9", status="Done") == "unchanged"
    assert flows.issue_reopened("jira", "ACME-9", status="To Do") == "reopened"
    with session_factory() as session:
        assert session.scalar(select(IssueLink.state)) == "open"
        assert session.scalar(select(OutboxItem.id)) is None  # no surface configured: nothing queued


@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize("trackers", [("jira",), ("github",), ("jira", "github")])
def test_issue_form_is_within_block_kit_limits(lang, trackers):
    view = issue_modal("T-42", "返金 & <!here> " + "長" * 5000, trackers, lang, tracker="github")
    assert_within_slack_limits(view["blocks"])
    View(**view).validate_json()
    summary = next(b for b in view["blocks"] if b.get("block_id") == "issue.summary")["element"]
    assert len(summary["initial_value"]) <= summary["max_length"] == 255


def test_answers_shapes():
    assert isinstance(Answer(200).body, dict) and timedelta(0) == timedelta()


def test_integrations_check_asks_each_tracker(monkeypatch, settings, capsys):
    from chatops.cli import main

    with FakeJira() as jira, FakeGitHub() as github:
        monkeypatch.setenv("CHATOPS_DATABASE_URL", settings.database_url)
        for name, value in {"JIRA_BASE_URL": jira.url, "JIRA_EMAIL": jira.email, "JIRA_API_TOKEN": jira.token,
                            "JIRA_PROJECT": "ACME", "GITHUB_API_URL": github.url, "GITHUB_TOKEN": github.token,
                            "GITHUB_REPO": "acme/app"}.items():
            monkeypatch.setenv(name, value)
        assert main(["--lang", "en", "integrations", "check"]) == 0
        out = capsys.readouterr().out
        assert "Jira: OK — ACME · ACME Mobile" in out and "GitHub: OK — acme/app" in out
        monkeypatch.setenv("JIRA_API_TOKEN", "revoked")
        assert main(["--lang", "ja", "integrations", "check"]) == 1
        assert "Jira: 失敗 — jira refused the project look-up: 401 Client must be authenticated" in capsys.readouterr().out


def test_half_configured_tracker_names_what_is_missing(monkeypatch, settings, capsys):
    from chatops.cli import main

    monkeypatch.setenv("CHATOPS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("JIRA_BASE_URL", "https://acme.atlassian.net")
    monkeypatch.setenv("JIRA_PROJECT", "ACME")
    with pytest.raises(SystemExit) as stopped:
        main(["--lang", "en", "integrations", "check"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "JIRA_BASE_URL, JIRA_PROJECT set but not JIRA_EMAIL, JIRA_API_TOKEN" in err
