"""Checks that span sections of rules.yaml: references, unique ids, SLA coverage.

They run on an already shape-valid Rules and return (location, message) pairs; the loader
turns each location into a line number.
"""

from chatops.rules.fields import CUSTOMER_TIERS, PRIORITIES
from chatops.rules.schema import Rules

Loc = tuple[str | int, ...]


def cross_check(rules: Rules) -> list[tuple[Loc, str]]:
    """Return every cross-section problem of rules (the loader orders them by line)."""
    return [
        *_channel_references(rules),
        *_unique_ids(rules.keyword_rules, "keyword_rules"),
        *_unique_ids(rules.canned_replies, "canned_replies"),
        *_sla_coverage(rules),
        *_flood_references(rules),
    ]


def _channel_references(rules: Rules) -> list[tuple[Loc, str]]:
    """Every channel named by defaults, keyword rules and routes must be defined in channels."""
    references: list[tuple[Loc, str | None]] = [(("defaults", "channel"), rules.defaults.channel)]
    references += [
        (("keyword_rules", i, "set", "channel"), r.actions.channel) for i, r in enumerate(rules.keyword_rules)
    ]
    references += [(("routing", i, "channel"), route.channel) for i, route in enumerate(rules.routing)]
    if rules.stats.digest is not None:
        references.append((("stats", "digest", "channel"), rules.stats.digest.channel))
    defined = ", ".join(rules.channels)
    return [
        (loc, f"{name!r} is not a channel (defined: {defined})")
        for loc, name in references
        if name is not None and name not in rules.channels
    ]


def _unique_ids(items: list, section: str) -> list[tuple[Loc, str]]:
    """Ids within a section must be unique."""
    first_index: dict[str, int] = {}
    problems = []
    for index, item in enumerate(items):
        if item.id in first_index:
            problems.append(
                ((section, index, "id"), f"duplicate id {item.id!r} (also {section}[{first_index[item.id]}])")
            )
        first_index.setdefault(item.id, index)
    return problems


def _sla_coverage(rules: Rules) -> list[tuple[Loc, str]]:
    """Each (priority, tier) has at most one policy, and every priority is covered for every tier."""
    problems = []
    seen: dict[tuple[str, str], int] = {}
    for index, policy in enumerate(rules.sla.policies):
        key = (policy.priority, policy.tier)
        if key in seen:
            problems.append(
                (
                    ("sla", "policies", index),
                    f"duplicate policy for {key[0]}/{key[1]} (also sla.policies[{seen[key]}])",
                )
            )
        seen.setdefault(key, index)
    for priority in PRIORITIES:
        for tier in CUSTOMER_TIERS:
            if (priority, tier) not in seen and (priority, "*") not in seen:
                problems.append(
                    (("sla", "policies"), f"no policy for {priority}/{tier} (add tier {tier!r} or '*')")
                )
    return problems


def _flood_references(rules: Rules) -> list[tuple[Loc, str]]:
    """The flood section names keyword rules, a channel and an on-call policy that must exist."""
    flood, problems = rules.flood, []
    rule_ids = [rule.id for rule in rules.keyword_rules]
    for index, topic in enumerate(flood.topics):
        if topic not in rule_ids:
            problems.append((("flood", "topics", index), f"{topic!r} is not a keyword rule id"))
    if flood.channel is not None and flood.channel not in rules.channels:
        problems.append((("flood", "channel"),
                         f"{flood.channel!r} is not a channel (defined: {', '.join(rules.channels)})"))
    if flood.page is not None and flood.page not in rules.oncall.policies:
        problems.append((("flood", "page"), f"{flood.page!r} is not an oncall policy "
                                            f"(defined: {', '.join(rules.oncall.policies) or 'none'})"))
    return problems
