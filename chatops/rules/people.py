"""Who is who in rules.yaml: roles and permissions, Teams identities, and customers known by name."""

from typing import Annotated

from pydantic import AfterValidator, model_validator

from chatops.rules.fields import SOURCES, NonEmpty, PriorityName, UserId
from chatops.rules.problems import RulesProblem
from chatops.rules.section import Section


class Roles(Section):
    """Who is an agent, a lead or a manager (user ids)."""

    agents: list[UserId] = []
    leads: list[UserId] = []
    managers: list[UserId] = []


DEFAULT_PERMISSIONS = {
    "claim": ["agents"],
    "reply": ["agents"],
    "escalate": ["agents"],
    "resolve": ["agents"],
    "reopen": ["agents"],
    "assign": ["leads"],
    "stats": ["leads"],
    "issue": ["agents"],
    "moderate": ["agents"],
    "block": ["leads"],
}

# Surface actions without an entry of their own in rules.yaml `permissions` borrow one.
BORROWED_PERMISSION = {"release": "claim", "pending": "claim", "tag": "claim", "priority": "claim", "note": "claim",
                       "flag": "claim", "tier": "assign", "link": "assign"}


class TeamsPerson(Section):
    """A person's Teams identity and the user id their roles are listed under."""

    user: UserId
    aad: NonEmpty | None = None  # Azure AD object id (`from.aadObjectId` of outgoing webhooks)
    upn: NonEmpty | None = None  # sign-in e-mail, typed on the action confirmation page
    name: NonEmpty | None = None

    @model_validator(mode="after")
    def _has_an_identity(self) -> "TeamsPerson":
        if not (self.aad or self.upn):
            raise RulesProblem("teams_identity")
        return self


class TeamsSection(Section):
    """Teams people mapped onto roles (the same user ids as in `roles`)."""

    people: list[TeamsPerson] = []

    @model_validator(mode="after")
    def _identities_unique(self) -> "TeamsSection":
        seen: set[str] = set()
        for person in self.people:
            for identity in filter(None, (person.aad, person.upn)):
                if identity.lower() in seen:
                    raise RulesProblem("teams_identity_twice", value=identity)
                seen.add(identity.lower())
        return self

    def person(self, *, aad: str | None = None, upn: str | None = None) -> TeamsPerson | None:
        """The configured person with this AAD object id or sign-in e-mail (case-insensitive)."""
        for person in self.people:
            if (aad and person.aad and person.aad.lower() == aad.lower()) or (
                    upn and person.upn and person.upn.lower() == upn.strip().lower()):
                return person
        return None


def _check_customer_ref(value: str) -> str:
    source, sep, who = value.partition(":")
    if not sep or not who or source not in SOURCES:
        raise RulesProblem("customer_ref", sources=", ".join(SOURCES), value=value)
    return value


class CustomersConfig(Section):
    """Customers known by name: `premium` lists "source:@handle" or "source:user-id" entries that
    ingest makes premium; a vip's new ticket opens at least at `vip_priority`."""

    premium: list[Annotated[str, AfterValidator(_check_customer_ref)]] = []
    vip_priority: PriorityName | None = None

    def is_premium(self, source: str, user_id: str, handle: str | None) -> bool:
        """Whether this author is listed under `premium` (by user id or by handle)."""
        return f"{source}:{user_id}" in self.premium or (handle is not None and f"{source}:{handle}" in self.premium)
