"""`chatops serve` as a real process: migrates on start, answers health checks, takes a signed
webhook over HTTP on 127.0.0.1 and stores the ticket; a forged one changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import requests

from chatops.cli import main
from integrations.webhook import sign
from tests.conftest import RULES_PATH
from tests.e2e.processes import free_port
from tests.helpers import inbound


@pytest.fixture
def server(tmp_path):
    port = free_port()
    db = tmp_path / "serve.db"
    env = dict(os.environ, CHATOPS_DATABASE_URL=f"sqlite:///{db}", CHATOPS_RULES=str(RULES_PATH),
               CHATOPS_WEBHOOK_SECRET="serve-secret", CHATOPS_LANG="en")
    proc = subprocess.Popen([sys.executable, "-m", "chatops", "serve", "--port", str(port)], env=env,
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/healthz", timeout=1).ok:
                break
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or busy starting
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("chatops serve did not start: " + proc.communicate()[1][-2000:])
    yield base, db
    proc.terminate()
    proc.wait(timeout=30)


def test_serve_takes_signed_webhooks_and_refuses_forged_ones(server, capsys, monkeypatch):
    base, db = server
    assert requests.get(base + "/readyz", timeout=5).json() == {"ok": True, "database": "ok"}
    body = inbound("二重請求されています", external_id="serve-1").model_dump_json().encode()
    ok = requests.post(base + "/webhooks/generic", data=body, timeout=5,
                       headers={"X-Chatops-Signature": sign("serve-secret", body),
                                "Content-Type": "application/json"})
    assert ok.status_code == 202 and ok.json()["results"][0]["ticket"] == "T-1"
    forged = inbound("偽物", external_id="serve-2").model_dump_json().encode()
    refused = requests.post(base + "/webhooks/generic", data=forged, timeout=5,
                            headers={"X-Chatops-Signature": sign("wrong-secret", forged)})
    assert refused.status_code == 401

    monkeypatch.setenv("CHATOPS_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("CHATOPS_RULES", str(RULES_PATH))
    assert main(["tickets", "list", "--json", "--all"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["key"], r["priority"]) for r in rows] == [("T-1", "red")]
