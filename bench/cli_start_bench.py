"""CLI start time: wall clock of `chatops --help`, `rules check`, `rules test --text` and
`tickets list` as fresh processes, beside `python -c pass` (the interpreter's own floor).

Best of 5 runs each, so a busy machine's worst moments do not count.
Target: --help and rules check under 0.5 s (issue 23); the others are printed for reference
(`rules test` pays scikit-learn for the examples stage, `tickets list` SQLAlchemy).
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULES = str(ROOT / "rules.yaml")
ROUNDS = 5
TARGET = 0.5
CASES = [
    ("python -c pass", ["-c", "pass"], None),
    ("chatops --help", ["-m", "chatops", "--help"], TARGET),
    ("chatops --lang ja --help", ["-m", "chatops", "--lang", "ja", "--help"], TARGET),
    ("chatops rules check", ["-m", "chatops", "rules", "check", RULES], TARGET),
    ("chatops rules test --text", ["-m", "chatops", "rules", "test", "--rules", RULES, "--text", "二重請求されてます"], None),
    ("chatops tickets list", ["-m", "chatops", "tickets", "list"], None),
]


def _best(argv: list[str], env: dict[str, str]) -> float:
    """The fastest of ROUNDS runs of `python argv`, in seconds."""
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        subprocess.run([sys.executable, *argv], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> bool:
    """Time each case, print a table; True when every targeted case is under its target."""
    passed = True
    with tempfile.TemporaryDirectory() as folder:
        env = dict(os.environ, CHATOPS_DATABASE_URL=f"sqlite:///{folder}/bench.db", CHATOPS_RULES=RULES,
                   CHATOPS_LANG="en")
        subprocess.run([sys.executable, "-m", "chatops", "db", "upgrade"], env=env, cwd=ROOT,
                       stdout=subprocess.DEVNULL, check=True)
        print(f"{'command':<28} {'best s':>7} {'target':>7}  result")
        for name, argv, target in CASES:
            seconds = _best(argv, env)
            verdict = "-" if target is None else ("PASS" if seconds < target else "FAIL")
            passed = passed and verdict != "FAIL"
            print(f"{name:<28} {seconds:>7.3f} {target or '':>7}  {verdict}")
    print(f"cli start: {'PASS' if passed else 'FAIL'}")
    return passed


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
