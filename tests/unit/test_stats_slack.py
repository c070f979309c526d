"""`/stats` through the real Bolt app: a signed slash command is acked at once, the figures
arrive at the response_url, and `chart` uploads a PNG through the outbox (files_upload_v2)."""

from __future__ import annotations

import time
import urllib.parse

import pytest
from slack_sdk.signature import SignatureVerifier

from chatops.app import build_outbox, create_app
from chatops.runtime import Runtime
from chatops.settings import Settings
from tests.conftest import RULES_PATH
from tests.fakes.http_recorder import Answer, RecordingServer
from tests.unit.test_stats_figures import NOW, dataset  # noqa: F401

SECRET = "slack-signing-secret"


@pytest.fixture
def slack():
    with RecordingServer() as server:
        yield server


@pytest.fixture
def app_and_runtime(database_url, rules, slack, clock, dataset):  # noqa: F811
    settings = Settings(database_url=database_url, rules_path=RULES_PATH, slack_bot_token="xoxb-test",
                        slack_signing_secret=SECRET, slack_api_url=slack.url + "/api/", slack_post_interval=0)
    runtime = Runtime.build(settings, upgrade_db=False, rules=rules)
    clock.now = NOW
    runtime.flows.clock = clock
    yield create_app(runtime), runtime
    runtime.close()


def post_command(client, text: str, user: str, response_url: str):
    body = urllib.parse.urlencode({
        "command": "/stats", "text": text, "user_id": user, "user_name": "m", "channel_id": "C0STATS",
        "team_id": "T1", "trigger_id": f"trig-{text}", "response_url": response_url,
        "api_app_id": "A1", "token": "x"})
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=timestamp, body=body)
    return client.post("/slack/events", data=body, headers={
        "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded"})


def wait_for(server: RecordingServer, path: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [r for r in server.requests if r.path == path]
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"nothing reached {path}: {[r.path for r in server.requests]}")


def test_stats_acks_at_once_and_answers_through_response_url(app_and_runtime, slack):
    app, _ = app_and_runtime
    started = time.monotonic()
    response = post_command(app.test_client(), "7d", "U0MANAGER1", slack.url + "/respond")
    assert time.monotonic() - started < 3.0
    assert response.status_code == 200 and "集計中" in response.get_json()["text"]  # rules.yaml: ja
    answer = wait_for(slack, "/respond")[0].json()
    assert answer["response_type"] == "ephemeral"
    text = "\n".join(block["text"]["text"] for block in answer["blocks"] if block.get("text"))
    assert "2026-11-17" in text and ("<@U1>" in text)


def test_stats_refuses_people_without_the_role(app_and_runtime, slack):
    app, _ = app_and_runtime
    response = post_command(app.test_client(), "7d", "U0STRANGER", slack.url + "/refused")
    assert response.status_code == 200 and response.get_json()["text"].startswith(":no_entry:")
    # Bolt starts lazy listeners in arrival order and the refused one only checks the role: by
    # the time a later, permitted command is answered, it has finished without answering.
    post_command(app.test_client(), "7d", "U0MANAGER1", slack.url + "/respond")
    wait_for(slack, "/respond")
    assert not [r for r in slack.requests if r.path == "/refused"]


def test_bad_period_is_named_in_the_answer(app_and_runtime, slack):
    app, _ = app_and_runtime
    post_command(app.test_client(), "fortnight", "U0MANAGER1", slack.url + "/respond")
    assert "'fortnight' は period として使えません" in wait_for(slack, "/respond")[0].json()["text"]


def test_answer_in_the_person_s_language(app_and_runtime, slack):
    app, _ = app_and_runtime
    slack.default = Answer(200, {"ok": True, "user": {"id": "U0MANAGER1", "locale": "en-US"}})
    post_command(app.test_client(), "fortnight", "U0MANAGER1", slack.url + "/respond")
    assert "'fortnight' is not a valid period" in wait_for(slack, "/respond")[0].json()["text"]
    assert [r for r in slack.requests if r.path == "/api/users.info"]


def test_chart_is_uploaded_through_the_outbox(app_and_runtime, slack):
    app, runtime = app_and_runtime
    # One answer fits every call: response_url, files.getUploadURLExternal, the upload, completeUploadExternal.
    slack.default = Answer(200, {"ok": True, "upload_url": slack.url + "/upload", "file_id": "F1",
                                 "files": [{"id": "F1"}]})
    post_command(app.test_client(), "7d chart", "U0MANAGER1", slack.url + "/respond")
    wait_for(slack, "/respond")
    deadline = time.monotonic() + 10
    outbox = build_outbox(runtime)
    while time.monotonic() < deadline and not [r for r in slack.requests if r.path == "/upload"]:
        outbox.run_once()
        time.sleep(0.05)
    upload = wait_for(slack, "/upload")[0]
    assert upload.body[:8] == b"\x89PNG\r\n\x1a\n"
    complete = wait_for(slack, "/api/files.completeUploadExternal")[0]
    assert b"C0STATS" in complete.body
