"""Negativity from the ja/en lexicon: flood detection counts angry posts that no rule tags."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from chatops.rules.sentiment import negative_words
from tests.conftest import ROOT


@pytest.mark.parametrize("text, words", [
    ("いい加減にしてよ🤬", ["いい加減にして", "🤬"]),
    ("ｲﾗｲﾗする", ["イライラ"]),  # half-width katakana, NFKC
    ("いらいらする", ["イライラ"]),  # hiragana spelling of the same word
    ("This is RIDICULOUS", ["ridiculous"]),
    ("not working!!", ["not working"]),
])
def test_negative_words_are_found_in_any_spelling(text, words):
    assert negative_words(text) == sorted(words)


@pytest.mark.parametrize("text", ["使い方を教えてください", "I already love it", "Thanks! Errors fixed? no, \"errorless\""])
def test_neutral_posts_have_no_negative_words(text):
    assert negative_words(text) == []


ANGRY = "いい加減にしてよ、返事まだ？ありえない"  # no rule tags it negative


@pytest.mark.parametrize("words, opened", [(True, 1), (False, 0)])
def test_flood_counts_lexicon_negative_posts_only_when_enabled(session_factory, rules, clock, words, opened):
    from sqlalchemy import select

    from chatops.rules.flood import FloodConfig
    from chatops.tickets.flows import TicketFlows
    from chatops.tickets.models import Incident
    from tests.helpers import inbound

    config = FloodConfig(window="10m", min_messages=10, min_authors=5, min_negative_share=0.5,
                         negative_tags=["app"], negative_words=words, channel="support-urgent")
    flows = TicketFlows(session_factory, rules.model_copy(update={"flood": config}), clock=clock)
    for n in range(12):
        flows.ingest(inbound(ANGRY, kind="reply", conversation_id="P1", in_reply_to="P1",
                             author={"id": f"a{n}", "handle": f"@a{n}", "name": f"a{n}"}))
        clock.advance(seconds=1)
    with session_factory() as session:
        assert len(session.scalars(select(Incident)).all()) == opened


def test_rules_test_shows_negativity():
    output = subprocess.run(
        [sys.executable, "-m", "chatops", "rules", "test", "--rules", str(ROOT / "rules.yaml"),
         "--text", "いい加減にしてよ🤬", "--json"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout
    assert json.loads(output)["negative"] == ["いい加減にして", "🤬"]
