"""Sandbox page refresh: how long one `/sandbox/state` snapshot takes to build (every ticket's
Block Kit rendered to HTML, with its thread) for a workspace of 52 (the examples), 200 and 1,000
tickets, each with three thread lines. CPU time: cold (nothing rendered yet, as after a restart)
and warm (best of 5: only changed messages are rendered again, as during a replay).
Target: <= 50 ms warm at 1,000 tickets, so live updates stay immediate (a cold snapshot is paid
once per language after a start).
"""

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from chatops.rules import load_rules
from chatops.sandbox.state import snapshot
from chatops.sandbox.workspace import Message, SandboxUser, Workspace
from chatops.slack import blocks
from chatops.slack.blocks import TicketCard

SIZES = (52, 200, 1_000)
TARGET_SIZE, TARGET_MS = 1_000, 50.0
RULES = Path(__file__).resolve().parent.parent / "rules.yaml"


def _workspace(rules, size: int) -> Workspace:
    names = [c.slack for c in rules.channels.values()]
    ws = Workspace(token="xoxb-bench", channels={name: {} for name in names},
                   users=[SandboxUser("U0AGENT001", "Sato", "agent")])
    now = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    for number in range(1, size + 1):
        card = TicketCard(key=f"T-{number}", status="open", priority=("red", "orange", "green")[number % 3],
                          level="L2", channel="support", source="x", account="@acme_jp",
                          text="注文した商品がまだ届きません。注文番号 12345678 *至急* <https://x.com|link>",
                          created_at=now, customer_handle=f"@customer{number}", url=f"https://x.com/c/{number}",
                          assignee="U0AGENT001", tags=("shipping", "vip"), first_response_due_at=now + timedelta(hours=1))
        message = blocks.ticket_message(card, rules, "ja", now)
        channel = ws.channels[names[number % len(names)]]
        parent = Message(channel, ws.next_ts(), message["text"], attachments=message["attachments"],
                         metadata={"event_type": "chatops_ticket", "event_payload": {"ticket": card.key}})
        ws.messages.append(parent)
        for line in (blocks.event_line("claimed", "U0AGENT001", {}, rules, "ja"),
                     blocks.customer_line("@customer", "まだですか?", None, "ja"),
                     blocks.reply_line("U0AGENT001", "確認いたします。", "ja")):
            ws.messages.append(Message(channel, ws.next_ts(), line, thread_ts=parent.ts))
    return ws


def main() -> bool:
    """Print the table and the summary line; True when the target is met."""
    rules = load_rules(RULES)
    print(f"{'tickets':>8} {'messages':>9} {'cold ms':>8} {'warm ms':>8} {'KiB':>8}")
    timings, warm = {}, {}
    for size in SIZES:
        ws = _workspace(rules, size)
        started = time.process_time()
        state = snapshot(ws, "U0AGENT001", "ja")
        timings[size] = (time.process_time() - started) * 1000
        best = float("inf")
        for _ in range(5):
            started = time.process_time()
            snapshot(ws, "U0AGENT001", "ja")
            best = min(best, time.process_time() - started)
        warm[size] = best * 1000
        size_kib = sum(len(m["html"]) for c in state["channels"] for m in c["messages"]) / 1024
        print(f"{size:>8,} {len(ws.messages):>9,} {timings[size]:>8.1f} {best * 1000:>8.1f} {size_kib:>8,.0f}")
    passed = warm[TARGET_SIZE] <= TARGET_MS
    print(f"sandbox: {'PASS' if passed else 'FAIL'} {warm[TARGET_SIZE]:.1f} ms per live page snapshot at "
          f"{TARGET_SIZE:,} tickets (target <= {TARGET_MS:.0f} ms); cold {timings[TARGET_SIZE]:.0f} ms, "
          f"{timings[52]:.0f} ms for the 52 examples")
    return passed


if __name__ == "__main__":
    import sys

    sys.exit(0 if main() else 1)
