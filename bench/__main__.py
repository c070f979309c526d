"""Run every benchmark: each module in bench/ named *_bench, its main(), in name order.

Exits 1 if any main() returned False (a missed target), after running them all.
"""

import importlib
import pkgutil
import sys

import bench


def run_all() -> bool:
    """Import each bench/*_bench.py module, call its main(), and tell whether none reported a miss."""
    names = sorted(info.name for info in pkgutil.iter_modules(bench.__path__) if info.name.endswith("_bench"))
    results = [importlib.import_module(f"bench.{name}").main() for name in names]
    return all(result is not False for result in results)


if __name__ == "__main__":
    sys.exit(0 if run_all() else 1)
