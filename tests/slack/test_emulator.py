"""The Slack Web API emulator answers slack_sdk as Slack does: ids for names, threads, Slack's
error strings, 429 with Retry-After, and a workspace that knows only its own people and channels
unless told that anything exists."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from chatops.slack.emulator import User, Workspace
from tests.fakes.slack_api import FakeSlack


def error_of(call) -> str:
    with pytest.raises(SlackApiError) as refused:
        call()
    return refused.value.response["error"]


@pytest.fixture
def slack():
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def client(slack):
    return WebClient(token="xoxb-test", base_url=slack.api_url)


def test_threads_edits_and_slack_errors(slack, client):
    parent = client.chat_postMessage(channel="#cs-support", text="hello")
    assert parent["channel"] == slack.channel_id("#cs-support")
    client.chat_postMessage(channel=parent["channel"], thread_ts=parent["ts"], text="line")
    client.chat_update(channel=parent["channel"], ts=parent["ts"], text="hello again")
    (shown,) = slack.parents(parent["channel"])
    assert (shown.text, shown.edited, [m.text for m in slack.thread(shown)]) == ("hello again", True, ["line"])
    assert error_of(lambda: client.chat_update(channel=parent["channel"], ts="1.000001", text="x")) \
        == "message_not_found"
    assert error_of(lambda: client.chat_postMessage(channel=parent["channel"], thread_ts="1.000001", text="x")) \
        == "thread_not_found"
    slack.missing_channels.add("#gone")
    assert error_of(lambda: client.chat_postMessage(channel="#gone", text="x")) == "channel_not_found"
    slack.workspace.outside_channels.add(parent["channel"])
    assert error_of(lambda: client.chat_postMessage(channel="#cs-support", text="x")) == "not_in_channel"
    assert error_of(lambda: WebClient(token="xoxb-other", base_url=slack.api_url).auth_test()) == "invalid_auth"
    assert [c.method for c in slack.calls][-1] == "auth.test"


def test_rate_limit_answers_429_with_retry_after_and_changes_nothing(slack, client):
    slack.rate_limit_every, slack.retry_after = 2, 7
    client.chat_postMessage(channel="#cs-support", text="one")
    with pytest.raises(SlackApiError) as limited:
        client.chat_postMessage(channel="#cs-support", text="two")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "7"
    assert limited.value.response["error"] == "ratelimited"
    assert [m.text for m in slack.messages] == ["one"]


def test_a_lost_answer_is_carried_out_and_never_answered(slack, client):
    slack.lose_answer.append("chat.postMessage")
    once = WebClient(token="xoxb-test", base_url=slack.api_url, retry_handlers=[])
    with pytest.raises(Exception):  # noqa: B017 - the connection drops; the kind depends on timing
        once.chat_postMessage(channel="#cs-support", text="posted anyway")
    assert [m.text for m in slack.messages] == ["posted anyway"]


def test_a_closed_workspace_knows_only_its_people_and_channels():
    ws = Workspace(token="xoxb-1", users=[User("U0AGENT001", "Sato")], channels=["#cs-support"], id_tag="SBX")
    from chatops.slack.emulator import dispatch

    def call(method, **args):
        return dispatch(ws, method, args, "xoxb-1").answer

    assert call("chat.postMessage", channel="#cs-support", text="x")["channel"] == "C0SBX0001"
    assert call("chat.postMessage", channel="#elsewhere", text="x")["error"] == "channel_not_found"
    assert call("users.info", user="U0STRANGER")["error"] == "user_not_found"
    assert call("users.info", user="U0AGENT001")["user"]["name"] == "Sato"
    assert call("views.open", trigger_id="made-up", view={"type": "modal"})["error"] == "expired_trigger_id"
    opened = call("views.open", trigger_id=ws.trigger("U0AGENT001"), view={"type": "modal", "blocks": [{}]})
    assert ws.top_view("U0AGENT001")["id"] == opened["view"]["id"]
    assert opened["view"]["blocks"][0]["block_id"]  # Slack names every block
    assert call("views.update", view_id=opened["view"]["id"], hash="stale", view={})["error"] == "hash_conflict"
    dm = call("chat.postMessage", channel="U0AGENT001", text="page")["channel"]
    assert dm == call("conversations.open", users="U0AGENT001")["channel"]["id"]
    assert call("conversations.history", channel=dm)["messages"][0]["text"] == "page"
