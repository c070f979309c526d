"""Fake Slack for tests: chatops' own Slack Web API emulator (chatops.slack.emulator, the one
the sandbox serves) on 127.0.0.1, in a workspace where every channel and member a test names
exists, with what a test needs on top: the call log, dropped answers and held calls."""

from __future__ import annotations

import threading

from werkzeug.serving import WSGIRequestHandler, make_server

from chatops.slack.emulator import Call, Message, Workspace, make_app, usergroup
from chatops.slack.emulator.state import RATE_LIMITED

__all__ = ["BUNDLED_GROUPS", "RATE_LIMITED", "Call", "FakeSlack", "Posted"]

Posted = Message  # a message in a channel (a thread line has `thread_ts`)


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args) -> None:
        pass


class _Shared:
    """An attribute of the fake that is the emulated workspace's own."""

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, fake, owner=None):
        return getattr(fake.workspace, self.name)

    def __set__(self, fake, value) -> None:
        setattr(fake.workspace, self.name, value)


class FakeSlack:
    """`with FakeSlack() as slack:`; point `SLACK_API_URL` at `slack.api_url`.

    - `rate_limit_every = N`: every Nth call to chat.postMessage / chat.update answers 429 with
      `Retry-After: retry_after` (and changes nothing).
    - `missing_channels`: channel names or ids answered with `channel_not_found`.
    - `token`: the bot token every call must carry (`invalid_auth` otherwise).
    - DMs: a post to a member id (`U…`) lands in that person's DM channel (`D…`, as
      `conversations.open` names it), as Slack does.
    """

    token = _Shared()
    app_token = _Shared()
    socket_url = _Shared()  # what apps.connections.open hands out
    rate_limit_every = _Shared()
    retry_after = _Shared()
    missing_channels = _Shared()
    unreachable_images = _Shared()  # image URLs answered invalid_blocks ("downloading image failed")
    unknown_users = _Shared()  # ids users.info answers user_not_found for
    usergroups = _Shared()
    missing_scopes = _Shared()  # method → scope the app lacks (answered missing_scope)
    presence = _Shared()  # member id → "away" for people shown away (users.getPresence)
    dnd = _Shared()  # member id → (start, end) epoch seconds of do-not-disturb (dnd.info)
    calls = _Shared()
    messages = _Shared()
    homes = _Shared()  # user id → last published Home view
    responses = _Shared()  # bodies POSTed to response_url
    channel_ids = property(lambda self: self.workspace.channels)  # "#name" → channel id
    views = property(lambda self: self.workspace.view_history)  # views.open / push / update, in order

    def __init__(self, *, token: str = "xoxb-test", rate_limit_every: int = 0, retry_after: int = 1) -> None:
        self.workspace = Workspace(token=token, app_token="xapp-test", usergroups=BUNDLED_GROUPS,
                                   anything_exists=True)
        self.rate_limit_every = rate_limit_every
        self.retry_after = retry_after
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
        self._gate_lock = threading.Lock()
        self.server = make_server("127.0.0.1", 0, make_app(self.workspace, gate=self._answers), threaded=True,
                                  request_handler=_Quiet)
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
        self.server.shutdown()
        self.server.server_close()

    # -- what a person sees ------------------------------------------------------------------

    def parents(self, channel: str | None = None) -> list[Posted]:
        """Top-level messages, oldest first."""
        return self.workspace.parents(channel)

    def thread(self, parent: Posted) -> list[Posted]:
        """Replies in a parent's thread, oldest first."""
        return self.workspace.thread(parent)

    def methods(self) -> list[str]:
        return [call.method for call in self.calls]

    def ephemerals(self) -> list[str]:
        """Texts shown only to the person who acted (response_url and chat.postEphemeral)."""
        texts = [r.get("text", "") for r in self.responses if r.get("response_type", "ephemeral") == "ephemeral"]
        texts += [c.args.get("text", "") for c in self.calls if c.method == "chat.postEphemeral"]
        return texts

    def channel_id(self, name: str) -> str:
        """Slack answers with channel ids even when posted to by `#name` (or a member id: a DM)."""
        with self.workspace.lock:
            return self.workspace.channel_id(name) or name

    def dm_channel(self, user: str) -> str:
        """The id of the DM channel between the bot and member `user`."""
        return self.workspace.dm_channel(user)

    def dms(self, user: str) -> list[Posted]:
        """Messages the bot sent to `user` directly, oldest first."""
        return self.parents(self.dm_channel(user))

    # -- faults ------------------------------------------------------------------------------

    def _answers(self, call: Call) -> bool:
        """Whether the caller hears the answer to `call` (lose_answer, hang_on_post, hang_when)."""
        with self._gate_lock:
            lost = call.method in self.lose_answer
            if lost:
                self.lose_answer.remove(call.method)
            hang = self.hang_when is not None and not self.hung.is_set() and self.hang_when(call.method, call.args)
            if call.method == "chat.postMessage" and self.hang_on_post:
                self._posts += 1
                hang = hang or self._posts == self.hang_on_post
            if hang:
                self.hung.set()
        if hang:
            self.release.wait(120)
        return not (lost or hang)


BUNDLED_GROUPS = (  # the user groups the bundled rules.yaml names, as usergroups.list returns them
    usergroup("S0CSL1", "cs-l1", "CS L1", ["U0AGENT001", "U0AGENT002"]),
    usergroup("S0CSL2", "cs-l2", "CS L2", ["U0AGENT003", "U0LEAD0001"]),
    usergroup("S0CSL3", "cs-l3", "CS L3", ["U0LEAD0001"]),
    usergroup("S0BILLING", "billing-team", "Billing", ["U0AGENT004"]),
    usergroup("S0SREONCALL", "sre-oncall", "SRE on call", ["U0SRE0001"]),
    usergroup("S0MANAGERS", "cs-managers", "CS managers", ["U0MANAGER1"]),
    usergroup("S0SECURITY", "security", "Security", ["U0SEC00001"]),
    usergroup("S0RETURNS", "returns-lead", "Returns lead", ["U0RETURNS1"]),
)
