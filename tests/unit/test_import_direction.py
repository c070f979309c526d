"""DESIGN.md §5.1: the core never imports Slack, Teams, requests or integration code."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = ("rules", "tickets", "sla", "oncall", "stats")
FORBIDDEN = ("slack_bolt", "slack_sdk", "pymsteams", "requests", "integrations", "chatops.slack",
             "chatops.teams", "chatops.sandbox", "flask")
PACKAGE = Path(__file__).resolve().parents[2] / "chatops"


def imported_modules(path: Path):
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def test_core_imports_no_adapter():
    offenders = []
    files = [f for part in CORE for f in (PACKAGE / part).rglob("*.py")]
    assert files, "no core modules found"
    for path in files:
        for line, module in imported_modules(path):
            if any(module == bad or module.startswith(bad + ".") for bad in FORBIDDEN):
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{line}: imports {module}")
    assert offenders == []
