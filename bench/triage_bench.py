"""Triage accuracy, and analysed-triage throughput.

Two sets are reported apart: the generated corpus's held-out split (examples/triage/corpus.jsonl,
near-duplicates of its training split, so only a regression check) and the hand-written posts
of examples/triage/heldout.jsonl, which no rule, lemma or example was written from; the
targets are judged on the latter. Each prints accuracy per priority and per rule, red recall,
green precision and a confusion table.
Targets (issue 22): accuracy >= 95%, red recall >= 98%, green precision >= 95%, >= 5,000 msgs/s.
"""

import json
import time
from collections import Counter
from pathlib import Path

from chatops.rules import RulesEngine, load_rules

ROOT = Path(__file__).resolve().parent.parent
PRIORITIES = ("red", "orange", "green")


def evaluate(engine: RulesEngine, rows: list[dict], title: str) -> tuple[float, float, float]:
    """Print the figures of one labelled set; return (accuracy, red recall, green precision)."""
    confusion: Counter = Counter()
    per_rule: dict[str, list[int]] = {}
    for row in rows:
        triage = engine.triage(row["text"], "x", "mention")
        confusion[(row["priority"], triage.priority)] += 1
        hit = per_rule.setdefault(row["rule"], [0, 0])
        hit[0] += row["rule"] in triage.matched
        hit[1] += 1
    total = sum(confusion.values())
    accuracy = sum(confusion[(p, p)] for p in PRIORITIES) / max(1, total)
    red_recall = confusion[("red", "red")] / max(1, sum(confusion[("red", p)] for p in PRIORITIES))
    green_precision = confusion[("green", "green")] / max(1, sum(confusion[(p, "green")] for p in PRIORITIES))
    print(f"{title}: {total} posts")
    for priority in PRIORITIES:
        expected = sum(confusion[(priority, p)] for p in PRIORITIES)
        print(f"  {priority:<7} accuracy {confusion[(priority, priority)] / max(1, expected):.1%} of {expected}")
    for rule_id, (good, count) in sorted(per_rule.items()):
        print(f"  rule {rule_id:<18} {good}/{count}")
    print("  confusion (expected -> got): " + "  ".join(
        f"{e}->{g}:{confusion[(e, g)]}" for e in PRIORITIES for g in PRIORITIES))
    print(f"  accuracy {accuracy:.1%} (>= 95%)  red recall {red_recall:.1%} (>= 98%)  "
          f"green precision {green_precision:.1%} (>= 95%)")
    return accuracy, red_recall, green_precision


def _rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (ROOT / "examples/triage" / name).open(encoding="utf-8") if line.strip()]


def main() -> bool:
    """Run the bench; return False if a target is missed (judged on heldout.jsonl)."""
    before = _rss_mb()
    started = time.perf_counter()
    engine = RulesEngine(load_rules(ROOT / "rules.yaml"))
    load_seconds = time.perf_counter() - started
    engine.triage("届いた商品が壊れていました", "x", "mention")  # the analyser and model loaded and used once
    added = _rss_mb() - before
    corpus = _rows("corpus.jsonl")
    evaluate(engine, [row for row in corpus if row["split"] == "heldout"], "triage corpus split (generated)")
    accuracy, red_recall, green_precision = evaluate(engine, _rows("heldout.jsonl"), "triage heldout.jsonl (hand-written)")
    texts = [row["text"] for row in corpus] * 10
    started = time.perf_counter()
    for text in texts:
        engine.triage(text, "x", "mention")
    rate = len(texts) / (time.perf_counter() - started)
    ok = accuracy >= 0.95 and red_recall >= 0.98 and green_precision >= 0.95 and rate >= 5000 and load_seconds < 2 \
        and added < 300
    print(f"triage: rules.yaml + engine load {load_seconds:.2f} s (< 2 s), {rate:,.0f} msgs/s analysed (>= 5,000), "
          f"analyser + model +{added:.0f} MB RSS (< 300 MB): {'PASS' if ok else 'FAIL'}")
    return ok


def _rss_mb() -> float:
    """This process's resident set size in MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


if __name__ == "__main__":
    main()
