"""The Reply modal's collision guard (chatops.tickets.collision) in the modal's terms: the state
it carries in private_metadata, and the replies recorded since it opened."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from chatops.slack.blocks.modals import RecentReplies, RecentReply
from chatops.tickets import collision


def recent_replies(session: Session, ticket_id: int, *, actor: str, now: datetime) -> RecentReplies:
    """What a Reply modal opened by `actor` at `now` shows and remembers."""
    last_id, replies = collision.opened(session, ticket_id, actor=actor, now=now)
    return RecentReplies(opened_at=now, last_id=last_id, replies=replies)


def replies_since(session: Session, ticket_id: int, *, actor: str, opened: RecentReplies) -> list[RecentReply]:
    """Other agents' replies recorded after the modal opened."""
    return collision.since(session, ticket_id, actor=actor, opened_at=opened.opened_at, last_id=opened.last_id)
