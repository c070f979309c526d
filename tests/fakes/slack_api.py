"""A fake Slack Web API on 127.0.0.1: speaks the real wire format (form or JSON bodies, Bearer
token, `{"ok": ...}` answers, 429 with `Retry-After`), keeps channels, threads and views the way
Slack shows them, and records every call so tests can assert what a person would see."""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.http_recorder import stop

# Fields slack_sdk sends JSON-encoded inside form bodies.
_JSON_FIELDS = {"blocks", "attachments", "view", "metadata"}
# Methods that post or edit channel content: the ones Slack rate-limits per channel.
RATE_LIMITED = {"chat.postMessage", "chat.update"}


@dataclass
class Call:
    """One Web API call as Slack received it."""

    method: str
    args: dict
    token: str | None
    status: int = 200
    at: float = 0.0  # time.monotonic() when it arrived
    wall: float = 0.0  # time.time() when it arrived (comparable with another process's clock)


@dataclass
class Posted:
    """A message in a channel (a thread line has `thread_ts`)."""

    channel: str
    ts: str
    text: str
    blocks: list = field(default_factory=list)
    attachments: list = field(default_factory=list)
    thread_ts: str | None = None
    edits: int = 0
    metadata: dict | None = None


class FakeSlack:
    """`with FakeSlack() as slack:`; point `SLACK_API_URL` at `slack.api_url`.

    - `rate_limit_every = N`: every Nth call to chat.postMessage / chat.update answers 429 with
      `Retry-After: retry_after` (and changes nothing).
    - `missing_channels`: channel ids answered with `channel_not_found`.
    - `token`: the bot token every call must carry (`invalid_auth` otherwise).
    - DMs: a post to a member id (`U…`) lands in that person's DM channel (`D…`, as
      `conversations.open` names it), as Slack does.
    """

    def __init__(self, *, token: str = "xoxb-test", rate_limit_every: int = 0, retry_after: int = 1) -> None:
        self.token = token
        self.app_token = "xapp-test"
        self.socket_url: str | None = None  # what apps.connections.open hands out
        self.rate_limit_every = rate_limit_every
        self.retry_after = retry_after
        self.missing_channels: set[str] = set()
        # Methods whose next call is carried out but never answered (the connection drops), as
        # when a process dies or a network times out after Slack has acted.
        self.lose_answer: list[str] = []
        # `hang_on_post = N`: the Nth chat.postMessage is carried out, then left unanswered until
        # `release` is set (`hung` tells the test it happened) — the moment to kill a process.
        self.hang_on_post = 0
        # `hang_when(method, args)`: the first call it is true for is carried out, then left
        # unanswered until `release` (like hang_on_post, for a chosen call, e.g. a page DM).
        self.hang_when = None
        self.hung = threading.Event()
        self.release = threading.Event()
        self._posts = 0
        self.calls: list[Call] = []
        self.messages: list[Posted] = []
        self.views: list[dict] = []  # views.open / push / update, in order
        self.homes: dict[str, dict] = {}  # user id → last published Home view
        self.responses: list[dict] = []  # bodies POSTed to response_url
        # The user groups the bundled rules.yaml names, as usergroups.list returns them.
        self.usergroups: list[dict] = [dict(group) for group in BUNDLED_GROUPS]
        self.unknown_users: set[str] = set()  # ids users.info answers user_not_found for
        self.channel_ids: dict[str, str] = {}  # "#name" → channel id
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._epoch = int(time.time())
        self._limited = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                outer._serve(self)

            do_GET = do_POST

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._runner = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # -- addresses ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def api_url(self) -> str:
        """The value for SLACK_API_URL."""
        return self.url + "/api/"

    def response_url(self, name: str = "r1") -> str:
        """A response_url for an interactive payload or slash command."""
        return f"{self.url}/respond/{name}"

    def __enter__(self) -> FakeSlack:
        self._runner.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        stop(self.server)

    # -- what a person sees ------------------------------------------------------------------

    def parents(self, channel: str | None = None) -> list[Posted]:
        """Top-level messages, oldest first."""
        return [m for m in self.messages if m.thread_ts is None and (channel is None or m.channel == channel)]

    def thread(self, parent: Posted) -> list[Posted]:
        """Replies in a parent's thread, oldest first."""
        return [m for m in self.messages if m.thread_ts == parent.ts and m.channel == parent.channel]

    def methods(self) -> list[str]:
        return [call.method for call in self.calls]

    def ephemerals(self) -> list[str]:
        """Texts shown only to the person who acted (response_url and chat.postEphemeral)."""
        texts = [r.get("text", "") for r in self.responses if r.get("response_type", "ephemeral") == "ephemeral"]
        texts += [c.args.get("text", "") for c in self.calls if c.method == "chat.postEphemeral"]
        return texts

    # -- the server --------------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length)
        if parts.path.startswith("/respond/"):
            with self._lock:
                self.responses.append(json.loads(raw or b"{}"))
            self._answer(handler, 200, None, text="ok")
            return
        method = parts.path.removeprefix("/api/")
        args = dict(parse_qsl(parts.query))
        if "json" in (handler.headers.get("Content-Type") or ""):
            args.update(json.loads(raw or b"{}"))
        else:
            args.update(parse_qsl(raw.decode()))
        for name in _JSON_FIELDS & args.keys():
            if isinstance(args[name], str):
                args[name] = json.loads(args[name])
        auth = handler.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else args.pop("token", None)
        arrived, wall = time.monotonic(), time.time()
        with self._lock:
            status, body, headers = self._call(method, args, token)
            self.calls.append(Call(method, args, token, status, arrived, wall))
            lost = method in self.lose_answer
            if lost:
                self.lose_answer.remove(method)
            hang = self.hang_when is not None and not self.hung.is_set() and self.hang_when(method, args)
            if method == "chat.postMessage" and self.hang_on_post:
                self._posts += 1
                hang = hang or self._posts == self.hang_on_post
            if hang:
                self.hung.set()
        if hang:
            self.release.wait(120)
            lost = True
        if lost:
            handler.close_connection = True
            handler.connection.shutdown(2)
            return
        self._answer(handler, status, body, headers=headers)

    def _answer(self, handler, status: int, body: dict | None, *, headers: dict | None = None,
                text: str | None = None) -> None:
        payload = text.encode() if text is not None else json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "text/plain" if text is not None else "application/json")
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _call(self, method: str, args: dict, token: str | None) -> tuple[int, dict, dict]:
        if token != (self.app_token if method == "apps.connections.open" else self.token):
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        if method in RATE_LIMITED and self.rate_limit_every:
            self._limited += 1
            if self._limited % self.rate_limit_every == 0:
                return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(self.retry_after)}
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        return 200, handler(args), {}

    # -- methods (the subset the app calls) --------------------------------------------------

    def _next_ts(self) -> str:
        # Slack's ts is the post's Unix time with a unique suffix; here: start time + a counter.
        return f"{self._epoch}.{next(self._ts):06d}"

    def channel_id(self, name: str) -> str:
        """Slack answers with channel ids even when posted to by `#name` (or a member id: a DM)."""
        if _is_member(name):
            return self.dm_channel(name)
        if not name.startswith("#"):
            return name
        return self.channel_ids.setdefault(name, f"C{len(self.channel_ids) + 1:08d}")

    @staticmethod
    def dm_channel(user: str) -> str:
        """The id of the DM channel between the bot and member `user`."""
        return "D" + user[1:]

    def dms(self, user: str) -> list[Posted]:
        """Messages the bot sent to `user` directly, oldest first."""
        return self.parents(self.dm_channel(user))

    def _chat_postMessage(self, args: dict) -> dict:  # noqa: N802 - Slack's method name
        if args.get("channel", "") in self.missing_channels:
            return {"ok": False, "error": "channel_not_found"}
        channel = self.channel_id(args.get("channel", ""))
        if channel in self.missing_channels:
            return {"ok": False, "error": "channel_not_found"}
        if not args.get("text") and not args.get("blocks") and not args.get("attachments"):
            return {"ok": False, "error": "no_text"}
        thread_ts = args.get("thread_ts")
        if thread_ts and not any(m.ts == thread_ts and m.channel == channel for m in self.messages):
            return {"ok": False, "error": "thread_not_found"}
        posted = Posted(channel, self._next_ts(), args.get("text", ""), args.get("blocks") or [],
                        args.get("attachments") or [], thread_ts, metadata=args.get("metadata"))
        self.messages.append(posted)
        return {"ok": True, "channel": channel, "ts": posted.ts,
                "message": {"text": posted.text, "ts": posted.ts, "thread_ts": thread_ts}}

    def _chat_update(self, args: dict) -> dict:
        for message in self.messages:
            if message.channel == args.get("channel") and message.ts == args.get("ts"):
                message.text = args.get("text", message.text)
                message.blocks = args.get("blocks") or []
                message.attachments = args.get("attachments") or []
                if "metadata" in args:  # chat.update replaces the metadata it is given
                    message.metadata = args["metadata"]
                message.edits += 1
                return {"ok": True, "channel": message.channel, "ts": message.ts, "text": message.text}
        return {"ok": False, "error": "message_not_found"}

    def _chat_postEphemeral(self, args: dict) -> dict:  # noqa: N802
        return {"ok": True, "message_ts": self._next_ts()}

    def _views_open(self, args: dict) -> dict:
        view = {**args["view"], "id": f"V{len(self.views) + 1:05d}", "hash": "h1"}
        self.views.append(view)
        return {"ok": True, "view": view}

    _views_push = _views_open

    def _views_update(self, args: dict) -> dict:
        view = {**args["view"], "id": args.get("view_id"), "hash": "h2"}
        self.views.append(view)
        return {"ok": True, "view": view}

    def _views_publish(self, args: dict) -> dict:
        self.homes[args["user_id"]] = args["view"]
        return {"ok": True, "view": args["view"]}

    def _shown(self, message: Posted, args: dict) -> dict:
        shown = {"type": "message", "ts": message.ts, "text": message.text, "thread_ts": message.thread_ts}
        if message.metadata and str(args.get("include_all_metadata")).lower() in ("1", "true"):
            shown["metadata"] = message.metadata
        return shown

    def _conversations_history(self, args: dict) -> dict:
        channel, oldest = args.get("channel", ""), float(args.get("oldest") or 0)
        known = channel in self.channel_ids.values() or (channel.startswith("D") and any(
            m.channel == channel for m in self.messages))
        if not channel.startswith(("C", "G", "D")) or not known:
            return {"ok": False, "error": "channel_not_found"}
        found = [self._shown(m, args) for m in reversed(self.parents(channel)) if float(m.ts) > oldest]
        return {"ok": True, "messages": found, "has_more": False}

    def _conversations_replies(self, args: dict) -> dict:
        parent = next((m for m in self.parents(args.get("channel")) if m.ts == args.get("ts")), None)
        if parent is None:
            return {"ok": False, "error": "thread_not_found"}
        return {"ok": True, "messages": [self._shown(m, args) for m in [parent, *self.thread(parent)]]}

    def _conversations_open(self, args: dict) -> dict:
        users = [u for u in str(args.get("users", "")).split(",") if u]
        if len(users) != 1 or not _is_member(users[0]):
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "channel": {"id": self.dm_channel(users[0])}}

    def _conversations_list(self, args: dict) -> dict:
        return {"ok": True, "channels": [{"id": cid, "name": name[1:], "is_channel": True}
                                         for name, cid in self.channel_ids.items()],
                "response_metadata": {"next_cursor": ""}}

    def _usergroups_list(self, args: dict) -> dict:
        return {"ok": True, "usergroups": self.usergroups}

    def _users_info(self, args: dict) -> dict:
        user = args.get("user", "")
        if user in self.unknown_users or not _is_member(user):
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": {"id": user, "name": user.lower(), "tz": "Asia/Tokyo",
                                     "profile": {"display_name": user.lower()}}}

    def _apps_connections_open(self, args: dict) -> dict:
        if self.socket_url is None:
            return {"ok": False, "error": "socket_mode_not_enabled"}
        return {"ok": True, "url": self.socket_url}

    def _auth_test(self, args: dict) -> dict:
        return {"ok": True, "team_id": "T0001", "user_id": "UBOT", "bot_id": "B0001"}


def _group(group_id: str, handle: str, name: str, users: list[str]) -> dict:
    return {"id": group_id, "team_id": "T0001", "is_usergroup": True, "handle": handle, "name": name,
            "description": "", "date_delete": 0, "user_count": len(users), "users": users}


BUNDLED_GROUPS = (
    _group("S0CSL1", "cs-l1", "CS L1", ["U0AGENT001", "U0AGENT002"]),
    _group("S0CSL2", "cs-l2", "CS L2", ["U0AGENT003", "U0LEAD0001"]),
    _group("S0CSL3", "cs-l3", "CS L3", ["U0LEAD0001"]),
    _group("S0BILLING", "billing-team", "Billing", ["U0AGENT004"]),
    _group("S0SREONCALL", "sre-oncall", "SRE on call", ["U0SRE0001"]),
    _group("S0MANAGERS", "cs-managers", "CS managers", ["U0MANAGER1"]),
    _group("S0SECURITY", "security", "Security", ["U0SEC00001"]),
    _group("S0RETURNS", "returns-lead", "Returns lead", ["U0RETURNS1"]),
)


def _is_member(name: str) -> bool:
    """A Slack member id (U…/W…), which chat.postMessage takes as "the DM with this person"."""
    return name[:1] in ("U", "W") and name[1:].isalnum() and name.isupper()
