"""The Web API methods chatops calls, answered as Slack answers them: `{"ok": true, ...}` or
`{"ok": false, "error": ...}` with Slack's own error strings, over a Workspace."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from chatops.slack.emulator.state import Call, Message, Workspace


@dataclass(frozen=True)
class Context:
    """What a method needs from the HTTP request besides its arguments."""

    base_url: str = ""  # where the emulator is served, e.g. http://127.0.0.1:5000/sandbox
    path: str = ""  # the same without scheme and host, for links the page opens itself
    upload: tuple[str, bytes] | None = None  # a multipart `file` (name, content)


Method = Callable[[Workspace, dict, Context], dict]


def dispatch(ws: Workspace, method: str, args: dict, token: str | None, context: Context = Context(), *,
             unreadable: str | None = None) -> Call:
    """Carry out one call (token checked, rate limit applied) and log it; the Call holds the
    HTTP status and the answer. `unreadable` names an argument that was not valid JSON. The
    caller holds `ws.lock`."""
    call = Call(method, args, token, at=time.monotonic(), wall=time.time())
    expected = ws.app_token if method == "apps.connections.open" else ws.token
    if token is None or token != expected:
        call.answer = {"ok": False, "error": "invalid_auth"}
    elif unreadable:
        call.answer = {"ok": False, "error": f"invalid_{unreadable}"}
    elif method in ws.missing_scopes:
        call.answer = {"ok": False, "error": "missing_scope", "needed": ws.missing_scopes[method]}
    elif ws.rate_limited(method):
        call.status, call.answer = 429, {"ok": False, "error": "ratelimited"}
    elif (handler := METHODS.get(method)) is None:
        call.answer = {"ok": False, "error": "unknown_method"}
    else:
        call.answer = handler(ws, _named_blocks(args), context)
    ws.record(call)
    return call


def _named_blocks(args: dict) -> dict:
    """`args` with a block_id on every block that has none, as Slack gives them (so a click
    names its block); the call log keeps what the app sent."""
    named = dict(args)

    def name(blocks):
        if not isinstance(blocks, list):
            return blocks
        return [{**block, "block_id": f"b.{index}"} if isinstance(block, dict) and not block.get("block_id")
                else block for index, block in enumerate(blocks)]

    if "blocks" in named:
        named["blocks"] = name(named["blocks"])
    if isinstance(named.get("view"), dict) and "blocks" in named["view"]:
        named["view"] = {**named["view"], "blocks": name(named["view"]["blocks"])}
    if isinstance(named.get("attachments"), list):
        named["attachments"] = [{**a, "blocks": name(a["blocks"])} if isinstance(a, dict) and "blocks" in a else a
                                for a in named["attachments"]]
    return named


def _error(error: str) -> dict:
    return {"ok": False, "error": error}


def _unreachable_image(ws: Workspace, args: dict) -> dict | None:
    """Slack's answer when a message shows an image it cannot download (None: all fine)."""
    places = [("/blocks", args.get("blocks"))] + [
        (f"/attachments/{i}/blocks", a.get("blocks")) for i, a in enumerate(args.get("attachments") or [])
        if isinstance(a, dict)]
    for prefix, blocks in places:
        for index, block in enumerate(blocks if isinstance(blocks, list) else []):
            if isinstance(block, dict) and block.get("type") == "image" and block.get("image_url") in ws.unreachable_images:
                problem = f"downloading image failed [json-pointer:{prefix}/{index}/image_url]"
                return {"ok": False, "error": "invalid_blocks", "errors": [problem],
                        "response_metadata": {"messages": [f"[ERROR] {problem}"]}}
    return None


# -- chat ------------------------------------------------------------------------------------------

def _post_message(ws: Workspace, args: dict, context: Context) -> dict:
    channel = ws.channel_id(str(args.get("channel", "")))
    if channel is None:
        return _error("channel_not_found")
    if channel in ws.outside_channels:
        return _error("not_in_channel")
    if not args.get("text") and not args.get("blocks") and not args.get("attachments"):
        return _error("no_text")
    if (refused := _unreachable_image(ws, args)) is not None:
        return refused
    thread_ts = args.get("thread_ts") or None
    if thread_ts and ws.find(channel, thread_ts) is None:
        return _error("thread_not_found")
    message = ws.post(channel, args.get("text", ""), blocks=args.get("blocks") or [],
                      attachments=args.get("attachments") or [], thread_ts=thread_ts, metadata=args.get("metadata"))
    return {"ok": True, "channel": channel, "ts": message.ts,
            "message": {"type": "message", "text": message.text, "ts": message.ts, "thread_ts": thread_ts,
                        "bot_id": ws.bot_id, "user": ws.bot_user}}


def _update(ws: Workspace, args: dict, context: Context) -> dict:
    channel = ws.channel_id(str(args.get("channel", "")))
    message = ws.find(channel, args.get("ts", "")) if channel else None
    if message is None:
        return _error("message_not_found")
    if (refused := _unreachable_image(ws, args)) is not None:
        return refused
    message.text = args.get("text", message.text)
    message.blocks = args.get("blocks") or []
    message.attachments = args.get("attachments") or []
    if "metadata" in args:  # chat.update replaces the metadata it is given
        message.metadata = args["metadata"]
    message.edits += 1
    return {"ok": True, "channel": message.channel, "ts": message.ts, "text": message.text}


def _post_ephemeral(ws: Workspace, args: dict, context: Context) -> dict:
    if ws.user(str(args.get("user", ""))) is None:
        return _error("user_not_in_channel")
    ws.add_ephemeral(args["user"], ws.channel_id(str(args.get("channel", ""))), args.get("text", ""),
                     args.get("blocks"))
    return {"ok": True, "message_ts": ws.next_ts()}


# -- views -----------------------------------------------------------------------------------------

def _views_open(ws: Workspace, args: dict, context: Context, *, push: bool = False) -> dict:
    trigger = str(args.get("trigger_id", ""))
    user = ws.triggers.pop(trigger, None)
    if user is None and not (ws.anything_exists and trigger):
        return _error("expired_trigger_id")
    if not isinstance(args.get("view"), dict):
        return _error("invalid_arguments")
    return {"ok": True, "view": ws.open_view(user, args["view"], push=push)}


def _views_update(ws: Workspace, args: dict, context: Context) -> dict:
    view_id = str(args.get("view_id") or "")
    current = ws.views.get(view_id)
    if current is None and not (ws.anything_exists and view_id):
        return _error("not_found")
    if current is not None and args.get("hash") and args["hash"] != current.get("hash"):
        return _error("hash_conflict")
    if not isinstance(args.get("view"), dict):
        return _error("invalid_arguments")
    return {"ok": True, "view": ws.update_view(view_id, args["view"])}


def _views_publish(ws: Workspace, args: dict, context: Context) -> dict:
    if ws.user(str(args.get("user_id", ""))) is None:
        return _error("user_not_found")
    if not isinstance(args.get("view"), dict):
        return _error("invalid_arguments")
    ws.homes[args["user_id"]] = args["view"]
    return {"ok": True, "view": args["view"]}


# -- conversations ---------------------------------------------------------------------------------

def _shown(message: Message, args: dict) -> dict:
    shown = {"type": "message", "ts": message.ts, "text": message.text, "user": message.user}
    if message.thread_ts:
        shown["thread_ts"] = message.thread_ts
    if message.metadata and str(args.get("include_all_metadata")).lower() in ("1", "true"):
        shown["metadata"] = message.metadata
    return shown


def _history(ws: Workspace, args: dict, context: Context) -> dict:
    channel = str(args.get("channel", ""))
    if not ws.knows_channel(channel):
        return _error("channel_not_found")
    oldest = float(args.get("oldest") or 0)
    found = [_shown(m, args) for m in reversed(ws.parents(channel)) if float(m.ts) > oldest]
    return {"ok": True, "messages": found, "has_more": False}


def _replies(ws: Workspace, args: dict, context: Context) -> dict:
    found = ws.find(str(args.get("channel", "")), str(args.get("ts", "")))
    parent = ws.find(found.channel, found.thread_ts) if found is not None and found.thread_ts else found
    if parent is None:
        return _error("thread_not_found")
    return {"ok": True, "messages": [_shown(m, args) for m in [parent, *ws.thread(parent)]], "has_more": False}


def _list(ws: Workspace, args: dict, context: Context) -> dict:
    return {"ok": True, "channels": [{"id": cid, "name": name.removeprefix("#"), "is_channel": True,
                                      "is_member": cid not in ws.outside_channels}
                                     for name, cid in ws.channels.items() if cid not in ws.missing_channels],
            "response_metadata": {"next_cursor": ""}}


def _open(ws: Workspace, args: dict, context: Context) -> dict:
    users = [u for u in str(args.get("users", "")).split(",") if u]
    if len(users) != 1 or ws.user(users[0]) is None:
        return _error("user_not_found")
    return {"ok": True, "channel": {"id": ws.dm_channel(users[0])}}


# -- people ----------------------------------------------------------------------------------------

def _users_info(ws: Workspace, args: dict, context: Context) -> dict:
    person = ws.user(str(args.get("user", "")))
    if person is None:
        return _error("user_not_found")
    return {"ok": True, "user": {"id": person.id, "name": person.name, "real_name": person.name,
                                 "tz": "Asia/Tokyo", "profile": {"display_name": person.name}}}


def _usergroups(ws: Workspace, args: dict, context: Context) -> dict:
    # Slack leaves `users` out unless include_users is true.
    if str(args.get("include_users", "")).lower() in ("true", "1"):
        return {"ok": True, "usergroups": ws.usergroups}
    return {"ok": True, "usergroups": [{k: v for k, v in group.items() if k != "users"} for group in ws.usergroups]}


def _usergroup_users(ws: Workspace, args: dict, context: Context) -> dict:
    group = next((group for group in ws.usergroups if group["id"] == args.get("usergroup")), None)
    if group is None:
        return _error("no_such_subteam")
    return {"ok": True, "users": list(group.get("users") or [])}


def _presence(ws: Workspace, args: dict, context: Context) -> dict:
    # Another member's presence is only "active" or "away" (the extra fields are for the caller itself).
    person = ws.user(str(args.get("user") or ws.bot_user))
    if person is None:
        return _error("user_not_found")
    return {"ok": True, "presence": ws.presence.get(person.id, "active")}


def _dnd_info(ws: Workspace, args: dict, context: Context) -> dict:
    # For another member Slack answers the schedule only: whether DND is on and its next window.
    person = ws.user(str(args.get("user") or ws.bot_user))
    if person is None:
        return _error("user_not_found")
    window = ws.dnd.get(person.id)
    if window is None:
        return {"ok": True, "dnd_enabled": False, "next_dnd_start_ts": 1, "next_dnd_end_ts": 1}
    return {"ok": True, "dnd_enabled": True, "next_dnd_start_ts": int(window[0]), "next_dnd_end_ts": int(window[1])}


# -- files -----------------------------------------------------------------------------------------

def _file_shown(file: dict, context: Context) -> dict:
    return {"id": file["id"], "name": file["name"], "title": file["title"], "size": len(file["data"] or b""),
            "url_private": f"{context.path}/files/{file['id']}"}


def _new_file(ws: Workspace, name: str, title: str, data: bytes | None) -> dict:
    file = {"id": f"F{ws.id_tag}{ws.next_id():05d}", "name": name, "title": title, "data": data}
    ws.files[file["id"]] = file
    return file


def _files_upload(ws: Workspace, args: dict, context: Context) -> dict:
    """The legacy one-step upload (multipart `file`, or `content`)."""
    names = [c for c in str(args.get("channels") or args.get("channel") or "").split(",") if c]
    targets = [ws.channel_id(name) for name in names]
    if None in targets:
        return _error("channel_not_found")
    sent_name, data = context.upload or (None, str(args.get("content") or "").encode())
    name = args.get("filename") or sent_name or args.get("title") or "file"
    file = _new_file(ws, name, args.get("title") or name, data)
    for channel in targets:
        ws.post(channel, args.get("initial_comment", ""), thread_ts=args.get("thread_ts") or None,
                files=[_file_shown(file, context)])
    return {"ok": True, "file": _file_shown(file, context)}


def _upload_url(ws: Workspace, args: dict, context: Context) -> dict:
    if not args.get("filename") or not str(args.get("length") or "").isdigit():
        return _error("invalid_arguments")
    file = _new_file(ws, args["filename"], args["filename"], None)
    return {"ok": True, "file_id": file["id"], "upload_url": f"{context.base_url}/upload/{file['id']}"}


def _complete_upload(ws: Workspace, args: dict, context: Context) -> dict:
    wanted = args.get("files")
    if not isinstance(wanted, list) or not wanted:
        return _error("invalid_arguments")
    found = []
    for entry in wanted:
        file = ws.files.get(entry.get("id", "")) if isinstance(entry, dict) else None
        if file is None or file["data"] is None:
            return _error("file_not_found")
        file["title"] = entry.get("title") or file["name"]
        found.append(_file_shown(file, context))
    name = str(args.get("channel_id") or args.get("channels") or "")
    if name:
        channel = ws.channel_id(name.split(",")[0])
        if channel is None:
            return _error("channel_not_found")
        thread_ts = args.get("thread_ts") or None
        if thread_ts and ws.find(channel, thread_ts) is None:
            return _error("thread_not_found")
        ws.post(channel, args.get("initial_comment", ""), thread_ts=thread_ts, files=found)
    return {"ok": True, "files": found}


def _files_info(ws: Workspace, args: dict, context: Context) -> dict:
    file = ws.files.get(str(args.get("file", "")))
    if file is None or file["data"] is None:
        return _error("file_not_found")
    return {"ok": True, "file": _file_shown(file, context)}


# -- the app itself --------------------------------------------------------------------------------

def _auth_test(ws: Workspace, args: dict, context: Context) -> dict:
    return {"ok": True, "url": f"{context.base_url}/", "team": ws.team, "team_id": ws.team_id,
            "user_id": ws.bot_user, "bot_id": ws.bot_id}


def _connections_open(ws: Workspace, args: dict, context: Context) -> dict:
    if ws.socket_url is None:
        return _error("socket_mode_not_enabled")
    return {"ok": True, "url": ws.socket_url}


METHODS: dict[str, Method] = {
    "chat.postMessage": _post_message,
    "chat.update": _update,
    "chat.postEphemeral": _post_ephemeral,
    "views.open": _views_open,
    "views.push": lambda ws, args, context: _views_open(ws, args, context, push=True),
    "views.update": _views_update,
    "views.publish": _views_publish,
    "conversations.history": _history,
    "conversations.replies": _replies,
    "conversations.list": _list,
    "conversations.open": _open,
    "users.info": _users_info,
    "usergroups.list": _usergroups,
    "usergroups.users.list": _usergroup_users,
    "users.getPresence": _presence,
    "dnd.info": _dnd_info,
    "files.upload": _files_upload,
    "files.getUploadURLExternal": _upload_url,
    "files.completeUploadExternal": _complete_upload,
    "files.info": _files_info,
    "auth.test": _auth_test,
    "apps.connections.open": _connections_open,
}
