"""What bench/load_bench.py measured, from the generator's log, the database and the fake Slack.

When is a message visible in Slack (the contract shared with the incident-thread work): at the
first fake-Slack call that shows it —
  (a) it opened its ticket: the chat.postMessage with metadata
      {"event_type": "chatops_ticket", "event_payload": {"ticket": "T-<id>"}};
  (b) it continued a ticket: the thread chat.postMessage with metadata
      {"event_type": "chatops_line", "event_payload": {"event": <event id>}} of its event;
  (c) it was collected into an incident: the first chat.postMessage or chat.update with metadata
      {"event_type": "chatops_incident", "event_payload": {"ticket": "T-<id>", "count": N}} where
      N ≥ the message's rank among that ticket's inbound messages (ordered by messages.id).
Latency runs from the message's scheduled send time (open loop: a slow server cannot hide its
delay by slowing the sender). An accepted message never shown is a loss.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import text

TICKET_MARK, LINE_MARK, INCIDENT_MARK = "chatops_ticket", "chatops_line", "chatops_incident"
PACE_TOLERANCE = 0.9  # a gap of 90% of the interval still counts as paced (timer and clock jitter)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))]


@dataclass
class Report:
    rate: float
    seconds: float
    interval: float
    requests: int = 0
    accepted: int = 0
    unsent: int = 0  # still queued in the generator when it gave up (the servers fell behind)
    non_2xx: Counter = field(default_factory=Counter)
    achieved_rate: float = 0.0
    generator_lag_p99: float = 0.0
    http_p50: float = 0.0
    http_p99: float = 0.0
    slack_latencies: list[float] = field(default_factory=list)
    latency_by_kind: dict[str, list[float]] = field(default_factory=dict)
    not_stored: list[str] = field(default_factory=list)
    never_shown: list[str] = field(default_factory=list)
    stored_twice: int = 0
    parents_twice: int = 0
    lines_twice: int = 0
    pacing: dict[str, tuple[int, float, str]] = field(default_factory=dict)  # channel → (posts, min gap, between)
    tickets: int = 0
    backlog_at_end: int = 0
    lanes_at_end: list = field(default_factory=list)
    left: int = 0
    drain: float | None = None
    rss: list = field(default_factory=list)
    generator_exit: int = 0
    server_cpu: float = 0.0  # CPU seconds both replicas used from the first send to the end of the drain
    server_errors: list[str] = field(default_factory=list)  # ERROR lines of the replicas' logs

    @property
    def losses(self) -> int:
        return len(self.not_stored) + len(self.never_shown)

    @property
    def duplicates(self) -> int:
        return self.stored_twice + self.parents_twice + self.lines_twice

    @property
    def paced(self) -> bool:
        return all(gap >= self.interval * PACE_TOLERANCE for _, gap, _ in self.pacing.values())

    @property
    def slack_p99(self) -> float:
        return percentile(self.slack_latencies, 0.99) if self.slack_latencies else float("inf")

    @property
    def passed(self) -> bool:
        return (self.achieved_rate >= self.rate * 0.98 and not self.non_2xx and not self.unsent and self.losses == 0
                and self.duplicates == 0 and self.slack_p99 < 2.0 and self.paced and self.generator_exit == 0)

    def lines(self, *, drain_limit: float) -> list[str]:
        out = [f"load: {self.requests} webhooks to 2 replicas (PostgreSQL, fake Slack paced {self.interval:.1f} s "
               f"per channel, scheduler on), target {self.rate:.0f} msgs/s for {self.seconds:.0f} s",
               f"  sent {self.requests - self.unsent}, accepted {self.accepted}, non-2xx "
               f"{sum(self.non_2xx.values())}" + (f" {dict(self.non_2xx)}" if self.non_2xx else "")
               + (f"; {self.unsent} never sent (servers too far behind)" if self.unsent else ""),
               f"  achieved {self.achieved_rate:,.1f} msgs/s; sender lag p99 {self.generator_lag_p99 * 1000:.0f} ms",
               f"  HTTP ingest latency p50 {self.http_p50 * 1000:.0f} ms, p99 {self.http_p99 * 1000:.0f} ms",
               f"  webhook-to-Slack latency ({len(self.slack_latencies)} shown) p50 "
               f"{percentile(self.slack_latencies, 0.5):.2f} s, p99 {self.slack_p99:.2f} s, "
               f"max {max(self.slack_latencies, default=float('nan')):.2f} s (target p99 < 2 s)"]
        for kind, values in sorted(self.latency_by_kind.items()):
            out.append(f"    {kind:<10} {len(values):>6} shown, p50 {percentile(values, 0.5):.2f} s, "
                       f"p99 {percentile(values, 0.99):.2f} s")
        out.append(f"  tickets {self.tickets}; losses {self.losses} (not stored {len(self.not_stored)}, "
                   f"never shown in Slack {len(self.never_shown)})"
                   + (f", e.g. {(self.not_stored + self.never_shown)[:3]}" if self.losses else ""))
        out.append(f"  duplicates {self.duplicates} (stored twice {self.stored_twice}, ticket posted twice "
                   f"{self.parents_twice}, thread line posted twice {self.lines_twice})")
        for channel, (posts, gap, between) in sorted(self.pacing.items(), key=lambda kv: -kv[1][0])[:8]:
            flag = "" if gap >= self.interval * PACE_TOLERANCE else f"  << faster than the pace: {between}"
            out.append(f"  pacing {channel}: {posts} posts, min gap {gap:.3f} s{flag}")
        out.append(f"  Slack backlog at end of load {self.backlog_at_end} items"
                   + (f" (largest lanes {self.lanes_at_end})" if self.backlog_at_end else ""))
        out.append("  drained in " + (f"{self.drain:.1f} s" if self.drain is not None
                                      else f"NOT drained after {drain_limit:.0f} s: {self.left} items left"))
        if self.rss:
            for index in range(len(self.rss[0][1])):
                series = [kib // 1024 for _, values in self.rss for kib in values[index:index + 1]]
                out.append(f"  RSS replica {index} MiB every 5 s: {series[0]} → {series[-1]} "
                           f"(max {max(series)}): {' '.join(map(str, series))}")
        if self.accepted:
            per = self.server_cpu / self.accepted * 1000
            out.append(f"  replica CPU {self.server_cpu:.1f} s for {self.accepted} accepted messages and their Slack "
                       f"posts: {per:.1f} ms per message (≈ {1000 / per if per else float('inf'):,.0f} msgs/s per "
                       f"free core)")
        out.append(f"  server log ERROR lines {len(self.server_errors)}")
        out.extend(f"    {entry[:1200]}" for entry in self.server_errors[:3])
        out.append(f"load: {'PASS' if self.passed else 'FAIL'} {self.achieved_rate:,.0f} msgs/s, "
                   f"p99 webhook-to-Slack {self.slack_p99:.2f} s, losses {self.losses}, duplicates {self.duplicates}, "
                   f"pacing {'ok' if self.paced else 'VIOLATED'}")
        return out


def analyse(engine, slack, sent: list[dict], items: list[dict], *, interval: float, rate: float,
            seconds: float) -> Report:
    """Compare what was sent with what was stored and what Slack showed."""
    report = Report(rate=rate, seconds=seconds, interval=interval, requests=len(sent))
    kind_of = {item["external_id"]: item["kind"] for item in items}
    ok = [row for row in sent if 200 <= row["status"] < 300]
    report.accepted = len(ok)
    report.non_2xx = Counter(row["status"] for row in sent if not 200 <= row["status"] < 300 and row["status"] != -1)
    report.unsent = sum(1 for row in sent if row["status"] == -1)
    went = [row for row in sent if row["status"] != -1]
    answered = [row for row in went if row["status"] > 0]
    if went:
        # Throughput: distinct messages the servers accepted per second, from the first send to
        # the last answer (a server that falls behind stretches the span).
        first, last = min(r["scheduled"] for r in went), max(r["answered"] or r["sent"] for r in went)
        report.achieved_rate = len({r["n"] for r in ok}) / max(last - first, 1e-9)
        report.generator_lag_p99 = percentile([r["sent"] - r["scheduled"] for r in went], 0.99)
        report.http_p50 = percentile([r["answered"] - r["scheduled"] for r in answered], 0.5)
        report.http_p99 = percentile([r["answered"] - r["scheduled"] for r in answered], 0.99)
    scheduled = {}
    for row in ok:
        scheduled[row["external_id"]] = min(row["scheduled"], scheduled.get(row["external_id"], float("inf")))

    with engine.connect() as conn:
        messages = conn.execute(text(
            "SELECT id, external_id, ticket_id FROM messages WHERE direction = 'inbound' ORDER BY id")).all()
        events = conn.execute(text(
            "SELECT id, ticket_id, kind, payload FROM ticket_events "
            "WHERE kind IN ('created', 'customer_message', 'reopened', 'incident_message')")).all()
        report.tickets = conn.scalar(text("SELECT count(*) FROM tickets"))
    stored: dict[str, tuple[int, int | None]] = {}
    counts = Counter(row.external_id for row in messages)
    report.stored_twice = sum(1 for n in counts.values() if n > 1)
    rank: dict[int, int] = {}
    per_ticket: Counter = Counter()
    for row in messages:
        stored.setdefault(row.external_id, (row.id, row.ticket_id))
        if row.ticket_id is not None:
            per_ticket[row.ticket_id] += 1
            rank[row.id] = per_ticket[row.ticket_id]
    event_of = {}
    for row in events:
        payload = row.payload if isinstance(row.payload, dict) else {}
        if payload.get("message_id") is not None:
            event_of[payload["message_id"]] = (row.id, row.kind)

    parent_at, line_at, incident = _shown(slack)
    parents = Counter(_mark(m.metadata, TICKET_MARK, "ticket") for m in slack.messages if m.thread_ts is None)
    lines = Counter(_mark(m.metadata, LINE_MARK, "event") for m in slack.messages if m.thread_ts is not None)
    report.parents_twice = sum(1 for key, n in parents.items() if key is not None and n > 1)
    report.lines_twice = sum(1 for key, n in lines.items() if key is not None and n > 1)

    latencies = defaultdict(list)
    for external_id, at in scheduled.items():
        if external_id not in stored:
            report.not_stored.append(external_id)
            continue
        message_id, ticket_id = stored[external_id]
        seen = []
        event = event_of.get(message_id)
        if ticket_id is not None:
            key = f"T-{ticket_id}"
            if event is not None:
                event_id, kind = event
                if kind == "created" and key in parent_at:
                    seen.append(parent_at[key])
                if event_id in line_at:
                    seen.append(line_at[event_id])
            shown = incident.get(key)
            if shown:  # (count, time) pairs, earliest time for each count and above
                counts_sorted, times = shown
                index = bisect.bisect_left(counts_sorted, rank[message_id])
                if index < len(times):
                    seen.append(times[index])
        if not seen:
            report.never_shown.append(external_id)
            continue
        latencies[kind_of.get(external_id, "?")].append(min(seen) - at)
    report.latency_by_kind = dict(latencies)
    report.slack_latencies = [value for values in latencies.values() for value in values]
    report.pacing = _pacing(slack)
    return report


def _mark(metadata: dict | None, event_type: str, field_name: str):
    if not metadata or metadata.get("event_type") != event_type:
        return None
    return (metadata.get("event_payload") or {}).get(field_name)


def _shown(slack):
    """First wall time each ticket parent and each thread line was posted; per incident ticket,
    counts shown with the earliest time a count at least that big was shown."""
    parent_at: dict[str, float] = {}
    line_at: dict[int, float] = {}
    incident_raw: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for call in slack.calls:
        if call.status != 200 or call.method not in ("chat.postMessage", "chat.update"):
            continue
        metadata = call.args.get("metadata")
        if call.method == "chat.postMessage":
            key = _mark(metadata, TICKET_MARK, "ticket")
            if key is not None and not call.args.get("thread_ts"):
                parent_at.setdefault(key, call.wall)
            event = _mark(metadata, LINE_MARK, "event")
            if event is not None:
                line_at.setdefault(int(event), call.wall)
        key = _mark(metadata, INCIDENT_MARK, "ticket")
        if key is not None:
            count = int((metadata.get("event_payload") or {}).get("count") or 0)
            incident_raw[key].append((count, call.wall))
    incident = {}
    for key, shown in incident_raw.items():
        # earliest time any count ≥ c was shown, for each c shown: a suffix minimum over counts
        shown.sort()
        counts = [c for c, _ in shown]
        times = [w for _, w in shown]
        for index in range(len(times) - 2, -1, -1):
            times[index] = min(times[index], times[index + 1])
        incident[key] = (counts, times)
    return parent_at, line_at, incident


def _pacing(slack) -> dict[str, tuple[int, float, str]]:
    """Per channel: chat.postMessage calls, the smallest gap between two of them, and what
    those two were (their metadata event types: which lanes broke the pace)."""
    times: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for call in slack.calls:
        if call.method == "chat.postMessage":
            kind = ((call.args.get("metadata") or {}).get("event_type") or "unmarked") + \
                (" (thread)" if call.args.get("thread_ts") else "")
            times[slack.channel_id(str(call.args.get("channel", "")))].append((call.at, kind))
    out = {}
    for channel, values in times.items():
        values.sort()
        pairs = [(b[0] - a[0], f"{a[1]} → {b[1]}") for a, b in zip(values, values[1:], strict=False)]
        gap, what = min(pairs) if pairs else (float("inf"), "")
        out[channel] = (len(values), gap, what)
    return out
