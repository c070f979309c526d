"""Hostile input: any body gets a 4xx or a valid message, never a crash; signed junk is a 400;
Unicode edge cases are stored and shown intact; customer text can never become Slack markup."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatops.slack import blocks
from chatops.slack.blocks.common import escape
from chatops.views import load_view
from integrations.base import WebhookError
from integrations.webhook import GenericWebhook, sign
from tests.helpers import inbound

SECRET = "hostile-secret"
EDGE_CASES = [
    "مرحبا، طلبي لم يصل \u200f(RTL)",  # Arabic with a right-to-left mark
    "ゼロ幅\u200bスペース\u200dと\ufeffBOM",  # zero-width space / joiner, BOM
    "家族 👨‍👩‍👧‍👦 と国旗 🇯🇵 と肌色 👍🏽",  # ZWJ sequence, flag, skin tone
    "𠮷野家の𩸽が届かない",  # 4-byte (non-BMP) kanji
    "ｶﾞｷﾞｸﾞ 半角カナ と ＡＢＣ 全角英字",
    "<!channel> *bold* _it_ ~s~ `code` <https://x.example|link> &amp; <@U123>",
    "e\u0301 combining, \x00 nul? no: \u2028line\u2029para",
]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=2048))
def test_any_signed_body_is_a_message_or_a_400(body):
    source = GenericWebhook(SECRET)
    try:
        answer = source.handle(method="POST", headers={"X-Chatops-Signature": sign(SECRET, body)}, query={},
                               body=body)
    except WebhookError as exc:
        assert exc.status == 400
    else:
        assert answer.status == 202 and len(answer.messages) == 1


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=12), st.one_of(st.none(), st.integers(), st.text(max_size=40),
                                                       st.lists(st.integers(), max_size=3)), max_size=12))
def test_any_json_object_is_a_message_or_a_400_naming_a_field(data):
    body = json.dumps(data).encode()
    try:
        GenericWebhook(SECRET).handle(method="POST", headers={"X-Chatops-Signature": sign(SECRET, body)},
                                      query={}, body=body)
    except WebhookError as exc:
        assert exc.status == 400 and exc.params.get("field")


@given(st.binary(max_size=256), st.text(max_size=80))
def test_forged_signatures_are_401(body, header):
    if header.strip() == sign(SECRET, body):
        return
    with pytest.raises(WebhookError) as caught:
        GenericWebhook(SECRET).handle(method="POST", headers={"X-Chatops-Signature": header}, query={}, body=body)
    assert caught.value.status == 401


@given(st.text())
def test_escaped_customer_text_has_no_markup_left(text):
    shown = escape(text)
    assert "<" not in shown and ">" not in shown
    assert shown.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == text


@pytest.mark.parametrize("text", EDGE_CASES)
def test_unicode_edge_cases_are_stored_and_shown_intact(flows, session_factory, rules, clock, text):
    text = text.replace("\x00", "")  # NUL is refused by PostgreSQL text; networks never send it
    key = flows.ingest(inbound(text, author={"id": "u-edge", "handle": "@" + text[:8], "name": text[:20]})).ticket_key
    with session_factory() as session:
        card = load_view(session, key, rules=rules, now=clock())
    assert card.text == text
    message = blocks.ticket_message(card, rules, "ja")
    quoted = message["attachments"][0]["blocks"][2]["text"]["text"]
    assert escape(text).splitlines()[0] in quoted
    assert "<!channel>" not in json.dumps(message, ensure_ascii=False)
