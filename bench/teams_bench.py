"""Teams: how long an outgoing-webhook answer takes (Teams drops answers after 5 s), and how
fast cards are built and posted.

- Outgoing webhook: 300 signed `claim` / `resolve` requests through the Flask app on a SQLite
  file (HMAC check, parsing, role check, flow, answer). Target: p99 <= 500 ms, a tenth of the
  5 s Teams allows.
- Card building: Adaptive Card + 28 KB fit for 2,000 tickets (pure). Target: >= 1,000 cards/s.
- Delivery: 200 cards through the outbox to a local Workflows fake answering 202, pacing off
  (production rests 0.25 s per channel). Printed for reference, no target.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from chatops.teams.view import TicketView

from chatops.app import build_outbox, create_app
from chatops.inbound import InboundMessage
from chatops.rules import load_rules
from chatops.rules.schema import TeamsPerson, TeamsSection
from chatops.runtime import Runtime
from chatops.settings import Settings
from chatops.teams import cards

ROOT = Path(__file__).resolve().parent.parent
TOKEN = base64.b64encode(b"bench-outgoing-token").decode()
REQUESTS = 300
CARDS = 2_000
DELIVERIES = 200
TARGET_P99_MS = 500.0
TARGET_CARDS_PER_S = 1_000


class _Accept(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def _message(n: int) -> InboundMessage:
    return InboundMessage.model_validate({
        "source": "x", "account": "@acme_jp", "external_id": f"bench-{n}",
        "author": {"id": f"c{n}", "handle": f"@c{n}", "name": f"C{n}"},
        "text": "注文した商品が届きません。配送状況を教えてください", "created_at": datetime.now(UTC).isoformat(),
        "lang": "ja", "kind": "mention"})


def _runtime(folder: str, hook: str) -> Runtime:
    rules = load_rules(ROOT / "rules.yaml")
    channels = {name: channel.model_copy(update={"teams_webhook": f"{hook}/{name}"})
                for name, channel in rules.channels.items()}
    people = TeamsSection(people=[TeamsPerson(user="U0AGENT001", aad="aad-1", upn="a@example.test")])
    rules = rules.model_copy(update={"channels": channels, "teams": people})
    settings = Settings(database_url=f"sqlite:///{folder}/bench.db", rules_path=ROOT / "rules.yaml",
                        teams_public_url="https://chatops.example.test", teams_link_secret="bench-link-secret-0123456789",
                        teams_outgoing_token=TOKEN, teams_post_interval=0)
    return Runtime.build(settings, rules=rules)


def _outgoing(runtime: Runtime) -> list[float]:
    client = create_app(runtime).test_client()
    key = base64.b64decode(TOKEN)
    keys = [runtime.flows.ingest(_message(n)).ticket_key for n in range(REQUESTS // 2)]
    timings = []
    for verb in ("claim", "resolve"):
        for ticket in keys:
            body = json.dumps({"type": "message", "text": f"<at>chatops</at> {verb} {ticket}", "locale": "ja-JP",
                               "from": {"id": "29:x", "name": "A", "aadObjectId": "aad-1"}}).encode()
            signature = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()
            started = time.perf_counter()
            response = client.post("/teams/outgoing", data=body, content_type="application/json",
                                   headers={"Authorization": f"HMAC {signature}"})
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200 and response.get_json()["text"].startswith("✅")
    return timings


def _card_rate(runtime: Runtime) -> float:
    now = datetime.now(UTC)
    views = [TicketView(id=n, key=f"T-{n}", status="open", priority=("red", "orange", "green")[n % 3], level="L2",
                        channel="support", source="x", account="@acme_jp", text="届きません。" * (n % 200),
                        customer=f"@c{n}", assignee=None, tags=("shipping",), url=None, created_at=now,
                        first_response_due_at=now, resolution_due_at=now, first_response_at=None)
             for n in range(CARDS)]
    links = {"claim": "https://chatops.example.test/teams/act?token=x" * 2}
    started = time.process_time()
    for view in views:
        cards.fit(lambda budget, view=view: cards.workflows_message(cards.ticket_card(
            view, line="Sato さんが担当しました。", quote=view.text, links=links, rules=runtime.rules, lang="ja",
            text_budget=budget)))
    return CARDS / (time.process_time() - started)


def _delivery_rate(runtime: Runtime) -> float:
    outbox = build_outbox(runtime)
    outbox.run_once(limit=1000)  # what the outgoing part queued
    for n in range(DELIVERIES):
        runtime.flows.ingest(_message(10_000 + n))
    started = time.perf_counter()
    delivered = 0
    while delivered < DELIVERIES:
        delivered += outbox.run_once(limit=100)
    return delivered / (time.perf_counter() - started)


def main() -> bool:
    """Print the figures and a one-line summary; False when a target is missed."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Accept)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as folder:
        runtime = _runtime(folder, f"http://127.0.0.1:{server.server_address[1]}")
        try:
            timings = _outgoing(runtime)
            card_rate = _card_rate(runtime)
            delivery_rate = _delivery_rate(runtime)
        finally:
            runtime.close()
            server.shutdown()
    p50 = statistics.median(timings)
    p99 = statistics.quantiles(timings, n=100)[98]
    print(f"teams outgoing webhook: {len(timings)} signed requests, p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
          f"max {max(timings):.1f} ms (Teams allows 5,000 ms)")
    print(f"teams cards: {card_rate:,.0f} Adaptive Cards built and fitted to 28 KB per CPU second")
    print(f"teams delivery: {delivery_rate:,.0f} cards/s to a local Workflows fake (pacing off; production "
          f"paces 4/s per channel)")
    ok = p99 <= TARGET_P99_MS and card_rate >= TARGET_CARDS_PER_S
    print(f"teams summary: {'OK' if ok else 'MISSED'} — outgoing p99 {p99:.0f} ms (target <= {TARGET_P99_MS:.0f}), "
          f"{card_rate:,.0f} cards/s (target >= {TARGET_CARDS_PER_S:,})")
    return ok


if __name__ == "__main__":
    import sys

    sys.exit(0 if main() else 1)
