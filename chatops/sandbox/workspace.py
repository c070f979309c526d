"""The sandbox's Slack workspace: the Slack emulator's (channels, messages, threads, modals,
Home tabs, ephemeral messages, files) knowing only the sample people and the rules' channels,
plus what only the page shows: channel topics, the customer panel and the replay's progress.
Every change bumps `version`, and `wait()` lets the page long-poll for the next one."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from chatops.slack.emulator import Message, User, usergroup
from chatops.slack.emulator import Workspace as SlackWorkspace

__all__ = ["BOT_USER", "CustomerPost", "Message", "SandboxUser", "Workspace", "group_id", "group_names"]

BOT_USER = "USANDBOXBOT"
TEAM_ID = "T0SANDBOX"
# Entries the emulator's logs keep (calls, views shown, responses): the page never shows them.
LOG_KEPT = 200

# The user groups the bundled rules.yaml names, so notices in the sandbox mention groups as
# Slack would (`<!subteam^S…>`) instead of reporting them unresolved.
_GROUPS = {"cs-l1": "CS L1", "cs-l2": "CS L2", "cs-l3": "CS L3", "billing-team": "Billing",
           "sre-oncall": "SRE on call", "cs-managers": "CS managers", "security": "Security",
           "returns-lead": "Returns lead"}


def group_id(handle: str) -> str:
    """The sandbox's user group id for a rules.yaml group handle (`cs-l2` → `S0CSL2`)."""
    return f"S0{handle.replace('-', '').upper()}"


def group_names() -> dict[str, str]:
    """User group id → handle, for showing `<!subteam^S…>` as Slack does (`@cs-l2`)."""
    return {group_id(handle): handle for handle in _GROUPS}


@dataclass
class SandboxUser(User):
    """A sample person the page can act as."""

    role: str  # agent, lead, manager


@dataclass
class CustomerPost:
    """One line of the customer panel: what a customer wrote, or an agent's reply the network
    showed them."""

    id: int
    network: str
    account: str
    author: str
    text: str
    direction: str  # "in" (customer) or "out" (reply)
    ticket: str | None = None
    at: float = 0.0
    conversation_id: str | None = None


class Workspace(SlackWorkspace):
    """The emulated workspace the embedded Web API and the page share."""

    def __init__(self, *, token: str, channels: dict[str, dict], users: list[SandboxUser]) -> None:
        super().__init__(token=token, users=users, channels=channels, bot_user=BOT_USER, bot_id="BSANDBOX",
                         team_id=TEAM_ID, team="Sandbox", id_tag="SBX", keep=LOG_KEPT,
                         usergroups=[usergroup(group_id(handle), handle, name, team_id=TEAM_ID)
                                     for handle, name in _GROUPS.items()])
        self.channel_topics = dict(channels)  # "#name" → {lang: topic}
        self.customer: list[CustomerPost] = []
        self.replay: dict[str, Any] = {"running": False, "sent": 0, "total": 0, "started": False}
        self.replies_seen: set[str] = set()  # idempotency keys of replies the networks showed
        self.rendered: dict[tuple, str] = {}  # (channel, ts, edits, lang) → HTML, see state.py

    def add_customer_post(self, **fields: Any) -> CustomerPost:
        """Add a line to the customer panel."""
        post = CustomerPost(id=self.next_id(), at=time.time(), **fields)
        self.customer.append(post)
        return post
