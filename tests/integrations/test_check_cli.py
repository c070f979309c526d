"""`chatops integrations check` against a fake network: configured, reachable or not."""

from __future__ import annotations

import pytest

from chatops.cli import main
from tests.fakes.http_recorder import Answer


def test_check_reports_configured_reachable_and_unconfigured(monkeypatch, settings, fake, capsys):
    fake.route("GET", "/api/v1/accounts/verify_credentials", Answer(200, {"acct": "acme"}))
    monkeypatch.setenv("CHATOPS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MASTODON_API_URL", fake.url)
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "tok")
    monkeypatch.setenv("MASTODON_ACCOUNT", "acme@mastodon.example")
    assert main(["--lang", "en", "integrations", "check"]) == 0
    out = capsys.readouterr().out
    assert "mastodon: configured as acme@mastodon.example, API reachable (@acme)" in out
    assert fake.calls_to("GET", "/api/v1/accounts/verify_credentials")[0].headers["Authorization"] == "Bearer tok"


def test_check_fails_when_token_is_refused(monkeypatch, settings, fake, capsys):
    fake.route("GET", "/api/v1/accounts/verify_credentials", Answer(401, {"error": "The access token is invalid"}))
    monkeypatch.setenv("CHATOPS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MASTODON_API_URL", fake.url)
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "bad")
    monkeypatch.setenv("MASTODON_ACCOUNT", "acme@mastodon.example")
    assert main(["--lang", "ja", "integrations", "check"]) == 1
    out = capsys.readouterr().out
    assert "API に接続できません" in out and "401" in out


def test_check_names_a_bad_setting(monkeypatch, settings, capsys):
    monkeypatch.setenv("CHATOPS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MASTODON_POLL_SECONDS", "1")
    assert main(["--lang", "en", "integrations", "check"]) == 2
    assert "MASTODON_POLL_SECONDS" in capsys.readouterr().err


def test_serve_refuses_a_bad_network_setting(monkeypatch, settings, capsys):
    monkeypatch.setenv("CHATOPS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("BLUESKY_POLL_SECONDS", "zero")
    with pytest.raises(SystemExit) as stopped:
        main(["--lang", "en", "serve", "--port", "0"])
    assert stopped.value.code == 2 and "BLUESKY_POLL_SECONDS" in capsys.readouterr().err
