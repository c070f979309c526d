"""The contract between the bot's transport (auth, the Bot Connector, invoke responses) and its
handlers: a `BotContext` for each incoming activity and an `Outcome` that the transport turns
into the Teams response (a refreshed card, a dialog, a message)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chatops.rules.schema import TeamsPerson
from chatops.teams.surface import TeamsSurface

# `Action.Execute` verbs on ticket and page cards; `data` carries {"ticket": "T-12", ...}.
CLAIM, RELEASE, RESOLVE, REOPEN, PRIORITY = "claim", "release", "resolve", "reopen", "priority"
ACK_PAGE, RESOLVE_PAGE = "page_ack", "page_resolve"
# Dialogs opened by `Action.Submit` with `msteams.type = task/fetch`; `data["dialog"]` names one.
REPLY_DIALOG, ESCALATE_DIALOG, CUSTOMER_DIALOG = "reply", "escalate", "customer"


@dataclass
class BotContext:
    """One incoming activity, with the sender resolved against rules.yaml `teams.people`."""

    surface: TeamsSurface
    activity: dict[str, Any]
    lang: str
    person: TeamsPerson | None

    @property
    def actor(self) -> str | None:
        """The sender's rules.yaml user id (what roles are granted to), None when unmapped."""
        return self.person.user if self.person is not None else None

    @property
    def aad_object_id(self) -> str | None:
        """The sender's Azure AD object id."""
        return (self.activity.get("from") or {}).get("aadObjectId")

    @property
    def service_url(self) -> str:
        """Where replies to this activity go."""
        return self.activity.get("serviceUrl", "")

    @property
    def conversation_id(self) -> str:
        """The conversation (channel thread, group or personal chat) the activity came from."""
        return (self.activity.get("conversation") or {}).get("id", "")


@dataclass
class Outcome:
    """What a handler did, for the transport to show.

    `ticket_key`: re-render this ticket's card for the viewer (the invoke response of an
    `Action.Execute`, and the in-place update for everyone else through the outbox).
    `text`: a message to show the person (a refusal, an error, a confirmation), `error` marks it.
    `card` and `title`: a dialog to show (task module `continue`); `close`: close the dialog.
    """

    ticket_key: str | None = None
    text: str | None = None
    error: bool = False
    card: dict[str, Any] | None = None
    title: str | None = None
    close: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
