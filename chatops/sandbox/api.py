"""The embedded Slack Web API at `/sandbox/api/<method>`: the methods chatops calls, on the real
wire format (form or JSON bodies, a Bearer token, `{"ok": ...}` answers), kept in a Workspace.
`/sandbox/respond/<token>` is the response_url of the sandbox's interactive payloads."""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Callable

from flask import Blueprint, Response, jsonify, request

from chatops.sandbox.workspace import BOT_USER, Message, Workspace

# Fields slack_sdk sends JSON-encoded inside form bodies.
_JSON_FIELDS = {"blocks", "attachments", "view", "metadata", "files"}

Method = Callable[[Workspace, dict], dict]


def _name_blocks(args: dict) -> None:
    """Give every block without a block_id one, as Slack does (so a click names its block)."""
    groups = [args.get("blocks"), (args.get("view") or {}).get("blocks") if isinstance(args.get("view"), dict) else None]
    groups += [a.get("blocks") for a in args.get("attachments") or [] if isinstance(a, dict)]
    for blocks in groups:
        for index, block in enumerate(blocks if isinstance(blocks, list) else []):
            if isinstance(block, dict) and not block.get("block_id"):
                block["block_id"] = f"sbx.{index}"


def _args() -> dict:
    args = request.args.to_dict()
    if request.is_json:
        args.update(request.get_json(silent=True) or {})
    else:
        args.update(request.form.to_dict())
    for name in _JSON_FIELDS & args.keys():
        if isinstance(args[name], str):
            try:
                args[name] = json.loads(args[name])
            except ValueError:
                args["_bad"] = name
    return args


def api_blueprint(workspace: Workspace) -> Blueprint:
    """The Web API and response_url endpoints over `workspace`."""
    bp = Blueprint("sandbox_api", __name__)

    @bp.route("/sandbox/api/<method>", methods=["GET", "POST"])
    def call(method: str):
        args = _args()
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else args.pop("token", None)
        if token != workspace.token:
            return jsonify(ok=False, error="invalid_auth")
        if "_bad" in args:
            return jsonify(ok=False, error=f"invalid_{args['_bad']}")
        _name_blocks(args)
        handler = METHODS.get(method)
        if handler is None:
            return jsonify(ok=False, error="unknown_method")
        with workspace.lock:
            answer = handler(workspace, args)
        if answer.get("ok"):
            workspace.touch()
        return jsonify(answer)

    @bp.post("/sandbox/upload/<file_id>")
    def upload(file_id: str):
        """The upload URL handed out by files.getUploadURLExternal (step 2 of files_upload_v2)."""
        with workspace.lock:
            file = workspace.files.get(file_id)
            if file is None or file.get("data") is not None:
                return Response("invalid upload url", status=404)
            file["data"] = request.get_data()
        return Response(f"OK - {len(file['data'])}", status=200, content_type="text/plain")

    @bp.get("/sandbox/files/<file_id>")
    def download(file_id: str):
        file = workspace.files.get(file_id)
        if file is None or file.get("data") is None:
            return Response("not found", status=404)
        kind = mimetypes.guess_type(file["name"])[0] or "application/octet-stream"
        if kind == "image/svg+xml" or not kind.startswith(("image/", "text/plain")):
            kind = "application/octet-stream"  # nothing the browser would run
        return Response(file["data"], content_type=kind)

    @bp.post("/sandbox/respond/<token>")
    def respond(token: str):
        with workspace.lock:
            target = workspace.responses.get(token)
            if target is None:
                return jsonify(ok=False, error="expired_url"), 404
            body = request.get_json(silent=True) or {}
            user, channel = target
            if body.get("response_type") == "in_channel" and channel:
                workspace.messages.append(Message(channel, workspace.next_ts(), body.get("text", ""),
                                                  blocks=body.get("blocks") or []))
            else:
                workspace.add_ephemeral(user, channel, body.get("text", ""), body.get("blocks"))
        workspace.touch()
        return jsonify(ok=True)

    return bp


# -- methods ---------------------------------------------------------------------------------------

def _post_message(ws: Workspace, args: dict) -> dict:
    channel = ws.channel_id(args.get("channel", ""))
    if channel is None:
        return {"ok": False, "error": "channel_not_found"}
    if not args.get("text") and not args.get("blocks") and not args.get("attachments"):
        return {"ok": False, "error": "no_text"}
    thread_ts = args.get("thread_ts") or None
    if thread_ts and ws.find(channel, thread_ts) is None:
        return {"ok": False, "error": "thread_not_found"}
    message = Message(channel, ws.next_ts(), args.get("text", ""), blocks=args.get("blocks") or [],
                      attachments=args.get("attachments") or [], thread_ts=thread_ts, metadata=args.get("metadata"))
    ws.messages.append(message)
    return {"ok": True, "channel": channel, "ts": message.ts,
            "message": {"type": "message", "text": message.text, "ts": message.ts, "thread_ts": thread_ts,
                        "bot_id": "BSANDBOX", "user": BOT_USER}}


def _update(ws: Workspace, args: dict) -> dict:
    message = ws.find(args.get("channel", ""), args.get("ts", ""))
    if message is None:
        return {"ok": False, "error": "message_not_found"}
    message.text = args.get("text", message.text)
    message.blocks = args.get("blocks") or []
    message.attachments = args.get("attachments") or []
    message.edited = True
    message.revision += 1
    return {"ok": True, "channel": message.channel, "ts": message.ts, "text": message.text}


def _post_ephemeral(ws: Workspace, args: dict) -> dict:
    if args.get("user") not in ws.users:
        return {"ok": False, "error": "user_not_in_channel"}
    ws.add_ephemeral(args["user"], ws.channel_id(args.get("channel", "")), args.get("text", ""), args.get("blocks"))
    return {"ok": True, "message_ts": ws.next_ts()}


def _views_open(ws: Workspace, args: dict, *, push: bool = False) -> dict:
    user = ws.triggers.pop(args.get("trigger_id", ""), None)
    if user is None:
        return {"ok": False, "error": "expired_trigger_id"}
    if not isinstance(args.get("view"), dict):
        return {"ok": False, "error": "invalid_arguments"}
    return {"ok": True, "view": ws.open_view(user, args["view"], push=push)}


def _views_update(ws: Workspace, args: dict) -> dict:
    view_id = args.get("view_id")
    current = ws.views.get(view_id or "")
    if current is None:
        return {"ok": False, "error": "not_found"}
    if args.get("hash") and args["hash"] != current.get("hash"):
        return {"ok": False, "error": "hash_conflict"}
    updated = {**args["view"], "id": view_id, "hash": f"{current['hash']}+", "user": current["user"]}
    ws.views[view_id] = updated
    return {"ok": True, "view": updated}


def _views_publish(ws: Workspace, args: dict) -> dict:
    if args.get("user_id") not in ws.users:
        return {"ok": False, "error": "user_not_found"}
    ws.homes[args["user_id"]] = args["view"]
    return {"ok": True, "view": args["view"]}


def _shown(message: Message, args: dict) -> dict:
    shown = {"type": "message", "ts": message.ts, "text": message.text, "user": message.user}
    if message.thread_ts:
        shown["thread_ts"] = message.thread_ts
    if message.metadata and str(args.get("include_all_metadata")).lower() in ("1", "true"):
        shown["metadata"] = message.metadata
    return shown


def _history(ws: Workspace, args: dict) -> dict:
    channel = args.get("channel", "")
    if channel not in ws.channels.values():
        return {"ok": False, "error": "channel_not_found"}
    oldest = float(args.get("oldest") or 0)
    found = [_shown(m, args) for m in reversed(ws.messages)
             if m.channel == channel and m.thread_ts is None and float(m.ts) > oldest]
    return {"ok": True, "messages": found, "has_more": False}


def _replies(ws: Workspace, args: dict) -> dict:
    parent = ws.find(args.get("channel", ""), args.get("ts", ""))
    if parent is None:
        return {"ok": False, "error": "thread_not_found"}
    return {"ok": True, "messages": [_shown(m, args) for m in [parent, *ws.thread(parent)]], "has_more": False}


def _list(ws: Workspace, args: dict) -> dict:
    return {"ok": True, "channels": [{"id": cid, "name": name[1:], "is_channel": True, "is_member": True}
                                     for name, cid in ws.channels.items()],
            "response_metadata": {"next_cursor": ""}}


def _open(ws: Workspace, args: dict) -> dict:
    user = (args.get("users") or "").split(",")[0]
    if user not in ws.users:
        return {"ok": False, "error": "user_not_found"}
    return {"ok": True, "channel": {"id": ws.dm_channel(user)}}


def _users_info(ws: Workspace, args: dict) -> dict:
    person = ws.users.get(args.get("user", ""))
    if person is None:
        return {"ok": False, "error": "user_not_found"}
    return {"ok": True, "user": {"id": person.id, "name": person.name, "real_name": person.name,
                                 "tz": "Asia/Tokyo", "profile": {"display_name": person.name}}}


# The user groups the bundled rules.yaml names, so notices in the sandbox mention groups as
# Slack would (`<!subteam^S…>`) instead of reporting them unresolved.
_GROUPS = {"cs-l1": "CS L1", "cs-l2": "CS L2", "cs-l3": "CS L3", "billing-team": "Billing",
           "sre-oncall": "SRE on call", "cs-managers": "CS managers", "security": "Security",
           "returns-lead": "Returns lead"}


def group_id(handle: str) -> str:
    """The sandbox's user group id for a rules.yaml group handle (`cs-l2` → `S0CSL2`)."""
    return f"S0{handle.replace('-', '').upper()}"


def group_names() -> dict[str, str]:
    """User group id → handle, for showing `<!subteam^S…>` as Slack does (`@cs-l2`)."""
    return {group_id(handle): handle for handle in _GROUPS}


def _usergroups(ws: Workspace, args: dict) -> dict:
    return {"ok": True, "usergroups": [
        {"id": group_id(handle), "team_id": "T0SANDBOX", "is_usergroup": True,
         "handle": handle, "name": name, "description": "", "date_delete": 0, "user_count": 0,
         "users": []}
        for handle, name in _GROUPS.items()]}


def _files_upload(ws: Workspace, args: dict) -> dict:
    """The legacy one-step upload (multipart `file`, or `content`)."""
    channels = [c for c in (args.get("channels") or args.get("channel") or "").split(",") if c]
    sent = request.files.get("file")
    data = sent.read() if sent is not None else str(args.get("content") or "").encode()
    name = args.get("filename") or (sent.filename if sent is not None else None) or args.get("title") or "file"
    file = {"id": f"FSBX{ws.next_id():05d}", "name": name, "title": args.get("title") or name, "data": data}
    targets = []
    for channel in channels:
        channel_id = ws.channel_id(channel)
        if channel_id is None:
            return {"ok": False, "error": "channel_not_found"}
        targets.append(channel_id)
    ws.files[file["id"]] = file
    for channel_id in targets:
        ws.messages.append(Message(channel_id, ws.next_ts(), args.get("initial_comment", ""),
                                   thread_ts=args.get("thread_ts") or None, files=[_file_shown(file)]))
    return {"ok": True, "file": _file_shown(file)}


def _upload_url(ws: Workspace, args: dict) -> dict:
    if not args.get("filename") or not str(args.get("length") or "").isdigit():
        return {"ok": False, "error": "invalid_arguments"}
    file_id = f"FSBX{ws.next_id():05d}"
    ws.files[file_id] = {"id": file_id, "name": args["filename"], "title": args["filename"], "data": None}
    return {"ok": True, "file_id": file_id, "upload_url": f"{request.host_url.rstrip('/')}/sandbox/upload/{file_id}"}


def _complete_upload(ws: Workspace, args: dict) -> dict:
    wanted = args.get("files")
    if not isinstance(wanted, list) or not wanted:
        return {"ok": False, "error": "invalid_arguments"}
    found = []
    for entry in wanted:
        file = ws.files.get(entry.get("id", ""))
        if file is None or file["data"] is None:
            return {"ok": False, "error": "file_not_found"}
        file["title"] = entry.get("title") or file["name"]
        found.append(_file_shown(file))
    channel_name = args.get("channel_id") or args.get("channels") or ""
    if channel_name:
        channel = ws.channel_id(channel_name.split(",")[0])
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        thread_ts = args.get("thread_ts") or None
        if thread_ts and ws.find(channel, thread_ts) is None:
            return {"ok": False, "error": "thread_not_found"}
        ws.messages.append(Message(channel, ws.next_ts(), args.get("initial_comment", ""), thread_ts=thread_ts,
                                   files=found))
    return {"ok": True, "files": found}


def _file_shown(file: dict) -> dict:
    return {"id": file["id"], "name": file["name"], "title": file["title"], "size": len(file["data"] or b""),
            "url_private": f"/sandbox/files/{file['id']}"}


def _files_info(ws: Workspace, args: dict) -> dict:
    file = ws.files.get(args.get("file", ""))
    if file is None or file["data"] is None:
        return {"ok": False, "error": "file_not_found"}
    return {"ok": True, "file": _file_shown(file)}


def _auth_test(ws: Workspace, args: dict) -> dict:
    return {"ok": True, "url": "http://sandbox/", "team": "Sandbox", "team_id": "TSANDBOX", "user_id": BOT_USER,
            "bot_id": "BSANDBOX"}


METHODS: dict[str, Method] = {
    "chat.postMessage": _post_message,
    "chat.update": _update,
    "chat.postEphemeral": _post_ephemeral,
    "views.open": _views_open,
    "views.push": lambda ws, args: _views_open(ws, args, push=True),
    "views.update": _views_update,
    "views.publish": _views_publish,
    "conversations.history": _history,
    "conversations.replies": _replies,
    "conversations.list": _list,
    "conversations.open": _open,
    "users.info": _users_info,
    "usergroups.list": _usergroups,
    "files.upload": _files_upload,
    "files.getUploadURLExternal": _upload_url,
    "files.completeUploadExternal": _complete_upload,
    "files.info": _files_info,
    "auth.test": _auth_test,
}
