"""The fake-Slack desk of tests/slack/conftest.py, shared by the promise tests."""

from tests.slack.conftest import desk, fake_slack, slack_settings  # noqa: F401  (fixtures)
