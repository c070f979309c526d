"""How long a reply may be on each network and kind of reply, counted the way each network counts.

A reply answers the customer's last message, so its kind follows that message's: a DM is
answered by a DM, a comment by a comment, anything else (mention, reply, keyword) publicly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import regex
from twitter_text import parse_tweet

from chatops.errors import ReplyTooLong


@dataclass(frozen=True)
class Limit:
    """One rule: at most `most` of `unit` (characters, weighted, graphemes, bytes, utf16)."""

    most: int
    unit: str


# Sources: twitter-text v3 config and X's DM docs; Bluesky's app.bsky.feed.post and
# chat.bsky.convo lexicons; Mastodon's default instance setting; Meta's Graph API comment,
# Instagram messaging and Send API docs; LINE's text message object.
_RULES: dict[tuple[str, str], tuple[Limit, ...]] = {
    ("x", "public"): (Limit(280, "weighted"),),
    ("x", "dm"): (Limit(10_000, "characters"),),
    ("bluesky", "public"): (Limit(300, "graphemes"), Limit(3_000, "bytes")),
    ("bluesky", "dm"): (Limit(1_000, "graphemes"), Limit(10_000, "bytes")),
    ("mastodon", "public"): (Limit(500, "mastodon"),),
    ("instagram", "public"): (Limit(2_200, "characters"),),
    ("instagram", "dm"): (Limit(1_000, "bytes"),),
    ("facebook", "public"): (Limit(8_000, "characters"),),
    ("facebook", "dm"): (Limit(2_000, "characters"),),
    # LINE counts a text message in UTF-16 code units, so an emoji outside the BMP takes two.
    ("line", "public"): (Limit(5_000, "utf16"),),
}
# Mastodon counts any URL as 23 and a remote mention by its local part only.
_MASTODON_URL = re.compile(r"https?://\S+")
_MASTODON_MENTION = re.compile(r"(@[\w.]+)@[\w.-]+\w")


def reply_kind(kind: str | None) -> str:
    """The kind of reply that answers a message of `kind`: dm, or public (comments included)."""
    return "dm" if kind == "dm" else "public"


def _rules(source: str, kind: str | None) -> tuple[Limit, ...]:
    return _RULES.get((source, reply_kind(kind))) or _RULES.get((source, "public"), ())


def reply_limit(source: str, kind: str | None = None) -> int | None:
    """The most a reply may hold on `source` answering a message of `kind` (the first rule's
    figure, which is what the reply box shows), or None when the network sets no limit."""
    rules = _rules(source, kind)
    return rules[0].most if rules else None


def mention_prefix(source: str, meta: dict | None) -> str:
    """What the deliverer puts before the text (Mastodon mentions the customer first)."""
    acct = (meta or {}).get("acct")
    return f"@{acct} " if source == "mastodon" and acct else ""


def sent_text(source: str, text: str, meta: dict | None = None) -> str:
    """The text as the network receives it, the deliverer's prefix included."""
    prefix = mention_prefix(source, meta)
    return text if not prefix or prefix.strip() in text else prefix + text


def measure(unit: str, text: str) -> int:
    """The length of `text` in `unit`."""
    if unit == "weighted":
        return parse_tweet(text).weightedLength
    if unit == "graphemes":
        return len(regex.findall(r"\X", text))
    if unit == "bytes":
        return len(text.encode("utf-8"))
    if unit == "utf16":
        return len(text.encode("utf-16-le")) // 2
    if unit == "mastodon":
        return len(_MASTODON_MENTION.sub(r"\1", _MASTODON_URL.sub("x" * 23, text)))
    return len(text)


def reply_length(source: str, text: str, kind: str | None = None, meta: dict | None = None) -> int:
    """The length of `text` as `source` counts it against the first rule (the reply box's count)."""
    rules = _rules(source, kind)
    return measure(rules[0].unit, sent_text(source, text, meta)) if rules else len(text)


def over_limit(source: str, text: str, kind: str | None = None, meta: dict | None = None) -> tuple[Limit, int] | None:
    """The first rule `text` breaks on `source` and its count there, or None when it fits."""
    sent = sent_text(source, text, meta)
    for rule in _rules(source, kind):
        count = measure(rule.unit, sent)
        if count > rule.most:
            return rule, count
    return None


def check_reply_length(source: str, text: str, *, key: str = "", kind: str | None = None,
                       meta: dict | None = None) -> None:
    """Raise ReplyTooLong naming the ticket, network, limit and count when `text` is too long."""
    broken = over_limit(source, text, kind, meta)
    if broken is not None:
        rule, count = broken
        raise ReplyTooLong(key=key, network=source, length=count, limit=rule.most, unit=rule.unit)


def reply_warning(source: str, answers_kind: str | None) -> str | None:
    """What an agent should know before writing a reply the network may refuse, as a key
    (`x_not_mentioned`: X's self-serve API tiers refuse replies to posts that did not mention or
    quote the brand, which is what a keyword match is); None when there is nothing to say."""
    if source == "x" and answers_kind == "keyword":
        return "x_not_mentioned"
    return None


def reply_rule(source: str, kind: str | None = None) -> Limit | None:
    """The first rule a reply on `source` answering a message of `kind` is held to (its figure
    and unit, what a reply box shows and counts), or None when the network sets no limit."""
    rules = _rules(source, kind)
    return rules[0] if rules else None
