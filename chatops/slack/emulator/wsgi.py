"""The emulator over HTTP, on Slack's wire format: `<prefix>/api/<method>` (form or JSON bodies,
a Bearer token or a `token` argument, 429 with Retry-After), the upload URLs files_upload_v2
posts to, the files it serves, and `<prefix>/respond/<token>`, the response_url of payloads."""

from __future__ import annotations

import json
import mimetypes
import socket
from collections.abc import Callable

from flask import Blueprint, Flask, Response, jsonify, request

from chatops.slack.emulator.methods import Context, dispatch
from chatops.slack.emulator.state import Call, Workspace

# Fields slack_sdk sends JSON-encoded inside form bodies.
JSON_FIELDS = {"blocks", "attachments", "view", "metadata", "files"}

# Decides, once a call has been carried out, whether its caller hears the answer: False drops
# the connection unanswered, as when a network times out after Slack has acted.
AnswerGate = Callable[[Call], bool]


def _arguments() -> tuple[dict, str | None, str | None]:
    """The call's arguments, its token, and the name of an argument that is not valid JSON."""
    args = request.args.to_dict()
    if request.is_json:
        args.update(request.get_json(silent=True) or {})
    else:
        args.update(request.form.to_dict())
    unreadable = None
    for name in JSON_FIELDS & args.keys():
        if isinstance(args[name], str):
            try:
                args[name] = json.loads(args[name])
            except ValueError:
                unreadable = name
    auth = request.headers.get("Authorization", "")
    token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else args.pop("token", None)
    return args, token, unreadable


def _drop_connection() -> Response:
    """Close the connection without an answer (werkzeug's server hands its socket over)."""
    connection = request.environ.get("werkzeug.socket")
    if connection is not None:
        try:
            connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    return Response(status=500)


def blueprint(ws: Workspace, prefix: str = "", *, gate: AnswerGate | None = None) -> Blueprint:
    """The emulator's endpoints under `prefix` (e.g. "/sandbox"), over `ws`."""
    bp = Blueprint("slack_emulator", __name__)

    @bp.route(f"{prefix}/api/<method>", methods=["GET", "POST"])
    def call(method: str):
        args, token, unreadable = _arguments()
        sent = request.files.get("file")
        context = Context(base_url=request.host_url.rstrip("/") + prefix, path=prefix,
                          upload=(sent.filename or "file", sent.read()) if sent is not None else None)
        with ws.lock:
            done = dispatch(ws, method, args, token, context, unreadable=unreadable)
        if done.answer.get("ok"):
            ws.touch()
        if gate is not None and not gate(done):
            return _drop_connection()
        answer = jsonify(done.answer)
        answer.status_code = done.status
        if done.status == 429:
            answer.headers["Retry-After"] = str(ws.retry_after)
        return answer

    @bp.post(f"{prefix}/upload/<file_id>")
    def upload(file_id: str):
        """The upload URL files.getUploadURLExternal hands out (step 2 of files_upload_v2)."""
        with ws.lock:
            file = ws.files.get(file_id)
            if file is None or file.get("data") is not None:
                return Response("invalid upload url", status=404)
            file["data"] = request.get_data()
        return Response(f"OK - {len(file['data'])}", status=200, content_type="text/plain")

    @bp.get(f"{prefix}/files/<file_id>")
    def download(file_id: str):
        file = ws.files.get(file_id)
        if file is None or file.get("data") is None:
            return Response("not found", status=404)
        kind = mimetypes.guess_type(file["name"])[0] or "application/octet-stream"
        if kind == "image/svg+xml" or not kind.startswith(("image/", "text/plain")):
            kind = "application/octet-stream"  # nothing a browser would run
        return Response(file["data"], content_type=kind)

    @bp.post(f"{prefix}/respond/<token>")
    def respond(token: str):
        with ws.lock:
            known = ws.respond(token, request.get_json(silent=True, force=True) or {})
        if not known:
            return jsonify(ok=False, error="expired_url"), 404
        ws.touch()
        return jsonify(ok=True)

    return bp


def make_app(ws: Workspace, prefix: str = "", *, gate: AnswerGate | None = None) -> Flask:
    """A WSGI app serving only the emulator."""
    app = Flask(__name__)
    app.register_blueprint(blueprint(ws, prefix, gate=gate))
    return app
