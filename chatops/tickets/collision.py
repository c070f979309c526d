"""The guard against two answers, shared by every reply box (the Slack Reply modal, the Teams
Reply dialog): other agents' replies to a ticket's customer — the recent ones a box shows when it
opens, and those recorded after it opened, which stop a send until the agent confirms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, true
from sqlalchemy.orm import Session

from chatops.tickets.models import Message

WINDOW = timedelta(minutes=15)  # how far back a reply box looks for other agents' replies
SHOWN = 50


@dataclass(frozen=True)
class RecentReply:
    """Another agent's outbound message to the ticket's customer (`sending` while still queued)."""

    author_id: str
    text: str
    at: datetime
    sending: bool = False


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


def opened(session: Session, ticket_id: int, *, actor: str, now: datetime) -> tuple[int | None, tuple[RecentReply, ...]]:
    """What a reply box opened by `actor` at `now` remembers and shows: the newest outbound message
    id of the ticket (None when there is none) and other agents' replies of the last WINDOW."""
    last_id = session.scalar(select(func.max(Message.id)).where(Message.ticket_id == ticket_id,
                                                                Message.direction == "outbound"))
    rows = session.scalars(_others(ticket_id, actor).where(Message.created_at >= now - WINDOW))
    return last_id, tuple(_reply(row) for row in rows)


def since(session: Session, ticket_id: int, *, actor: str, opened_at: datetime,
          last_id: int | None) -> list[RecentReply]:
    """Other agents' replies recorded after the box opened: a newer id than the newest one it saw,
    or (for a row committed late under an older id) a later time."""
    newer = true() if last_id is None else Message.id > last_id  # None: there was none
    return [_reply(row) for row in session.scalars(_others(ticket_id, actor).where(
        or_(newer, Message.created_at > opened_at)))]
