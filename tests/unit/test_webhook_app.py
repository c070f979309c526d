"""The Flask app: health, readiness, metrics and the signed generic webhook."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from chatops import migrate
from chatops.app import create_app
from chatops.tickets.models import Message, Ticket
from integrations.webhook import sign
from tests.helpers import inbound

SECRET = "test-webhook-secret"


@pytest.fixture
def client(runtime):
    return create_app(runtime).test_client()


def body_of(message) -> bytes:
    return message.model_dump_json().encode()


def post(client, body: bytes, signature: str | None = "auto", **headers):
    if signature == "auto":
        signature = sign(SECRET, body)
    if signature is not None:
        headers["X-Chatops-Signature"] = signature
    return client.post("/webhooks/generic", data=body, headers=headers, content_type="application/json")


def stored(runtime, model) -> int:
    with runtime.session_factory() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_signed_message_becomes_ticket(client, runtime):
    response = post(client, body_of(inbound("二重請求されました")))
    assert response.status_code == 202
    result = response.get_json()["results"][0]
    assert result["outcome"] == "created" and result["ticket"].startswith("T-")
    assert stored(runtime, Ticket) == 1


def test_redelivery_is_a_duplicate(client, runtime):
    body = body_of(inbound("届かない"))
    post(client, body)
    again = post(client, body)
    assert again.status_code == 202 and again.get_json()["results"][0]["outcome"] == "duplicate"
    assert stored(runtime, Message) == 1


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "deadbeef", ""])
def test_missing_or_wrong_signature_is_401(client, runtime, signature):
    response = post(client, body_of(inbound()), signature=signature)
    assert response.status_code == 401
    assert "X-Chatops-Signature" in response.get_json()["error"]
    assert stored(runtime, Message) == 0


def test_changed_body_is_401(client, runtime):
    body = body_of(inbound("届かない"))
    tampered = body.replace("届かない".encode(), "届いた".encode())
    assert post(client, tampered, signature=sign(SECRET, body)).status_code == 401
    assert stored(runtime, Message) == 0


def test_bad_json_is_400(client):
    response = post(client, b'{"source": "x",')
    assert response.status_code == 400
    assert "not valid JSON" in response.get_json()["error"]


@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d["author"].pop("id"), "author.id"),
    (lambda d: d.update(source="myspace"), "source"),
    (lambda d: d.update(created_at="2026-11-20T10:00:00"), "created_at"),
    (lambda d: d.update(surprise=1), "surprise"),
    (lambda d: d.update(text="   "), "text"),
])
def test_invalid_field_is_400_naming_it(client, runtime, change, field):
    data = json.loads(body_of(inbound()))
    change(data)
    response = post(client, json.dumps(data).encode())
    assert response.status_code == 400
    assert response.get_json()["error"].startswith(f"{field}:")
    assert stored(runtime, Message) == 0


def test_errors_speak_japanese_when_asked(client):
    response = post(client, body_of(inbound()), signature=None, **{"Accept-Language": "ja,en;q=0.5"})
    assert response.status_code == 401 and "署名" in response.get_json()["error"]


def test_oversized_body_is_refused_before_reading(client, runtime):
    big = b"x" * (runtime.settings.max_body_bytes + 1)
    assert post(client, big).status_code == 413


def test_unknown_network_is_404(client):
    assert client.post("/webhooks/myspace", data=b"{}").status_code == 404


def test_webhook_disabled_without_secret(runtime):
    runtime.settings = runtime.settings.model_copy(update={"webhook_secret": None})
    response = post(create_app(runtime).test_client(), body_of(inbound()))
    assert response.status_code == 503 and "CHATOPS_WEBHOOK_SECRET" in response.get_json()["error"]


def test_health_readiness_and_metrics(client):
    assert client.get("/healthz").get_json() == {"ok": True}
    assert client.get("/readyz").get_json() == {"ok": True, "database": "ok"}
    post(client, body_of(inbound("届かない")))
    post(client, body_of(inbound()), signature=None)
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'chatops_inbound_messages_total{outcome="created",source="x"} 1.0' in metrics
    assert 'chatops_webhook_requests_total{network="generic",status="401"} 1.0' in metrics
    assert SECRET not in metrics


def test_not_ready_when_schema_is_behind(runtime, client):
    def set_version(version: str) -> None:
        with runtime.engine.begin() as conn:
            conn.exec_driver_sql(f"UPDATE alembic_version SET version_num = '{version}'")

    head = migrate.head_revision(runtime.engine)
    set_version("old")
    try:
        response = client.get("/readyz")
    finally:
        set_version(head)  # the PostgreSQL database is shared by the whole run
    assert response.status_code == 503 and response.get_json()["database"] == "schema behind"
    assert client.get("/readyz").status_code == 200


def test_a_stored_message_wakes_the_outbox_worker_and_a_duplicate_does_not(client, runtime):
    body = body_of(inbound("二重請求されました"))
    post(client, body)
    assert runtime.outbox_wakeup.is_set()  # the ticket's Slack post leaves now, not at the next poll
    runtime.outbox_wakeup.clear()
    post(client, body)
    assert not runtime.outbox_wakeup.is_set()



def test_posts_answered_before_flask_match_flasks_own_route(runtime):
    """POSTs are answered straight from WSGI (chatops/webhooks.py) without Flask's request
    machinery; Flask's route (still serving GETs) must answer every POST the same way: status,
    content type, headers and body, in both languages, for every kind of outcome."""
    from flask import Flask
    from werkzeug.test import Client

    app = create_app(runtime)
    fast, flask_route = app.test_client(), Client(lambda environ, start: Flask.wsgi_app(app, environ, start))

    def answer(client, network, data, headers):
        response = client.post(f"/webhooks/{network}", data=data, headers=headers, content_type="application/json")
        return response.status_code, response.content_type, response.headers.get("Retry-After"), response.get_data()

    def signed(data: bytes) -> dict:
        return {"X-Chatops-Signature": sign(SECRET, data)}

    first, second = (body_of(inbound("二重請求されました", external_id=f"same-{n}", author={"id": f"a{n}"}))
                     for n in (1, 2))
    created = [answer(client, "generic", data, signed(data)) for client, data in ((fast, first), (flask_route, second))]
    assert created[0][:3] == created[1][:3] == (202, "application/json", None)
    assert [json.loads(a[3])["results"][0]["outcome"] for a in created] == ["created", "created"]
    cases = [
        ("generic", first, signed(first)),  # a duplicate: the same body and ticket either way
        ("generic", first, {"X-Chatops-Signature": "sha256=" + "0" * 64, "Accept-Language": "ja"}),  # 401, 日本語
        ("generic", b"{not json", signed(b"{not json")),  # 400
        ("generic", b"x" * (runtime.settings.max_body_bytes + 1), {}),  # 413, before reading
        ("nowhere", first, {}),  # 404
    ]
    for network, data, headers in cases:
        assert answer(fast, network, data, headers) == answer(flask_route, network, data, headers), (network, headers)


def test_webhook_answers_are_compact_json_like_jsonify(client):
    response = post(client, b"{not json")
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert text.startswith('{"error":"') and '", "' not in text and text.endswith("}\n")
