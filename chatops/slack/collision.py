"""The Reply modal's collision guard: other agents' replies to a ticket's customer, recent ones
for the modal to show and those recorded after it opened (which stop a submit until confirmed)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, true
from sqlalchemy.orm import Session

from chatops.slack.blocks.modals import RecentReplies, RecentReply
from chatops.tickets.models import Message

WINDOW = timedelta(minutes=15)  # how far back the modal looks for other agents' replies
SHOWN = 50


def _others(ticket_id: int, actor: str):
    """Outbound messages of the ticket by other people: queued or sent, not failed, not automatic."""
    return (select(Message)
            .where(Message.ticket_id == ticket_id, Message.direction == "outbound", Message.author_id != actor,
                   Message.author_id.not_like("chatops:%"),
                   or_(Message.delivery_state.is_(None), Message.delivery_state != "failed"))
            .order_by(Message.id.desc()).limit(SHOWN))


def _reply(message: Message) -> RecentReply:
    return RecentReply(author_id=message.author_id or "", text=message.text, at=message.created_at,
                       sending=message.delivery_state == "queued")


def recent_replies(session: Session, ticket_id: int, *, actor: str, now: datetime) -> RecentReplies:
    """What a Reply modal opened by `actor` at `now` shows and remembers."""
    last_id = session.scalar(select(func.max(Message.id)).where(Message.ticket_id == ticket_id,
                                                                Message.direction == "outbound"))
    rows = session.scalars(_others(ticket_id, actor).where(Message.created_at >= now - WINDOW))
    return RecentReplies(opened_at=now, last_id=last_id, replies=tuple(_reply(row) for row in rows))


def replies_since(session: Session, ticket_id: int, *, actor: str, opened: RecentReplies) -> list[RecentReply]:
    """Other agents' replies recorded after the modal opened: a newer id than the newest one it
    saw, or (for a row committed late under an older id) a later time."""
    after = Message.created_at > opened.opened_at
    newer = true() if opened.last_id is None else Message.id > opened.last_id  # None: there was none
    return [_reply(row) for row in session.scalars(_others(ticket_id, actor).where(or_(newer, after)))]
