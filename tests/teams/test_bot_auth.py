"""The bot's JWT check: every activity to /api/messages is validated against the (fake) Bot
Framework OpenID metadata and its keys; anything but a good token gets 401 and changes nothing.
Real validation throughout: tokens are signed by the fake identity service's RSA key."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from chatops.teams.bot.auth import ActivityAuth, BotToken, Unauthorized
from chatops.tickets.models import BotConversation, IntegrationState, OutboxItem
from tests.fakes.bot_identity import KEYS_PATH
from tests.teams.bot_support import *  # noqa: F403 - fixtures and helpers
from tests.teams.bot_support import APP_ID, PASSWORD, TENANT, channel_of, install, message, post
from tests.teams.conftest import AGENT


def counts(runtime) -> tuple[int, int, int]:
    with runtime.session_factory() as session:
        return (session.scalar(select(func.count()).select_from(BotConversation)),
                session.scalar(select(func.count()).select_from(OutboxItem)),
                session.scalar(select(func.count()).select_from(IntegrationState)))


def test_a_signed_installation_is_stored(bot_client, bot_runtime, identity, bot_connector):
    channel = channel_of("support")
    answer = post(bot_client, identity, install(bot_connector, channel))
    assert answer.status_code == 200
    with bot_runtime.session_factory() as session:
        [row] = session.scalars(select(BotConversation)).all()
    assert (row.id, row.kind, row.channel_id, row.service_url, row.tenant_id) == (
        channel, "channel", channel, bot_connector.service_url, TENANT)
    assert post(bot_client, identity, install(bot_connector, person=AGENT)).status_code == 200
    with bot_runtime.session_factory() as session:
        personal = session.scalars(select(BotConversation).where(BotConversation.kind == "personal")).one()
    assert (personal.user_aad, personal.user_id, personal.tenant_id) == (
        AGENT["aad"], f"29:1{AGENT['aad'].replace('-', '')}", TENANT)
    removed = {**install(bot_connector, person=AGENT), "action": "remove"}
    assert post(bot_client, identity, removed).status_code == 200
    with bot_runtime.session_factory() as session:  # uninstalled: the bot may no longer write there
        assert session.get(BotConversation, personal.id) is None


BAD = {
    "unsigned": lambda identity, activity: None,
    "not a bearer token": lambda identity, activity: "Basic dXNlcjpwYXNz",
    "garbage": lambda identity, activity: "Bearer not.a.jwt",
    "expired": lambda identity, activity: identity.expired(activity),
    "wrong audience": lambda identity, activity: identity.sign(activity, audience="someone-elses-bot"),
    "wrong issuer": lambda identity, activity: identity.sign(activity, issuer="https://sts.windows.net/evil/"),
    "wrong key": lambda identity, activity: identity.wrong_key(activity),
    "unknown key": lambda identity, activity: identity.unknown_key(activity),
    "wrong serviceUrl": lambda identity, activity: identity.sign(activity, service_url="https://evil.example/"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_token_gets_401_and_changes_nothing(case, bot_client, bot_runtime, identity, bot_connector):
    for activity in (install(bot_connector, channel_of("support")), message(bot_connector, "claim T-1")):
        before = counts(bot_runtime)
        answer = post(bot_client, identity, activity, authorization=BAD[case](identity, activity))
        assert answer.status_code == 401, answer.text
        assert answer.get_json() == {"error": "unauthorized"}
        assert counts(bot_runtime) == before == (0, 0, 0)


def test_refusals_are_counted_in_metrics(bot_client, identity, bot_connector):
    activity = install(bot_connector, channel_of("support"))
    post(bot_client, identity, activity, authorization=None)
    post(bot_client, identity, activity)
    scrape = bot_client.get("/metrics").text
    assert 'chatops_webhook_requests_total{network="teams_bot",status="401"} 1.0' in scrape
    assert 'chatops_webhook_requests_total{network="teams_bot",status="200"} 1.0' in scrape


def test_a_token_for_another_activity_is_refused(bot_client, bot_runtime, identity, bot_connector):
    """The serviceUrl claim binds a token to where its activity says replies go."""
    good = install(bot_connector, channel_of("support"))
    moved = {**good, "serviceUrl": "https://evil.example/"}
    assert post(bot_client, identity, moved, authorization=identity.sign(good)).status_code == 401
    assert counts(bot_runtime) == (0, 0, 0)


def test_expiry_has_a_small_leeway(bot_client, identity, bot_connector, clock):
    activity = install(bot_connector, channel_of("support"))
    late = identity.sign(activity, issued_ago=timedelta(minutes=64), expires_in=timedelta(minutes=60))
    assert post(bot_client, identity, activity, authorization=late).status_code == 200
    too_late = identity.sign(activity, issued_ago=timedelta(minutes=66), expires_in=timedelta(minutes=60))
    assert post(bot_client, identity, activity, authorization=too_late).status_code == 401


def test_keys_are_cached_and_fetched_again_for_a_new_key(identity, bot_connector, clock):
    auth = ActivityAuth(APP_ID, identity.openid_url, clock=clock, refetch_every=0)
    activity = install(bot_connector, channel_of("support"))
    assert auth.check(identity.sign(activity), activity)["aud"] == APP_ID
    assert auth.check(identity.sign(activity), activity)["aud"] == APP_ID
    assert sum(r.path == KEYS_PATH for r in identity.requests) == 1  # the second check used the cache
    identity.rotate()  # the Bot Framework publishes a new key and signs with it
    assert auth.check(identity.sign(activity), activity)["aud"] == APP_ID
    assert sum(r.path == KEYS_PATH for r in identity.requests) == 2
    with pytest.raises(Unauthorized):
        auth.check(identity.unknown_key(activity), activity)


def test_an_unknown_key_does_not_refetch_more_than_once_a_minute(identity, bot_connector, clock):
    auth = ActivityAuth(APP_ID, identity.openid_url, clock=clock)
    activity = install(bot_connector, channel_of("support"))
    auth.check(identity.sign(activity), activity)
    for _ in range(3):
        with pytest.raises(Unauthorized):
            auth.check(identity.unknown_key(activity), activity)
    assert sum(r.path == KEYS_PATH for r in identity.requests) == 1


def test_the_bot_token_is_cached_until_shortly_before_it_expires(identity, clock):
    token = BotToken(APP_ID, PASSWORD, identity.token_url, clock=clock)
    first = token.get()
    assert token.get() == first and len(identity.token_requests()) == 1
    clock.advance(minutes=54)
    assert token.get() == first
    clock.advance(minutes=2)  # within five minutes of expiry: renewed
    assert token.get() != first and len(identity.token_requests()) == 2
    request = identity.token_requests()[0].body.decode()
    assert "grant_type=client_credentials" in request and "scope=https%3A%2F%2Fapi.botframework.com%2F.default" in request
