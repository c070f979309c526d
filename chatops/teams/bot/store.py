"""What the bot remembers between activities: conversation references (where it may post
proactively, and the Bot Connector serviceUrl for them), its ticket threads, and the Teams ids
(`29:…`) of rules.yaml people, which a card's `refresh.userIds` lists."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from chatops.rules import Rules
from chatops.tickets.models import BotConversation, BotThread, IntegrationState

MEMBER_PREFIX = "teams_bot:member:"


def remember_conversation(session: Session, activity: dict[str, Any], now: datetime) -> BotConversation | None:
    """Store (or refresh) the reference of the conversation an activity came from; an
    `installationUpdate` that removes the app forgets it instead."""
    conversation = activity.get("conversation") or {}
    conversation_id, service_url = conversation.get("id"), activity.get("serviceUrl")
    if not conversation_id or not service_url:
        return None
    if activity.get("type") == "installationUpdate" and str(activity.get("action", "")).startswith("remove"):
        session.execute(delete(BotConversation).where(BotConversation.id == conversation_id))
        return None
    data = activity.get("channelData") or {}
    kind = conversation.get("conversationType") or ("channel" if data.get("team") else "personal")
    sender = activity.get("from") or {}
    row = BotConversation(
        id=conversation_id, kind=kind, service_url=service_url,
        tenant_id=(data.get("tenant") or {}).get("id") or conversation.get("tenantId"),
        team_id=(data.get("team") or {}).get("id"),
        channel_id=(data.get("channel") or {}).get("id") or (conversation_id.split(";")[0] if kind == "channel" else None),
        user_aad=(sender.get("aadObjectId") or "").lower() or None if kind == "personal" else None,
        user_id=sender.get("id") if kind == "personal" else None, updated_at=now)
    return session.merge(row)


def channel_reference(session: Session, channel_id: str) -> BotConversation | None:
    """Where to post into a team channel: its own reference, else the newest of any team the bot
    is in (the serviceUrl is the tenant's; a channel of a team without the bot is refused by
    Teams, which the delivery then says)."""
    own = session.scalar(select(BotConversation).where(
        (BotConversation.channel_id == channel_id) | (BotConversation.id == channel_id))
        .order_by(BotConversation.updated_at.desc()).limit(1))
    return own or any_reference(session, kind="channel")


def any_reference(session: Session, kind: str | None = None) -> BotConversation | None:
    """The newest stored reference (of `kind`), for its serviceUrl and tenant."""
    stmt = select(BotConversation).order_by(BotConversation.updated_at.desc()).limit(1)
    if kind is not None:
        stmt = stmt.where(BotConversation.kind == kind)
    return session.scalar(stmt)


def personal_reference(session: Session, aad: str) -> BotConversation | None:
    """A person's chat with the bot, if it is known."""
    return session.scalar(select(BotConversation).where(
        BotConversation.kind == "personal", BotConversation.user_aad == aad.lower())
        .order_by(BotConversation.updated_at.desc()).limit(1))


def thread_of(session: Session, ticket_id: int) -> BotThread | None:
    """Where the bot posted the ticket's card, once it did."""
    return session.get(BotThread, ticket_id)


def remember_member(session: Session, rules: Rules, activity: dict[str, Any], now: datetime) -> None:
    """Keep the Teams id of a rules.yaml person who acted, so cards can list them for refresh."""
    sender = activity.get("from") or {}
    aad, member = sender.get("aadObjectId"), sender.get("id")
    if not aad or not member or rules.teams.person(aad=aad) is None:
        return
    name = f"{MEMBER_PREFIX}{aad.lower()}"
    row = session.get(IntegrationState, name)
    if row is None:
        session.add(IntegrationState(name=name, value={"id": member}, updated_at=now))
    elif (row.value or {}).get("id") != member:
        row.value, row.updated_at = {"id": member}, now


def refresh_ids(session: Session, rules: Rules) -> list[str]:
    """Teams ids of the rules.yaml people known to the bot (from their activities or chats)."""
    aads = [person.aad.lower() for person in rules.teams.people if person.aad]
    if not aads:
        return []
    ids = [row.value.get("id") for row in session.scalars(select(IntegrationState).where(
        IntegrationState.name.in_([f"{MEMBER_PREFIX}{aad}" for aad in aads])).order_by(IntegrationState.name))]
    ids += list(session.scalars(select(BotConversation.user_id).where(
        BotConversation.kind == "personal", BotConversation.user_aad.in_(aads), BotConversation.user_id.is_not(None))
        .order_by(BotConversation.user_id)))
    return [member for member in dict.fromkeys(ids) if member]
