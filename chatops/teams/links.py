"""Signed, expiring action links for Teams cards.

Cards posted through Teams webhooks cannot use `Action.Submit` (PLATFORMS.md), so a card's
buttons are `Action.OpenUrl` links to our server. Each link carries the ticket, the action and
the time it was signed, HMAC-signed with `TEAMS_LINK_SECRET` (itsdangerous); a link whose
signature does not match (forged or altered) or that is older than `TEAMS_LINK_TTL` is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from chatops.db import utcnow

# What a card button may ask for; the confirmation page runs the matching flow.
LINK_ACTIONS = ("claim", "resolve", "reopen")
LINK_PATH = "/teams/act"
_SALT = "chatops.teams.action-link"


@dataclass(frozen=True)
class LinkClaim:
    """What a verified link asks: `action` on ticket `T-<ticket_id>`, signed at `signed_at`."""

    ticket_id: int
    action: str
    signed_at: datetime

    @property
    def key(self) -> str:
        """The ticket key, e.g. T-12."""
        return f"T-{self.ticket_id}"


class LinkRefused(Exception):
    """A link that must change nothing; `reason` is `forged` or `expired` (an i18n key part)."""

    def __init__(self, reason: str, **params: object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.params = params


class ActionLinks:
    """Makes and checks action links; `clock` lets tests sign links in the past."""

    def __init__(self, secret: str, public_url: str, *, ttl_seconds: int,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.public_url = public_url.rstrip("/")
        self.ttl = ttl_seconds
        self.clock = clock
        outer = self

        class _ClockSigner(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(outer.clock().timestamp())

        self._serializer = URLSafeTimedSerializer(secret, salt=_SALT, signer=_ClockSigner,
                                                  signer_kwargs={"digest_method": hashlib.sha256})

    def token(self, ticket_id: int, action: str) -> str:
        """The signed token for `action` on the ticket."""
        if action not in LINK_ACTIONS:
            raise ValueError(f"unknown link action {action!r}")
        return self._serializer.dumps({"t": ticket_id, "a": action})

    def url(self, ticket_id: int, action: str) -> str:
        """The full link a card button opens."""
        return f"{self.public_url}{LINK_PATH}?{urlencode({'token': self.token(ticket_id, action)})}"

    def verify(self, token: str | None) -> LinkClaim:
        """The claim of a genuine, unexpired token; LinkRefused otherwise."""
        if not token:
            raise LinkRefused("forged")
        try:
            data, signed = self._serializer.loads(token, max_age=self.ttl, return_timestamp=True)
        except SignatureExpired as exc:
            signed = exc.date_signed or self.clock()
            raise LinkRefused("expired", signed=signed.astimezone(UTC)) from None
        except BadSignature:
            raise LinkRefused("forged") from None
        if not isinstance(data, dict) or data.get("a") not in LINK_ACTIONS or not isinstance(data.get("t"), int):
            raise LinkRefused("forged")
        return LinkClaim(ticket_id=data["t"], action=data["a"], signed_at=signed)

