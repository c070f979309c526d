"""Attachments, edits and deletions as the Teams webhook cards show them: an Image element (with
its alt text) per picture, a link for other media, and a card line for an edit or a deletion."""

from __future__ import annotations

from chatops.i18n import t
from chatops.teams import cards
from tests.helpers import inbound
from tests.teams import conftest as teams
from tests.teams.conftest import card_text, cards_of, drain, validate_card

# The Teams desk's fixtures (a runtime with fake Workflows and connector webhooks), used here too.
workflows, connector, teams_settings = teams.workflows, teams.connector, teams.teams_settings
teams_runtime, outbox = teams.teams_runtime, teams.outbox

PHOTO = "https://pbs.twimg.com/media/GcAbCdEfXYZ.jpg"


def test_a_photo_and_a_file_on_the_card_then_an_edit_and_a_deletion(teams_runtime, outbox, workflows):
    flows = teams_runtime.flows
    first = inbound("二重請求されました", external_id="p1", attachments=[
        {"type": "image", "url": PHOTO, "alt": "明細の画面"},
        {"type": "file", "url": "https://files.example/明細(1).pdf", "name": "明細.pdf"},
        {"type": "image", "ref": "468789577898262540"}])
    key = flows.ingest(first).ticket_key
    flows.ingest(inbound("二重請求されました。返金をお願いします", external_id="p1", action="edit"))
    flows.ingest(inbound("", external_id="p1", action="delete"))
    drain(outbox)
    created, edited, deleted = cards_of(workflows)
    for card in (created, edited, deleted):
        validate_card(card)
    images = [e for e in created["body"] if e["type"] == "Image"]
    assert images == [{"type": "Image", "url": PHOTO, "altText": f"{t('teams.attachment.image', 'ja')}: 明細の画面",
                       "size": "Large"}]
    text = card_text(created)
    assert "[ファイル: 明細.pdf](https://files.example/明細%281%29.pdf)" in text
    assert t("teams.attachment.ref", "ja", ref="468789577898262540") in text
    assert t("teams.line.message_edited", "ja", text="二重請求されました。返金をお願いします") in card_text(edited)
    assert t("teams.line.message_deleted", "ja") in card_text(deleted)
    assert key  # the ticket stays: every card was about it


def test_messagecard_lists_attachments_as_links(rules):
    from tests.teams.test_cards import view

    card = cards.connector_card("https://hook.example/x", view(attachments=({"type": "image", "url": PHOTO},)),
                                line="line", quote="quote", links={}, rules=rules, lang="en", timeout=5,
                                attachments=({"type": "image", "url": PHOTO},))
    assert f"📎 [Image]({PHOTO})" in card.payload["text"]
