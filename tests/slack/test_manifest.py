"""app_manifest.yml declares what the app uses: its commands, the scopes of the Web API methods
it calls, the events it listens to, and one request URL (/slack/events) for all of them."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from chatops.slack import ids

ROOT = Path(__file__).resolve().parents[2]
# Web API method (as slack_sdk names it) → the bot scope it needs.
SCOPES = {"chat_postMessage": "chat:write", "chat_update": "chat:write", "usergroups_list": "usergroups:read",
          "views_open": None, "views_push": None, "views_update": None, "views_publish": None,
          "chat_postEphemeral": "chat:write", "files_upload_v2": "files:write",
          "conversations_open": "im:write", "conversations_history": "channels:history",
          "conversations_replies": "channels:history", "conversations_list": "channels:read",
          "users_info": "users:read", "users_getPresence": "users:read", "dnd_info": "dnd:read"}


def manifest() -> dict:
    return yaml.safe_load((ROOT / "app_manifest.yml").read_text(encoding="utf-8"))


def test_commands_and_urls():
    data = manifest()
    commands = {c["command"]: c for c in data["features"]["slash_commands"]}
    assert {ids.TICKET_COMMAND, "/oncall", "/stats"} <= commands.keys()
    urls = [c["url"] for c in commands.values()]
    urls += [data["settings"]["event_subscriptions"]["request_url"], data["settings"]["interactivity"]["request_url"]]
    assert all(url.endswith("/slack/events") for url in urls)
    assert data["features"]["app_home"]["home_tab_enabled"] is True


def test_every_method_the_app_calls_has_its_scope():
    scopes = set(manifest()["oauth_config"]["scopes"]["bot"])
    called = set()
    for path in (ROOT / "chatops" / "slack").rglob("*.py"):
        called |= set(re.findall(r"client\.([a-z]+_[A-Za-z_0-9]+)\(", path.read_text(encoding="utf-8")))
    assert called, "no Web API calls found"
    unknown = called - SCOPES.keys()
    assert not unknown, f"add these methods to SCOPES: {unknown}"
    assert {SCOPES[m] for m in called if SCOPES[m]} <= scopes


def test_events_the_app_listens_to_are_subscribed():
    events = set(manifest()["settings"]["event_subscriptions"]["bot_events"])
    listened = set()
    for path in (ROOT / "chatops" / "slack" / "listeners").rglob("*.py"):
        listened |= set(re.findall(r'@app\.event\("([a-z_.]+)"\)', path.read_text(encoding="utf-8")))
    assert "app_home_opened" in listened
    assert {e for e in listened if e != "message"} <= events
    if "message" in listened:
        assert {"message.channels", "message.groups"} <= events
