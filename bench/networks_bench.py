"""Network webhooks: signature check + parse of each network's real payload shape, per request.

Each network's fixture (tests/integrations/fixtures) is signed the way the network signs it
and handed to its WebhookSource.handle() 2,000 times (CPU time, best of 5). No database: this is
the part of a webhook request the network waits on before we store anything.
Target: >= 2,000 requests/s per network (a flood of mentions is a few hundred per second).
"""

import time
from pathlib import Path

from integrations import line, meta, x
from integrations.facebook import FacebookConfig, FacebookWebhook
from integrations.line import LineConfig, LineWebhook
from integrations.x import XConfig, XWebhook

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "integrations" / "fixtures"
REQUESTS = 2_000
ROUNDS = 5
TARGET = 2_000.0
META = dict(app_secret="s", verify_token="v", page_id="106000000000001", page_access_token="t", _env_file=None)


def _cases():
    x_body = (FIXTURES / "x_account_activity.json").read_bytes()
    line_body = (FIXTURES / "line_webhook.json").read_bytes()
    fb_body = (FIXTURES / "facebook_webhook.json").read_bytes()
    return [
        ("x", XWebhook(XConfig(account="@acme_jp", user_id="1500000000000000001", user_token="t",
                               consumer_secret="s", _env_file=None)),
         x_body, {x.SIGNATURE_HEADER: x.signature("s", x_body)}),
        ("line", LineWebhook(LineConfig(channel_secret="s", channel_access_token="t", account="@acme",
                                        _env_file=None)),
         line_body, {line.SIGNATURE_HEADER: line.signature("s", line_body)}),
        ("facebook", FacebookWebhook(FacebookConfig(**META)), fb_body,
         {"X-Hub-Signature-256": meta.signature("s", fb_body)}),
    ]


def main() -> bool:
    """Print requests/s per network and whether each met the target."""
    ok = True
    print(f"network webhooks: verify + parse, {REQUESTS} requests, best of {ROUNDS} (CPU time)")
    for name, source, body, headers in _cases():
        best = float("inf")
        for _ in range(ROUNDS):
            started = time.process_time()
            for _ in range(REQUESTS):
                answer = source.handle(method="POST", headers=headers, query={}, body=body)
            best = min(best, time.process_time() - started)
        rate = REQUESTS / best if best else float("inf")
        met = rate >= TARGET
        ok &= met
        print(f"  {name:9s} {rate:10,.0f} req/s  {len(answer.messages)} msgs/request  "
              f"{'ok' if met else 'MISSED'} (target {TARGET:,.0f})")
    print(f"networks: {'all webhooks ≥' if ok else 'some webhooks <'} {TARGET:,.0f} req/s verify+parse")
    return ok


if __name__ == "__main__":
    main()
