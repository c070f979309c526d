"""CSAT: asking a customer to rate a resolved ticket, and recording the rating they send back.

A rating is a reply of `1`–`5` (full-width digits and ★ counts too), 👍 (counted as 5) or
👎 (counted as 1). It is stored on the ticket (`csat_score`, `csat_rated_at`) with a
`csat_rated` event; it never reopens the ticket or opens a new one.
"""

from __future__ import annotations

import unicodedata

_THUMBS = {"👍": 5, "👍🏻": 5, "👍🏼": 5, "👍🏽": 5, "👍🏾": 5, "👍🏿": 5, "👎": 1, "👎🏻": 1, "👎🏼": 1,
           "👎🏽": 1, "👎🏾": 1, "👎🏿": 1}


def parse_rating(text: str) -> int | None:
    """1–5 from a customer's reply, or None when the reply is not a rating."""
    clean = unicodedata.normalize("NFKC", text or "").strip().rstrip("!.。！")
    if clean in _THUMBS:
        return _THUMBS[clean]
    if clean.isdigit() and 1 <= int(clean) <= 5:
        return int(clean)
    stars = clean.replace(" ", "")
    if stars and set(stars) == {"★"} and len(stars) <= 5:
        return len(stars)
    return None
