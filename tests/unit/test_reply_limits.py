"""Reply lengths are counted the way each network counts them, per kind of reply, and a refusal
says which ticket, network, limit and count in Japanese and English."""

from __future__ import annotations

import pytest
from twitter_text import parse_tweet

from chatops.errors import ReplyTooLong
from chatops.tickets.limits import check_reply_length, reply_length, reply_limit

FAMILY = "👨\u200d👩\u200d👧\u200d👦"
FLAG = "🇯🇵"
# A shared list of tricky strings: emoji sequences, flags, scheme-less URLs, CJK, Thai, Hangul.
TRICKY = [FAMILY, FLAG, "🙋🏽", "example.com", "https://example.com/" + "a" * 300, "日本語", "ภาษาไทย",
          "한국어", "e\u0301", "plain text"]


def refusal(source: str, text: str, **kwargs) -> ReplyTooLong:
    with pytest.raises(ReplyTooLong) as caught:
        check_reply_length(source, text, key="T-7", **kwargs)
    return caught.value


@pytest.mark.parametrize("text", TRICKY)
def test_x_weighs_as_twitter_text_does(text):
    assert reply_length("x", text) == parse_tweet(text).weightedLength


@pytest.mark.parametrize(("text", "weight"), [
    ("This is a test.", 15),
    ("https://example.com/" + "a" * 300, 23),  # any URL weighs 23 whatever its length
    ("see example.com", 4 + 23),  # a domain without scheme is a URL too
    ("日本語", 6), ("한국어", 6),  # CJK and Hangul weigh 2
    (FAMILY, 2), (FLAG, 2), ("🙋🏽", 2),  # an emoji sequence weighs 2 once
])
def test_x_weights_follow_twitter_text_conformance(text, weight):
    assert reply_length("x", text) == weight


def test_x_public_reply_of_140_japanese_characters_fits_and_141_does_not():
    check_reply_length("x", "あ" * 140, key="T-7")
    error = refusal("x", "あ" * 141)
    assert (error.params["length"], error.params["limit"]) == (282, 280)


def test_x_long_url_in_a_full_reply_counts_23():
    check_reply_length("x", "a" * 256 + " https://example.com/" + "x" * 500, key="T-7")
    assert refusal("x", "a" * 257 + " https://example.com/" + "x" * 500).params["length"] == 281


def test_x_dm_takes_10000_characters():
    assert reply_limit("x", "dm") == 10_000
    check_reply_length("x", "a" * 10_000, key="T-7", kind="dm")
    assert refusal("x", "a" * 10_001, kind="dm").params["limit"] == 10_000


def test_bluesky_counts_graphemes_and_bytes():
    check_reply_length("bluesky", "a" * 300, key="T-7")
    assert refusal("bluesky", "a" * 301).params["length"] == 301
    assert reply_length("bluesky", FAMILY * 3 + "ที่" + "e\u0301" + FLAG) == 3 + 1 + 1 + 1
    # 300 family emoji are 300 graphemes but 7,500 bytes.
    error = refusal("bluesky", FAMILY * 300)
    assert (error.params["length"], error.params["limit"]) == (len(FAMILY.encode()) * 300, 3_000)
    assert "bytes" in error.message("en") and "バイト" in error.message("ja")


def test_mastodon_counts_the_mention_the_deliverer_adds():
    meta = {"acct": "alice@example.social"}
    check_reply_length("mastodon", "a" * 500, key="T-7")
    # "@alice " counts 7 (a remote mention by its local part) on top of the text.
    assert refusal("mastodon", "a" * 494, meta=meta).params["length"] == 501
    check_reply_length("mastodon", "a" * 493, key="T-7", meta=meta)
    check_reply_length("mastodon", "@alice@example.social " + "a" * 493, key="T-7", meta=meta)
    assert reply_length("mastodon", "https://example.com/" + "a" * 100) == 23


def test_instagram_dm_is_1000_bytes_and_comment_2200_characters():
    check_reply_length("instagram", "あ" * 333, key="T-7", kind="dm")
    error = refusal("instagram", "あ" * 334, kind="dm")
    assert (error.params["length"], error.params["limit"]) == (1002, 1000)
    check_reply_length("instagram", "あ" * 2_200, key="T-7", kind="comment")
    assert refusal("instagram", "あ" * 2_201, kind="comment").params["limit"] == 2_200


def test_messenger_facebook_comments_and_line():
    assert refusal("facebook", "a" * 2_001, kind="dm").params["limit"] == 2_000
    check_reply_length("facebook", "a" * 8_000, key="T-7", kind="comment")
    assert refusal("facebook", "a" * 8_001, kind="comment").params["limit"] == 8_000
    check_reply_length("line", "😀" * 2_500, key="T-7", kind="dm")
    assert refusal("line", "😀" * 2_501, kind="dm").params["length"] == 5_002


def test_refusal_names_ticket_network_limit_and_count_in_both_languages():
    error = refusal("x", "あ" * 141)
    for lang in ("en", "ja"):
        message = error.message(lang)
        assert all(part in message for part in ("T-7", "x", "280", "282")), message
    assert error.message("en") != error.message("ja")
