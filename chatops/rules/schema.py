"""The shape of rules.yaml as pydantic models: the whole file (`Rules`) over one model per section.

The sections live by responsibility: priorities, levels, channels and canned replies in
`taxonomy.py`, keyword rules and routing in `triage_rules.py`, SLA policies and business hours
in `sla_config.py`, roles, Teams people and customers in `people.py`, and `oncall.py`,
`flood.py`, `stats_config.py`; this module re-exports them so `from chatops.rules.schema import X`
names any of them. Field-level checks live in `fields.py`; checks that need two sections at once
(a channel named in a rule must exist, ids must be unique, every priority needs an SLA) are in
`checks.py` and run by the loader once the shape is valid.
"""

from collections.abc import Callable

from pydantic import Field, field_validator

from chatops.errors import PermissionDenied
from chatops.i18n import t
from chatops.rules.assignment import ChannelAssignment
from chatops.rules.fields import (
    ACTIONS,
    LEVELS,
    PRIORITIES,
    Action,
    ChannelName,
    Keyword,
    LevelName,
    PriorityName,
    RoleName,
    Source,
)
from chatops.rules.flood import FloodConfig
from chatops.rules.moderation import ModerationConfig
from chatops.rules.oncall import OnCall
from chatops.rules.people import (
    BORROWED_PERMISSION,
    DEFAULT_PERMISSIONS,
    CustomersConfig,
    Roles,
    TeamsPerson,
    TeamsSection,
)
from chatops.rules.retention import RetentionConfig
from chatops.rules.section import Localized, Section
from chatops.rules.sla_config import BusinessHours, SlaConfig, SlaPolicy
from chatops.rules.stats_config import StatsConfig
from chatops.rules.taxonomy import (
    CannedReply,
    ChannelDef,
    LevelDef,
    PriorityDef,
    Threading,
    default_levels,
    default_priorities,
    ranked_in_order,
)
from chatops.rules.triage_rules import Defaults, Example, KeywordRule, Lemma, Route, RuleActions

__all__ = [
    "BORROWED_PERMISSION",
    "DEFAULT_PERMISSIONS",
    "BusinessHours",
    "CannedReply",
    "ChannelAssignment",
    "ChannelDef",
    "CustomersConfig",
    "Defaults",
    "Example",
    "FloodConfig",
    "KeywordRule",
    "Lemma",
    "LevelDef",
    "Localized",
    "OnCall",
    "PriorityDef",
    "Roles",
    "Route",
    "RuleActions",
    "Rules",
    "Section",
    "SlaConfig",
    "SlaPolicy",
    "StatsConfig",
    "TeamsPerson",
    "TeamsSection",
    "Threading",
    "RetentionConfig",
]


class Rules(Section):
    """The whole rules.yaml. Build it with load_rules() so cross-section checks run too."""

    priorities: dict[PriorityName, PriorityDef] = Field(default_factory=default_priorities)
    levels: dict[LevelName, LevelDef] = Field(default_factory=default_levels)
    channels: dict[ChannelName, ChannelDef]
    defaults: Defaults
    keyword_rules: list[KeywordRule] = []
    routing: list[Route] = []
    sla: SlaConfig
    business_hours: BusinessHours = BusinessHours()
    threading: Threading = Threading()
    canned_replies: list[CannedReply] = []
    roles: Roles = Roles()
    permissions: dict[Action, list[RoleName]] = Field(default_factory=lambda: dict(DEFAULT_PERMISSIONS))
    keywords: dict[Source, list[Keyword]] = {}
    teams: TeamsSection = TeamsSection()
    stats: StatsConfig = StatsConfig()
    oncall: OnCall = OnCall()
    flood: FloodConfig = FloodConfig(enabled=False)  # absent: no flood detection
    customers: CustomersConfig = CustomersConfig()
    retention: RetentionConfig = RetentionConfig()  # absent: customer text is kept
    assignment: dict[ChannelName, ChannelAssignment] = {}
    moderation: ModerationConfig = ModerationConfig()  # absent: nothing is screened

    @field_validator("priorities")
    @classmethod
    def _all_priorities(cls, priorities: dict[str, PriorityDef]) -> dict[str, PriorityDef]:
        return ranked_in_order(priorities, PRIORITIES, "priorities", descending=True)

    @field_validator("levels")
    @classmethod
    def _all_levels(cls, levels: dict[str, LevelDef]) -> dict[str, LevelDef]:
        return ranked_in_order(levels, LEVELS, "levels", descending=False)

    @field_validator("permissions")
    @classmethod
    def _complete_permissions(cls, permissions: dict[str, list[str]]) -> dict[str, list[str]]:
        return {action: permissions.get(action, DEFAULT_PERMISSIONS[action]) for action in ACTIONS}

    def roles_of(self, user_id: str, in_group: Callable[[str], bool] | None = None) -> set[str]:
        """Return the roles of user_id; managers are also leads, and leads are also agents.
        `in_group(handle)` tells whether the user is in a `@group` listed under a role."""
        def listed(entries: list[str]) -> bool:
            return user_id in entries or (in_group is not None and any(
                entry.startswith("@") and in_group(entry) for entry in entries))

        roles = set()
        if listed(self.roles.managers):
            roles |= {"managers", "leads", "agents"}
        if listed(self.roles.leads):
            roles |= {"leads", "agents"}
        if listed(self.roles.agents):
            roles.add("agents")
        return roles

    def may(self, user_id: str, action: str, in_group: Callable[[str], bool] | None = None) -> bool:
        """Tell whether user_id may perform action (one of ACTIONS, or a surface action that
        borrows one, like `release`); managers may do everything."""
        allowed = self.permissions[BORROWED_PERMISSION.get(action, action)]
        roles = self.roles_of(user_id, in_group)
        return "managers" in roles or "everyone" in allowed or not roles.isdisjoint(allowed)

    def refusal(self, action: str, lang: str) -> str:
        """'You need the X role to …' for `action`, in `lang` (every surface says it alike)."""
        roles = [t(f"role.{role}", lang) for role in self.permissions[BORROWED_PERMISSION.get(action, action)]]
        return PermissionDenied(roles=" / ".join(roles), action=t(f"verb.{action}", lang)).message(lang)
