"""Inbound completeness, network by network, end to end to Slack: attachments (kept with their
alt text, shown as image blocks or links), attachment-only posts, edits ("edited: …" in the
thread, the earlier text in the event), deletions and unsends (marked, a line, the ticket as it
was), and on Facebook one ticket per commenter with the reply under their own comment.

Each test posts the network's real payload shape (tests/integrations/fixtures/) through its
signed webhook or poller against the local fakes, then drains the outbox into the fake Slack.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from chatops.i18n import t
from chatops.inbound import Attachment
from chatops.tickets.models import Message, Ticket, TicketEvent
from integrations.bluesky import BlueskyConfig
from integrations.facebook import FacebookConfig
from integrations.instagram import InstagramConfig
from integrations.line import SIGNATURE_HEADER as LINE_SIGNATURE
from integrations.line import LineConfig
from integrations.line import signature as line_signature
from integrations.mastodon import MastodonConfig
from integrations.meta import signature as meta_signature
from integrations.polling import poll_once
from integrations.webhook import SIGNATURE_HEADER as GENERIC_SIGNATURE
from integrations.webhook import sign as generic_sign
from integrations.x import SIGNATURE_HEADER as X_SIGNATURE
from integrations.x import XConfig
from integrations.x import signature as x_signature
from tests.fakes.http_recorder import Answer
from tests.integrations.conftest import fixture, fixture_bytes
from tests.slack.conftest import Desk

LANG = "ja"  # rules.yaml `defaults.language`
PAGE = "106000000000001"
IG_USER = "17841400000000001"
META = dict(app_secret="meta-app-secret", verify_token="verify-me", page_id=PAGE, page_access_token="page-token",
            page_name="ACME Japan", ig_user_id=IG_USER, ig_username="acme.jp", _env_file=None)


def stored(desk: Desk, external_id: str) -> Message:
    with desk.runtime.session_factory() as session:
        return session.scalars(select(Message).where(Message.direction == "inbound",
                                                     Message.external_id == external_id)).one()


def events(desk: Desk, kind: str) -> list[TicketEvent]:
    with desk.runtime.session_factory() as session:
        return list(session.scalars(select(TicketEvent).where(TicketEvent.kind == kind).order_by(TicketEvent.id)))


def all_tickets(desk: Desk) -> list[Ticket]:
    with desk.runtime.session_factory() as session:
        return list(session.scalars(select(Ticket).order_by(Ticket.id)).unique())


def parent(desk: Desk, ticket: Ticket):
    """The ticket's parent message in the fake Slack."""
    posts = [m for m in desk.slack.messages if m.thread_ts is None and m.metadata
             and m.metadata.get("event_payload", {}).get("ticket") == ticket.key]
    assert len(posts) == 1, f"{ticket.key} has {len(posts)} parent posts"
    return posts[0]


def card_blocks(desk: Desk, ticket: Ticket) -> list[dict]:
    return parent(desk, ticket).attachments[0]["blocks"]


def thread(desk: Desk, ticket: Ticket) -> list:
    """The lines in the ticket's Slack thread, oldest first."""
    head = parent(desk, ticket)
    return [m for m in desk.slack.messages if m.thread_ts == head.ts and m.channel == head.channel]


def images(blocks: list[dict]) -> list[tuple[str, str]]:
    return [(b["image_url"], b["alt_text"]) for b in blocks if b["type"] == "image"]


def post_meta(desk: Desk, network: str, body: bytes):
    return desk.client.post(f"/webhooks/{network}", data=body, content_type="application/json",
                            headers={"X-Hub-Signature-256": meta_signature("meta-app-secret", body)})


def outcomes(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [r["outcome"] for r in response.get_json()["results"]]


# -- Facebook ------------------------------------------------------------------------------------


@pytest.fixture
def facebook(wired, fake):
    fake.route("POST", "/v21.0/*", lambda call: Answer(200, {"id": call.path.split("/")[2] + "_reply"}))
    fake.route("GET", "/v21.0/7200000000000005_300000000000001", Answer(200, {
        "message": "@ACME Japan のアプリが起動しません", "from": {"id": "7200000000000005", "name": "Goro Kato"},
        "created_time": "2026-11-20T00:58:00+0000", "permalink_url": "https://www.facebook.com/7200000000000005/posts/300000000000001",
        "full_picture": "https://scontent.xx.fbcdn.net/v/t39.30808-6/300000000000001_n.jpg",
        "id": "7200000000000005_300000000000001"}))
    return wired("facebook", FacebookConfig(graph_url=fake.url + "/v21.0", **META))


def test_facebook_commenters_photos_visitor_posts_edits_and_removals(facebook, fake):
    desk = facebook
    assert outcomes(post_meta(desk, "facebook", fixture_bytes("facebook_webhook_commenters.json"))) == [
        "created", "created", "threaded", "created"]
    photo_ticket, hanako, visitor = all_tickets(desk)
    # The photo-only comment is a message with its photo; the reply to it went to its ticket.
    photo = stored(desk, "900000000000001_1100000000000003")
    assert photo.text == "" and photo.ticket_id == photo_ticket.id
    assert photo.attachments == [{"type": "image", "url": "https://scontent.xx.fbcdn.net/v/t39.1997-6/1100000000000003_n.jpg"}]
    assert stored(desk, "900000000000001_1100000000000004").ticket_id == photo_ticket.id
    assert stored(desk, "900000000000001_1100000000000001").ticket_id == hanako.id
    assert stored(desk, "106000000000001_900000000000077").attachments == [
        {"type": "image", "url": "https://scontent.xx.fbcdn.net/v/t1.0-9/900000000000078_n.jpg"}]
    desk.drain()
    assert images(card_blocks(desk, photo_ticket)) == [
        ("https://scontent.xx.fbcdn.net/v/t39.1997-6/1100000000000003_n.jpg", t("slack.attachment.image", LANG))]
    assert images(card_blocks(desk, visitor))[0][0] == "https://scontent.xx.fbcdn.net/v/t1.0-9/900000000000078_n.jpg"
    assert "(image)" not in json.dumps(card_blocks(desk, photo_ticket), ensure_ascii=False)
    assert photo_ticket.subject == "[image]"  # never a blank subject in lists and pages
    assert parent(desk, photo_ticket).text.endswith(t("slack.attachment.image", LANG))  # the notification

    # Replies go under each customer's own comment (a visitor post: a comment on it).
    for ticket, view in ((hanako, "V1"), (visitor, "V2")):
        desk.flows.reply(ticket.key, actor="U0AGENT001", text="確認いたします。", idempotency_key=f"slack-view:{view}")
    desk.drain()
    assert fake.calls_to("POST", "/v21.0/900000000000001_1100000000000001/comments")
    assert fake.calls_to("POST", "/v21.0/106000000000001_900000000000077/comments")
    assert not fake.calls_to("POST", "/v21.0/900000000000001_1100000000000003/comments")

    # Hanako edits her comment; Jiro removes his photo comment.
    status_before = [ticket.status for ticket in all_tickets(desk)]
    assert outcomes(post_meta(desk, "facebook", fixture_bytes("facebook_webhook_edit_remove.json"))) == [
        "edited", "deleted"]
    edited = stored(desk, "900000000000001_1100000000000001")
    assert edited.text == "注文した商品が届かないです。注文番号 A-1235 でした" and edited.edited_at is not None
    (event,) = events(desk, "message_edited")
    assert event.payload["text_from"] == "注文した商品が届かないです。注文番号 A-1234"
    assert stored(desk, "900000000000001_1100000000000003").deleted_at is not None
    assert [ticket.status for ticket in all_tickets(desk)] == status_before  # the tickets stay as they were
    # The same deliveries again change nothing.
    assert outcomes(post_meta(desk, "facebook", fixture_bytes("facebook_webhook_edit_remove.json"))) == [
        "duplicate", "duplicate"]
    desk.drain()
    edit_line = thread(desk, hanako)[-1].text
    assert edit_line.startswith(t("slack.line.message_edited", LANG)) and "A-1235 でした" in edit_line
    assert thread(desk, photo_ticket)[-1].text == t("slack.line.message_deleted", LANG)
    assert t("slack.message_deleted", LANG) in json.dumps(card_blocks(desk, photo_ticket), ensure_ascii=False)
    assert len(events(desk, "message_edited")) == 1 and len(events(desk, "message_deleted")) == 1


def test_facebook_page_mention_and_messenger_photo_then_edit(facebook, fake):
    desk = facebook
    assert outcomes(post_meta(desk, "facebook", fixture_bytes("facebook_webhook_mention.json"))) == ["created"]
    (call,) = fake.calls_to("GET", "/v21.0/7200000000000005_300000000000001")
    assert call.headers["Authorization"] == "Bearer page-token"
    mention = stored(desk, "7200000000000005_300000000000001")
    assert mention.text == "@ACME Japan のアプリが起動しません" and mention.kind == "mention"
    assert mention.attachments[0]["url"].endswith("300000000000001_n.jpg")
    assert outcomes(post_meta(desk, "facebook", fixture_bytes("facebook_webhook_messenger_media.json"))) == [
        "created", "edited"]
    dm = stored(desk, "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P")
    assert dm.text == "この写真の通り、破損していました"
    assert dm.attachments == [{"type": "image", "url": "https://scontent.xx.fbcdn.net/v/t1.15752-9/310000000000001_n.jpg"}]
    desk.drain()
    _, dm_ticket = all_tickets(desk)
    assert images(card_blocks(desk, dm_ticket))[0][0].endswith("310000000000001_n.jpg")
    desk.flows.reply(all_tickets(desk)[0].key, actor="U0AGENT001", text="ご連絡ありがとうございます。",
                     idempotency_key="slack-view:V9")
    desk.drain()
    assert fake.calls_to("POST", "/v21.0/7200000000000005_300000000000001/comments")


# -- Instagram -----------------------------------------------------------------------------------


@pytest.fixture
def instagram(wired, fake):
    return wired("instagram", InstagramConfig(graph_url=fake.url + "/v21.0", **META))


def test_instagram_gif_comment_batch_is_not_refused_and_an_unsent_dm_is_marked(instagram):
    desk = instagram
    # A GIF comment has no `text`: it is stored with the other messages of its delivery.
    assert outcomes(post_meta(desk, "instagram", fixture_bytes("instagram_webhook_gif_comment.json"))) == [
        "created", "created", "created"]
    assert stored(desk, "17865799348089040").attachments == [{"type": "gif"}]
    assert outcomes(post_meta(desk, "instagram", fixture_bytes("instagram_webhook_dm_media_unsend.json"))) == [
        "threaded", "deleted"]
    dm = stored(desk, "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMedia")
    assert dm.attachments == [{"type": "image", "url": "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17900000000000777&signature=AbCdEf"}]
    assert dm.deleted_at is not None
    desk.drain()
    gif_ticket = all_tickets(desk)[0]
    assert t("slack.attachment.gif", LANG) in json.dumps(card_blocks(desk, gif_ticket), ensure_ascii=False)
    dm_ticket = next(ticket for ticket in all_tickets(desk) if ticket.id == dm.ticket_id)
    lines = thread(desk, dm_ticket)
    image_line = next(line for line in lines if any(b["type"] == "image" for b in line.blocks))
    assert images(image_line.blocks)[0][0].startswith("https://lookaside.fbsbx.com/ig_messaging_cdn/")
    assert "lookaside" not in image_line.blocks[0]["text"]["text"]  # shown once: as the image
    assert "lookaside" in image_line.text  # the notification text still links it
    assert lines[-1].text == t("slack.line.message_deleted", LANG)
    assert dm_ticket.status == "new"  # the ticket stays as it was


# -- LINE ----------------------------------------------------------------------------------------


@pytest.fixture
def line(wired, fake):
    return wired("line", LineConfig(api_url=fake.url, channel_secret="line-channel-secret",
                                    channel_access_token="line-token", account="@acme", _env_file=None))


def post_line(desk: Desk, body: bytes):
    return desk.client.post("/webhooks/line", data=body, content_type="application/json",
                            headers={LINE_SIGNATURE: line_signature("line-channel-secret", body)})


def test_line_image_file_and_unsend(line):
    desk = line
    assert outcomes(post_line(desk, fixture_bytes("line_webhook_media_unsend.json"))) == [
        "created", "threaded", "threaded"]
    # LINE's own content is fetched by message id from the content API: stored as a reference.
    assert stored(desk, "468789577898262540").attachments == [{"type": "image", "ref": "468789577898262540"}]
    assert stored(desk, "468789577898262541").attachments == [
        {"type": "file", "ref": "468789577898262541", "name": "receipt.pdf"}]
    assert stored(desk, "468789577898262542").attachments == [
        {"type": "image", "url": "https://example.com/original.jpg"}]
    assert outcomes(post_line(desk, fixture_bytes("line_webhook_unsend.json"))) == ["deleted"]
    assert outcomes(post_line(desk, fixture_bytes("line_webhook_unsend.json"))) == ["duplicate"]
    assert stored(desk, "468789577898262541").deleted_at is not None
    desk.drain()
    (ticket,) = all_tickets(desk)
    card = json.dumps(card_blocks(desk, ticket), ensure_ascii=False)
    assert t("slack.attachment.ref", LANG, ref="468789577898262540") in card and "(image)" not in card
    lines = thread(desk, ticket)
    file_line = next(line for line in lines if "receipt.pdf" in line.text)
    assert json.dumps(file_line.blocks, ensure_ascii=False).count("receipt.pdf") == 1
    assert any(images(line.blocks) == [("https://example.com/original.jpg", t("slack.attachment.image", LANG))]
               for line in lines)
    assert lines[-1].text == t("slack.line.message_deleted", LANG)


# -- Mastodon ------------------------------------------------------------------------------------

ACCT = "acme@mastodon.example"


@pytest.fixture
def mastodon(wired, fake):
    fake.route("GET", "/api/v1/notifications", Answer(200, fixture("mastodon_notifications_media.json")))  # type: ignore[arg-type]
    fake.route("GET", "/api/v1/timelines/tag/*", Answer(200, []))  # type: ignore[arg-type]
    return wired("mastodon", MastodonConfig(api_url=fake.url, access_token="mastodon-token", account=ACCT,
                                            _env_file=None))


def poll(desk: Desk, lease: str):
    (poller,) = desk.runtime.networks.pollers()
    desk.runtime.networks.context.store.merge(lease, lease_until=None)
    return poll_once(poller, desk.flows, desk.runtime.networks.context.store, holder="r1")


def test_mastodon_media_with_description_then_edited(mastodon, fake):
    desk = mastodon
    assert poll(desk, f"lease:poll:mastodon:{ACCT}").created == 1
    assert fake.calls_to("GET", "/api/v1/notifications")[0].query["types[]"] == ["mention", "update"]
    url = "https://files.mastodon.example/media_attachments/files/022/345/792/original/57859aede991da25.jpeg"
    assert stored(desk, "113186126728896500").attachments == [
        {"type": "image", "url": url, "alt": "エラーコード E-42 が表示された設定画面"}]
    desk.drain()
    (ticket,) = all_tickets(desk)
    assert images(card_blocks(desk, ticket)) == [(url, f"{t('slack.attachment.image', LANG)}: エラーコード E-42 が表示された設定画面")]
    fake.route("GET", "/api/v1/notifications", Answer(200, fixture("mastodon_notifications_update.json")))  # type: ignore[arg-type]
    poll(desk, f"lease:poll:mastodon:{ACCT}")
    edited = stored(desk, "113186126728896500")
    assert edited.text.endswith("画面がこうなります（再起動しても同じです）") and edited.edited_at is not None
    assert events(desk, "message_edited")[0].payload["text_from"].endswith("画面がこうなります")
    desk.drain()
    assert thread(desk, ticket)[-1].text.startswith(t("slack.line.message_edited", LANG))
    assert "再起動しても同じです" in thread(desk, ticket)[-1].text


# -- Bluesky -------------------------------------------------------------------------------------


@pytest.fixture
def bluesky(wired, fake):
    fake.route("POST", "/xrpc/com.atproto.server.createSession", Answer(200, {
        "accessJwt": "access-1", "refreshJwt": "refresh-1", "did": "did:plc:acme", "handle": "acme.bsky.social"}))
    fake.route("GET", "/xrpc/app.bsky.notification.listNotifications",
               Answer(200, fixture("bluesky_notifications_images.json")))
    fake.route("GET", "/xrpc/app.bsky.feed.searchPosts", Answer(200, {"posts": []}))
    return wired("bluesky", BlueskyConfig(api_url=fake.url, handle="acme.bsky.social", app_password="app-pass",
                                          _env_file=None))


def test_bluesky_image_only_post_keeps_its_alt_text(bluesky):
    desk = bluesky
    assert poll(desk, "lease:poll:bluesky:acme.bsky.social").created == 1
    url = ("https://cdn.bsky.app/img/feed_fullsize/plain/did:plc:jiro789/"
           "bafkreibabcdefghijklmnopqrstuvwxyz234567abcdefghijklmnop@jpeg")
    post = stored(desk, "at://did:plc:jiro789/app.bsky.feed.post/3lbqz9img0001")
    assert post.text == "" and post.attachments == [{
        "type": "image", "url": url, "alt": "@acme.bsky.social 宛のエラー画面のスクリーンショット",
        "ref": "bafkreibabcdefghijklmnopqrstuvwxyz234567abcdefghijklmnop"}]
    desk.drain()
    (ticket,) = all_tickets(desk)
    ((image_url, alt),) = images(card_blocks(desk, ticket))
    assert image_url == url and alt.endswith("宛のエラー画面のスクリーンショット")


# -- X -------------------------------------------------------------------------------------------


@pytest.fixture
def x(wired, fake):
    return wired("x", XConfig(api_url=fake.url, bearer_token="app-bearer", user_token="user-token",
                              user_id="1500000000000000001", account="@acme_jp", consumer_secret="x-consumer-secret",
                              poll=False, _env_file=None))


def post_x(desk: Desk, body: bytes):
    return desk.client.post("/webhooks/x", data=body, content_type="application/json",
                            headers={X_SIGNATURE: x_signature("x-consumer-secret", body)})


def test_x_photo_with_alt_text_then_deleted(x):
    desk = x
    assert outcomes(post_x(desk, fixture_bytes("x_account_activity_media.json"))) == ["created"]
    tweet = stored(desk, "1859012345678907777")
    assert tweet.text == "@acme_jp 届いた箱がこれです"  # the media's t.co link is the attachment now
    assert tweet.attachments == [{"type": "image", "url": "https://pbs.twimg.com/media/GcAbCdEfXYZ.jpg",
                                  "alt": "角が潰れた段ボール箱", "ref": "1859012340000000001"}]
    assert outcomes(post_x(desk, fixture_bytes("x_account_activity_delete.json"))) == ["deleted"]
    assert stored(desk, "1859012345678907777").deleted_at is not None
    desk.drain()
    (ticket,) = all_tickets(desk)
    assert images(card_blocks(desk, ticket)) == [
        ("https://pbs.twimg.com/media/GcAbCdEfXYZ.jpg", f"{t('slack.attachment.image', LANG)}: 角が潰れた段ボール箱")]
    assert thread(desk, ticket)[-1].text == t("slack.line.message_deleted", LANG)
    assert desk.ticket(ticket.key).status == "new"


# -- the generic webhook ---------------------------------------------------------------------------


def test_generic_webhook_attachments_and_an_edit(wired, fake):
    desk = wired("x", XConfig(_env_file=None))
    common = {"source": "webhook", "account": "crm", "external_id": "crm-1", "author": {"id": "c-9"},
              "created_at": "2026-11-20T00:50:00+00:00"}
    first = {**common, "text": "", "attachments": [
        {"type": "image", "url": "https://crm.example/files/1.png", "alt": "invoice <!channel>"},
        {"type": "file", "url": "javascript:alert(1)", "name": "notes.txt"}]}
    edit = {**common, "action": "edit", "text": "請求書の金額が違います"}

    def send(body: dict):
        raw = json.dumps(body).encode()
        return desk.client.post("/webhooks/generic", data=raw, content_type="application/json",
                                headers={GENERIC_SIGNATURE: generic_sign("test-webhook-secret", raw)})

    assert send(first).status_code == 202
    assert send(edit).get_json()["results"][0]["outcome"] == "edited"
    message = stored(desk, "crm-1")
    assert message.text == "請求書の金額が違います" and len(message.attachments) == 2
    bad = send({**common, "external_id": "crm-2", "text": "", "attachments": [{"type": "photo"}]})
    assert bad.status_code == 400 and "attachments" in bad.get_json()["error"]
    desk.drain()
    (ticket,) = all_tickets(desk)
    blocks = card_blocks(desk, ticket)
    assert images(blocks) == [("https://crm.example/files/1.png", f"{t('slack.attachment.image', LANG)}: invoice <!channel>")]
    # The unsafe link is named, not linked; mrkdwn never carries the customer's `<!channel>`.
    links = json.dumps(blocks, ensure_ascii=False)
    assert "javascript:" not in links and "notes.txt" in links
    mrkdwn = [b["text"]["text"] for b in blocks if b.get("text", {}).get("type") == "mrkdwn"] + [
        e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]
    assert not any("<!channel>" in text for text in mrkdwn)
    assert thread(desk, ticket)[-1].text.startswith(t("slack.line.message_edited", LANG))


# -- Block Kit with hostile media ------------------------------------------------------------------


def test_hostile_attachments_stay_within_block_kit_limits(rules):
    from datetime import UTC, datetime

    from slack_sdk.models.blocks import Block

    from chatops.slack import blocks
    from chatops.views import TicketView

    hostile = tuple([{"type": "image", "url": "https://cdn.example/" + "a" * 2900 + ".png", "alt": "🇯🇵" * 3000}] * 6
                    + [{"type": "image", "url": "https://cdn.example/" + "b" * 3100}]  # too long for image_url
                    + [{"type": "file", "url": "https://files.example/x|<!here>", "name": "<@U0BOSS>" * 200}] * 12
                    + [{"type": "video", "url": "javascript:alert(1)"}])
    view = TicketView.at(datetime(2026, 11, 20, 1, 5, tzinfo=UTC), key="T-1", status="new", priority="red",
                         level="L3", channel="support-urgent", source="x", account="@acme_jp", text="",
                         created_at=datetime(2026, 11, 20, 1, 0, tzinfo=UTC), attachments=hostile)
    message = blocks.ticket_message(view, rules, "ja")
    card = message["attachments"][0]["blocks"]
    for block in card:
        Block.parse(block).validate_json()  # slack_sdk's own limits (alt_text 2000, image_url 3000, text 3000)
    assert len(images(card)) == blocks.ticket.IMAGES_SHOWN
    context = next(b for b in card if b["type"] == "context")  # the links, after the images
    text = context["elements"][0]["text"]
    assert len(text) <= 2000 and "<!here>" not in text and "<@U0BOSS>" not in text and "javascript:" not in text
    assert t("slack.more", "ja", count=16) in text  # what did not fit is counted, never cut mid-link
    assert t("slack.attachment.image", "ja") in message["text"]  # the notification names the media
    for block in blocks.customer_line_blocks("@hanako", "", None, hostile, "ja"):
        Block.parse(block).validate_json()


def test_facebook_reply_skips_a_comment_the_customer_removed(facebook, fake):
    desk = facebook
    template = json.loads(fixture_bytes("facebook_webhook_commenters.json"))
    hanako = template["entry"][0]["changes"][1]
    second = json.loads(json.dumps(hanako))
    second["value"].update(comment_id="900000000000001_1100000000000009", message="追記です", created_time=1763599600)
    removed = json.loads(json.dumps(second))
    removed["value"].update(verb="remove", created_time=1763599700)
    removed["value"].pop("message")
    for change, outcome in ((hanako, "created"), (second, "threaded"), (removed, "deleted")):
        body = json.dumps({"object": "page", "entry": [{"id": PAGE, "time": 1763599500, "changes": [change]}]}).encode()
        assert outcomes(post_meta(desk, "facebook", body)) == [outcome]
    (ticket,) = all_tickets(desk)
    desk.flows.reply(ticket.key, actor="U0AGENT001", text="確認いたします。", idempotency_key="slack-view:V1")
    desk.drain()
    assert fake.calls_to("POST", "/v21.0/900000000000001_1100000000000001/comments")
    assert not fake.calls_to("POST", "/v21.0/900000000000001_1100000000000009/comments")


def test_x_polled_mention_with_a_photo_and_a_gif(wired, fake):
    fake.route("GET", "/2/users/1500000000000000001/mentions", Answer(200, fixture("x_mentions_media.json")))
    fake.route("GET", "/2/tweets/search/recent", Answer(200, {"meta": {"result_count": 0}}))
    desk = wired("x", XConfig(api_url=fake.url, bearer_token="app-bearer", user_token="user-token",
                              user_id="1500000000000000001", account="@acme_jp", _env_file=None))
    assert poll(desk, "lease:poll:x:@acme_jp").created == 1
    (call,) = fake.calls_to("GET", "/2/users/1500000000000000001/mentions")
    assert call.query["expansions"] == ["author_id,attachments.media_keys"]
    assert call.query["media.fields"] == ["type,url,preview_image_url,alt_text"]
    tweet = stored(desk, "1859012345678908888")
    assert tweet.text == "@acme_jp この画面から進めません"
    assert tweet.attachments == [
        {"type": "image", "url": "https://pbs.twimg.com/media/GcQw3rTyAAA.jpg", "alt": "支払い画面のエラー表示",
         "ref": "3_1859012340000000002"},
        {"type": "gif", "url": "https://pbs.twimg.com/tweet_video_thumb/GcQw3rTyBBB.jpg", "ref": "16_1859012340000000003"}]
    desk.drain()
    (ticket,) = all_tickets(desk)
    assert [url for url, _ in images(card_blocks(desk, ticket))] == [
        "https://pbs.twimg.com/media/GcQw3rTyAAA.jpg", "https://pbs.twimg.com/tweet_video_thumb/GcQw3rTyBBB.jpg"]


def test_bluesky_search_hit_embed_view_gives_fullsize_images_and_link_cards():
    from integrations.bluesky import post_attachments

    post = {"uri": "at://did:plc:x/app.bsky.feed.post/3l", "cid": "bafy", "author": {"did": "did:plc:x", "handle": "x"},
            "record": {"$type": "app.bsky.feed.post", "text": "", "createdAt": "2026-11-20T00:53:00.000Z"},
            "embed": {"$type": "app.bsky.embed.recordWithMedia#view",
                      "media": {"$type": "app.bsky.embed.images#view", "images": [
                          {"thumb": "https://cdn.bsky.app/img/feed_thumbnail/plain/did:plc:x/bafkA@jpeg",
                           "fullsize": "https://cdn.bsky.app/img/feed_fullsize/plain/did:plc:x/bafkA@jpeg",
                           "alt": "壊れた充電器"}]}}}
    assert post_attachments(post) == [
        Attachment(type="image", url="https://cdn.bsky.app/img/feed_fullsize/plain/did:plc:x/bafkA@jpeg", alt="壊れた充電器")]
    card = {**post, "embed": {"$type": "app.bsky.embed.external#view", "external": {
        "uri": "https://status.acme.example/incident/42", "title": "障害情報", "description": "", "thumb": None}}}
    assert post_attachments(card) == [Attachment(type="link", url="https://status.acme.example/incident/42", alt="障害情報")]


def test_cli_ingest_and_show_media_edits_and_deletions(monkeypatch, tmp_path, database_url, capsys):
    from tests.helpers import cli_env
    from tests.helpers import run_cli as run

    cli_env(monkeypatch, tmp_path, database_url)
    common = {"source": "webhook", "account": "crm", "author": {"id": "c-1", "handle": "@hanako"},
              "created_at": "2026-11-20T00:50:00+00:00"}
    lines = [{**common, "external_id": "f-1", "text": "", "attachments": [
                 {"type": "image", "url": "https://crm.example/1.png", "alt": "請求書"}]},
             {**common, "external_id": "f-2", "text": "金額が違います",
              "attachments": [{"type": "file", "ref": "doc-7", "name": "明細.pdf"}]},
             {**common, "external_id": "f-2", "action": "edit", "text": "金額が二重です"},
             {**common, "external_id": "f-1", "action": "delete", "text": ""}]
    source = tmp_path / "media.jsonl"
    source.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n", "utf-8")
    code, out, err = run(capsys, "--lang", "en", "ingest", "--no-replies", str(source))
    assert code == 0, err
    assert "1 edited, 1 deleted, 0 deletions of messages never stored" in out
    code, out, _ = run(capsys, "--lang", "en", "tickets", "show", "T-1")
    assert code == 0
    assert "@hanako:  (deleted by the customer)" in out and "📎 image https://crm.example/1.png 請求書" in out
    assert "金額が二重です (edited)" in out and "📎 file ref:doc-7 明細.pdf" in out
    code, out, _ = run(capsys, "tickets", "show", "T-1", "--json")
    first, second = json.loads(out)["messages"]
    assert first["attachments"] == [{"type": "image", "url": "https://crm.example/1.png", "alt": "請求書"}]
    assert "deleted_at" in first and "edited_at" in second


def test_x_dm_with_a_photo_keeps_it_and_drops_its_link():
    from integrations.x import XWebhook

    webhook = XWebhook(XConfig(user_id="1500000000000000001", account="@acme_jp", _env_file=None))
    (dm,) = webhook.parse({"for_user_id": "1500000000000000001", "direct_message_events": [{
        "type": "message_create", "id": "1859012345000000009", "created_timestamp": "1763599620000",
        "message_create": {"target": {"recipient_id": "1500000000000000001"}, "sender_id": "4444",
                           "message_data": {"text": "壊れていました https://t.co/DmPhoto01", "entities": {},
                                            "attachment": {"type": "media", "media": {
                                                "id_str": "1859012340000000009", "type": "photo",
                                                "media_url_https": "https://ton.twitter.com/1.1/ton/data/dm/1859012345000000009/1859012340000000009/abc.jpg",
                                                "url": "https://t.co/DmPhoto01"}}}}}]})
    assert dm.text == "壊れていました" and dm.kind == "dm"
    assert dm.attachments == [Attachment(  # ton.twitter.com needs our OAuth credentials: a reference
        type="image", ref="https://ton.twitter.com/1.1/ton/data/dm/1859012345000000009/1859012340000000009/abc.jpg")]


def test_an_image_slack_cannot_download_becomes_a_link_and_the_ticket_still_posts(facebook, fake_slack):
    desk = facebook
    expired = "https://scontent.xx.fbcdn.net/v/t39.1997-6/1100000000000003_n.jpg"
    fake_slack.unreachable_images = {expired}  # an expired CDN signature: Slack answers invalid_blocks
    post_meta(desk, "facebook", fixture_bytes("facebook_webhook_photo_comment.json"))
    desk.drain()
    photo_ticket = next(t_ for t_ in all_tickets(desk) if t_.subject == "[image]")
    blocks_now = card_blocks(desk, photo_ticket)
    assert not images(blocks_now)
    assert f"<{expired}|{t('slack.attachment.image', LANG)}>" in json.dumps(blocks_now, ensure_ascii=False)
    refused = [c for c in fake_slack.calls if c.method == "chat.postMessage" and c.answer.get("error") == "invalid_blocks"]
    assert refused and "downloading image failed" in refused[0].answer["errors"][0]
