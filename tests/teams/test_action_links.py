"""Card buttons are signed, expiring links: GET shows a confirmation and changes nothing, POST
acts for the person named on the form with their roles; forged, altered and expired links
change nothing and say why, in the reader's language."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import func, select

from chatops.db import utcnow
from chatops.teams.links import ActionLinks, LinkRefused
from chatops.tickets.models import Ticket, TicketEvent
from tests.helpers import inbound
from tests.teams.conftest import LINK_SECRET, PUBLIC_URL, buttons, cards_of, drain

JA = {"Accept-Language": "ja,en;q=0.5"}
EN = {"Accept-Language": "en-US,en;q=0.9"}


def links(clock=utcnow) -> ActionLinks:
    return ActionLinks(LINK_SECRET, PUBLIC_URL, ttl_seconds=3 * 24 * 3600, clock=clock)


def token_of(url: str) -> str:
    return parse_qs(urlparse(url).query)["token"][0]


def ticket(runtime, key: str) -> Ticket:
    with runtime.session_factory() as session:
        return session.get(Ticket, int(key[2:]))


def event_count(runtime) -> int:
    with runtime.session_factory() as session:
        return session.scalar(select(func.count()).select_from(TicketEvent))


@pytest.fixture
def key(teams_runtime) -> str:
    return teams_runtime.flows.ingest(inbound("使い方を教えてください")).ticket_key


def test_button_from_the_posted_card_claims_for_the_person(teams_runtime, outbox, workflows, client, key):
    drain(outbox)
    [card] = cards_of(workflows)
    url = urlparse(buttons(card)["担当する"])
    page = client.get(f"{url.path}?{url.query}", headers=JA)
    assert page.status_code == 200 and f"{key} を担当しますか？" in page.text
    assert ticket(teams_runtime, key).assignee is None  # looking at the page changes nothing
    done = client.post("/teams/act", data={"token": token_of(buttons(card)["担当する"]),
                                           "upn": "Sato@ACME.example"}, headers=JA)
    assert done.status_code == 200 and f"{key} を担当しました。" in done.text
    assert ticket(teams_runtime, key).assignee == "U0AGENT001"
    assert "chatops_teams_upn=Sato@ACME.example" in done.headers["Set-Cookie"]
    # the next visit remembers who they are
    again = client.get(f"/teams/act?token={links(teams_runtime.clock).token(int(key[2:]), 'resolve')}", headers=EN)
    assert 'value="Sato@ACME.example"' in again.text and f"Resolve {key}?" in again.text


def test_resolve_link_takes_a_note_and_the_result_is_in_english(teams_runtime, client, key):
    token = links(teams_runtime.clock).token(int(key[2:]), "resolve")
    done = client.post("/teams/act", data={"token": token, "upn": "lead@acme.example", "note": "answered"},
                       headers=EN)
    assert done.status_code == 200 and f"You resolved {key}." in done.text and "Resolved" in done.text
    with teams_runtime.session_factory() as session:
        last = session.scalars(select(TicketEvent).order_by(TicketEvent.id.desc())).first()
    assert (last.kind, last.actor, last.payload["note"]) == ("resolved", "U0LEAD0001", "answered")


def test_forged_link_changes_nothing(teams_runtime, client, key):
    forged = ActionLinks("someone-elses-secret-0123456789", PUBLIC_URL, ttl_seconds=3600).token(int(key[2:]),
                                                                                                "claim")
    before = event_count(teams_runtime)
    for response in (client.get(f"/teams/act?token={forged}", headers=EN),
                     client.post("/teams/act", data={"token": forged, "upn": "sato@acme.example"}, headers=EN)):
        assert response.status_code == 403
        assert "This link is not valid" in response.text and "Nothing was changed" in response.text
    assert event_count(teams_runtime) == before and ticket(teams_runtime, key).assignee is None


def test_altered_link_for_another_ticket_or_action_is_refused(teams_runtime, client, key):
    other = teams_runtime.flows.ingest(inbound("別件です", author={"id": "u2", "handle": "@taro"})).ticket_key
    genuine = links(teams_runtime.clock).token(int(key[2:]), "claim")
    payload, _, signature = genuine.partition(".")
    twin = links(teams_runtime.clock).token(int(other[2:]), "resolve")
    spliced = twin.partition(".")[0] + "." + signature  # another ticket's payload, this link's signature
    # a character inside the signature: the last one of base64 carries two padding bits, and
    # changing only those decodes to the same signature (1 run in 16 would then pass)
    at = len(genuine) - 5
    flipped = genuine[:at] + ("A" if genuine[at] != "A" else "B") + genuine[at + 1:]
    before = event_count(teams_runtime)
    for token in (spliced, flipped, genuine[:20], ""):
        response = client.post("/teams/act", data={"token": token, "upn": "sato@acme.example"}, headers=JA)
        assert response.status_code == 403 and "このリンクは無効です" in response.text
    assert event_count(teams_runtime) == before
    assert ticket(teams_runtime, other).status == "new" and ticket(teams_runtime, key).assignee is None


def test_expired_link_says_when_it_was_made(teams_runtime, client, key):
    old = links(clock=lambda: teams_runtime.clock() - timedelta(days=4)).token(int(key[2:]), "claim")
    response = client.get(f"/teams/act?token={old}", headers=JA)
    assert response.status_code == 410 and "このリンクは期限切れです" in response.text
    posted = client.post("/teams/act", data={"token": old, "upn": "sato@acme.example"}, headers=EN)
    assert posted.status_code == 410 and "This link has expired" in posted.text and "UTC" in posted.text
    assert ticket(teams_runtime, key).assignee is None


def test_expiry_counts_at_the_moment_of_use():
    made = utcnow()
    now = {"t": made}
    signer = links(clock=lambda: now["t"])
    token = signer.token(7, "claim")
    now["t"] = made + timedelta(days=3) - timedelta(seconds=5)
    assert signer.verify(token).key == "T-7"
    now["t"] = made + timedelta(days=3, seconds=5)
    with pytest.raises(LinkRefused) as refused:
        signer.verify(token)
    assert refused.value.reason == "expired"


def test_unknown_person_and_missing_role_are_refused(teams_runtime, client, key):
    token = links(teams_runtime.clock).token(int(key[2:]), "claim")
    stranger = client.post("/teams/act", data={"token": token, "upn": "who@else.example"}, headers=EN)
    assert stranger.status_code == 403 and "not in rules.yaml (teams.people)" in stranger.text
    guest = client.post("/teams/act", data={"token": token, "upn": "guest@acme.example"}, headers=EN)
    assert guest.status_code == 403 and "You need the agent role to claim tickets." in guest.text
    assert ticket(teams_runtime, key).assignee is None


def test_domain_refusal_is_shown_not_hidden(teams_runtime, client, key):
    teams_runtime.flows.claim(key, actor="U0LEAD0001")
    token = links(teams_runtime.clock).token(int(key[2:]), "claim")
    response = client.post("/teams/act", data={"token": token, "upn": "sato@acme.example"}, headers=EN)
    assert response.status_code == 409 and f"{key} is already claimed by Lead." in response.text
    assert ticket(teams_runtime, key).assignee == "U0LEAD0001"


def test_page_escapes_customer_text(teams_runtime, client):
    key = teams_runtime.flows.ingest(inbound("<script>alert(1)</script> 助けて")).ticket_key
    page = client.get(f"/teams/act?token={links(teams_runtime.clock).token(int(key[2:]), 'claim')}", headers=EN)
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text
