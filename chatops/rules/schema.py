"""The shape of rules.yaml as pydantic models: one model per section, unknown fields rejected.

Field-level checks live in `fields.py`; checks that need two sections at once (a channel
named in a rule must exist, ids must be unique, every priority needs an SLA) are in
`checks.py` and run by the loader once the shape is valid.
"""

from collections.abc import Callable
from datetime import date, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from chatops.errors import PermissionDenied
from chatops.i18n import t
from chatops.rules.fields import (
    ACTIONS,
    DAYS,
    LEVELS,
    PRIORITIES,
    SOURCES,
    Action,
    Calendar,
    ChannelName,
    Country,
    Day,
    Duration,
    HexColor,
    Identifier,
    Keyword,
    Kind,
    Language,
    LevelName,
    NonEmpty,
    PriorityName,
    Recipient,
    Regex,
    RoleName,
    SlackChannel,
    Source,
    Tag,
    Tier,
    TimeRange,
    Timezone,
    UserId,
    WebhookUrl,
    expand_dates,
    minutes_of_range,
)
from chatops.rules.flood import FloodConfig
from chatops.rules.oncall import OnCall
from chatops.rules.problems import RulesProblem
from chatops.rules.stats_config import StatsConfig


class Section(BaseModel):
    """Base of every rules.yaml model: unknown keys are errors, loaded values are read-only."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Localized(Section):
    """A text in Japanese and English."""

    ja: NonEmpty
    en: NonEmpty

    def get(self, language: str) -> str:
        """Return the text in language ('ja' or 'en'), English for anything else."""
        return self.ja if language == "ja" else self.en


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


class Defaults(Section):
    """What a message gets when no rule says otherwise."""

    priority: PriorityName = "green"
    level: LevelName = "L1"
    channel: ChannelName
    language: Language = "ja"
    # The examples classifier decides only at this probability or above (a rule may ask more).
    examples_min_score: float = Field(0.45, ge=0.0, le=1.0)


def _check_lemma(value: str) -> str:
    """A lemma term: a dictionary form, optionally prefixed with `not:` for its negated forms."""
    body = value.strip().removeprefix("not:").strip()
    if not body:
        raise RulesProblem("empty_lemma")
    if any(char.isspace() for char in body) and not body.isascii():
        raise RulesProblem("lemma_spaces", value=value)
    if body.endswith(("ない", "ません", "なかった")):
        raise RulesProblem("lemma_negated", value=value)
    return value


def _check_example(value: str) -> str:
    """An example post: some real text."""
    if len(value.strip()) < 2:
        raise RulesProblem("short_example", value=value)
    return value


Lemma = Annotated[str, AfterValidator(_check_lemma)]
Example = Annotated[str, AfterValidator(_check_example)]


class RuleActions(Section):
    """What a matching keyword rule sets on the ticket (the `set:` block)."""

    priority: PriorityName | None = None
    level: LevelName | None = None
    tags: list[Tag] = []
    channel: ChannelName | None = None
    notify: list[Recipient] = []


class KeywordRule(Section):
    """One triage rule: keyword/regex conditions, optional filters, and what it sets."""

    id: Identifier
    description: Localized | None = None
    any_of: list[Keyword] = Field([], alias="any")
    all_of: list[Keyword] = Field([], alias="all")
    regex: list[Regex] = []
    exclude: list[Keyword] = []
    sources: list[Source] = []
    kinds: list[Kind] = []
    kana: bool = False
    # Dictionary forms matched after morphological analysis (not:届く = 届かない, 届いていない).
    lemmas: list[Lemma] = []
    # Posts the team writes; the examples classifier learns the rule from them.
    examples: list[Example] = []
    examples_min_score: float | None = Field(None, ge=0.0, le=1.0)
    actions: RuleActions = Field(RuleActions(), alias="set")

    @model_validator(mode="after")
    def _has_a_condition(self) -> "KeywordRule":
        if not (self.any_of or self.all_of or self.regex or self.lemmas or self.examples):
            raise RulesProblem("no_condition")
        if self.examples and len(self.examples) < 3:
            raise RulesProblem("few_examples")
        if len(set(self.examples)) != len(self.examples):
            raise RulesProblem("repeated_example")
        return self


class Route(Section):
    """A routing entry: the first one whose conditions all hold picks the channel."""

    description: Localized | None = None
    sources: list[Source] = []
    kinds: list[Kind] = []
    priorities: list[PriorityName] = []
    tags: list[Tag] = []  # the ticket has at least one of these
    channel: ChannelName

    def matches(self, source: str, kind: str, priority: str, tags: list[str]) -> bool:
        """Tell whether a message with these attributes takes this route."""
        return (
            (not self.sources or source in self.sources)
            and (not self.kinds or kind in self.kinds)
            and (not self.priorities or priority in self.priorities)
            and (not self.tags or not set(self.tags).isdisjoint(tags))
        )


class SlaPolicy(Section):
    """Response and resolution targets for one priority and customer tier."""

    priority: PriorityName
    tier: Tier = "*"
    first_response: Duration
    # How soon a customer writing again on an answered ticket gets the next answer; None = first_response.
    next_response: Duration | None = None
    resolution: Duration
    calendar: Calendar = "business"

    @model_validator(mode="after")
    def _response_before_resolution(self) -> "SlaPolicy":
        if self.first_response > self.resolution:
            raise RulesProblem("response_after_resolution")
        if self.next_response is not None and self.next_response > self.resolution:
            raise RulesProblem("next_after_resolution")
        return self


class SlaConfig(Section):
    """SLA policies and when to warn (fraction of the allowed time already used)."""

    warn_at: float = Field(0.8, gt=0, lt=1)
    # An agent's delivered reply leaves the ticket waiting on the customer (clock paused).
    pending_after_reply: bool = True
    # A ticket pending this long (wall-clock time since it started waiting) is resolved; None = never.
    auto_resolve_pending: Duration | None = None
    policies: list[SlaPolicy]

    def policy_for(self, priority: str, tier: str) -> SlaPolicy:
        """Return the policy for priority and tier: the exact tier first, then tier '*'."""
        for wanted in (tier, "*"):
            for policy in self.policies:
                if policy.priority == priority and policy.tier == wanted:
                    return policy
        raise KeyError(f"no SLA policy for priority {priority!r}, tier {tier!r}")


class BusinessHours(Section):
    """The team's working week, time zone, public holidays and extra closed dates."""

    timezone: Timezone = "UTC"
    holidays_country: Country | None = None
    weekly: dict[Day, list[TimeRange]] = Field(
        default_factory=lambda: {day: ["09:00-18:00"] if day not in ("sat", "sun") else [] for day in DAYS}
    )
    closed_dates: list[date] = []
    # Sent once per customer per closed spell to a first message outside hours; {back} = reopening time.
    offline_reply: Localized | None = None
    # A message older than this when it arrives (a backfill, an old file) gets no auto-reply.
    offline_reply_max_age: Duration = timedelta(minutes=30)

    _expand_closed_dates = field_validator("closed_dates", mode="before")(expand_dates)

    @field_validator("weekly")
    @classmethod
    def _complete_week(cls, weekly: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, ranges in weekly.items():
            spans = sorted(minutes_of_range(text) for text in ranges)
            for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
                if start < end:
                    raise RulesProblem("hours_overlap", day=day)
        if not any(weekly.values()):
            raise RulesProblem("no_hours")
        return {day: weekly.get(day, []) for day in DAYS}

    @property
    def tz(self) -> ZoneInfo:
        """The team's time zone."""
        return ZoneInfo(self.timezone)

    def opening_hours(self, weekday: int) -> list[tuple[int, int]]:
        """Return sorted (start, end) minutes since midnight for weekday (0 = Monday, as date.weekday())."""
        return sorted(minutes_of_range(text) for text in self.weekly[DAYS[weekday]])


class CannedReply(Section):
    """A ready-made answer agents can send (and edit) from the ticket thread."""

    id: Identifier
    title: Localized
    text: Localized


class Roles(Section):
    """Who is an agent, a lead or a manager (user ids)."""

    agents: list[UserId] = []
    leads: list[UserId] = []
    managers: list[UserId] = []


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


_DEFAULT_PERMISSIONS = {
    "claim": ["agents"],
    "reply": ["agents"],
    "escalate": ["agents"],
    "resolve": ["agents"],
    "reopen": ["agents"],
    "assign": ["leads"],
    "stats": ["leads"],
}


class Threading(Section):
    """When a new message from the same customer continues an existing ticket."""

    window_minutes: int = Field(1440, ge=1, le=60 * 24 * 30)
    # A resolved ticket takes the customer's next message only this many days after it was
    # resolved; later, the message opens a new ticket that links back (0: always a new ticket).
    reopen_days: int = Field(7, ge=0, le=3650)


def _default_priorities() -> dict[str, PriorityDef]:
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


def _default_levels() -> dict[str, LevelDef]:
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


def _ranked_in_order(defs: dict, names: tuple[str, ...], what: str, descending: bool) -> dict:
    """Check defs has exactly names, their ranks strictly going down (or up) in that order."""
    missing = [name for name in names if name not in defs]
    if missing:
        raise RulesProblem("missing_names", what=what, missing=", ".join(missing), names=", ".join(names))
    ranks = [defs[name].rank for name in names]
    if ranks != sorted(set(ranks), reverse=descending):
        direction = "down" if descending else "up"
        raise RulesProblem(f"ranks_{direction}", names=", ".join(names), ranks=ranks)
    return defs


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


# Surface actions without an entry of their own in rules.yaml `permissions` borrow one.
BORROWED_PERMISSION = {"release": "claim", "pending": "claim", "tag": "claim", "priority": "claim", "note": "claim",
                       "flag": "claim", "tier": "assign"}


class Rules(Section):
    """The whole rules.yaml. Build it with load_rules() so cross-section checks run too."""

    priorities: dict[PriorityName, PriorityDef] = Field(default_factory=_default_priorities)
    levels: dict[LevelName, LevelDef] = Field(default_factory=_default_levels)
    channels: dict[ChannelName, ChannelDef]
    defaults: Defaults
    keyword_rules: list[KeywordRule] = []
    routing: list[Route] = []
    sla: SlaConfig
    business_hours: BusinessHours = BusinessHours()
    threading: Threading = Threading()
    canned_replies: list[CannedReply] = []
    roles: Roles = Roles()
    permissions: dict[Action, list[RoleName]] = Field(default_factory=lambda: dict(_DEFAULT_PERMISSIONS))
    keywords: dict[Source, list[Keyword]] = {}
    teams: TeamsSection = TeamsSection()
    stats: StatsConfig = StatsConfig()
    oncall: OnCall = OnCall()
    flood: FloodConfig = FloodConfig(enabled=False)  # absent: no flood detection
    customers: CustomersConfig = CustomersConfig()

    @field_validator("priorities")
    @classmethod
    def _all_priorities(cls, priorities: dict[str, PriorityDef]) -> dict[str, PriorityDef]:
        return _ranked_in_order(priorities, PRIORITIES, "priorities", descending=True)

    @field_validator("levels")
    @classmethod
    def _all_levels(cls, levels: dict[str, LevelDef]) -> dict[str, LevelDef]:
        return _ranked_in_order(levels, LEVELS, "levels", descending=False)

    @field_validator("permissions")
    @classmethod
    def _complete_permissions(cls, permissions: dict[str, list[str]]) -> dict[str, list[str]]:
        return {action: permissions.get(action, _DEFAULT_PERMISSIONS[action]) for action in ACTIONS}

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
