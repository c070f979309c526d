"""The sandbox's in-memory Slack workspace: channels, messages, threads, modals, Home tabs,
ephemeral messages and what the networks showed customers. Every change bumps `version`, and
`wait()` lets the page long-poll for the next one."""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

BOT_USER = "USANDBOXBOT"


@dataclass
class SandboxUser:
    """A sample person the page can act as."""

    id: str
    name: str
    role: str  # agent, lead, manager


@dataclass
class Message:
    """A message in a channel; thread replies have `thread_ts`."""

    channel: str
    ts: str
    text: str
    user: str = BOT_USER
    blocks: list = field(default_factory=list)
    attachments: list = field(default_factory=list)
    thread_ts: str | None = None
    metadata: dict | None = None
    edited: bool = False
    files: list = field(default_factory=list)
    revision: int = 0  # bumped by chat.update, so the page's rendering cache knows


@dataclass
class Ephemeral:
    """Shown only to `user` (a response_url answer, chat.postEphemeral, a slash command's ack)."""

    id: int
    user: str
    channel: str | None
    text: str
    blocks: list = field(default_factory=list)


@dataclass
class CustomerPost:
    """One line of the customer panel: what a customer wrote, or an agent's reply the network
    showed them."""

    id: int
    network: str
    account: str
    author: str
    text: str
    direction: str  # "in" (customer) or "out" (reply)
    ticket: str | None = None
    at: float = 0.0
    conversation_id: str | None = None


class Workspace:
    """Thread-safe state shared by the embedded Web API and the page."""

    def __init__(self, *, token: str, channels: dict[str, dict], users: list[SandboxUser]) -> None:
        self.token = token
        self.users = {user.id: user for user in users}
        # "#name" → channel id, in rules.yaml order
        self.channels = {name: f"C0SBX{index:04d}" if name.startswith("#") else name
                         for index, name in enumerate(channels, start=1)}
        self.channel_topics = dict(channels)
        self.messages: list[Message] = []
        self.views: dict[str, dict] = {}  # view id → view
        self.stacks: dict[str, list[str]] = {}  # user → open modal ids, top last
        self.homes: dict[str, dict] = {}
        self.ephemerals: list[Ephemeral] = []
        self.customer: list[CustomerPost] = []
        self.triggers: dict[str, str] = {}  # trigger id → user
        self.replay: dict[str, Any] = {"running": False, "sent": 0, "total": 0, "started": False}
        self.replies_seen: set[str] = set()  # idempotency keys of replies the networks showed
        self.rendered: dict[tuple, str] = {}  # (channel, ts, revision, lang) → HTML, see state.py
        self.files: dict[str, dict[str, Any]] = {}  # file id → {id, name, title, data}
        self.responses: dict[str, tuple[str, str | None]] = {}  # response_url token → (user, channel)
        self.version = 0
        self._ids = itertools.count(1)
        self._ts = itertools.count(1)
        self._changed = threading.Condition()

    # -- change notification -------------------------------------------------------------------

    def touch(self) -> None:
        """Something changed: wake the pages waiting for it."""
        with self._changed:
            self.version += 1
            self._changed.notify_all()

    def wait(self, since: int, timeout: float) -> int:
        """Block until the version passes `since` (or `timeout` seconds); returns the version."""
        with self._changed:
            self._changed.wait_for(lambda: self.version > since, timeout=timeout)
            return self.version

    @property
    def lock(self) -> threading.Condition:
        """Held while reading or changing state."""
        return self._changed

    # -- ids -------------------------------------------------------------------------------------

    def next_ts(self) -> str:
        """Slack's ts: the post's Unix time with a unique suffix."""
        return f"{int(time.time())}.{next(self._ts):06d}"

    def next_id(self) -> int:
        return next(self._ids)

    def trigger(self, user: str) -> str:
        """A trigger id that lets the app open one modal for `user`."""
        trigger = f"{self.next_id()}.{secrets.token_hex(6)}"
        self.triggers[trigger] = user
        return trigger

    def response_token(self, user: str, channel: str | None) -> str:
        """A response_url token: answers to it become `user`'s ephemeral messages."""
        token = secrets.token_urlsafe(12)
        self.responses[token] = (user, channel)
        return token

    def channel_id(self, name: str) -> str | None:
        """The id of `#name`, of a channel id, or of a person's DM with the app (a user id or a
        DM id, as Slack takes either); None when no such channel exists."""
        if name.startswith("#"):
            return self.channels.get(name)
        if name in self.users:
            return self.dm_channel(name)
        if name.startswith("D") and name[1:] in self.users:
            return name
        return name if name in self.channels.values() else None

    @staticmethod
    def dm_channel(user: str) -> str:
        """The id of the DM between the app and `user`."""
        return f"D{user}"

    def channel_name(self, channel_id: str) -> str:
        return next((name for name, cid in self.channels.items() if cid == channel_id), channel_id)

    def find(self, channel: str, ts: str) -> Message | None:
        return next((m for m in self.messages if m.channel == channel and m.ts == ts), None)

    def thread(self, parent: Message) -> list[Message]:
        return [m for m in self.messages if m.channel == parent.channel and m.thread_ts == parent.ts]

    # -- modals ----------------------------------------------------------------------------------

    def open_view(self, user: str, view: dict, *, push: bool = False) -> dict:
        """Show `view` to `user` as a new modal (or on top of the current one)."""
        view_id = f"VSBX{self.next_id():05d}"
        shown = {**view, "id": view_id, "hash": secrets.token_hex(4), "user": user}
        self.views[view_id] = shown
        stack = self.stacks.setdefault(user, [])
        if not push:
            stack.clear()
        stack.append(view_id)
        return shown

    def close_view(self, user: str, view_id: str, *, everything: bool = False) -> None:
        """Close the modal `view_id` (or the whole stack)."""
        stack = self.stacks.get(user, [])
        if everything:
            stack.clear()
        elif view_id in stack:
            stack.remove(view_id)

    def top_view(self, user: str) -> dict | None:
        stack = self.stacks.get(user) or []
        return self.views.get(stack[-1]) if stack else None

    def add_ephemeral(self, user: str, channel: str | None, text: str, blocks: list | None = None) -> None:
        self.ephemerals.append(Ephemeral(self.next_id(), user, channel, text, blocks or []))
        del self.ephemerals[:-50]

    def add_customer_post(self, **fields: Any) -> CustomerPost:
        post = CustomerPost(id=self.next_id(), at=time.time(), **fields)
        self.customer.append(post)
        return post
