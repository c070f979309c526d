"""Settings are validated once and never show secrets; every string exists in ja and en."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from chatops.i18n import catalog
from chatops.settings import Settings


def test_secrets_are_masked(monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-very-secret")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing-secret")
    monkeypatch.setenv("CHATOPS_WEBHOOK_SECRET", "hook-secret")
    monkeypatch.setenv("CHATOPS_DATABASE_URL", "postgresql://chatops:dbpass@127.0.0.1/chatops")
    settings = Settings()
    shown = repr(settings) + str(settings)
    assert "xoxb-very-secret" not in shown and "hook-secret" not in shown and "signing-secret" not in shown
    assert settings.slack_bot_token.get_secret_value() == "xoxb-very-secret"
    assert "dbpass" not in settings.safe_database_url()
    assert settings.database_url.startswith("postgresql+psycopg://")


def test_bad_settings_name_the_variable(monkeypatch):
    monkeypatch.setenv("CHATOPS_DATABASE_URL", "mysql://x")
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert "CHATOPS_DATABASE_URL" in str(caught.value)


@pytest.mark.parametrize(("env", "problem"), [
    ({"SLACK_BOT_TOKEN": "xoxb-1"}, "neither SLACK_SIGNING_SECRET"),
    ({"SLACK_SIGNING_SECRET": "s"}, "SLACK_BOT_TOKEN is not"),
    ({"SLACK_BOT_TOKEN": "xapp-1", "SLACK_SIGNING_SECRET": "s"}, "must start with xoxb-"),
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-2"}, "must start with xapp-"),
])
def test_half_configured_slack_is_refused(monkeypatch, env, problem):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert problem in str(caught.value)


def test_slack_over_http_or_socket_mode(monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1")
    settings = Settings()
    assert settings.slack_enabled and settings.slack_socket_mode


def test_ja_and_en_have_the_same_strings_and_placeholders():
    ja, en = catalog("ja"), catalog("en")
    assert set(ja) == set(en)
    for key in en:
        assert set(re.findall(r"{(\w+)", ja[key])) == set(re.findall(r"{(\w+)", en[key])), key
