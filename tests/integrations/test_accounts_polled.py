"""Several brand accounts on the polled networks, end to end: two Mastodon accounts on two
instances and two Bluesky handles, each polled with its own credentials, tickets on the account
the post reached, replies leaving from that account (its instance and token, its repo), the
account on the Slack card, a reply for an account no longer configured failing visibly, and
`chatops integrations check` probing every account with its own credentials.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from chatops.cli import main
from chatops.i18n import t
from chatops.tickets.models import OutboxItem, Ticket, TicketEvent
from integrations.bluesky import BlueskyConfig
from integrations.mastodon import MastodonConfig
from integrations.network import AccountSinks
from integrations.polling import poll_once
from tests.fakes.http_recorder import Answer
from tests.fakes.network_api import FakeNetwork
from tests.integrations.conftest import agent_reply, deliver, enable, fixture, reply_items, tickets
from tests.slack.conftest import Desk

LANG = "ja"  # rules.yaml `defaults.language`
ACME = "acme@mastodon.example"
ACME_JP = "acme_jp@fosstodon.example"
ACME_KR = "acme_kr@fosstodon.example"


@pytest.fixture
def fake_jp():
    """The second brand account's Mastodon instance, a server of its own."""
    with FakeNetwork() as server:
        yield server


def poll_all(runtime, networks=None) -> list:
    """Poll every feed once, as the poll loop does (leases released first: one holder here)."""
    networks = networks or runtime.networks
    outcomes = []
    for poller in networks.pollers():
        networks.context.store.merge(f"lease:poll:{poller.network}:{poller.account}", lease_until=None)
        outcomes.append(poll_once(poller, runtime.flows, networks.context.store, holder="r1"))
    return outcomes


def alerts(runtime) -> list[OutboxItem]:
    with runtime.session_factory() as session:
        return list(session.scalars(select(OutboxItem).where(OutboxItem.kind == "channel_alert")
                                    .order_by(OutboxItem.id)))


# -- Mastodon: two accounts on two instances -----------------------------------------------------


def mastodon_instances(fake, fake_jp) -> None:
    fake.route("GET", "/api/v1/notifications", Answer(200, fixture("mastodon_notifications.json")))  # type: ignore[arg-type]
    fake.route("GET", "/api/v1/timelines/tag/*", Answer(200, []))  # type: ignore[arg-type]
    fake.route("GET", "/api/v1/timelines/tag/acmestore",
               Answer(200, fixture("accounts_polled_mastodon_tag_timeline.json")))  # type: ignore[arg-type]
    fake.route("POST", "/api/v1/statuses", Answer(200, {"id": "113186200000000001"}))
    fake_jp.route("GET", "/api/v1/notifications",
                  Answer(200, fixture("accounts_polled_mastodon_jp_notifications.json")))  # type: ignore[arg-type]
    fake_jp.route("GET", "/api/v1/timelines/tag/*", Answer(200, []))  # type: ignore[arg-type]
    fake_jp.route("POST", "/api/v1/statuses", Answer(200, {"id": "113186300000000099"}))


def mastodon_config(fake, fake_jp) -> MastodonConfig:
    """ACME on the first instance (flat settings) and ACME Japan on the second (an entry that
    gives its own instance and token and inherits the poll interval)."""
    return MastodonConfig(api_url=fake.url, access_token="token-acme", account=ACME, poll_seconds=120,
                          accounts=[{"api_url": fake_jp.url, "access_token": "token-jp", "account": ACME_JP}],
                          _env_file=None)


@pytest.fixture
def mastodon(runtime, fake, fake_jp):
    mastodon_instances(fake, fake_jp)
    return enable(runtime, "mastodon", mastodon_config(fake, fake_jp))


def test_mastodon_each_account_is_polled_on_its_instance_with_its_token(runtime, fake, fake_jp, mastodon):
    first, second = mastodon.pollers()
    assert (first.account, second.account) == (ACME, ACME_JP)
    assert second.interval == 120  # the poll interval is shared; instance and token are the entry's own
    created = [outcome.created for outcome in poll_all(runtime)]
    assert created == [2, 1]  # ACME: the mention and the #acmestore post; ACME Japan: its mention
    assert {call.headers["Authorization"] for call in fake.calls} == {"Bearer token-acme"}
    assert {call.headers["Authorization"] for call in fake_jp.calls} == {"Bearer token-jp"}
    # The brand keywords are searched once, by the first account: a post matching them is
    # addressed to no account, and searching from each would only find it again.
    assert fake.calls_to("GET", "/api/v1/timelines/tag/acmestore")
    assert not [call for call in fake_jp.calls if call.path.startswith("/api/v1/timelines/tag/")]

    mention, keyword, jp = tickets(runtime)
    assert (mention.account, mention.customer.handle) == (ACME, "@hanako@fedi.example")
    assert (keyword.account, keyword.customer.handle) == (ACME, "@jiro@other.example")
    assert (jp.source, jp.account, jp.customer.handle) == ("mastodon", ACME_JP, "@ken@social.example")
    store = mastodon.context.store
    assert store.get(f"poll:mastodon:{ACME}")["cursors"]["notifications"] == "34975861"
    # The cursor passes the brand's own status too: skipped, it is not fetched again.
    assert store.get(f"poll:mastodon:{ACME_JP}")["cursors"] == {"notifications": "52000002"}


def test_mastodon_posts_of_the_other_brand_account_are_not_customers(runtime, fake, fake_jp, mastodon):
    """ACME Japan's own announcement under #acmestore, found by ACME's keyword search, and ACME
    handing a customer over to ACME Japan with a mention are the brand speaking: no ticket."""
    poll_all(runtime)
    handles = sorted(ticket.customer.handle for ticket in tickets(runtime))
    assert handles == ["@hanako@fedi.example", "@jiro@other.example", "@ken@social.example"]


def test_mastodon_a_bare_acct_is_a_brand_account_of_the_same_instance(runtime, fake, fake_jp):
    """On its own instance a status's acct has no domain: ACME Korea, beside ACME Japan on the
    second instance, is `acme_kr` there, and is the brand still."""
    mastodon_instances(fake, fake_jp)
    korea = {"id": "9103", "username": "acme_kr", "acct": "acme_kr", "display_name": "ACME Korea"}
    handover = {**fixture("accounts_polled_mastodon_jp_notifications.json")[0], "id": "52000003", "account": korea}
    handover["status"] = {**handover["status"], "id": "113186300000000003", "account": korea}
    fake_jp.route("GET", "/api/v1/notifications", lambda call: Answer(200, (  # type: ignore[arg-type]
        [handover, *fixture("accounts_polled_mastodon_jp_notifications.json")]
        if call.headers["Authorization"] == "Bearer token-jp" else [])))
    config = mastodon_config(fake, fake_jp)
    config.accounts.append({"api_url": fake_jp.url, "access_token": "token-kr", "account": ACME_KR})
    enable(runtime, "mastodon", config)
    assert [outcome.created for outcome in poll_all(runtime)] == [2, 1, 0]
    assert {ticket.customer.handle for ticket in tickets(runtime) if ticket.account == ACME_JP} == \
        {"@ken@social.example"}


def test_mastodon_replies_leave_from_the_ticket_account(runtime, fake, fake_jp, mastodon):
    poll_all(runtime)
    tickets_on = by_account_first(runtime)
    agent_reply(runtime, tickets_on[ACME_JP].key, "お届け状況をお調べします。", view_id="V0001")
    agent_reply(runtime, tickets_on[ACME].key, "返金手続きをご案内します。", view_id="V0002")
    assert deliver(runtime) == 2
    (jp_sent,) = fake_jp.calls_to("POST", "/api/v1/statuses")
    assert jp_sent.headers["Authorization"] == "Bearer token-jp"
    assert jp_sent.json() == {"status": "@ken@social.example お届け状況をお調べします。",
                              "in_reply_to_id": "113186300000000001", "visibility": "unlisted"}
    (sent,) = fake.calls_to("POST", "/api/v1/statuses")
    assert sent.headers["Authorization"] == "Bearer token-acme"
    assert sent.json()["in_reply_to_id"] == "113186126728896492"
    results = {item.payload["account"]: (item.state, item.result["external_id"]) for item in reply_items(runtime)}
    assert results == {ACME: ("done", "113186200000000001"), ACME_JP: ("done", "113186300000000099")}


def by_account_first(runtime) -> dict[str, Ticket]:
    """The first ticket of each account (ACME has a mention and a keyword ticket)."""
    found: dict[str, Ticket] = {}
    for ticket in tickets(runtime):
        found.setdefault(ticket.account, ticket)
    return found


def test_mastodon_one_account_rate_limit_holds_only_its_own_replies(runtime, fake, fake_jp, mastodon):
    poll_all(runtime)
    tickets_on = by_account_first(runtime)
    reset = (datetime.now(UTC) + timedelta(seconds=120)).isoformat()
    fake_jp.queue("POST", "/api/v1/statuses", Answer(429, {"error": "Too many requests"},
                                                     {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}))
    agent_reply(runtime, tickets_on[ACME_JP].key, "お届け状況をお調べします。", view_id="V0001")
    agent_reply(runtime, tickets_on[ACME].key, "返金手続きをご案内します。", view_id="V0002")
    deliver(runtime)
    states = {item.payload["account"]: item.state for item in reply_items(runtime)}
    assert states == {ACME: "done", ACME_JP: "pending"}
    assert len(fake.calls_to("POST", "/api/v1/statuses")) == 1


def test_mastodon_refused_token_alerts_for_that_account_only(runtime, fake, fake_jp, mastodon):
    fake_jp.route("GET", "/api/v1/notifications", Answer(401, {"error": "The access token is invalid"}))
    for _ in range(4):
        for account in (ACME, ACME_JP):
            mastodon.context.store.merge(f"poll:mastodon:{account}", paused_until=None)
        poll_all(runtime)
    assert {ticket.account for ticket in tickets(runtime)} == {ACME}  # ACME goes on being polled
    (alert,) = [a for a in alerts(runtime) if a.dedupe_key.startswith("alert:auth:")]
    assert alert.payload["key"] == "networks.alert.auth"
    assert (alert.payload["params"]["network"], alert.payload["params"]["account"]) == ("mastodon", ACME_JP)
    assert "401" in mastodon.context.store.get(f"poll:mastodon:{ACME_JP}")["last_error"]


@pytest.mark.parametrize("korea", [False, True], ids=["one account left", "another account instead"])
def test_mastodon_reply_for_an_account_no_longer_configured_fails_for_good(runtime, fake, fake_jp, mastodon, korea):
    """ACME Japan's ticket, then ACME Japan removed from the settings: its reply is not sent
    from another brand; it fails at once, naming the accounts this deployment does send as."""
    poll_all(runtime)
    jp_ticket = by_account_first(runtime)[ACME_JP]
    left = [{"api_url": fake_jp.url, "access_token": "token-kr", "account": ACME_KR}] if korea else []
    networks = enable(runtime, "mastodon", MastodonConfig(api_url=fake.url, access_token="token-acme", account=ACME,
                                                          accounts=left, _env_file=None))
    assert isinstance(networks.sinks()["network:mastodon"], AccountSinks) == korea
    agent_reply(runtime, jp_ticket.key, "お届け状況をお調べします。")
    deliver(runtime)
    (item,) = reply_items(runtime)
    assert item.state == "dead" and item.attempts == 1
    assert f"'{ACME_JP}' is not configured" in item.last_error
    assert f"'{ACME}'" in item.last_error and (f"'{ACME_KR}'" in item.last_error) == korea
    assert fake.calls_to("POST", "/api/v1/statuses") == [] and fake_jp.calls_to("POST", "/api/v1/statuses") == []
    with runtime.session_factory() as session:
        failed = session.scalars(select(TicketEvent).where(TicketEvent.kind == "reply_failed")).one()
    assert failed.ticket_id == jp_ticket.id


# -- Slack: the card names the account, a reply that cannot leave says why ----------------------


def card_network_field(desk: Desk, ticket: Ticket) -> str:
    """The Network field of the ticket's parent post in the fake Slack."""
    (post,) = [m for m in desk.slack.messages if m.thread_ts is None and m.metadata
               and m.metadata.get("event_payload", {}).get("ticket") == ticket.key]
    label = f"*{t('slack.field.network', LANG)}*\n"
    (text,) = [f["text"] for block in post.attachments[0]["blocks"] for f in block.get("fields") or []
               if f["text"].startswith(label)]
    return text.removeprefix(label)


def thread_lines(desk: Desk, ticket: Ticket) -> list[str]:
    (head,) = [m for m in desk.slack.messages if m.thread_ts is None and m.metadata
               and m.metadata.get("event_payload", {}).get("ticket") == ticket.key]
    return [m.text for m in desk.slack.messages if m.thread_ts == head.ts and m.channel == head.channel]


def test_slack_card_shows_the_account_and_an_unsendable_reply_says_why(wired, fake, fake_jp, fake_slack):
    mastodon_instances(fake, fake_jp)
    desk = wired("mastodon", mastodon_config(fake, fake_jp))
    poll_all(desk.runtime)
    desk.drain()
    tickets_on = by_account_first(desk.runtime)
    assert card_network_field(desk, tickets_on[ACME]) == f"Mastodon · {ACME}"
    assert card_network_field(desk, tickets_on[ACME_JP]) == f"Mastodon · {ACME_JP}"

    enable(desk.runtime, "mastodon", MastodonConfig(api_url=fake.url, access_token="token-acme", account=ACME,
                                                    _env_file=None))
    desk = Desk(desk.runtime, fake_slack, desk.clock)  # the outbox over the new settings
    agent_reply(desk.runtime, tickets_on[ACME_JP].key, "お届け状況をお調べします。")
    desk.drain()
    assert t("slack.cause.not_configured", LANG) in thread_lines(desk, tickets_on[ACME_JP])[-1]
    assert fake_jp.calls_to("POST", "/api/v1/statuses") == []


# -- Bluesky: two handles, two sessions, two repos ------------------------------------------------

HANDLE = "acme.bsky.social"
HANDLE_JP = "acme-jp.bsky.social"
XRPC = "/xrpc/"
SESSIONS = {HANDLE: {"did": "did:plc:acme", "password": "pass-acme", "token": "access-acme"},
            HANDLE_JP: {"did": "did:plc:acmejp", "password": "pass-jp", "token": "access-jp"}}


@pytest.fixture
def bluesky(runtime, fake):
    """One PDS for both handles: a session answers the identifier and password it was created
    with, and every call is answered as the handle its access token belongs to."""
    fake.records = {}

    def create_session(call):
        body = call.json()
        known = SESSIONS.get(body["identifier"])
        if known is None or known["password"] != body["password"]:
            return Answer(401, {"error": "AuthenticationRequired", "message": "Invalid identifier or password"})
        return Answer(200, {"accessJwt": known["token"], "refreshJwt": f"refresh-{known['token']}",
                            "did": known["did"], "handle": body["identifier"]})

    def refresh_session(call):
        """A refresh token `refresh-<access token>...` is the session of that access token's handle."""
        given = call.headers["Authorization"].removeprefix("Bearer ")
        (handle,) = [h for h, known in SESSIONS.items() if given.startswith(f"refresh-{known['token']}")]
        return Answer(200, {"accessJwt": SESSIONS[handle]["token"], "refreshJwt": f"{given}-rotated",
                            "did": SESSIONS[handle]["did"], "handle": handle})

    def whose(call) -> str:
        (handle,) = [h for h, known in SESSIONS.items()
                     if call.headers.get("Authorization") == f"Bearer {known['token']}"]
        return handle

    def notifications(call):
        return Answer(200, fixture("accounts_polled_bluesky_notifications.json" if whose(call) == HANDLE
                                   else "accounts_polled_bluesky_jp_notifications.json"))

    def create_record(call):
        body = call.json()
        if body["repo"] != SESSIONS[whose(call)]["did"]:  # what a PDS answers a write to another's repo
            return Answer(401, {"error": "AuthRequired", "message": "Input/repo must be the authenticated DID"})
        fake.records[(body["repo"], body["rkey"])] = body
        return Answer(200, {"uri": f"at://{body['repo']}/{body['collection']}/{body['rkey']}", "cid": "bafyreinew"})

    fake.route("POST", XRPC + "com.atproto.server.createSession", create_session)
    fake.route("POST", XRPC + "com.atproto.server.refreshSession", refresh_session)
    fake.route("GET", XRPC + "app.bsky.notification.listNotifications", notifications)
    fake.route("GET", XRPC + "app.bsky.feed.searchPosts", lambda call: Answer(200, (
        fixture("accounts_polled_bluesky_search.json") if call.query["q"] == ["ACME Cloud"] else {"posts": []})))
    fake.route("POST", XRPC + "com.atproto.repo.createRecord", create_record)
    config = BlueskyConfig(api_url=fake.url, handle=HANDLE, app_password="pass-acme", poll_seconds=90,
                           accounts=[{"handle": HANDLE_JP, "app_password": "pass-jp"}], _env_file=None)
    return enable(runtime, "bluesky", config)


def test_bluesky_each_handle_is_polled_with_its_own_session(runtime, fake, bluesky):
    first, second = bluesky.pollers()
    assert (first.account, second.account, second.interval) == (HANDLE, HANDLE_JP, 90)
    poll_all(runtime)
    logins = [call.json() for call in fake.calls_to("POST", XRPC + "com.atproto.server.createSession")]
    assert logins == [{"identifier": HANDLE, "password": "pass-acme"}, {"identifier": HANDLE_JP, "password": "pass-jp"}]
    listed = [call.headers["Authorization"] for call in fake.calls_to("GET", XRPC + "app.bsky.notification.listNotifications")]
    assert listed == ["Bearer access-acme", "Bearer access-jp"]
    # The keywords are searched by the first handle only.
    assert {call.headers["Authorization"] for call in fake.calls_to("GET", XRPC + "app.bsky.feed.searchPosts")} == \
        {"Bearer access-acme"}
    store = bluesky.context.store
    assert store.get(f"session:bluesky:{HANDLE}")["did"] == "did:plc:acme"
    assert store.get(f"session:bluesky:{HANDLE_JP}")["did"] == "did:plc:acmejp"
    assert store.get(f"poll:bluesky:{HANDLE_JP}")["cursors"] == {"notifications": "2026-11-20T00:51:01.500Z"}

    found = {(ticket.account, ticket.customer.handle) for ticket in tickets(runtime)}
    # ACME Japan's own reply in ACME's thread and its own announcement found by the keyword
    # search are the brand speaking: no ticket for them.
    assert found == {(HANDLE, "@hanako.bsky.social"), (HANDLE, "@jiro.example.com"), (HANDLE_JP, "@ken.bsky.social")}


def test_bluesky_replies_are_created_in_the_ticket_handle_repo(runtime, fake, bluesky):
    poll_all(runtime)
    tickets_on = by_account_first(runtime)
    agent_reply(runtime, tickets_on[HANDLE_JP].key, "お届け状況をお調べします。", view_id="V0001")
    agent_reply(runtime, tickets_on[HANDLE].key, "復旧作業中です。", view_id="V0002")
    assert deliver(runtime) == 2
    created = {call.json()["repo"]: call for call in fake.calls_to("POST", XRPC + "com.atproto.repo.createRecord")}
    assert sorted(created) == ["did:plc:acme", "did:plc:acmejp"]
    jp = created["did:plc:acmejp"]
    assert jp.headers["Authorization"] == "Bearer access-jp"
    ken = {"uri": "at://did:plc:ken321/app.bsky.feed.post/3lbr0mention1", "cid": "bafyreikenmentioncid"}
    assert jp.json()["record"]["text"] == "お届け状況をお調べします。" and jp.json()["record"]["reply"] == \
        {"root": ken, "parent": ken}
    assert created["did:plc:acme"].headers["Authorization"] == "Bearer access-acme"
    results = {item.payload["account"]: item.result["external_id"].rsplit("/", 2)[0] for item in reply_items(runtime)}
    assert results == {HANDLE: "at://did:plc:acme", HANDLE_JP: "at://did:plc:acmejp"}
    # Each handle logged in once: its session is stored and reused by the outbox.
    assert len(fake.calls_to("POST", XRPC + "com.atproto.server.createSession")) == 2


def test_bluesky_expired_session_is_refreshed_with_that_handle_refresh_token(runtime, fake, bluesky):
    store = bluesky.context.store
    poll_all(runtime)
    store.merge(f"session:bluesky:{HANDLE_JP}", accessJwt="expired", refreshJwt="refresh-access-jp-old")
    fake.queue("GET", XRPC + "app.bsky.notification.listNotifications",
               Answer(400, {"error": "ExpiredToken", "message": "Token has expired"}))
    second = bluesky.pollers()[1]
    store.merge(f"lease:poll:bluesky:{HANDLE_JP}", lease_until=None)
    assert poll_once(second, runtime.flows, store, holder="r1").polled
    (refresh,) = fake.calls_to("POST", XRPC + "com.atproto.server.refreshSession")
    assert refresh.headers["Authorization"] == "Bearer refresh-access-jp-old"
    assert store.get(f"session:bluesky:{HANDLE_JP}")["accessJwt"] == "access-jp"
    assert store.get(f"session:bluesky:{HANDLE}")["accessJwt"] == "access-acme"  # the other handle untouched


def test_bluesky_retry_looks_for_the_lost_reply_in_that_handle_repo(runtime, fake, bluesky):
    poll_all(runtime)
    original = fake.routes[("POST", XRPC + "com.atproto.repo.createRecord")]

    def posted_but_answer_lost(call):
        original(call)
        return Answer(502, {"error": "UpstreamFailure"})

    fake.route("POST", XRPC + "com.atproto.repo.createRecord", posted_but_answer_lost)

    def get_record(call):
        key = (call.query["repo"][0], call.query["rkey"][0])
        if key not in fake.records:
            return Answer(400, {"error": "RecordNotFound", "message": "Could not locate record"})
        return Answer(200, {"uri": f"at://{key[0]}/app.bsky.feed.post/{key[1]}", "value": fake.records[key]["record"]})

    fake.route("GET", XRPC + "com.atproto.repo.getRecord", get_record)
    agent_reply(runtime, by_account_first(runtime)[HANDLE_JP].key, "お届け状況をお調べします。")
    deliver(runtime)
    with runtime.session_factory() as session:
        (item,) = session.scalars(select(OutboxItem).where(OutboxItem.kind == "reply")).all()
        assert item.state == "pending"
        item.next_attempt_at = item.created_at
        session.commit()
    deliver(runtime)
    (item,) = reply_items(runtime)
    assert item.state == "done" and item.result["found_on_retry"] is True
    (looked,) = fake.calls_to("GET", XRPC + "com.atproto.repo.getRecord")
    assert looked.query["repo"] == ["did:plc:acmejp"] and looked.headers["Authorization"] == "Bearer access-jp"
    assert item.result["external_id"].startswith("at://did:plc:acmejp/") and len(fake.records) == 1


# -- `chatops integrations check`: every account, each with its own credentials ------------------


@pytest.fixture
def environ(monkeypatch, settings):
    monkeypatch.setenv("CHATOPS_DATABASE_URL", settings.database_url)
    return monkeypatch.setenv


TOKENS = {"Bearer token-acme": "acme", "Bearer token-jp": "acme_jp", "Bearer token-kr": "acme_kr"}


def verify_credentials(call):
    """Who a token is, as an instance answers it; an unknown token is refused."""
    acct = TOKENS.get(call.headers.get("Authorization"))
    return Answer(200, {"acct": acct}) if acct else Answer(401, {"error": "The access token is invalid"})


def test_check_probes_every_account_with_its_own_credentials(environ, fake, fake_jp, capsys):
    fake.route("GET", "/api/v1/accounts/verify_credentials", verify_credentials)
    fake_jp.route("GET", "/api/v1/accounts/verify_credentials", verify_credentials)
    fake.route("POST", XRPC + "com.atproto.server.createSession", lambda call: Answer(200, {
        "handle": call.json()["identifier"], "did": SESSIONS[call.json()["identifier"]]["did"],
        "accessJwt": "a", "refreshJwt": "r"}))
    environ("MASTODON_API_URL", fake.url)
    environ("MASTODON_ACCESS_TOKEN", "token-acme")
    environ("MASTODON_ACCOUNT", ACME)
    # ACME Korea shares ACME's instance: its entry gives no api_url and inherits it.
    environ("MASTODON_ACCOUNTS", f'[{{"api_url": "{fake_jp.url}", "access_token": "token-jp", "account": "{ACME_JP}"}}, '
                                 f'{{"access_token": "token-kr", "account": "{ACME_KR}"}}]')
    environ("BLUESKY_API_URL", fake.url)
    environ("BLUESKY_ACCOUNTS", f'[{{"handle": "{HANDLE}", "app_password": "pass-acme"}}, '
                                f'{{"handle": "{HANDLE_JP}", "app_password": "pass-jp"}}]')
    assert main(["--lang", "en", "integrations", "check"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert f"mastodon: configured as {ACME}, API reachable (@acme)" in out
    assert f"mastodon: configured as {ACME_JP}, API reachable (@acme_jp)" in out
    # Only entries, no flat handle: the entries are the accounts, probed against the shared PDS.
    assert f"bluesky: configured as {HANDLE}, API reachable ({HANDLE} did:plc:acme)" in out
    assert f"bluesky: configured as {HANDLE_JP}, API reachable ({HANDLE_JP} did:plc:acmejp)" in out
    assert f"mastodon: configured as {ACME_KR}, API reachable (@acme_kr)" in out
    assert [c.headers["Authorization"] for c in fake.calls_to("GET", "/api/v1/accounts/verify_credentials")] == \
        ["Bearer token-acme", "Bearer token-kr"]
    assert [c.headers["Authorization"] for c in fake_jp.calls_to("GET", "/api/v1/accounts/verify_credentials")] == \
        ["Bearer token-jp"]
    assert [c.json()["password"] for c in fake.calls_to("POST", XRPC + "com.atproto.server.createSession")] == \
        ["pass-acme", "pass-jp"]


def test_check_fails_when_one_account_is_refused(environ, fake, fake_jp, capsys):
    fake.route("GET", "/api/v1/accounts/verify_credentials", verify_credentials)
    fake_jp.route("GET", "/api/v1/accounts/verify_credentials", verify_credentials)
    environ("MASTODON_API_URL", fake.url)
    environ("MASTODON_ACCESS_TOKEN", "token-acme")
    environ("MASTODON_ACCOUNT", ACME)
    environ("MASTODON_ACCOUNTS", f'[{{"api_url": "{fake_jp.url}", "access_token": "revoked", "account": "{ACME_JP}"}}]')
    assert main(["--lang", "ja", "integrations", "check"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert t("networks.check.ok", "ja", network="mastodon", account=ACME, detail="@acme") in out
    (refused,) = [line for line in out if ACME_JP in line]
    assert refused.startswith(t("networks.check.failed", "ja", network="mastodon", account=ACME_JP, detail=""))
    assert "401" in refused


@pytest.mark.parametrize(("variable", "value", "named"), [
    ("MASTODON_ACCOUNTS", '[{"account": "acme_kr@fosstodon.example", "access_token": "t"}, '
                          '{"account": "acme_jp@fosstodon.example", "access_token": 42}]',
     "MASTODON_ACCOUNTS[2].access_token: "),
    ("MASTODON_ACCOUNTS", '[{"account": "acme_jp@fosstodon.example"}]', "MASTODON_ACCOUNTS[1]: incomplete (access_token)"),
    ("MASTODON_ACCOUNTS", '[{"account": "acme_jp@fosstodon.example", "token": "t"}]',
     "MASTODON_ACCOUNTS[1].token: not a setting of MASTODON_*"),
    ("MASTODON_ACCOUNTS", f'[{{"account": "{ACME}", "access_token": "other"}}]',
     f"MASTODON_ACCOUNTS: account '{ACME}' is configured twice"),
    ("MASTODON_ACCOUNTS", '[{"account": "acme_jp@fosstodon.example", ', "MASTODON_ACCOUNTS: "),
    ("MASTODON_ACCOUNTS", '{"account": "acme_jp@fosstodon.example"}', "MASTODON_ACCOUNTS: "),
    ("MASTODON_ACCOUNTS", f'[{{"account": "{ACME_KR}", "access_token": "t"}}, "{ACME_JP}"]',
     "MASTODON_ACCOUNTS[2]: an object of settings, not str"),
    ("BLUESKY_ACCOUNTS", '[{"handle": "acme-jp.bsky.social"}]', "BLUESKY_ACCOUNTS[1]: incomplete (app_password)"),
    ("BLUESKY_ACCOUNTS", '[{"handle": "acme-jp.bsky.social", "app_password": "p", "poll_seconds": 1}]',
     "BLUESKY_ACCOUNTS[1].poll_seconds: "),
])
def test_check_names_the_bad_account_setting(environ, fake, capsys, variable, value, named):
    fake.route("GET", "/api/v1/accounts/verify_credentials", verify_credentials)
    environ("MASTODON_API_URL", fake.url)
    environ("MASTODON_ACCESS_TOKEN", "token-acme")
    environ("MASTODON_ACCOUNT", ACME)
    environ(variable, value)
    assert main(["--lang", "en", "integrations", "check"]) == 2
    err = capsys.readouterr().err
    assert named in err, err
    assert fake.calls == []  # nothing is probed while the settings are wrong
