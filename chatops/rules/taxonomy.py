"""What a ticket can be: priorities, levels, team channels, canned replies and threading."""

from typing import Literal

from pydantic import Field

from chatops.rules.fields import (
    HexColor,
    Identifier,
    NonEmpty,
    Recipient,
    SlackChannel,
    TeamsChannelId,
    WebhookUrl,
)
from chatops.rules.problems import RulesProblem
from chatops.rules.section import Localized, Section


class PriorityDef(Section):
    """How a priority looks and how urgent it is (higher rank = more urgent)."""

    rank: int
    color: HexColor
    emoji: NonEmpty
    label: Localized


class LevelDef(Section):
    """A support level and who owns it (notified on escalation)."""

    rank: int
    name: Localized
    owners: list[Recipient] = []
    # Gets the SLA breach notice (a group is mentioned in the thread; DMs go to people), else the
    # owners who are people, else roles.leads.
    lead: Recipient | None = None


class ChannelDef(Section):
    """Where a team channel lives in Slack and, optionally, in Teams."""

    slack: SlackChannel
    teams_webhook: WebhookUrl | None = None
    # workflows: Adaptive Cards to a Workflows webhook; messagecard: a legacy connector (pymsteams)
    teams_format: Literal["workflows", "messagecard"] = "workflows"
    description: Localized | None = None
    # The Teams bot posts the channel's ticket cards into this Teams channel as threads.
    teams_channel: TeamsChannelId | None = None


class CannedReply(Section):
    """A ready-made answer agents can send (and edit) from the ticket thread."""

    id: Identifier
    title: Localized
    text: Localized


class Threading(Section):
    """When a new message from the same customer continues an existing ticket."""

    window_minutes: int = Field(1440, ge=1, le=60 * 24 * 30)
    # A resolved ticket takes the customer's next message only this many days after it was
    # resolved; later, the message opens a new ticket that links back (0: always a new ticket).
    reopen_days: int = Field(7, ge=0, le=3650)


def default_priorities() -> dict[str, PriorityDef]:
    """Built-in priority look when rules.yaml has no `priorities:` section."""
    looks = {
        "red": (3, "#d50000", ":red_circle:", "大至急", "Urgent"),
        "orange": (2, "#ff9100", ":large_orange_circle:", "至急", "High"),
        "green": (1, "#00c853", ":large_green_circle:", "通常", "Normal"),
    }
    return {
        name: PriorityDef(rank=rank, color=color, emoji=emoji, label=Localized(ja=ja, en=en))
        for name, (rank, color, emoji, ja, en) in looks.items()
    }


def default_levels() -> dict[str, LevelDef]:
    """Built-in levels when rules.yaml has no `levels:` section."""
    names = {
        "L1": ("FAQ・ナレッジ", "FAQ / knowledge base"),
        "L2": ("専門・個別対応", "Expertise / personal answer"),
        "L3": ("緊急・金銭", "Urgent / money"),
    }
    return {
        level: LevelDef(rank=rank, name=Localized(ja=ja, en=en))
        for rank, (level, (ja, en)) in enumerate(names.items(), start=1)
    }


def ranked_in_order(defs: dict, names: tuple[str, ...], what: str, descending: bool) -> dict:
    """Check defs has exactly names, their ranks strictly going down (or up) in that order."""
    missing = [name for name in names if name not in defs]
    if missing:
        raise RulesProblem("missing_names", what=what, missing=", ".join(missing), names=", ".join(names))
    ranks = [defs[name].rank for name in names]
    if ranks != sorted(set(ranks), reverse=descending):
        direction = "down" if descending else "up"
        raise RulesProblem(f"ranks_{direction}", names=", ".join(names), ranks=ranks)
    return defs
