"""How long a reply may be on each network, counted the way each network counts.

X weighs characters (most CJK and emoji count 2, a URL counts 23: twitter-text's rules), Bluesky
counts graphemes (300), Mastodon counts characters (500 by default, an instance setting).
"""

from __future__ import annotations

import re
import unicodedata

from chatops.errors import ReplyTooLong

LIMITS = {"x": 280, "bluesky": 300, "mastodon": 500, "instagram": 2200, "line": 5000, "facebook": 8000}
_URL = re.compile(r"https?://\S+")
# twitter-text v3: these code point ranges weigh 1, everything else 2.
_LIGHT = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_ZWJ, _VS = "\u200d", ("\ufe0e", "\ufe0f")


def reply_limit(source: str) -> int | None:
    """The longest reply the network takes, or None when it sets no practical limit."""
    return LIMITS.get(source)


def _x_weight(text: str) -> int:
    urls = _URL.findall(text)
    rest = _URL.sub("", text)
    weight = sum(1 if any(low <= ord(ch) <= high for low, high in _LIGHT) else 2 for ch in rest)
    return weight + 23 * len(urls)


def _graphemes(text: str) -> int:
    """User-perceived characters: combining marks, variation selectors and ZWJ joins don't count."""
    count, joined = 0, False
    for ch in text:
        if unicodedata.combining(ch) or ch in _VS or "\U0001f3fb" <= ch <= "\U0001f3ff":
            continue
        if ch == _ZWJ:
            joined = True
            continue
        if not joined:
            count += 1
        joined = False
    return count


def reply_length(source: str, text: str) -> int:
    """The length of `text` as `source` counts it against its limit."""
    if source == "x":
        return _x_weight(text)
    if source == "bluesky":
        return _graphemes(text)
    return len(text)


def check_reply_length(source: str, text: str, *, key: str = "") -> None:
    """Raise ReplyTooLong when `text` is over the network's limit."""
    limit = reply_limit(source)
    if limit is not None:
        length = reply_length(source, text)
        if length > limit:
            raise ReplyTooLong(key=key, network=source, length=length, limit=limit)
