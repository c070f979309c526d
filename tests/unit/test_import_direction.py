"""DESIGN.md §5.1: the core never imports Slack, Teams, requests or integration code, and no
module of chatops/ or integrations/ takes part in an import cycle."""

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


def _module_level_imports(path: Path):
    """Imports a module makes when it is loaded (TYPE_CHECKING blocks included: a cycle hidden
    there is still a cycle in the design), not those deferred inside functions."""
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, (ast.If, ast.Try)):
            stack.extend(node.body + node.orelse + getattr(node, "finalbody", [])
                         + [n for h in getattr(node, "handlers", []) for n in h.body])


def _import_graph() -> dict[str, set[str]]:
    root = PACKAGE.parent
    modules = {}
    for top in ("chatops", "integrations"):
        for path in (root / top).rglob("*.py"):
            name = ".".join(path.relative_to(root).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    return {name: {target for target in _module_level_imports(path) if target in modules and target != name}
            for name, path in modules.items()}


def test_no_import_cycles():
    """DESIGN.md §5.1: dependencies point one way; a cycle (even one only type hints close) fails."""
    graph = _import_graph()
    index, low, on_stack, stack, cycles, counter = {}, {}, set(), [], [], [0]

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert cycles == []


def test_the_network_registry_loads_no_metrics_library():
    """`serve --workers` sets PROMETHEUS_MULTIPROC_DIR after loading the networks' registry:
    prometheus_client imported before then would keep each worker's counters to itself."""
    import subprocess
    import sys

    code = "import sys, integrations.registry; print('prometheus_client' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PACKAGE.parent).stdout.strip()
    assert out == "False"
