"""The emulated workspace: members, channels, messages and threads, modals and Home tabs,
ephemeral messages, user groups, files, the rate limit and the log of every call. Thread-safe:
hold `lock` while reading or changing it; `touch()` wakes whoever `wait()`s for a change."""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# Methods that post or edit channel content: the ones Slack rate-limits per channel.
RATE_LIMITED = frozenset({"chat.postMessage", "chat.update"})


@dataclass
class User:
    """A member of the workspace."""

    id: str
    name: str


@dataclass
class Message:
    """A message in a channel; thread replies have `thread_ts`."""

    channel: str
    ts: str
    text: str
    user: str = ""
    blocks: list = field(default_factory=list)
    attachments: list = field(default_factory=list)
    thread_ts: str | None = None
    metadata: dict | None = None
    files: list = field(default_factory=list)
    edits: int = 0  # chat.update calls so far, so a rendering cache knows the message changed

    @property
    def edited(self) -> bool:
        """True once chat.update changed it."""
        return self.edits > 0


@dataclass
class Ephemeral:
    """Shown only to `user` (a response_url answer, chat.postEphemeral)."""

    id: int
    user: str | None
    channel: str | None
    text: str
    blocks: list = field(default_factory=list)


@dataclass
class Call:
    """One Web API call as the emulator received it."""

    method: str
    args: dict
    token: str | None
    status: int = 200
    at: float = 0.0  # time.monotonic() when it arrived
    wall: float = 0.0  # time.time() when it arrived (comparable with another process's clock)
    answer: dict = field(default_factory=dict)


def usergroup(group_id: str, handle: str, name: str, users: Iterable[str] = (), *, team_id: str = "T0001") -> dict:
    """A user group as usergroups.list returns it."""
    users = list(users)
    return {"id": group_id, "team_id": team_id, "is_usergroup": True, "handle": handle, "name": name,
            "description": "", "date_delete": 0, "user_count": len(users), "users": users}


def is_member_id(name: str) -> bool:
    """A Slack member id (U…/W…), which chat.postMessage takes as "the DM with this person"."""
    return name[:1] in ("U", "W") and name[1:].isalnum() and name.isupper()


class Workspace:
    """One Slack workspace as the Web API shows it to the app holding `token`.

    `anything_exists=True` is a workspace where every channel, member id, trigger id, view id
    and response_url the app names exists (tests make them up); False knows only the `users`
    and `channels` given, as the sandbox does, and answers Slack's errors for the rest.
    """

    def __init__(self, *, token: str, users: Iterable[User] = (), channels: Iterable[str] = (),
                 usergroups: Iterable[dict] = (), anything_exists: bool = False, bot_user: str = "UBOT",
                 bot_id: str = "B0001", team_id: str = "T0001", team: str = "Workspace", id_tag: str = "",
                 app_token: str | None = None, keep: int | None = None) -> None:
        self.token = token
        self.app_token = app_token
        self.socket_url: str | None = None  # what apps.connections.open hands out
        self.anything_exists = anything_exists
        self.bot_user, self.bot_id, self.team_id, self.team = bot_user, bot_id, team_id, team
        self.id_tag = id_tag
        self.users: dict[str, User] = {user.id: user for user in users}
        self.unknown_users: set[str] = set()  # member ids that do not exist even in an open workspace
        self.channels: dict[str, str] = {}  # "#name" → channel id, in the order they were made
        for name in channels:
            self.add_channel(name)
        self.missing_channels: set[str] = set()  # names or ids answered channel_not_found
        self.outside_channels: set[str] = set()  # channel ids the bot is not in: not_in_channel
        # Image URLs Slack cannot download (expired or private media): a message showing one is
        # refused with invalid_blocks, as Slack does.
        self.unreachable_images: set[str] = set()
        self.usergroups: list[dict] = [dict(group) for group in usergroups]
        # method → the OAuth scope it needs and the app lacks: answered missing_scope, as Slack does
        self.missing_scopes: dict[str, str] = {}
        self.presence: dict[str, str] = {}  # member id → "active" | "away" (users.getPresence; absent: active)
        self.dnd: dict[str, tuple[float, float]] = {}  # member id → (start, end) epoch seconds of do-not-disturb
        self.messages: list[Message] = []
        self.views: dict[str, dict] = {}  # view id → the view as shown now
        self.view_users: dict[str, str | None] = {}  # view id → the person it is shown to
        self.view_history: list[dict] = []  # every view opened, pushed or updated, in order
        self.stacks: dict[str, list[str]] = {}  # user → open modal ids, top last
        self.homes: dict[str, dict] = {}  # user → last published Home view
        self.ephemerals: list[Ephemeral] = []
        self.responses: list[dict] = []  # bodies POSTed to response_url, in order
        self.triggers: dict[str, str] = {}  # trigger id → user
        self.response_targets: dict[str, tuple[str, str | None]] = {}  # response_url token → (user, channel)
        self.files: dict[str, dict[str, Any]] = {}  # file id → {id, name, title, data}
        self.rate_limit_every = 0  # every Nth rate-limited call answers 429 (0: never)
        self.retry_after = 1
        self.keep = keep  # entries the logs (calls, views shown, responses) keep; None: all, as tests read them
        self.calls: list[Call] = []
        self.version = 0
        self._limited = 0
        self._ids = itertools.count(1)
        self._ts = itertools.count(1)
        self._changed = threading.Condition()

    # -- change notification -------------------------------------------------------------------

    @property
    def lock(self) -> threading.Condition:
        """Held while reading or changing state (reentrant)."""
        return self._changed

    def touch(self) -> None:
        """Something changed: wake the readers waiting for it."""
        with self._changed:
            self.version += 1
            self._changed.notify_all()

    def wait(self, since: int, timeout: float) -> int:
        """Block until the version passes `since` (or `timeout` seconds); returns the version."""
        with self._changed:
            self._changed.wait_for(lambda: self.version > since, timeout=timeout)
            return self.version

    # -- ids -------------------------------------------------------------------------------------

    def next_ts(self) -> str:
        """Slack's ts: the post's Unix time with a unique suffix."""
        return f"{int(time.time())}.{next(self._ts):06d}"

    def next_id(self) -> int:
        """A number no other id of this workspace has."""
        return next(self._ids)

    def trigger(self, user: str) -> str:
        """A trigger id that lets the app open one modal for `user`."""
        trigger = f"{self.next_id()}.{secrets.token_hex(6)}"
        self.triggers[trigger] = user
        return trigger

    def response_token(self, user: str, channel: str | None) -> str:
        """A response_url token: answers to it become `user`'s ephemeral messages."""
        token = secrets.token_urlsafe(12)
        self.response_targets[token] = (user, channel)
        return token

    def record(self, call: Call) -> None:
        """Add `call` to the call log."""
        self._log(self.calls, call)

    def _log(self, log: list, entry: Any) -> None:
        log.append(entry)
        # Trimmed in batches, so a sandbox running for days neither grows nor copies on every call.
        if self.keep is not None and len(log) > 2 * self.keep:
            del log[:-self.keep]

    def rate_limited(self, method: str) -> bool:
        """True when this call is the one in `rate_limit_every` that Slack refuses."""
        if method not in RATE_LIMITED or not self.rate_limit_every:
            return False
        self._limited += 1
        return self._limited % self.rate_limit_every == 0

    # -- members and channels --------------------------------------------------------------------

    def user(self, user_id: str) -> User | None:
        """The member `user_id`, or None when there is none."""
        if user_id in self.unknown_users:
            return None
        found = self.users.get(user_id)
        if found is None and self.anything_exists and is_member_id(user_id):
            found = User(user_id, user_id.lower())
        return found

    def add_channel(self, name: str) -> str:
        """Create `#name` (a name without `#` is taken as its own id); returns its id."""
        if name not in self.channels:
            number = len(self.channels) + 1
            made = f"C0{self.id_tag}{number:04d}" if self.id_tag else f"C{number:08d}"
            self.channels[name] = made if name.startswith("#") else name
        return self.channels[name]

    def channel_id(self, name: str) -> str | None:
        """The id of `#name`, of a channel id, or of a person's DM with the app (a member id or a
        DM id, as Slack takes either); None when no such channel exists."""
        if name in self.missing_channels:
            return None
        if name.startswith("#"):
            found = self.add_channel(name) if self.anything_exists else self.channels.get(name)
        elif self.user(name) is not None:
            found = self.dm_channel(name)
        elif name.startswith("D") and self.user(name[1:]) is not None:
            found = name
        elif name in self.channels.values() or (self.anything_exists and name):
            found = name
        else:
            found = None
        return None if found in self.missing_channels else found

    def knows_channel(self, channel_id: str) -> bool:
        """True when conversations.history can read `channel_id`."""
        if channel_id in self.missing_channels:
            return False
        if channel_id in self.channels.values():
            return True
        if channel_id.startswith("D"):
            return self.user(channel_id[1:]) is not None
        return self.anything_exists and any(m.channel == channel_id for m in self.messages)

    @staticmethod
    def dm_channel(user: str) -> str:
        """The id of the DM between the app and `user`."""
        return f"D{user}"

    def channel_name(self, channel_id: str) -> str:
        """`#name` of a channel id (the id itself when it has no name)."""
        return next((name for name, cid in self.channels.items() if cid == channel_id), channel_id)

    # -- messages --------------------------------------------------------------------------------

    def find(self, channel: str, ts: str) -> Message | None:
        """The message `ts` in `channel`, or None."""
        return next((m for m in self.messages if m.channel == channel and m.ts == ts), None)

    def thread(self, parent: Message) -> list[Message]:
        """Replies in a parent's thread, oldest first."""
        return [m for m in self.messages if m.channel == parent.channel and m.thread_ts == parent.ts]

    def parents(self, channel: str | None = None) -> list[Message]:
        """Top-level messages (of `channel`, or everywhere), oldest first."""
        return [m for m in self.messages if m.thread_ts is None and (channel is None or m.channel == channel)]

    def post(self, channel: str, text: str, **fields: Any) -> Message:
        """Add a message to `channel` as posted now (by the app unless `user` says otherwise)."""
        message = Message(channel, self.next_ts(), text, **{"user": self.bot_user, **fields})
        self.messages.append(message)
        return message

    def add_ephemeral(self, user: str | None, channel: str | None, text: str, blocks: list | None = None) -> None:
        """Show `text` to `user` only; the fifty newest are kept."""
        self.ephemerals.append(Ephemeral(self.next_id(), user, channel, text, blocks or []))
        del self.ephemerals[:-50]

    def respond(self, token: str, body: dict) -> bool:
        """A POST to a response_url: in the channel or to the person who acted; False when the
        token was never handed out."""
        target = self.response_targets.get(token)
        if target is None and not self.anything_exists:
            return False
        user, channel = target or (None, None)
        self._log(self.responses, body)
        if body.get("response_type") == "in_channel" and channel:
            self.post(channel, body.get("text", ""), blocks=body.get("blocks") or [])
        else:
            self.add_ephemeral(user, channel, body.get("text", ""), body.get("blocks"))
        return True

    # -- modals ----------------------------------------------------------------------------------

    def open_view(self, user: str | None, view: dict, *, push: bool = False) -> dict:
        """Show `view` to `user` as a new modal (or on top of the current one)."""
        view_id = f"V{self.id_tag}{self.next_id():05d}"
        shown = {**view, "id": view_id, "hash": secrets.token_hex(4)}
        self.views[view_id] = shown
        self.view_users[view_id] = user
        self._log(self.view_history, shown)
        if user is not None:
            stack = self.stacks.setdefault(user, [])
            if not push:
                stack.clear()
            stack.append(view_id)
        return shown

    def update_view(self, view_id: str, view: dict) -> dict:
        """Replace what the modal `view_id` shows."""
        shown = {**view, "id": view_id, "hash": secrets.token_hex(4)}
        self.views[view_id] = shown
        self.view_users.setdefault(view_id, None)
        self._log(self.view_history, shown)
        return shown

    def close_view(self, user: str, view_id: str, *, everything: bool = False) -> None:
        """Close the modal `view_id` (or the whole stack)."""
        stack = self.stacks.get(user, [])
        if everything:
            stack.clear()
        elif view_id in stack:
            stack.remove(view_id)

    def top_view(self, user: str) -> dict | None:
        """The modal `user` sees now, or None."""
        stack = self.stacks.get(user) or []
        return self.views.get(stack[-1]) if stack else None
