"""The load generator of bench/load_bench.py: a realistic 炎上 day as signed generic webhooks,
sent open-loop (each message at its scheduled time, whatever the server's answers) from its own
process, split across replicas.

`python -m bench.load_traffic PLAN.json OUT.jsonl URL [URL ...]` sends the plan and writes one
JSON line per request: message number, replica, scheduled / sent / answered wall times, status.
"""

from __future__ import annotations

import http.client
import json
import queue
import random
import sys
import threading
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

from integrations.webhook import sign

SECRET = "load-secret"
BRAND_POST = "brand-post-20261123"
SENDERS = 48  # concurrent connections: enough that a slow answer never delays the next send
GRACE = 30.0  # seconds after the last scheduled send before queued messages are given up on

REPLIES = [  # replies to the brand's post: a flame (mostly negative: flame-risk, outage, refund) with a few calm voices
    "これはひどい、炎上してますよ", "最悪の対応", "拡散します", "詐欺では?", "消費者センターに相談します",
    "返金されないんですが", "ログインできないままです", "障害の説明をしてください", "応援してます、頑張って",
    "同じく困ってます",
]
SPIKE = ["障害ですか?ログインできない", "ログインできません!", "アプリが落ちてます、障害?", "ACME Cloud 繋がらない",
         "can't log in, is it down?", "ログインできない…仕事にならない"]
# Everyday tickets, three for each channel they route to (rules.yaml: #cs-support, #cs-returns,
# #cs-sales), so at the default everyday rate no channel is offered more than a third of the one
# post a second Slack shows there.
BACKGROUND = [
    "使い方を教えてください", "パスワードを変更する方法は?", "How do I change my shipping address?",
    "返品したいのですが手続きを教えてください", "交換をお願いしたいです", "I'd like a refund for my order",
    "在庫はいつ再入荷しますか?", "価格はいくらですか?", "Is the blue one back in stock?",
]


def plan(rate: float, seconds: float, *, background: float = 1.0, seed: int = 8) -> list[dict]:
    """The messages to send: `at` (seconds after start), `replicas` (indexes; two for a
    duplicate delivery), `kind` (brand / spike / background) and the JSON `body`.

    Everyday tickets keep their everyday rate (`background` a second, spread over the
    channels: each is one parent post, and a channel takes one post a second); the rest of the
    rate is the flood: about two thirds replies under the brand post, one third the topic spike."""
    rng = random.Random(seed)
    count = int(rate * seconds)
    everyday = min(1.0, background / rate) if rate else 0.0
    out = []
    for n in range(count):
        roll = rng.random()
        message: dict = {"source": "x", "account": "@acme_jp", "external_id": f"load-{n}", "lang": "ja",
                         "created_at": datetime.now(UTC).isoformat()}
        flood = (roll - everyday) / (1 - everyday) if roll >= everyday and everyday < 1 else None
        if flood is None:
            kind, user = "background", f"cust{rng.randrange(count * 4)}"
            message.update(source=rng.choice(["x", "facebook", "instagram", "line", "webhook"]),
                           kind=rng.choice(["mention", "dm", "comment"]), text=f"{rng.choice(BACKGROUND)} #{n}")
        elif flood < 0.65:  # most of the day: replies under the brand's one post
            kind, user = "brand", f"fan{rng.randrange(count)}"
            message.update(conversation_id=BRAND_POST, in_reply_to=BRAND_POST, kind="reply",
                           text=f"{rng.choice(REPLIES)} #{n}")
        else:  # the topic spike: many authors, each in a conversation of their own
            kind, user = "spike", f"spike{n}"
            message.update(source=rng.choice(["x", "bluesky", "mastodon"]), kind="mention",
                           text=f"{rng.choice(SPIKE)} #{n}")
        message["author"] = {"id": user, "handle": "@" + user, "name": user}
        replica = n % 2
        replicas = [replica, 1 - replica] if rng.random() < 0.03 else [replica]  # a network's redelivery
        out.append({"n": n, "at": n / rate, "replicas": replicas, "kind": kind,
                    "external_id": message["external_id"], "body": json.dumps(message, ensure_ascii=False)})
    return out


def _sender(jobs: queue.Queue, urls: list[str], results: list[dict], lock: threading.Lock, give_up: float) -> None:
    connections: dict[int, http.client.HTTPConnection] = {}
    while True:
        job = jobs.get()
        if job is None:
            return
        replica, scheduled, item = job
        body = item["body"].encode()
        headers = {"Content-Type": "application/json", "X-Chatops-Signature": sign(SECRET, body)}
        sent = time.time()
        status = 0  # no answer (connection failed)
        if sent > give_up:  # the servers fell so far behind that the run must end: never sent
            with lock:
                results.append({"n": item["n"], "external_id": item["external_id"], "replica": replica,
                                "scheduled": scheduled, "sent": None, "answered": None, "status": -1})
            continue
        for _ in range(2):  # a keep-alive connection the server closed: reconnect once
            conn = connections.get(replica)
            if conn is None:
                parts = urlsplit(urls[replica])
                conn = connections[replica] = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            try:
                conn.request("POST", "/webhooks/generic", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                break
            except (OSError, http.client.HTTPException):
                conn.close()
                connections.pop(replica, None)
        with lock:
            results.append({"n": item["n"], "external_id": item["external_id"], "replica": replica,
                            "scheduled": scheduled, "sent": sent, "answered": time.time(), "status": status})


def send(items: list[dict], urls: list[str], *, start: float | None = None, grace: float = GRACE) -> list[dict]:
    """Send every item at `start + item.at` (wall clock) through a pool of senders; what is
    still queued `grace` seconds after the last scheduled time is recorded unsent (status -1)."""
    jobs: queue.Queue = queue.Queue()
    results: list[dict] = []
    lock = threading.Lock()
    start = start or time.time() + 0.5
    give_up = start + (items[-1]["at"] if items else 0) + grace
    threads = [threading.Thread(target=_sender, args=(jobs, urls, results, lock, give_up), daemon=True)
               for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    for item in items:
        scheduled = start + item["at"]
        delay = scheduled - time.time()
        if delay > 0:
            time.sleep(delay)
        for replica in item["replicas"]:
            jobs.put((replica, scheduled, item))
    for _ in threads:
        jobs.put(None)
    for thread in threads:
        thread.join()
    return results


def main(argv: list[str]) -> int:
    plan_path, out_path, *urls = argv
    with open(plan_path, encoding="utf-8") as handle:
        items = json.load(handle)
    results = send(items, urls)
    with open(out_path, "w", encoding="utf-8") as out:
        for row in results:
            out.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
