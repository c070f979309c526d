"""LINE media reach agents: a customer's photo (kept by LINE behind the channel token) becomes a
signed chatops link, shown as an image in the Slack card, that fetches the content with the
token of the channel it arrived on; forged links, gone content and missing settings are clear."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from chatops.i18n import t
from chatops.tickets.models import Message, Ticket
from integrations.line import SIGNATURE_HEADER, LineConfig, signature
from tests.fakes.http_recorder import Answer
from tests.slack.conftest import Desk

PUBLIC = "https://chatops.example.test"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64  # what LINE's content API hands over
PHOTO, GONE = "600000000000000001", "600000000000000002"


def two_channels(fake) -> LineConfig:
    return LineConfig(
        api_url=fake.url, data_url=fake.url + "/data", channel_secret="secret-one", channel_access_token="token-one",
        account="@acme", accounts=[{"account": "@acme_shop", "channel_secret": "secret-two",
                                    "channel_access_token": "token-two"}], _env_file=None)


@pytest.fixture
def desk(wired, fake):
    fake.route("GET", f"/data/v2/bot/message/{PHOTO}/content",
               Answer(200, raw=PNG, headers={"Content-Type": "image/png"}))
    fake.route("GET", f"/data/v2/bot/message/{GONE}/content", Answer(404, {"message": "Not found"}))
    return wired("line", two_channels(fake), public_url=PUBLIC, media_secret=SecretStr("media-signing-key-0123456789"))


def photo_body(clock, message_id: str, user: str) -> bytes:
    """A LINE webhook with one photo, as the platform sends it (content kept by LINE)."""
    return json.dumps({"destination": "U0123456789abcdef0123456789abcdef", "events": [{
        "type": "message", "message": {"type": "image", "id": message_id, "quoteToken": "q",
                                       "contentProvider": {"type": "line"}},
        "webhookEventId": f"01H{message_id}", "deliveryContext": {"isRedelivery": False},
        "timestamp": int(clock.now.timestamp() * 1000), "source": {"type": "user", "userId": user},
        "replyToken": f"token-for-{message_id}", "mode": "active"}]}).encode()


def send(desk: Desk, body: bytes, secret: str) -> None:
    response = desk.client.post("/webhooks/line", data=body, content_type="application/json",
                                headers={SIGNATURE_HEADER: signature(secret, body)})
    assert response.status_code == 200, response.get_data(as_text=True)


def card_images(desk: Desk, key: str) -> list[dict]:
    (post,) = [m for m in desk.slack.messages if m.thread_ts is None and m.metadata
               and m.metadata.get("event_payload", {}).get("ticket") == key]
    return [block for block in post.attachments[0]["blocks"] if block["type"] == "image"]


def local(url: str) -> str:
    """The path and query of a public chatops link, to ask the app under test."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def only_ticket(desk: Desk) -> Ticket:
    with desk.runtime.session_factory() as session:
        return session.scalars(select(Ticket)).unique().one()


def test_a_customers_photo_shows_in_slack_and_opens_with_the_channels_token(desk, fake, clock):
    send(desk, photo_body(clock, PHOTO, "U" + "1" * 32), "secret-one")
    desk.drain()
    (image,) = card_images(desk, only_ticket(desk).key)
    assert image["image_url"].startswith(f"{PUBLIC}/media/line?")
    assert parse_qs(urlsplit(image["image_url"]).query)["account"] == ["@acme"]
    with desk.runtime.session_factory() as session:
        stored = session.scalars(select(Message).where(Message.external_id == PHOTO)).one()
    assert stored.attachments[0]["ref"] == PHOTO and stored.attachments[0]["url"] == image["image_url"]

    response = desk.client.get(local(image["image_url"]))
    assert response.status_code == 200 and response.data == PNG
    assert response.headers["Content-Type"] == "image/png" and response.headers["Content-Disposition"] == "inline"
    (call,) = fake.calls_to("GET", f"/data/v2/bot/message/{PHOTO}/content")
    assert call.headers["Authorization"] == "Bearer token-one"
    metrics = desk.client.get("/metrics").get_data(as_text=True)
    assert 'chatops_media_requests_total{network="line",status="200"} 1.0' in metrics


def test_the_second_channels_photo_is_fetched_with_its_own_token(desk, fake, clock):
    send(desk, photo_body(clock, PHOTO, "U" + "2" * 32), "secret-two")
    desk.drain()
    (image,) = card_images(desk, only_ticket(desk).key)
    assert desk.client.get(local(image["image_url"])).data == PNG
    (call,) = fake.calls_to("GET", f"/data/v2/bot/message/{PHOTO}/content")
    assert call.headers["Authorization"] == "Bearer token-two"


def test_a_changed_link_is_refused_without_asking_line(desk, fake, clock):
    send(desk, photo_body(clock, PHOTO, "U" + "1" * 32), "secret-one")
    desk.drain()
    (image,) = card_images(desk, only_ticket(desk).key)
    other_channel = local(image["image_url"]).replace("account=%40acme", "account=%40acme_shop")
    for path in (other_channel, local(image["image_url"]).replace(PHOTO, GONE), f"/media/line?account=%40acme&ref={PHOTO}"):
        response = desk.client.get(path, headers={"Accept-Language": "ja"})
        assert response.status_code == 403
        assert response.get_json()["error"] == t("media.bad_link", "ja")
    assert not fake.calls_to("GET", f"/data/v2/bot/message/{PHOTO}/content")
    assert 'chatops_media_requests_total{network="line",status="403"} 3.0' in \
        desk.client.get("/metrics").get_data(as_text=True)


def test_content_line_no_longer_keeps_says_so(desk, fake, clock):
    send(desk, photo_body(clock, GONE, "U" + "1" * 32), "secret-one")
    desk.drain()
    (image,) = card_images(desk, only_ticket(desk).key)
    response = desk.client.get(local(image["image_url"]), headers={"Accept-Language": "en"})
    assert response.status_code == 404
    assert response.get_json()["error"] == t("media.gone", "en", network="LINE")


def test_without_a_public_address_the_photo_is_named_by_its_content_id(wired, fake, clock):
    desk = wired("line", two_channels(fake))
    send(desk, photo_body(clock, PHOTO, "U" + "1" * 32), "secret-one")
    desk.drain()
    key = only_ticket(desk).key
    assert card_images(desk, key) == []
    assert desk.client.get(f"/media/line?account=%40acme&ref={PHOTO}").status_code == 404  # no such route
    (post,) = [m for m in desk.slack.messages if m.thread_ts is None and m.metadata
               and m.metadata.get("event_payload", {}).get("ticket") == key]
    assert t("slack.attachment.ref", "ja", ref=PHOTO) in json.dumps(post.attachments[0]["blocks"], ensure_ascii=False)
