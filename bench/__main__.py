"""Run every benchmark: each module in bench/ named *_bench, its main(), in name order."""

import importlib
import pkgutil

import bench


def run_all() -> None:
    """Import each bench/*_bench.py module and call its main()."""
    for module in sorted(info.name for info in pkgutil.iter_modules(bench.__path__)):
        if module.endswith("_bench"):
            importlib.import_module(f"bench.{module}").main()


if __name__ == "__main__":
    run_all()
