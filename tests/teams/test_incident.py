"""A flood (炎上) in Teams: webhook cards cannot be edited, so the incident is one card when it
opens, then at most one digest card per `flood.digest_every`; no card per member."""

from __future__ import annotations

from tests.helpers import inbound
from tests.teams.conftest import card_text, cards_of, drain


def angry_reply(n: int):
    return inbound(f"アプリでエラーが出ます #{n}", source="mastodon", kind="reply", conversation_id="brand-post-9",
                   in_reply_to="brand-post-9", author={"id": f"f{n}", "handle": f"@fan{n}", "name": f"Fan {n}"})


def test_a_flood_posts_the_incident_card_once_and_bounded_digests(teams_runtime, outbox, workflows, clock):
    outbox.clock = clock
    outbox.deliverers["teams"].clock = clock
    clock.advance(seconds=-(clock.now.timestamp() % 30))  # start on a digest period
    for n in range(300):
        teams_runtime.flows.ingest(angry_reply(n))
        clock.advance(milliseconds=150)  # 45 s: the flood spans two digest periods
    clock.advance(seconds=60)
    drain(outbox)

    texts = [card_text(card) for card in cards_of(workflows)]
    opened = [text for text in texts if "炎上インシデント" in text]
    digests = [text for text in texts if "新着" in text]
    assert len(opened) == 1 and "30 件" in opened[0]
    assert len(digests) == 2
    counts = [int(text.split("新着 ")[1].split(" 件")[0]) for text in digests]
    assert sum(counts) == 300  # every message in exactly one digest (those before the flood was seen too)
    assert "ほか" in digests[0] and "@fan" in digests[0]
    assert "300 件" in digests[-1]  # the live figure: all inbound messages of the incident
    # The ticket's own card, the opening card and the digests: nothing per message.
    assert len(texts) == 1 + 1 + 2
