"""The requests Slack would send to `/slack/events` for what a person did on the sandbox page:
block_actions, view_submission, slash commands and events, signed with the signing secret."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from chatops.sandbox.workspace import Workspace

TEAM = {"id": "TSANDBOX", "domain": "sandbox"}
APP_ID = "ASANDBOX"


class BadAction(ValueError):
    """The page asked for something that Slack could not have sent (unknown view, message…)."""


def signed(body: str, secret: str) -> dict[str, str]:
    """Slack's request headers for `body`: timestamp and v0 HMAC-SHA256 signature."""
    stamp = str(int(time.time()))
    return {"X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)}


def form(payload: dict) -> tuple[str, str]:
    """An interactive payload as Slack posts it: form-encoded `payload=<json>`."""
    return urlencode({"payload": json.dumps(payload, ensure_ascii=False)}), "application/x-www-form-urlencoded"


def _user(ws: Workspace, user: str) -> dict:
    person = ws.users.get(user)
    if person is None:
        raise BadAction(f"user: unknown sample user {user!r}")
    return {"id": person.id, "username": person.name, "name": person.name, "team_id": TEAM["id"]}


def _element_type(view: dict | None, blocks: list, block_id: str, action_id: str) -> dict:
    for block in blocks:
        if block.get("block_id") != block_id:
            continue
        candidates = [block.get("accessory"), block.get("element"), *(block.get("elements") or [])]
        for element in candidates:
            if element and element.get("action_id") == action_id:
                return element
    raise BadAction(f"action_id: no element {action_id!r} in block {block_id!r}")


def _option(element: dict, value: str) -> dict:
    for option in element.get("options", []):
        if option.get("value") == value:
            return option
    raise BadAction(f"value: {value!r} is not an option of {element.get('action_id')!r}")


def block_actions(ws: Workspace, base_url: str, act: dict) -> dict:
    """A click on a button, or a choice in a select or overflow menu, in a message, modal or Home."""
    user = act.get("user", "")
    block_id, action_id, value = act.get("block_id", ""), act.get("action_id", ""), act.get("value", "")
    payload: dict = {"type": "block_actions", "team": TEAM, "user": _user(ws, user), "api_app_id": APP_ID,
                     "token": "sandbox", "trigger_id": ws.trigger(user)}
    if act.get("view_id"):
        view = ws.views.get(act["view_id"])
        if view is None or ws.view_users.get(view["id"]) != user:
            raise BadAction(f"view_id: no open modal {act['view_id']!r}")
        blocks, container = view.get("blocks") or [], {"type": "view", "view_id": view["id"]}
        payload["view"] = {**view, "state": {"values": {}}}
    elif act.get("home"):
        home = ws.homes.get(user)
        if home is None:
            raise BadAction("home: nothing published for this user")
        blocks, container = home.get("blocks") or [], {"type": "view", "view_id": f"HOME{user}"}
        payload["view"] = {**home, "id": f"HOME{user}", "type": "home"}
    else:
        message = ws.find(act.get("channel", ""), act.get("ts", ""))
        if message is None:
            raise BadAction("ts: no such message")
        blocks = list(message.blocks)
        for attachment in message.attachments:
            blocks += attachment.get("blocks") or []
        container = {"type": "message", "message_ts": message.ts, "channel_id": message.channel,
                     "is_ephemeral": False}
        payload.update(channel={"id": message.channel, "name": ws.channel_name(message.channel)[1:]},
                       message={"ts": message.ts, "text": message.text, "type": "message"},
                       response_url=f"{base_url}/sandbox/respond/{ws.response_token(user, message.channel)}")
    element = _element_type(None, blocks, block_id, action_id)
    action = {"type": element["type"], "action_id": action_id, "block_id": block_id,
              "action_ts": f"{time.time():.6f}"}
    if element["type"] == "button":
        action.update(value=element.get("value", ""), text=element.get("text"))
    else:
        action["selected_option"] = _option(element, value)
    payload.update(container=container, actions=[action])
    return payload


def view_submission(ws: Workspace, act: dict) -> dict:
    """A modal's Submit: every input's state in Slack's `view.state.values` shape."""
    user = act.get("user", "")
    view = ws.views.get(act.get("view_id", ""))
    if view is None or ws.view_users.get(view["id"]) != user:
        raise BadAction(f"view_id: no open modal {act.get('view_id')!r}")
    values: dict[str, dict] = {}
    typed = act.get("values") or {}
    for block in view.get("blocks") or []:
        if block.get("type") != "input":
            continue
        element = block.get("element") or {}
        given = (typed.get(block.get("block_id", "")) or {}).get(element.get("action_id", ""))
        values.setdefault(block["block_id"], {})[element.get("action_id", "")] = _state(element, given)
    submitted = {**view, "state": {"values": values}}
    return {"type": "view_submission", "team": TEAM, "user": _user(ws, user), "api_app_id": APP_ID,
            "token": "sandbox", "trigger_id": ws.trigger(user), "view": submitted}


def _state(element: dict, given: str | list[str] | None) -> dict:
    kind = element.get("type")
    if kind == "plain_text_input":
        return {"type": kind, "value": given if given else None}
    if kind in ("static_select", "radio_buttons"):
        return {"type": kind, "selected_option": _option(element, given) if given else None}
    if kind in ("multi_static_select", "checkboxes"):  # the page sends the chosen values as a list
        chosen = [given] if isinstance(given, str) else list(given or ())
        return {"type": kind, "selected_options": [_option(element, value) for value in chosen if value]}
    if kind == "users_select":
        return {"type": kind, "selected_user": given or None}
    raise BadAction(f"element: cannot submit a {kind!r}")


def slash_command(ws: Workspace, base_url: str, act: dict) -> tuple[str, str]:
    """`/ticket …` typed in a channel: the form body Slack posts."""
    user, channel = act.get("user", ""), act.get("channel", "")
    person = _user(ws, user)
    line = (act.get("text") or "").strip()
    if not line.startswith("/"):
        raise BadAction("text: a command starts with /")
    command, _, text = line.partition(" ")
    body = urlencode({"token": "sandbox", "team_id": TEAM["id"], "team_domain": TEAM["domain"],
                      "channel_id": channel, "channel_name": ws.channel_name(channel)[1:], "user_id": user,
                      "user_name": person["name"], "command": command, "text": text.strip(), "api_app_id": APP_ID,
                      "response_url": f"{base_url}/sandbox/respond/{ws.response_token(user, channel)}",
                      "trigger_id": ws.trigger(user)})
    return body, "application/x-www-form-urlencoded"


def event(ws: Workspace, inner: dict) -> tuple[str, str]:
    """An Events API envelope around `inner`."""
    envelope = {"token": "sandbox", "team_id": TEAM["id"], "api_app_id": APP_ID, "type": "event_callback",
                "event_id": f"EvSBX{ws.next_id():08d}", "event_time": int(time.time()), "event": inner}
    return json.dumps(envelope, ensure_ascii=False), "application/json"
