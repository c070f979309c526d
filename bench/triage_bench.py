"""Triage accuracy on the held-out part of examples/triage/corpus.jsonl, and analysed-triage throughput.

Prints accuracy per priority and per rule, red recall, green precision and a confusion table.
Targets (issue 22): accuracy >= 95%, red recall >= 98%, green precision >= 95%, >= 5,000 msgs/s.
"""

import json
import time
from collections import Counter
from pathlib import Path

from chatops.rules import RulesEngine, load_rules

ROOT = Path(__file__).resolve().parent.parent
PRIORITIES = ("red", "orange", "green")


def main() -> bool:
    """Run the bench; return False if a target is missed."""
    started = time.perf_counter()
    engine = RulesEngine(load_rules(ROOT / "rules.yaml"))
    load_seconds = time.perf_counter() - started
    rows = [json.loads(line) for line in (ROOT / "examples/triage/corpus.jsonl").open(encoding="utf-8")]
    heldout = [row for row in rows if row["split"] == "heldout"]
    confusion: Counter = Counter()
    per_rule: dict[str, list[int]] = {}
    for row in heldout:
        triage = engine.triage(row["text"], "x", "mention")
        confusion[(row["priority"], triage.priority)] += 1
        hit = per_rule.setdefault(row["rule"], [0, 0])
        hit[0] += row["rule"] in triage.matched
        hit[1] += 1
    texts = [row["text"] for row in rows] * 10
    started = time.perf_counter()
    for text in texts:
        engine.triage(text, "x", "mention")
    rate = len(texts) / (time.perf_counter() - started)
    total = sum(confusion.values())
    accuracy = sum(confusion[(p, p)] for p in PRIORITIES) / total
    red_recall = confusion[("red", "red")] / max(1, sum(confusion[("red", p)] for p in PRIORITIES))
    green_precision = confusion[("green", "green")] / max(1, sum(confusion[(p, "green")] for p in PRIORITIES))
    print(f"triage: {total} held-out posts, rules load {load_seconds:.2f} s, {rate:,.0f} msgs/s (analysed)")
    for priority in PRIORITIES:
        expected = sum(confusion[(priority, p)] for p in PRIORITIES)
        print(f"  {priority:<7} accuracy {confusion[(priority, priority)] / max(1, expected):.1%} of {expected}")
    for rule_id, (good, count) in sorted(per_rule.items()):
        print(f"  rule {rule_id:<18} {good}/{count}")
    print("  confusion (expected -> got): " + "  ".join(
        f"{e}->{g}:{confusion[(e, g)]}" for e in PRIORITIES for g in PRIORITIES))
    print(f"  accuracy {accuracy:.1%} (>= 95%)  red recall {red_recall:.1%} (>= 98%)  "
          f"green precision {green_precision:.1%} (>= 95%)")
    return accuracy >= 0.95 and red_recall >= 0.98 and green_precision >= 0.95 and rate >= 5000 and load_seconds < 2


if __name__ == "__main__":
    main()
