"""Triage rules: rules.yaml schema, its loader (errors name file:line) and the matching engine.

Pure: imports nothing from Slack, Teams, HTTP clients or integrations.
"""

from chatops.rules.fields import ACTIONS, KINDS, LANGUAGES, LEVELS, PRIORITIES, SOURCES, TIERS
from chatops.rules.loader import RulesError, load_rules, parse_rules
from chatops.rules.normalize import normalize
from chatops.rules.schema import (
    BusinessHours,
    CannedReply,
    ChannelDef,
    KeywordRule,
    LevelDef,
    Localized,
    PriorityDef,
    Route,
    Rules,
    SlaConfig,
    SlaPolicy,
)

__all__ = [
    "ACTIONS",
    "KINDS",
    "LANGUAGES",
    "LEVELS",
    "PRIORITIES",
    "SOURCES",
    "TIERS",
    "BusinessHours",
    "CannedReply",
    "ChannelDef",
    "KeywordRule",
    "LevelDef",
    "Localized",
    "PriorityDef",
    "Route",
    "Rules",
    "RulesEngine",
    "RulesError",
    "SlaConfig",
    "SlaPolicy",
    "Triage",
    "load_rules",
    "normalize",
    "parse_rules",
]


def __getattr__(name: str):
    """RulesEngine and Triage on first use: the engine imports the Japanese analyser, which
    `chatops rules check` and the loader do not need."""
    if name in ("RulesEngine", "Triage"):
        from chatops.rules import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'chatops.rules' has no attribute {name!r}")
