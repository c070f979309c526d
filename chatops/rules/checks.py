"""Checks that span sections of rules.yaml: references, unique ids, SLA coverage.

They run on a Rules whose sections validated and return (location, problem) pairs; the loader
turns each location into a line number. `failed` names the top-level sections that did not
validate: a check reading one of them is skipped (its data is a placeholder), so a broken
section costs its own checks only, and every other problem is still reported in the same run.
"""

from collections.abc import Collection

from chatops.rules.fields import CUSTOMER_TIERS, PRIORITIES
from chatops.rules.problems import RulesProblem
from chatops.rules.schema import Rules

Loc = tuple[str | int, ...]


def cross_check(rules: Rules, failed: Collection[str] = ()) -> list[tuple[Loc, RulesProblem]]:
    """Return every cross-section problem of rules (the loader orders them by line)."""
    problems = [*_channel_references(rules, failed)]
    for section in ("keyword_rules", "canned_replies"):
        if section not in failed:
            problems += _unique_ids(getattr(rules, section), section)
    if "sla" not in failed:
        problems += _sla_coverage(rules)
    if "flood" not in failed:
        problems += _flood_references(rules, failed)
    if "keyword_rules" not in failed and "canned_replies" not in failed:
        problems += _reply_references(rules)
    if "assignment" not in failed:
        problems += _assignment_references(rules, failed)
    return problems


def _reply_references(rules: Rules) -> list[tuple[Loc, RulesProblem]]:
    """Every canned reply a keyword rule suggests (`replies:`) must be defined in canned_replies."""
    defined = [reply.id for reply in rules.canned_replies]
    return [
        (("keyword_rules", index, "replies", position),
         RulesProblem("not_a_canned_reply", value=reply_id, defined=", ".join(defined) or "-"))
        for index, rule in enumerate(rules.keyword_rules)
        for position, reply_id in enumerate(rule.replies)
        if reply_id not in defined
    ]


def _channel_references(rules: Rules, failed: Collection[str]) -> list[tuple[Loc, RulesProblem]]:
    """Every channel named by defaults, keyword rules and routes must be defined in channels."""
    if "channels" in failed:
        return []
    references: list[tuple[Loc, str | None]] = []
    if "defaults" not in failed:
        references.append((("defaults", "channel"), rules.defaults.channel))
    if "keyword_rules" not in failed:
        references += [
            (("keyword_rules", i, "set", "channel"), r.actions.channel) for i, r in enumerate(rules.keyword_rules)
        ]
    if "routing" not in failed:
        references += [(("routing", i, "channel"), route.channel) for i, route in enumerate(rules.routing)]
    if "stats" not in failed and rules.stats.digest is not None:
        references.append((("stats", "digest", "channel"), rules.stats.digest.channel))
    defined = ", ".join(rules.channels)
    return [
        (loc, RulesProblem("not_a_channel", value=name, defined=defined))
        for loc, name in references
        if name is not None and name not in rules.channels
    ]


def _unique_ids(items: list, section: str) -> list[tuple[Loc, RulesProblem]]:
    """Ids within a section must be unique."""
    first_index: dict[str, int] = {}
    problems = []
    for index, item in enumerate(items):
        if item.id in first_index:
            problems.append(((section, index, "id"),
                             RulesProblem("duplicate_id", value=item.id, section=section, index=first_index[item.id])))
        first_index.setdefault(item.id, index)
    return problems


def _sla_coverage(rules: Rules) -> list[tuple[Loc, RulesProblem]]:
    """Each (priority, tier) has at most one policy, and every priority is covered for every tier."""
    problems = []
    seen: dict[tuple[str, str], int] = {}
    for index, policy in enumerate(rules.sla.policies):
        key = (policy.priority, policy.tier)
        if key in seen:
            problems.append((("sla", "policies", index),
                             RulesProblem("duplicate_policy", priority=key[0], tier=key[1], index=seen[key])))
        seen.setdefault(key, index)
    for priority in PRIORITIES:
        for tier in CUSTOMER_TIERS:
            if (priority, tier) not in seen and (priority, "*") not in seen:
                problems.append((("sla", "policies"), RulesProblem("no_sla_policy", priority=priority, tier=tier)))
    return problems


def _flood_references(rules: Rules, failed: Collection[str]) -> list[tuple[Loc, RulesProblem]]:
    """The flood section names keyword rules, a channel and an on-call policy that must exist."""
    flood, problems = rules.flood, []
    if "keyword_rules" not in failed:
        rule_ids = [rule.id for rule in rules.keyword_rules]
        for index, topic in enumerate(flood.topics):
            if topic not in rule_ids:
                problems.append((("flood", "topics", index), RulesProblem("not_a_rule", value=topic)))
    if "channels" not in failed and flood.channel is not None and flood.channel not in rules.channels:
        problems.append((("flood", "channel"),
                         RulesProblem("not_a_channel", value=flood.channel, defined=", ".join(rules.channels))))
    if "oncall" not in failed and flood.page is not None and flood.page not in rules.oncall.policies:
        problems.append((("flood", "page"), RulesProblem("not_an_oncall_policy", value=flood.page,
                                                         defined=", ".join(rules.oncall.policies) or "-")))
    return problems


def _assignment_references(rules: Rules, failed: Collection[str]) -> list[tuple[Loc, RulesProblem]]:
    """Each `assignment:` entry names a channel, and an on-call schedule when its shift is one."""
    problems: list[tuple[Loc, RulesProblem]] = []
    for name, entry in rules.assignment.items():
        if "channels" not in failed and name not in rules.channels:
            problems.append((("assignment", name),
                             RulesProblem("not_a_channel", value=name, defined=", ".join(rules.channels))))
        schedule = entry.schedule
        if "oncall" not in failed and schedule is not None and schedule not in rules.oncall.schedules:
            problems.append((("assignment", name, "shift"), RulesProblem(
                "not_a_schedule", value=schedule, defined=", ".join(rules.oncall.schedules) or "-")))
    return problems
